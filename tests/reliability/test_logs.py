"""Request ids and JSON log lines (crm/logs.py)."""

import json
import logging

import pytest

from crm.logs import JsonFormatter, RequestIdFilter, RequestIdMiddleware, request_id_var


def make_middleware(seen):
    def view(request):
        seen.append(request_id_var.get())
        logging.getLogger("test").info("inside")
        from django.http import HttpResponse

        return HttpResponse("ok")

    return RequestIdMiddleware(view)


@pytest.mark.parametrize(
    ("given", "kept"), [("abc-123", True), ("bad id\nx", False), ("x" * 200, False), ("", False)]
)
def test_request_id_is_taken_when_sane_or_generated(rf, given, kept):
    seen = []
    request = rf.get("/", HTTP_X_REQUEST_ID=given) if given else rf.get("/")
    response = make_middleware(seen)(request)
    assert response["X-Request-ID"] == seen[0]
    assert (seen[0] == given) is kept
    assert len(seen[0]) <= 128
    assert request_id_var.get() == ""  # reset after the request


def test_every_record_of_the_request_is_a_json_line_with_its_id(rf):
    lines = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("test")
    logger.addHandler(handler)
    try:
        make_middleware([])(rf.get("/", HTTP_X_REQUEST_ID="req-42"))
    finally:
        logger.removeHandler(handler)
    entry = json.loads(lines[0])
    assert entry["request_id"] == "req-42"
    assert entry["message"] == "inside"
    assert entry["level"] == "INFO"


@pytest.mark.django_db
def test_responses_carry_the_request_id(client):
    response = client.get("/login/", HTTP_X_REQUEST_ID="trace-7")
    assert response["X-Request-ID"] == "trace-7"


def test_production_logs_are_json_lines():
    from tests.crm.test_settings import GOOD_KEY, manage

    code = "import logging; logging.getLogger('probe').warning('hello')"
    env = {"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": GOOD_KEY, "DJANGO_ALLOWED_HOSTS": "crm.test"}
    result = manage("shell", "-v", "0", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stderr.splitlines() if "hello" in line)
    assert json.loads(line)["message"] == "hello"
