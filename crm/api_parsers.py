"""Request parsing for the API.

``StrictJSONParser`` turns two kinds of JSON that the standard parser lets through into a 400:
strings holding lone surrogates (``"\\ud800"``: valid JSON escapes, but not text; the database and
the JSON renderer both fail on them) and nesting deep enough to exhaust the recursion limit.
"""

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser


def _has_invalid_text(data) -> bool:
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(_("JSON parse error - the document is nested too deeply.")) from exc
        if _has_invalid_text(data):
            raise ParseError(_("JSON parse error - the text contains invalid characters."))
        return data


PARSER_CLASSES = [StrictJSONParser, FormParser, MultiPartParser]
