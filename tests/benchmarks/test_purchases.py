"""The purchases scenario's plumbing: its percentile and its count of the worker's emails."""

from django.core.mail import EmailMessage
from django.core.mail.backends.filebased import EmailBackend

from benchmarks.scenarios.purchases import _count_mail, _pct


def test_p99_of_100_is_the_99th_value_and_of_one_the_value():
    values = [float(i) for i in range(100, 0, -1)]
    assert _pct(values, 0.99) == 99.0
    assert _pct(values, 0.5) == 50.0
    assert _pct([3.0], 0.99) == 3.0


def test_count_mail_counts_every_message_the_file_backend_wrote(tmp_path):
    for batch in (3, 1):  # one file per connection, several messages in a file
        backend = EmailBackend(file_path=str(tmp_path))
        backend.send_messages(
            [EmailMessage(f"Subject {i}", "Body", "a@x.test", ["b@x.test"]) for i in range(batch)]
        )
    assert _count_mail(str(tmp_path)) == 4
