"""API error format: ``{"field": [...]}`` for field errors, ``{"detail": ...}`` otherwise.

Django ``ValidationError`` / ``PermissionDenied`` raised by services become 400 / 403, so the rules
live in the services and the API only renders them.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            detail = {("detail" if k == "__all__" else k): v for k, v in exc.message_dict.items()}
        else:
            detail = {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, Http404):
        # Django's "No Account matches the given query." is untranslated and names the model;
        # "Not found." is translated and says nothing about what exists.
        exc = exceptions.NotFound()
    return drf_exception_handler(exc, context)
