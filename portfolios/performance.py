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
ample for NAVs to the cent); NAV and flows are stored rounded to 2 places, the index as computed
(rounded to 10 places when read), and returns are taken from the rounded NAVs.

Storage (``DailySeries``): one row per account and month holding float8 arrays over business days.
Inputs are read with ``COPY (SELECT … GROUP BY …) TO STDOUT (FORMAT binary)`` — the database sums
the transactions per account, security or currency and day, and the fixed-width binary rows are
read straight into a numpy record array (no Python object per row). A chunk of accounts is
computed as matrices (position pairs x days, accounts x days); the month rows are encoded in
PostgreSQL's binary COPY format by numpy, copied into a temporary table (COPY FROM is refused on
tables with row-level security, a temporary table has none) and moved into ``DailySeries`` with one
``INSERT … SELECT`` per chunk, under the firm's RLS policy. The nightly update appends its days
with ``INSERT … ON CONFLICT (firm, account, month) DO UPDATE SET nav = nav || excluded.nav``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import FloatField, Max
from django.db.models.functions import Cast

from advisorportal.tenancy.context import require_firm_id
from portfolios.accounting import EXTERNAL_CASH_KINDS, EXTERNAL_POSITION_KINDS, ZERO, round_money
from portfolios.models import (
    BenchmarkValue,
    ClientAccount,
    DailySeries,
    FxRate,
    Security,
    SecurityPrice,
    Transaction,
)

CHUNK = 2000
PRICE_LOOKBACK_DAYS = 15
INDEX_PLACES = Decimal("1e-10")
_EPOCH_2000 = np.datetime64("2000-01-01", "D")  # PostgreSQL's binary dates count days from here
_FLOAT8_OID = 701


@dataclass
class RecomputeResult:
    accounts: int = 0
    rows: int = 0  # account-days written


def business_days(start: date, end: date) -> np.ndarray:
    """Monday-Friday from ``start`` to ``end`` inclusive, as datetime64[D]."""
    first = np.busday_offset(np.datetime64(start, "D"), 0, roll="forward")
    last = np.datetime64(end, "D") + 1
    if first >= last:
        return np.array([], dtype="datetime64[D]")
    every = np.arange(first, last, dtype="datetime64[D]")
    return every[np.is_busday(every)]


def latest_price_date() -> date | None:
    return SecurityPrice.objects.aggregate(last=Max("date"))["last"]


# --- Recompute and nightly update --------------------------------------------------------------


@dataclass
class _Stored:
    """Each account's last stored day: business-day index in the grid, NAV and return index."""

    day: np.ndarray  # datetime64[D]
    nav: np.ndarray
    index: np.ndarray


@transaction.atomic
def recompute_full(*, account_ids: Sequence[int] | None = None, end: date | None = None) -> RecomputeResult:
    """Recompute every daily value of the given accounts (default: the whole firm) up to ``end``."""
    return _run(account_ids=account_ids, end=end, incremental=False)


@transaction.atomic
def update_new_days(*, account_ids: Sequence[int] | None = None, end: date | None = None) -> RecomputeResult:
    """Add the days after each account's last stored value, up to ``end`` (the nightly job). A
    rerun adds nothing. Activity dated before an account's last stored day needs ``recompute_full``."""
    return _run(account_ids=account_ids, end=end, incremental=True)


def _run(*, account_ids: Sequence[int] | None, end: date | None, incremental: bool) -> RecomputeResult:
    firm_id = require_firm_id()
    end = end or latest_price_date() or date.today()
    accounts = ClientAccount.objects.all()
    if account_ids is not None:
        accounts = accounts.filter(pk__in=list(account_ids))
    rows = list(accounts.order_by("pk").values_list("pk", "base_currency"))
    result = RecomputeResult()
    if not rows:
        return result
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    base = [r[1] for r in rows]
    firsts = _first_trade_dates(firm_id, ids)
    stored = _stored_last_days(firm_id, ids) if incremental else {}
    # Where each account's computation starts: the day after its last stored day, or its first trade.
    starts = np.array(
        [
            np.busday_offset(np.datetime64(stored[a][0], "D"), 1, roll="forward")
            if a in stored
            else (np.datetime64(firsts[a], "D") if a in firsts else np.datetime64("NaT"))
            for a in ids.tolist()
        ],
        dtype="datetime64[D]",
    )
    active = ~np.isnat(starts)
    if not active.any():
        if not incremental:
            _clear(firm_id, ids)
        return result
    days = business_days(starts[active].min().astype(date), end)
    if len(days) == 0:
        return result
    securities = list(Security.objects.order_by("pk").values_list("pk", "currency"))
    fx_currencies = set(FxRate.objects.values_list("currency", flat=True).distinct())
    currencies = sorted(set(base) | fx_currencies | {s[1] for s in securities} | {"USD"})
    sec_ids = np.array([s[0] for s in securities], dtype=np.int64)
    sec_ccy = np.array([currencies.index(s[1]) for s in securities], dtype=np.int64)
    prices = _price_matrix(sec_ids.tolist(), days)  # [securities, days]
    usd = _fx_matrix(currencies, days)  # [currencies, days], USD per unit
    base_idx = np.array([currencies.index(c) for c in base], dtype=np.int64)
    market = _Market(days=days, currencies=currencies, sec_ids=sec_ids, sec_ccy=sec_ccy, prices=prices, usd=usd)

    stage = _Stage(firm_id)
    for offset in range(0, len(ids), CHUNK):
        part = slice(offset, offset + CHUNK)
        chunk_ids, chunk_starts = ids[part], starts[part]
        if not incremental:
            _clear(firm_id, chunk_ids)
        live = ~np.isnat(chunk_starts)
        if not live.any():
            continue
        chunk_stored = _Stored(
            day=np.array([stored[a][0] if a in stored else "NaT" for a in chunk_ids.tolist()], dtype="datetime64[D]"),
            nav=np.array([stored[a][1] if a in stored else 0.0 for a in chunk_ids.tolist()]),
            index=np.array([stored[a][2] if a in stored else 1.0 for a in chunk_ids.tolist()]),
        )
        written = _compute_chunk(
            firm_id,
            chunk_ids[live],
            base_idx[part][live],
            chunk_starts[live],
            _Stored(chunk_stored.day[live], chunk_stored.nav[live], chunk_stored.index[live]),
            market,
            stage,
            incremental=incremental,
        )
        result.rows += written
        result.accounts += int(live.sum())
    return result


@dataclass
class _Market:
    days: np.ndarray
    currencies: list[str]
    sec_ids: np.ndarray
    sec_ccy: np.ndarray
    prices: np.ndarray
    usd: np.ndarray


def _first_trade_dates(firm_id: int, ids: np.ndarray) -> dict[int, date]:
    table = Transaction._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT x.id, (SELECT t.trade_date FROM {table} t WHERE t.firm_id = %s AND t.account_id = x.id "  # noqa: S608
            "ORDER BY t.trade_date LIMIT 1) FROM unnest(%s::bigint[]) AS x(id)",
            [firm_id, ids.tolist()],
        )
        return {a: d for a, d in cursor.fetchall() if d is not None}


def _stored_last_days(firm_id: int, ids: np.ndarray) -> dict[int, tuple[date, float, float]]:
    """(last day, NAV, return index) of each account's stored series, from its latest month row."""
    series = DailySeries._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT DISTINCT ON (s.account_id) s.account_id, s.first_date, cardinality(s.nav),
                   s.nav[cardinality(s.nav)], s.return_index[cardinality(s.return_index)]
            FROM {series} s
            WHERE s.firm_id = %s AND s.account_id = ANY(%s::bigint[])
            ORDER BY s.account_id, s.month DESC
            """,  # noqa: S608 - model metadata
            [firm_id, ids.tolist()],
        )
        return {
            a: (np.busday_offset(np.datetime64(first, "D"), n - 1).astype(date), nav, index)
            for a, first, n, nav, index in cursor.fetchall()
        }


def _clear(firm_id: int, ids: np.ndarray) -> None:
    """Forget the stored series and the denormalised latest values of ``ids``."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {DailySeries._meta.db_table} WHERE firm_id = %s AND account_id = ANY(%s::bigint[])",  # noqa: S608
            [firm_id, ids.tolist()],
        )
        cursor.execute(
            f"UPDATE {ClientAccount._meta.db_table} SET nav = NULL, nav_date = NULL, day_change = NULL, "  # noqa: S608
            "day_return = NULL WHERE firm_id = %s AND id = ANY(%s::bigint[]) AND nav_date IS NOT NULL",
            [firm_id, ids.tolist()],
        )


def _compute_chunk(
    firm_id: int,
    ids: np.ndarray,
    base_idx: np.ndarray,
    starts: np.ndarray,
    stored: _Stored,
    market: _Market,
    stage: _Stage,
    *,
    incremental: bool,
) -> int:
    """Compute the days from ``starts`` on for ``ids`` and store them; returns the account-days written."""
    start = starts.min()
    offset = int(np.searchsorted(market.days, start))
    if offset >= len(market.days):
        return 0
    days = market.days[offset:]
    n_days, n_acct = len(days), len(ids)
    prices, usd = market.prices[:, offset:], market.usd[:, offset:]
    usd_base = usd[base_idx]  # [accounts, days]
    start_date = start.astype(date)
    end_date = days[-1].astype(date)
    acct_of = {a: i for i, a in enumerate(ids.tolist())}

    positions, cash = _read_activity(firm_id, ids, market.currencies, start_date, end_date)
    nav = np.zeros((n_acct, n_days))
    flow = np.zeros((n_acct, n_days))

    # Securities: one row per (account, security) pair, quantities accumulated over the days.
    if len(positions):
        p_acct = np.array([acct_of[a] for a in positions["account"].tolist()], dtype=np.int64)
        p_sec = np.searchsorted(market.sec_ids, positions["security"].astype(np.int64))
        p_day = _day_index(days, positions["day"])
        keys = p_acct * len(market.sec_ids) + p_sec
        pairs, pair_of = np.unique(keys, return_inverse=True)
        qty = np.bincount(pair_of * n_days + p_day, weights=positions["quantity"], minlength=len(pairs) * n_days)
        qty = np.cumsum(qty.reshape(len(pairs), n_days), axis=1)
        pair_acct, pair_sec = pairs // len(market.sec_ids), pairs % len(market.sec_ids)
        values = qty * prices[pair_sec] * usd[market.sec_ccy[pair_sec]] / usd_base[pair_acct]
        nav += _sum_rows(values, pair_acct, n_acct)
        moved = positions["moved"] != 0
        if moved.any():
            s, d, a = p_sec[moved], p_day[moved], p_acct[moved]
            worth = positions["moved"][moved] * prices[s, d] * usd[market.sec_ccy[s], d] / usd_base[a, d]
            flow += np.bincount(a * n_days + d, weights=worth, minlength=n_acct * n_days).reshape(n_acct, n_days)
    # Cash: one row per (account, currency) pair.
    if len(cash):
        c_acct = np.array([acct_of[a] for a in cash["account"].tolist()], dtype=np.int64)
        c_ccy = cash["currency"].astype(np.int64) - 1
        if (c_ccy < 0).any():
            raise ValueError("A transaction is in a currency that has no FX rate.")
        c_day = _day_index(days, cash["day"])
        keys = c_acct * len(market.currencies) + c_ccy
        pairs, pair_of = np.unique(keys, return_inverse=True)
        held = np.bincount(pair_of * n_days + c_day, weights=cash["amount"], minlength=len(pairs) * n_days)
        held = np.cumsum(held.reshape(len(pairs), n_days), axis=1)
        pair_acct, pair_ccy = pairs // len(market.currencies), pairs % len(market.currencies)
        nav += _sum_rows(held * usd[pair_ccy] / usd_base[pair_acct], pair_acct, n_acct)
        in_ccy = cash["external"] != 0
        worth = cash["external"][in_ccy] * usd[c_ccy[in_ccy], c_day[in_ccy]] / usd_base[c_acct[in_ccy], c_day[in_ccy]]
        keys = c_acct[in_ccy] * n_days + c_day[in_ccy]
        flow += np.bincount(keys, weights=worth, minlength=n_acct * n_days).reshape(n_acct, n_days)

    if np.isnan(nav).any():
        raise ValueError("An account holds cash or securities in a currency without any FX rate.")
    # Returns from the NAVs as stored (to the cent), chained from each account's last stored day in
    # the same order of multiplication as a full run: the nightly path stores exactly what a full
    # recompute would.
    nav, flow = np.round(nav, 2), np.round(flow, 2)
    first_idx = np.minimum(np.searchsorted(days, starts), n_days)  # first day to write
    prev = np.concatenate([np.zeros((n_acct, 1)), nav[:, :-1]], axis=1)
    had = ~np.isnat(stored.day) & (first_idx < n_days)
    prev[had, first_idx[had]] = stored.nav[had]
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = np.where(prev > 0, (nav - flow) / prev, 1.0)
    growth[np.arange(n_days)[None, :] < first_idx[:, None]] = 1.0
    index = np.cumprod(np.concatenate([stored.index[:, None], growth], axis=1), axis=1)[:, 1:]

    live = first_idx < n_days
    written = stage.write(ids[live], days, first_idx[live], nav[live], flow[live], index[live], append=incremental)
    prev_index = index[:, -2] if n_days > 1 else stored.index
    _store_latest(firm_id, ids[live], days[-1], nav[live, -1], flow[live, -1], index[live, -1],
                  prev[live, -1], prev_index[live])  # fmt: skip
    return written


def _day_index(days: np.ndarray, pg_days: np.ndarray) -> np.ndarray:
    """Grid index of PostgreSQL day numbers: a weekend counts on the next business day."""
    dates = _EPOCH_2000 + pg_days.astype(np.int64)
    return np.minimum(np.searchsorted(days, dates), len(days) - 1)


def _sum_rows(values: np.ndarray, rows: np.ndarray, n_rows: int) -> np.ndarray:
    """Sum the rows of ``values`` into ``n_rows`` groups (``rows`` sorted, as np.unique returns them)."""
    out = np.zeros((n_rows, values.shape[1]))
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    out[rows[starts]] = np.add.reduceat(values, starts, axis=0)
    return out


def _store_latest(
    firm_id: int,
    ids: np.ndarray,
    last_day: np.datetime64,
    nav: np.ndarray,
    flow: np.ndarray,
    index: np.ndarray,
    prev_nav: np.ndarray,
    prev_index: np.ndarray,
) -> None:
    """Keep ``ClientAccount.nav``/``nav_date``/``day_change``/``day_return`` at the last computed day.
    ``day_change`` is the day's gain: the NAV change less the day's external flow."""
    change = nav - prev_nav - flow
    with np.errstate(divide="ignore", invalid="ignore"):
        ret = np.where(prev_index > 0, index / prev_index - 1.0, 0.0)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {ClientAccount._meta.db_table} a SET nav = v.nav, nav_date = %s, "  # noqa: S608 - model metadata
            "day_change = v.change, day_return = round(v.ret::numeric, 10) "
            "FROM unnest(%s::bigint[], %s::float8[], %s::float8[], %s::float8[]) AS v(id, nav, change, ret) "
            "WHERE a.firm_id = %s AND a.id = v.id",
            [last_day.astype(date), ids.tolist(), nav.tolist(), np.round(change, 2).tolist(),
             np.round(ret, 10).tolist(), firm_id],
        )  # fmt: skip


# --- Reading inputs and writing series in PostgreSQL's binary COPY format ------------------------

_POSITIONS_SQL = """
    SELECT account_id, security_id, (GREATEST(trade_date, %(opening)s) - DATE '2000-01-01')::int4,
           sum(quantity)::float8,
           coalesce(sum(quantity) FILTER (WHERE kind = ANY(%(moved)s) AND trade_date >= %(start)s), 0)::float8
    FROM {table}
    WHERE firm_id = %(firm)s AND account_id = ANY(%(ids)s) AND security_id IS NOT NULL AND quantity <> 0
      AND trade_date <= %(end)s
    GROUP BY 1, 2, 3
"""
_CASH_SQL = """
    SELECT account_id, coalesce(array_position(%(currencies)s, currency::text), 0)::int4,
           (GREATEST(trade_date, %(opening)s) - DATE '2000-01-01')::int4, sum(amount)::float8,
           coalesce(sum(amount) FILTER (WHERE kind = ANY(%(external)s) AND trade_date >= %(start)s), 0)::float8
    FROM {table}
    WHERE firm_id = %(firm)s AND account_id = ANY(%(ids)s) AND trade_date <= %(end)s
    GROUP BY 1, 2, 3
"""
_POSITION_ROW = [("account", ">i8"), ("security", ">i8"), ("day", ">i4"), ("quantity", ">f8"), ("moved", ">f8")]
_CASH_ROW = [("account", ">i8"), ("currency", ">i4"), ("day", ">i4"), ("amount", ">f8"), ("external", ">f8")]


def _read_activity(
    firm_id: int, ids: np.ndarray, currencies: list[str], start: date, end: date
) -> tuple[np.ndarray, np.ndarray]:
    """The chunk's transactions summed per (account, security, day) and (account, currency, day);
    activity before ``start`` is summed into one opening row dated the day before."""
    params = {
        "firm": firm_id,
        "ids": ids.tolist(),
        "opening": start - timedelta(days=1),
        "start": start,
        "end": end,
        "moved": sorted(EXTERNAL_POSITION_KINDS),
        "external": sorted(EXTERNAL_CASH_KINDS),
        "currencies": currencies,
    }
    table = Transaction._meta.db_table
    positions = copy_out(_POSITIONS_SQL.format(table=table), params, _POSITION_ROW)
    cash = copy_out(_CASH_SQL.format(table=table), params, _CASH_ROW)
    return positions, cash


def copy_out(query: str, params: dict[str, Any], fields: list[tuple[str, str]]) -> np.ndarray:
    """Run ``query`` (fixed-width, non-null columns) as a binary COPY and return its rows as a numpy
    record array, without a Python object per row."""
    row = [("n", ">i2")]
    for name, kind in fields:
        row += [(f"{name}_len", ">i4"), (name, kind)]
    data = bytearray()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")  # sets the firm's RLS scope on this transaction (tenancy backend)
        with cursor.cursor.copy(f"COPY ({query}) TO STDOUT (FORMAT binary)", params) as copy:
            for block in copy:
                data += block
    body = memoryview(data)[19:-2]  # 19-byte header, 2-byte trailer
    records = np.frombuffer(body, dtype=np.dtype(row))
    out = np.empty(len(records), dtype=[(name, kind.replace(">", "=")) for name, kind in fields])
    for name, _ in fields:
        out[name] = records[name]
    return out


class _Stage:
    """A temporary table (no RLS) filled by binary COPY, then moved into ``DailySeries``."""

    def __init__(self, firm_id: int) -> None:
        self.firm_id = firm_id
        self.ready = False

    def _create(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMPORARY TABLE IF NOT EXISTS portfolios_series_stage (account_id bigint, month date, "
                "first_date date, nav float8[], net_flow float8[], return_index float8[]) ON COMMIT DROP"
            )
        self.ready = True

    def write(
        self,
        ids: np.ndarray,
        days: np.ndarray,
        first_idx: np.ndarray,
        nav: np.ndarray,
        flow: np.ndarray,
        index: np.ndarray,
        *,
        append: bool,
    ) -> int:
        if not len(ids):
            return 0
        if not self.ready:
            self._create()
        months = days.astype("datetime64[M]")
        bounds = np.flatnonzero(np.r_[True, months[1:] != months[:-1], True])
        payload = [b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8]
        written = 0
        for lo_month, hi_month in itertools.pairwise(bounds.tolist()):
            month_day = (months[lo_month].astype("datetime64[D]") - _EPOCH_2000).astype(np.int64)
            lo_acct = np.maximum(first_idx, lo_month)
            for lo in np.unique(lo_acct[lo_acct < hi_month]):
                rows = np.flatnonzero(lo_acct == lo)
                payload.append(
                    _encode_rows(ids[rows], month_day, int((days[lo] - _EPOCH_2000).astype(np.int64)),
                                 [nav[rows, lo:hi_month], flow[rows, lo:hi_month], index[rows, lo:hi_month]])
                )  # fmt: skip
                written += len(rows) * int(hi_month - lo)
        payload.append(b"\xff\xff")
        table = DailySeries._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE portfolios_series_stage")
            with cursor.cursor.copy("COPY portfolios_series_stage FROM STDIN (FORMAT binary)") as copy:
                for part in payload:
                    copy.write(part)
            conflict = (
                " ON CONFLICT (firm_id, account_id, month) DO UPDATE SET nav = s.nav || excluded.nav, "
                "net_flow = s.net_flow || excluded.net_flow, return_index = s.return_index || excluded.return_index"
                if append
                else ""
            )
            cursor.execute(
                f"INSERT INTO {table} AS s (firm_id, account_id, month, first_date, nav, net_flow, return_index) "  # noqa: S608
                f"SELECT %s, account_id, month, first_date, nav, net_flow, return_index FROM portfolios_series_stage"
                f"{conflict}",
                [self.firm_id],
            )
        return written


def _encode_rows(ids: np.ndarray, month_day: int, first_day: int, arrays: list[np.ndarray]) -> bytes:
    """Binary COPY rows (account_id, month, first_date, three float8[] of equal length)."""
    n, length = arrays[0].shape
    element = np.dtype([("len", ">i4"), ("value", ">f8")])
    array_fields = [
        ("len", ">i4"), ("ndim", ">i4"), ("nulls", ">i4"), ("oid", ">i4"), ("dim", ">i4"), ("lbound", ">i4"),
        ("items", element, (length,)),
    ]  # fmt: skip
    row = np.dtype(
        [("n", ">i2"), ("l0", ">i4"), ("account", ">i8"), ("l1", ">i4"), ("month", ">i4"), ("l2", ">i4"),
         ("first", ">i4"), ("nav", array_fields), ("flow", array_fields), ("index", array_fields)]
    )  # fmt: skip
    out = np.zeros(n, dtype=row)
    out["n"], out["l0"], out["account"] = 6, 8, ids
    out["l1"], out["month"], out["l2"], out["first"] = 4, month_day, 4, first_day
    for name, values in zip(("nav", "flow", "index"), arrays, strict=True):
        field = out[name]
        field["len"] = 20 + 12 * length
        field["ndim"], field["oid"], field["dim"], field["lbound"] = 1, _FLOAT8_OID, length, 1
        field["items"]["len"] = 8
        field["items"]["value"] = values
        out[name] = field
    return out.tobytes()


# --- Market data --------------------------------------------------------------------------------


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
    # A currency with no rate at all stays NaN: a NAV that needs it is refused, not invented.
    matrix[matrix == 0] = np.nan
    return _forward_fill_backwards(matrix)


def _forward_fill_backwards(matrix: np.ndarray) -> np.ndarray:
    """For FX only: days before a currency's first rate use its first rate (never divide by zero)."""
    filled = matrix.copy()
    for row in filled:
        nan = np.isnan(row)
        if nan.any():
            row[nan] = row[~nan][0] if (~nan).any() else np.nan
    return filled


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
    """An account's last computed day: NAV, the day's gain (NAV change less that day's external
    flows) and the day's time-weighted return (0.01 = 1 %)."""

    date: date
    nav: Decimal
    day_change: Decimal
    day_return: Decimal


def _decimal(value: float) -> Decimal:
    return Decimal(repr(value))


def value_history(*, account: ClientAccount, start: date | None = None, end: date | None = None) -> list[DayValue]:
    """The account's daily values from ``start`` to ``end`` (inclusive, default: all), oldest first.
    One query: the month rows of the period."""
    series = DailySeries.objects.filter(account=account)
    if start is not None:
        series = series.filter(month__gte=start.replace(day=1))
    if end is not None:
        series = series.filter(month__lte=end)
    currency = account.base_currency
    out: list[DayValue] = []
    for first, navs, flows, indexes in series.order_by("month").values_list(
        "first_date", "nav", "net_flow", "return_index"
    ):
        days = np.busday_offset(np.datetime64(first, "D"), np.arange(len(navs))).astype(date)
        for day, nav, flow, index in zip(days.tolist(), navs, flows, indexes, strict=True):
            if (start is None or day >= start) and (end is None or day <= end):
                out.append(
                    DayValue(
                        date=day,
                        nav=round_money(_decimal(nav), currency),
                        net_flow=round_money(_decimal(flow), currency),
                        return_index=_decimal(index).quantize(INDEX_PLACES),
                    )
                )
    return out


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
