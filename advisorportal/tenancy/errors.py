"""One JSON error shape for the whole API: what its views raise (``exception_handler``, DRF's
``EXCEPTION_HANDLER``) and what Django answers before or without a view under ``/api/`` — a path that
matches no route, a request Django refuses to read (``handler404``, ``handler400`` and ``handler403``
of the root URLconf, which keep the HTML pages everywhere else)."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from advisorportal.idempotency.services import IdempotencyKeyReused

API_PREFIX = "/api/"


def _unreadable(exc: SuspiciousOperation) -> exceptions.APIException:
    """A request Django refuses to read (too many fields or files, a body too large; DRF reads the
    body inside the view): 400 in the error shape, logged where Django logs it."""
    logging.getLogger(f"django.security.{exc.__class__.__name__}").error(str(exc))
    if isinstance(exc, TooManyFieldsSent):
        message = f"The request has too many fields (at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS})."
    elif isinstance(exc, TooManyFilesSent):
        message = f"The request has too many files (at most {settings.DATA_UPLOAD_MAX_NUMBER_FILES})."
    elif isinstance(exc, RequestDataTooBig):
        message = f"The request body is too large (at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes)."
    else:
        message = "The request could not be read."
    return exceptions.ParseError(message)


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
    elif isinstance(exc, SuspiciousOperation):
        exc = _unreadable(exc)
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


def _api_error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler400``: a request Django refused before any view read it."""
    if request.path.startswith(API_PREFIX):
        return _api_error(400, "parse_error", "The request could not be read.")
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler403``."""
    if request.path.startswith(API_PREFIX):
        return _api_error(403, "permission_denied", "You do not have permission to perform this action.")
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler404``: under ``/api/`` also a path no route matches (``/tokens/1.5/``), answered as
    an unknown object is."""
    if request.path.startswith(API_PREFIX):
        return _api_error(404, "not_found", "Not found.")
    return defaults.page_not_found(request, exception)
