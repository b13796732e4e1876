"""The agenda: most urgent first, the follow-ups' rating tags, "How did it go?" when completing a
task about a lead or contact (dialog with htmx, a page without JavaScript), and admins looking at
any rep's agenda."""

import datetime as dt
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.models import Event, EventKind, Task
from leads import services
from leads.models import Lead, LeadStatus, Rating
from tests.factories import ContactFactory, LeadFactory, TaskFactory

pytestmark = pytest.mark.django_db

HOME = reverse("home")


@pytest.fixture
def ratings(db):
    """The six default ratings of the data migration, by English name."""
    return {r.name: r for r in Rating.objects.all()}


def _today():
    return timezone.localdate()


def _day(n):
    return _today() + dt.timedelta(days=n)


def _complete_url(task):
    return reverse("task-complete", args=[task.pk])


def _snapshot():
    return (
        list(Task.objects.values("pk", "done", "note").order_by("pk")),
        list(Lead.objects.values("pk", "rating_id").order_by("pk")),
        Event.objects.count(),
    )


def _lead_task(owner, **kwargs):
    lead = LeadFactory(owner=owner, first_name="Ana", last_name="Gil")
    return TaskFactory(owner=owner, lead=lead, title="Call Ana", due_on=_today(), **kwargs)


# --- order and tags ------------------------------------------------------------------------------


def test_each_section_is_sorted_by_priority_then_due_date(rep_client, rep):
    def task(title, due, priority):
        Task.objects.filter(pk=TaskFactory(owner=rep, title=title, due_on=due).pk).update(
            priority=priority
        )

    task("late normal", _day(-1), 100)
    task("later urgent", _day(-2), 100)
    task("late follow-up", _day(-1), 1)
    task("today normal", _today(), 100)
    task("today follow-up", _today(), 3)
    task("today first follow-up", _today(), 0)
    task("soon normal", _day(1), 100)
    task("far follow-up", _day(6), 2)
    task("near follow-up", _day(2), 2)
    task("soonest", _day(1), 50)
    response = rep_client.get(HOME)
    sections = {s["key"]: [t.title for t in s["tasks"]] for s in response.context["sections"]}
    assert sections == {
        "overdue": ["late follow-up", "later urgent", "late normal"],
        "today": ["today first follow-up", "today follow-up", "today normal"],
        "upcoming": ["near follow-up", "far follow-up", "soonest", "soon normal"],
    }


def test_follow_ups_show_their_rating_tag(
    rep_client, rep, ratings, django_capture_on_commit_callbacks
):
    lead = LeadFactory(owner=rep, first_name="Ana", last_name="Gil")
    contact = ContactFactory(owner=rep)
    with django_capture_on_commit_callbacks(execute=True):
        services.prospect_classify(actor=rep, rating=ratings["Potential consultant"], lead=lead)
        services.prospect_classify(actor=rep, rating=ratings["Not sure yet"], contact=contact)
    Task.objects.filter(contact=contact).update(due_on=_day(2))
    TaskFactory(owner=rep, title="Plain errand", due_on=_day(1))
    html = rep_client.get(HOME).content.decode()
    lead_task = Task.objects.get(lead=lead)
    item = html.split(f'id="agenda-task-{lead_task.pk}"')[1].split("</li>")[0]
    assert "Potential consultant</span>" in item and "rating-tag" in item
    assert ratings["Potential consultant"].colour in item
    contact_task = Task.objects.get(contact=contact)
    item = html.split(f'id="agenda-task-{contact_task.pk}"')[1].split("</li>")[0]
    item = item.split("<dialog")[0]  # the dialog lists every rating; the tag comes before it
    assert "Not sure yet</span>" in item
    plain = html.split("Plain errand")[1].split("</li>")[0]
    assert "rating-tag" not in plain


# --- completing a task about a lead or contact --------------------------------------------------


def test_the_dialog_offers_every_active_rating_and_blank_by_default(rep_client, rep, ratings):
    task = _lead_task(rep)
    html = rep_client.get(HOME).content.decode()
    item = html.split(f'id="agenda-task-{task.pk}"')[1].split("</li>")[0]
    assert f'data-dialog="complete-{task.pk}"' in item
    assert f'href="{_complete_url(task)}?next=/"' in item
    dialog = item.split("<dialog")[1]
    assert "How did it go?" in dialog and "Rate Ana Gil" in dialog
    for rating in ratings.values():
        assert f'value="{rating.pk}" id="complete-{task.pk}-rating-{rating.pk}"' in dialog
    assert "in 14 days" in dialog and "in 7 days" in dialog and "no follow-up" in dialog
    blank = f'name="rating" value="" id="complete-{task.pk}-rating-none" checked autofocus>'
    assert blank in dialog
    assert "Leave blank (no automatic follow-up)" in dialog
    assert 'name="note"' in dialog
    assert 'hx-target="#agenda-sections"' in dialog


def test_archived_ratings_are_not_offered(rep_client, rep, admin, ratings):
    likely = ratings["Likely"]
    services.prospect_classify(actor=rep, rating=likely, lead=LeadFactory(owner=rep))
    services.rating_archive(actor=admin, rating=likely)
    task = _lead_task(rep)
    page = rep_client.get(_complete_url(task)).content.decode()
    assert f'value="{likely.pk}"' not in page
    assert f'value="{ratings["Undecided"].pk}"' in page


@pytest.mark.parametrize("kind", ["lead", "contact"])
def test_complete_with_a_rating_without_js(
    rep_client, rep, ratings, kind, django_capture_on_commit_callbacks
):
    if kind == "lead":
        subject = LeadFactory(owner=rep, first_name="Ana", last_name="Gil")
    else:
        subject = ContactFactory(owner=rep, first_name="Ana", last_name="Gil")
    task = TaskFactory(owner=rep, title="Call Ana", due_on=_today(), **{kind: subject})
    page = rep_client.get(_complete_url(task), {"next": HOME})
    assert page.status_code == 200
    html = page.content.decode()
    assert "<h1" in html and "How did it go?" in html
    assert 'value="/"' in html  # back to the agenda afterwards
    promising = ratings["Promising prospect"]
    with django_capture_on_commit_callbacks(execute=True):
        response = rep_client.post(
            _complete_url(task), {"rating": promising.pk, "note": "Keen.", "next": HOME}
        )
    assert response.status_code == 302 and response["Location"] == HOME
    task.refresh_from_db()
    assert task.done and "Keen." in task.note
    subject.refresh_from_db()
    assert subject.rating == promising
    follow_up = Task.objects.get(is_follow_up=True, **{kind: subject})
    assert follow_up.due_on == _day(14) and not follow_up.done and follow_up.owner == rep
    assert promising.name in follow_up.title
    html = rep_client.get(HOME).content.decode()
    assert "Task “Call Ana” marked as done. Ana Gil classified as Promising prospect." in html
    assert "Follow-up scheduled in 14 days" in html
    assert "Call Ana" not in html.split('id="agenda-sections"')[1]


def test_an_outcome_schedules_without_changing_the_rating(
    rep_client, rep, ratings, django_capture_on_commit_callbacks
):
    task = _lead_task(rep)
    Lead.objects.filter(pk=task.lead_id).update(rating=ratings["Likely"])
    with django_capture_on_commit_callbacks(execute=True):
        rep_client.post(_complete_url(task), {"rating": ratings["Not sure yet"].pk, "note": ""})
    lead = Lead.objects.get(pk=task.lead_id)
    assert lead.rating == ratings["Likely"]
    follow_up = Task.objects.get(lead=lead, is_follow_up=True)
    assert follow_up.due_on == _day(14)
    assert follow_up.priority == ratings["Not sure yet"].order


def test_blank_completes_and_schedules_nothing(
    rep_client, rep, ratings, django_capture_on_commit_callbacks
):
    task = _lead_task(rep)
    Lead.objects.filter(pk=task.lead_id).update(rating=ratings["Likely"])
    with django_capture_on_commit_callbacks(execute=True):
        response = rep_client.post(
            _complete_url(task), {"rating": "", "note": "", "next": HOME}, follow=True
        )
    task.refresh_from_db()
    assert task.done
    assert Task.objects.count() == 1  # no follow-up
    assert Lead.objects.get(pk=task.lead_id).rating == ratings["Likely"]  # left as it was
    assert "Task “Call Ana” marked as done. No automatic follow-up." in response.content.decode()
    assert not Event.objects.filter(kind="classified").exists()


def test_not_interested_schedules_nothing(
    rep_client, rep, ratings, django_capture_on_commit_callbacks
):
    task = _lead_task(rep)
    with django_capture_on_commit_callbacks(execute=True):
        response = rep_client.post(
            _complete_url(task), {"rating": ratings["Not interested"].pk}, follow=True
        )
    assert Task.objects.count() == 1
    html = response.content.decode()
    assert "Outcome for Ana Gil: Not interested. No follow-up scheduled." in html


def test_htmx_redraws_the_agenda_without_the_task_and_announces(
    rep_client, rep, ratings, django_capture_on_commit_callbacks
):
    task = _lead_task(rep)
    other = TaskFactory(owner=rep, title="Next errand", due_on=_today())
    with django_capture_on_commit_callbacks(execute=True):
        response = rep_client.post(
            _complete_url(task),
            {"rating": ratings["Potential consultant"].pk, "note": "", "next": HOME},
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.strip().startswith('<div id="agenda-sections">')
    assert "<html" not in html
    assert f'id="agenda-task-{task.pk}"' not in html
    assert f'id="agenda-task-{other.pk}"' in html
    # (Here the follow-up is made after the response: the test's transaction never commits. The
    # browser test sees it in place.)
    follow_up = Task.objects.get(lead=task.lead, is_follow_up=True)
    assert follow_up.due_on == _day(7)
    assert 'id="nav-task-counts" class="nav-counts" hx-swap-oob="true">' in html
    announced = json.loads(response["HX-Trigger"])["crm:announce"]
    assert announced.startswith("Saved. Task “Call Ana” marked as done.")
    assert "Ana Gil classified as Potential consultant. Follow-up scheduled in 7 days" in announced
    assert "autofocus" not in html


@pytest.mark.parametrize("value", ["999999", "abc"])
def test_bad_rating_changes_nothing(rep_client, rep, ratings, value):
    task = _lead_task(rep)
    before = _snapshot()
    response = rep_client.post(_complete_url(task), {"rating": value, "note": "x"})
    assert response.status_code == 400
    html = response.content.decode()
    assert f'id="complete-{task.pk}-rating_error"' in html and "Select a valid choice" in html
    assert "How did it go?" in html
    response = rep_client.post(
        _complete_url(task), {"rating": value, "note": "x"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert response["HX-Retarget"] == f"#complete-form-{task.pk}"
    assert response["HX-Reswap"] == "outerHTML"
    html = response.content.decode()
    assert html.strip().startswith(f'<form method="post" action="{_complete_url(task)}"')
    assert 'aria-invalid="true"' in html and ">x</textarea>" in html
    assert _snapshot() == before


def test_a_note_too_long_is_refused(rep_client, rep):
    task = _lead_task(rep)
    before = _snapshot()
    response = rep_client.post(_complete_url(task), {"rating": "", "note": "x" * 2001})
    assert response.status_code == 400
    assert f'id="complete-{task.pk}-note_error"' in response.content.decode()
    assert _snapshot() == before


def test_another_reps_task_is_404(rep_client, other_rep, ratings):
    task = _lead_task(other_rep)
    before = _snapshot()
    assert rep_client.get(_complete_url(task)).status_code == 404
    response = rep_client.post(
        _complete_url(task), {"rating": ratings["Likely"].pk}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 404
    assert _snapshot() == before


# --- tasks that are not about a prospect keep the simple mark-done -------------------------------


def test_task_without_prospect_keeps_the_simple_mark_done(rep_client, rep, ratings):
    task = TaskFactory(owner=rep, title="Buy stamps", due_on=_today())
    html = rep_client.get(HOME).content.decode()
    item = html.split(f'id="agenda-task-{task.pk}"')[1].split("</li>")[0]
    assert "<dialog" not in item and "data-dialog" not in item
    assert f'hx-post="{_complete_url(task)}" hx-target="closest li"' in item
    assert rep_client.get(_complete_url(task)).status_code == 405
    # A rating sent anyway is ignored: there is nobody to rate.
    response = rep_client.post(
        _complete_url(task), {"rating": ratings["Likely"].pk}, HTTP_HX_REQUEST="true"
    )
    assert "Reopen" in response.content.decode()
    task.refresh_from_db()
    assert task.done
    assert Task.objects.count() == 1


def test_task_of_a_converted_lead_keeps_the_simple_mark_done(rep_client, rep, ratings):
    task = _lead_task(rep)
    Lead.objects.filter(pk=task.lead_id).update(status=LeadStatus.CONVERTED)
    html = rep_client.get(HOME).content.decode()
    item = html.split(f'id="agenda-task-{task.pk}"')[1].split("</li>")[0]
    assert "<dialog" not in item
    assert rep_client.get(_complete_url(task)).status_code == 405
    rep_client.post(_complete_url(task), {"rating": ratings["Likely"].pk})
    task.refresh_from_db()
    assert task.done
    assert Lead.objects.get(pk=task.lead_id).rating is None


def test_plain_post_on_a_prospect_task_completes_without_rating(rep_client, rep):
    task = _lead_task(rep)
    response = rep_client.post(_complete_url(task), {"next": HOME})
    assert response["Location"] == HOME
    task.refresh_from_db()
    assert task.done
    assert [e.kind for e in Event.objects.filter(task=task)] == [EventKind.COMPLETED]


# --- whose agenda -------------------------------------------------------------------------------


def test_admin_can_view_any_reps_agenda(admin_client_, admin, rep, other_rep):
    TaskFactory(owner=rep, title="Rita's call", due_on=_today())
    TaskFactory(owner=admin, title="Admin's own", due_on=_today())
    html = admin_client_.get(HOME).content.decode()
    assert 'name="user"' in html
    assert "Admin&#x27;s own" in html and "Rita&#x27;s call" not in html
    response = admin_client_.get(HOME, {"user": rep.pk})
    html = response.content.decode()
    assert response.context["agenda_user"] == rep
    assert "Open tasks of Rita Rep" in html
    assert "Rita&#x27;s call" in html and "Admin&#x27;s own" not in html
    assert f'<option value="{rep.pk}" selected>Rita Rep</option>' in html
    # Garbage or unknown users fall back to the admin's own agenda.
    for garbage in ("abc", "999999", "-1", ""):
        response = admin_client_.get(HOME, {"user": garbage})
        assert response.context["agenda_user"] == admin


def test_rep_cannot_view_another_reps_agenda(rep_client, rep, other_rep):
    TaskFactory(owner=other_rep, title="Otto's secret", due_on=_today())
    TaskFactory(owner=rep, title="Mine", due_on=_today())
    response = rep_client.get(HOME, {"user": other_rep.pk})
    html = response.content.decode()
    assert response.context["agenda_user"] == rep
    assert "Otto&#x27;s secret" not in html and "Mine" in html
    assert 'name="user"' not in html
    assert "Your open tasks" in html


def test_admin_completes_from_a_reps_agenda(
    admin_client_, rep, ratings, django_capture_on_commit_callbacks
):
    task = _lead_task(rep)
    TaskFactory(owner=rep, title="Rita's other task", due_on=_today())
    agenda = f"{HOME}?user={rep.pk}"
    html = admin_client_.get(agenda).content.decode()
    assert f'<input type="hidden" name="next" value="{agenda}">' in html
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(
            _complete_url(task),
            {"rating": ratings["Undecided"].pk, "note": "", "next": agenda},
            HTTP_HX_REQUEST="true",
        )
    html = response.content.decode()
    assert "Rita&#x27;s other task" in html  # the rep's agenda is redrawn
    follow_up = Task.objects.get(lead=task.lead, is_follow_up=True)
    assert follow_up.owner == rep and follow_up.due_on == _day(60)
    response = admin_client_.post(
        _complete_url(TaskFactory(owner=rep, lead=task.lead, due_on=_today())),
        {"rating": "", "note": "", "next": agenda},
    )
    assert response["Location"] == agenda


# --- query counts --------------------------------------------------------------------------------


@pytest.mark.parametrize("as_admin", [False, True])
def test_agenda_query_count_does_not_grow(
    client, rep, admin, ratings, as_admin, django_capture_on_commit_callbacks
):
    names = list(ratings)

    def make(n):
        for i in range(n):
            lead = LeadFactory(owner=rep)
            contact = ContactFactory(owner=rep)
            with django_capture_on_commit_callbacks(execute=True):
                services.prospect_classify(actor=rep, rating=ratings[names[i % 5]], lead=lead)
            Task.objects.filter(lead=lead).update(due_on=_day(i % 9 - 2))
            TaskFactory(owner=rep, contact=contact, due_on=_day(i % 8 - 1))
            TaskFactory(owner=rep, due_on=_day(i % 7))

    def count():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(HOME, {"user": rep.pk} if as_admin else {})
        assert response.status_code == 200
        assert response.context["agenda_user"] == rep
        return len(ctx.captured_queries)

    client.force_login(admin if as_admin else rep)
    make(3)
    few = count()
    make(20)
    assert count() == few


def test_htmx_completion_query_count_does_not_grow(
    rep_client, rep, ratings, django_capture_on_commit_callbacks
):
    def make(n):
        for _ in range(n):
            TaskFactory(owner=rep, lead=LeadFactory(owner=rep), due_on=_today())

    def complete():
        task = _lead_task(rep)
        with CaptureQueriesContext(connection) as ctx:
            response = rep_client.post(
                _complete_url(task),
                {"rating": ratings["Not interested"].pk, "note": ""},
                HTTP_HX_REQUEST="true",
            )
        assert response.status_code == 200
        return len(ctx.captured_queries)

    make(2)
    few = complete()
    make(20)
    assert complete() == few


def test_the_task_page_asks_too(rep_client, rep, ratings, django_capture_on_commit_callbacks):
    task = _lead_task(rep)
    url = reverse("task-detail", args=[task.pk])
    html = rep_client.get(url).content.decode()
    assert f'data-dialog="complete-{task.pk}"' in html and "How did it go?" in html
    assert f'<input type="hidden" name="next" value="{url}">' in html
    assert "hx-post" not in html.split("<dialog")[1].split("</dialog>")[0]
    with django_capture_on_commit_callbacks(execute=True):
        response = rep_client.post(
            _complete_url(task), {"rating": ratings["Likely"].pk, "note": "", "next": url}
        )
    assert response["Location"] == url
    assert Task.objects.get(lead=task.lead, is_follow_up=True).due_on == _day(30)
    html = rep_client.get(url).content.decode()
    assert "Reopen" in html and f'<dialog id="complete-{task.pk}"' not in html


def test_the_no_js_page_of_a_task_already_done_sends_to_the_task(rep_client, rep):
    task = _lead_task(rep, done=True)
    response = rep_client.get(_complete_url(task), follow=True)
    assert response.redirect_chain == [(reverse("task-detail", args=[task.pk]), 302)]
    assert "Task “Call Ana” is already done." in response.content.decode()
