"""The OpenAPI schema documents the error answers every operation can give.

drf-spectacular documents only the success codes; the API also answers 400 (invalid body or
filter), 401 (no or bad token), 403 (not allowed), 404 (unknown id, invalid cursor or a referenced
row the user cannot see) and 429 where the view throttles — always in the
format of ``crm.api_errors``. Saying so lets clients (and the fuzz tests) rely on the schema.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular import openapi

ERROR_BODY = {
    "type": "object",
    "description": 'Field errors ({"field": ["..."]}) or {"detail": "..."}.',
    "additionalProperties": True,
}


def _error(description):
    return {"description": description, "content": {"application/json": {"schema": ERROR_BODY}}}


class AutoSchema(openapi.AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        errors = {
            "400": _("Invalid input"),
            "401": _("Not authenticated"),
            "403": _("Not allowed"),
            "404": _("Not found"),
        }
        if getattr(self.view, "throttle_classes", None):
            errors["429"] = _("Too many requests")
        for code, description in errors.items():
            responses.setdefault(code, _error(description))
        return responses
