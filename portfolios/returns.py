"""Returns over periods, from the stored daily values (``performance``), and what the figures lack.

A period's return is measured from its **base**: the last value on or before the day before the
period (a year to date from the last close of the year before; one year to Monday 2025-03-31 from
Friday 2024-03-29, since 2024-03-31 was a Sunday), so that no trading day at its start is lost.
Time-weighted: ``index_end / index_base - 1``, net of fees (``return_index``) and gross of fees
(``gross_index``). A trailing period (1, 3, 5 years) longer than the account's history has no
return; a period to date (month, quarter, year) that began before the account did is measured
from its first day. Returns over more than a year are also given annualised:
``(1 + r) ** (365 / days) - 1``, the basis of the reports and of XIRR (issue #19).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
from django.db import connection

from portfolios import performance
from portfolios.models import (
    Benchmark,
    BenchmarkValue,
    ClientAccount,
    DailySeries,
    FxRate,
    Security,
    SecurityPrice,
    Transaction,
)

YEAR_DAYS = 365


def base_day(day: date) -> date:
    """The last business day on or before ``day``: the close a period starting after it is measured from."""
    rolled: date = np.busday_offset(np.datetime64(day, "D"), 0, roll="backward").astype(date)
    return rolled


def months_back(day: date, months: int) -> date:
    """The same day ``months`` earlier (the month's last day where it has fewer days)."""
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    for last in (31, 30, 29, 28):
        try:
            return date(year, month + 1, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Period:
    name: str
    label: str
    start: date  # the close the return is measured from (before adjusting to the base day)
    trailing: bool  # needs history from ``start`` (1Y, 3Y, 5Y) rather than starting when the account did


def periods(end: date) -> list[Period]:
    quarter_month = 3 * ((end.month - 1) // 3) + 1
    return [
        Period("MTD", "Month to date", end.replace(day=1) - timedelta(days=1), False),
        Period("QTD", "Quarter to date", date(end.year, quarter_month, 1) - timedelta(days=1), False),
        Period("YTD", "Year to date", date(end.year - 1, 12, 31), False),
        Period("1Y", "1 year", months_back(end, 12), True),
        Period("3Y", "3 years", months_back(end, 36), True),
        Period("5Y", "5 years", months_back(end, 60), True),
    ]


@dataclass(frozen=True)
class PeriodReturn:
    name: str
    label: str
    base: date  # the day whose close the return is measured from
    end: date
    net: Decimal | None
    gross: Decimal | None
    benchmark: Decimal | None
    annualised_net: Decimal | None = None  # only over more than a year
    annualised_gross: Decimal | None = None

    @property
    def days(self) -> int:
        return (self.end - self.base).days


def _ratio(end: Decimal, start: Decimal) -> Decimal | None:
    return end / start - 1 if start > 0 else None


def _annualised(value: Decimal | None, days: int) -> Decimal | None:
    if value is None or days <= YEAR_DAYS or value <= -1:
        return None
    return Decimal(repr((1.0 + float(value)) ** (YEAR_DAYS / days) - 1.0)).quantize(Decimal("1e-10"))


@dataclass(frozen=True)
class Returns:
    as_of: date | None
    periods: list[PeriodReturn]
    inception: PeriodReturn | None
    benchmark_symbol: str


def _index_points(account: ClientAccount) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The account's business days with their net and gross return indexes (one query; only the
    two index arrays of each quarter row are read)."""
    rows = list(
        DailySeries.objects.filter(account=account)
        .order_by("quarter")
        .values_list("first_date", "return_index", "gross_index")
    )
    if not rows:
        return np.array([], dtype="datetime64[D]"), np.array([]), np.array([])
    days = np.concatenate([np.busday_offset(np.datetime64(first, "D"), np.arange(len(net))) for first, net, _ in rows])
    return days, np.concatenate([net for _, net, _ in rows]), np.concatenate([gross for _, _, gross in rows])


def _levels_on(symbol: str, days: list[date]) -> dict[date, Decimal]:
    """The benchmark's last level on or before each of ``days`` (one query)."""
    if not symbol or not days:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT d.day, (SELECT v.level FROM {BenchmarkValue._meta.db_table} v
                           WHERE v.benchmark_id = b.id AND v.date <= d.day ORDER BY v.date DESC LIMIT 1)
            FROM unnest(%s::date[]) AS d(day) JOIN {Benchmark._meta.db_table} b ON b.symbol = %s
            """,  # noqa: S608 - model metadata
            [sorted(set(days)), symbol],
        )
        return {day: level for day, level in cursor.fetchall() if level is not None}


def _index(value: float) -> Decimal:
    return Decimal(repr(float(value))).quantize(performance.INDEX_PLACES)


def period_returns(*, account: ClientAccount, benchmark_symbol: str = "") -> Returns:
    """Month, quarter and year to date, 1, 3 and 5 years and since inception, net and gross of fees,
    beside the benchmark ``benchmark_symbol``'s change over the same days (two queries: the
    indexes, the benchmark's levels on the days needed)."""
    days, net_index, gross_index = _index_points(account)
    symbol = benchmark_symbol
    if not len(days):
        return Returns(as_of=None, periods=[], inception=None, benchmark_symbol=symbol)
    first, last = days[0].astype(date), days[-1].astype(date)
    bases: list[tuple[Period, date | None]] = []
    for period in periods(last):
        base = base_day(period.start)
        if base < first:
            bases.append((period, None if period.trailing else first))
        else:
            bases.append((period, base))
    wanted = [base for _, base in bases if base is not None] + [first]
    levels = _levels_on(symbol, [*wanted, last])

    def measured(name: str, label: str, base: date) -> PeriodReturn:
        at = max(0, int(np.searchsorted(days, np.datetime64(base, "D"), side="right")) - 1)
        start = days[at].astype(date)
        net = _ratio(_index(net_index[-1]), _index(net_index[at]))
        gross = _ratio(_index(gross_index[-1]), _index(gross_index[at]))
        start_level, end_level = levels.get(base), levels.get(last)
        span = (last - start).days
        return PeriodReturn(
            name=name,
            label=label,
            base=start,
            end=last,
            net=net,
            gross=gross,
            benchmark=_ratio(end_level, start_level) if start_level and end_level else None,
            annualised_net=_annualised(net, span),
            annualised_gross=_annualised(gross, span),
        )

    out = [
        measured(period.name, period.label, base)
        if base is not None
        else PeriodReturn(period.name, period.label, base_day(period.start), last, None, None, None)
        for period, base in bases
    ]
    return Returns(
        as_of=last,
        periods=out,
        inception=measured("ITD", "Since inception", first),
        benchmark_symbol=symbol,
    )


# --- What the figures lack ------------------------------------------------------------------------


@dataclass(frozen=True)
class ValuationGap:
    """A holding the daily values could not value at market: a security without a close, or a
    currency without an FX rate, from ``since`` (its first use) until ``until`` (its first quote;
    None: none yet)."""

    kind: str  # "price" or "fx"
    subject: str  # the security's symbol or the currency
    since: date
    until: date | None
    treatment: str

    @property
    def open(self) -> bool:
        return self.until is None

    @property
    def what(self) -> str:
        return f"No closing price for {self.subject}" if self.kind == "price" else f"No {self.subject} exchange rate"


_GAPS_SQL = """
    SELECT t.security_id, s.symbol, t.currency, t.first_use,
        (SELECT min(p.date) FROM {price} p WHERE p.security_id = t.security_id) AS first_close,
        (SELECT min(f.date) FROM {fx} f WHERE f.currency = t.currency) AS first_rate,
        (SELECT min(f.date) FROM {fx} f WHERE f.currency = %(base)s) AS base_rate
    FROM (
        SELECT security_id, currency, min(trade_date) AS first_use FROM {tx}
        WHERE firm_id = %(firm)s AND account_id = %(account)s GROUP BY security_id, currency
    ) t LEFT JOIN {security} s ON s.id = t.security_id
    ORDER BY s.symbol, t.currency
"""


def valuation_gaps(*, account: ClientAccount) -> list[ValuationGap]:
    """Securities the account held before their first close, and currencies it used before their
    first rate (one query: the account's transactions grouped by security and currency, with each
    one's first close and rate). Open gaps make the account's figures incomplete."""
    query = _GAPS_SQL.format(
        price=SecurityPrice._meta.db_table, fx=FxRate._meta.db_table, tx=Transaction._meta.db_table,
        security=Security._meta.db_table,
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(query, {"base": account.base_currency, "firm": account.firm_id, "account": account.pk})
        rows = cursor.fetchall()
    gaps: list[ValuationGap] = []
    securities: dict[str, tuple[date, date | None]] = {}
    # Cash and trades in a currency other than the base need its rate (and the base's, unless USD).
    currencies: dict[str, tuple[date, date | None]] = {}
    base_rate = rows[0][6] if rows else None
    for security, symbol, currency, first_use, first_close, first_rate, _ in rows:
        if security is not None:
            since = min(first_use, securities.get(symbol, (first_use, None))[0])
            securities[symbol] = (since, first_close)
        if currency != account.base_currency:
            since = min(first_use, currencies.get(currency, (first_use, None))[0])
            currencies[currency] = (since, first_rate)
    if currencies and account.base_currency != "USD":
        currencies[account.base_currency] = (min(since for since, _ in currencies.values()), base_rate)
    for symbol, (since, quoted) in securities.items():
        if quoted is None or quoted > since:
            treatment = "valued at its last trade price in the account until then"
            gaps.append(ValuationGap("price", symbol, since, quoted, treatment))
    for currency, (since, rate) in sorted(currencies.items()):
        if currency != "USD" and (rate is None or rate > since):
            treatment = "left out of the net asset value until its first rate"
            gaps.append(ValuationGap("fx", currency, since, rate, treatment))
    return gaps


@dataclass(frozen=True)
class ReturnsReport:
    """What the account page and ``GET /api/v1/accounts/{id}/returns/`` show of an account's returns."""

    currency: str
    as_of: date | None
    benchmark: str
    periods: list[PeriodReturn]
    inception: PeriodReturn | None
    valuation_gaps: list[ValuationGap]
    updating_from: date | None

    @property
    def complete(self) -> bool:
        """No holding lacks its close or rate now, and no correction is pending."""
        return self.updating_from is None and not any(gap.open for gap in self.valuation_gaps)


def returns_report(account: ClientAccount, benchmark_symbol: str) -> ReturnsReport:
    result = period_returns(account=account, benchmark_symbol=benchmark_symbol)
    return ReturnsReport(
        currency=account.base_currency,
        as_of=result.as_of,
        benchmark=result.benchmark_symbol,
        periods=result.periods,
        inception=result.inception,
        valuation_gaps=valuation_gaps(account=account),
        updating_from=performance.pending_correction(account=account),
    )
