"""Walks every route: each view must be firm-scoped with a declared access right, or public with
a stated reason. A new view that forgets fails here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.http import HttpResponse
from django.urls import URLPattern, URLResolver, get_resolver, path
from django.views import View

from accounts.access import SIGNED_IN, FirmScopedView, firm_view
from accounts.api_access import FirmScopedAPIMixin
from accounts.rights import Right

VALID_RIGHTS = {*Right.values, SIGNED_IN}


def walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry.callback


def problem(callback: Any) -> str | None:
    """Why this view is not acceptable, or None."""
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    target = cls or callback
    if getattr(target, "public_reason", None):
        return None
    right = getattr(target, "required_right", None)
    if right is None:
        return "declares neither required_right nor public_reason"
    if right not in VALID_RIGHTS:
        return f"declares unknown right {right!r}"
    if cls is not None and not issubclass(cls, (FirmScopedView, FirmScopedAPIMixin)):
        return "is not behind FirmScopedView / FirmScopedAPIView"
    return None


def test_every_route_is_scoped_or_public() -> None:
    routes = list(walk(get_resolver().url_patterns))
    assert len(routes) > 10
    failures = {route: why for route, callback in routes if (why := problem(callback))}
    assert not failures, failures


class ForgetfulView(View):
    def get(self, request: Any) -> HttpResponse:
        return HttpResponse("firm data")


class ScopedWithoutRight(FirmScopedView):
    pass


def plain_function(request: Any) -> HttpResponse:
    return HttpResponse("firm data")


@pytest.mark.parametrize(
    "view",
    [ForgetfulView.as_view(), ScopedWithoutRight.as_view(), plain_function, firm_view("no-such-right")(plain_function)],
    ids=["plain class view", "scoped without right", "plain function", "unknown right"],
)
def test_the_guard_catches_a_view_that_forgets(view: Any) -> None:
    routes = list(walk([path("x/", view)]))
    assert problem(routes[0][1]) is not None
