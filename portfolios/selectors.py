"""Every read of client accounts and portfolio data, from the firm-scoped managers.

Search under RLS: ``ILIKE`` cannot use an index beneath a row-level security policy, so account
search is a prefix *range* (``>=``/``<``, leakproof) on ``number`` and on the generated
``title_key`` (lower-cased title), both in the "C" collation so the range is exact, each with an
index leading with ``firm_id``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import F, OuterRef, Q, QuerySet, Subquery, Sum

from accounts.policy import scope_accounts
from accounts.rights import Right
from advisorportal.tenancy.pagination import KeysetPage, keyset_page
from portfolios.models import (
    AccountOwner,
    AccountStatus,
    AccountType,
    ClientAccount,
    DailyValue,
    LedgerEntry,
    LedgerPosting,
    Position,
    SecurityPrice,
    Transaction,
    TransactionKind,
)

ZERO = Decimal(0)
ACCOUNT_ORDER = ("number", "id")
TRANSACTION_ORDER = ("-trade_date", "-id")
TRANSACTION_DEFAULT_DAYS = 90


def _prefix_upper_bound(prefix: str) -> str:
    """The smallest string greater than every string starting with ``prefix`` (code-point order)."""
    last = ord(prefix[-1])
    return prefix[:-1] + chr(last + 1) if last < 0x10FFFF else prefix + "\U0010ffff"


def account_list(
    *, user: Any, q: str = "", account_type: str = "", status: str = "", household: int | str | None = None
) -> QuerySet[ClientAccount]:
    """Accounts with their latest NAV (``nav``, ``nav_date``), filtered; unordered (pages order them)."""
    latest = DailyValue.objects.filter(account=OuterRef("pk")).order_by("-date")
    accounts = ClientAccount.objects.select_related("household").annotate(
        nav=Subquery(latest.values("nav")[:1]), nav_date=Subquery(latest.values("date")[:1])
    )
    accounts = scope_accounts(accounts, user=user, right=Right.ACCOUNT_INFORMATION)
    q = q.strip()
    if q:
        number, title = q.upper(), q.lower()
        accounts = accounts.filter(
            Q(number__gte=number, number__lt=_prefix_upper_bound(number))
            | Q(title_key__gte=title, title_key__lt=_prefix_upper_bound(title))
        )
    if account_type in AccountType.values:
        accounts = accounts.filter(account_type=account_type)
    if status in AccountStatus.values:
        accounts = accounts.filter(status=status)
    if household:
        try:
            accounts = accounts.filter(household_id=int(household))
        except (TypeError, ValueError):
            accounts = accounts.none()
    return accounts


def account_page(*, user: Any, after: str = "", size: int = 50, **filters: Any) -> KeysetPage[ClientAccount]:
    return keyset_page(account_list(user=user, **filters), keys=ACCOUNT_ORDER, after=after, size=size)


def account_get(*, user: Any, pk: Any) -> ClientAccount:
    """One account of the firm in the user's scope (raises ``ClientAccount.DoesNotExist`` for another
    firm's, an out-of-scope or a missing one alike)."""
    accounts = ClientAccount.objects.select_related("household", "parent")
    return scope_accounts(accounts, user=user, right=Right.ACCOUNT_INFORMATION).get(pk=pk)


def cash_balances(*, account: ClientAccount) -> dict[str, Decimal]:
    """Cash by currency, from the ledger (an index-only scan of the account's cash postings)."""
    rows = (
        LedgerPosting.objects.filter(account=account, ledger_account="cash")
        .values_list("currency")
        .annotate(total=Sum("amount"))
        .order_by("currency")
    )
    return dict(rows)


@dataclass(frozen=True)
class PositionRow:
    symbol: str
    name: str
    asset_class: str
    currency: str
    quantity: Decimal
    cost_basis: Decimal
    realized_gain: Decimal
    price: Decimal | None
    price_date: date | None

    @property
    def market_value(self) -> Decimal | None:
        return None if self.price is None else (self.quantity * self.price).quantize(Decimal("0.01"))

    @property
    def unrealized_gain(self) -> Decimal | None:
        value = self.market_value
        return None if value is None else value - self.cost_basis


def positions(*, account: ClientAccount, include_closed: bool = False) -> list[PositionRow]:
    """Holdings with their latest price (one query: the price is a per-row index probe)."""
    latest = SecurityPrice.objects.filter(security=OuterRef("security")).order_by("-date")
    rows = Position.objects.filter(account=account).select_related("security")
    if not include_closed:
        rows = rows.exclude(quantity=0)
    rows = rows.annotate(
        price=Subquery(latest.values("close")[:1]), price_date=Subquery(latest.values("date")[:1])
    ).order_by("security__symbol")
    return [
        PositionRow(
            symbol=p.security.symbol,
            name=p.security.name,
            asset_class=p.security.get_asset_class_display(),
            currency=p.currency,
            quantity=p.quantity,
            cost_basis=p.cost_basis,
            realized_gain=p.realized_gain,
            price=p.price,  # type: ignore[attr-defined]
            price_date=p.price_date,  # type: ignore[attr-defined]
        )
        for p in rows
    ]


@dataclass
class AccountSummary:
    account: ClientAccount
    owners: list[AccountOwner]
    cash: dict[str, Decimal]
    positions: list[PositionRow]
    nav: Decimal | None = None
    nav_date: date | None = None
    day_change: Decimal | None = None
    day_return: Decimal | None = None
    unrealized_by_currency: dict[str, Decimal] = field(default_factory=dict)
    realized_by_currency: dict[str, Decimal] = field(default_factory=dict)
    history: list[DailyValue] = field(default_factory=list)


def account_summary(*, user: Any, account: ClientAccount, history_days: int = 365) -> AccountSummary:
    """Summary of one account: owners, cash, positions, the daily values of the last
    ``history_days`` (for a chart), the latest NAV and the day's change (4 queries)."""
    owners = list(AccountOwner.objects.filter(account=account).select_related("contact").order_by("id"))
    holdings = positions(account=account, include_closed=True)
    summary = AccountSummary(account=account, owners=owners, cash=cash_balances(account=account), positions=[])
    unrealized: dict[str, Decimal] = defaultdict(Decimal)
    realized: dict[str, Decimal] = defaultdict(Decimal)
    for row in holdings:
        realized[row.currency] += row.realized_gain
        if row.quantity != 0:
            summary.positions.append(row)
            if row.unrealized_gain is not None:
                unrealized[row.currency] += row.unrealized_gain
    summary.unrealized_by_currency = dict(unrealized)
    summary.realized_by_currency = {c: v for c, v in realized.items() if v}
    since = date.today() - timedelta(days=history_days)
    summary.history = list(DailyValue.objects.filter(account=account, date__gte=since).order_by("date"))
    values = summary.history[::-1][:2] or list(DailyValue.objects.filter(account=account).order_by("-date")[:2])
    if values:
        summary.nav, summary.nav_date = values[0].nav, values[0].date
        if len(values) == 2:
            summary.day_change = values[0].nav - values[1].nav - values[0].net_flow
            if values[1].nav:
                summary.day_return = values[0].return_index / values[1].return_index - 1
    return summary


def transaction_list(
    *,
    user: Any,
    account: ClientAccount,
    date_from: date | None = None,
    date_to: date | None = None,
    kind: str = "",
    text: str = "",
    today: date | None = None,
) -> QuerySet[Transaction]:
    """An account's transactions; without dates, the last 90 days. The text matches description or
    symbol; it is a filter within one account's date range (an index range scan), so it needs no
    search index of its own."""
    if date_from is None and date_to is None:
        date_from = (today or date.today()) - timedelta(days=TRANSACTION_DEFAULT_DAYS)
    rows = Transaction.objects.filter(account=account).select_related("security")
    if date_from is not None:
        rows = rows.filter(trade_date__gte=date_from)
    if date_to is not None:
        rows = rows.filter(trade_date__lte=date_to)
    if kind in TransactionKind.values:
        rows = rows.filter(kind=kind)
    text = text.strip()
    if text:
        rows = rows.filter(Q(description__icontains=text) | Q(security__symbol=text.upper()))
    return rows


def transaction_page(*, after: str = "", size: int = 50, **filters: Any) -> KeysetPage[Transaction]:
    return keyset_page(transaction_list(**filters), keys=TRANSACTION_ORDER, after=after, size=size)


def reconciliation_problems(*, limit: int = 50) -> list[str]:
    """What does not reconcile in the current firm: entries that do not balance, cash that differs
    from the sum of transaction amounts, positions that differ from the sum of their transactions.
    Empty when the books are right. Three aggregate queries over the firm's rows."""
    problems: list[str] = []
    unbalanced = (
        LedgerPosting.objects.values("entry_id", "currency")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
        .order_by("entry_id")[:limit]
    )
    problems += [f"Entry {r['entry_id']} does not balance in {r['currency']}: {r['total']}" for r in unbalanced]
    orphans = Transaction.objects.exclude(
        pk__in=LedgerEntry.objects.filter(transaction__isnull=False).values("transaction")
    )
    problems += [f"Transaction {pk} has no ledger entry" for pk in orphans.values_list("pk", flat=True)[:limit]]

    ledger_cash = {
        (r["account_id"], r["currency"]): r["total"]
        for r in LedgerPosting.objects.filter(ledger_account="cash")
        .values("account_id", "currency")
        .annotate(total=Sum("amount"))
        .order_by()
    }
    tx_cash = {
        (r["account_id"], r["currency"]): r["total"]
        for r in Transaction.objects.values("account_id", "currency").annotate(total=Sum("amount")).order_by()
    }
    for key in sorted(set(ledger_cash) | set(tx_cash)):
        ledger, txs = ledger_cash.get(key, ZERO), tx_cash.get(key, ZERO)
        if ledger != txs:
            problems.append(f"Account {key[0]} cash in {key[1]}: ledger {ledger}, transactions {txs}")

    held = {(p.account_id, p.security_id): (p.quantity, p.cost_basis, p.realized_gain) for p in Position.objects.all()}
    summed = {
        (r["account_id"], r["security_id"]): (r["q"], r["c"], r["r"])
        for r in Transaction.objects.filter(security__isnull=False)
        .values("account_id", "security_id")
        .annotate(q=Sum("quantity"), c=Sum("cost_change"), r=Sum(F("realized_gain")))
        .order_by()
    }
    for key in sorted(set(held) | set(summed)):
        have, want = held.get(key, (ZERO, ZERO, ZERO)), summed.get(key, (ZERO, ZERO, ZERO))
        if have != want:
            problems.append(f"Account {key[0]} security {key[1]}: position {have}, transactions {want}")
    return problems[: limit * 4]


def account_ids_by_number(*, numbers: list[str]) -> dict[str, int]:
    """The firm's accounts with these numbers (for choosing a user's account scope)."""
    return dict(ClientAccount.objects.filter(number__in=numbers).values_list("number", "pk"))


def account_numbers_by_id(*, ids: list[int]) -> list[str]:
    return sorted(ClientAccount.objects.filter(pk__in=ids).values_list("number", flat=True))
