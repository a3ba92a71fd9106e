"""No response is kept in a browser's or proxy's cache unless its view says so.

Pages, API answers and downloads show client data to signed-in people (and, through emailed links,
to clients), so a shared computer's back button or disk cache must not keep them: every response
that does not set ``Cache-Control`` itself gets ``no-store``. Caching is the exception a view
opts into (brand CSS, a contact's picture, static files with their own headers), which a list of
the pages showing client data could not guarantee: a page added later would be cached until
someone noticed.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class NoStoreMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            response["Cache-Control"] = "no-store"
        return response
