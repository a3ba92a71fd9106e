"""Reads of the reports app, each given the user (the firm is the one in scope).

Performance (issue #19, point 1): an account or a household of the user's PortfolioAnalyst scope,
its daily values through ``portfolios.performance.value_history``, its fees from the ledger and a
benchmark through ``benchmark_history``; ``reports.performance`` measures them. Another firm's
account or household, one outside the scope and a missing one are the same ``SubjectNotFound``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
from django.utils import timezone

from accounts.rights import Right
from advisorportal.formats import round_money
from portfolios import performance as daily_values
from portfolios import selectors as book
from portfolios.accounting import FEE_KINDS
from portfolios.models import ClientAccount, Transaction
from portfolios.scope import scope_accounts
from reports.performance import DayText, Performance, PerformanceInputError, Series, report

ZERO = Decimal(0)


class SubjectNotFound(Exception):
    """No such account or household in the user's firm and scope (a 404)."""


@dataclass(frozen=True)
class Subject:
    """What is measured: one account, or a household's accounts in the user's scope that share a
    base currency (``left_out``: those in another currency; values are not converted)."""

    kind: str  # "account" or "household"
    pk: int
    name: str
    currency: str
    accounts: list[ClientAccount]
    left_out: list[ClientAccount]


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


def _series(subject: Subject) -> Series | None:
    """The subject's combined daily values (one query per account and one for the fees), or None
    before the first value. A household's days run to the last day every account has."""
    histories = [h for h in (daily_values.value_history(account=a) for a in subject.accounts) if h]
    if not histories:
        return None
    end = min(h[-1].date for h in histories)
    fees = _fees(subject.accounts, subject.currency, end)
    if len(histories) == 1:
        values = [v for v in histories[0] if v.date <= end]
        days = [v.date for v in values]
        return Series(
            currency=subject.currency, days=days, nav=[v.nav for v in values], flow=[v.net_flow for v in values],
            fee=[fees.get(d, ZERO) for d in days], net_index=[v.return_index for v in values],
            gross_index=[v.gross_index for v in values],
        )  # fmt: skip
    by_day = [{v.date: v for v in h} for h in histories]
    days = sorted({d for h in by_day for d in h if d <= end})
    nav, flow, net_index, gross_index = [], [], [Decimal(1)], [Decimal(1)]
    previous: list[Any] = [None] * len(by_day)
    for position, day in enumerate(days):
        today = [h.get(day) for h in by_day]
        nav.append(sum((v.nav for v in today if v is not None), ZERO))
        flow.append(sum((v.net_flow for v in today if v is not None), ZERO))
        if position:
            net_index.append(net_index[-1] * _linked(previous, today, "return_index"))
            gross_index.append(gross_index[-1] * _linked(previous, today, "gross_index"))
        previous = [v if v is not None else p for v, p in zip(today, previous, strict=True)]
    return Series(
        currency=subject.currency, days=days, nav=nav, flow=flow, fee=[fees.get(d, ZERO) for d in days],
        net_index=net_index, gross_index=gross_index,
    )  # fmt: skip


def _linked(previous: list[Any], today: list[Any], index: str) -> Decimal:
    """A household's growth over one day: its accounts' growth by their own index, weighted by
    their values at the close before (an account without a value before weighs nothing)."""
    weighted, weights = ZERO, ZERO
    for before, now in zip(previous, today, strict=True):
        if before is None or now is None or before.nav <= 0:
            continue
        start = getattr(before, index)
        growth = getattr(now, index) / start if start > 0 else Decimal(1)
        weighted += before.nav * growth
        weights += before.nav
    return weighted / weights if weights > 0 else Decimal(1)


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


def benchmark_choices() -> list[str]:
    """Every benchmark's symbol (global reference data: a handful of rows)."""
    return book.benchmark_symbols()


def performance(
    *, subject: Subject, start: date | None = None, end: date | None = None, benchmark: str = "",
    today: date | None = None, day: DayText, choices: list[str] | None = None,
) -> PerformancePage:  # fmt: skip
    """Measure ``subject`` (from ``performance_account`` or ``performance_household``) against
    ``benchmark`` (default: the preferred one of ``choices``, read when not given).
    ``PerformanceInputError`` names the field of a range or benchmark that cannot be used."""
    choices = benchmark_choices() if choices is None else choices
    if benchmark and benchmark not in choices:
        known = ", ".join(choices) or "none is loaded"
        raise PerformanceInputError(f"Unknown benchmark {benchmark!r}: choose one of {known}.", field="benchmark")
    symbol = book.pick_benchmark(choices, benchmark)
    series = _series(subject)
    if series is None:
        return PerformancePage(subject, None, choices, None, None, [])
    levels = daily_values.benchmark_history(symbol=symbol, start=series.days[0], end=series.days[-1]) if symbol else []
    result = report(
        series, benchmark=symbol, levels=levels, start=start, end=end, today=today or timezone.localdate(), day=day
    )
    shown = result.custom or next(p for p in result.periods if p.code == "ITD")
    window = None
    if shown.base is not None:
        window = (series.days.index(shown.base), series.days.index(shown.end))
    return PerformancePage(subject, result, choices, series, window, levels)
