"""Money, number and date formats, for every page, export and PDF (template library ``formats``:
``{% load formats %}``, registered in settings' TEMPLATES; the same functions from Python).

``amount`` and ``price`` give what ``floatformat:"2g"`` and ``floatformat:"-4g"`` give in our one
locale (en-us; a test compares them), at a tenth of the cost: a detail page formats a hundred
figures and ``floatformat`` went through the localisation machinery for each.

Money is rounded half up to its currency's ISO 4217 minor unit (2 places for most, 0 for JPY and
KRW, 3 for BHD, JOD, KWD, OMR, TND): ``minor_units`` and ``round_money`` are the one table of it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django import template
from django.db import models
from django.utils import dateformat, timezone
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

_MINOR_UNITS = {"JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "BHD": 3, "JOD": 3, "KWD": 3, "OMR": 3, "TND": 3}


def minor_units(currency: str) -> int:
    return _MINOR_UNITS.get(currency, 2)


def round_money(value: Decimal, currency: str) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)


@register.filter
def under(path: str, prefix: str) -> bool:
    """Whether the URL path ``path`` is ``prefix`` or below it (the navigation's current section:
    ``/funding/contacts/`` is not under ``/contacts/``)."""
    return bool(prefix) and str(path).startswith(str(prefix))


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


# --- Masked numbers and references -----------------------------------------------------------------
# A bank or account number is shown by its last digits behind one mask, the same everywhere:
# "•••• 6789", with a no-break space so a line never breaks inside it. ``masked_digits`` makes it
# (in templates: ``{{ instruction.account_last4|masked }}``);
# the ``masks`` filter rewrites the masks in a text made elsewhere ("••••6789", "•••• 6789") to it,
# and ``unbroken`` does that and keeps request references (FR-0000123) whole in HTML.

MASK = "\u2022\u2022\u2022\u2022"
_MASKED = re.compile("\u2022{4}[ \u00a0]?(?=[0-9A-Za-z])")
_REFERENCE = re.compile(r"\bFR-\d+\b")


@register.filter(name="masked")
def masked_digits(last_digits: str) -> str:
    """The mask of a number ending in ``last_digits``: "•••• 6789" (a no-break space); "" for none."""
    last_digits = str(last_digits or "").strip()
    return f"{MASK}\u00a0{last_digits}" if last_digits else ""


@register.filter(is_safe=True)
def masks(value: Any) -> str:
    """``value`` with every masked number in the one style: "••••6789" and "•••• 6789" become
    "•••• 6789" with a no-break space. Plain text (escaped as usual where autoescaping is on)."""
    if value in (None, ""):
        return ""
    return _MASKED.sub(MASK + "\u00a0", str(value))


@register.filter(needs_autoescape=True)
def unbroken(value: Any, autoescape: bool = True) -> SafeString:
    """``value`` as HTML with its masked numbers in the one style (``masks``) and every request
    reference in a ``nowrap`` span, so "FR-0000123" does not break at its hyphen."""
    text = masks(value)
    escaped = str(conditional_escape(text) if autoescape else text)
    wrapped = _REFERENCE.sub(lambda m: f'<span class="nowrap">{m.group(0)}</span>', escaped)
    return mark_safe(wrapped)  # noqa: S308 - the text is escaped above; only the spans are added


# --- Dates ----------------------------------------------------------------------------------------
# One date format per user (issue #13, point 10): the user's choice, or else their firm's, is put
# in a context variable once per request (``accounts.preferences.DateFormatMiddleware``); every
# page, export and PDF formats its dates with ``day``/``moment``/``clock``/``month_day`` below
# (template filters and Python functions alike). Outside a request (Celery, commands) the style is
# DEFAULT_DATE_FORMAT unless the caller sets one with ``date_format_used``. Aware datetimes are
# shown in the current time zone, as Django's ``|date`` shows them (UTC unless a page overrides it,
# like the calendar does). Machine formats (API, ``<input type=date>`` values, ``datetime=``
# attributes, CSV files read back by the import) stay ISO 8601.


class DateFormat(models.TextChoices):
    US_NAME = "us_name", "Month name, US"
    US_NUMERIC = "us_numeric", "Numbers, month first (US)"
    DAY_FIRST = "day_first", "Numbers, day first"
    ISO = "iso", "Year first (ISO 8601)"


@dataclass(frozen=True)
class DateStyle:
    """One choice's formats: Django format strings for text, Excel number formats for cells."""

    code: str
    date: str
    datetime: str
    time: str
    month_day: str
    excel_date: str
    excel_datetime: str


DATE_STYLES: dict[str, DateStyle] = {
    DateFormat.US_NAME: DateStyle(
        "us_name", "M j, Y", "M j, Y, g:i A", "g:i A", "M j", "mmm d, yyyy", "mmm d, yyyy, h:mm AM/PM"
    ),
    DateFormat.US_NUMERIC: DateStyle(
        "us_numeric", "m/d/Y", "m/d/Y g:i A", "g:i A", "m/d", "mm/dd/yyyy", "mm/dd/yyyy h:mm AM/PM"
    ),
    DateFormat.DAY_FIRST: DateStyle("day_first", "d/m/Y", "d/m/Y H:i", "H:i", "d/m", "dd/mm/yyyy", "dd/mm/yyyy hh:mm"),
    DateFormat.ISO: DateStyle("iso", "Y-m-d", "Y-m-d H:i", "H:i", "m-d", "yyyy-mm-dd", "yyyy-mm-dd hh:mm"),
}
# Our one locale is en-us (settings.LANGUAGE_CODE): a firm that chose nothing reads US dates.
DEFAULT_DATE_FORMAT = DateFormat.US_NAME.value

_date_format: ContextVar[str] = ContextVar("date_format", default=DEFAULT_DATE_FORMAT)


def date_style(code: str | None = None) -> DateStyle:
    """The style of ``code``, or of the one in use; an unknown code gives the default."""
    return DATE_STYLES.get(code or _date_format.get()) or DATE_STYLES[DEFAULT_DATE_FORMAT]


def activate_date_format(code: str | None) -> Token[str]:
    """Use ``code`` (blank or unknown: the default) until ``deactivate_date_format(token)``."""
    return _date_format.set(code if code in DATE_STYLES else DEFAULT_DATE_FORMAT)


def deactivate_date_format(token: Token[str]) -> None:
    _date_format.reset(token)


@contextmanager
def date_format_used(code: str | None) -> Iterator[DateStyle]:
    """Format dates with ``code`` inside the block (a task writing for one user, a preview)."""
    token = activate_date_format(code)
    try:
        yield date_style()
    finally:
        deactivate_date_format(token)


def _local(value: dt.datetime) -> dt.datetime:
    return timezone.localtime(value) if timezone.is_aware(value) else value


@register.filter(expects_localtime=True)
def day(value: Any, code: str | None = None) -> str:
    """A date (a datetime: its local date) in the format in use: Dec 4, 2026 · 12/04/2026 ·
    04/12/2026 · 2026-12-04. None or "" gives ""."""
    if not isinstance(value, dt.date):
        return ""
    if isinstance(value, dt.datetime):
        value = _local(value)
    return dateformat.format(value, date_style(code).date)


@register.filter(expects_localtime=True)
def moment(value: Any, code: str | None = None) -> str:
    """A datetime in the current time zone, in the format in use: Dec 4, 2026, 7:04 PM ·
    12/04/2026 7:04 PM · 04/12/2026 19:04 · 2026-12-04 19:04. A plain date gives ``day``."""
    if not isinstance(value, dt.datetime):
        return day(value, code)
    return dateformat.format(_local(value), date_style(code).datetime)


@register.filter(expects_localtime=True)
def clock(value: Any, code: str | None = None) -> str:
    """The time of day of a time or datetime: 7:04 PM (the US formats) or 19:04."""
    if isinstance(value, dt.datetime):
        value = _local(value)
    elif not isinstance(value, dt.time):
        return ""
    return dateformat.time_format(value, date_style(code).time)


@register.filter(expects_localtime=True)
def month_day(value: Any, code: str | None = None) -> str:
    """A date without its year, for calendar headings: Dec 4 · 12/04 · 04/12 · 12-04."""
    if not isinstance(value, dt.date):
        return ""
    if isinstance(value, dt.datetime):
        value = _local(value)
    return dateformat.format(value, date_style(code).month_day)


def excel_date_format() -> str:
    """The Excel number format of a date cell in the format in use (cells stay real dates)."""
    return date_style().excel_date


def excel_datetime_format() -> str:
    return date_style().excel_datetime


def excel_datetime(value: dt.datetime) -> dt.datetime:
    """An aware datetime as the naive local one an Excel cell holds (Excel has no time zones)."""
    return _local(value).replace(tzinfo=None)
