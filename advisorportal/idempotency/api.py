"""The ``Idempotency-Key`` header for DRF views: ``@idempotent_view("scope")`` on a method of an
``APIView`` (``post``, ``create``, an ``@action``)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.http import QueryDict
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from advisorportal.idempotency.services import IdempotencyKeyInvalid, idempotent

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"

F = TypeVar("F", bound=Callable[..., Response])


def request_payload(request: Request) -> dict[str, Any]:
    """What a retry must repeat to get the first result: method, path, query, body and the user
    (so one user never receives another's stored result)."""
    data: Any = request.data
    if isinstance(data, QueryDict):
        data = {name: data.getlist(name) for name in sorted(data)}
    query = {name: request.query_params.getlist(name) for name in sorted(request.query_params)}
    return {"method": request.method, "path": request.path, "query": query, "body": data, "user": request.user.pk}


def idempotent_view(scope: str, *, required: bool = True) -> Callable[[F], F]:
    """Run the view once per ``Idempotency-Key``: a retry with the same key and request gets the
    first response again (status and body, with ``Idempotent-Replayed: true``) and runs nothing;
    the same key with another request is refused with 422 ``idempotency_key_reused``; a missing
    key is refused with 400 ``idempotency_key_invalid`` when ``required``. Only a 2xx response is
    stored: after an error a retry with the same key runs again. Two concurrent requests with one
    key: the second waits for the first and gets its response."""

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
            key = request.headers.get(HEADER)
            if key is None:
                if required:
                    raise IdempotencyKeyInvalid(
                        f"Send an {HEADER} header (a new random value, e.g. a UUID, for each new request)."
                    )
                return method(view, request, *args, **kwargs)
            payload = request_payload(request)
            with idempotent(
                scope=scope, key=key, payload=payload, actor=request.user, name=f"{HEADER} header"
            ) as attempt:
                if attempt.replayed:
                    return Response(attempt.body, status=attempt.status, headers={REPLAYED_HEADER: "true"})
                response = method(view, request, *args, **kwargs)
                if 200 <= response.status_code < 300:
                    attempt.store(response.data, status=response.status_code)
                else:
                    attempt.discard()
                return response

        parameter = OpenApiParameter(
            HEADER,
            str,
            OpenApiParameter.HEADER,
            required=required,
            description="A new random value (e.g. a UUID) per request. A retry with the same value and the same "
            "request returns the first response; the same value with a different request is refused (422).",
        )
        return extend_schema(parameters=[parameter])(wrapper)  # type: ignore[return-value]

    return decorate
