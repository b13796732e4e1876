import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

from django.contrib.humanize.templatetags.humanize import intcomma
from django.http import HttpResponse
from django.utils import formats, timezone, translation

from crm.middleware import UserTimeZoneMiddleware


def test_spanish_money_and_dates():
    with translation.override("es"):
        assert intcomma(Decimal("12345.67")) == "12.345,67"
        assert formats.date_format(dt.date(2026, 11, 23), "SHORT_DATE_FORMAT") == "23/11/2026"
    with translation.override("en"):
        assert intcomma(Decimal("12345.67")) == "12,345.67"


def _zone_during_request(time_zone: str) -> str:
    seen = {}

    def view(request):
        seen["tz"] = timezone.get_current_timezone_name()
        return HttpResponse()

    UserTimeZoneMiddleware(view)(SimpleNamespace(user=SimpleNamespace(time_zone=time_zone)))
    return seen["tz"]


def test_requests_run_in_the_users_time_zone():
    default = timezone.get_default_timezone_name()
    assert _zone_during_request("America/Mexico_City") == "America/Mexico_City"
    assert _zone_during_request("") == default
    assert _zone_during_request("Not/AZone") == default
