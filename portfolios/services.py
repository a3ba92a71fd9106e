"""Every write of client accounts, transactions and the ledger.

Money rules live in ``portfolios.accounting``. Each transaction is written with its balanced
ledger entry and its position change in one database transaction, under a row lock on the client
account, so concurrent postings to one account serialize and the available-cash check cannot be
raced. Transactions, entries and postings are append-only; ``transaction_reverse`` corrects.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction as db_transaction

from advisorportal import formats
from crm.models import Contact, Household
from portfolios import accounting, selectors
from portfolios.models import (
    AccountOwner,
    AccountStatus,
    AccountType,
    ClientAccount,
    LedgerEntry,
    LedgerPosting,
    MarginType,
    OwnerRole,
    Position,
    Security,
    Transaction,
    TransactionKind,
)
from portfolios.tasks import daily_values_correct

ZERO = Decimal(0)


def _user_or_none(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) and getattr(actor, "pk", None) else None


@db_transaction.atomic
def account_open(
    *,
    actor: Any,
    number: str,
    title: str,
    account_type: str,
    owners: Sequence[Contact],
    base_currency: str = "USD",
    status: str = AccountStatus.OPEN,
    margin_type: str = MarginType.CASH,
    trading_permissions: Sequence[str] = (),
    household: Household | None = None,
    parent: ClientAccount | None = None,
    inception_date: date | None = None,
    is_master: bool = False,
) -> ClientAccount:
    """Open a client account owned by ``owners`` (CRM contacts; the first is the primary owner)."""
    account = ClientAccount(
        number=number.strip().upper(),
        title=title,
        account_type=account_type,
        base_currency=base_currency,
        status=status,
        margin_type=margin_type,
        trading_permissions=list(trading_permissions),
        household=household,
        parent=parent,
        inception_date=inception_date or date.today(),
        is_master=is_master,
    )
    if not owners and account_type != AccountType.MASTER:
        raise ValidationError({"owners": "An account needs at least one owner."})
    if is_master != (account_type == AccountType.MASTER):
        raise ValidationError({"account_type": "The firm's master account, and only it, has the type Master."})
    account.full_clean()
    account.save()
    for index, contact in enumerate(dict.fromkeys(owners)):
        role = OwnerRole.PRIMARY if index == 0 else OwnerRole.JOINT
        owner = AccountOwner(account=account, contact=contact, role=role)
        owner.full_clean()
        owner.save()
    return account


def _positive(value: Decimal | int | str | None, field: str, label: str) -> Decimal:
    if value is None or value == "":
        raise ValidationError({field: f"Enter the {label}."})
    try:
        value = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError({field: f"Enter the {label} as a number."}) from None
    if not value.is_finite() or value <= 0:
        raise ValidationError({field: f"The {label} must be greater than zero."})
    return value


@db_transaction.atomic
def transaction_record(
    *,
    actor: Any,
    account: ClientAccount,
    kind: str,
    trade_date: date,
    amount: Decimal | None = None,
    quantity: Decimal | None = None,
    price: Decimal | None = None,
    security: Security | None = None,
    currency: str = "",
    settle_date: date | None = None,
    cost: Decimal | None = None,
    description: str = "",
    external_id: str = "",
) -> Transaction:
    """Record one transaction with its ledger entry and position change.

    Quantities and amounts are given as positive magnitudes; the kind decides the sign (a
    ``corporate_action`` takes them signed). ``amount`` of a buy or sell defaults to quantity *
    price. ``cost`` is the cost basis a position transfer brings in (or a corporate action moves).
    With ``external_id`` the call is idempotent: a repeat returns the first transaction.
    """
    locked = ClientAccount.objects.select_for_update().get(pk=account.pk)
    if external_id:
        first = Transaction.objects.filter(account=locked, external_id=external_id).first()
        if first is not None:
            return first
    if kind not in TransactionKind.values:
        raise ValidationError({"kind": f"Unknown transaction type {kind!r}."})
    if locked.status == AccountStatus.CLOSED:
        raise ValidationError({"account": "The account is closed."})
    if kind in accounting.SECURITY_KINDS and security is None:
        raise ValidationError({"security": "Choose the security."})
    currency = currency or (security.currency if security is not None else locked.base_currency)
    if kind in accounting.SECURITY_KINDS and security is not None and currency != security.currency:
        raise ValidationError({"currency": f"Trades of {security.symbol} settle in {security.currency}."})

    quantity_sign, amount_sign = accounting.signs(kind)
    signed_quantity, signed_amount = ZERO, ZERO
    if kind == TransactionKind.CORPORATE_ACTION:
        signed_quantity = accounting.round_quantity(Decimal(quantity or 0))
        signed_amount = formats.round_money(Decimal(amount or 0), currency)
    elif quantity_sign:
        magnitude = accounting.round_quantity(_positive(quantity, "quantity", "quantity"))
        signed_quantity = quantity_sign * magnitude
        if kind in {TransactionKind.BUY, TransactionKind.SELL}:
            price = _positive(price, "price", "price") if amount is None else price
            gross = _positive(amount, "amount", "amount") if amount is not None else magnitude * Decimal(price or 0)
            signed_amount = amount_sign * formats.round_money(gross, currency)  # type: ignore[operator]
    else:
        if quantity:
            raise ValidationError({"quantity": "This type of transaction moves no securities."})
        signed_amount = amount_sign * formats.round_money(_positive(amount, "amount", "amount"), currency)  # type: ignore[operator]
        if signed_amount == 0:
            raise ValidationError({"amount": "The amount rounds to zero."})

    position = Position.objects.filter(account=locked, security=security).first() if security is not None else None
    state = accounting.PositionState(
        quantity=position.quantity if position else ZERO, cost_basis=position.cost_basis if position else ZERO
    )
    if signed_quantity < 0 and kind != TransactionKind.CORPORATE_ACTION and -signed_quantity > state.quantity:
        raise ValidationError({"quantity": f"The account holds only {state.quantity.normalize():f} of {security}."})
    _refuse_overdraft(locked, kind=kind, currency=currency, change=signed_amount)
    if cost is None and kind == TransactionKind.POSITION_TRANSFER_IN and price is not None:
        cost = signed_quantity * Decimal(price)
    effect = accounting.cost_effect(
        kind=kind,
        state=state,
        quantity=signed_quantity,
        amount=signed_amount,
        currency=currency,
        transfer_cost=Decimal(cost or 0),
    )
    record = Transaction(
        account=locked,
        trade_date=trade_date,
        settle_date=settle_date or trade_date,
        kind=kind,
        security=security,
        quantity=signed_quantity,
        price=price,
        amount=signed_amount,
        cost_change=effect.cost_change,
        realized_gain=effect.realized_gain,
        currency=currency,
        description=description,
        external_id=external_id,
    )
    record.full_clean()
    record.save()
    legs = accounting.ledger_legs(
        kind=kind,
        currency=currency,
        amount=signed_amount,
        cost_change=effect.cost_change,
        realized_gain=effect.realized_gain,
    )
    _post(actor, locked, legs, transaction=record, memo=description or record.get_kind_display())
    if security is not None:
        _move_position(locked, security, position, record.quantity, record.cost_change, record.realized_gain, currency)
    _correct_values_after_commit(locked, record.trade_date)
    return record


def _correct_values_after_commit(account: ClientAccount, trade_date: date) -> None:
    """A row dated on or before the account's last computed day: its daily values are recomputed
    in the background once this commits (the page says they are being updated meanwhile). The
    nightly update would include it anyway (``performance.correct_series``); this is sooner."""
    if account.nav_date is not None and trade_date <= account.nav_date:
        queue_series_correction(account.firm_id)


class _QueueCorrection:
    def __init__(self, firm_id: int) -> None:
        self.firm_id = firm_id

    def __call__(self) -> None:
        daily_values_correct.delay(self.firm_id)


def queue_series_correction(firm_id: int) -> None:
    """Queue ``tasks.daily_values_correct`` once this transaction commits: once per firm however
    many rows it wrote (an import of 50,000 back-dated rows queues one task)."""
    pending = db_transaction.get_connection().run_on_commit
    if not any(isinstance(callback, _QueueCorrection) and callback.firm_id == firm_id for _, callback, _ in pending):
        db_transaction.on_commit(_QueueCorrection(firm_id), robust=True)


@db_transaction.atomic
def transaction_reverse(*, actor: Any, transaction: Transaction, memo: str = "") -> Transaction:
    """Correct a transaction by recording its exact opposite, with a ledger entry reversing its entry."""
    locked = ClientAccount.objects.select_for_update().get(pk=transaction.account_id)
    original = Transaction.objects.get(pk=transaction.pk)
    if original.reverses_id is not None:
        raise ValidationError({"transaction": "A reversal cannot be reversed; record the transaction again."})
    if Transaction.objects.filter(reverses=original).exists():
        raise ValidationError({"transaction": "This transaction has already been reversed."})
    _refuse_overdraft(locked, kind="reversal", currency=original.currency, change=-original.amount)
    if original.security_id is not None and original.quantity > 0:
        held = Position.objects.filter(account=locked, security_id=original.security_id).values_list(
            "quantity", flat=True
        )
        if (held.first() or ZERO) < original.quantity:
            raise ValidationError({"transaction": "The securities it brought in are no longer all held."})
    # Dated as the original: the two cancel out on the day it counted, and the daily values from
    # that day on are recomputed as if it had never been (no gain from a trade that never was).
    reversal = Transaction(
        account=locked,
        trade_date=original.trade_date,
        settle_date=original.settle_date,
        kind=original.kind,
        security_id=original.security_id,
        quantity=-original.quantity,
        price=original.price,
        amount=-original.amount,
        cost_change=-original.cost_change,
        realized_gain=-original.realized_gain,
        currency=original.currency,
        description=memo or f"Reversal of {original.get_kind_display().lower()} of {original.trade_date}",
        reverses=original,
    )
    reversal.full_clean()
    reversal.save()
    original_entry = LedgerEntry.objects.get(transaction=original)
    legs = [
        (leg, currency, -amount)
        for leg, currency, amount in LedgerPosting.objects.filter(entry=original_entry)
        .order_by("id")
        .values_list("ledger_account", "currency", "amount")
    ]
    _post(actor, locked, legs, transaction=reversal, memo=reversal.description, reverses=original_entry)
    if original.security_id is not None:
        security = Security.objects.get(pk=original.security_id)
        position = Position.objects.filter(account=locked, security=security).first()
        _move_position(
            locked,
            security,
            position,
            reversal.quantity,
            reversal.cost_change,
            reversal.realized_gain,
            reversal.currency,
        )
    _correct_values_after_commit(locked, reversal.trade_date)
    return reversal


def _refuse_overdraft(account: ClientAccount, *, kind: str, currency: str, change: Decimal) -> None:
    """Cash may not go below zero: never by a withdrawal or transfer out, and in a cash account
    not by a buy, a fee or a reversal either. Called under the account's row lock."""
    if change >= 0:
        return
    always = kind in {TransactionKind.WITHDRAWAL, TransactionKind.TRANSFER_OUT}
    if not always and account.margin_type != MarginType.CASH:
        return
    available = selectors.cash_balances(account=account).get(currency, ZERO)
    if available + change < 0:
        field = "transaction" if kind == "reversal" else "amount"
        raise ValidationError(
            {
                field: f"{-change:f} {currency} is more than the available cash of "
                f"{formats.round_money(available, currency):f} {currency}."
            }
        )


def _post(
    actor: Any,
    account: ClientAccount,
    legs: list[accounting.Leg],
    *,
    transaction: Transaction | None,
    memo: str,
    reverses: LedgerEntry | None = None,
) -> LedgerEntry:
    """One ledger entry with its postings, all postings in one INSERT (the balance trigger checks it)."""
    totals: dict[str, Decimal] = {}
    for _, currency, amount in legs:
        totals[currency] = totals.get(currency, ZERO) + amount
    if any(totals.values()):
        raise ValidationError(f"The ledger entry does not balance: {totals}.")
    entry = LedgerEntry(
        account=account, transaction=transaction, reverses=reverses, memo=memo[:300], created_by=_user_or_none(actor)
    )
    entry.full_clean()
    entry.save()
    LedgerPosting.objects.bulk_create(
        LedgerPosting(
            firm_id=account.firm_id, entry=entry, account=account, ledger_account=leg, currency=currency, amount=amount
        )
        for leg, currency, amount in legs
    )
    return entry


def _move_position(
    account: ClientAccount,
    security: Security,
    position: Position | None,
    quantity: Decimal,
    cost_change: Decimal,
    realized_gain: Decimal,
    currency: str,
) -> None:
    if position is None:
        position = Position(account=account, security=security, currency=currency)
    position.quantity += quantity
    position.cost_basis += cost_change
    position.realized_gain += realized_gain
    position.save()
