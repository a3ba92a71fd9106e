"""Deterministic demo portfolios: securities, prices, FX, benchmarks, client accounts and activity.

Securities, prices, FX rates and benchmark levels are shared reference data: they come from a fixed
seed and a fixed epoch, so every firm and every run sees the same quotes for the same day, and a run
for more years only adds older days. Accounts and transactions come from the caller's seed.

The generator is vectorised: it steps month by month over numpy arrays of every account's cash (per
currency, in minor units) and holdings (quantity and cost basis in minor units), so amounts are
exact integers and follow the rules of ``portfolios.accounting`` (half-up rounding to the minor
unit, average cost). Transactions, their balanced ledger entries and the positions are written with
binary COPY into temporary tables (COPY FROM is refused on tables with row-level security) and moved
into the firm's tables with one ``INSERT … SELECT`` per batch of accounts, under the firm's RLS
policy; every entry's postings arrive in one statement, so the balance trigger sees them together.
Then the daily values are computed (``performance.recompute_full``).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import connections, transaction
from django.db.models import Min

from advisorportal import formats
from advisorportal.bulk import foreign_keys_checked_at_end, next_ids, stage
from advisorportal.tenancy.context import require_firm_id
from crm.models import Contact
from portfolios import aum, performance
from portfolios.models import (
    AccountOwner,
    AccountStatus,
    AccountTransfer,
    AccountType,
    Benchmark,
    BenchmarkValue,
    CashHold,
    ClientAccount,
    DailySeries,
    FxRate,
    LedgerEntry,
    LedgerPosting,
    MarginType,
    OwnerRole,
    Position,
    Security,
    SecurityPrice,
    SeriesChange,
    SeriesState,
    TradingPermission,
    Transaction,
)

EPOCH = date(2015, 1, 1)
QUOTE_SEED = 4_2424_2424
ACCOUNT_BATCH = 2000  # accounts per COPY / INSERT batch
# From this many accounts the ledger is loaded on the owner connection with its foreign keys
# checked once at the end (see ``advisorportal.bulk.foreign_keys_checked_at_end``); below, in one transaction.
BULK_ACCOUNTS = 2000

# symbol, name, asset class, currency, sector, region, country, start price, annual drift, vol, yield
SECURITIES: list[tuple[str, str, str, str, str, str, str, float, float, float, float]] = [
    ("AAPL", "Apple Inc.", "equity", "USD", "Technology", "North America", "US", 27.0, 0.18, 0.28, 0.006),
    ("MSFT", "Microsoft Corp.", "equity", "USD", "Technology", "North America", "US", 46.0, 0.20, 0.26, 0.009),
    (
        "AMZN",
        "Amazon.com Inc.",
        "equity",
        "USD",
        "Consumer Discretionary",
        "North America",
        "US",
        15.5,
        0.18,
        0.32,
        0.0,
    ),
    (
        "GOOGL",
        "Alphabet Inc. Class A",
        "equity",
        "USD",
        "Communication Services",
        "North America",
        "US",
        26.5,
        0.15,
        0.28,
        0.004,
    ),
    ("NVDA", "NVIDIA Corp.", "equity", "USD", "Technology", "North America", "US", 0.5, 0.35, 0.45, 0.001),
    ("JPM", "JPMorgan Chase & Co.", "equity", "USD", "Financials", "North America", "US", 62.0, 0.10, 0.24, 0.025),
    ("JNJ", "Johnson & Johnson", "equity", "USD", "Health Care", "North America", "US", 104.0, 0.05, 0.16, 0.029),
    ("XOM", "Exxon Mobil Corp.", "equity", "USD", "Energy", "North America", "US", 92.0, 0.03, 0.28, 0.035),
    ("PG", "Procter & Gamble Co.", "equity", "USD", "Consumer Staples", "North America", "US", 91.0, 0.06, 0.16, 0.024),
    ("KO", "Coca-Cola Co.", "equity", "USD", "Consumer Staples", "North America", "US", 42.0, 0.05, 0.15, 0.030),
    ("SPY", "SPDR S&P 500 ETF Trust", "fund", "USD", "Broad market", "North America", "US", 205.0, 0.10, 0.17, 0.014),
    (
        "VTI",
        "Vanguard Total Stock Market ETF",
        "fund",
        "USD",
        "Broad market",
        "North America",
        "US",
        106.0,
        0.10,
        0.17,
        0.014,
    ),
    ("EFA", "iShares MSCI EAFE ETF", "fund", "USD", "Broad market", "Developed ex-US", "US", 61.0, 0.05, 0.16, 0.028),
    (
        "VWO",
        "Vanguard FTSE Emerging Markets ETF",
        "fund",
        "USD",
        "Broad market",
        "Emerging markets",
        "US",
        40.0,
        0.03,
        0.19,
        0.030,
    ),
    (
        "AGG",
        "iShares Core U.S. Aggregate Bond ETF",
        "fixed_income",
        "USD",
        "Bonds",
        "North America",
        "US",
        110.0,
        0.00,
        0.05,
        0.030,
    ),
    (
        "BND",
        "Vanguard Total Bond Market ETF",
        "fixed_income",
        "USD",
        "Bonds",
        "North America",
        "US",
        82.0,
        0.00,
        0.05,
        0.030,
    ),
    ("TIP", "iShares TIPS Bond ETF", "fixed_income", "USD", "Bonds", "North America", "US", 112.0, 0.00, 0.06, 0.028),
    (
        "SGOV",
        "iShares 0-3 Month Treasury Bond ETF",
        "cash_equivalent",
        "USD",
        "Treasury bills",
        "North America",
        "US",
        100.0,
        0.0,
        0.002,
        0.040,
    ),
    ("GLD", "SPDR Gold Shares", "alternative", "USD", "Commodities", "Global", "US", 114.0, 0.06, 0.14, 0.0),
    (
        "VNQ",
        "Vanguard Real Estate ETF",
        "alternative",
        "USD",
        "Real estate",
        "North America",
        "US",
        81.0,
        0.04,
        0.20,
        0.038,
    ),
    ("ASML", "ASML Holding N.V.", "equity", "EUR", "Technology", "Europe", "NL", 90.0, 0.20, 0.32, 0.009),
    ("SAP", "SAP SE", "equity", "EUR", "Technology", "Europe", "DE", 58.0, 0.12, 0.24, 0.012),
    ("SIE", "Siemens AG", "equity", "EUR", "Industrials", "Europe", "DE", 93.0, 0.07, 0.24, 0.025),
    ("NESN", "Nestlé S.A.", "equity", "CHF", "Consumer Staples", "Europe", "CH", 72.0, 0.04, 0.15, 0.028),
    ("SHEL", "Shell plc", "equity", "GBP", "Energy", "Europe", "GB", 22.0, 0.03, 0.27, 0.040),
    ("RY", "Royal Bank of Canada", "equity", "CAD", "Financials", "North America", "CA", 80.0, 0.07, 0.18, 0.040),
    (
        "7203",
        "Toyota Motor Corp.",
        "equity",
        "JPY",
        "Consumer Discretionary",
        "Asia Pacific",
        "JP",
        1500.0,
        0.08,
        0.25,
        0.025,
    ),
]
FX_START = {"EUR": 1.20, "GBP": 1.55, "CHF": 1.00, "CAD": 0.86, "JPY": 0.0083}
FX_VOL = 0.07

# symbol, name, currency, annual drift, vol, weight of the market factor
BENCHMARKS = [
    ("SPX-DEMO", "Demo US equity index", "USD", 0.08, 0.16, 1.0),
    ("AGG-DEMO", "Demo US aggregate bond index", "USD", 0.02, 0.05, -0.2),
]
CURRENCIES = ["USD", *FX_START]
_EPOCH_2000 = np.datetime64("2000-01-01", "D")


def _business_days(start: date, end: date) -> np.ndarray:
    return performance.business_days(start, end)


def _quote_paths(end: date) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(days, closes[days, securities], usd_per_unit[days, currencies], benchmark levels[days, n])
    from EPOCH to ``end``.

    The draws are taken row by row from a fixed seed, so a day's quotes never depend on ``end``.
    Returns follow one market factor plus an idiosyncratic part (correlated walks); the equity
    benchmark follows the market factor, the bond benchmark its own draws, slightly against it.
    """
    days = _business_days(EPOCH, end)
    rng = np.random.default_rng(QUOTE_SEED)
    shocks = rng.standard_normal((len(days), len(SECURITIES) + 1 + len(FX_START)))
    dt = 1 / 252
    market = shocks[:, 0]
    start = np.array([s[7] for s in SECURITIES])
    drift = np.array([s[8] for s in SECURITIES])
    vol = np.array([s[9] for s in SECURITIES])
    beta = np.where(vol > 0.1, 0.8, 0.2)
    z = beta * market[:, None] + np.sqrt(1 - beta**2) * shocks[:, 1 : len(SECURITIES) + 1]
    log_returns = (drift - vol**2 / 2) * dt + vol * np.sqrt(dt) * z
    closes = start * np.exp(np.cumsum(log_returns, axis=0))
    fx_shocks = shocks[:, len(SECURITIES) + 1 :]
    fx = np.array(list(FX_START.values())) * np.exp(np.cumsum(FX_VOL * np.sqrt(dt) * fx_shocks, axis=0))
    own = np.random.default_rng(QUOTE_SEED + 1).standard_normal((len(days), len(BENCHMARKS)))
    weight = np.array([b[5] for b in BENCHMARKS])
    bz = weight * market[:, None] + np.sqrt(1 - weight**2) * own
    b_drift, b_vol = np.array([b[3] for b in BENCHMARKS]), np.array([b[4] for b in BENCHMARKS])
    levels = 1000.0 * np.exp(np.cumsum((b_drift - b_vol**2 / 2) * dt + b_vol * np.sqrt(dt) * bz, axis=0))
    return days, closes, fx, levels


def seed_reference_data(*, start: date, end: date) -> tuple[list[Security], np.ndarray, np.ndarray, np.ndarray]:
    """Create the securities and benchmarks (once) and their prices, FX rates and levels for
    [start, end] (missing days only). Returns (securities, days, closes, usd per unit)."""
    existing = set(Security.objects.filter(symbol__in=[s[0] for s in SECURITIES]).values_list("symbol", flat=True))
    Security.objects.bulk_create(
        [
            Security(symbol=s[0], name=s[1], asset_class=s[2], currency=s[3], sector=s[4], region=s[5], country=s[6])
            for s in SECURITIES
            if s[0] not in existing
        ],
        ignore_conflicts=True,
    )
    Benchmark.objects.bulk_create(
        [Benchmark(symbol=b[0], name=b[1], currency=b[2]) for b in BENCHMARKS], ignore_conflicts=True
    )
    by_symbol = {s.symbol: s for s in Security.objects.filter(symbol__in=[s[0] for s in SECURITIES])}
    securities = [by_symbol[s[0]] for s in SECURITIES]
    benchmarks = dict(Benchmark.objects.filter(symbol__in=[b[0] for b in BENCHMARKS]).values_list("symbol", "pk"))
    days, closes, fx, levels = _quote_paths(end)
    window = days >= np.datetime64(start, "D")
    days, closes, fx = days[window], np.round(closes[window], 4), np.round(fx[window], 8)
    levels = np.round(levels[window], 4)
    dates = [d.item() for d in days]
    SecurityPrice.objects.bulk_create(
        [
            SecurityPrice(security=security, date=day, close=Decimal(str(closes[i, j])))
            for j, security in enumerate(securities)
            for i, day in enumerate(dates)
        ],
        ignore_conflicts=True,
        batch_size=5000,
    )
    FxRate.objects.bulk_create(
        [
            FxRate(currency=currency, date=day, rate_to_usd=Decimal(str(fx[i, j])))
            for j, currency in enumerate(FX_START)
            for i, day in enumerate(dates)
        ],
        ignore_conflicts=True,
        batch_size=5000,
    )
    BenchmarkValue.objects.bulk_create(
        [
            BenchmarkValue(benchmark_id=benchmarks[b[0]], date=day, level=Decimal(str(levels[i, j])))
            for j, b in enumerate(BENCHMARKS)
            for i, day in enumerate(dates)
        ],
        ignore_conflicts=True,
        batch_size=5000,
    )
    return securities, days, closes, fx


# --- The vectorised books ------------------------------------------------------------------------

KINDS = ["deposit", "withdrawal", "buy", "sell", "dividend", "interest", "fee"]
DEPOSIT, WITHDRAWAL, BUY, SELL, DIVIDEND, INTEREST, FEE = range(len(KINDS))
_COUNTERPART = {DEPOSIT: "external", WITHDRAWAL: "external", DIVIDEND: "income", INTEREST: "income", FEE: "fees"}
LEDGER = ["cash", "securities", "external", "income", "fees", "realized"]
_FIELDS = ("acct", "day", "kind", "sec", "qty", "price", "amount", "cost", "realized", "ccy")


def _half_up(numerator: np.ndarray, denominator: np.ndarray | int) -> np.ndarray:
    """numerator / denominator rounded half away from zero, in integers (denominator > 0)."""
    sign = np.where(numerator < 0, -1, 1)
    return sign * ((np.abs(numerator) * 2 + denominator) // (2 * np.asarray(denominator)))


class _Books:
    """Every account's cash and holdings as arrays, and the transactions that made them."""

    def __init__(self, n_accounts: int, sec_ccy: np.ndarray, price_e4: np.ndarray) -> None:
        self.sec_ccy = sec_ccy  # currency index of each security
        self.price_e4 = price_e4  # [days, securities] closes in 1/10,000 of the currency
        self.minor = np.array([formats.minor_units(c) for c in CURRENCIES])
        self.cash = np.zeros((n_accounts, len(CURRENCIES)), dtype=np.int64)  # minor units
        self.qty = np.zeros((n_accounts, len(sec_ccy)), dtype=np.int64)
        self.cost = np.zeros((n_accounts, len(sec_ccy)), dtype=np.int64)  # minor units of the security
        self.realized = np.zeros((n_accounts, len(sec_ccy)), dtype=np.int64)
        self.traded = np.zeros((n_accounts, len(sec_ccy)), dtype=bool)
        self.rows: dict[str, list[np.ndarray]] = {name: [] for name in _FIELDS}

    def _add(self, **columns: Any) -> None:
        n = len(columns["acct"])
        if n == 0:
            return
        for name in _FIELDS:
            value = columns.get(name, 0)
            self.rows[name].append(np.broadcast_to(np.asarray(value, dtype=np.int64), (n,)).copy())

    def cash_event(self, kind: int, acct: np.ndarray, day: np.ndarray, ccy: np.ndarray, amount: np.ndarray) -> None:
        """Deposits, withdrawals, interest, fees and dividends (``amount`` signed, minor units)."""
        keep = amount != 0
        acct, day, ccy, amount = acct[keep], np.broadcast_to(day, keep.shape)[keep], ccy[keep], amount[keep]
        np.add.at(self.cash, (acct, ccy), amount)
        self._add(acct=acct, day=day, kind=kind, sec=-1, ccy=ccy, amount=amount)

    def dividend(self, acct: np.ndarray, sec: np.ndarray, day: int, amount: np.ndarray) -> None:
        keep = amount > 0
        acct, sec, amount = acct[keep], sec[keep], amount[keep]
        np.add.at(self.cash, (acct, self.sec_ccy[sec]), amount)
        self._add(acct=acct, day=day, kind=DIVIDEND, sec=sec, ccy=self.sec_ccy[sec], amount=amount)

    def trade_amount(self, sec: np.ndarray, day: np.ndarray, qty: np.ndarray) -> np.ndarray:
        """quantity * close rounded once, half up, to the minor unit of the security's currency."""
        scale = 10 ** (4 - self.minor[self.sec_ccy[sec]])
        return _half_up(qty * self.price_e4[day, sec], scale)

    def buy(self, acct: np.ndarray, sec: np.ndarray, day: np.ndarray, budget: np.ndarray) -> None:
        """Buy whole shares (lots of 100 in JPY) for up to ``budget`` (minor units) each."""
        ccy = self.sec_ccy[sec]
        scale = 10 ** (4 - self.minor[ccy])
        qty = (budget * scale) // self.price_e4[day, sec]
        qty = np.where(CURRENCIES.index("JPY") == ccy, qty // 100 * 100, qty)
        amount = self.trade_amount(sec, day, qty)
        keep = (qty > 0) & (amount <= self.cash[acct, ccy])
        acct, sec, day, qty, amount, ccy = acct[keep], sec[keep], day[keep], qty[keep], amount[keep], ccy[keep]
        # One buy per (account, currency) at a time keeps the cash check exact: buys of one call
        # share a currency's budget only as fractions that sum to less than its cash.
        np.add.at(self.cash, (acct, ccy), -amount)
        np.add.at(self.qty, (acct, sec), qty)
        np.add.at(self.cost, (acct, sec), amount)
        self.traded[acct, sec] = True
        self._add(acct=acct, day=day, kind=BUY, sec=sec, qty=qty, price=self.price_e4[day, sec], amount=-amount,
                  cost=amount, ccy=ccy)  # fmt: skip

    def sell(self, acct: np.ndarray, sec: np.ndarray, day: np.ndarray, qty: np.ndarray) -> None:
        """Sell ``qty`` (≤ held) at the close; average cost relieved half up, all of it on a full sale."""
        held, cost = self.qty[acct, sec], self.cost[acct, sec]
        relieved = np.where(qty >= held, cost, _half_up(cost * qty, held))
        amount = self.trade_amount(sec, day, qty)
        gain = amount - relieved
        ccy = self.sec_ccy[sec]
        self.cash[acct, ccy] += amount
        self.qty[acct, sec] -= qty
        self.cost[acct, sec] -= relieved
        self.realized[acct, sec] += gain
        self._add(acct=acct, day=day, kind=SELL, sec=sec, qty=-qty, price=self.price_e4[day, sec], amount=amount,
                  cost=-relieved, realized=gain, ccy=ccy)  # fmt: skip

    def transactions(self) -> dict[str, np.ndarray]:
        """All rows, in order of account, day and generation."""
        columns = {name: np.concatenate(parts) if parts else np.zeros(0, np.int64) for name, parts in self.rows.items()}
        order = np.lexsort((np.arange(len(columns["acct"])), columns["day"], columns["acct"]))
        return {name: values[order] for name, values in columns.items()}


def _simulate(
    rng: np.random.Generator, n: int, base: np.ndarray, start: np.ndarray, days: np.ndarray, closes: np.ndarray
) -> _Books:
    """Deposits (some in a second currency) and a diversified purchase on each account's first day;
    then monthly credit interest, quarterly dividends and advisory fees, and now and then a deposit,
    a withdrawal or a sale followed by purchases."""
    sec_ccy = np.array([CURRENCIES.index(s[3]) for s in SECURITIES])
    yields = np.array([s[10] for s in SECURITIES])
    books = _Books(n, sec_ccy, np.round(closes * 10_000).astype(np.int64))
    minor = books.minor
    n_sec = len(SECURITIES)
    months = days.astype("datetime64[M]")
    month_first = np.flatnonzero(np.r_[True, months[1:] != months[:-1]])
    month_last = np.r_[month_first[1:] - 1, len(days) - 1]
    start_month = np.searchsorted(month_first, start, side="right") - 1
    # Cash currencies: the base, plus a second one for some accounts (USD for non-USD bases).
    second = np.where(base != 0, 0, rng.integers(1, len(CURRENCIES), n))
    has_second = (base != 0) | (rng.random(n) < 0.3)
    allowed = (sec_ccy[None, :] == base[:, None]) | (has_second[:, None] & (sec_ccy[None, :] == second[:, None]))
    picks = int(np.max(allowed.sum(axis=1)))
    scores = np.where(allowed, rng.random((n, n_sec)), -1.0)
    ranked = np.argsort(-scores, axis=1)
    want = np.minimum(rng.integers(4, 11, n), allowed.sum(axis=1))
    chosen = np.zeros((n, n_sec), dtype=bool)
    for k in range(picks):
        rows = np.flatnonzero(want > k)
        chosen[rows, ranked[rows, k]] = True
    weights = np.where(chosen, rng.gamma(1.0, 1.0, (n, n_sec)), 0.0)
    weights /= weights.sum(axis=1, keepdims=True)

    def to_minor(major: np.ndarray, ccy: np.ndarray) -> np.ndarray:
        return np.floor(major * 10.0 ** minor[ccy] + 0.5).astype(np.int64)

    def buy_weights(acct: np.ndarray, day: np.ndarray, w: np.ndarray, share: float) -> None:
        rows, secs = np.nonzero(w > 0)
        a = acct[rows]
        budget = np.floor(books.cash[a, sec_ccy[secs]] * share * w[rows, secs]).astype(np.int64)
        books.buy(a, secs, day[rows], budget)

    initial = rng.lognormal(12.2, 1.0, n) + 5000
    extra = rng.uniform(20_000, 150_000, n) * 0.5
    for m in range(len(month_first)):
        first, last = month_first[m], month_last[m]
        calendar_month = int(str(months[first])[5:7])
        starting = np.flatnonzero(start_month == m)
        if len(starting):
            day = start[starting]
            books.cash_event(DEPOSIT, starting, day, base[starting], to_minor(initial[starting], base[starting]))
            with_second = starting[has_second[starting]]
            fx_start = np.array([1.0, *FX_START.values()])[second[with_second]]
            books.cash_event(DEPOSIT, with_second, start[with_second], second[with_second],
                             to_minor(extra[with_second] / fx_start, second[with_second]))  # fmt: skip
            buy_weights(starting, start[starting], weights[starting], 0.9)
        running = np.flatnonzero(start_month < m)
        if not len(running):
            continue
        # Credit interest on every positive balance, on the month's first business day.
        acct, ccy = np.nonzero(books.cash[running] > 0)
        acct = running[acct]
        books.cash_event(INTEREST, acct, first, ccy, np.floor(books.cash[acct, ccy] * 0.02 / 12 + 0.5).astype(np.int64))
        prices = closes[first]
        if calendar_month % 3 == 0:
            acct, sec = np.nonzero(books.qty[running] > 0)
            acct = running[acct]
            major = books.qty[acct, sec] * prices[sec] * yields[sec] / 4
            books.dividend(acct, sec, first, to_minor(major, sec_ccy[sec]))
        if calendar_month % 3 == 1:
            in_base = sec_ccy[None, :] == base[running, None]
            value = (books.qty[running] * prices[None, :] * in_base).sum(axis=1) * 10.0 ** minor[base[running]]
            cash = books.cash[running, base[running]]
            fee = np.floor((value + cash) * 0.01 / 4 + 0.5).astype(np.int64)
            ok = (fee > 0) & (fee <= cash)
            books.cash_event(FEE, running[ok], first, base[running[ok]], -fee[ok])
        if last <= first:
            continue
        # Now and then, on a day later in the month: a deposit, a withdrawal, or a sale and purchases.
        roll = rng.random(len(running))
        when = rng.integers(first + 1, last + 1, len(running))
        dep = roll < 0.08
        books.cash_event(DEPOSIT, running[dep], when[dep], base[running[dep]],
                         to_minor(rng.lognormal(9.5, 1.0, int(dep.sum())), base[running[dep]]))  # fmt: skip
        cash = books.cash[running, base[running]]
        out = (roll >= 0.08) & (roll < 0.12) & (cash > 1000 * 10 ** minor[base[running]])
        share = rng.uniform(0.1, 0.5, len(running))
        books.cash_event(WITHDRAWAL, running[out], when[out], base[running[out]],
                         -np.floor(cash[out] * share[out]).astype(np.int64))  # fmt: skip
        trade = (roll >= 0.12) & (roll < 0.22)
        held = books.qty[running] > 0
        pick = np.argmax(np.where(held, rng.random((len(running), n_sec)), -1.0), axis=1)
        trade &= held.any(axis=1)
        acct, sec, day = running[trade], pick[trade], when[trade]
        fraction = np.round(rng.uniform(0.2, 1.0, len(acct)), 2)
        qty = np.clip(np.floor(books.qty[acct, sec] * fraction + 0.5).astype(np.int64), 1, books.qty[acct, sec])
        books.sell(acct, sec, day, qty)
        rebuy = np.zeros((len(acct), n_sec))
        for _ in range(2):
            rebuy[np.arange(len(acct)), np.argmax(np.where(allowed[acct], rng.random((len(acct), n_sec)), -1.0), 1)] = (
                0.5
            )
        buy_weights(acct, day, rebuy, 0.5)
    return books


# --- Seeding a firm -------------------------------------------------------------------------------


def seed_portfolios(
    *,
    firm: Any,
    accounts: int = 30,
    years: int = 1,
    seed: int = 20261121,
    end: date | None = None,
    log: Callable[[str], None] | None = None,
) -> int:
    """Build ``accounts`` client accounts (plus the master account) for the firm in scope, owned by
    its active contacts, with ``years`` of activity and their daily values. Does nothing if the
    firm already has accounts or ``accounts`` is 0. Returns the number of accounts created."""
    firm_id = require_firm_id()
    assert firm_id == getattr(firm, "pk", firm), "seed_portfolios runs inside firm_scope(firm)"
    say = log or (lambda message: None)
    if accounts < BULK_ACCOUNTS:
        with transaction.atomic():
            return _seed(firm, firm_id, accounts, years, seed, end, say, bulk=False)
    return _seed(firm, firm_id, accounts, years, seed, end, say, bulk=True)


def _seed(
    firm: Any, firm_id: int, accounts: int, years: int, seed: int, end: date | None, say: Callable[[str], None],
    *, bulk: bool,
) -> int:  # fmt: skip
    if accounts <= 0 or ClientAccount.objects.exists():
        return 0
    clock = time.perf_counter()
    end = end or date.today() - timedelta(days=1)
    start = end - timedelta(days=round(365.25 * years))
    securities, days, closes, _ = seed_reference_data(start=start, end=end)
    if len(days) < 2:
        return 0
    rng = np.random.default_rng(seed)
    # The demo reads the contacts directly: it runs in a firm scope with no user, so the CRM's
    # selectors (which apply a user's scope) would return none.
    contacts = list(
        Contact.objects.filter(status="active").order_by("pk").annotate(household=Min("households"))
        .values_list("pk", "first_name", "last_name", "household")
    )  # fmt: skip
    ClientAccount(
        firm_id=firm_id,
        number="MA000001",
        title=f"{getattr(firm, 'name', 'Firm')} master account",
        account_type=AccountType.MASTER,
        is_master=True,
        inception_date=start,
        margin_type=MarginType.CASH,
    ).save()
    if not contacts:
        return 1
    kinds = [t for t in AccountType.values if t != AccountType.MASTER]
    kind = rng.integers(0, len(kinds), accounts)
    base = np.where(
        rng.random(accounts) < 0.9, 0, rng.choice([CURRENCIES.index("EUR"), CURRENCIES.index("CAD")], accounts)
    )
    start_index = rng.integers(0, max(1, len(days) // 5), accounts)
    restricted = rng.random(accounts) >= 0.95
    margin = rng.random(accounts) >= 0.8
    owner = [contacts[i % len(contacts)] for i in range(accounts)]
    plan = [
        ClientAccount(
            firm_id=firm_id,
            number=f"U{7_100_001 + i}",
            title=f"{owner[i][1]} {owner[i][2]} {AccountType(kinds[kind[i]]).label}",
            account_type=kinds[kind[i]],
            base_currency=CURRENCIES[base[i]],
            status=AccountStatus.RESTRICTED if restricted[i] else AccountStatus.OPEN,
            margin_type=MarginType.MARGIN if margin[i] else MarginType.CASH,
            trading_permissions=[TradingPermission.STOCKS, TradingPermission.FUNDS, TradingPermission.BONDS],
            household_id=owner[i][3],
            inception_date=days[start_index[i]].item(),
        )
        for i in range(accounts)
    ]  # fmt: skip
    ClientAccount.objects.bulk_create(plan, batch_size=5000)
    AccountOwner.objects.bulk_create(
        (
            AccountOwner(firm_id=firm_id, account=account, contact_id=owner[i][0], role=OwnerRole.PRIMARY)
            for i, account in enumerate(plan)
        ),
        batch_size=5000,
    )  # fmt: skip
    say(f"{accounts} accounts created in {time.perf_counter() - clock:.1f} s")
    books = _simulate(rng, accounts, base, start_index, days, closes)
    rows = books.transactions()
    say(f"{len(rows['acct'])} transactions generated in {time.perf_counter() - clock:.1f} s")
    account_ids = np.array([a.pk for a in plan], dtype=np.int64)
    if bulk:
        with transaction.atomic(using="owner"), connections["owner"].cursor() as cursor:
            cursor.execute("SELECT set_config('app.firm_id', %s, true)", [str(firm_id)])
            # The balance trigger aggregates each batch's postings and adding a foreign key back
            # joins whole tables: in memory, not in batches spilled to disk.
            cursor.execute("SET LOCAL work_mem = '256MB'")
            tables = [Transaction, LedgerEntry, LedgerPosting, Position]
            with (
                foreign_keys_checked_at_end(cursor, tables, log=say),
                _balance_checked_at_end(cursor, firm_id, log=say),
            ):
                _load(firm_id, account_ids, [s.pk for s in securities], days, rows, books, log=say, using="owner")
            # Fresh statistics, or the planner guesses on millions of new rows (the recompute that follows
            # probed each account's first trade by a sequential scan).
            phase = time.perf_counter()
            for model in (Transaction, LedgerEntry, LedgerPosting, Position, ClientAccount):
                cursor.execute(f"ANALYZE {model._meta.db_table}")
            say(f"tables analyzed in {time.perf_counter() - phase:.1f} s")
            phase = time.perf_counter()
        say(f"load committed in {time.perf_counter() - phase:.1f} s")
    else:
        _load(firm_id, account_ids, [s.pk for s in securities], days, rows, books, log=say, using="default")
    say(f"transactions, ledger and positions loaded in {time.perf_counter() - clock:.1f} s")
    phase = time.perf_counter()
    result = performance.recompute_full(account_ids=account_ids.tolist(), end=end)
    steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in result.seconds.items())
    say(f"daily values computed in {time.perf_counter() - phase:.1f} s with COMMIT ({steps})")
    phase = time.perf_counter()
    days_summed = aum.refresh()  # what the task queued after the recompute does, here at once
    say(f"AUM sums: {days_summed} days in {time.perf_counter() - phase:.1f} s")
    say(f"portfolios seeded in {time.perf_counter() - clock:.1f} s")
    return accounts + 1


# --- Loading with COPY ------------------------------------------------------------------------------

_DESCRIPTION = (
    "CASE s.kind WHEN 1 THEN 'Deposit' WHEN 2 THEN 'Withdrawal' "
    "WHEN 3 THEN 'Bought ' || s.qty || ' ' || sec.symbol WHEN 4 THEN 'Sold ' || -s.qty || ' ' || sec.symbol "
    "WHEN 5 THEN sec.symbol || ' dividend' WHEN 6 THEN 'Credit interest' ELSE 'Advisory fee' END"
)


def _copy_in(columns: list[tuple[str, str, np.ndarray]], using: str) -> str:
    """Equal-length int4/int8/date columns (no NULLs) encoded as binary COPY rows by numpy and
    staged (``advisorportal.bulk.stage``); returns the staged table. Dates are given as PostgreSQL
    day numbers (days since 2000-01-01)."""
    sql_types = {"i4": "int4", "i8": "int8", "date": "date"}
    widths = {"i4": ">i4", "i8": ">i8", "date": ">i4"}
    layout = [("n", ">i2")]
    for name, kind, _ in columns:
        layout += [(f"{name}_len", ">i4"), (name, widths[kind])]
    out = np.zeros(len(columns[0][2]), dtype=np.dtype(layout))
    out["n"] = len(columns)
    for name, kind, values in columns:
        out[f"{name}_len"] = 4 if widths[kind] == ">i4" else 8
        out[name] = values
    data = memoryview(out.tobytes())
    chunks = (data[offset : offset + (1 << 24)] for offset in range(0, len(data), 1 << 24))
    with connections[using].cursor() as cursor:
        return stage(cursor, [(name, sql_types[kind]) for name, kind, _ in columns], chunks, binary=True)


def _reserve_ids(model: type[Any], count: int, using: str) -> np.ndarray:
    """``count`` fresh ids from the table's own sequence; on the owner connection (the large path)
    consecutive, reserved in one step under a table lock (``next_ids``)."""
    ids = next_ids(model, count, using=using, lock_table=using == "owner")
    if isinstance(ids, range):
        return np.arange(ids.start, ids.stop, dtype=np.int64)
    return np.asarray(ids, dtype=np.int64)


def _load(
    firm_id: int,
    account_ids: np.ndarray,
    security_ids: list[int],
    days: np.ndarray,
    rows: dict[str, np.ndarray],
    books: _Books,
    *,
    log: Callable[[str], None],
    using: str,
) -> None:
    n = len(rows["acct"])
    tx_ids = _reserve_ids(Transaction, n, using)
    entry_ids = _reserve_ids(LedgerEntry, n, using)
    pg_day = (days - _EPOCH_2000).astype(np.int64)
    trade = pg_day[rows["day"]]
    settle = trade + np.where(np.isin(rows["kind"], [BUY, SELL]), 2, 0)
    seq = np.arange(n) - np.searchsorted(rows["acct"], rows["acct"]) + 1  # per-account running number
    scale = [str(Decimal(1).scaleb(formats.minor_units(c))) for c in CURRENCIES]
    params: dict[str, Any] = {
        "firm": firm_id,
        "kinds": KINDS,
        "securities": security_ids,
        "currencies": CURRENCIES,
        "scale": scale,
    }
    tx_table, entry_table = Transaction._meta.db_table, LedgerEntry._meta.db_table
    posting_table, account_table = LedgerPosting._meta.db_table, ClientAccount._meta.db_table
    security_table = Security._meta.db_table
    bounds = np.searchsorted(rows["acct"], np.arange(0, len(account_ids) + ACCOUNT_BATCH, ACCOUNT_BATCH))
    spent = _Phases()
    for lo, hi in itertools.pairwise(bounds.tolist()):
        if lo == hi:
            continue
        part = slice(lo, hi)
        with spent("COPY transactions"):
            tx_stage = _copy_in([
                ("id", "i8", tx_ids[part]), ("entry_id", "i8", entry_ids[part]),
                ("account_id", "i8", account_ids[rows["acct"][part]]), ("trade_date", "date", trade[part]),
                ("settle_date", "date", settle[part]), ("kind", "i4", rows["kind"][part] + 1),
                ("sec", "i4", rows["sec"][part] + 1), ("qty", "i8", rows["qty"][part]),
                ("price", "i8", rows["price"][part]),
                ("amount", "i8", rows["amount"][part]), ("cost", "i8", rows["cost"][part]),
                ("realized", "i8", rows["realized"][part]), ("ccy", "i4", rows["ccy"][part] + 1),
                ("seq", "i4", seq[part]),
            ], using)  # fmt: skip
        with spent("INSERT transactions"), connections[using].cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {tx_table} (id, firm_id, account_id, trade_date, settle_date, kind, security_id, quantity,
                    price, amount, cost_change, realized_gain, currency, description, external_id, created_at)
                SELECT s.id, %(firm)s, s.account_id, s.trade_date, s.settle_date, (%(kinds)s::text[])[s.kind],
                    sec.id, s.qty, NULLIF(s.price, 0) / 10000.0,
                    s.amount / (%(scale)s::numeric[])[s.ccy], s.cost / (%(scale)s::numeric[])[s.ccy],
                    s.realized / (%(scale)s::numeric[])[s.ccy], (%(currencies)s::text[])[s.ccy], {_DESCRIPTION},
                    'demo-' || a.number || '-' || s.seq, now()
                FROM {tx_stage} s
                JOIN {account_table} a ON a.firm_id = %(firm)s AND a.id = s.account_id
                LEFT JOIN {security_table} sec ON sec.id = (%(securities)s::bigint[])[NULLIF(s.sec, 0)]
                ORDER BY s.id
                """,  # noqa: S608 - model metadata
                params,
            )
        with spent("INSERT ledger entries"), connections[using].cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {entry_table} (id, firm_id, account_id, transaction_id, memo, created_at)
                SELECT s.entry_id, %(firm)s, s.account_id, s.id, {_DESCRIPTION}, now()
                FROM {tx_stage} s
                LEFT JOIN {security_table} sec ON sec.id = (%(securities)s::bigint[])[NULLIF(s.sec, 0)]
                ORDER BY s.entry_id
                """,  # noqa: S608 - model metadata
                params,
            )
        with spent("COPY postings"):
            posting_stage = _load_postings(
                entry_ids[part], account_ids[rows["acct"][part]], {k: v[part] for k, v in rows.items()}, using
            )
        with spent("INSERT postings"), connections[using].cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {posting_table} (firm_id, entry_id, account_id, ledger_account, currency, amount)
                SELECT %(firm)s, p.entry_id, p.account_id, (%(ledger)s::text[])[p.ledger],
                    (%(currencies)s::text[])[p.ccy], p.amount / (%(scale)s::numeric[])[p.ccy]
                FROM {posting_stage} p ORDER BY p.entry_id
                """,  # noqa: S608 - model metadata
                {**params, "ledger": LEDGER},
            )
        log(f"loaded {hi} of {n} transactions with their ledger entries")
    with spent("positions"):
        _load_positions(firm_id, account_ids, security_ids, books, using)
    log("; ".join(f"{name} {seconds:.1f} s" for name, seconds in spent.seconds.items()))


class _Phases:
    """Seconds spent per named step, summed over the batches (for the load's log)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        clock = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - clock


def _load_postings(entry_ids: np.ndarray, account_ids: np.ndarray, rows: dict[str, np.ndarray], using: str) -> str:
    """The legs of ``accounting.ledger_legs`` for every transaction, staged; legs of zero are left out."""
    kind, amount, cost, realized = rows["kind"], rows["amount"], rows["cost"], rows["realized"]
    counterpart = np.full(len(kind), LEDGER.index("securities"))
    for code, name in _COUNTERPART.items():
        counterpart[kind == code] = LEDGER.index(name)
    trade = np.isin(kind, [BUY, SELL])
    legs = [
        (np.full(len(kind), LEDGER.index("cash")), amount),
        (counterpart, np.where(trade, cost, -amount)),
        (np.full(len(kind), LEDGER.index("realized")), np.where(trade, -realized, 0)),
    ]
    ledger = np.concatenate([leg[0] for leg in legs])
    value = np.concatenate([leg[1] for leg in legs])
    entry = np.tile(entry_ids, 3)
    keep = value != 0
    order = np.argsort(entry[keep], kind="stable")
    return _copy_in([
        ("entry_id", "i8", entry[keep][order]), ("account_id", "i8", np.tile(account_ids, 3)[keep][order]),
        ("ledger", "i4", ledger[keep][order] + 1), ("ccy", "i4", np.tile(rows["ccy"], 3)[keep][order] + 1),
        ("amount", "i8", value[keep][order]),
    ], using)  # fmt: skip


def _load_positions(firm_id: int, account_ids: np.ndarray, security_ids: list[int], books: _Books, using: str) -> None:
    acct, sec = np.nonzero(books.traded)
    position_stage = _copy_in([
        ("account_id", "i8", account_ids[acct]), ("sec", "i4", sec + 1), ("qty", "i8", books.qty[acct, sec]),
        ("cost", "i8", books.cost[acct, sec]), ("realized", "i8", books.realized[acct, sec]),
        ("ccy", "i4", books.sec_ccy[sec] + 1),
    ], using)  # fmt: skip
    scale = [str(Decimal(1).scaleb(formats.minor_units(c))) for c in CURRENCIES]
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Position._meta.db_table} (firm_id, account_id, security_id, quantity, cost_basis,
                realized_gain, currency)
            SELECT %(firm)s, p.account_id, (%(securities)s::bigint[])[p.sec], p.qty,
                p.cost / (%(scale)s::numeric[])[p.ccy], p.realized / (%(scale)s::numeric[])[p.ccy],
                (%(currencies)s::text[])[p.ccy]
            FROM {position_stage} p
            """,  # noqa: S608 - model metadata
            {"firm": firm_id, "securities": security_ids, "scale": scale, "currencies": CURRENCIES},
        )


@contextmanager
def _balance_checked_at_end(cursor: Any, firm_id: int, *, log: Callable[[str], None]) -> Iterator[None]:
    """Check that every new ledger entry balances once, after the load, instead of once per INSERT
    (the statement trigger of migration 0002 aggregates each batch's postings: a minute at 11
    million postings). The trigger is off only inside the caller's owner transaction, which fails
    and rolls back if any entry does not balance."""
    table = LedgerPosting._meta.db_table
    cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")  # noqa: S608 - model metadata
    (before,) = cursor.fetchone()
    cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER portfolios_postings_balance")
    yield
    clock = time.perf_counter()
    cursor.execute(
        f"SELECT entry_id, currency, sum(amount) FROM {table} WHERE firm_id = %s AND id > %s "  # noqa: S608
        "GROUP BY entry_id, currency HAVING sum(amount) <> 0 LIMIT 1",
        [firm_id, before],
    )
    bad = cursor.fetchone()
    if bad:
        raise ValueError(f"ledger entry {bad[0]} does not balance in {bad[1]}: its postings sum to {bad[2]}")
    cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER portfolios_postings_balance")
    log(f"every new ledger entry balances (checked in {time.perf_counter() - clock:.1f} s)")


def delete_portfolios(*, firm: Any) -> None:
    """Remove the firm's portfolio data (for ``seed_demo --reset``). Ledger tables are append-only
    for the application role, so this runs on the owner connection; RLS still confines it to the
    firm in scope."""
    firm_id = require_firm_id()
    assert firm_id == getattr(firm, "pk", firm)
    if not ClientAccount.objects.exists():
        return
    models = (
        DailySeries,
        SeriesState,
        SeriesChange,
        Position,
        CashHold,
        AccountTransfer,
        LedgerPosting,
        LedgerEntry,
        Transaction,
        AccountOwner,
        ClientAccount,
    )
    tables = [m._meta.db_table for m in models]
    append_only = [m._meta.db_table for m in models if getattr(m, "append_only", False)]
    with transaction.atomic(using="owner"), connections["owner"].cursor() as cursor:
        # ALTER TABLE waits for every open transaction that wrote these tables, including one of
        # this very process on the default connection: fail after a while rather than hang.
        cursor.execute("SET LOCAL lock_timeout = '10s'")
        # The append-only trigger refuses DELETE even to the owner; DDL is transactional, so the
        # trigger is back on at COMMIT (or ROLLBACK) whatever happens.
        for table in append_only:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER append_only")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        for table in tables:
            cursor.execute(f"DELETE FROM {table} WHERE firm_id = %s", [firm_id])  # noqa: S608 - model metadata
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # run the deferred checks before ALTER TABLE
        for table in append_only:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER append_only")
