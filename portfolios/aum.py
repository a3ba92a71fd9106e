"""Assets under management over time, across the accounts a user sees: the dashboard's AUM panel.

Both paths sum the same thing, every account's daily value and net external flow per business day
and base currency, from ``DailySeries`` in one SQL statement:

- a user who sees every account reads the firm's stored sums (``AumDay``), refreshed by
  ``refresh`` after each daily-values run (``performance._run`` queues it after commit);
- a user with a selected scope gets the sum over their scoped accounts, computed on the fly
  (the same statement restricted to their accounts).

Element ``k`` (from 1) of a quarter row falls on the ``k-1``-th business day (Monday to Friday,
as ``numpy.busday_offset``) after ``first_date``; for a first date of ISO weekday ``w`` that is
``first_date + (k-1) + 2 * ((w-1 + k-1) div 5)`` calendar days.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from accounts.policy import grant_scope
from accounts.rights import Right
from advisorportal.formats import round_money
from advisorportal.tenancy.context import require_firm_id
from portfolios.models import AumDay, ClientAccount, DailySeries
from portfolios.scope import scope_accounts

_DAY = "d.first_date + (u.k::int - 1) + 2 * ((extract(isodow FROM d.first_date)::int - 1 + u.k::int - 1) / 5)"


def _sum_sql(*, accounts_sql: str = "") -> str:
    """(currency, day, nav, net_flow) summed over the firm's series from %(start)s on; with
    ``accounts_sql`` only over the accounts it selects."""
    series = DailySeries._meta.db_table
    accounts = ClientAccount._meta.db_table
    only = f"AND d.account_id IN ({accounts_sql})" if accounts_sql else ""
    return (
        f"SELECT a.base_currency, {_DAY} AS day, sum(u.nav), sum(u.flow) "  # noqa: S608 - table names from metadata
        f"FROM {series} d JOIN {accounts} a ON a.firm_id = d.firm_id AND a.id = d.account_id "
        f"CROSS JOIN LATERAL unnest(d.nav, d.net_flow) WITH ORDINALITY AS u(nav, flow, k) "
        f"WHERE d.firm_id = %(firm)s AND d.quarter >= date_trunc('quarter', %(start)s::date) {only} "
        f"GROUP BY 1, 2 HAVING {_DAY} >= %(start)s"
    )


def refresh(*, start: date | None = None) -> int:
    """Rewrite the current firm's ``AumDay`` rows from ``start`` on (default: all of them) from
    its daily series; returns the rows written. Serialized per firm (a transaction-level advisory
    lock), so two refreshes queued by two runs write one after the other."""
    firm_id = require_firm_id()
    start = start or date(1900, 1, 1)
    table = AumDay._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('portfolios.aum'), %s)", [firm_id])
        cursor.execute(f"DELETE FROM {table} WHERE firm_id = %s AND date >= %s", [firm_id, start])  # noqa: S608
        cursor.execute(
            f"INSERT INTO {table} (firm_id, currency, date, nav, net_flow) "  # noqa: S608
            f"SELECT %(firm)s, s.* FROM ({_sum_sql()}) s",
            {"firm": firm_id, "start": start},
        )
        return cursor.rowcount


@dataclass(frozen=True)
class AumPoint:
    date: date
    nav: Decimal


@dataclass(frozen=True)
class AumHistory:
    currency: str
    points: list[AumPoint]  # oldest first
    ytd_return: Decimal | None  # time-weighted, of the summed values; None without a value last year
    other_currencies: list[tuple[str, Decimal]]  # latest totals in the other base currencies

    @property
    def latest(self) -> AumPoint:
        return self.points[-1]


def _days(*, user: Any, right: Right, start: date) -> list[tuple[str, date, float, float]]:
    allowed, grant_id = grant_scope(user, right)
    if not allowed:
        return []
    firm_id = require_firm_id()
    if grant_id is None:
        return list(
            AumDay.objects.filter(date__gte=start)
            .order_by("currency", "date")
            .values_list("currency", "date", "nav", "net_flow")
        )
    scoped = scope_accounts(ClientAccount.objects.all(), user=user, right=right).values("pk")
    sql, params = scoped.query.sql_with_params()
    with connection.cursor() as cursor:
        # The scope's own parameters are positional: name them for the one statement.
        named = {f"p{i}": value for i, value in enumerate(params)}
        inner = sql % tuple(f"%(p{i})s" for i in range(len(params)))
        cursor.execute(_sum_sql(accounts_sql=inner) + " ORDER BY 1, 2", {"firm": firm_id, "start": start, **named})
        return list(cursor.fetchall())


def history(*, user: Any, right: Right, today: date | None = None) -> AumHistory | None:
    """The user's AUM over the last year (daily, in the base currency with the most assets) and
    its year-to-date time-weighted return, chaining the summed values' daily returns as the
    accounts' own are chained: r = (NAV - flow) / previous NAV - 1. None without any value."""
    today = today or date.today()
    start = min(today - timedelta(days=372), date(today.year - 1, 12, 20))
    rows = _days(user=user, right=right, start=start)
    if not rows:
        return None
    by_currency: dict[str, list[tuple[date, float, float]]] = {}
    for currency, day, nav, flow in rows:
        by_currency.setdefault(currency, []).append((day, nav, flow))
    main = max(by_currency, key=lambda c: by_currency[c][-1][1])
    days = by_currency[main]
    growth, previous, counted = 1.0, None, False
    for day, nav, flow in days:
        if day.year == today.year and previous is not None:
            counted = counted or previous[0].year < today.year
            growth *= (nav - flow) / previous[1] if previous[1] > 0 else 1.0
        previous = (day, nav)
    ytd = Decimal(repr(growth - 1.0)).quantize(Decimal("0.000001")) if counted else None
    year_ago = today - timedelta(days=365)
    return AumHistory(
        currency=main,
        points=[AumPoint(day, round_money(Decimal(repr(nav)), main)) for day, nav, _ in days if day >= year_ago],
        ytd_return=ytd,
        other_currencies=[
            (c, round_money(Decimal(repr(values[-1][1])), c)) for c, values in sorted(by_currency.items()) if c != main
        ],
    )


@dataclass(frozen=True)
class HoverBand:
    x: float
    width: float
    point: AumPoint


@dataclass(frozen=True)
class AumChart:
    """The AUM line as SVG coordinates, and one transparent band per shown point whose ``<title>``
    is what hovering shows (date and value); drawn on the server, no script, nothing inline."""

    points: str
    bands: list[HoverBand]
    low: Decimal
    high: Decimal


CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 600, 140, 6
CHART_POINTS = 120  # the line; hover bands are every business week


def chart(aum: AumHistory) -> AumChart | None:
    series = aum.points
    if len(series) < 2:
        return None
    step = max(1, len(series) // CHART_POINTS)
    line = series[::step] if series[::step][-1] == series[-1] else [*series[::step], series[-1]]
    values = [float(p.nav) for p in series]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    first, days = series[0].date, (series[-1].date - series[0].date).days or 1

    def x(day: date) -> float:
        return (day - first).days / days * CHART_WIDTH

    def y(value: Decimal) -> float:
        return CHART_HEIGHT - CHART_PAD - (float(value) - low) / span * (CHART_HEIGHT - 2 * CHART_PAD)

    weekly = series[::5] if series[::5][-1] == series[-1] else [*series[::5], series[-1]]
    edges = [0.0] + [(x(a.date) + x(b.date)) / 2 for a, b in itertools.pairwise(weekly)] + [CHART_WIDTH]
    return AumChart(
        points=" ".join(f"{x(p.date):.1f},{y(p.nav):.1f}" for p in line),
        bands=[HoverBand(round(edges[i], 1), round(edges[i + 1] - edges[i], 1), p) for i, p in enumerate(weekly)],
        low=min(p.nav for p in series),
        high=max(p.nav for p in series),
    )
