"""Where a page goes back to after a form: the ``next`` the form carried, if it stays on this site."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request: HttpRequest, fallback: str = "/") -> str:
    """The request's ``next`` (POST, then GET) when it is a path on this site, else ``fallback``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = {request.get_host()}
    if (
        target.startswith("/")
        and not target.startswith("//")
        and url_has_allowed_host_and_scheme(target, allowed_hosts=allowed, require_https=request.is_secure())
    ):
        return target
    return fallback
