"""The client's address behind reverse proxies, and a loud report when the proxy setting is wrong.

With ``TRUSTED_PROXY_COUNT = n`` the app stands behind n proxies that each append to
``X-Forwarded-For``; the client is the n-th entry from the right (entries further left are the
client's own claim). This middleware writes that address to ``REMOTE_ADDR``, so sign-in
throttling, the session list and the audit trail all see the client instead of the proxy.

A request with ``X-Forwarded-For`` but fewer entries than counted (``TRUSTED_PROXY_COUNT = 0``
included) means the setting does not describe the deployment: every client then shares the
proxy's address, and one address's sign-in limit would lock everyone out. That is logged as an
error once per process and shown on ``/health`` (``proxy``) for monitoring. It does not refuse
requests: the setting can only be judged against traffic, and turning a wrong count into an
outage (or letting any client that sends the header switch the site off) is worse than a loud
warning while throttling falls back to the proxy's address.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

_problem: str | None = None


def proxy_problem() -> str | None:
    """What was wrong with the proxy setting (the first time it showed), or None."""
    return _problem


def _report(problem: str) -> None:
    global _problem
    if _problem is None:
        _problem = problem
        logger.error("Client addresses are wrong: %s", problem)


class ClientAddressMiddleware:
    """First in ``MIDDLEWARE``: everything after it reads the client's address."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
        if forwarded:
            count: int = settings.TRUSTED_PROXY_COUNT
            hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
            if count == 0 or len(hops) < count:
                _report(
                    f"a request came through {len(hops)} proxies (X-Forwarded-For) but TRUSTED_PROXY_COUNT is "
                    f"{count}; set it to the number of reverse proxies in front of the app"
                )
            else:
                client = hops[-count]
                try:
                    request.META["REMOTE_ADDR"] = str(ipaddress.ip_address(client))
                except ValueError:
                    _report(f"the proxy {count} hops away forwarded {client[:60]!r}, which is not an address")
        return self.get_response(request)
