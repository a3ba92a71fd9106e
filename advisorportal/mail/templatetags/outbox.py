"""``{% outbox_link %}``: the footer's link to the development outbox, rendered only where the
outbox is mounted (never in production)."""

from __future__ import annotations

from django import template
from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag
def outbox_link() -> SafeString | str:
    if settings.PRODUCTION:
        return ""
    try:
        url = reverse("outbox:list")
    except NoReverseMatch:
        return ""
    return format_html(' · <a href="{}">Outbox (development)</a>', url)
