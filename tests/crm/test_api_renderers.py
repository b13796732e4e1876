"""``crm.api_renderers.JSONRenderer`` writes exactly the bytes DRF's ``JSONRenderer`` writes."""

import datetime as dt
import decimal
import json
import uuid
import zoneinfo

import orjson
import pytest
from django.utils.translation import gettext_lazy
from rest_framework import renderers
from rest_framework.exceptions import ErrorDetail
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from crm.api_renderers import JSONRenderer

MADRID = zoneinfo.ZoneInfo("Europe/Madrid")

SAMPLES = {
    "nested": {"a": [1, 2.5, None, True, False, "x"], "b": {"c": {"d": []}}, "e": {}},
    "text": {"es": 'Ñandú O\'Brien "Q" \\ / <b>', "emoji": "🚀", "ctrl": "a\nb\tc\x01"},
    "separators": {"s": "line\u2028para\u2029end", "k\u2028": 1},
    "datetimes": [
        dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 23, 9, 30, 0, 123456, tzinfo=dt.UTC),
        dt.datetime(2026, 7, 1, 9, 30, 5, 1000, tzinfo=MADRID),
        dt.datetime(2026, 11, 23, 9, 30),
        dt.date(2026, 2, 28),
        dt.time(8, 15, 0, 500),
        dt.timedelta(days=2, seconds=5),
    ],
    "numbers": [0, -1, 2**63 - 1, -(2**63), 0.1, 2.5, -3.75, decimal.Decimal("12.50")],
    "others": [uuid.UUID(int=7), gettext_lazy("Lost"), ErrorDetail("bad", code="invalid")],
    "keys": {1: "int key", "2": "str key"},
    "drf containers": ReturnDict(
        {"results": ReturnList([{"id": 1}], serializer=None)}, serializer=None
    ),
    "tuple and set": {"t": (1, 2), "s": frozenset({3})},
    "empty": [],
}


@pytest.mark.parametrize("name", SAMPLES)
def test_same_bytes_as_drf(name):
    data = SAMPLES[name]
    assert JSONRenderer().render(data) == renderers.JSONRenderer().render(data)


def test_floats_in_exponent_form_are_the_same_numbers():
    """orjson writes ``1e-7`` where Python writes ``1e-07``: the same double, other bytes."""
    data = [1e-7, 1.5e300, 123456789.125, -0.0]
    ours = JSONRenderer().render(data)
    assert ours == b"[1e-7,1.5e+300,123456789.125,-0.0]"
    assert json.loads(ours) == json.loads(renderers.JSONRenderer().render(data)) == data


def test_none_renders_nothing():
    assert JSONRenderer().render(None) == b""


def test_escapes_line_and_paragraph_separators():
    out = JSONRenderer().render({"s": "a\u2028b\u2029c"})
    assert out == b'{"s":"a\\u2028b\\u2029c"}'


def test_pretty_printing_is_drf_s():
    data = {"a": [1, {"b": 2}]}
    ours = JSONRenderer().render(data, "application/json; indent=4")
    assert ours == renderers.JSONRenderer().render(data, "application/json; indent=4")
    assert b"\n    " in ours


def test_what_orjson_refuses_goes_to_drf():
    data = {"big": 2**70}
    with pytest.raises(orjson.JSONEncodeError):
        orjson.dumps(data)
    assert JSONRenderer().render(data) == b'{"big":1180591620717411303424}'


@pytest.mark.django_db
def test_the_api_answers_through_it(rep_api):
    response = rep_api.get("/api/v1/leads/")
    assert response.status_code == 200
    assert isinstance(response.accepted_renderer, JSONRenderer)
    assert response.content == renderers.JSONRenderer().render(response.data)
