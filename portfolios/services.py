"""Every write of client accounts, transactions and the ledger.

Money rules live in ``portfolios.accounting``. Each transaction is written with its balanced
ledger entry and its position change in one database transaction, under a row lock on the client
account, so concurrent postings to one account serialize and the available-cash check cannot be
raced. Transactions, entries and postings are append-only; ``transaction_reverse`` corrects.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction as db_transaction
from django.db.models import Q
from django.utils import timezone

from advisorportal import bulk, formats
from advisorportal.hashing import sha256_hex
from advisorportal.idempotency.services import (
    Attempt,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    claim_many,
    discard_many,
    idempotent,
    store_many,
)
from crm.models import Contact, Household
from portfolios import accounting, selectors, signals
from portfolios.models import (
    AccountOwner,
    AccountStatus,
    AccountTransfer,
    AccountType,
    CashHold,
    ClientAccount,
    LedgerEntry,
    LedgerPosting,
    MarginType,
    OwnerRole,
    Position,
    Security,
    Transaction,
    TransactionKind,
    TransferKind,
    currency_code,
)
from portfolios.tasks import daily_values_correct

ZERO = Decimal(0)
# The code of the error for an idempotency key (an external id, a reference) reused with other
# content; the API answers it 422 ``idempotency_key_reused``, as the floor's idempotency kit does.
IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
# The idempotency scope of every paired posting, alone or in bulk (one key, one transfer).
TRANSFER_SCOPE = "portfolios.transfer_between_accounts"
NO_POSITION = accounting.PositionState(quantity=ZERO, cost_basis=ZERO)
TRANSFER_COLUMNS = ("id", "firm_id", "kind", "debit_account_id", "credit_account_id", "amount", "currency",
                    "trade_date", "memo", "debit_transaction_id", "credit_transaction_id", "idempotency_key",
                    "created_by_id", "created_at")  # fmt: skip


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


@dataclass
class Closing:
    account: ClientAccount
    notes: list[str]  # what the apps built on accounts did about it, in words (billing's refund runs)


@db_transaction.atomic
def account_close(*, actor: Any, account: ClientAccount, closed_on: date | None) -> Closing:
    """Close ``account`` with ``closed_on`` its last open day (today or earlier, not before its
    inception). Refused while cash is held on it (a withdrawal or fee waiting). Audited; the apps
    built on accounts hear of it (``signals.account_closed``: billing prepares the refund of fees
    prepaid for the days after). Nothing is moved out of the account: the custodian does that."""
    locked = _lock(account)
    if locked.is_master:
        raise ValidationError({"account": "The firm's master account cannot be closed."})
    if locked.status == AccountStatus.CLOSED:
        when = f" on {formats.day(locked.closed_on)}" if locked.closed_on else ""
        raise ValidationError({"account": f"The account {locked.number} was closed already{when}."})
    if closed_on is None:
        raise ValidationError({"closed_on": "Enter the last day the account was open."})
    if closed_on > timezone.localdate():
        raise ValidationError({"closed_on": "The closing day is in the future: close the account on the day."})
    if closed_on < locked.inception_date:
        raise ValidationError(
            {"closed_on": f"The account opened on {formats.day(locked.inception_date)}: it cannot close before."}
        )
    holds = CashHold.objects.filter(account=locked, released_at__isnull=True).count()
    if holds:
        raise ValidationError(
            {"account": f"{holds} amount{'s' if holds > 1 else ''} of cash {'are' if holds > 1 else 'is'} held on "
             "the account (a withdrawal or fee waiting): finish or release them first."}
        )  # fmt: skip
    locked.status, locked.closed_on = AccountStatus.CLOSED, closed_on
    locked.full_clean()
    locked.save(update_fields=["status", "closed_on"])
    answers = signals.account_closed.send(sender=ClientAccount, account=locked, closed_on=closed_on, actor=actor)
    return Closing(locked, [note for _, said in answers for note in said or ()])


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
    With ``external_id`` the call is idempotent: a repeat with the same figures returns the first
    transaction; a repeat with other figures is refused (``ValidationError`` on ``external_id``,
    code ``idempotency_key_reused``), nothing written. The kinds of paired postings
    (``accounting.PAIRED_KINDS``) are recorded only by ``transfer_between_accounts``.
    """
    locked = ClientAccount.objects.select_for_update().get(pk=account.pk)
    if kind not in TransactionKind.values:
        raise ValidationError({"kind": f"Unknown transaction type {kind!r}."})
    if kind in accounting.PAIRED_KINDS:
        label = TransactionKind(kind).label.lower()
        raise ValidationError(
            {"kind": f"A {label} is one side of a transfer between two accounts; post both sides together."}
        )
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
    if cost is None and kind == TransactionKind.POSITION_TRANSFER_IN and price is not None:
        cost = signed_quantity * Decimal(price)
    if external_id:
        first = Transaction.objects.filter(account=locked, external_id=external_id).first()
        if first is not None:
            wanted = {
                "kind": kind,
                "trade_date": trade_date,
                "settle_date": settle_date or trade_date,
                "security_id": security.pk if security is not None else None,
                "quantity": signed_quantity,
                "price": None if price is None else Decimal(price),
                "amount": signed_amount,
                "currency": currency,
                "cost_change": formats.round_money(Decimal(cost or 0), currency),
            }
            return _replay(first, wanted)
    if locked.status == AccountStatus.CLOSED:
        raise ValidationError({"account": "The account is closed."})
    return _record_locked(
        actor,
        locked,
        kind=kind,
        trade_date=trade_date,
        settle_date=settle_date or trade_date,
        security=security,
        quantity=signed_quantity,
        price=price,
        amount=signed_amount,
        currency=currency,
        cost=Decimal(cost or 0),
        description=description,
        external_id=external_id,
    )


def _replay(first: Transaction, wanted: dict[str, Any]) -> Transaction:
    """The transaction first recorded with this external id, if ``wanted`` has its figures."""
    stored = {name: getattr(first, name) for name in (*accounting.COMPARED_FIELDS, "cost_change")}
    differences = accounting.transaction_differences(stored, wanted)
    if differences:
        detail = "; ".join(text for _, text in differences)
        raise ValidationError(
            {
                "external_id": ValidationError(
                    f"The external id {first.external_id!r} was already recorded with other figures ({detail}). "
                    "Send the same figures to get the first transaction, or a new external id for a new one.",
                    code=IDEMPOTENCY_KEY_REUSED,
                )
            }
        )
    return first


def _record_locked(
    actor: Any,
    locked: ClientAccount,
    *,
    kind: str,
    trade_date: date,
    settle_date: date,
    security: Security | None,
    quantity: Decimal,
    price: Decimal | None,
    amount: Decimal,
    currency: str,
    cost: Decimal = ZERO,
    description: str = "",
    external_id: str = "",
) -> Transaction:
    """One transaction with signed figures on ``locked`` (the account, locked by the caller): the
    holding and available-cash checks, the row, its balanced ledger entry and the position."""
    position = Position.objects.filter(account=locked, security=security).first() if security is not None else None
    state = accounting.PositionState(
        quantity=position.quantity if position else ZERO, cost_basis=position.cost_basis if position else ZERO
    )
    if quantity < 0 and kind != TransactionKind.CORPORATE_ACTION and -quantity > state.quantity:
        raise ValidationError({"quantity": f"The account holds only {state.quantity.normalize():f} of {security}."})
    _refuse_overdraft(locked, kind=kind, currency=currency, change=amount)
    effect = accounting.cost_effect(
        kind=kind, state=state, quantity=quantity, amount=amount, currency=currency, transfer_cost=cost
    )
    record = Transaction(
        account=locked,
        trade_date=trade_date,
        settle_date=settle_date,
        kind=kind,
        security=security,
        quantity=quantity,
        price=price,
        amount=amount,
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
        amount=amount,
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
    paired = Q(debit_transaction=original) | Q(credit_transaction=original)
    if original.kind in accounting.PAIRED_KINDS or AccountTransfer.objects.filter(paired).exists():
        raise ValidationError(
            {"transaction": "This is one side of a transfer between two accounts; post the opposite transfer instead."}
        )
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
    """Cash leaving the account may not exceed what it may spend (``_overdraft``), read under the
    account's row lock (which every caller holds, so no concurrent posting or hold can race the check)."""
    if change >= 0 or (kind not in accounting.ALWAYS_COVERED_KINDS and account.margin_type != MarginType.CASH):
        return
    refused = _overdraft(account, kind=kind, currency=currency, change=change,
                         cash=selectors.cash_position(account=account, currency=currency))  # fmt: skip
    if refused is not None:
        raise refused


def _overdraft(
    account: ClientAccount, *, kind: str, currency: str, change: Decimal, cash: selectors.CashRow
) -> ValidationError | None:
    """Why ``change`` may not leave the account with ``cash`` (None if it may):

    - withdrawals and transfers out (``accounting.ALWAYS_COVERED_KINDS``) in any account, and fees
      in a cash account: the *available* cash, settled cash less open holds;
    - buys and reversals in a cash account: the cash less open holds (unsettled proceeds of a sale
      may buy, as at a broker; held cash may not).

    A margin account may borrow for everything but the first group."""
    if change >= 0:
        return None
    always = kind in accounting.ALWAYS_COVERED_KINDS
    if not always and account.margin_type != MarginType.CASH:
        return None
    settled_only = always or kind in accounting.FEE_KINDS or kind == TransactionKind.FEE_INCOME
    limit = cash.available if settled_only else cash.total - cash.held
    if limit + change >= 0:
        return None
    field = "transaction" if kind == "reversal" else "amount"
    what = "available cash" if settled_only else "cash not on hold"
    detail = []
    if settled_only and cash.pending:
        detail.append(f"{formats.round_money(cash.pending, currency):f} {currency} pending settlement")
    if cash.held:
        detail.append(f"{formats.round_money(cash.held, currency):f} {currency} on hold")
    suffix = f" ({', '.join(detail)})" if detail else ""
    return ValidationError(
        {
            field: f"{-change:f} {currency} is more than the {what} of "
            f"{formats.round_money(limit, currency):f} {currency}{suffix}."
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


# --- Idempotency, holds and paired postings ---------------------------------------------------------


@contextmanager
def _once(*, scope: str, key: str, payload: Any, actor: Any, field: str, name: str) -> Iterator[Attempt]:
    """The floor's idempotency kit (``advisorportal.idempotency.idempotent``: the key stored with
    the first result in this transaction, the same key with other content refused), with its
    refusals as a ``ValidationError`` on ``field`` like any bad input: code
    ``idempotency_key_reused`` for a key reused with other content (the API answers it 422, as
    it answers a reused ``Idempotency-Key`` header), a plain field error for a malformed key."""
    try:
        with idempotent(scope=scope, key=key, payload=payload, actor=_user_or_none(actor), name=name) as attempt:
            yield attempt
    except IdempotencyKeyReused as refused:
        raise ValidationError({field: ValidationError(str(refused.detail), code=IDEMPOTENCY_KEY_REUSED)}) from None
    except IdempotencyKeyInvalid as refused:
        raise ValidationError({field: str(refused.detail)}) from None


def _lock(account: ClientAccount | int) -> ClientAccount:
    pk = account if isinstance(account, int) else account.pk
    return ClientAccount.objects.select_for_update().get(pk=pk)


def _money(value: Any, currency: str, field: str = "amount") -> Decimal:
    """A positive amount rounded to the currency's minor unit (refused if it rounds to zero)."""
    rounded = formats.round_money(_positive(value, field, field.replace("_", " ")), currency)
    if rounded == 0:
        raise ValidationError({field: f"The {field.replace('_', ' ')} rounds to zero in {currency}."})
    return rounded


def _currency(currency: str) -> str:
    try:
        currency_code(currency)
    except ValidationError as error:
        raise ValidationError({"currency": error.messages}) from None
    return currency


@db_transaction.atomic
def hold_place(
    *, actor: Any, account: ClientAccount, currency: str, amount: Decimal | str, reason: str, reference: str
) -> CashHold:
    """Reserve ``amount`` of the account's available cash in ``currency`` (settled cash less open
    holds) for ``reason``, under the account's row lock. Idempotent by ``reference`` (per account):
    the same reference with the same currency, amount and reason returns the first hold (open or
    since released); with other content it is refused (``reference``, code
    ``idempotency_key_reused``). Audited (the hold is an audited model)."""
    locked = _lock(account)
    currency = _currency(currency)
    value = _money(amount, currency)
    reason, reference = (reason or "").strip(), (reference or "").strip()
    if not reference:
        raise ValidationError({"reference": "Enter a reference: what the hold is for (e.g. a request number)."})
    payload = {"currency": currency, "amount": value, "reason": reason}
    key = f"{locked.pk}:{sha256_hex(reference.encode())}"  # any text; the kit's keys are visible ASCII
    with _once(
        scope="portfolios.hold_place", key=key, payload=payload, actor=actor, field="reference", name="reference"
    ) as attempt:
        if attempt.replayed:
            return CashHold.objects.get(pk=attempt.body["id"])
        if locked.status == AccountStatus.CLOSED:
            raise ValidationError({"account": "The account is closed."})
        hold = CashHold(
            account=locked,
            currency=currency,
            amount=value,
            reason=reason,
            reference=reference,
            created_by=_user_or_none(actor),
        )
        hold.full_clean()
        cash = selectors.cash_position(account=locked, currency=currency)
        if value > cash.available:
            raise ValidationError(
                {
                    "amount": f"{value:f} {currency} is more than the available cash of "
                    f"{formats.round_money(cash.available, currency):f} {currency}."
                }
            )
        hold.save()
        attempt.store({"id": hold.pk})
    return hold


@db_transaction.atomic
def hold_release(*, actor: Any, hold: CashHold, reason: str) -> CashHold:
    """Release an open hold (its cash is available again), under the account's row lock. A retry
    with the same reason returns the released hold; releasing it again for another reason is
    refused. Audited."""
    _lock(hold.account_id)
    current = CashHold.objects.select_for_update().get(pk=hold.pk)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"release_reason": "Say why the hold is released."})
    if current.released_at is not None:
        if current.release_reason == reason:
            return current
        when = formats.moment(current.released_at)
        raise ValidationError(
            {
                "hold": ValidationError(
                    f"This hold was already released on {when} ({current.release_reason}).",
                    code=IDEMPOTENCY_KEY_REUSED,
                )
            }
        )
    current.released_at = timezone.now()
    current.released_by = _user_or_none(actor)
    current.release_reason = reason
    current.full_clean()
    current.save()
    return current


@db_transaction.atomic
def transfer_between_accounts(
    *,
    actor: Any,
    debit_account: ClientAccount,
    credit_account: ClientAccount,
    amount: Decimal | str,
    currency: str,
    kind: str,
    trade_date: date,
    idempotency_key: str,
    memo: str = "",
) -> AccountTransfer:
    """A paired posting: ``amount`` of ``currency`` out of ``debit_account`` and into
    ``credit_account``, as one transaction on each (kinds from ``accounting.TRANSFER_PAIRS``:
    a fee from a client to the master account, a fee refund back, an internal transfer between
    two client accounts), each with its balanced ledger entry, and the ``AccountTransfer`` that
    ties them, in one database transaction. Both accounts are locked in the order of their ids,
    so two transfers between the same accounts in opposite directions wait for each other
    instead of deadlocking. The debit is held to the available-cash rule of its kind.
    Idempotent: the same ``idempotency_key`` with the same request returns the first transfer;
    with another request it is refused (code ``idempotency_key_reused``), nothing written."""
    if kind not in TransferKind.values:
        raise ValidationError(
            {"kind": f"Unknown transfer type {kind!r}; use one of: {', '.join(TransferKind.values)}."}
        )
    if debit_account.pk == credit_account.pk:
        raise ValidationError({"credit_account": "A transfer needs two different accounts."})
    locked = {pk: _lock(pk) for pk in sorted((debit_account.pk, credit_account.pk))}
    debit, credit = locked[debit_account.pk], locked[credit_account.pk]
    currency = _currency(currency)
    value = _money(amount, currency)
    memo = (memo or "").strip()
    payload = {
        "kind": kind,
        "debit_account": debit.pk,
        "credit_account": credit.pk,
        "amount": value,
        "currency": currency,
        "trade_date": trade_date,
        "memo": memo,
    }
    with _once(
        scope=TRANSFER_SCOPE,
        key=idempotency_key or "",
        payload=payload,
        actor=actor,
        field="idempotency_key",
        name="idempotency key",
    ) as attempt:
        if attempt.replayed:
            return AccountTransfer.objects.get(pk=attempt.body["id"])
        _check_transfer_accounts(kind, debit, credit)
        debit_kind, credit_kind = accounting.TRANSFER_PAIRS[kind]
        label = TransferKind(kind).label
        sides = {}
        for side, account, side_kind, signed in (
            ("debit", debit, debit_kind, -value),
            ("credit", credit, credit_kind, value),
        ):
            other = credit if side == "debit" else debit
            sides[side] = _record_locked(
                actor,
                account,
                kind=side_kind,
                trade_date=trade_date,
                settle_date=trade_date,
                security=None,
                quantity=ZERO,
                price=None,
                amount=signed,
                currency=currency,
                description=(memo or f"{label.split(' (')[0]} {'to' if side == 'debit' else 'from'} {other.number}")[
                    :300
                ],
            )
        transfer = AccountTransfer(
            kind=kind,
            debit_account=debit,
            credit_account=credit,
            amount=value,
            currency=currency,
            trade_date=trade_date,
            memo=memo,
            debit_transaction=sides["debit"],
            credit_transaction=sides["credit"],
            idempotency_key=idempotency_key,
            created_by=_user_or_none(actor),
        )
        transfer.full_clean()
        transfer.save()
        attempt.store({"id": transfer.pk})
    return transfer


@dataclass(frozen=True)
class TransferOrder:
    """One paired posting for ``transfers_bulk``."""

    debit_account: ClientAccount
    credit_account: ClientAccount
    amount: Decimal | str
    currency: str
    idempotency_key: str
    memo: str = ""


@db_transaction.atomic
def transfers_bulk(
    *, actor: Any, kind: str, trade_date: date, orders: Sequence[TransferOrder]
) -> list[AccountTransfer | ValidationError]:
    """Many paired postings of one kind and date, each as ``transfer_between_accounts``
    would post it alone (the same rows, checks, idempotency keys, replays and refusals), in a dozen
    statements instead of about sixty per transfer: a fee run posts 250 fees per chunk this way.
    For each order, its transfer (new, or the first one for a replayed key) or the reason it was
    refused, with nothing written for it. The accounts are locked in the order of their ids, as
    ``transfer_between_accounts`` locks its two, so the two paths wait for each other and never
    deadlock; the available cash of each debited account is read once under its lock and followed
    order by order (the master account's after each fee it took or refunded)."""
    if kind not in TransferKind.values:
        raise ValidationError(
            {"kind": f"Unknown transfer type {kind!r}; use one of: {', '.join(TransferKind.values)}."}
        )
    keys = [order.idempotency_key or "" for order in orders]
    if len(set(keys)) != len(keys):
        raise ValueError("transfers_bulk: each order needs its own idempotency key.")
    ids = sorted({o.debit_account.pk for o in orders} | {o.credit_account.pk for o in orders})
    locked = {a.pk: a for a in ClientAccount.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    results: list[AccountTransfer | ValidationError | None] = [None] * len(orders)
    payloads: dict[str, dict[str, Any]] = {}
    values: dict[int, Decimal] = {}
    currencies: dict[int, str] = {}
    for index, order in enumerate(orders):
        try:
            if order.debit_account.pk == order.credit_account.pk:
                raise ValidationError({"credit_account": "A transfer needs two different accounts."})
            currencies[index] = _currency(order.currency)
            values[index] = _money(order.amount, currencies[index])
        except ValidationError as refused:
            results[index] = refused
            continue
        payloads[keys[index]] = {
            "kind": kind, "debit_account": order.debit_account.pk, "credit_account": order.credit_account.pk,
            "amount": values[index], "currency": currencies[index], "trade_date": trade_date,
            "memo": (order.memo or "").strip(),
        }  # fmt: skip
    claims = claim_many(scope=TRANSFER_SCOPE, payloads=payloads, actor=_user_or_none(actor), name="idempotency key")
    replayed = {index: claims[keys[index]].body["id"] for index in values if claims[keys[index]].replayed}
    for index in values:
        claim_refused = claims[keys[index]].refused
        if isinstance(claim_refused, IdempotencyKeyReused):
            results[index] = ValidationError(
                {"idempotency_key": ValidationError(str(claim_refused.detail), code=IDEMPOTENCY_KEY_REUSED)}
            )
        elif claim_refused is not None:
            results[index] = ValidationError({"idempotency_key": str(claim_refused.detail)})
    first = AccountTransfer.objects.in_bulk(list(replayed.values()))
    for index, transfer_id in replayed.items():
        results[index] = first[transfer_id]
    debit_kind, credit_kind = accounting.TRANSFER_PAIRS[kind]
    today = timezone.localdate()
    cash = selectors.cash_positions(
        pairs=[(pk, currencies[i]) for i in values for pk in (orders[i].debit_account.pk, orders[i].credit_account.pk)],
        today=today,
    )
    label = TransferKind(kind).label.split(" (")[0]
    accepted: list[int] = []
    discarded: list[str] = []
    for index, value in values.items():
        if results[index] is not None:
            continue
        debit, credit = locked[orders[index].debit_account.pk], locked[orders[index].credit_account.pk]
        currency = currencies[index]
        try:
            _check_transfer_accounts(kind, debit, credit)
            refused_cash = _overdraft(
                debit, kind=debit_kind, currency=currency, change=-value, cash=cash[(debit.pk, currency)]
            )
            if refused_cash is not None:
                raise refused_cash
        except ValidationError as refused:
            results[index] = refused
            discarded.append(keys[index])
            continue
        accepted.append(index)
        pending = value if trade_date > today else ZERO  # settled on its trade date, as a lone transfer is
        for pk, change in ((debit.pk, -value), (credit.pk, value)):
            row = cash[(pk, currency)]
            moved = pending if change > 0 else -pending
            cash[(pk, currency)] = selectors.CashRow(
                currency=currency, total=row.total + change, pending=row.pending + moved, held=row.held
            )
    discard_many(scope=TRANSFER_SCOPE, keys=discarded)
    if accepted:
        chosen = [(orders[i], values[i], currencies[i]) for i in accepted]
        transfers = _transfers_write(actor, kind, trade_date, chosen, locked, (debit_kind, credit_kind), label)
        for index, transfer in zip(accepted, transfers, strict=True):
            results[index] = transfer
        store_many(
            scope=TRANSFER_SCOPE, bodies={keys[i]: {"id": t.pk} for i, t in zip(accepted, transfers, strict=True)}
        )
        for pk in {orders[i].debit_account.pk for i in accepted} | {orders[i].credit_account.pk for i in accepted}:
            _correct_values_after_commit(locked[pk], trade_date)
    assert all(result is not None for result in results)
    return results  # type: ignore[return-value]


def _transfers_write(
    actor: Any,
    kind: str,
    trade_date: date,
    accepted: list[tuple[TransferOrder, Decimal, str]],
    locked: dict[int, ClientAccount],
    side_kinds: tuple[str, str],
    label: str,
) -> list[AccountTransfer]:
    """The rows of ``transfers_bulk``'s accepted orders, column by column (no model instance per
    row: building them cost more than the inserts): two transactions each, their ledger entries,
    their postings (one INSERT, which the balance trigger checks entry by entry) and the transfers."""
    user_id = getattr(_user_or_none(actor), "pk", None)
    now = timezone.now()
    rows: dict[str, list[Any]] = {"account_id": [], "kind": [], "amount": [], "currency": [], "description": [],
                                  "cost_change": [], "realized_gain": []}  # fmt: skip
    for order, value, currency in accepted:
        debit, credit = locked[order.debit_account.pk], locked[order.credit_account.pk]
        memo = (order.memo or "").strip()
        sides = ((debit, side_kinds[0], -value, credit, "to"), (credit, side_kinds[1], value, debit, "from"))
        for account, side_kind, signed, other, word in sides:
            effect = accounting.cost_effect(
                kind=side_kind, state=NO_POSITION, quantity=ZERO, amount=signed, currency=currency, transfer_cost=ZERO
            )
            rows["account_id"].append(account.pk)
            rows["kind"].append(side_kind)
            rows["amount"].append(signed)
            rows["currency"].append(currency)
            rows["description"].append((memo or f"{label} {word} {other.number}")[:300])
            rows["cost_change"].append(effect.cost_change)
            rows["realized_gain"].append(effect.realized_gain)
    count = len(rows["account_id"])
    transaction_ids = list(bulk.next_ids(Transaction, count))
    bulk.insert(Transaction, count, {
        "id": transaction_ids, **rows, "trade_date": bulk.Same(trade_date), "settle_date": bulk.Same(trade_date),
        "security_id": bulk.Same(None), "quantity": bulk.Same(ZERO), "price": bulk.Same(None),
        "external_id": bulk.Same(""), "reverses_id": bulk.Same(None),
        "created_at": bulk.Same(now),
    }, audit=None)  # fmt: skip
    labels = dict(TransactionKind.choices)
    entry_ids = list(bulk.next_ids(LedgerEntry, count))
    memos = [(d or labels[k])[:300] for d, k in zip(rows["description"], rows["kind"], strict=True)]
    bulk.insert(LedgerEntry, count, {
        "id": entry_ids, "account_id": rows["account_id"], "transaction_id": transaction_ids, "memo": memos,
        "reverses_id": bulk.Same(None), "created_by_id": bulk.Same(user_id), "created_at": bulk.Same(now),
    }, audit=None)  # fmt: skip
    postings: dict[str, list[Any]] = {"entry_id": [], "account_id": [], "ledger_account": [], "currency": [],
                                      "amount": []}  # fmt: skip
    for index, entry_id in enumerate(entry_ids):
        legs = accounting.ledger_legs(
            kind=rows["kind"][index], currency=rows["currency"][index], amount=rows["amount"][index],
            cost_change=rows["cost_change"][index], realized_gain=rows["realized_gain"][index],
        )  # fmt: skip
        for leg, leg_currency, amount in legs:
            postings["entry_id"].append(entry_id)
            postings["account_id"].append(rows["account_id"][index])
            postings["ledger_account"].append(leg)
            postings["currency"].append(leg_currency)
            postings["amount"].append(amount)
    bulk.insert(LedgerPosting, len(postings["entry_id"]), postings, audit=None)
    transfers = [
        AccountTransfer(
            pk=pk,
            firm_id=locked[order.debit_account.pk].firm_id,
            kind=kind,
            debit_account=locked[order.debit_account.pk],
            credit_account=locked[order.credit_account.pk],
            amount=value,
            currency=currency,
            trade_date=trade_date,
            memo=(order.memo or "").strip(),
            debit_transaction_id=transaction_ids[2 * i],
            credit_transaction_id=transaction_ids[2 * i + 1],
            idempotency_key=order.idempotency_key,
            created_by_id=user_id,
            created_at=now,
        )
        for i, ((order, value, currency), pk) in enumerate(
            zip(accepted, bulk.next_ids(AccountTransfer, len(accepted)), strict=True)
        )
    ]
    bulk.insert(AccountTransfer, len(transfers), {
        name: [getattr(t, name) for t in transfers]
        for name in TRANSFER_COLUMNS
    }, audit=bulk.Audit(reason=f"{len(transfers)} paired postings ({label.lower()}) in one batch"))  # fmt: skip
    for transfer in transfers:
        transfer._state.adding, transfer._state.db = False, "default"
    return transfers


def _check_transfer_accounts(kind: str, debit: ClientAccount, credit: ClientAccount) -> None:
    if kind == TransferKind.FEE and (debit.is_master or not credit.is_master):
        raise ValidationError({"credit_account": "A fee goes from a client account to the firm's master account."})
    if kind == TransferKind.FEE_REFUND and (not debit.is_master or credit.is_master):
        raise ValidationError(
            {"debit_account": "A fee refund goes from the firm's master account to a client account."}
        )
    if kind == TransferKind.INTERNAL and (debit.is_master or credit.is_master):
        raise ValidationError({"debit_account": "An internal transfer goes between two client accounts."})
    for field, account in (("debit_account", debit), ("credit_account", credit)):
        # A closed account still settles its fees: the last one, for the days it was open, and
        # the refund of what it prepaid for the days after (billing bills nothing else on it).
        settles = kind == TransferKind.FEE if field == "debit_account" else kind == TransferKind.FEE_REFUND
        if account.status == AccountStatus.CLOSED and not (settles and account.closed_on is not None):
            raise ValidationError({field: f"The account {account.number} is closed."})


def master_account() -> ClientAccount:
    master = ClientAccount.objects.filter(is_master=True).first()
    if master is None:
        raise ValidationError({"account": "The firm has no master account to take fees into."})
    return master


def fee_charge(
    *,
    actor: Any,
    account: ClientAccount,
    amount: Decimal | str,
    currency: str,
    trade_date: date,
    idempotency_key: str,
    memo: str = "",
) -> AccountTransfer:
    """Charge a fee: the client's account debited (``fee``), the firm's master account credited
    (``fee_income``), one paired posting."""
    return transfer_between_accounts(
        actor=actor, debit_account=account, credit_account=master_account(), amount=amount, currency=currency,
        kind=TransferKind.FEE, trade_date=trade_date, idempotency_key=idempotency_key, memo=memo,
    )  # fmt: skip


def fee_refund(
    *,
    actor: Any,
    account: ClientAccount,
    amount: Decimal | str,
    currency: str,
    trade_date: date,
    idempotency_key: str,
    memo: str = "",
) -> AccountTransfer:
    """Refund a fee: the master account debited (negative ``fee_income``: its income falls), the
    client's account credited (``fee_refund``, a fee kind: the client's net return gets it back)."""
    return transfer_between_accounts(
        actor=actor, debit_account=master_account(), credit_account=account, amount=amount, currency=currency,
        kind=TransferKind.FEE_REFUND, trade_date=trade_date, idempotency_key=idempotency_key, memo=memo,
    )  # fmt: skip


def internal_transfer(
    *,
    actor: Any,
    from_account: ClientAccount,
    to_account: ClientAccount,
    amount: Decimal | str,
    currency: str,
    trade_date: date,
    idempotency_key: str,
    memo: str = "",
) -> AccountTransfer:
    """Move cash between two client accounts of the firm (``internal_transfer_out`` of one,
    ``internal_transfer_in`` of the other): an external flow of both, with opposite signs."""
    return transfer_between_accounts(
        actor=actor, debit_account=from_account, credit_account=to_account, amount=amount, currency=currency,
        kind=TransferKind.INTERNAL, trade_date=trade_date, idempotency_key=idempotency_key, memo=memo,
    )  # fmt: skip


@db_transaction.atomic
def transfer_position_between_accounts(
    *,
    actor: Any,
    from_account: ClientAccount,
    to_account: ClientAccount,
    security: Security,
    quantity: Decimal | str,
    trade_date: date,
    reference: str,
    memo: str = "",
) -> tuple[Transaction, Transaction]:
    """Move ``quantity`` of ``security`` with its share of the cost basis from one client account
    to another: a ``position_transfer_out`` of one and a ``position_transfer_in`` of the other,
    both with the external id ``reference``, under both accounts' row locks taken in the order of
    their ids. Never more than the source holds. A retry with the same reference and figures
    returns the first pair; other figures are refused (``idempotency_key_reused``)."""
    if from_account.pk == to_account.pk:
        raise ValidationError({"to_account": "A transfer needs two different accounts."})
    reference = (reference or "").strip()
    if not reference:
        raise ValidationError({"reference": "Enter the transfer's reference."})
    locked = {pk: _lock(pk) for pk in sorted((from_account.pk, to_account.pk))}
    source, destination = locked[from_account.pk], locked[to_account.pk]
    magnitude = accounting.round_quantity(_positive(quantity, "quantity", "quantity"))
    first_out = Transaction.objects.filter(account=source, external_id=reference).first()
    first_in = Transaction.objects.filter(account=destination, external_id=reference).first()
    if first_out is not None or first_in is not None:
        if (
            first_out is None
            or first_in is None
            or first_out.kind != TransactionKind.POSITION_TRANSFER_OUT
            or first_out.security_id != security.pk
            or first_out.quantity != -magnitude
            or first_out.trade_date != trade_date
        ):
            raise ValidationError(
                {
                    "reference": ValidationError(
                        f"The reference {reference} was already used for another transfer.", code=IDEMPOTENCY_KEY_REUSED
                    )
                }
            )
        return first_out, first_in
    _check_transfer_accounts(TransferKind.INTERNAL, source, destination)
    description = (memo or "").strip()
    out = _record_locked(
        actor, source, kind=TransactionKind.POSITION_TRANSFER_OUT, trade_date=trade_date, settle_date=trade_date,
        security=security, quantity=-magnitude, price=None, amount=ZERO, currency=security.currency,
        description=description or f"Position transfer to {destination.number}", external_id=reference,
    )  # fmt: skip
    into = _record_locked(
        actor, destination, kind=TransactionKind.POSITION_TRANSFER_IN, trade_date=trade_date, settle_date=trade_date,
        security=security, quantity=magnitude, price=None, amount=ZERO, currency=security.currency,
        cost=-out.cost_change, description=description or f"Position transfer from {source.number}",
        external_id=reference,
    )  # fmt: skip
    return out, into
