"""The message centre: the user's notifications, grouped by contact or by category, with filters
(unread only, a category, the archive), read/unread and archive one or many, and pages.

It lives in the shell because it names contacts, which the floor's notifications app may not
import (names come through ``notifications.contacts``, which the CRM fills)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Case, F, Value, When
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from accounts.access import SIGNED_IN, FirmScopedView
from advisorportal.notifications import categories, contacts, selectors, services
from advisorportal.notifications.models import Notification

GROUPINGS = {"contact": "Contact", "category": "Category", "none": "Newest first"}
ACTIONS = {"read", "unread", "archive", "unarchive"}
NO_CONTACT = "Not about a contact"


@dataclass
class Group:
    key: str
    label: str
    items: list[Notification] = field(default_factory=list)


@dataclass(frozen=True)
class Filters:
    grouping: str = "contact"
    unread: bool = False
    category: str = ""
    archived: bool = False

    @classmethod
    def of(cls, params: Any) -> Filters:
        grouping = params.get("group", "contact")
        return cls(
            grouping=grouping if grouping in GROUPINGS else "contact",
            unread=params.get("unread") == "1",
            category=(params.get("category") or "")[:60],
            archived=params.get("view") == "archived",
        )

    def query(self, **override: Any) -> str:
        values = {"group": self.grouping, "unread": self.unread, "category": self.category,
                  "archived": self.archived, **override}  # fmt: skip
        pairs = [("group", values["group"])]
        if values["unread"]:
            pairs.append(("unread", "1"))
        if values["category"]:
            pairs.append(("category", values["category"]))
        if values["archived"]:
            pairs.append(("view", "archived"))
        return urlencode(pairs)


def _ordered(rows: Any, grouping: str) -> Any:
    # Within a group: unread first, then newest. Groups follow their key.
    unread_first = Case(When(read_at__isnull=True, then=Value(0)), default=Value(1))
    if grouping == "contact":
        return rows.order_by(F("contact_id").asc(nulls_last=True), unread_first, "-created_at", "-pk")
    if grouping == "category":
        return rows.order_by("category", unread_first, "-created_at", "-pk")
    return rows


def _grouped(items: list[Notification], grouping: str, names: dict[int, str]) -> list[Group]:
    groups: dict[str, Group] = {}
    for item in items:
        if grouping == "contact":
            key = str(item.contact_id or "")
            label = names.get(item.contact_id, "A contact") if item.contact_id else NO_CONTACT
        elif grouping == "category":
            key, label = item.category, categories.label(item.category)
        else:
            key, label = "", ""
        groups.setdefault(key, Group(key, label)).items.append(item)
    return list(groups.values())


class MessageCentreView(FirmScopedView, TemplateView):
    """Everyone's own notifications; nothing here is about another user or a client out of scope
    (the selectors filter both)."""

    required_right = SIGNED_IN
    template_name = "message_centre.html"
    page_size = 25

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.user
        filters = Filters.of(self.request.GET)
        rows = selectors.notifications_for(
            user=user, archived=filters.archived, unread_only=filters.unread, category=filters.category
        )
        page = Paginator(_ordered(rows, filters.grouping), self.page_size).get_page(self.request.GET.get("page"))
        items = list(page.object_list)
        names = contacts.names(user, {n.contact_id for n in items if n.contact_id})
        for item in items:
            item.category_label = categories.label(item.category)
            item.contact_name = names.get(item.contact_id, "") if item.contact_id else ""
        counts = selectors.category_counts(user=user, archived=filters.archived)
        for row in counts:
            row["label"] = categories.label(row["category"])
        context.update(
            filters=filters,
            page=page,
            groups=_grouped(items, filters.grouping, names),
            groupings=GROUPINGS,
            category_counts=counts,
            unread_total=sum(row["unread"] for row in counts) if not filters.archived else 0,
            query=filters.query(),
            here=f"{self.request.path}?{filters.query()}&page={page.number}",
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = self.user
        back = _back(request)
        item = request.POST.get("item", "")
        if item:
            action, _, raw = item.partition(":")
            ids = [int(raw)] if raw.isdigit() else []
        else:
            action = request.POST.get("action", "")
            ids = [int(i) for i in request.POST.getlist("ids")[:200] if i.isdigit()]
        if action == "read-all":
            changed = services.notifications_mark_read(user=user)
            messages.success(request, f"Marked {changed} notification{'s' if changed != 1 else ''} read.")
            return HttpResponseRedirect(back)
        if action not in ACTIONS:
            messages.error(request, "Choose what to do: mark read, mark unread, archive or restore.")
            return HttpResponseRedirect(back)
        if not ids:
            messages.error(request, "Tick at least one notification first.")
            return HttpResponseRedirect(back)
        if action in {"read", "unread"}:
            changed = services.notifications_mark_read(user=user, ids=ids, read=action == "read")
            done = "read" if action == "read" else "unread"
        else:
            changed = services.notifications_archive(user=user, ids=ids, archived=action == "archive")
            done = "archived" if action == "archive" else "back in the inbox"
        messages.success(request, f"{changed} notification{'s' if changed != 1 else ''} {done}.")
        return HttpResponseRedirect(back)


def _back(request: HttpRequest) -> str:
    """Back to the page the form was on: only a path of the message centre."""
    base = reverse("message-centre")
    nxt = request.POST.get("next", "")
    if nxt.startswith(base + "?") or nxt == base:
        return nxt
    return base


class NotificationOpenView(FirmScopedView, View):
    """Follow a notification's link: it is marked read on the way. Another user's, or one about a
    contact outside the user's scope, is a 404."""

    required_right = SIGNED_IN

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        notification = selectors.notification_get(user=self.user, pk=pk)
        if notification is None:
            raise Http404
        services.notifications_mark_read(user=self.user, ids=[notification.pk])
        return redirect(notification.url or reverse("message-centre"))
