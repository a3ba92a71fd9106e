"""Number formats of the portfolio pages.

``amount`` and ``price`` give what ``floatformat:"2g"`` and ``floatformat:"-4g"`` give in our one
locale (en-us; a test compares them), at a tenth of the cost: a detail page formats a hundred
figures and ``floatformat`` went through the localisation machinery for each.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
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


@register.filter
def amount(value: Any, places: int = 2) -> str:
    """``value`` rounded half up to ``places`` decimals, with thousands separators: 1,234.50."""
    if value is None or value == "":
        return ""
    try:
        number = value if isinstance(value, Decimal | int) else Decimal(str(value))
        rounded = Decimal(number).quantize(Decimal(1).scaleb(-int(places)), ROUND_HALF_UP)
    except (InvalidOperation, TypeError, ValueError):
        return ""
    return f"{rounded if rounded else abs(rounded):,f}"


@register.filter
def price(value: Any) -> str:
    """A whole number without decimals, anything else with four: 12 or 12.3400."""
    if value is None or value == "":
        return ""
    number = Decimal(value) if isinstance(value, Decimal | int) else Decimal(str(value))
    return amount(number, 0 if number == number.to_integral_value() else 4)
