from __future__ import annotations

from typing import Any

from django import template

from reports.planning.presenting import pct as _pct

register = template.Library()


@register.filter
def pct(value: Any, places: int = 2) -> str:
    """A fraction as a percentage: 0.06 → 6.00 %."""
    return "" if value in (None, "") else _pct(value, int(places))
