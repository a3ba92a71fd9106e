"""Daily net asset value and the time-weighted return index, vectorized with numpy.

For each account and business day (Monday to Friday; a transaction dated on a weekend counts on
the next business day):

    NAV_d   = Σ quantity * close * fx(security currency → base) + Σ cash * fx(currency → base)
    flow_d  = external cash in/out (deposits, withdrawals, transfers) and position transfers at
              market value, in the base currency
    r_d     = (NAV_d - flow_d) / NAV_(d-1) - 1          (flows at the end of the day; 0 if NAV_(d-1) ≤ 0)
    index_d = index_(d-1) * (1 + r_d)                   (1 on the account's first day)

Prices and FX rates are carried forward over days without a quote; FX rates are USD per unit, so
fx(a → b) = usd_per_a / usd_per_b. Cash is the sum of transaction amounts, which equals the
ledger's cash (``check_portfolios`` proves it). Arithmetic is float64 (15-16 significant digits,
ample for NAVs to the cent); NAV and flows are stored rounded to 2 places, the index to 10.

A chunk of accounts is computed as matrices (position pairs * days, accounts * days), so the cost
is a handful of SQL reads and one INSERT … SELECT FROM unnest(arrays) per chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import Case, FloatField, IntegerField, Max, Min, Sum, Value, When
from django.db.models.functions import Cast

from advisorportal.tenancy.context import require_firm_id
from portfolios.accounting import EXTERNAL_CASH_KINDS, EXTERNAL_POSITION_KINDS, ZERO, round_money
from portfolios.models import (
    BenchmarkValue,
    ClientAccount,
    DailyValue,
    FxRate,
    Security,
    SecurityPrice,
    Transaction,
)

CHUNK = 500
PRICE_LOOKBACK_DAYS = 15
INSERT_BATCH = 200_000


@dataclass
class RecomputeResult:
    accounts: int = 0
    rows: int = 0


def business_days(start: date, end: date) -> np.ndarray:
    """Monday-Friday from ``start`` to ``end`` inclusive, as datetime64[D]."""
    first = np.busday_offset(np.datetime64(start, "D"), 0, roll="forward")
    last = np.datetime64(end, "D") + 1
    if first >= last:
        return np.array([], dtype="datetime64[D]")
    return np.arange(first, last, dtype="datetime64[D]")[np.is_busday(np.arange(first, last, dtype="datetime64[D]"))]


def latest_price_date() -> date | None:
    return SecurityPrice.objects.aggregate(last=Max("date"))["last"]


@transaction.atomic
def recompute_full(*, account_ids: Sequence[int] | None = None, end: date | None = None) -> RecomputeResult:
    """Recompute every daily value of the given accounts (default: the whole firm) up to ``end``."""
    end = end or latest_price_date() or date.today()
    accounts = ClientAccount.objects.all()
    if account_ids is not None:
        accounts = accounts.filter(pk__in=list(account_ids))
    ids = list(accounts.order_by("pk").values_list("pk", flat=True))
    result = RecomputeResult()
    for offset in range(0, len(ids), CHUNK):
        chunk = ids[offset : offset + CHUNK]
        DailyValue.objects.filter(account_id__in=chunk).delete()
        result.rows += _compute_chunk(chunk, end=end, stored={})
        result.accounts += len(chunk)
        _refresh_latest(chunk)
    return result


@transaction.atomic
def update_new_days(*, account_ids: Sequence[int] | None = None, end: date | None = None) -> RecomputeResult:
    """Add the days after each account's last stored value, up to ``end`` (the nightly job)."""
    end = end or latest_price_date() or date.today()
    accounts = ClientAccount.objects.all()
    if account_ids is not None:
        accounts = accounts.filter(pk__in=list(account_ids))
    ids = list(accounts.order_by("pk").values_list("pk", flat=True))
    result = RecomputeResult()
    for offset in range(0, len(ids), CHUNK):
        chunk = ids[offset : offset + CHUNK]
        last_dates = dict(
            DailyValue.objects.filter(account_id__in=chunk)
            .values_list("account_id")
            .annotate(last=Max("date"))
            .order_by()
        )
        stored = {
            v.account_id: (v.date, float(v.nav), float(v.return_index))
            for v in DailyValue.objects.filter(account_id__in=chunk, date__in=set(last_dates.values())).only(
                "account_id", "date", "nav", "return_index"
            )
            if last_dates.get(v.account_id) == v.date
        }
        result.rows += _compute_chunk(chunk, end=end, stored=stored)
        result.accounts += len(chunk)
        _refresh_latest(chunk)
    return result


def _compute_chunk(account_ids: list[int], *, end: date, stored: dict[int, tuple[date, float, float]]) -> int:
    """Compute and insert the missing daily values of ``account_ids``. ``stored`` holds each
    account's last stored (date, nav, index); accounts without one start at their first transaction."""
    firsts = dict(
        Transaction.objects.filter(account_id__in=account_ids)
        .values_list("account_id")
        .annotate(first=Min("trade_date"))
        .order_by()
    )
    starts = [stored[a][0] + timedelta(days=1) if a in stored else firsts[a] for a in account_ids if a in firsts]
    if not starts:
        return 0
    start = min(starts)
    days = business_days(start, end)
    if len(days) == 0:
        return 0
    n_days = len(days)
    accounts = [a for a in account_ids if a in firsts]
    acct_index = {a: i for i, a in enumerate(accounts)}
    base = dict(ClientAccount.objects.filter(pk__in=accounts).values_list("pk", "base_currency"))

    external = Case(
        When(kind__in=EXTERNAL_CASH_KINDS, then=Value(1)),
        When(kind__in=EXTERNAL_POSITION_KINDS, then=Value(2)),
        default=Value(0),
        output_field=IntegerField(),
    )
    # Before the window only the totals matter (the opening state): summed in SQL, dated the day before.
    opening_day = start - timedelta(days=1)
    opening = [
        (account_id, security_id, currency, opening_day, q, a, 0)
        for account_id, security_id, currency, q, a in Transaction.objects.filter(
            account_id__in=accounts, trade_date__lt=start
        )
        .values_list("account_id", "security_id", "currency")
        .annotate(q=Cast(Sum("quantity"), FloatField()), a=Cast(Sum("amount"), FloatField()))
        .order_by()
    ]
    txs = opening + list(
        Transaction.objects.filter(account_id__in=accounts, trade_date__gte=start, trade_date__lte=end)
        .annotate(q=Cast("quantity", FloatField()), a=Cast("amount", FloatField()), ext=external)
        .values_list("account_id", "security_id", "currency", "trade_date", "q", "a", "ext")
        .order_by()
    )
    securities = sorted({t[1] for t in txs if t[1] is not None})
    sec_index = {s: i for i, s in enumerate(securities)}
    sec_currency = dict(Security.objects.filter(pk__in=securities).values_list("pk", "currency"))
    currencies = sorted({t[2] for t in txs} | set(base.values()) | set(sec_currency.values()))
    ccy_index = {c: i for i, c in enumerate(currencies)}

    prices = _price_matrix(securities, days)  # [securities, days]
    usd = _fx_matrix(currencies, days)  # [currencies, days], USD per unit
    base_idx = np.array([ccy_index[base[a]] for a in accounts])
    usd_base = usd[base_idx]  # [accounts, days]

    # Day of each transaction: before the window → day 0 (opening state); weekend → next business day.
    t_acct = np.array([acct_index[t[0]] for t in txs], dtype=np.int64)
    t_day = np.minimum(np.searchsorted(days, np.array([t[3] for t in txs], dtype="datetime64[D]")), n_days - 1)
    t_qty = np.array([t[4] for t in txs])
    t_amt = np.array([t[5] for t in txs])
    t_ext = np.array([t[6] for t in txs], dtype=np.int64)
    t_ccy = np.array([ccy_index[t[2]] for t in txs], dtype=np.int64)
    has_sec = np.array([t[1] is not None for t in txs])
    t_sec = np.array([sec_index[t[1]] if t[1] is not None else -1 for t in txs], dtype=np.int64)
    in_window = np.array([t[3] >= start for t in txs])

    nav = np.zeros((len(accounts), n_days))
    # Securities: one row per (account, security) pair, quantities accumulated over the days.
    if has_sec.any():
        pair_keys = t_acct[has_sec] * len(securities) + t_sec[has_sec]
        pairs, pair_of = np.unique(pair_keys, return_inverse=True)
        qty = np.zeros((len(pairs), n_days))
        np.add.at(qty, (pair_of, t_day[has_sec]), t_qty[has_sec])
        np.cumsum(qty, axis=1, out=qty)
        pair_acct, pair_sec = pairs // len(securities), pairs % len(securities)
        pair_ccy = np.array([ccy_index[sec_currency[securities[s]]] for s in pair_sec], dtype=np.int64)
        values = qty * prices[pair_sec] * usd[pair_ccy] / usd_base[pair_acct]
        np.add.at(nav, pair_acct, values)
    # Cash: one row per (account, currency) pair.
    cash_keys = t_acct * len(currencies) + t_ccy
    cash_pairs, cash_of = np.unique(cash_keys, return_inverse=True)
    cash = np.zeros((len(cash_pairs), n_days))
    np.add.at(cash, (cash_of, t_day), t_amt)
    np.cumsum(cash, axis=1, out=cash)
    cash_acct, cash_ccy = cash_pairs // len(currencies), cash_pairs % len(currencies)
    np.add.at(nav, cash_acct, cash * usd[cash_ccy] / usd_base[cash_acct])

    # External flows inside the window, in the base currency of the day.
    flow = np.zeros((len(accounts), n_days))
    cash_flow = in_window & (t_ext == 1)
    np.add.at(
        flow,
        (t_acct[cash_flow], t_day[cash_flow]),
        t_amt[cash_flow] * usd[t_ccy[cash_flow], t_day[cash_flow]] / usd_base[t_acct[cash_flow], t_day[cash_flow]],
    )
    position_flow = in_window & (t_ext == 2)
    if position_flow.any():
        s, d, a = t_sec[position_flow], t_day[position_flow], t_acct[position_flow]
        s_ccy = np.array([ccy_index[sec_currency[securities[i]]] for i in s], dtype=np.int64)
        np.add.at(flow, (a, d), t_qty[position_flow] * prices[s, d] * usd[s_ccy, d] / usd_base[a, d])

    # Returns, chained from each account's last stored value.
    prev0 = np.array([stored[a][1] if a in stored else 0.0 for a in accounts])
    index0 = np.array([stored[a][2] if a in stored else 1.0 for a in accounts])
    last_idx = np.array(
        [
            np.searchsorted(days, np.datetime64(stored[a][0], "D"), side="right") - 1 if a in stored else -1
            for a in accounts
        ]
    )
    first_idx = np.searchsorted(days, np.array([firsts[a] for a in accounts], dtype="datetime64[D]"))
    prev = np.concatenate([prev0[:, None], nav[:, :-1]], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = np.where(prev > 0, (nav - flow) / prev - 1.0, 0.0)
    day = np.arange(n_days)[None, :]
    write = (day > last_idx[:, None]) & (day >= first_idx[:, None])
    returns[~write] = 0.0
    index = index0[:, None] * np.cumprod(1.0 + returns, axis=1)

    rows_acct, rows_day = np.nonzero(write)
    _insert(
        account_ids=np.array(accounts, dtype=np.int64)[rows_acct],
        dates=days[rows_day],
        nav=np.round(nav[rows_acct, rows_day], 2),
        flow=np.round(flow[rows_acct, rows_day], 2),
        index=np.round(index[rows_acct, rows_day], 10),
    )
    return len(rows_acct)


def _forward_fill(matrix: np.ndarray) -> np.ndarray:
    """Carry the last non-NaN value of each row forward; leading gaps become 0 (no quote yet)."""
    mask = np.isnan(matrix)
    positions = np.where(~mask, np.arange(matrix.shape[1])[None, :], 0)
    np.maximum.accumulate(positions, axis=1, out=positions)
    filled = matrix[np.arange(matrix.shape[0])[:, None], positions]
    return np.nan_to_num(filled, nan=0.0)


def _quotes(rows: list[tuple[Any, date, float]], keys: dict[Any, int], days: np.ndarray) -> np.ndarray:
    """Quotes of ``keys`` over ``days`` (plus the lookback for carrying forward), NaN where missing."""
    lookback = np.datetime64(days[0], "D") - PRICE_LOOKBACK_DAYS
    grid = np.arange(lookback, days[-1] + 1, dtype="datetime64[D]")
    matrix = np.full((len(keys), len(grid)), np.nan)
    if rows:
        k = np.array([keys[r[0]] for r in rows], dtype=np.int64)
        d = (np.array([r[1] for r in rows], dtype="datetime64[D]") - lookback).astype(np.int64)
        matrix[k, d] = np.array([r[2] for r in rows])
    filled = _forward_fill(matrix)
    return filled[:, (days - lookback).astype(np.int64)]


def _price_matrix(securities: list[int], days: np.ndarray) -> np.ndarray:
    lookback = days[0].astype(date) - timedelta(days=PRICE_LOOKBACK_DAYS)
    rows = list(
        SecurityPrice.objects.filter(security_id__in=securities, date__gte=lookback, date__lte=days[-1].astype(date))
        .annotate(c=Cast("close", FloatField()))
        .values_list("security_id", "date", "c")
    )
    return _quotes(rows, {s: i for i, s in enumerate(securities)}, days)


def _fx_matrix(currencies: list[str], days: np.ndarray) -> np.ndarray:
    lookback = days[0].astype(date) - timedelta(days=PRICE_LOOKBACK_DAYS)
    rows = list(
        FxRate.objects.filter(currency__in=currencies, date__gte=lookback, date__lte=days[-1].astype(date))
        .annotate(r=Cast("rate_to_usd", FloatField()))
        .values_list("currency", "date", "r")
    )
    matrix = _quotes(rows, {c: i for i, c in enumerate(currencies)}, days)
    if "USD" in currencies:
        matrix[currencies.index("USD")] = 1.0
    # A currency with no rate at all would value at zero; refuse instead of inventing a number.
    missing = [c for c, row in zip(currencies, matrix, strict=True) if not row.any()]
    if missing:
        raise ValueError(f"No FX rate for {', '.join(missing)} on or before {days[-1]}.")
    matrix[matrix == 0] = np.nan
    return _forward_fill_backwards(matrix)


def _forward_fill_backwards(matrix: np.ndarray) -> np.ndarray:
    """For FX only: days before a currency's first rate use its first rate (never divide by zero)."""
    filled = matrix.copy()
    for row in filled:
        nan = np.isnan(row)
        if nan.any():
            row[nan] = row[~nan][0] if (~nan).any() else 1.0
    return filled


def _insert(
    *, account_ids: np.ndarray, dates: np.ndarray, nav: np.ndarray, flow: np.ndarray, index: np.ndarray
) -> None:
    """Bulk insert as INSERT … SELECT FROM unnest(arrays): one statement per 200k rows, no
    per-row Python objects. (COPY FROM is not allowed on tables with row-level security.)"""
    firm_id = require_firm_id()
    table = DailyValue._meta.db_table
    sql = (
        f"INSERT INTO {table} (firm_id, account_id, date, nav, net_flow, return_index) "  # noqa: S608 - model metadata
        "SELECT %s, a, d, n, f, i FROM unnest(%s::bigint[], %s::date[], %s::float8[], %s::float8[], %s::float8[]) "
        "AS t(a, d, n, f, i)"
    )
    with connection.cursor() as cursor:
        for offset in range(0, len(account_ids), INSERT_BATCH):
            part = slice(offset, offset + INSERT_BATCH)
            cursor.execute(
                sql,
                [
                    firm_id,
                    account_ids[part].tolist(),
                    dates[part].astype(object).tolist(),
                    nav[part].tolist(),
                    flow[part].tolist(),
                    index[part].tolist(),
                ],
            )


# --- The contract for pages and the API: read NAV only through these -----------------------------


@dataclass(frozen=True)
class DayValue:
    """One business day of an account: NAV and net external flow in the base currency, rounded to
    its minor unit, and the time-weighted return index (1 on the account's first day)."""

    date: date
    nav: Decimal
    net_flow: Decimal
    return_index: Decimal


@dataclass(frozen=True)
class LatestValue:
    """An account's last computed day: NAV, its change from the day before (flows included) and
    that day's time-weighted return (0.01 = 1 %)."""

    date: date
    nav: Decimal
    day_change: Decimal
    day_return: Decimal


def value_history(*, account: ClientAccount, start: date | None = None, end: date | None = None) -> list[DayValue]:
    """The account's daily values from ``start`` to ``end`` (inclusive, default: all), oldest first."""
    values = DailyValue.objects.filter(account=account)
    if start is not None:
        values = values.filter(date__gte=start)
    if end is not None:
        values = values.filter(date__lte=end)
    currency = account.base_currency
    return [
        DayValue(
            date=day,
            nav=round_money(nav, currency),
            net_flow=round_money(flow, currency),
            return_index=index,
        )
        for day, nav, flow, index in values.order_by("date").values_list("date", "nav", "net_flow", "return_index")
    ]


def latest_values(*, account_ids: Sequence[int]) -> dict[int, LatestValue]:
    """The last computed day of each of ``account_ids`` that has one (one query, from the
    denormalised columns of ``ClientAccount``)."""
    rows = ClientAccount.objects.filter(pk__in=list(account_ids), nav_date__isnull=False).values_list(
        "pk", "nav_date", "nav", "day_change", "day_return", "base_currency"
    )
    return {
        pk: LatestValue(
            date=day,
            nav=round_money(nav, currency),
            day_change=round_money(change or ZERO, currency),
            day_return=day_return or ZERO,
        )
        for pk, day, nav, change, day_return, currency in rows
    }


def benchmark_history(*, symbol: str, start: date | None = None, end: date | None = None) -> list[tuple[date, Decimal]]:
    """Closing levels of the benchmark ``symbol`` from ``start`` to ``end`` (inclusive), oldest
    first; empty for an unknown symbol."""
    values = BenchmarkValue.objects.filter(benchmark__symbol=symbol)
    if start is not None:
        values = values.filter(date__gte=start)
    if end is not None:
        values = values.filter(date__lte=end)
    return list(values.order_by("date").values_list("date", "level"))


def _refresh_latest(account_ids: Sequence[int]) -> None:
    """Copy each account's last daily value (and its change from the day before) into the
    denormalised columns of ``ClientAccount``; accounts without values get NULLs."""
    table = ClientAccount._meta.db_table
    values = DailyValue._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} a SET nav = l.nav, nav_date = l.date, day_change = l.change, day_return = l.ret
            FROM (
                SELECT x.id, v.date, v.nav, v.nav - coalesce(p.nav, 0) AS change,
                       CASE WHEN p.return_index > 0 THEN v.return_index / p.return_index - 1 ELSE 0 END AS ret
                FROM unnest(%s::bigint[]) AS x(id)
                LEFT JOIN LATERAL (
                    SELECT date, nav, return_index FROM {values} WHERE account_id = x.id ORDER BY date DESC LIMIT 1
                ) v ON true
                LEFT JOIN LATERAL (
                    SELECT nav, return_index FROM {values} WHERE account_id = x.id AND date < v.date
                    ORDER BY date DESC LIMIT 1
                ) p ON true
            ) l
            WHERE a.id = l.id
            """,  # noqa: S608 - model metadata
            [list(account_ids)],
        )
