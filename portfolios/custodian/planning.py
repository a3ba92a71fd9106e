"""Checks parsed rows against what is stored and decides what an import would create.

Reads only, in a few set-based queries (accounts, securities, stored transactions by external id,
positions, prices, daily values), so a 100,000-row file is planned in seconds.

- **Accounts** are looked up within the uploader's account scope: one outside it is reported exactly
  like one that does not exist ("Unknown account").
- **Transactions** are idempotent on their external id (the broker's id, or one derived from the row).
  Stored with the same figures: unchanged. Stored with other figures: a conflict.
- **Positions** (a positions file, or the OpenPositions of a statement) are compared with what the
  account holds once the file's own new transactions are counted: equal is unchanged; an account
  holding none gets an opening ``position_transfer_in`` at the stated cost basis; anything else is a
  conflict (the positions disagree; nothing is adjusted silently).
- **Prices** are only ever added: a stored (security, date) with the same close is unchanged, with
  another close a conflict.
- **NAV** from a statement is compared with our computed daily value of that date, reported as info.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.utils import timezone

from accounts.rights import Right
from advisorportal import formats
from advisorportal.jobs.issues import Issue
from portfolios import accounting, performance
from portfolios.custodian.parsers.base import NavRow, Operation, PositionRow, PriceRow, TransactionRow
from portfolios.models import (
    AccountStatus,
    ClientAccount,
    Position,
    Security,
    SecurityPrice,
    Transaction,
    TransactionKind,
)
from portfolios.scope import scope_accounts

CHUNK = 5000
ZERO = Decimal(0)
# Within one day, money and securities come in before they go out (a statement lists its sections
# one after the other, not in time order), so a cash account is not overdrawn by the ordering.
_INFLOW_FIRST: dict[str, int] = {
    TransactionKind.DEPOSIT: 0,
    TransactionKind.TRANSFER_IN: 0,
    TransactionKind.POSITION_TRANSFER_IN: 0,
    TransactionKind.DIVIDEND: 1,
    TransactionKind.INTEREST: 1,
    TransactionKind.SELL: 2,
    TransactionKind.BUY: 3,
    TransactionKind.POSITION_TRANSFER_OUT: 3,
    TransactionKind.FEE: 4,
    TransactionKind.WITHDRAWAL: 5,
    TransactionKind.TRANSFER_OUT: 5,
}


@dataclass(frozen=True)
class Action:
    operation: Operation
    account: ClientAccount | None = None
    security: Security | None = None
    currency: str = ""
    external_id: str = ""


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    unchanged: int = 0
    conflicts: int = 0

    @property
    def ok(self) -> bool:
        return not self.conflicts and not any(issue.level == "error" for issue in self.issues)

    def error(self, operation: Operation, name: str, message: str) -> None:
        self.issues.append(Issue(operation.row, operation.columns.get(name, name), message))

    def conflict(self, operation: Operation, name: str, message: str) -> None:
        self.conflicts += 1
        self.issues.append(Issue(operation.row, operation.columns.get(name, name), message, "conflict"))


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _fmt(value: Decimal | None) -> str:
    return "—" if value is None else f"{value.normalize():f}"


def plan(*, user: Any, operations: list[Operation]) -> Plan:
    result = Plan()
    accounts = _accounts(user, {op.account for op in operations if not isinstance(op, PriceRow)})
    securities = {
        s.symbol: s
        for chunk in _chunks(sorted({op.symbol for op in operations if not isinstance(op, NavRow) and op.symbol}))
        for s in Security.objects.filter(symbol__in=chunk)
    }
    transactions: list[tuple[TransactionRow, ClientAccount, Security | None, str]] = []
    positions: list[tuple[PositionRow, ClientAccount, Security]] = []
    prices: list[tuple[PriceRow, Security]] = []
    navs: dict[tuple[str, date], NavRow] = {}
    seen: dict[tuple[Any, ...], int] = {}

    for op in operations:
        if isinstance(op, NavRow):
            navs.setdefault((op.account, op.date), op)
            continue
        key: tuple[Any, ...]
        if isinstance(op, TransactionRow):
            key = ("tx", op.account, op.external_id)
        elif isinstance(op, PositionRow):
            key = ("position", op.account, op.symbol)
        else:
            key = ("price", op.symbol, op.date)
        if key in seen:
            name = "external_id" if isinstance(op, TransactionRow) else "symbol"
            result.error(op, name, f"This row repeats row {seen[key]}.")
            continue
        seen[key] = op.row

        account = None
        if not isinstance(op, PriceRow):
            account = accounts.get(op.account)
            if account is None:
                result.error(op, "account", f"Unknown account {op.account!r}.")
            elif account.status == AccountStatus.CLOSED:
                result.error(op, "account", f"The account {op.account} is closed.")
                account = None
        security = securities.get(op.symbol) if op.symbol else None
        if op.symbol and security is None:
            result.error(op, "symbol", f"Unknown symbol {op.symbol!r}.")
        if isinstance(op, PriceRow):
            if op.date > timezone.localdate():
                result.error(op, "date", "The date is in the future.")
            elif security is not None:
                prices.append((op, security))
            continue
        if account is None or (op.symbol and security is None):
            continue
        if isinstance(op, PositionRow):
            assert security is not None
            if op.currency != security.currency:
                result.error(op, "currency", f"{security.symbol} is held in {security.currency}, not {op.currency}.")
                continue
            positions.append((op, account, security))
            continue
        currency = op.currency or (security.currency if security is not None else account.base_currency)
        if security is not None and currency != security.currency:
            result.error(op, "currency", f"{security.symbol} trades in {security.currency}, not {currency}.")
            continue
        transactions.append((op, account, security, currency))

    pending = _plan_transactions(result, transactions)
    _plan_positions(result, positions, pending)
    _plan_prices(result, prices)
    _check_navs(result, accounts, navs)
    result.actions.sort(key=_apply_order)
    return result


def _apply_order(action: Action) -> tuple[int, date, int, int]:
    op = action.operation
    if isinstance(op, PriceRow):
        return (0, op.date, 0, op.row)
    if isinstance(op, PositionRow):
        return (1, op.as_of, 0, op.row)
    assert isinstance(op, TransactionRow)
    return (2, op.trade_date, _INFLOW_FIRST.get(op.kind, 9), op.row)


def _accounts(user: Any, numbers: set[str]) -> dict[str, ClientAccount]:
    found: dict[str, ClientAccount] = {}
    for chunk in _chunks(sorted(numbers)):
        queryset = scope_accounts(
            ClientAccount.objects.filter(number__in=chunk), user=user, right=Right.ACCOUNT_INFORMATION
        )
        found.update((account.number, account) for account in queryset)
    return found


def signed_figures(op: TransactionRow, currency: str) -> tuple[Decimal, Decimal]:
    """The signed quantity and cash amount ``transaction_record`` stores for this row."""
    quantity_sign, amount_sign = accounting.signs(op.kind)
    quantity = ZERO
    if quantity_sign and op.quantity is not None:
        quantity = quantity_sign * accounting.round_quantity(op.quantity)
    amount = ZERO
    if op.kind in {TransactionKind.BUY, TransactionKind.SELL}:
        gross = op.amount
        if gross is None:
            gross = accounting.round_quantity(op.quantity or ZERO) * (op.price or ZERO)
        amount = (amount_sign or 0) * formats.round_money(gross, currency)
    elif amount_sign and op.amount is not None:
        amount = amount_sign * formats.round_money(op.amount, currency)
    return quantity, amount


# A stored transaction's field -> the row's column a conflict is reported on.
_CONFLICT_COLUMNS = {"security_id": "symbol", "currency": "amount"}


def _plan_transactions(
    result: Plan, rows: list[tuple[TransactionRow, ClientAccount, Security | None, str]]
) -> dict[tuple[int, int], Decimal]:
    """Adds the new transactions; returns the position change they make per (account, security)."""
    stored: dict[tuple[int, str], dict[str, Any]] = {}
    by_account: dict[int, list[str]] = defaultdict(list)
    for op, account, _, _ in rows:
        by_account[account.pk].append(op.external_id)
    for account_id, ids in by_account.items():
        for chunk in _chunks(ids):
            for values in Transaction.objects.filter(account_id=account_id, external_id__in=chunk).values(
                "account_id", "external_id", *accounting.COMPARED_FIELDS
            ):
                stored[(values["account_id"], values["external_id"])] = values
    pending: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    for op, account, security, currency in rows:
        quantity, amount = signed_figures(op, currency)
        existing = stored.get((account.pk, op.external_id))
        if existing is None:
            result.actions.append(Action(op, account, security, currency))
            if security is not None:
                pending[(account.pk, security.pk)] += quantity
            continue
        wanted = {
            "kind": op.kind,
            "trade_date": op.trade_date,
            "settle_date": op.settle_date or op.trade_date,
            "security_id": security.pk if security else None,
            "quantity": quantity,
            "price": op.price,
            "amount": amount,
            "currency": currency,
        }
        # The figures ``transaction_record`` compares on a retry (``accounting.COMPARED_FIELDS``),
        # but the cost basis, which a file's transaction row does not give.
        differences = accounting.transaction_differences(existing, wanted, with_cost=False)
        if differences:
            detail = "; ".join(text for _, text in differences)
            column = _CONFLICT_COLUMNS.get(differences[0][0], differences[0][0])
            result.conflict(op, column, f"Already stored as {op.external_id!r} with {detail}.")
        else:
            result.unchanged += 1
    return pending


def _plan_positions(
    result: Plan, rows: list[tuple[PositionRow, ClientAccount, Security]], pending: dict[tuple[int, int], Decimal]
) -> None:
    held: dict[tuple[int, int], Decimal] = {}
    account_ids = sorted({account.pk for _, account, _ in rows})
    for chunk in _chunks(account_ids):
        for account_id, security_id, quantity in Position.objects.filter(account_id__in=chunk).values_list(
            "account_id", "security_id", "quantity"
        ):
            held[(account_id, security_id)] = quantity
    for op, account, security in rows:
        key = (account.pk, security.pk)
        expected = held.get(key, ZERO) + pending.get(key, ZERO)
        quantity = accounting.round_quantity(op.quantity)
        if quantity == expected:
            result.unchanged += 1
        elif expected == 0 and not pending.get(key):
            external_id = f"import:position:{security.symbol}:{op.as_of.isoformat()}"
            result.actions.append(Action(op, account, security, security.currency, external_id))
        else:
            after = " after this file's transactions" if pending.get(key) else ""
            result.conflict(
                op,
                "quantity",
                f"The file says {_fmt(quantity)} {security.symbol}; the account holds {_fmt(expected)}{after}.",
            )


def _plan_prices(result: Plan, rows: list[tuple[PriceRow, Security]]) -> None:
    stored: dict[tuple[int, date], Decimal] = {}
    security_ids = sorted({security.pk for _, security in rows})
    dates = sorted({op.date for op, _ in rows})
    for chunk in _chunks(security_ids):
        for security_id, day, close in SecurityPrice.objects.filter(security_id__in=chunk, date__in=dates).values_list(
            "security_id", "date", "close"
        ):
            stored[(security_id, day)] = close
    for op, security in rows:
        close = accounting.round_quantity(op.close)
        existing = stored.get((security.pk, op.date))
        if existing is None:
            result.actions.append(Action(op, security=security))
        elif existing == close:
            result.unchanged += 1
        else:
            result.conflict(
                op,
                "close",
                f"{security.symbol} already closed at {_fmt(existing)} on {op.date}; stored prices are never replaced.",
            )


def _check_navs(result: Plan, accounts: dict[str, ClientAccount], navs: dict[tuple[str, date], NavRow]) -> None:
    """Compare the statement's NAV with ours (informational: our NAV may not include the new rows yet)."""
    known = [(op, accounts[op.account]) for op in navs.values() if op.account in accounts]
    for op in navs.values():
        if op.account not in accounts:
            result.error(op, "account", f"Unknown account {op.account!r}.")
    if not known:
        return
    ours: dict[tuple[int, date], Decimal] = {}
    by_account: dict[int, tuple[ClientAccount, list[date]]] = {}
    for op, account in known:
        by_account.setdefault(account.pk, (account, []))[1].append(op.date)
    for account, days in by_account.values():  # one query per account (its month rows of the period)
        for value in performance.value_history(account=account, start=min(days), end=max(days)):
            ours[(account.pk, value.date)] = value.nav
    for op, account in known:
        nav = ours.get((account.pk, op.date))
        stated = f"The statement's NAV on {op.date} is {op.total:,.2f} {op.currency or account.base_currency}"
        if nav is None:
            message = f"{stated}; we have no computed NAV for that day."
        else:
            difference = op.total - nav
            message = f"{stated}; ours is {nav:,.2f} (difference {difference:+,.2f})."
        result.issues.append(Issue(op.row, op.columns.get("total", "total"), message, "info"))
