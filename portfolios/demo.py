"""Deterministic demo portfolios: securities, prices, FX, client accounts and their activity.

Securities, prices and FX rates are shared reference data: they come from a fixed seed and a
fixed epoch, so every firm and every run sees the same quotes for the same day, and a run for
more years only adds older days. Accounts and transactions come from the caller's seed. Every
transaction is written with its balanced ledger entry (the same rules as the services, from
``portfolios.accounting``) and positions, then daily values are computed.

Bulk inserts go through ``bulk_create`` in chunks; the 20k-account, 5-year firm of the issue
wants the INSERT … SELECT FROM unnest(arrays) path that ``performance`` already uses for daily
values (COPY is not allowed on tables with row-level security).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import connections, transaction

from advisorportal.tenancy.context import require_firm_id
from crm import selectors as crm_selectors
from portfolios import accounting, performance
from portfolios.models import (
    AccountOwner,
    AccountStatus,
    AccountType,
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
    TradingPermission,
    Transaction,
)

EPOCH = date(2015, 1, 1)
QUOTE_SEED = 4_2424_2424
ENTRY_CHUNK = 2000
APPEND_ONLY_TABLES = {m._meta.db_table for m in (Transaction, LedgerEntry, LedgerPosting)}

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


def _business_days(start: date, end: date) -> np.ndarray:
    return performance.business_days(start, end)


def _quote_paths(end: date) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(days, closes[days, securities], usd_per_unit[days, currencies]) from EPOCH to ``end``.

    The draws are taken row by row from a fixed seed, so a day's quotes never depend on ``end``.
    Returns follow one market factor plus a sector-free idiosyncratic part (correlated walks).
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
    return days, closes, fx


def seed_reference_data(*, start: date, end: date) -> tuple[list[Security], np.ndarray, np.ndarray, np.ndarray]:
    """Create the securities (once) and their prices and FX rates for [start, end] (missing days only)."""
    existing = {s.symbol: s for s in Security.objects.filter(symbol__in=[s[0] for s in SECURITIES])}
    Security.objects.bulk_create(
        [
            Security(symbol=s[0], name=s[1], asset_class=s[2], currency=s[3], sector=s[4], region=s[5], country=s[6])
            for s in SECURITIES
            if s[0] not in existing
        ],
        ignore_conflicts=True,
    )
    by_symbol = {s.symbol: s for s in Security.objects.filter(symbol__in=[s[0] for s in SECURITIES])}
    securities = [by_symbol[s[0]] for s in SECURITIES]
    days, closes, fx = _quote_paths(end)
    window = days >= np.datetime64(start, "D")
    days, closes, fx = days[window], np.round(closes[window], 4), np.round(fx[window], 8)
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
    return securities, days, closes, fx


@dataclass
class _Book:
    """One account's activity as it is generated (mirrors what the services would write)."""

    account: ClientAccount
    cash: dict[str, Decimal] = field(default_factory=dict)
    held: dict[int, accounting.PositionState] = field(default_factory=dict)
    realized: dict[int, Decimal] = field(default_factory=dict)
    rows: list[tuple[Transaction, list[accounting.Leg]]] = field(default_factory=list)

    def record(
        self,
        *,
        kind: str,
        day: date,
        currency: str,
        amount: Decimal,
        security: Security | None = None,
        quantity: Decimal = Decimal(0),
        price: Decimal | None = None,
        description: str = "",
    ) -> None:
        state = self.held.get(security.pk, accounting.PositionState()) if security else accounting.PositionState()
        effect = accounting.cost_effect(
            kind=kind, state=state, quantity=quantity, amount=amount, currency=currency, transfer_cost=Decimal(0)
        )
        tx = Transaction(
            firm_id=self.account.firm_id,
            account=self.account,
            trade_date=day,
            settle_date=day + timedelta(days=2 if kind in {"buy", "sell"} else 0),
            kind=kind,
            security=security,
            quantity=quantity,
            price=price,
            amount=amount,
            cost_change=effect.cost_change,
            realized_gain=effect.realized_gain,
            currency=currency,
            description=description,
            external_id=f"demo-{self.account.number}-{len(self.rows) + 1}",
        )
        legs = accounting.ledger_legs(
            kind=kind,
            currency=currency,
            amount=amount,
            cost_change=effect.cost_change,
            realized_gain=effect.realized_gain,
        )
        self.rows.append((tx, legs))
        self.cash[currency] = self.cash.get(currency, Decimal(0)) + amount
        if security is not None:
            self.held[security.pk] = accounting.PositionState(
                quantity=state.quantity + quantity, cost_basis=state.cost_basis + effect.cost_change
            )
            self.realized[security.pk] = self.realized.get(security.pk, Decimal(0)) + effect.realized_gain


def _money(value: float, currency: str) -> Decimal:
    return accounting.round_money(Decimal(str(round(value, 6))), currency)


def _simulate(
    book: _Book,
    rng: np.random.Generator,
    securities: list[Security],
    days: np.ndarray,
    closes: np.ndarray,
    start_index: int,
) -> None:
    """Deposits, purchases, monthly interest, quarterly dividends and fees, some rebalancing."""
    base = book.account.base_currency
    foreign = [c for c in FX_START if c != base]
    first_day = days[start_index].item()
    book.record(
        kind="deposit",
        day=first_day,
        currency=base,
        amount=_money(rng.lognormal(12.2, 1.0) + 5000, base),
        description="Initial funding",
    )
    if rng.random() < 0.3:
        currency = str(rng.choice(foreign))
        book.record(
            kind="deposit",
            day=first_day,
            currency=currency,
            amount=_money(float(rng.uniform(20_000, 150_000)) / FX_START.get(currency, 1.0) * 0.5, currency),
            description=f"Funding in {currency}",
        )
    picks = rng.choice(len(securities), size=int(rng.integers(4, 11)), replace=False)
    weights = rng.dirichlet(np.ones(len(picks)))

    def buy(day_index: int, candidates: Iterable[int], share: float) -> None:
        day = days[day_index].item()
        available = dict(book.cash)
        for index, weight in zip(candidates, weights, strict=False):
            security = securities[int(index)]
            currency = security.currency
            budget = float(available.get(currency, 0)) * share * float(weight)
            price = float(closes[day_index, int(index)])
            quantity = int(budget / price) if currency != "JPY" else int(budget / price / 100) * 100
            if quantity <= 0:
                continue
            amount = _money(quantity * price, currency)
            if amount > book.cash.get(currency, Decimal(0)):
                continue
            book.record(
                kind="buy",
                day=day,
                currency=currency,
                amount=-amount,
                security=security,
                quantity=Decimal(quantity),
                price=Decimal(str(round(price, 4))),
                description=f"Bought {quantity} {security.symbol}",
            )

    buy(start_index, picks, 0.9)
    month = days[start_index].item().month
    for i in range(start_index + 1, len(days)):
        day = days[i].item()
        if day.month == month:
            continue
        month = day.month
        for currency, balance in sorted(book.cash.items()):
            interest = _money(float(balance) * 0.02 / 12, currency)
            if interest > 0:
                book.record(kind="interest", day=day, currency=currency, amount=interest, description="Credit interest")
        value = 0.0
        for security_index, security in enumerate(securities):
            state = book.held.get(security.pk)
            if state is None or state.quantity <= 0:
                continue
            market = float(state.quantity) * float(closes[i, security_index])
            value += market if security.currency == base else 0.0
            dividend_yield = SECURITIES[security_index][10]
            if month % 3 == 0 and dividend_yield > 0:
                amount = _money(market * dividend_yield / 4, security.currency)
                if amount > 0:
                    book.record(
                        kind="dividend",
                        day=day,
                        currency=security.currency,
                        amount=amount,
                        security=security,
                        description=f"{security.symbol} dividend",
                    )
        if month % 3 == 1:
            fee = _money((value + float(book.cash.get(base, 0))) * 0.01 / 4, base)
            if 0 < fee <= book.cash.get(base, Decimal(0)):
                book.record(kind="fee", day=day, currency=base, amount=-fee, description="Advisory fee")
        roll = rng.random()
        if roll < 0.08:
            book.record(
                kind="deposit",
                day=day,
                currency=base,
                amount=_money(rng.lognormal(9.5, 1.0), base),
                description="Deposit",
            )
        elif roll < 0.12 and book.cash.get(base, Decimal(0)) > 1000:
            amount = _money(float(book.cash[base]) * float(rng.uniform(0.1, 0.5)), base)
            book.record(kind="withdrawal", day=day, currency=base, amount=-amount, description="Withdrawal")
        elif roll < 0.22:
            held = [j for j, s in enumerate(securities) if book.held.get(s.pk, accounting.PositionState()).quantity > 0]
            if held:
                j = int(rng.choice(held))
                security = securities[j]
                state = book.held[security.pk]
                quantity = (state.quantity * Decimal(str(round(float(rng.uniform(0.2, 1.0)), 2)))).to_integral_value()
                if quantity > 0:
                    price = float(closes[i, j])
                    book.record(
                        kind="sell",
                        day=day,
                        currency=security.currency,
                        amount=_money(float(quantity) * price, security.currency),
                        security=security,
                        quantity=-quantity,
                        price=Decimal(str(round(price, 4))),
                        description=f"Sold {quantity} {security.symbol}",
                    )
                    buy(i, rng.choice(len(securities), size=2, replace=False), 0.5)


@transaction.atomic
def seed_portfolios(
    *, firm: Any, accounts: int = 30, years: int = 1, seed: int = 20261121, end: date | None = None
) -> int:
    """Build ``accounts`` client accounts (plus the master account) for the firm in scope, owned by
    its active contacts, with ``years`` of activity. Does nothing if the firm already has accounts
    or ``accounts`` is 0. Returns the number of accounts created."""
    firm_id = require_firm_id()
    assert firm_id == getattr(firm, "pk", firm), "seed_portfolios runs inside firm_scope(firm)"
    if accounts <= 0 or ClientAccount.objects.exists():
        return 0
    end = end or date.today() - timedelta(days=1)
    start = end - timedelta(days=round(365.25 * years))
    securities, days, closes, _ = seed_reference_data(start=start, end=end)
    if len(days) < 2:
        return 0
    rng = np.random.default_rng(seed)
    contacts = list(crm_selectors.contact_list(user=None, status="active").prefetch_related("households"))
    master = ClientAccount(
        firm_id=firm_id,
        number="MA000001",
        title=f"{getattr(firm, 'name', 'Firm')} master account",
        account_type=AccountType.MASTER,
        is_master=True,
        inception_date=start,
        margin_type=MarginType.CASH,
    )
    master.save()
    if not contacts:
        return 1
    plan = []
    for i in range(accounts):
        owner = contacts[i % len(contacts)]
        household = next(iter(owner.households.all()), None)
        kind = str(rng.choice([t for t in AccountType.values if t != AccountType.MASTER]))
        base = "USD" if rng.random() < 0.9 else str(rng.choice(["EUR", "CAD"]))
        start_index = int(rng.integers(0, max(1, len(days) // 5)))
        account = ClientAccount(
            firm_id=firm_id,
            number=f"U{7_100_001 + i}",
            title=f"{owner.first_name} {owner.last_name} {AccountType(kind).label}",
            account_type=kind,
            base_currency=base,
            status=AccountStatus.OPEN if rng.random() < 0.95 else AccountStatus.RESTRICTED,
            margin_type=MarginType.CASH if rng.random() < 0.8 else MarginType.MARGIN,
            trading_permissions=[TradingPermission.STOCKS, TradingPermission.FUNDS, TradingPermission.BONDS],
            household=household,
            inception_date=days[start_index].item(),
        )
        plan.append((account, owner, start_index))
    ClientAccount.objects.bulk_create([p[0] for p in plan])
    AccountOwner.objects.bulk_create(
        AccountOwner(firm_id=firm_id, account=account, contact=owner, role=OwnerRole.PRIMARY)
        for account, owner, _ in plan
    )
    books = []
    for account, _, start_index in plan:
        book = _Book(account=account)
        _simulate(book, rng, securities, days, closes, start_index)
        books.append(book)
    _write_books(books, firm_id=firm_id)
    performance.recompute_full(account_ids=[p[0].pk for p in plan], end=end)
    return len(plan) + 1


def _write_books(books: list[_Book], *, firm_id: int) -> None:
    rows = [row for book in books for row in book.rows]
    for offset in range(0, len(rows), ENTRY_CHUNK):
        chunk = rows[offset : offset + ENTRY_CHUNK]
        Transaction.objects.bulk_create([tx for tx, _ in chunk])
        entries = LedgerEntry.objects.bulk_create(
            LedgerEntry(firm_id=firm_id, account_id=tx.account_id, transaction=tx, memo=tx.description)
            for tx, _ in chunk
        )
        # One INSERT for the chunk: every entry's postings are in the same statement (balance trigger).
        LedgerPosting.objects.bulk_create(
            LedgerPosting(
                firm_id=firm_id,
                entry=entry,
                account_id=tx.account_id,
                ledger_account=leg,
                currency=currency,
                amount=amount,
            )
            for (tx, legs), entry in zip(chunk, entries, strict=True)
            for leg, currency, amount in legs
        )
    currency_of = dict(Security.objects.values_list("pk", "currency"))
    Position.objects.bulk_create(
        Position(
            firm_id=firm_id,
            account=book.account,
            security_id=security_id,
            quantity=state.quantity,
            cost_basis=state.cost_basis,
            realized_gain=book.realized.get(security_id, Decimal(0)),
            currency=currency_of[security_id],
        )
        for book in books
        for security_id, state in book.held.items()
    )


def delete_portfolios(*, firm: Any) -> None:
    """Remove the firm's portfolio data (for ``seed_demo --reset``). Ledger tables are append-only
    for the application role, so this runs on the owner connection; RLS still confines it to the
    firm in scope."""
    firm_id = require_firm_id()
    assert firm_id == getattr(firm, "pk", firm)
    if not ClientAccount.objects.exists():
        return
    tables = [
        m._meta.db_table
        for m in (DailySeries, Position, LedgerPosting, LedgerEntry, Transaction, AccountOwner, ClientAccount)
    ]
    append_only = [t for t in tables if t in APPEND_ONLY_TABLES]
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
