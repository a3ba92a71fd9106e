"""``{% notifications_link %}``: the header's link to the message centre with the unread count
(one count query, only where the tag renders: signed-in pages)."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from advisorportal.notifications.selectors import unread_count

register = template.Library()


@register.inclusion_tag("notifications/_header_link.html", takes_context=True)
def notifications_link(context: template.Context) -> dict[str, Any]:
    user = context.get("user")
    if user is None or not getattr(user, "is_authenticated", False):
        return {"show": False}
    url = reverse("message-centre")
    request = context.get("request")
    return {
        "show": True,
        "url": url,
        "count": unread_count(user=user),
        "current": request is not None and request.path.startswith(url),
    }
