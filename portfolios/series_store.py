"""Storage and inputs of the daily values (``portfolios.performance``): business days and quarters,
market data (prices and FX carried forward), reading a chunk's transactions as binary arrays,
and writing the series, the series states and the accounts' latest values in bulk.

Reads come back as one row of ``array_send(array_agg(…))`` columns fetched in binary and read by
numpy: no Python object (or COPY message) per row. Series rows are encoded in PostgreSQL's binary
COPY format by numpy, staged by ``advisorportal.bulk.stage`` (COPY FROM is refused on tables with
row-level security, its temporary table has none) and upserted into ``DailySeries`` under the
firm's RLS policy.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import psycopg
from django.db import connection
from django.db.models import FloatField
from django.db.models.functions import Cast

from advisorportal import bulk
from portfolios.accounting import EXTERNAL_CASH_KINDS, EXTERNAL_POSITION_KINDS, FEE_KINDS
from portfolios.models import ClientAccount, DailySeries, FxRate, Security, SecurityPrice, SeriesState, Transaction

QUANTITY_UNITS = 1_000_000  # QuantityField keeps 6 places
MONEY_UNITS = 10_000  # MoneyField keeps 4 places
EPOCH_2000 = np.datetime64("2000-01-01", "D")  # PostgreSQL's binary dates count days from here
_FLOAT8_OID = 701


def business_days(start: date, end: date) -> np.ndarray:
    """Monday-Friday from ``start`` to ``end`` inclusive, as datetime64[D]."""
    first = np.busday_offset(np.datetime64(start, "D"), 0, roll="forward")
    last = np.datetime64(end, "D") + 1
    if first >= last:
        return np.array([], dtype="datetime64[D]")
    every = np.arange(first, last, dtype="datetime64[D]")
    return every[np.is_busday(every)]


def quarter_of(day: np.ndarray) -> np.ndarray:
    """First day of the calendar quarter of each datetime64[D] in ``day``."""
    months = day.astype("datetime64[M]").astype(np.int64)
    return (months - months % 3).astype("datetime64[M]").astype("datetime64[D]")


@dataclass
class Market:
    days: np.ndarray
    currencies: list[str]
    sec_ids: np.ndarray
    sec_ccy: np.ndarray
    prices: np.ndarray  # [securities, days], carried forward
    usd: np.ndarray  # [currencies, days], USD per unit, carried forward


State = tuple[np.datetime64, float, float, list[int], list[int], list[str], list[int], float]


def read_states(firm_id: int, ids: np.ndarray) -> dict[int, State]:
    """Each account's ``SeriesState``: (as of, NAV, index, security ids, quantities, currencies, cash,
    gross-of-fee index)."""
    table = SeriesState._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT account_id, as_of, nav, return_index, security_ids, quantities, currencies, cash, "  # noqa: S608
            "gross_index "
            f"FROM {table} WHERE firm_id = %s AND account_id = ANY(%s::bigint[])",
            [firm_id, ids.tolist()],
        )
        return {row[0]: (np.datetime64(row[1], "D"), *row[2:]) for row in cursor.fetchall()}


def clear_values(firm_id: int, ids: np.ndarray) -> None:
    """Forget the stored series, states and denormalised latest values of ``ids``."""
    with connection.cursor() as cursor:
        for model in (DailySeries, SeriesState):
            cursor.execute(
                f"DELETE FROM {model._meta.db_table} WHERE firm_id = %s AND account_id = ANY(%s::bigint[])",  # noqa: S608
                [firm_id, ids.tolist()],
            )
        cursor.execute(
            f"UPDATE {ClientAccount._meta.db_table} SET nav = NULL, nav_date = NULL, day_change = NULL, "  # noqa: S608
            "day_return = NULL WHERE firm_id = %s AND id = ANY(%s::bigint[]) AND nav_date IS NOT NULL",
            [firm_id, ids.tolist()],
        )


def currencies_of(base: list[str]) -> list[str]:
    """Every currency a NAV may need: the base currencies, those with FX rates and those of securities."""
    quoted = set(FxRate.objects.values_list("currency", flat=True).distinct())
    traded = set(Security.objects.values_list("currency", flat=True).distinct())
    return sorted(set(base) | quoted | traded | {"USD"})


def load_market(base: list[str], first: np.datetime64, last: np.datetime64) -> Market:
    days = business_days(first.astype(date), last.astype(date))
    securities = list(Security.objects.order_by("pk").values_list("pk", "currency"))
    currencies = currencies_of(base)
    sec_ids = np.array([s[0] for s in securities], dtype=np.int64)
    return Market(
        days=days,
        currencies=currencies,
        sec_ids=sec_ids,
        sec_ccy=np.array([currencies.index(s[1]) for s in securities], dtype=np.int64),
        prices=price_matrix(sec_ids.tolist(), days),
        usd=fx_matrix(currencies, days),
    )


def write_states(
    firm_id: int,
    ids: np.ndarray,
    as_of: np.datetime64,
    nav: np.ndarray,
    index: np.ndarray,
    gross: np.ndarray,
    *,
    changed: np.ndarray,
    holdings: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str], np.ndarray],
) -> None:
    """Insert or replace the ``SeriesState`` of the ``changed`` accounts of ``ids``, and move the
    others' (whose holdings did not change: most accounts on most days) to ``as_of`` with their new
    NAV and index. ``holdings`` are flat arrays sorted by account row: (row, security id, units) of
    the positions and (row, currency, units) of the cash; SQL gathers them per account."""
    q_row, sec, qty, c_row, ccy, cash = holdings
    table = SeriesState._meta.db_table
    with connection.cursor() as cursor:
        if not changed.all():
            cursor.execute(
                f"UPDATE {table} s SET as_of = %s, nav = v.nav, return_index = v.idx, "  # noqa: S608 - model metadata
                "gross_index = v.gross "
                "FROM unnest(%s::bigint[], %s::float8[], %s::float8[], %s::float8[]) AS v(id, nav, idx, gross) "
                "WHERE s.firm_id = %s AND s.account_id = v.id",
                [as_of.astype(date), ids[~changed].tolist(), nav[~changed].tolist(), index[~changed].tolist(),
                 gross[~changed].tolist(), firm_id],
            )  # fmt: skip
        if not changed.any():
            return
        q_row, c_row = np.asarray(q_row, dtype=np.int64), np.asarray(c_row, dtype=np.int64)
        q_keep, c_keep = changed[q_row], changed[c_row]
        rows = np.cumsum(changed) - 1  # row among the changed accounts
        q_row, sec, qty = rows[q_row[q_keep]], np.asarray(sec)[q_keep], np.asarray(qty)[q_keep]
        c_row, ccy, cash = (
            rows[c_row[c_keep]],
            [c for c, k in zip(ccy, c_keep.tolist(), strict=True) if k],
            np.asarray(cash)[c_keep],
        )
        ids, nav, index, gross = ids[changed], nav[changed], index[changed], gross[changed]
        cursor.execute(
            f"""
            WITH q AS (
                SELECT u.r, array_agg(u.sec ORDER BY u.o) AS secs, array_agg(u.qty ORDER BY u.o) AS qtys
                FROM unnest(%(q_row)s::int4[], %(sec)s::bigint[], %(qty)s::bigint[])
                    WITH ORDINALITY AS u(r, sec, qty, o)
                GROUP BY u.r
            ), c AS (
                SELECT u.r, array_agg(u.ccy ORDER BY u.o) AS ccys, array_agg(u.units ORDER BY u.o) AS units
                FROM unnest(%(c_row)s::int4[], %(ccy)s::text[], %(cash)s::bigint[])
                    WITH ORDINALITY AS u(r, ccy, units, o)
                GROUP BY u.r
            )
            INSERT INTO {table} AS s (firm_id, account_id, as_of, nav, return_index, gross_index, security_ids,
                quantities, currencies, cash)
            SELECT %(firm)s, v.id, %(as_of)s, v.nav, v.idx, v.gross, coalesce(q.secs, '{{}}'),
                coalesce(q.qtys, '{{}}'), coalesce(c.ccys, '{{}}'), coalesce(c.units, '{{}}')
            FROM unnest(%(ids)s::bigint[], %(nav)s::float8[], %(index)s::float8[], %(gross)s::float8[])
                WITH ORDINALITY AS v(id, nav, idx, gross, r)
            LEFT JOIN q ON q.r = v.r LEFT JOIN c ON c.r = v.r
            ON CONFLICT (firm_id, account_id) DO UPDATE SET as_of = excluded.as_of, nav = excluded.nav,
                return_index = excluded.return_index, gross_index = excluded.gross_index,
                security_ids = excluded.security_ids,
                quantities = excluded.quantities, currencies = excluded.currencies, cash = excluded.cash
            """,  # noqa: S608 - model metadata
            {
                "firm": firm_id,
                "as_of": as_of.astype(date),
                "ids": ids.tolist(),
                "nav": nav.tolist(),
                "index": index.tolist(),
                "gross": gross.tolist(),
                "q_row": (np.asarray(q_row, dtype=np.int64) + 1).tolist(),
                "sec": np.asarray(sec, dtype=np.int64).tolist(),
                "qty": np.asarray(qty, dtype=np.int64).tolist(),
                "c_row": (np.asarray(c_row, dtype=np.int64) + 1).tolist(),
                "ccy": list(ccy),
                "cash": np.asarray(cash, dtype=np.int64).tolist(),
            },
        )


def store_latest(
    firm_id: int,
    ids: np.ndarray,
    last_day: np.datetime64,
    nav: np.ndarray,
    flow: np.ndarray,
    index: np.ndarray,
    prev_nav: np.ndarray,
    prev_index: np.ndarray,
    places: np.ndarray,
) -> None:
    """Keep ``ClientAccount.nav``/``nav_date``/``day_change``/``day_return`` at the last computed day.
    ``day_change`` is the day's gain: the NAV change less the day's external flow, rounded to the
    minor unit (``places``) of each account's base currency."""
    change = round_to(nav - prev_nav - flow, places)
    with np.errstate(divide="ignore", invalid="ignore"):
        ret = np.where(prev_index > 0, index / prev_index - 1.0, 0.0)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {ClientAccount._meta.db_table} a SET nav = v.nav, nav_date = %s, "  # noqa: S608 - model metadata
            "day_change = v.change, day_return = round(v.ret::numeric, 10) "
            "FROM unnest(%s::bigint[], %s::float8[], %s::float8[], %s::float8[]) AS v(id, nav, change, ret) "
            "WHERE a.firm_id = %s AND a.id = v.id",
            [last_day.astype(date), ids.tolist(), nav.tolist(), change.tolist(),
             np.round(ret, 10).tolist(), firm_id],
        )  # fmt: skip


def round_to(values: np.ndarray, places: np.ndarray) -> np.ndarray:
    """Round each row of ``values`` (or each element of a vector) to its currency's minor unit:
    ``places`` per row, as ``np.round`` does it (scale, round half to even, unscale), so that a
    currency with two places rounds exactly as ``np.round(values, 2)``. Floats hold the nearest
    binary value; ``round_money`` turns it into the exact Decimal when read."""
    scale = 10.0 ** places.astype(np.float64)
    if values.ndim == 2:
        scale = scale[:, None]
    return np.round(values * scale) / scale


# --- Reading inputs and writing series in PostgreSQL's binary COPY format ------------------------

# A transaction's price, or for a position moved without one the cost per unit it moved (0: none).
_PRICE_SQL = "coalesce(t.price, CASE WHEN t.quantity <> 0 THEN abs(t.cost_change / t.quantity) END, 0)"
_ACTIVITY_SQL = f"""
    SELECT array_send(array_agg(t.account_id)), array_send(array_agg(coalesce(t.security_id, 0))),
           array_send(array_agg(coalesce(array_position(%(currencies)s::text[], t.currency::text), 0)::int2)),
           array_send(array_agg((t.trade_date - DATE '2000-01-01')::int4)),
           array_send(array_agg((t.quantity * {QUANTITY_UNITS})::int8)),
           array_send(array_agg((t.amount * {MONEY_UNITS})::int8)),
           array_send(array_agg(
               (CASE WHEN t.kind = ANY(%(moved)s::text[]) THEN 1 WHEN t.kind = ANY(%(external)s::text[]) THEN 2
                WHEN t.kind = ANY(%(fees)s::text[]) THEN 3 ELSE 0 END)::int2
           )),
           array_send(array_agg(({_PRICE_SQL} * {QUANTITY_UNITS})::int8))
    FROM {{source}}
"""  # noqa: S608 - constants only
_ALL_SQL = """{table} t
    WHERE t.firm_id = %(firm)s AND t.account_id = ANY(%(ids)s::bigint[]) AND t.trade_date <= %(end)s
"""
_AFTER_SQL = """unnest(%(ids)s::bigint[], %(after)s::date[]) AS x(id, after)
    JOIN {table} t ON t.firm_id = %(firm)s AND t.account_id = x.id AND t.trade_date > x.after
        AND t.trade_date <= %(end)s
"""
_ACTIVITY_COLUMNS = [
    ("account", ">i8"), ("security", ">i8"), ("currency", ">i2"), ("day", ">i4"), ("quantity", ">i8"),
    ("amount", ">i8"), ("flag", ">i2"), ("price", ">i8"),
]  # fmt: skip
_MOVED, _EXTERNAL, _FEE = 1, 2, 3
_ACTIVITY = np.dtype(
    [("account", "i8"), ("security", "i8"), ("currency", "i8"), ("day", "i8"), ("quantity", "i8"),
     ("moved", "i8"), ("amount", "i8"), ("external", "i8"), ("fee", "i8"), ("price", "i8")]
)  # fmt: skip


def read_activity(
    firm_id: int, ids: np.ndarray, currencies: list[str], after: list[date] | None, end: date
) -> np.ndarray:
    """The transactions of ``ids`` up to ``end`` (only those after each account's ``after`` day, if
    given), one row each, in exact integer units: quantity and position transfers in millionths,
    amount, external cash and fees in ten-thousandths, price (or the cost per unit of a position
    moved without a price; 0: neither) in millionths; ``day`` counts from 2000-01-01 and ``currency``
    from 1 in ``currencies`` (0: none of them). One row per transaction rather than sums per
    account and day: a chunk's transactions hardly share a day, and numpy sums them faster than
    PostgreSQL's hash aggregate does."""
    params = {
        "firm": firm_id,
        "ids": ids.tolist(),
        "after": after,
        "end": end,
        "moved": sorted(EXTERNAL_POSITION_KINDS),
        "external": sorted(EXTERNAL_CASH_KINDS),
        "fees": sorted(FEE_KINDS),
        "currencies": currencies,
    }
    source = (_ALL_SQL if after is None else _AFTER_SQL).format(table=Transaction._meta.db_table)
    columns = fetch_arrays(_ACTIVITY_SQL.format(source=source), params, [kind for _, kind in _ACTIVITY_COLUMNS])
    rows = dict(zip([name for name, _ in _ACTIVITY_COLUMNS], columns, strict=True))
    out = np.zeros(len(rows["account"]), dtype=_ACTIVITY)
    for name in ("account", "security", "currency", "day", "quantity", "amount", "price"):
        out[name] = rows[name]
    out["moved"] = np.where(rows["flag"] == _MOVED, rows["quantity"], 0)
    out["external"] = np.where(rows["flag"] == _EXTERNAL, rows["amount"], 0)
    out["fee"] = np.where(rows["flag"] == _FEE, rows["amount"], 0)
    return out


def trade_prices(firm_id: int, ids: np.ndarray, securities: np.ndarray, end: date) -> np.ndarray:
    """The prices (or moved cost per unit) of ``ids``' transactions in ``securities`` up to ``end``,
    oldest first (ties by id): what a holding is worth before its security's first close. Rows of
    (account, security, day from 2000-01-01, price in millionths)."""
    query = f"""
        SELECT array_send(array_agg(t.account_id ORDER BY t.trade_date, t.id)),
               array_send(array_agg(t.security_id ORDER BY t.trade_date, t.id)),
               array_send(array_agg((t.trade_date - DATE '2000-01-01')::int4 ORDER BY t.trade_date, t.id)),
               array_send(array_agg(({_PRICE_SQL} * {QUANTITY_UNITS})::int8 ORDER BY t.trade_date, t.id))
        FROM {Transaction._meta.db_table} t
        WHERE t.firm_id = %(firm)s AND t.account_id = ANY(%(ids)s::bigint[])
            AND t.security_id = ANY(%(secs)s::bigint[]) AND t.trade_date <= %(end)s AND {_PRICE_SQL} > 0
    """  # noqa: S608 - model metadata and constants
    params = {"firm": firm_id, "ids": ids.tolist(), "secs": securities.tolist(), "end": end}
    columns = fetch_arrays(query, params, [">i8", ">i8", ">i4", ">i8"])
    out = np.zeros(len(columns[0]), dtype=[("account", "i8"), ("security", "i8"), ("day", "i8"), ("price", "i8")])
    for name, column in zip(out.dtype.names or (), columns, strict=True):
        out[name] = column
    return out


def fetch_arrays(query: str, params: dict[str, Any], kinds: list[str]) -> list[np.ndarray]:
    """Run ``query``, which returns one row of ``array_send(array_agg(…))`` columns (fixed-width,
    non-null elements of the numpy ``kinds``), and return them as numpy arrays. A whole chunk
    comes back as a few binary values, not a Python object (or a COPY message) per row."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")  # sets the firm's RLS scope on this transaction (tenancy backend)
        # Django's cursors bind parameters client-side, which allows no binary results.
        with psycopg.Cursor(connection.connection) as binary:
            binary.execute(query, params, binary=True)
            row = binary.fetchone()
    out = []
    for value, kind in zip(row or [None] * len(kinds), kinds, strict=True):
        # array_send: ndim, has-nulls flag, element type, then per dimension its length and lower
        # bound (none for an empty array), then each element as its length and value.
        if value is None or int.from_bytes(value[:4], "big") == 0:
            out.append(np.zeros(0, dtype=kind.replace(">", "=")))
            continue
        elements = np.frombuffer(value, dtype=np.dtype([("len", ">i4"), ("value", kind)]), offset=20)
        out.append(elements["value"].astype(kind.replace(">", "=")))
    return out


_SERIES_COLUMNS = [
    ("account_id", "bigint"), ("quarter", "date"), ("first_date", "date"), ("nav", "float8[]"),
    ("net_flow", "float8[]"), ("return_index", "float8[]"), ("gross_index", "float8[]"),
]  # fmt: skip


class SeriesStage:
    """Series rows encoded by numpy in binary COPY format (``_encode_rows``), staged by
    ``advisorportal.bulk.stage`` and moved into ``DailySeries`` by one upsert, which the firm's
    row-level security policy checks like any other write. Not audited: derived data."""

    def __init__(self, firm_id: int) -> None:
        self.firm_id = firm_id

    def write(
        self,
        ids: np.ndarray,
        days: np.ndarray,
        first_idx: np.ndarray,
        nav: np.ndarray,
        flow: np.ndarray,
        index: np.ndarray,
        gross: np.ndarray,
        *,
        append: bool,
    ) -> int:
        """Rows of ``days[first_idx:]`` of each account, one per quarter; returns the account-days."""
        live = first_idx < len(days)
        ids, first_idx, nav, flow, index, gross = (
            ids[live],
            first_idx[live],
            nav[live],
            flow[live],
            index[live],
            gross[live],
        )
        if not len(ids):
            return 0
        quarters = quarter_of(days)
        bounds = np.flatnonzero(np.r_[True, quarters[1:] != quarters[:-1], True])
        payload: list[bytes] = []
        written = 0
        for lo_q, hi_q in itertools.pairwise(bounds.tolist()):
            quarter_day = int((quarters[lo_q] - EPOCH_2000).astype(np.int64))
            lo_acct = np.maximum(first_idx, lo_q)
            for lo in np.unique(lo_acct[lo_acct < hi_q]).tolist():
                rows = np.flatnonzero(lo_acct == lo)
                payload.append(
                    _encode_rows(ids[rows], quarter_day, int((days[lo] - EPOCH_2000).astype(np.int64)),
                                 [nav[rows, lo:hi_q], flow[rows, lo:hi_q], index[rows, lo:hi_q],
                                  gross[rows, lo:hi_q]])
                )  # fmt: skip
                written += len(rows) * (hi_q - lo)
        table = DailySeries._meta.db_table
        with connection.cursor() as cursor:
            staged = bulk.stage(cursor, _SERIES_COLUMNS, payload, binary=True)
            # Rows that exist are updated in place (the table's pages are left half empty, so an
            # update stays on its page: no index entry to add, no same-firm key to check again).
            values = (
                "nav = s.nav || excluded.nav, net_flow = s.net_flow || excluded.net_flow, "
                "return_index = s.return_index || excluded.return_index, "
                "gross_index = s.gross_index || excluded.gross_index"
                if append
                else "first_date = excluded.first_date, nav = excluded.nav, net_flow = excluded.net_flow, "
                "return_index = excluded.return_index, gross_index = excluded.gross_index"
            )
            cursor.execute(
                f"INSERT INTO {table} AS s (firm_id, account_id, quarter, first_date, nav, net_flow, return_index, "  # noqa: S608
                f"gross_index) SELECT %s, account_id, quarter, first_date, nav, net_flow, return_index, gross_index "
                f"FROM {staged} "
                f"ON CONFLICT (firm_id, account_id, quarter) DO UPDATE SET {values}",
                [self.firm_id],
            )
            if not append:
                # Quarters outside what was just written (a recompute up to an earlier day) go.
                cursor.execute(
                    f"DELETE FROM {table} s USING unnest(%s::bigint[], %s::date[], %s::date[]) AS v(id, lo, hi) "  # noqa: S608
                    "WHERE s.firm_id = %s AND s.account_id = v.id AND (s.quarter < v.lo OR s.quarter > v.hi)",
                    [ids.tolist(), quarter_of(days[first_idx]).astype(date).tolist(),
                     [quarters[-1].astype(date)] * len(ids), self.firm_id],
                )  # fmt: skip
        return written


def _encode_rows(ids: np.ndarray, quarter_day: int, first_day: int, arrays: list[np.ndarray]) -> bytes:
    """Binary COPY rows (account_id, quarter, first_date, four float8[] of equal length)."""
    n, length = arrays[0].shape
    element = np.dtype([("len", ">i4"), ("value", ">f8")])
    array_fields = [
        ("len", ">i4"), ("ndim", ">i4"), ("nulls", ">i4"), ("oid", ">i4"), ("dim", ">i4"), ("lbound", ">i4"),
        ("items", element, (length,)),
    ]  # fmt: skip
    row = np.dtype(
        [("n", ">i2"), ("l0", ">i4"), ("account", ">i8"), ("l1", ">i4"), ("quarter", ">i4"), ("l2", ">i4"),
         ("first", ">i4"), ("nav", array_fields), ("flow", array_fields), ("index", array_fields),
         ("gross", array_fields)]
    )  # fmt: skip
    out = np.zeros(n, dtype=row)
    out["n"], out["l0"], out["account"] = 7, 8, ids
    out["l1"], out["quarter"], out["l2"], out["first"] = 4, quarter_day, 4, first_day
    for name, values in zip(("nav", "flow", "index", "gross"), arrays, strict=True):
        field_ = out[name]
        field_["len"] = 20 + 12 * length
        field_["ndim"], field_["oid"], field_["dim"], field_["lbound"] = 1, _FLOAT8_OID, length, 1
        field_["items"]["len"] = 8
        field_["items"]["value"] = values
        out[name] = field_
    return out.tobytes()


# --- Market data --------------------------------------------------------------------------------


def forward_fill(matrix: np.ndarray) -> np.ndarray:
    """Carry the last non-NaN value of each row forward; leading gaps stay NaN (no quote yet)."""
    mask = np.isnan(matrix)
    positions = np.where(~mask, np.arange(matrix.shape[1])[None, :], 0)
    np.maximum.accumulate(positions, axis=1, out=positions)
    return matrix[np.arange(matrix.shape[0])[:, None], positions]


def _quotes(rows: list[tuple[Any, date, float]], keys: dict[Any, int], days: np.ndarray) -> np.ndarray:
    """Quotes of ``keys`` over ``days`` (rows may start before, to be carried forward), NaN where missing."""
    lookback = min([np.datetime64(days[0], "D"), *(np.datetime64(r[1], "D") for r in rows)])
    grid = np.arange(lookback, days[-1] + 1, dtype="datetime64[D]")
    matrix = np.full((len(keys), len(grid)), np.nan)
    if rows:
        k = np.array([keys[r[0]] for r in rows], dtype=np.int64)
        d = (np.array([r[1] for r in rows], dtype="datetime64[D]") - lookback).astype(np.int64)
        matrix[k, d] = np.array([r[2] for r in rows])
    filled = forward_fill(matrix)
    return filled[:, (days - lookback).astype(np.int64)]


def _window_rows(quotes: Any, key: str, days: np.ndarray) -> list[tuple[Any, date, float]]:
    """``(key, date, value)`` of the quotes inside the days' window and, for each key, the last
    quote before it (carried forward into the window). ``value`` is annotated on ``quotes``."""
    first, last = days[0].astype(date), days[-1].astype(date)
    rows = list(quotes.filter(date__gte=first, date__lte=last).values_list(key, "date", "value"))
    rows += quotes.filter(date__lt=first).order_by(key, "-date").distinct(key).values_list(key, "date", "value")
    return rows


def price_matrix(securities: list[int], days: np.ndarray) -> np.ndarray:
    """Closes over ``days``, carried forward; NaN before a security's first close."""
    quotes = SecurityPrice.objects.filter(security_id__in=securities).annotate(value=Cast("close", FloatField()))
    return _quotes(_window_rows(quotes, "security_id", days), {s: i for i, s in enumerate(securities)}, days)


def fx_matrix(currencies: list[str], days: np.ndarray) -> np.ndarray:
    """USD per unit over ``days``, carried forward; NaN before a currency's first rate (never a
    later rate: what cannot be converted yet is left out of the NAV, see ``performance``)."""
    rates = FxRate.objects.filter(currency__in=currencies).annotate(value=Cast("rate_to_usd", FloatField()))
    matrix = _quotes(_window_rows(rates, "currency", days), {c: i for i, c in enumerate(currencies)}, days)
    if "USD" in currencies:
        matrix[currencies.index("USD")] = 1.0
    matrix[matrix == 0] = np.nan  # a rate of 0 converts nothing
    return matrix
