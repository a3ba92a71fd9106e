"""Number formats of the portfolio pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

register = template.Library()


@register.filter
def quantity(value: Any) -> str:
    """A quantity with as many decimals as it has, and thousands separators: 1,250 or 0.125."""
    if value in (None, ""):
        return ""
    return f"{Decimal(value).normalize():,f}"


@register.filter
def percent(value: Any, places: int = 2) -> str:
    """A fraction as a signed percentage: 0.01234 → +1.23 %."""
    if value in (None, ""):
        return ""
    return f"{Decimal(value) * 100:+.{int(places)}f} %"
