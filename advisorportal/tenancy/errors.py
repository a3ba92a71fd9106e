"""One JSON error shape for the whole API."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from advisorportal.idempotency.services import IdempotencyKeyReused


def _reused_key(exc: DjangoValidationError) -> exceptions.APIException | None:
    """A service's refusal of an idempotency key (an external id, a reference) reused with other
    content: a ``ValidationError`` with the idempotency kit's code answers as the kit's own refusal
    does, 422 ``idempotency_key_reused``, whether the key came in a header or in the body."""
    groups = exc.error_dict.values() if hasattr(exc, "error_dict") else [exc.error_list]
    for errors in groups:
        for error in errors:
            if error.code == IdempotencyKeyReused.default_code:
                return IdempotencyKeyReused(" ".join(error.messages))
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every API error as ``{"error": {"code", "message", "fields"?}}``."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = _reused_key(exc) or exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    body: dict[str, Any] = {"code": getattr(exc, "default_code", "error"), "message": ""}
    if isinstance(exc, exceptions.ValidationError):
        body["code"] = "invalid"
        body["message"] = "Some fields are not valid."
        body["fields"] = detail if isinstance(detail, dict) else {"non_field_errors": detail}
    elif isinstance(detail, dict) and "detail" in detail:
        body["message"] = str(detail["detail"])
        body["code"] = getattr(detail["detail"], "code", body["code"])
    else:
        body["message"] = str(detail)
    response.data = {"error": body}
    return response
