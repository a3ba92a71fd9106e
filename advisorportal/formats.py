"""Money and number formats, for every page, export and PDF (template library ``formats``:
``{% load formats %}``, registered in settings' TEMPLATES; the same functions from Python).

``amount`` and ``price`` give what ``floatformat:"2g"`` and ``floatformat:"-4g"`` give in our one
locale (en-us; a test compares them), at a tenth of the cost: a detail page formats a hundred
figures and ``floatformat`` went through the localisation machinery for each.

Money is rounded half up to its currency's ISO 4217 minor unit (2 places for most, 0 for JPY and
KRW, 3 for BHD, JOD, KWD, OMR, TND): ``minor_units`` and ``round_money`` are the one table of it.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django import template

register = template.Library()

_MINOR_UNITS = {"JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "BHD": 3, "JOD": 3, "KWD": 3, "OMR": 3, "TND": 3}


def minor_units(currency: str) -> int:
    return _MINOR_UNITS.get(currency, 2)


def round_money(value: Decimal, currency: str) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)


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


@register.filter
def money(value: Any, currency: str) -> str:
    """An amount in its currency's minor unit with thousands separators and the code: 1,234.50 USD,
    1,235 JPY, 1.235 KWD."""
    shown = amount(value, minor_units(currency))
    return f"{shown} {currency}" if shown else ""
