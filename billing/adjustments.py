"""Adjustments of fees (issue #18, point 4): writes and reads. Fee Administration.

A **one-off adjustment** (a credit or a reimbursement) is posted at once as a fee refund through
``portfolios.services.fee_refund`` — the firm's master account debited, the client's account
credited, one balanced paired posting — with its reason in the memo and on the ``Adjustment``.
It is posted exactly once per idempotency key: the key is taken by the floor's idempotency kit
(a concurrent second use waits for the first and gets its adjustment; the same key with another
account, amount or reason is refused), the ledger's own key is derived from it, and the table has
a unique key on it.

A **recurring adjustment** changes nothing in the ledger by itself: fee runs apply it to the
account's fee line (``billing.runs``). Stopping it ends it on a date; periods already billed keep
what they were billed.

Bad input is a ``ValidationError`` naming the field; nothing is posted, and a refusal on an
account (``Refused``) leaves an audit entry on it even though the service's transaction rolled
back (``audited_refusals``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from advisorportal import formats
from advisorportal.idempotency.services import IdempotencyKeyInvalid, IdempotencyKeyReused, idempotent
from billing import selectors
from billing.models import Adjustment, AdjustmentKind, RecurringAdjustment, RecurringKind
from billing.services import Refused, audited_refusals
from portfolios import services as ledger
from portfolios.models import AccountStatus, ClientAccount

SCOPE = "billing.adjustment_post"
T = TypeVar("T")


def _refusing(func: Callable[..., T]) -> Callable[..., T]:
    """Every bad input of the service as a ``Refused`` on its account (or recurring adjustment), so
    that ``audited_refusals`` records it: each refusal leaves an audit entry."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return func(*args, **kwargs)
        except Refused:
            raise
        except ValidationError as error:
            fields = error.message_dict if hasattr(error, "error_dict") else {"non_field_errors": error.messages}
            first, texts = next(iter(fields.items()))
            refused = Refused(kwargs.get("account") or kwargs.get("recurring"), first, " ".join(texts))
            refused.error_dict = ValidationError(fields).error_dict
            raise refused from None

    return wrapper


def _amount(value: Any, field: str = "amount") -> Decimal:
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except (InvalidOperation, TypeError):
        raise ValidationError({field: "Type an amount, e.g. 250.00."}) from None
    if not amount.is_finite() or amount <= 0:
        raise ValidationError({field: "The amount is more than zero."})
    if amount != round(amount, 2):
        raise ValidationError({field: "At most 2 decimals."})
    if amount >= Decimal("1e15"):
        raise ValidationError({field: "The amount is too large."})
    return amount


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why: the reason is kept with the posting and shown to the firm."})
    return reason


def _client_account(account: ClientAccount) -> None:
    if account.is_master:
        raise Refused(account, "account", "The firm's master account is not credited: choose a client account.")
    if account.status == AccountStatus.CLOSED:
        raise Refused(account, "account", f"The account {account.number} is closed; nothing can be posted to it.")


@audited_refusals
@_refusing
@transaction.atomic
def adjustment_post(
    *,
    actor: Any,
    account: ClientAccount,
    amount: Any,
    reason: str,
    idempotency_key: str,
    kind: str = AdjustmentKind.CREDIT,
    trade_date: date | None = None,
) -> Adjustment:
    """Credit ``account`` ``amount`` (its base currency) at once, from the firm's master account,
    for ``reason``. The same key and content returns the first adjustment; another content with
    the key is refused; nothing is ever posted twice."""
    if kind not in AdjustmentKind.values:
        raise ValidationError({"kind": f"Choose one of: {', '.join(AdjustmentKind.values)}."})
    value = _amount(amount)
    reason = _reason(reason)
    day = trade_date or timezone.localdate()
    key = (idempotency_key or "").strip()
    payload = {"account": account.pk, "kind": kind, "amount": f"{value:f}", "reason": reason,
               "trade_date": day.isoformat()}  # fmt: skip
    try:
        with idempotent(scope=SCOPE, key=key, payload=payload, actor=actor, name="idempotency key") as attempt:
            if attempt.replayed:
                return Adjustment.objects.get(pk=attempt.body["id"])
            _client_account(account)
            label = AdjustmentKind(kind).label
            try:
                transfer = ledger.fee_refund(
                    actor=actor, account=account, amount=value, currency=account.base_currency, trade_date=day,
                    idempotency_key=f"billing.adjustment.{key}"[:255], memo=f"{label}: {reason}"[:255],
                )  # fmt: skip
            except ValidationError as refused:
                raise Refused(account, "amount", " ".join(refused.messages)) from None
            adjustment = Adjustment(account=account, kind=kind, amount=value, currency=account.base_currency,
                                    reason=reason, trade_date=day, idempotency_key=key, transfer=transfer,
                                    created_by=actor)  # fmt: skip
            adjustment.full_clean()
            adjustment.save()
            attempt.store({"id": adjustment.pk})
    except IdempotencyKeyReused:
        raise Refused(
            account, "idempotency_key",
            "This key was already used for another adjustment: nothing was posted. Use a new key for a new "
            "adjustment, or the same request to see the first one.",
        ) from None  # fmt: skip
    except IdempotencyKeyInvalid as invalid:
        raise ValidationError({"idempotency_key": str(invalid.detail)}) from None
    return adjustment


@audited_refusals
@_refusing
@transaction.atomic
def recurring_add(
    *,
    actor: Any,
    account: ClientAccount,
    kind: str,
    reason: str,
    starts_on: date,
    ends_on: date | None = None,
    amount: Any = None,
    pct: Any = None,
) -> RecurringAdjustment:
    """A fixed credit per billing period (``amount``) or a discount of the fee (``pct``) on
    ``account`` for the periods overlapping ``starts_on`` to ``ends_on``."""
    if kind not in RecurringKind.values:
        raise ValidationError({"kind": f"Choose one of: {', '.join(RecurringKind.values)}."})
    reason = _reason(reason)
    _client_account(account)
    row = RecurringAdjustment(account=account, kind=kind, reason=reason, starts_on=starts_on, ends_on=ends_on,
                              created_by=actor)  # fmt: skip
    if kind == RecurringKind.FIXED_CREDIT:
        if pct not in (None, ""):
            raise ValidationError({"pct": "A fixed credit has an amount, not a percentage."})
        row.amount = _amount(amount)
    else:
        if amount not in (None, ""):
            raise ValidationError({"amount": "A discount has a percentage, not an amount."})
        try:
            share = Decimal(str(pct).strip().rstrip("%"))
        except (InvalidOperation, TypeError):
            raise ValidationError({"pct": "Type a percentage, e.g. 10."}) from None
        if not share.is_finite() or not 0 < share <= 100 or share != round(share, 6):
            raise ValidationError({"pct": "The discount is above 0 and at most 100 %, with at most 6 decimals."})
        row.pct = share
    if starts_on is None:
        raise ValidationError({"starts_on": "Give the first day it applies."})
    if ends_on is not None and ends_on < starts_on:
        raise ValidationError({"ends_on": "It ends before it starts."})
    row.full_clean()
    row.save()
    return row


@audited_refusals
@_refusing
@transaction.atomic
def recurring_stop(*, actor: Any, recurring: RecurringAdjustment, ends_on: date | None = None) -> RecurringAdjustment:
    """End a recurring adjustment on ``ends_on`` (today by default): periods after it no longer
    get it; what was billed stays. Stopping it again on the same day changes nothing."""
    row = RecurringAdjustment.objects.select_for_update().get(pk=recurring.pk)
    day = ends_on or timezone.localdate()
    if row.stopped_at is not None or (row.ends_on is not None and row.ends_on <= day):
        if row.ends_on == day or (row.stopped_at is not None and ends_on is None):
            return row
        raise Refused(row, "ends_on", f"It already ends on {formats.day(row.ends_on)}." if row.ends_on else
                      "It is already stopped.")  # fmt: skip
    if day < row.starts_on:
        raise Refused(row, "ends_on", f"It starts on {formats.day(row.starts_on)}: it cannot end before that.")
    row.ends_on, row.stopped_by, row.stopped_at = day, actor, timezone.now()
    row.full_clean()
    row.save(update_fields=["ends_on", "stopped_by", "stopped_at"])
    return row


# --- Reads ---------------------------------------------------------------------------------------


def adjustments(*, user: Any, account: ClientAccount | None = None) -> QuerySet[Adjustment]:
    """The one-off adjustments of the accounts in the user's Fee Administration scope, newest first."""
    rows = Adjustment.objects.select_related("account", "created_by", "transfer")
    if account is not None:
        rows = rows.filter(account=account)
    if selectors.whole_firm(user):
        return rows
    return rows.filter(account__in=selectors.accounts(user=user))


def recurring(
    *, user: Any, account: ClientAccount | None = None, active_on: date | None = None
) -> QuerySet[RecurringAdjustment]:
    """The recurring adjustments of the accounts in the user's scope (``active_on``: only those in
    force on or after that day)."""
    rows = RecurringAdjustment.objects.select_related("account", "created_by", "stopped_by")
    if account is not None:
        rows = rows.filter(account=account)
    if active_on is not None:
        rows = rows.filter(Q(ends_on__isnull=True) | Q(ends_on__gte=active_on))
    if not selectors.whole_firm(user):
        rows = rows.filter(account__in=selectors.accounts(user=user))
    return rows.order_by("account__number", "starts_on", "id")


def account_of(*, user: Any, number: str) -> ClientAccount:
    """A client account in the user's scope by number (else ``ClientAccount.DoesNotExist``)."""
    return selectors.accounts(user=user).get(number=(number or "").strip())


def adjustment_get(*, user: Any, pk: Any) -> Adjustment:
    return adjustments(user=user).get(pk=pk)


def recurring_get(*, user: Any, pk: Any) -> RecurringAdjustment:
    return recurring(user=user).get(pk=pk)
