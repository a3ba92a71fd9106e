"""Reads of the reports app, each given the user (the firm is the one in scope).

Performance (issue #19, point 1): an account, a household, a CRM group or the whole firm as the
user's PortfolioAnalyst scope covers it; an account's and a household's daily values through
``portfolios.performance.value_history``, a group's and the firm's summed per day in one statement
(``_summed_series``), the fees from the ledger and a benchmark through ``benchmark_history``;
``reports.performance`` measures them. Another firm's account, household or group, one outside the
scope (or a private group of another user) and a missing one are the same ``SubjectNotFound``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.policy import grant_scope
from accounts.rights import Right
from advisorportal.formats import round_money
from advisorportal.tenancy.context import require_firm_id
from crm.models import Group, GroupMember
from portfolios import performance as daily_values
from portfolios import selectors as book
from portfolios.accounting import FEE_KINDS
from portfolios.models import AccountOwner, AumDay, BenchmarkValue, ClientAccount, DailySeries, Transaction
from portfolios.scope import scope_accounts
from reports import allocation as holdings
from reports.benchmarks import blend_levels
from reports.models import BlendComponent, BlendedBenchmark
from reports.performance import DayText, Performance, PerformanceInputError, Series, report

ZERO = Decimal(0)
LISTED = 100  # a group's or the firm's accounts named on the page and in the API (the count is complete)


class SubjectNotFound(Exception):
    """No such account or household in the user's firm and scope (a 404)."""


@dataclass(frozen=True)
class Subject:
    """What is measured: one account, or a household's accounts in the user's scope that share a
    base currency (``left_out``: those in another currency; values are not converted)."""

    kind: str  # "account", "household", "group" or "firm"
    pk: int
    name: str
    currency: str
    accounts: list[ClientAccount]  # a group's or the firm's: the first LISTED of them
    left_out: list[ClientAccount]  # a group's or the firm's: the first LISTED of them
    # A group's and the firm's accounts are read in bulk: the measured ones as a query, and counts.
    measured: QuerySet[ClientAccount] | None = None
    account_count: int = 0
    left_out_count: int = 0


def _scoped(user: Any) -> Any:
    accounts = ClientAccount.objects.select_related("household").order_by("number", "pk")
    return scope_accounts(accounts, user=user, right=Right.PORTFOLIO_ANALYST)


def performance_account(*, user: Any, pk: Any) -> Subject:
    try:
        account = _scoped(user).get(pk=pk)
    except (ClientAccount.DoesNotExist, ValueError, TypeError):
        raise SubjectNotFound from None
    return Subject("account", account.pk, f"{account.number} · {account.title}", account.base_currency, [account], [])


def performance_household(*, user: Any, pk: Any) -> Subject:
    """The household's accounts in the user's scope; a household with none of them is not found.
    Its currency is the base currency holding the most value (then the most accounts)."""
    try:
        accounts = list(_scoped(user).filter(household_id=int(pk)))
    except (ValueError, TypeError):
        raise SubjectNotFound from None
    if not accounts:
        raise SubjectNotFound
    totals: dict[str, tuple[Decimal, int]] = {}
    for account in accounts:
        value, count = totals.get(account.base_currency, (ZERO, 0))
        totals[account.base_currency] = (value + (account.nav or ZERO), count + 1)
    currency = max(sorted(totals), key=lambda c: totals[c])
    household = accounts[0].household
    return Subject(
        "household", household.pk, household.name, currency,
        [a for a in accounts if a.base_currency == currency], [a for a in accounts if a.base_currency != currency],
    )  # fmt: skip


def _main_currency(accounts: QuerySet[ClientAccount]) -> tuple[str, int, int] | None:
    """The base currency holding the most value (then the most accounts), with how many accounts
    are in it and in the others (one query); None without accounts."""
    totals = {
        row["base_currency"]: (row["value"] or ZERO, row["count"])
        for row in accounts.order_by().values("base_currency").annotate(value=Sum("nav"), count=Count("pk"))
    }
    if not totals:
        return None
    currency = max(sorted(totals), key=lambda c: totals[c])
    return currency, totals[currency][1], sum(count for c, (_, count) in totals.items() if c != currency)


def _many(kind: str, pk: int, name: str, accounts: QuerySet[ClientAccount]) -> Subject:
    main = _main_currency(accounts)
    if main is None:
        return Subject(kind, pk, name, "USD", [], [])
    currency, count, others = main
    measured = accounts.filter(base_currency=currency)
    return Subject(
        kind, pk, name, currency, list(measured[:LISTED]), list(accounts.exclude(base_currency=currency)[:LISTED]),
        measured=measured, account_count=count, left_out_count=others,
    )  # fmt: skip


def performance_group(*, user: Any, pk: Any) -> Subject:
    """The accounts owned by the group's members, in the user's scope. A private group of another
    user, another firm's, a missing one and one with none of these accounts are not found."""
    try:
        group = Group.objects.filter(Q(is_private=False) | Q(owner=user)).get(pk=int(pk))
    except (Group.DoesNotExist, ValueError, TypeError):
        raise SubjectNotFound from None
    members = GroupMember.objects.filter(group=group).values("contact_id")
    accounts = _scoped(user).filter(pk__in=AccountOwner.objects.filter(contact__in=members).values("account_id"))
    if not accounts.exists():
        raise SubjectNotFound
    return _many("group", group.pk, group.name, accounts)


def visible_groups(*, user: Any) -> list[Group]:
    """The firm's public groups and the user's own private ones, by name (for choosing one)."""
    return list(Group.objects.filter(Q(is_private=False) | Q(owner=user)).order_by("name", "pk")[:200])


def performance_firm(*, user: Any) -> Subject:
    """Every account of the user's scope (the whole firm for a user who sees every account)."""
    firm = user.firm
    return _many("firm", firm.pk, firm.name, _scoped(user))


def _inner_sql(queryset: QuerySet[Any]) -> tuple[str, dict[str, Any]]:
    """A queryset's SQL with its positional parameters named, to embed in one statement."""
    sql, params = queryset.query.sql_with_params()
    return sql % tuple(f"%(p{i})s" for i in range(len(params))), {f"p{i}": v for i, v in enumerate(params)}


# Element k (from 1) of a quarter row is the (k-1)-th business day after first_date (portfolios.aum).
_DAY = "d.first_date + (u.k::int - 1) + 2 * ((extract(isodow FROM d.first_date)::int - 1 + u.k::int - 1) / 5)"


def _summed_days(subject: Subject, user: Any) -> list[tuple[date, float, float]]:
    """(day, NAV, net external flow) summed over the subject's measured accounts, oldest first, in
    one statement: for the firm seen whole, the firm's stored sums (``AumDay``, refreshed after
    each daily-values run); otherwise the accounts' daily series unnested and summed."""
    assert subject.measured is not None
    allowed, grant_id = grant_scope(user, Right.PORTFOLIO_ANALYST)
    if subject.kind == "firm" and allowed and grant_id is None:
        return list(
            AumDay.objects.filter(currency=subject.currency).order_by("date").values_list("date", "nav", "net_flow")
        )
    inner, params = _inner_sql(subject.measured.order_by().values("pk"))
    series = DailySeries._meta.db_table
    sql = (
        f"SELECT {_DAY} AS day, sum(u.nav), sum(u.flow) FROM {series} d "  # noqa: S608 - table names from metadata
        f"CROSS JOIN LATERAL unnest(d.nav, d.net_flow) WITH ORDINALITY AS u(nav, flow, k) "
        f"WHERE d.firm_id = %(firm)s AND d.account_id IN ({inner}) GROUP BY 1 ORDER BY 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {"firm": require_firm_id(), **params})
        return list(cursor.fetchall())


def _summed_fees(subject: Subject, end: date) -> dict[date, Decimal]:
    """The measured accounts' fees (negative) and refunds by business day in the subject's
    currency: summed per day and currency in the database, converted per sum."""
    assert subject.measured is not None
    rows = (
        Transaction.objects.filter(account__in=subject.measured.order_by().values("pk"), kind__in=sorted(FEE_KINDS),
                                   trade_date__lte=end)
        .values("trade_date", "currency").annotate(total=Sum("amount")).values_list("trade_date", "total", "currency")
    )  # fmt: skip
    out: dict[date, Decimal] = {}
    for day, amount, fee_currency in rows:
        business: date = np.busday_offset(np.datetime64(day, "D"), 0, roll="forward").astype(date)
        value = book.convert(amount, from_currency=fee_currency, to_currency=subject.currency, on=business)
        if value is not None:
            out[business] = out.get(business, ZERO) + round_money(value, subject.currency)
    return out


def _summed_series(subject: Subject, user: Any) -> Series | None:
    """A group's or the firm's daily values: the summed values, their daily growth linked as each
    account's is, (NAV - flows) / NAV the day before (gross: fees added back), which is the
    household's value-weighted linking whenever every account had a value the day before."""
    rows = _summed_days(subject, user)
    if not rows:
        return None
    currency = subject.currency
    fees = _summed_fees(subject, rows[-1][0])
    days, nav, flow, fee, net_index, gross_index = [], [], [], [], [Decimal(1)], [Decimal(1)]
    net_level, gross_level, before = 1.0, 1.0, 0.0
    for position, (day, value, moved) in enumerate(rows):
        charged = fees.get(day, ZERO)
        if position:
            if before > 0:
                net_level *= (value - moved) / before
                gross_level *= (value - moved - float(charged)) / before
            net_index.append(Decimal(repr(net_level)).quantize(daily_values.INDEX_PLACES))
            gross_index.append(Decimal(repr(gross_level)).quantize(daily_values.INDEX_PLACES))
        days.append(day)
        nav.append(round_money(Decimal(repr(float(value))), currency))
        flow.append(round_money(Decimal(repr(float(moved))), currency))
        fee.append(charged)
        before = float(value)
    return Series(currency=currency, days=days, nav=nav, flow=flow, fee=fee, net_index=net_index,
                  gross_index=gross_index)  # fmt: skip


def _fees(accounts: Sequence[ClientAccount], currency: str, end: date) -> dict[date, Decimal]:
    """Fees (negative) and fee refunds of the accounts by business day, in ``currency`` (one
    query; a fee in another currency at the rate of its day, as the daily values convert it). A
    weekend's fee counts on the next business day, as in the daily values."""
    rows = Transaction.objects.filter(
        account__in=[a.pk for a in accounts], kind__in=sorted(FEE_KINDS), trade_date__lte=end
    ).values_list("trade_date", "amount", "currency")
    out: dict[date, Decimal] = {}
    for day, amount, fee_currency in rows:
        business: date = np.busday_offset(np.datetime64(day, "D"), 0, roll="forward").astype(date)
        value = book.convert(amount, from_currency=fee_currency, to_currency=currency, on=business)
        if value is None:
            continue  # not convertible yet: the daily values leave it out too
        out[business] = out.get(business, ZERO) + round_money(value, currency)
    return out


def _series(subject: Subject, user: Any = None) -> Series | None:
    """The subject's daily values (an account's through ``value_history``, exactly as its page reads
    them; a household's accounts in one query, ``_linked_series``; a group's and the firm's summed in
    bulk, ``_summed_series``) and the fees, or None before the first value."""
    if subject.measured is not None:
        return _summed_series(subject, user)
    if not subject.accounts:
        return None
    if len(subject.accounts) > 1:
        return _linked_series(subject)
    values = daily_values.value_history(account=subject.accounts[0])
    if not values:
        return None
    days = [v.date for v in values]
    fees = _fees(subject.accounts, subject.currency, days[-1])
    return Series(
        currency=subject.currency, days=days, nav=[v.nav for v in values], flow=[v.net_flow for v in values],
        fee=[fees.get(d, ZERO) for d in days], net_index=[v.return_index for v in values],
        gross_index=[v.gross_index for v in values],
    )  # fmt: skip


def _linked_series(subject: Subject) -> Series | None:
    """A household's days linked, vectorised over its accounts: the quarter rows of every account in
    one query (as ``value_history`` reads them: values to the cent, indexes to 10 places), each
    day's growth the accounts' growth by their own index weighted by their values at their last
    close before (an account without a value before weighs nothing), in binary floats (15-16
    significant digits, well beyond the 10 decimal places answered). The days run to the last day
    every account has."""
    rows = (
        DailySeries.objects.filter(account_id__in=[a.pk for a in subject.accounts])
        .order_by("account_id", "quarter")
        .values_list("account_id", "first_date", "nav", "net_flow", "return_index", "gross_index")
    )
    parts: dict[int, list[tuple[np.ndarray, ...]]] = {}
    for account_id, first, navs, flows, indexes, grosses in rows:
        offsets = np.busday_offset(np.datetime64(first, "D"), np.arange(len(navs)))
        parts.setdefault(account_id, []).append(
            (offsets, np.asarray(navs, float), np.asarray(flows, float), np.asarray(indexes, float),
             np.asarray(grosses, float))
        )  # fmt: skip
    if not parts:
        return None
    series = [tuple(np.concatenate([p[k] for p in chunks]) for k in range(5)) for chunks in parts.values()]
    last_day = min(s[0][-1] for s in series)
    all_days = np.unique(np.concatenate([s[0][s[0] <= last_day] for s in series]))
    days: list[date] = all_days.astype(date).tolist()
    shape = (len(series), len(days))
    nav, flow, net, gross = (np.full(shape, np.nan) for _ in range(4))
    for row, (offsets, navs, flows, indexes, grosses) in enumerate(series):
        keep = offsets <= last_day
        cols = np.searchsorted(all_days, offsets[keep])
        nav[row, cols], flow[row, cols] = np.round(navs[keep], 2), np.round(flows[keep], 2)
        net[row, cols], gross[row, cols] = np.round(indexes[keep], 10), np.round(grosses[keep], 10)
    fees = _fees(subject.accounts, subject.currency, days[-1])
    # Each account's last known value before each day (carried over days it has none).
    known = ~np.isnan(nav)
    last = np.where(known, np.arange(len(days)), -1)
    np.maximum.accumulate(last, axis=1, out=last)
    before = np.concatenate([np.full((len(series), 1), -1), last[:, :-1]], axis=1)
    accounts = np.arange(len(series))[:, None]
    safe = np.maximum(before, 0)
    nav_before = np.where(before >= 0, nav[accounts, safe], np.nan)

    def linked(index: np.ndarray) -> list[Decimal]:
        index_before = np.where(before >= 0, index[accounts, safe], np.nan)
        counts = known & (before >= 0) & (nav_before > 0)
        growth = np.where(index_before > 0, index / np.where(index_before > 0, index_before, 1.0), 1.0)
        weights = np.where(counts, nav_before, 0.0).sum(axis=0)
        weighted = np.where(counts, nav_before * growth, 0.0).sum(axis=0)
        daily = np.where(weights > 0, weighted / np.where(weights > 0, weights, 1.0), 1.0)
        daily[0] = 1.0
        return [Decimal(repr(float(x))) for x in np.cumprod(daily)]

    currency = subject.currency
    return Series(
        currency=currency, days=days,
        nav=[round_money(Decimal(repr(float(x))), currency) for x in np.nansum(nav, axis=0)],
        flow=[round_money(Decimal(repr(float(x))), currency) for x in np.nansum(flow, axis=0)],
        fee=[fees.get(d, ZERO) for d in days], net_index=linked(net), gross_index=linked(gross),
    )  # fmt: skip


@dataclass(frozen=True)
class PerformancePage:
    """A subject's performance, the benchmark chosen and the ones to choose from, and the daily
    values of the chart's window (the custom range, else since inception)."""

    subject: Subject
    performance: Performance | None  # None: no daily values yet
    benchmark_choices: list[str]
    series: Series | None
    window: tuple[int, int] | None  # indexes of the series the chart shows
    levels: list[tuple[date, Decimal]]
    blend: BlendedBenchmark | None = None
    allocation: holdings.Allocation | None = None
    contribution: holdings.Contribution | None = None
    contribution_undefined: str = ""  # why no contribution is shown for the period asked


def benchmark_choices() -> list[str]:
    """Every benchmark's symbol (global reference data: a handful of rows)."""
    return book.benchmark_symbols()


# --- Blended benchmarks ---------------------------------------------------------------------------


class BlendNotFound(Exception):
    """No such blended benchmark in the user's firm (a 404)."""


def _blends() -> QuerySet[BlendedBenchmark]:
    components = BlendComponent.objects.select_related("benchmark").order_by("-weight", "benchmark__symbol")
    return BlendedBenchmark.objects.prefetch_related(Prefetch("components", queryset=components)).order_by("name", "pk")


def blend_list() -> list[BlendedBenchmark]:
    """The firm's blended benchmarks by name, with their components (two queries)."""
    return list(_blends()[:200])


def blend_get(*, pk: Any) -> BlendedBenchmark:
    """One of the firm's blends (another firm's and a missing one are the same ``BlendNotFound``)."""
    try:
        return _blends().get(pk=int(pk))
    except (BlendedBenchmark.DoesNotExist, ValueError, TypeError):
        raise BlendNotFound from None


def blend_history(*, blend: BlendedBenchmark, start: date, end: date) -> list[tuple[date, Decimal]]:
    """The blend's daily levels from ``start`` (from each component's last level on or before it) to
    ``end``: its components' levels in one query, mixed by ``reports.benchmarks.blend_levels``."""
    parts = list(blend.components.all())
    ids = [c.benchmark_id for c in parts]
    before = BenchmarkValue.objects.filter(benchmark_id=OuterRef("benchmark_id"), date__lte=start).order_by("-date")
    rows = (
        BenchmarkValue.objects.filter(benchmark_id__in=ids, date__lte=end)
        .filter(date__gte=Coalesce(Subquery(before.values("date")[:1]), Value(start)))
        .order_by("benchmark_id", "date")
        .values_list("benchmark_id", "date", "level")
    )
    by_benchmark: dict[int, list[tuple[date, Decimal]]] = {pk: [] for pk in ids}
    for pk, day, level in rows:
        by_benchmark[pk].append((day, level))
    return blend_levels([(c.weight / 100, by_benchmark[c.benchmark_id]) for c in parts], rebalance=blend.rebalance)


CONTRIBUTION_DEFAULT = "YTD"


def performance(
    *, subject: Subject, start: date | None = None, end: date | None = None, benchmark: str = "",
    today: date | None = None, day: DayText, choices: list[str] | None = None, user: Any = None,
    blend: BlendedBenchmark | None = None, contribution: str = "",
) -> PerformancePage:  # fmt: skip
    """Measure ``subject`` (from ``performance_account``, ``_household``, ``_group`` or ``_firm``; the
    last two need the ``user`` whose scope they are) against
    ``benchmark`` (default: the preferred one of ``choices``, read when not given) and ``blend``;
    its allocation at the last day measured and the contribution of its positions over the period
    ``contribution`` (a period code; default the custom range when there is one, else year to date).
    ``PerformanceInputError`` names the field of a range or benchmark that cannot be used."""
    choices = benchmark_choices() if choices is None else choices
    if benchmark and benchmark not in choices:
        known = ", ".join(choices) or "none is loaded"
        raise PerformanceInputError(f"Unknown benchmark {benchmark!r}: choose one of {known}.", field="benchmark")
    symbol = book.pick_benchmark(choices, benchmark)
    series = _series(subject, user)
    if series is None:
        return PerformancePage(subject, None, choices, None, None, [], blend)
    levels = daily_values.benchmark_history(symbol=symbol, start=series.days[0], end=series.days[-1]) if symbol else []
    mixed = blend_history(blend=blend, start=series.days[0], end=series.days[-1]) if blend else []
    result = report(
        series, benchmark=symbol, levels=levels, start=start, end=end, today=today or timezone.localdate(), day=day,
        blend=blend.name if blend else "", blend_levels=mixed,
    )  # fmt: skip
    shown = result.custom or next(p for p in result.periods if p.code == "ITD")
    window = None
    if shown.base is not None:
        window = (series.days.index(shown.base), series.days.index(shown.end))
    code = contribution or ("CUSTOM" if result.custom else CONTRIBUTION_DEFAULT)
    if code == "CUSTOM" and result.custom is None:
        raise PerformanceInputError("Choose a start (and end) for a contribution over a custom range.", field="start")
    period = result.custom if code == "CUSTOM" else next((p for p in result.periods if p.code == code), None)
    contributed, undefined = None, ""
    if period is None or period.base is None or period.undefined:
        label = period.label if period else code
        undefined = f"{label}: {period.undefined if period and period.undefined else 'not measured.'}"
    else:
        contributed = holdings.contribution(subject=subject, series=series, period=period)
    allocated = holdings.allocation(subject=subject, as_of=result.as_of)
    return PerformancePage(subject, result, choices, series, window, levels, blend, allocated, contributed, undefined)
