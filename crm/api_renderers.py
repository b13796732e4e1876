"""The API's JSON renderer: DRF's output, encoded by orjson.

DRF's ``JSONRenderer`` runs the standard library's pure-Python encoder loop over every value;
on a 50-lead page that was about a tenth of the request. orjson encodes the same data in C.

The bytes are DRF's (``tests/crm/test_api_renderers.py`` compares them): compact, UTF-8, lone
``\\u2028``/``\\u2029`` escaped; only a float in exponent form is spelled otherwise (``1e-7``
where Python writes ``1e-07``: the same number). Datetimes and every type orjson does not know
natively go through DRF's own ``JSONEncoder.default`` (``OPT_PASSTHROUGH_DATETIME``), so dates,
times, decimals, lazy translations and querysets are written as DRF writes them. A pretty-printed
answer (``Accept: application/json; indent=4``, the browsable API) and anything orjson refuses
(an integer wider than 64 bits) are rendered by DRF itself. One difference: a non-finite float
is written as ``null``, where strict DRF fails the request (the API sends decimals as strings and
computes no float that could be one).
"""

from __future__ import annotations

import orjson
from rest_framework import renderers
from rest_framework.utils.encoders import JSONEncoder

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS
_default = JSONEncoder().default


class JSONRenderer(renderers.JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if (
            self.get_indent(accepted_media_type, renderer_context or {}) is not None
            or self.ensure_ascii
            or not self.compact
        ):
            return super().render(data, accepted_media_type, renderer_context)
        try:
            out = orjson.dumps(data, default=_default, option=_OPTIONS)
        except (orjson.JSONEncodeError, TypeError, ValueError):
            return super().render(data, accepted_media_type, renderer_context)
        if b"\xe2\x80\xa8" in out or b"\xe2\x80\xa9" in out:
            out = out.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
        return out
