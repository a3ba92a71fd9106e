"""A short "try again" answer (503) when a service the request needs is unavailable: Redis (the
cache's timeouts end a stall quickly, see ``advisorportal.cache``) or the Celery broker. Pages get
the layout without any data, the API its usual error shape; never a debug page, a 500 or a hang.

``ServiceUnavailableMiddleware`` catches what a view raises; ``server_error`` (``handler500``)
what a middleware raises."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults
from kombu.exceptions import OperationalError as BrokerError

from advisorportal.cache import REDIS_ERRORS

logger = logging.getLogger(__name__)

UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (*REDIS_ERRORS, BrokerError)
RETRY_AFTER_SECONDS = 10


def unavailable_response(request: HttpRequest) -> HttpResponse:
    response: HttpResponse
    if request.path.startswith("/api/"):
        message = "A service this request needs is briefly unavailable. Please try again in a moment."
        response = JsonResponse({"error": {"code": "unavailable", "message": message}}, status=503)
    else:
        # No request in the context: the context processors would load the user and firm.
        response = HttpResponse(loader.get_template("503.html").render({}), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class ServiceUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, UNAVAILABLE_ERRORS):
            logger.warning("Answered 503 to %s %s: %r", request.method, request.path, exception)
            return unavailable_response(request)
        return None


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500 page, or the 503 one when the error was an unavailable service."""
    if isinstance(sys.exc_info()[1], UNAVAILABLE_ERRORS):
        return unavailable_response(request)
    return defaults.server_error(request)
