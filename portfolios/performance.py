"""Daily net asset value and the time-weighted return index, vectorized with numpy.

For each account and business day (Monday to Friday; a transaction dated on a weekend counts on
the next business day):

    NAV_d   = Σ quantity * close * fx(security currency → base) + Σ cash * fx(currency → base)
    flow_d  = external cash in/out (deposits, withdrawals, transfers) and position transfers at
              market value, in the base currency
    r_d     = (NAV_d - flow_d) / NAV_(d-1) - 1          (flows at the end of the day; 0 if NAV_(d-1) ≤ 0)
    index_d = index_(d-1) * (1 + r_d)                   (1 on the account's first day)

Prices and FX rates are carried forward over days without a quote; FX rates are USD per unit, so
fx(a → b) = usd_per_a / usd_per_b (exactly 1 for a = b). Holdings are exact integers in the units
of the books' columns (quantities in millionths, cash in ten-thousandths), summed by PostgreSQL
per account, security, currency and business day and accumulated over the days in int64: cash
equals the ledger's cash (``check_portfolios`` proves it) to the last unit. Valuation is float64
(15-16 significant digits, ample for NAVs to the cent); NAV and flows are stored rounded to 2
places, the index as computed (rounded to 10 places when read), and returns are taken from the
rounded NAVs.

A full recompute reads each chunk of accounts' transactions once: ``COPY (SELECT … GROUP BY
account, security, currency, day) TO STDOUT (FORMAT binary)``, fixed-width rows read straight into
a numpy record array (no Python object per row). The chunk is computed as matrices (holdings x
days), and its rows are written in PostgreSQL's binary COPY format (see ``SeriesStage``). Every run
ends by storing each account's ``SeriesState`` — last day, NAV, index and integer holdings — so the
nightly update starts from there and reads only the transactions dated after it. Since both paths
do the same integer sums and the same float operations in the same order, the nightly path stores
exactly what a full recompute would (tested across a quarter end).

Storage (``DailySeries``): one row per account and calendar quarter holding float8 arrays over
business days. The nightly update appends its days with ``INSERT … ON CONFLICT (firm, account,
quarter) DO UPDATE SET nav = nav || excluded.nav``.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import Max, Min, Subquery, Value
from django.db.models.functions import Coalesce

from advisorportal.formats import minor_units, round_money
from advisorportal.tenancy.context import require_firm_id
from portfolios.accounting import ZERO
from portfolios.models import (
    BenchmarkValue,
    ClientAccount,
    DailySeries,
    MarketRevision,
    SecurityPrice,
    SeriesChange,
    SeriesState,
    SeriesWatermark,
    Transaction,
)
from portfolios.series_store import (
    EPOCH_2000,
    MONEY_UNITS,
    QUANTITY_UNITS,
    Market,
    SeriesStage,
    State,
    clear_values,
    currencies_of,
    forward_fill,
    load_market,
    quarter_of,
    read_activity,
    read_states,
    round_to,
    store_latest,
    trade_prices,
    write_states,
)
from portfolios.series_store import (
    business_days as business_days,  # part of this module's interface
)

logger = logging.getLogger(__name__)

CHUNK = 1000  # accounts computed together: matrices of ~10 holdings x 1,300 days per account
INDEX_PLACES = Decimal("1e-10")


@dataclass
class RecomputeResult:
    accounts: int = 0
    rows: int = 0  # account-days written
    corrected: int = 0  # accounts recomputed for a change dated on or before their last computed day
    seconds: dict[str, float] = field(default_factory=dict)  # time per step, for logs and benchmarks


def latest_price_date() -> date | None:
    return SecurityPrice.objects.aggregate(last=Max("date"))["last"]


# --- Recompute and nightly update --------------------------------------------------------------


@transaction.atomic
def recompute_full(*, account_ids: Sequence[int] | None = None, end: date | None = None) -> RecomputeResult:
    """Recompute every daily value of the given accounts (default: the whole firm) up to ``end``."""
    return _run(account_ids=account_ids, end=end, incremental=False)


@transaction.atomic
def update_new_days(*, account_ids: Sequence[int] | None = None, end: date | None = None) -> RecomputeResult:
    """Add the days after each account's last stored value, up to ``end`` (the nightly job), starting
    from its ``SeriesState`` and reading only the transactions dated after it; an account without a
    state is computed from its first transaction. A rerun adds nothing. An account with a change
    dated on or before its last stored day (``correct_series``) is recomputed from its first
    transaction instead."""
    return _run(account_ids=account_ids, end=end, incremental=True)


@transaction.atomic
def correct_series(*, account_ids: Sequence[int] | None = None) -> RecomputeResult:
    """Recompute every account (of ``account_ids``, default: the firm) whose transactions or market
    data changed on or before its last computed day — a back-dated or late row, a reversal, a close
    or rate revised — up to that same day, so that the stored values equal a full recompute again;
    and every account whose first rows are dated on or before the firm's last computed day.
    Queued after such a change is committed (``tasks.daily_values_correct``); the nightly update
    does the same before it adds the new days."""
    firm_id = require_firm_id()
    lock_market_data(shared=True)
    _note_market_revisions(firm_id)
    changes, _ = _take_changes(firm_id, account_ids)
    states = dict(SeriesState.objects.filter(account_id__in=list(changes)).values_list("account_id", "as_of"))
    by_day: dict[date, list[int]] = {}
    for account, as_of in states.items():
        if changes[account] <= as_of:
            by_day.setdefault(as_of, []).append(account)
    # An account without values yet (its first rows, e.g. a master account's first fee income,
    # dated on or before the firm's last computed day) is computed to that day now, not at night.
    unstarted = [account for account in changes if account not in states]
    if unstarted:
        firm_last = SeriesState.objects.aggregate(last=Max("as_of"))["last"]
        for account in unstarted:
            if firm_last is not None and changes[account] <= firm_last:
                by_day.setdefault(firm_last, []).append(account)
    total = RecomputeResult()
    for as_of, group in sorted(by_day.items()):
        result = _run(account_ids=sorted(group), end=as_of, incremental=False)
        total.accounts += result.accounts
        total.rows += result.rows
        total.corrected += len(group)
    # Changes dated after an account's last computed day stay for the nightly update, which reads
    # those days anyway and drops them.
    return total


def pending_correction(*, account: ClientAccount) -> date | None:
    """The earliest day of a change to ``account`` that its stored values do not include yet (they
    are being recomputed), or None (one query)."""
    change = (
        SeriesChange.objects.filter(account=account, from_date__lte=account.nav_date).aggregate(first=Min("from_date"))[
            "first"
        ]
        if account.nav_date
        else None
    )
    return change


# Closes and FX rates are written under this lock (exclusively, by the triggers on their tables);
# the daily values hold it shared while they run. So a firm's run sees every revision committed
# before it, and none commits while it runs: the watermark (the last revision id taken into
# account) never passes a revision that was still in flight.
MARKET_DATA_LOCK = 0x50524943  # "PRIC"


def lock_market_data(*, shared: bool = False) -> None:
    """Take the market-data lock for the rest of the transaction. A writer of closes or rates that
    also locks client accounts (a custodian import) takes it first, before any account lock."""
    with connection.cursor() as cursor:
        function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        cursor.execute(f"SELECT {function}(%s)", [MARKET_DATA_LOCK])


def _note_market_revisions(firm_id: int) -> None:
    """Mark (``SeriesChange``) the firm's accounts that held a security or currency whose closes or
    rates were written for a day they have values for, from the revisions after the firm's
    watermark; then move the watermark past them. Called under the shared market-data lock."""
    watermark, _ = SeriesWatermark.objects.get_or_create(firm_id=firm_id)
    revisions = MarketRevision.objects.filter(pk__gt=watermark.revision_id)
    top = revisions.aggregate(top=Max("pk"))["top"]
    if top is None:
        return
    newest = SeriesState.objects.aggregate(newest=Max("as_of"))["newest"]
    late = list(
        revisions.filter(pk__lte=top, from_date__lte=newest or date.min)
        .values_list("security_id", "currency")
        .annotate(first=Min("from_date"))
    )
    securities = [(security, first) for security, _, first in late if security is not None]
    currencies = [(currency, first) for security, currency, first in late if security is None]
    state, change = SeriesState._meta.db_table, SeriesChange._meta.db_table
    position, account, tx = "portfolios_position", ClientAccount._meta.db_table, Transaction._meta.db_table
    with connection.cursor() as cursor:
        if securities:
            cursor.execute(
                f"""
                INSERT INTO {change} (firm_id, account_id, from_date, created_at)
                SELECT s.firm_id, s.account_id, min(r.first), now()
                FROM unnest(%s::bigint[], %s::date[]) AS r(security, first)
                JOIN {position} p ON p.firm_id = %s AND p.security_id = r.security
                JOIN {state} s ON s.firm_id = p.firm_id AND s.account_id = p.account_id AND s.as_of >= r.first
                GROUP BY s.firm_id, s.account_id
                """,  # noqa: S608 - model metadata
                [[s for s, _ in securities], [f for _, f in securities], firm_id],
            )
        if currencies:
            cursor.execute(
                f"""
                INSERT INTO {change} (firm_id, account_id, from_date, created_at)
                SELECT s.firm_id, s.account_id, min(r.first), now()
                FROM unnest(%s::text[], %s::date[]) AS r(currency, first)
                JOIN {state} s ON s.firm_id = %s AND s.as_of >= r.first
                JOIN {account} a ON a.firm_id = s.firm_id AND a.id = s.account_id
                WHERE a.base_currency = r.currency OR EXISTS (
                    SELECT 1 FROM {tx} t WHERE t.firm_id = s.firm_id AND t.account_id = s.account_id
                        AND t.currency = r.currency)
                GROUP BY s.firm_id, s.account_id
                """,  # noqa: S608 - model metadata
                [[c for c, _ in currencies], [f for _, f in currencies], firm_id],
            )
    watermark.revision_id = top
    watermark.save(update_fields=["revision_id"])


def _take_changes(firm_id: int, account_ids: Sequence[int] | np.ndarray | None) -> tuple[dict[int, date], list[int]]:
    """The pending changes of the accounts (default: the firm's): each account's earliest changed
    day, and the ids of the rows read (deleted by the run that includes them)."""
    table = SeriesChange._meta.db_table
    with connection.cursor() as cursor:
        if account_ids is None:
            cursor.execute(f"SELECT account_id, from_date, id FROM {table} WHERE firm_id = %s", [firm_id])  # noqa: S608
        else:
            cursor.execute(
                f"SELECT account_id, from_date, id FROM {table} WHERE firm_id = %s "  # noqa: S608
                "AND account_id = ANY(%s::bigint[])",
                [firm_id, [int(a) for a in account_ids]],
            )
        rows = cursor.fetchall()
    first: dict[int, date] = {}
    for account, day, _ in rows:
        first[account] = min(first.get(account, day), day)
    return first, [row[2] for row in rows]


def _drop_changes(firm_id: int, change_ids: list[int]) -> None:
    if change_ids:
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {SeriesChange._meta.db_table} WHERE firm_id = %s AND id = ANY(%s::bigint[])",  # noqa: S608
                [firm_id, change_ids],
            )


@transaction.atomic
def forget_last_day(*, account_ids: Sequence[int] | None = None) -> int:
    """Take each account's last stored day off its series and state (the holdings go back by that
    day's transactions), so that ``update_new_days`` computes it again: for a day whose prices were
    corrected, and for the benchmark of the nightly job. Reads only the last day's transactions and
    the accounts' last two days of values; an account whose only day it was is cleared. Returns
    the number of accounts changed."""
    firm_id = require_firm_id()
    accounts = ClientAccount.objects.all()
    if account_ids is not None:
        accounts = accounts.filter(pk__in=list(account_ids))
    ids = np.array(accounts.order_by("pk").values_list("pk", flat=True), dtype=np.int64)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '64MB'")
    states = read_states(firm_id, ids)
    by_day: dict[np.datetime64, list[int]] = {}
    for account, state in states.items():
        by_day.setdefault(state[0], []).append(account)
    base_of = dict(accounts.values_list("pk", "base_currency"))
    currencies = currencies_of(sorted(set(base_of.values())) + [c for state in states.values() for c in state[5]])
    for last, group in by_day.items():
        _forget_day(firm_id, np.array(sorted(group), dtype=np.int64), last, states, currencies, base_of)
    return len(states)


def _forget_day(
    firm_id: int,
    ids: np.ndarray,
    last: np.datetime64,
    states: dict[int, State],
    currencies: list[str],
    base_of: dict[int, str],
) -> None:
    previous = np.busday_offset(last, -1)
    table = DailySeries._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} s SET nav = s.nav[1:cardinality(s.nav) - 1],
                net_flow = s.net_flow[1:cardinality(s.net_flow) - 1],
                return_index = s.return_index[1:cardinality(s.return_index) - 1],
                gross_index = s.gross_index[1:cardinality(s.gross_index) - 1]
            WHERE s.firm_id = %s AND s.account_id = ANY(%s::bigint[]) AND s.quarter = %s
            """,  # noqa: S608 - model metadata
            [firm_id, ids.tolist(), quarter_of(np.array([last])).astype(date)[0]],
        )
        cursor.execute(
            f"DELETE FROM {table} WHERE firm_id = %s AND account_id = ANY(%s::bigint[]) AND quarter = %s "  # noqa: S608
            "AND cardinality(nav) = 0",
            [firm_id, ids.tolist(), quarter_of(np.array([last])).astype(date)[0]],
        )
        # The last two days left: (NAV, flow, index) of the new last day and the day before it.
        cursor.execute(
            f"""
            SELECT x.id, s.nav[cardinality(s.nav)], s.net_flow[cardinality(s.nav)], s.return_index[cardinality(s.nav)],
                s.nav[cardinality(s.nav) - 1], s.return_index[cardinality(s.nav) - 1],
                cardinality(s.nav), s.quarter, s.gross_index[cardinality(s.nav)]
            FROM unnest(%s::bigint[]) AS x(id)
            CROSS JOIN LATERAL (
                SELECT quarter, nav, net_flow, return_index, gross_index FROM {table}
                WHERE firm_id = %s AND account_id = x.id ORDER BY quarter DESC LIMIT 2
            ) s
            ORDER BY x.id, s.quarter DESC
            """,  # noqa: S608 - model metadata
            [ids.tolist(), firm_id],
        )
        tails: dict[int, list[tuple[Any, ...]]] = {}
        for row in cursor.fetchall():
            tails.setdefault(row[0], []).append(row[1:])
    gone = np.array([a for a in ids.tolist() if a not in tails], dtype=np.int64)
    if len(gone):
        clear_values(firm_id, gone)
    kept = np.array([a for a in ids.tolist() if a in tails], dtype=np.int64)
    if not len(kept):
        return
    # The kept accounts' values on ``previous`` and the day before (0 and 1 if there is none).
    nav, flow, index, gross, prev_nav, prev_index = (np.zeros(len(kept)) for _ in range(6))
    for row, account in enumerate(kept.tolist()):
        latest = tails[account][0]
        nav[row], flow[row], index[row], gross[row] = latest[0], latest[1], latest[2], latest[7]
        if latest[5] > 1:
            prev_nav[row], prev_index[row] = latest[3], latest[4]
        elif len(tails[account]) > 1:
            before = tails[account][1]
            prev_nav[row], prev_index[row] = before[0], before[2]
        else:
            prev_nav[row], prev_index[row] = 0.0, 1.0
    # Holdings on ``previous``: the state less the last day's transactions.
    activity = read_activity(firm_id, kept, currencies, [previous.astype(date)] * len(kept), last.astype(date))
    q_rows, q_secs, q_units, c_rows, c_ccys, c_units = [], [], [], [], [], []
    day_qty: dict[int, dict[int, int]] = {}
    day_cash: dict[int, dict[str, int]] = {}
    for account, security, ccy, quantity, amount in zip(
        activity["account"].tolist(), activity["security"].tolist(), activity["currency"].tolist(),
        activity["quantity"].tolist(), activity["amount"].tolist(), strict=True,
    ):  # fmt: skip
        if security:
            held = day_qty.setdefault(account, {})
            held[security] = held.get(security, 0) + quantity
        if amount:
            if not ccy:
                raise ValueError("A transaction is in a currency that has no FX rate.")
            cash = day_cash.setdefault(account, {})
            cash[currencies[ccy - 1]] = cash.get(currencies[ccy - 1], 0) + amount
    for row, account in enumerate(kept.tolist()):
        state = states[account]
        qty = dict(zip(state[3], state[4], strict=True))
        cash = dict(zip(state[5], state[6], strict=True))
        for security, units in day_qty.get(account, {}).items():
            qty[security] = qty.get(security, 0) - units
        for currency, units in day_cash.get(account, {}).items():
            cash[currency] = cash.get(currency, 0) - units
        for security in sorted(s for s, units in qty.items() if units):
            q_rows.append(row)
            q_secs.append(security)
            q_units.append(qty[security])
        for currency in sorted(c for c, units in cash.items() if units):
            c_rows.append(row)
            c_ccys.append(currency)
            c_units.append(cash[currency])
    changed = np.isin(kept, activity["account"])
    write_states(
        firm_id, kept, previous, nav, index, gross, changed=changed,
        holdings=(np.array(q_rows, dtype=np.int64), np.array(q_secs), np.array(q_units),
                  np.array(c_rows, dtype=np.int64), c_ccys, np.array(c_units)),
    )  # fmt: skip
    places = np.array([minor_units(base_of[a]) for a in kept.tolist()], dtype=np.int64)
    store_latest(firm_id, kept, previous, nav, flow, index, prev_nav, prev_index, places)


class _Clock:
    """Seconds per named step, summed (logged at the end of a run)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started


@dataclass
class _Opening:
    """Each account's state before its first day to compute: NAV and return index of the day
    before (0 and 1 for an account computed from its first transaction) and its holdings then,
    as (account row, security or currency index, units)."""

    nav: np.ndarray
    index: np.ndarray
    gross: np.ndarray
    positions: tuple[np.ndarray, np.ndarray, np.ndarray]
    cash: tuple[np.ndarray, np.ndarray, np.ndarray]


def series_problems(*, limit: int = 50) -> list[str]:
    """Every difference between the stored daily values of the firm's accounts (series, state,
    latest values) and a full recompute from the ledger, up to each account's last stored day
    (``check_portfolios``). Writes nothing. Up to ``limit`` messages, one per account."""
    problems: list[str] = []
    as_of = SeriesState.objects.aggregate(last=Max("as_of"))["last"]
    stored_ids = set(DailySeries.objects.values_list("account_id", flat=True).distinct())
    if as_of is None and not stored_ids:
        return problems
    _run(account_ids=None, end=as_of, incremental=False, problems=problems)
    return problems[:limit]


def _run(
    *, account_ids: Sequence[int] | None, end: date | None, incremental: bool, problems: list[str] | None = None
) -> RecomputeResult:
    """The one path of every run. Changes are read before the transactions: a change committed
    after that is left for the next run (``SeriesChange``). With ``problems`` it writes nothing and
    lists where the stored values differ from what it computed."""
    firm_id = require_firm_id()
    checking = problems is not None
    if not checking:
        lock_market_data(shared=True)
        _note_market_revisions(firm_id)
    clock = _Clock()
    result = RecomputeResult(seconds=clock.seconds)
    end = end or latest_price_date() or date.today()
    # The last business day up to ``end``: a transaction dated on the weekend after it counts on
    # the next business day, so it belongs to the next run.
    last = np.busday_offset(np.datetime64(end, "D"), 0, roll="backward")
    accounts = ClientAccount.objects.all()
    if account_ids is not None:
        accounts = accounts.filter(pk__in=list(account_ids))
    rows = list(accounts.order_by("pk").values_list("pk", "base_currency"))
    if not rows:
        return result
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    base = [r[1] for r in rows]
    with connection.cursor() as cursor:
        # A chunk's activity is hash-aggregated by PostgreSQL: keep it in memory.
        cursor.execute("SET LOCAL work_mem = '64MB'")
    with clock("read states"):
        changes, change_ids = _take_changes(firm_id, None if account_ids is None else ids)
        states = read_states(firm_id, ids) if incremental else {}
        for account, first_changed in changes.items():
            if account in states and np.datetime64(first_changed, "D") <= states[account][0]:
                del states[account]  # changed before its last day: computed again from the start
                result.corrected += 1
    if not checking:
        _drop_changes(firm_id, change_ids)  # in this transaction: they go only if what follows commits
    carried = np.array([a for a in ids.tolist() if a in states and states[a][0] < last], dtype=np.int64)
    fresh = np.array([a for a in ids.tolist() if a not in states], dtype=np.int64)
    with clock("first trades"):
        firsts = _first_trade_days(firm_id, fresh, last) if len(fresh) else {}
    with clock("clear"):
        # Accounts with nothing to compute lose what they had; the others' rows are overwritten.
        idle = np.array([a for a in fresh.tolist() if a not in firsts], dtype=np.int64)
        if len(idle) and problems is not None:
            stale = DailySeries.objects.filter(account_id__in=idle.tolist()).values_list("account__number", flat=True)
            problems += [f"Account {n}: daily values are stored but it has no transactions." for n in set(stale)]
        elif len(idle):
            clear_values(firm_id, idle)
    fresh = np.array([a for a in fresh.tolist() if a in firsts], dtype=np.int64)
    if not checking and (len(idle) or len(carried) or len(fresh)):
        # The firm's AUM sums follow in the background: from the first day written, or all of
        # them when an account's values were cleared (its old first day is gone).
        written = [np.busday_offset(states[a][0], 1) for a in carried.tolist()] + [firsts[a] for a in fresh.tolist()]
        _refresh_aum_after_commit(firm_id, None if len(idle) else min(written).astype(date))
    if not len(carried) and not len(fresh):
        return result
    starts = {a: np.busday_offset(states[a][0], 1) for a in carried.tolist()}
    starts.update(firsts)
    with clock("market data"):
        # From the business day before the first day to compute: what could be valued the day before.
        market = load_market(base, np.busday_offset(min(starts.values()), -1), last)
    base_of = dict(zip(ids.tolist(), (market.currencies.index(c) for c in base), strict=True))
    stage = SeriesStage(firm_id)
    for group, from_state in ((carried, True), (fresh, False)):
        for offset in range(0, len(group), CHUNK):
            chunk = group[offset : offset + CHUNK]
            chunk_starts = np.array([starts[a] for a in chunk.tolist()], dtype="datetime64[D]")
            base_idx = np.array([base_of[a] for a in chunk.tolist()], dtype=np.int64)
            with clock("read transactions"):
                after = [states[a][0].astype(date) for a in chunk.tolist()] if from_state else None
                activity = read_activity(firm_id, chunk, market.currencies, after, last.astype(date))
            opening = _opening(chunk, [states.get(a) for a in chunk.tolist()], market)
            result.rows += _compute_chunk(
                firm_id, chunk, base_idx, chunk_starts, opening, activity, market, stage, clock, append=from_state,
                problems=problems,
            )  # fmt: skip
            result.accounts += len(chunk)
    logger.info(
        "daily values %s: %d accounts, %d account-days; %s",
        "update" if incremental else "recompute",
        result.accounts,
        result.rows,
        ", ".join(f"{name} {seconds:.1f} s" for name, seconds in clock.seconds.items()),
    )
    return result


def _refresh_aum_after_commit(firm_id: int, start: date | None) -> None:
    from portfolios.tasks import aum_refresh  # tasks import this module

    day = start.isoformat() if start else None
    transaction.on_commit(lambda: aum_refresh.delay(firm_id, day), robust=True)


def _first_trade_days(firm_id: int, ids: np.ndarray, last: np.datetime64) -> dict[int, np.datetime64]:
    """The business day each account's first transaction counts on, for accounts with one up to ``last``."""
    table = Transaction._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT x.id, (SELECT t.trade_date FROM {table} t WHERE t.firm_id = %s AND t.account_id = x.id "  # noqa: S608
            "ORDER BY t.trade_date LIMIT 1) FROM unnest(%s::bigint[]) AS x(id)",
            [firm_id, ids.tolist()],
        )
        found = {a: np.busday_offset(np.datetime64(d, "D"), 0, roll="forward") for a, d in cursor.fetchall() if d}
    return {a: d for a, d in found.items() if d <= last}


def _opening(ids: np.ndarray, states: list[State | None], market: Market) -> _Opening:
    nav = np.array([s[1] if s else 0.0 for s in states])
    index = np.array([s[2] if s else 1.0 for s in states])
    gross = np.array([s[7] if s else 1.0 for s in states])
    p_rows, p_secs, p_units, c_rows, c_ccys, c_units = [], [], [], [], [], []
    for row, state in enumerate(states):
        if state is None:
            continue
        p_rows += [row] * len(state[3])
        p_secs += state[3]
        p_units += state[4]
        c_rows += [row] * len(state[5])
        c_ccys += [market.currencies.index(c) if c in market.currencies else -1 for c in state[5]]
        c_units += state[6]
    sec_index = np.searchsorted(market.sec_ids, np.array(p_secs, dtype=np.int64))
    return _Opening(
        nav=nav,
        index=index,
        gross=gross,
        positions=(np.array(p_rows, dtype=np.int64), sec_index, np.array(p_units, dtype=np.int64)),
        cash=(np.array(c_rows, dtype=np.int64), np.array(c_ccys, dtype=np.int64), np.array(c_units, dtype=np.int64)),
    )


def _compute_chunk(
    firm_id: int,
    ids: np.ndarray,
    base_idx: np.ndarray,
    starts: np.ndarray,
    opening: _Opening,
    activity: np.ndarray,
    market: Market,
    stage: SeriesStage,
    clock: _Clock,
    *,
    append: bool,
    problems: list[str] | None = None,
) -> int:
    """Compute the days from ``starts`` on for ``ids`` and store them (or, given ``problems``,
    compare them with what is stored); returns the account-days written."""
    offset = int(np.searchsorted(market.days, starts.min()))  # >= 1: the market starts a day earlier
    days = market.days[offset:]
    n_days, n_acct, n_ccy, n_sec = len(days), len(ids), len(market.currencies), len(market.sec_ids)
    first_idx = np.searchsorted(days, starts)  # each account's first day to write
    prices, usd = market.prices[:, offset:], market.usd[:, offset - 1 :]  # usd[:, 0] is the day before
    places = np.array([minor_units(market.currencies[b]) for b in base_idx.tolist()], dtype=np.int64)
    with clock("compute"):
        acct = np.searchsorted(ids, activity["account"])
        day = np.minimum(np.searchsorted(days, EPOCH_2000 + activity["day"].astype(np.int64)), n_days - 1)

        def trade_price_rows(keys: np.ndarray) -> np.ndarray:
            """Before a security's first close a holding is worth its last trade price in the account."""
            k_acct, k_sec = keys // n_sec // n_ccy, keys % n_sec
            accounts, securities = ids[np.unique(k_acct)], market.sec_ids[np.unique(k_sec)]
            rows = trade_prices(firm_id, accounts, securities, days[-1].astype(date))
            out = np.full((len(keys), n_days), np.nan)
            r_sec = np.searchsorted(market.sec_ids, rows["security"])
            codes = (np.searchsorted(ids, rows["account"]) * n_ccy + market.sec_ccy[r_sec]) * n_sec + r_sec
            at = np.minimum(np.searchsorted(keys, codes), len(keys) - 1)
            r_day = np.minimum(np.searchsorted(days, EPOCH_2000 + rows["day"]), n_days - 1)
            known = keys[at] == codes
            out[at[known], r_day[known]] = rows["price"][known] / QUANTITY_UNITS  # the last of a day wins
            return forward_fill(out)

        # Securities: one row per (account, currency, security), holdings accumulated over the days
        # and valued at the closes, summed per (account, currency).
        held = (activity["security"] != 0) & ((activity["quantity"] != 0) | (activity["moved"] != 0))
        p_acct, p_day = acct[held], day[held]
        p_sec = np.searchsorted(market.sec_ids, activity["security"][held])
        o_acct, o_sec, o_units = opening.positions
        qty_keys, qty_last, sec_groups, sec_values = _securities(
            np.r_[p_acct, o_acct], np.r_[market.sec_ccy[p_sec], market.sec_ccy[o_sec]], np.r_[p_sec, o_sec],
            np.r_[p_day, first_idx[o_acct]], np.r_[activity["quantity"][held], o_units], prices, n_ccy,
            trade_price_rows,
        )  # fmt: skip
        # Cash: one row per (account, currency).
        c_ccy = activity["currency"].astype(np.int64) - 1
        cash = (activity["amount"] != 0) | (activity["external"] != 0)
        if (c_ccy[cash] < 0).any() or (opening.cash[1] < 0).any():
            raise ValueError("A transaction is in a currency that has no FX rate.")
        o_acct, o_ccy, o_units = opening.cash
        cash_keys, cash_units = _holdings(
            np.r_[acct[cash], o_acct], np.r_[c_ccy[cash], o_ccy], np.zeros(int(cash.sum()) + len(o_acct), np.int64),
            np.r_[day[cash], first_idx[o_acct]], np.r_[activity["amount"][cash], o_units], n_ccy, 1, n_days,
        )  # fmt: skip

        # Value per (account, currency): securities at their closes plus cash, in that currency;
        # then converted to the base currency and summed per account. A currency without a rate
        # yet (none on or before the day) is left out of the NAV; the day its first rate comes,
        # what the account holds in it enters the NAV as an external flow (its return counts from
        # the first day it can be valued: no later rate is used for an earlier day).
        groups = np.union1d(sec_groups, cash_keys)
        in_ccy = np.zeros((len(groups), n_days))
        in_ccy[np.searchsorted(groups, sec_groups)] += sec_values
        in_ccy[np.searchsorted(groups, cash_keys)] += cash_units / MONEY_UNITS
        g_acct, g_ccy = groups // n_ccy, groups % n_ccy
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = usd[g_ccy] / usd[base_idx[g_acct]]  # [groups, day before + days]
        rate[g_ccy == base_idx[g_acct]] = 1.0
        convertible = ~np.isnan(rate)
        rate, entering = np.nan_to_num(rate[:, 1:]), convertible[:, 1:] & ~convertible[:, :-1]
        in_base = in_ccy * rate
        nav = _sum_rows(in_base, g_acct, n_acct)

        # External flows: position transfers at market value (at their own price before the first
        # close) and external cash; fees apart (flows of the gross-of-fee index only); in the base
        # currency, none in a currency that cannot be converted yet or on the day it enters.
        moved = held & (activity["moved"] != 0)
        m_sec = np.searchsorted(market.sec_ids, activity["security"][moved])
        m_acct, m_day, m_ccy = acct[moved], day[moved], market.sec_ccy[m_sec]
        m_price = prices[m_sec, m_day]
        m_price = np.where(np.isnan(m_price), activity["price"][moved] / QUANTITY_UNITS, m_price)
        m_worth = activity["moved"][moved] / QUANTITY_UNITS * m_price

        def flows(f_acct: np.ndarray, f_day: np.ndarray, f_ccy: np.ndarray, f_worth: np.ndarray) -> np.ndarray:
            row = np.searchsorted(groups, f_acct * n_ccy + f_ccy)
            f_worth = np.where(entering[row, f_day], 0.0, f_worth * rate[row, f_day])
            order = np.lexsort((f_worth, f_ccy, f_day, f_acct))  # the same order of addition in every run
            return (
                np.bincount(f_acct[order] * n_days + f_day[order], weights=f_worth[order], minlength=n_acct * n_days)
                .astype(np.float64)  # (an empty bincount is of integers)
                .reshape(n_acct, n_days)
            )

        out, fee = activity["external"] != 0, activity["fee"] != 0
        flow = flows(
            np.r_[m_acct, acct[out]], np.r_[m_day, day[out]], np.r_[m_ccy, c_ccy[out]],
            np.r_[m_worth, activity["external"][out] / MONEY_UNITS],
        )  # fmt: skip
        if entering.any():
            e_row, e_day = np.nonzero(entering)
            flow += np.bincount(
                g_acct[e_row] * n_days + e_day, weights=in_base[e_row, e_day], minlength=n_acct * n_days
            ).reshape(n_acct, n_days)
        fee_flow = flows(acct[fee], day[fee], c_ccy[fee], activity["fee"][fee] / MONEY_UNITS)

        # Returns from the NAVs as stored (to the base currency's minor unit), chained from each
        # account's opening NAV and index in the same order of multiplication as a full run. A
        # day that loses more than the NAV (a leveraged account) ends the index at 0, never below.
        nav, flow, fee_flow = round_to(nav, places), round_to(flow, places), round_to(fee_flow, places)
        prev = np.concatenate([np.zeros((n_acct, 1)), nav[:, :-1]], axis=1)
        prev[np.arange(n_acct), first_idx] = opening.nav
        before_start = np.arange(n_days)[None, :] < first_idx[:, None]

        def chain(flow: np.ndarray, opening_index: np.ndarray) -> np.ndarray:
            with np.errstate(divide="ignore", invalid="ignore"):
                growth = np.maximum(np.where(prev > 0, (nav - flow) / prev, 1.0), 0.0)
            growth[before_start] = 1.0
            return np.cumprod(np.concatenate([opening_index[:, None], growth], axis=1), axis=1)[:, 1:]

        index, gross = chain(flow, opening.index), chain(flow + fee_flow, opening.gross)
    if problems is not None:
        cash_last = cash_units[:, -1]
        holdings = {
            **{("q", int(k // n_sec // n_ccy), int(market.sec_ids[k % n_sec])): int(u)
               for k, u in zip(qty_keys.tolist(), qty_last.tolist(), strict=True) if u},
            **{("c", int(k // n_ccy), market.currencies[k % n_ccy]): int(u)
               for k, u in zip(cash_keys.tolist(), cash_last.tolist(), strict=True) if u},
        }  # fmt: skip
        problems += _compare_with_stored(firm_id, ids, days, first_idx, nav, flow, index, gross, holdings, places)
        return 0
    with clock("write series"):
        written = stage.write(ids, days, first_idx, nav, flow, index, gross, append=append)
    with clock("write states"):
        # A state's holdings change with activity; a full recompute writes them all.
        changed = np.isin(ids, activity["account"]) if append else np.ones(len(ids), dtype=bool)
        _store_states(firm_id, ids, days[-1], nav[:, -1], index[:, -1], gross[:, -1], qty_keys, qty_last,
                      cash_keys, cash_units[:, -1], market, changed)  # fmt: skip
        prev_index = index[:, -2] if n_days > 1 else opening.index
        prev_index = np.where(first_idx == n_days - 1, opening.index, prev_index)
        store_latest(firm_id, ids, days[-1], nav[:, -1], flow[:, -1], index[:, -1], prev[:, -1], prev_index, places)
    return written


def _compare_with_stored(
    firm_id: int,
    ids: np.ndarray,
    days: np.ndarray,
    first_idx: np.ndarray,
    nav: np.ndarray,
    flow: np.ndarray,
    index: np.ndarray,
    gross: np.ndarray,
    holdings: dict[tuple[str, int, Any], int],
    places: np.ndarray,
) -> list[str]:
    """Where the stored series and states of ``ids`` differ from the computed ones: NAV and flows to
    half the minor unit, indexes to 1e-9, holdings exactly."""
    stored: dict[int, tuple[date, list[float], list[float], list[float], list[float]]] = {}
    for account, first, *arrays in (
        DailySeries.objects.filter(account_id__in=ids.tolist())
        .order_by("account_id", "quarter")
        .values_list("account_id", "first_date", "nav", "net_flow", "return_index", "gross_index")
    ):
        if account not in stored:
            stored[account] = (first, [], [], [], [])
        for into, values in zip(stored[account][1:], arrays, strict=True):
            into.extend(values)
    states = read_states(firm_id, ids)
    numbers = dict(ClientAccount.objects.filter(pk__in=ids.tolist()).values_list("pk", "number"))
    out = []
    for row, account in enumerate(ids.tolist()):
        lo = int(first_idx[row])
        want_first = days[lo].astype(date)
        computed = (nav[row, lo:], flow[row, lo:], index[row, lo:], gross[row, lo:])
        problem = ""
        if account not in stored:
            problem = f"no daily values stored (from {want_first})"
        else:
            first, *arrays = stored[account]
            if first != want_first or len(arrays[0]) != len(computed[0]):
                problem = f"stored days {first} + {len(arrays[0])} differ from {want_first} + {len(computed[0])}"
            else:
                half_unit = 0.5 * 10.0 ** -int(places[row])
                for name, got, want, tolerance in zip(
                    ("NAV", "net flow", "return index", "gross index"), arrays, computed,
                    (half_unit, half_unit, 1e-9, 1e-9), strict=True,
                ):  # fmt: skip
                    wrong = np.flatnonzero(np.abs(np.asarray(got) - want) > tolerance)
                    if len(wrong):
                        day = days[lo + wrong[0]].astype(date)
                        problem = f"stored {name} on {day} is {got[wrong[0]]!r}, the ledger gives {want[wrong[0]]!r}"
                        break
        if not problem:
            state = states.get(account)
            held = {key: units for key, units in holdings.items() if key[1] == row}
            if state is None:
                problem = "no series state stored"
            elif state[0] != days[-1]:
                problem = f"series state is at {state[0]}, the series at {days[-1]}"
            else:
                kept: dict[tuple[str, int, Any], int] = {
                    ("q", row, s): u for s, u in zip(state[3], state[4], strict=True) if u
                }
                kept |= {("c", row, c): u for c, u in zip(state[5], state[6], strict=True) if u}
                if kept != held:
                    problem = "series state holdings differ from the ledger's"
        if problem:
            out.append(f"Account {numbers.get(account, account)}: {problem}.")
    return out


_BLOCK_CELLS = 1 << 20  # holdings x days valued at a time: buffers of 8 MB, reused


def _securities(
    acct: np.ndarray, ccy: np.ndarray, sec: np.ndarray, day: np.ndarray, units: np.ndarray,
    prices: np.ndarray, n_ccy: int, unquoted_prices: Callable[[np.ndarray], np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Holdings of securities over the days, valued at the closes and summed per (account,
    currency). Returns the sorted (account, currency, security) codes, each holding's units on the
    last day, the (account, currency) codes with values and their values [groups, days] in the
    securities' currency. A holding on a day before its security's first close is valued at the
    prices ``unquoted_prices(keys)`` gives for those keys (NaN: unknown, valued at 0 and reported
    by ``portfolios.returns.valuation_gaps``).

    Holdings are accumulated (int64, exact) and valued a block of accounts at a time in buffers
    that are reused, so the matrices stay in cache and no memory is touched for the first time
    per block; a block ends at an account's end, so each (account, currency) sum adds the same
    holdings in the same order however many accounts are computed together."""
    n_sec, n_days = prices.shape
    codes = (acct * n_ccy + ccy) * n_sec + sec
    keys, row = np.unique(codes, return_inverse=True)
    order = np.argsort(row, kind="stable")
    row, day, units = row[order], day[order], units[order]
    key_group = keys // n_sec
    group_starts = np.flatnonzero(np.r_[True, key_group[1:] != key_group[:-1]]) if len(keys) else keys
    groups = key_group[group_starts]
    values = np.zeros((len(groups), n_days))
    last = np.zeros(len(keys), dtype=np.int64)
    if not len(keys):
        return keys, last, groups, values
    # Blocks of whole accounts of up to _BLOCK_CELLS cells (one account more if it alone is larger).
    key_acct = key_group // n_ccy
    account_starts = np.flatnonzero(np.r_[True, key_acct[1:] != key_acct[:-1]])
    rows_per_block = max(1, _BLOCK_CELLS // n_days)
    bounds = [0]
    for start in account_starts.tolist()[1:]:
        if start - bounds[-1] > rows_per_block:
            bounds.append(start)
    bounds.append(len(keys))
    widest = max(hi - lo for lo, hi in itertools.pairwise(bounds))
    # Holdings of securities without a close on some day of the window (a new security, or one
    # whose quotes have not arrived): their own price rows, looked up once (usually none).
    gaps = np.flatnonzero(np.isnan(prices).any(axis=1)[keys % n_sec])
    gap_prices = unquoted_prices(keys[gaps]) if len(gaps) else np.zeros((0, n_days))
    qty_buffer = np.empty(widest * n_days, dtype=np.int64)
    value_buffer = np.empty(widest * n_days)
    event_bounds = np.searchsorted(row, bounds)
    group_bounds = np.searchsorted(group_starts, bounds)
    for (lo, hi), (e_lo, e_hi), (g_lo, g_hi) in zip(
        itertools.pairwise(bounds), itertools.pairwise(event_bounds), itertools.pairwise(group_bounds), strict=True
    ):
        qty = qty_buffer[: (hi - lo) * n_days].reshape(hi - lo, n_days)
        qty.fill(0)
        np.add.at(qty.reshape(-1), (row[e_lo:e_hi] - lo) * n_days + day[e_lo:e_hi], units[e_lo:e_hi])
        np.cumsum(qty, axis=1, out=qty)
        last[lo:hi] = qty[:, -1]
        value = value_buffer[: (hi - lo) * n_days].reshape(hi - lo, n_days)
        np.take(prices, keys[lo:hi] % n_sec, axis=0, out=value)
        in_block = gaps[(gaps >= lo) & (gaps < hi)]
        if len(in_block):
            rows = in_block - lo
            own = gap_prices[np.searchsorted(gaps, in_block)]
            value[rows] = np.nan_to_num(np.where(np.isnan(value[rows]), own, value[rows]))
        np.multiply(value, qty, out=value)
        values[g_lo:g_hi] = np.add.reduceat(value, group_starts[g_lo:g_hi] - lo, axis=0)
    values /= QUANTITY_UNITS
    return keys, last, groups, values


def _holdings(
    acct: np.ndarray, ccy: np.ndarray, key: np.ndarray, day: np.ndarray, units: np.ndarray,
    n_ccy: int, n_key: int, n_days: int,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Holdings over the days: the sorted (account, currency, key) codes and, for each, the running
    sum of ``units`` by day (int64, exact)."""
    codes = (acct * n_ccy + ccy) * n_key + key
    keys, row = np.unique(codes, return_inverse=True)
    held = np.zeros((len(keys), n_days), dtype=np.int64)
    np.add.at(held.reshape(-1), row * n_days + day, units)
    np.cumsum(held, axis=1, out=held)
    return keys, held


def _sum_rows(values: np.ndarray, rows: np.ndarray, n_rows: int) -> np.ndarray:
    """Sum the rows of ``values`` into ``n_rows`` groups (``rows`` sorted, as np.unique returns them)."""
    out = np.zeros((n_rows, values.shape[1]))
    if len(rows):
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        out[rows[starts]] = np.add.reduceat(values, starts, axis=0)
    return out


def _store_states(
    firm_id: int,
    ids: np.ndarray,
    last_day: np.datetime64,
    nav: np.ndarray,
    index: np.ndarray,
    gross: np.ndarray,
    qty_keys: np.ndarray,
    qty_units: np.ndarray,
    cash_keys: np.ndarray,
    cash_units: np.ndarray,
    market: Market,
    changed: np.ndarray,
) -> None:
    """Each account's ``SeriesState`` at ``last_day``, with its holdings other than zero (written
    only for the ``changed`` accounts: the others keep theirs)."""
    n_ccy, n_sec = len(market.currencies), len(market.sec_ids)
    keep, keep_cash = (
        (qty_units != 0) & changed[qty_keys // n_sec // n_ccy],
        (cash_units != 0) & changed[cash_keys // n_ccy],
    )
    write_states(
        firm_id, ids, last_day, nav, index, gross, changed=changed,
        holdings=(
            qty_keys[keep] // n_sec // n_ccy, market.sec_ids[qty_keys[keep] % n_sec], qty_units[keep],
            cash_keys[keep_cash] // n_ccy, [market.currencies[c] for c in (cash_keys[keep_cash] % n_ccy).tolist()],
            cash_units[keep_cash],
        ),
    )  # fmt: skip


# --- The contract for pages and the API: read NAV only through these -----------------------------


@dataclass(frozen=True)
class DayValue:
    """One business day of an account: NAV and net external flow in the base currency, rounded to
    its minor unit, and the time-weighted return index (1 on the account's first day), net and
    gross of fees."""

    date: date
    nav: Decimal
    net_flow: Decimal
    return_index: Decimal
    gross_index: Decimal


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
    One query: the quarter rows of the period."""
    series = DailySeries.objects.filter(account=account)
    if start is not None:
        series = series.filter(quarter__gte=quarter_of(np.array([start], dtype="datetime64[D]"))[0].astype(date))
    if end is not None:
        series = series.filter(quarter__lte=end)
    currency = account.base_currency
    out: list[DayValue] = []
    for first, navs, flows, indexes, grosses in series.order_by("quarter").values_list(
        "first_date", "nav", "net_flow", "return_index", "gross_index"
    ):
        days = np.busday_offset(np.datetime64(first, "D"), np.arange(len(navs))).astype(date)
        for day, nav, flow, index, gross in zip(days.tolist(), navs, flows, indexes, grosses, strict=True):
            if (start is None or day >= start) and (end is None or day <= end):
                out.append(
                    DayValue(
                        date=day,
                        nav=round_money(_decimal(nav), currency),
                        net_flow=round_money(_decimal(flow), currency),
                        return_index=_decimal(index).quantize(INDEX_PLACES),
                        gross_index=_decimal(gross).quantize(INDEX_PLACES),
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
    first, beginning with the last level on or before ``start`` (a window starting on a holiday
    is measured from the close before it); empty for an unknown symbol."""
    values = BenchmarkValue.objects.filter(benchmark__symbol=symbol)
    if start is not None:
        before = BenchmarkValue.objects.filter(benchmark__symbol=symbol, date__lte=start).order_by("-date")
        values = values.filter(date__gte=Coalesce(Subquery(before.values("date")[:1]), Value(start)))
    if end is not None:
        values = values.filter(date__lte=end)
    return list(values.order_by("date").values_list("date", "level"))


def navs_between(*, account_ids: Sequence[int], start: date, end: date) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """The stored end-of-day NAVs of each of ``account_ids`` from ``start`` to ``end`` (inclusive),
    as (business days as ``datetime64[D]``, NAVs as float64, already rounded to cents), oldest
    first; an account without a value in the window is left out. One query over the quarter rows
    of the window, for any number of accounts (fee runs value every account of a firm at once)."""
    first_quarter = quarter_of(np.array([start], dtype="datetime64[D]"))[0].astype(date)
    rows = (
        DailySeries.objects.filter(account_id__in=list(account_ids), quarter__gte=first_quarter, quarter__lte=end)
        .order_by("account_id", "quarter")
        .values_list("account_id", "first_date", "nav")
    )
    low, high = np.datetime64(start, "D"), np.datetime64(end, "D")
    parts: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    for account_id, first, navs in rows.iterator(chunk_size=2000):
        days = np.busday_offset(np.datetime64(first, "D"), np.arange(len(navs)))
        keep = (days >= low) & (days <= high)
        if keep.any():
            parts.setdefault(account_id, []).append((days[keep], np.asarray(navs, dtype=np.float64)[keep]))
    return {
        pk: (np.concatenate([d for d, _ in chunks]), np.concatenate([v for _, v in chunks]))
        for pk, chunks in parts.items()
    }
