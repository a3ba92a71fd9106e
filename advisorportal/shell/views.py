"""The product shell: dashboard and health check."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import redis
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.generic import TemplateView, View
from redis.backoff import NoBackoff
from redis.retry import Retry

from accounts.access import SIGNED_IN, FirmScopedView, public_view
from advisorportal.client_address import proxy_problem
from advisorportal.shell import (
    dashboard_panels,  # noqa: F401 - registers the panels
    pending_kinds,  # noqa: F401 - registers the pending-item kinds
)
from advisorportal.shell.panels import arrange, arrangement, arrangement_reset, panels_for, render
from advisorportal.shell.pending import PendingRows, kinds_for


class DashboardView(FirmScopedView, TemplateView):
    """Home page: the user's panels (those their rights allow, in their order), each loaded by its
    own request to ``DashboardPanelView`` as the page opens, so the page is quick whatever the
    panels hold and one slow panel holds up no other. A panel's query parameters (Recent
    activity's sort, from its column links without script) are passed on to its request."""

    required_right = SIGNED_IN
    template_name = "dashboard.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        placed = arrangement(self.user)
        context["panels"] = [(p.panel, self.panel_url(p.panel)) for p in placed if p.shown]
        context["panels_allowed"] = len(placed)
        return context

    def panel_url(self, panel: Any) -> str:
        url = reverse("dashboard-panel", args=[panel.key])
        params = {name: self.request.GET[name][:40] for name in panel.params if self.request.GET.get(name)}
        return f"{url}?{urlencode(params)}" if params else url


class DashboardPanelView(FirmScopedView, View):
    """One panel's fragment, for htmx (a sort of Recent activity; without script the column links
    reload the dashboard); a panel the user may not see is a 404."""

    required_right = SIGNED_IN

    def get(self, request: HttpRequest, key: str) -> HttpResponse:
        panel = next((p for p in panels_for(self.user) if p.key == key), None)
        if panel is None:
            raise Http404("No such panel.")
        return HttpResponse(render(panel, request))


class DashboardPanelsView(FirmScopedView, TemplateView):
    """Add/Edit panels: each user shows, hides and reorders the panels their rights allow. Plain
    forms: every button posts the whole list (order and ticks), so it works without script and by
    keyboard, and a move keeps the ticks not saved yet."""

    required_right = SIGNED_IN
    template_name = "dashboard_panels.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["placed"] = arrangement(self.user)
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if "reset" in request.POST:
            arrangement_reset(self.user)
            messages.success(request, "The dashboard shows every panel in the default order again.")
            return redirect("dashboard-panels")
        order = request.POST.getlist("order")[:60]
        shown = set(request.POST.getlist("shown")[:60])
        move = request.POST.get("move", "")
        key, _, direction = move.rpartition(":")
        if key in order and direction in {"up", "down"}:
            i = order.index(key)
            j = i - 1 if direction == "up" else i + 1
            if 0 <= j < len(order):
                order[i], order[j] = order[j], order[i]
        try:
            arrange(self.user, order=order, shown=shown)
        except ValidationError as error:
            messages.error(request, f"The panels were not saved: {' '.join(error.messages)}")
            return redirect("dashboard-panels")
        if move:
            messages.success(request, "Moved. The dashboard uses this order.")
            return redirect(f"{request.path}#move-{key}-{direction}")
        messages.success(request, "Saved. The dashboard shows the ticked panels in this order.")
        return redirect("dashboard")


class PendingItemsView(FirmScopedView, TemplateView):
    """Everything waiting on the user, of every kind their rights allow, with filters and pages."""

    required_right = SIGNED_IN
    template_name = "pending_items.html"
    page_size = 25

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        kinds = kinds_for(self.user)
        params = self.request.GET
        kind = params.get("kind", "")
        if kind not in {k.key for k in kinds}:
            kind = ""
        statuses = dict(s for k in kinds for s in k.statuses)
        status = params.get("status", "")
        if status not in statuses:
            status = ""
        q = params.get("q", "")[:100]
        rows = PendingRows(user=self.user, kind=kind, status=status, q=q)
        page = Paginator(rows, self.page_size).get_page(params.get("page"))
        query = {k: v for k, v in (("kind", kind), ("status", status), ("q", q)) if v}
        context.update(kinds=kinds, statuses=statuses, kind=kind, status=status, q=q, page=page, query=query)
        return context


@public_view("Load balancers and monitors probe it without credentials; it reveals no data.")
def health(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception:  # noqa: BLE001 - any failure means unhealthy
        checks["database"] = "unavailable"
    try:
        redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
        ).ping()
        checks["redis"] = "ok"
    except Exception:  # noqa: BLE001
        checks["redis"] = "unavailable"
    healthy = all(v == "ok" for v in checks.values())
    # Reported, not counted against health: a wrong TRUSTED_PROXY_COUNT misattributes addresses
    # (see advisorportal.client_address) but must not take the site out of a load balancer.
    proxy = proxy_problem()
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", **checks, "proxy": "ok" if proxy is None else proxy},
        status=200 if healthy else 503,
    )
