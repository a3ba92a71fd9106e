"""Every write of money movement. Keyword-only, transactional, audited.

The rules that hold here, whoever calls (page, API, Celery, the custodian import):

- A request's status changes only through ``_move``, which asks ``states.target`` and writes the
  timeline event; the request's row is locked first (``_lock``), so two people acting at once on
  one request act one after the other, and the second sees what the first did.
- Maker-checker: the requester never approves on the client's behalf nor authorizes; an
  authorizer needs the Funding Authorizer right and authorizes a request once.
- Money leaves an account only at completion, through the portfolios ledger services, in the same
  database transaction as the status change and keyed by the request's reference (``FR-…``), so a
  retry, a second click or a worker killed half-way posts nothing twice.
- A withdrawal or transfer holds its cash from the moment it is sent (``hold_place`` under the
  account's row lock, never above the available cash); completion releases the hold and posts,
  and the ledger checks the available cash again. Cancel, reject and expiry release it.
- Approval links name the request's content (``fingerprint``): every edit raises ``version`` and
  revokes earlier links.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.policy import grant_scope, has_right
from accounts.rights import Right
from advisorportal import formats
from advisorportal.hashing import fingerprint, sha256_hex
from advisorportal.links import services as links
from advisorportal.links.models import Link
from advisorportal.mail.services import email_send
from crm.crypto import open_secret, seal_secret
from crm.models import Contact
from funding import policy, selectors, states
from funding.models import (
    Authorization,
    BankInstruction,
    Enrollment,
    FundingRequest,
    FundingSettings,
    InstructionFile,
    InstructionStatus,
    Method,
    Power,
    RequestEvent,
    RequestKind,
    Status,
)
from portfolios import selectors as book
from portfolios import services as ledger
from portfolios.models import AccountStatus, ClientAccount, Security, TransactionKind

LINK_PURPOSE = "funding.request"
MAX_AMOUNT = Decimal("1e14")  # what MoneyField and QuantityField hold (20 digits, 4 or 6 after the point)
S = Status
MONEY_KINDS = (RequestKind.DEPOSIT, RequestKind.WITHDRAWAL, RequestKind.INTERNAL_TRANSFER)
HOLD_KINDS = (RequestKind.WITHDRAWAL, RequestKind.INTERNAL_TRANSFER)
METHODS: dict[str, tuple[str, ...]] = {
    RequestKind.DEPOSIT: (Method.ACH, Method.WIRE, Method.CHECK),
    RequestKind.WITHDRAWAL: (Method.ACH, Method.WIRE),
    RequestKind.INTERNAL_TRANSFER: (Method.INTERNAL,),
    RequestKind.POSITION_TRANSFER: (Method.INTERNAL,),
    RequestKind.BANK_INSTRUCTION: ("",),
}


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


# --- Settings and enrolments -------------------------------------------------------------------


@transaction.atomic
def settings_update(*, actor: Any, **fields: Any) -> FundingSettings:
    """Save the firm's funding policy (service program, cooling-off, two-authorizer amount, link expiry
    and reminder)."""
    current = selectors.funding_settings()
    record = FundingSettings.objects.select_for_update().filter(pk=current.pk).first() if current.pk else current
    assert record is not None
    allowed = {"program", "cooling_off_days", "dual_authorization_amount", "dual_authorization_currency",
               "link_expiry_hours", "reminder_after_hours"}  # fmt: skip
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "This setting does not exist."})
    if "dual_authorization_currency" in fields:
        fields["dual_authorization_currency"] = _currency(fields["dual_authorization_currency"])
    for name, value in fields.items():
        setattr(record, name, value)
    record.full_clean()
    record.save()
    return record


@transaction.atomic
def enrollment_set(*, actor: Any, contact: Contact, powers: list[str], form_reference: str) -> Enrollment:
    """Enrol ``contact`` in Full-Service with the powers they granted on a signed form (or change them)."""
    unknown = [p for p in powers if p not in Power.values]
    if unknown:
        raise ValidationError({"powers": f"Unknown power {unknown[0]!r}."})
    record = Enrollment.objects.select_for_update().filter(contact=contact).first() or Enrollment(
        contact=contact, enrolled_by=_user(actor)
    )
    record.powers = sorted(set(powers))
    record.form_reference = (form_reference or "").strip()
    if not record.form_reference:
        raise ValidationError({"form_reference": "Say where the client's signed form is filed."})
    record.full_clean()
    record.save()
    return record


@transaction.atomic
def enrollment_end(*, actor: Any, contact: Contact) -> bool:
    deleted, _ = Enrollment.objects.filter(contact=contact).delete()
    return bool(deleted)


# --- Validation ----------------------------------------------------------------------------------


def _amount(value: Any, currency: str) -> Decimal:
    if value is None or value == "":
        raise ValidationError({"amount": "Enter the amount."})
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError({"amount": "Enter the amount as a number, e.g. 2500.00."}) from None
    if not amount.is_finite() or amount <= 0:
        raise ValidationError({"amount": "The amount must be greater than zero."})
    if amount >= MAX_AMOUNT:  # before rounding: a huge exponent cannot be quantized
        raise ValidationError({"amount": "The amount is too large."})
    if formats.round_money(amount, currency) != amount:
        places = formats.minor_units(currency)
        raise ValidationError({"amount": f"{currency} amounts have at most {places} decimal places."})
    return amount


def _currency(value: str) -> str:
    currency = (value or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise ValidationError({"currency": "Enter a three-letter currency code, e.g. USD."})
    if not book.currency_known(currency):
        raise ValidationError({"currency": f"{currency} is not a currency this firm can value."})
    return currency


def _quantity(value: Any) -> Decimal:
    if value is None or value == "":
        raise ValidationError({"quantity": "Enter the quantity."})
    try:
        quantity = Decimal(str(value).replace(",", "").strip())
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError({"quantity": "Enter the quantity as a number."}) from None
    if not quantity.is_finite() or quantity <= 0:
        raise ValidationError({"quantity": "The quantity must be greater than zero."})
    if quantity >= MAX_AMOUNT:
        raise ValidationError({"quantity": "The quantity is too large."})
    if quantity != quantity.quantize(Decimal("0.000001")):
        raise ValidationError({"quantity": "A quantity has at most 6 decimal places."})
    return quantity


def _open_client_account(account: ClientAccount | None, field: str) -> ClientAccount:
    if account is None:
        raise ValidationError({field: "Choose the account."})
    if account.is_master:
        raise ValidationError({field: "The firm's master account is not a client account."})
    if account.status != AccountStatus.OPEN:
        raise ValidationError({field: f"The account {account.number} is {account.get_status_display().lower()}."})
    return account


def _usable_instruction(instruction: BankInstruction | None, account: ClientAccount, currency: str) -> BankInstruction:
    if instruction is None:
        raise ValidationError({"bank_instruction": "Choose the bank instruction the money goes to."})
    if instruction.contact_id not in book.owner_ids(account=account):
        raise ValidationError(
            {"bank_instruction": "This bank instruction belongs to someone who does not own the account."}
        )
    if instruction.status != InstructionStatus.ACTIVE:
        raise ValidationError({"bank_instruction": "This bank instruction is not approved yet."})
    if instruction.currency != currency:
        raise ValidationError(
            {"bank_instruction": f"This bank account receives {instruction.currency}, not {currency}."}
        )
    usable_from = selectors.instruction_usable_from(instruction)
    if usable_from is not None and usable_from > timezone.now():
        raise ValidationError(
            {
                "bank_instruction": "A new bank instruction can receive withdrawals only after the firm's cooling-off "
                f"period: from {formats.moment(usable_from)}."
            }
        )
    return instruction


def _unencumbered(account: ClientAccount, security: Security, exclude: int | None = None) -> Decimal:
    pending = selectors.pending_position_quantity(account=account, security=security, exclude=exclude)
    return book.held_quantity(account=account, security=security) - pending


def _clean(request: FundingRequest) -> None:
    """Check the request's content for its kind (the same checks on create and edit)."""
    kind = request.kind
    if kind not in RequestKind.values or (kind == RequestKind.BANK_INSTRUCTION and request.bank_instruction is None):
        raise ValidationError({"kind": f"Unknown request type {kind!r}."})
    if request.method not in METHODS[kind]:
        choices = ", ".join(Method(m).label for m in METHODS[kind] if m)
        raise ValidationError({"method": f"Choose how the money moves: {choices}."})
    if kind == RequestKind.BANK_INSTRUCTION:
        return
    _open_client_account(request.account, "account")
    assert request.account is not None
    if kind in MONEY_KINDS:
        request.currency = _currency(request.currency)
        request.amount = _amount(request.amount, request.currency)
        request.security, request.quantity = None, None
    if kind == RequestKind.WITHDRAWAL:
        _usable_instruction(request.bank_instruction, request.account, request.currency)
    elif kind in (RequestKind.INTERNAL_TRANSFER, RequestKind.POSITION_TRANSFER):
        _open_client_account(request.to_account, "to_account")
        assert request.to_account is not None
        if request.to_account.pk == request.account.pk:
            raise ValidationError({"to_account": "Choose a different account to transfer to."})
        policy.transfer_relation(book.owner_ids(account=request.account), book.owner_ids(account=request.to_account))
    if kind == RequestKind.POSITION_TRANSFER:
        if request.security is None:
            raise ValidationError({"security": "Choose the security to transfer."})
        request.quantity = _quantity(request.quantity)
        request.amount, request.currency = None, request.security.currency
        free = _unencumbered(request.account, request.security, exclude=request.pk)
        if request.quantity > free:
            raise ValidationError(
                {
                    "quantity": f"The account holds {free.normalize():f} of {request.security.symbol} that are not "
                    "already being transferred."
                }
            )
    if kind != RequestKind.WITHDRAWAL:
        request.bank_instruction = None
    if kind in HOLD_KINDS:
        cash = book.cash_position(account=request.account, currency=request.currency)
        held_by_self = request.hold.amount if request.hold is not None and request.hold.is_open else Decimal(0)
        available = cash.available + held_by_self
        assert request.amount is not None
        if request.amount > available:
            raise ValidationError(
                {
                    "amount": f"{formats.money(request.amount, request.currency)} is more than the available cash of "
                    f"{formats.money(available, request.currency)}."
                }
            )


# --- Timeline and moves --------------------------------------------------------------------------


def _event(request: FundingRequest, action: str, *, actor: Any = None, label: str = "", reason: str = "",
           from_status: str = "", to_status: str = "") -> RequestEvent:  # fmt: skip
    return RequestEvent.objects.create(
        request=request, action=action, actor=_user(actor), actor_label=label[:200], reason=(reason or "")[:500],
        from_status=from_status, to_status=to_status,
    )  # fmt: skip


def _move(request: FundingRequest, action: str, wanted: str, *, actor: Any = None, label: str = "",
          reason: str = "") -> FundingRequest:  # fmt: skip
    before = request.status
    request.status = states.target(before, action, wanted)
    request.status_changed_at = timezone.now()
    request.save()
    _event(request, action, actor=actor, label=label, reason=reason, from_status=before, to_status=request.status)
    return request


def _lock(request: FundingRequest) -> FundingRequest:
    return (
        FundingRequest.objects.select_for_update(of=("self",))
        .select_related("account", "to_account", "bank_instruction", "security", "hold", "client", "created_by")
        .get(pk=request.pk)
    )


def content_fingerprint(request: FundingRequest) -> str:
    """What a client approves: everything about the request that an edit can change."""
    return fingerprint(
        {
            "id": request.pk,
            "version": request.version,
            "kind": request.kind,
            "account": request.account_id,
            "to_account": request.to_account_id,
            "bank_instruction": request.bank_instruction_id,
            "method": request.method,
            "amount": None if request.amount is None else f"{request.amount:f}",
            "currency": request.currency,
            "security": request.security_id,
            "quantity": None if request.quantity is None else f"{request.quantity:f}",
            "memo": request.memo,
        }
    )


def decision(request: FundingRequest) -> policy.Decision:
    """The policy's answer for this request and its client (shown on its page)."""
    relation = ""
    if request.kind in (RequestKind.INTERNAL_TRANSFER, RequestKind.POSITION_TRANSFER):
        assert request.account is not None and request.to_account is not None
        relation = policy.transfer_relation(
            book.owner_ids(account=request.account), book.owner_ids(account=request.to_account)
        )
    firm_settings = selectors.funding_settings()
    compared = None
    if request.amount is not None:
        compared = book.convert(
            request.amount, from_currency=request.currency, to_currency=firm_settings.dual_authorization_currency
        )
    return policy.decide(
        kind=request.kind,
        relation=relation,
        settings=firm_settings,
        enrollment=selectors.enrollment_of(request.client) if firm_settings.program == "full_service" else None,
        amount_in_threshold_currency=compared,
        client_name=str(request.client),
    )


# --- Create and edit -------------------------------------------------------------------------------


@transaction.atomic
def request_create(
    *,
    actor: Any,
    kind: str,
    account: ClientAccount | None = None,
    to_account: ClientAccount | None = None,
    bank_instruction: BankInstruction | None = None,
    method: str = "",
    amount: Any = None,
    currency: str = "",
    security: Security | None = None,
    quantity: Any = None,
    memo: str = "",
) -> FundingRequest:
    """A new request in draft (``request_send`` sends it on). The caller has checked that the
    accounts are in the actor's Funding scope; the rest is checked here."""
    if kind == RequestKind.BANK_INSTRUCTION:
        raise ValidationError({"kind": "Add or change a bank instruction with its own form."})
    if kind not in RequestKind.values:
        raise ValidationError({"kind": f"Unknown request type {kind!r}."})
    if kind == RequestKind.POSITION_TRANSFER and security is not None:
        currency = security.currency
    account = _open_client_account(account, "account")
    client = book.primary_owner(account=account)
    if client is None:
        raise ValidationError({"account": f"The account {account.number} has no owner to approve requests."})
    request = FundingRequest(
        kind=kind, client=client, account=account, to_account=to_account, bank_instruction=bank_instruction,
        method=method or (Method.INTERNAL if kind in (RequestKind.INTERNAL_TRANSFER, RequestKind.POSITION_TRANSFER)
                          else ""),
        amount=amount, currency=currency or account.base_currency, security=security, quantity=quantity,
        memo=(memo or "").strip(), created_by=actor,
    )  # fmt: skip
    _clean(request)
    # The check constraints (positive amount and quantity, a completed request dated) are the
    # database's, and ``_clean`` has said the same in words: validating them again costs three
    # round trips per create (funding_create's bench target).
    request.full_clean(validate_constraints=False)
    request.save()
    _event(request, "create", actor=actor, to_status=request.status)
    return request


EDITABLE = ("to_account", "bank_instruction", "method", "amount", "currency", "security", "quantity", "memo")


@transaction.atomic
def request_edit(*, actor: Any, request: FundingRequest, **fields: Any) -> FundingRequest:
    """Change a draft, or a request awaiting its client (it goes back to draft, its hold is
    released and every approval link sent for it stops working)."""
    current = _lock(request)
    if not fields:
        return current
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "This cannot be changed; cancel the request and create another."})
    was = current.status
    if was != S.DRAFT:
        states.target(was, "edit", S.DRAFT)
    for name, value in fields.items():
        setattr(current, name, value)
    if was == S.AWAITING_CLIENT:
        _release_hold(current, actor, "The request was edited")
    _clean(current)
    current.version += 1
    current.full_clean(validate_constraints=False)  # as in request_create
    links.links_revoke(subject=current, actor=actor)
    if was == S.AWAITING_CLIENT:
        return _move(current, "edit", S.DRAFT, actor=actor, reason="Edited: send it again for the client to approve")
    current.save()
    _event(current, "edit", actor=actor, from_status=was, to_status=was)
    return current


# --- Send: policy, hold, approval email -------------------------------------------------------------


def _place_hold(request: FundingRequest, actor: Any) -> None:
    if request.kind not in HOLD_KINDS:
        return
    assert request.account is not None and request.amount is not None
    hold = ledger.hold_place(
        actor=actor, account=request.account, currency=request.currency, amount=request.amount,
        reason=f"{request.get_kind_display()} {request.reference}", reference=f"{request.reference} v{request.version}",
    )  # fmt: skip
    request.hold = hold
    request.save(update_fields=["hold"])


def _release_hold(request: FundingRequest, actor: Any, reason: str) -> None:
    if request.hold is not None and request.hold.is_open:
        request.hold = ledger.hold_release(actor=actor, hold=request.hold, reason=reason)


@transaction.atomic
def request_send(*, actor: Any, request: FundingRequest) -> FundingRequest:
    """Send a draft on, as the policy says: to the client (an approval email), to the authorizers,
    or (a deposit notification) straight to the custodian. A withdrawal or transfer holds its cash now."""
    current = _lock(request)
    states.target(current.status, "send", S.AWAITING_CLIENT)  # refused unless it is a draft
    _clean(current)
    answer = decision(current)
    current.required_authorizers = answer.authorizers
    _place_hold(current, actor)
    if answer.client_must_approve:
        _move(current, "send", S.AWAITING_CLIENT, actor=actor, reason=answer.reason)
        _email_client(current, actor)
    elif answer.authorizers:
        current.client_approval = "Not needed: the client granted the advisor this power (Full-Service)"
        _move(current, "send", S.AWAITING_AUTHORIZER, actor=actor, reason=answer.reason)
    else:
        _move(current, "send", S.SUBMITTED, actor=actor, reason=answer.reason)
    return current


def _email_client(request: FundingRequest, actor: Any, *, expires_at: Any = None, reminder: bool = False) -> Link:
    """A new approval link (earlier ones stop working) emailed to the client; it expires after the
    firm's hours, or at ``expires_at`` (a reminder keeps the first email's deadline)."""
    client = request.client
    if not client.email:
        raise ValidationError({"client": f"{client} has no email address on file to send the approval to."})
    links.links_revoke(subject=request, actor=actor)
    expires_in = (
        expires_at - timezone.now()
        if expires_at is not None
        else timedelta(hours=selectors.funding_settings().link_expiry_hours)
    )
    issued = links.link_issue(
        purpose=LINK_PURPOSE, recipient_email=client.email, fingerprint=content_fingerprint(request), actor=actor,
        subject=request, expires_in=expires_in,
    )  # fmt: skip
    url = django_settings.SITE_URL.rstrip("/") + reverse("links:approve", args=[issued.token])
    email_send(
        to=client.email,
        template="funding.approval_reminder" if reminder else "funding.approval_request",
        context={"contact": {"first_name": client.first_name}, "request": describe(request), "url": url,
                 "expires_at": formats.moment(issued.link.expires_at)},
        contact_id=client.pk,
        actor=actor or request.created_by,  # an automatic reminder is signed by the requester
    )  # fmt: skip
    _event(request, "reminder_sent" if reminder else "email_sent", actor=actor,
           label="" if actor else "Automatic reminder", reason=f"To {client.email}")  # fmt: skip
    return issued.link


@transaction.atomic
def request_resend(*, actor: Any, request: FundingRequest) -> Link:
    """A new approval email with a new link (earlier links stop working)."""
    current = _lock(request)
    if current.status != S.AWAITING_CLIENT:
        raise ValidationError({"status": ValidationError(
            "Only a request awaiting its client can be sent to the client again.", code="illegal_transition"
        )})  # fmt: skip
    return _email_client(current, actor)


# --- The client's decision -----------------------------------------------------------------------------


def _after_client(request: FundingRequest) -> str:
    return S.AWAITING_AUTHORIZER if request.required_authorizers else S.SUBMITTED


@transaction.atomic
def request_approve_on_behalf(*, actor: Any, request: FundingRequest, reason: str) -> FundingRequest:
    """The advisor approves for the client, where the program lets them (Streamlined Plus: moves
    between accounts with the same owners), saying how the client asked. The requester may do it:
    the authorizer who then checks the request is always another person."""
    current = _lock(request)
    states.target(current.status, "approve_on_behalf", _after_client(current))
    if not has_right(actor, Right.FUNDING):
        raise ValidationError({"status": ValidationError("Approving for a client needs the Funding right.",
                                                         code="needs_right")})  # fmt: skip
    answer = decision(current)
    if not answer.advisor_may_approve:
        raise ValidationError({"status": ValidationError(
            "The service program does not let the advisor approve this for the client.", code="program_refuses"
        )})  # fmt: skip
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say how the client asked for it (e.g. a call on Dec 4)."})
    links.links_revoke(subject=current, actor=actor)
    current.client_approved_at = timezone.now()
    current.client_approval = f"Approved on the client's behalf by {actor.full_name}: {reason}"[:200]
    return _move(current, "approve_on_behalf", _after_client(current), actor=actor, reason=reason)


def client_decide(*, link: Link, approve: bool, reason: str, who: str) -> str:
    """The client's decision from the approval page (the link and its code were consumed in this
    transaction by the page)."""
    current = _lock(FundingRequest.objects.get(pk=int(link.subject_id)))
    if content_fingerprint(current) != link.fingerprint:  # the page checked it; a concurrent edit is caught here
        raise ValidationError("This request changed after the email was sent.")
    label = f"Client ({who})"
    if approve:
        current.client_approved_at = timezone.now()
        current.client_approval = f"Approved by the client from the emailed link with a one-time code ({who})"[:200]
        _move(current, "client_approve", _after_client(current), label=label, reason=reason)
        what = f"{current.get_kind_display().lower()} {current.reference}"
        return f"You approved the {what}. Your advisor will let you know when it is done."
    _release_hold(current, None, "The client declined")
    _close_instruction(current)
    _move(current, "client_decline", S.REJECTED, label=label, reason=reason or "Declined by the client")
    return f"You declined the {current.get_kind_display().lower()} {current.reference}. Nothing will be moved."


def link_code_event(link: Link, event: str, detail: str) -> None:
    """A one-time code of the request's link was sent or refused: into the request's timeline."""
    RequestEvent.objects.create(
        request_id=int(link.subject_id), action=event, actor_label="Client", reason=detail[:500]
    )


def reminders_send_due() -> int:
    """Celery beat: one reminder to each client who has not answered an approval email after the
    firm's ``reminder_after_hours``. The reminder carries a new link (the earlier one stops working)
    that expires when the earlier one would have, so a reminder never extends the time to answer.
    Once per email: a re-send starts again, a rerun (or a second beat) sends nothing new."""
    hours = selectors.funding_settings().reminder_after_hours
    if not hours:
        return 0
    sent = 0
    for request_id in selectors.reminder_candidates(after_hours=hours):
        with transaction.atomic():
            current = _lock(FundingRequest.objects.get(pk=request_id))
            link = selectors.latest_open_link(current)
            if current.status != S.AWAITING_CLIENT or link is None:
                continue
            if selectors.reminded(current):
                continue
            _email_client(current, None, expires_at=link.expires_at, reminder=True)
            sent += 1
    return sent


def link_expired(link: Link) -> None:
    """The expiry sweep closed an unused approval link: the request expires if it still waits on it."""
    current = _lock(FundingRequest.objects.get(pk=int(link.subject_id)))
    if current.status == S.AWAITING_CLIENT and not selectors.open_links(current):
        _release_hold(current, None, "The approval link expired")
        _close_instruction(current)
        _move(current, "expire", S.EXPIRED, label="Expiry", reason="The client did not answer before the link expired")


# --- Authorizers ---------------------------------------------------------------------------------------


@transaction.atomic
def request_authorize(*, actor: Any, request: FundingRequest) -> FundingRequest:
    """One Funding Authorizer's approval. Never the requester's; twice by one person counts once
    (refused); with all the approvals the request needs it goes to the custodian (a bank
    instruction becomes active at once)."""
    current = _lock(request)
    states.target(current.status, "authorize", S.SUBMITTED)
    if not has_right(actor, Right.FUNDING_AUTHORIZER):
        raise ValidationError({"status": ValidationError("Authorizing needs the Funding Authorizer right.",
                                                         code="needs_right")})  # fmt: skip
    if current.created_by_id == actor.pk:
        raise ValidationError({"status": ValidationError("You requested this, so another authorizer must approve it.",
                                                         code="maker_checker")})  # fmt: skip
    if Authorization.objects.filter(request=current, user=actor, version=current.version).exists():
        raise ValidationError({"status": ValidationError(
            "You have already authorized this request; another authorizer must too.", code="already_authorized"
        )})  # fmt: skip
    Authorization.objects.create(request=current, user=actor, version=current.version)
    done = Authorization.objects.filter(request=current, version=current.version).count()
    if done < current.required_authorizers:
        _event(current, "authorize", actor=actor, from_status=current.status, to_status=current.status,
               reason=f"{done} of {current.required_authorizers} authorizers")  # fmt: skip
        return current
    if current.kind == RequestKind.BANK_INSTRUCTION:
        _activate_instruction(current)
        current.completed_on = timezone.localdate()
        return _move(current, "authorize", S.COMPLETED, actor=actor, reason="Bank instruction approved")
    if current.kind in HOLD_KINDS:  # the cash is still there (a hold never exceeds the available cash)
        assert current.hold is not None and current.hold.is_open
    return _move(current, "authorize", S.SUBMITTED, actor=actor,
                 reason=f"{done} of {current.required_authorizers} authorizers")  # fmt: skip


@transaction.atomic
def request_reject(*, actor: Any, request: FundingRequest, reason: str) -> FundingRequest:
    current = _lock(request)
    states.target(current.status, "reject", S.REJECTED)
    if not has_right(actor, Right.FUNDING_AUTHORIZER):
        raise ValidationError({"status": ValidationError("Rejecting needs the Funding Authorizer right.",
                                                         code="needs_right")})  # fmt: skip
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the request is rejected."})
    _release_hold(current, actor, "Rejected by an authorizer")
    _close_instruction(current)
    return _move(current, "reject", S.REJECTED, actor=actor, reason=reason)


@transaction.atomic
def request_cancel(*, actor: Any, request: FundingRequest, reason: str) -> FundingRequest:
    """Withdraw the request (before it went to the custodian in an instruction file)."""
    current = _lock(request)
    states.target(current.status, "cancel", S.CANCELLED)
    if current.status == S.SUBMITTED and current.instruction_file_id is not None:
        raise ValidationError({"status": ValidationError(
            "This request was already sent to the custodian; ask the custodian to stop it.", code="at_custodian"
        )})  # fmt: skip
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the request is cancelled."})
    links.links_revoke(subject=current, actor=actor)
    _release_hold(current, actor, "Cancelled")
    _close_instruction(current)
    return _move(current, "cancel", S.CANCELLED, actor=actor, reason=reason)


# --- The custodian: instruction files and completion --------------------------------------------------

INSTRUCTION_COLUMNS = (
    "reference", "type", "method", "from_account", "to_account", "amount", "currency", "symbol", "quantity",
    "bank_holder", "bank_name", "bank_account_type", "bank_routing_number", "bank_account_number", "memo",
)  # fmt: skip


@transaction.atomic
def instruction_file_create(*, actor: Any) -> tuple[InstructionFile, bytes]:
    """Every submitted request not yet sent, as one CSV for the custodian (docs/funding.md); each
    request goes into one file only. The bank numbers are in the clear in the file (the custodian
    needs them): the page that downloads it needs a recent second factor, and only a Funding
    Authorizer whose scope is every client of the firm may make one."""
    allowed, grant_id = grant_scope(actor, Right.FUNDING_AUTHORIZER)
    if not allowed or grant_id is not None:
        raise ValidationError(
            ValidationError("Instruction files need the Funding Authorizer right for every client.", code="needs_right")
        )
    pending = list(
        FundingRequest.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(status=S.SUBMITTED, instruction_file__isnull=True)
        .select_related("account", "to_account", "bank_instruction", "security")
        .order_by("pk")
    )
    if not pending:
        raise ValidationError("No submitted request is waiting to go to the custodian.")
    content = instruction_csv(pending)
    record = InstructionFile.objects.create(created_by=actor, rows=len(pending), content_hash=sha256_hex(content))
    FundingRequest.objects.filter(pk__in=[r.pk for r in pending]).update(instruction_file=record)
    for request in pending:
        _event(request, "instruction_file", actor=actor, reason=f"Instruction file {record.pk}")
    return record, content


def instruction_csv(requests: list[FundingRequest]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(INSTRUCTION_COLUMNS)
    for r in requests:
        bank = r.bank_instruction
        writer.writerow([
            r.reference, r.kind, r.method, r.account.number if r.account else "",
            r.to_account.number if r.to_account else "",
            "" if r.amount is None else f"{r.amount:.{formats.minor_units(r.currency)}f}", r.currency,
            r.security.symbol if r.security else "", "" if r.quantity is None else f"{r.quantity.normalize():f}",
            bank.holder_name if bank else "", bank.bank_name if bank else "", bank.account_kind if bank else "",
            open_secret(bank.routing_number_encrypted) if bank else "",
            open_secret(bank.account_number_encrypted) if bank else "", _csv_safe(r.memo),
        ])  # fmt: skip
    return out.getvalue().encode()


def _csv_safe(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@transaction.atomic
def request_complete(
    *, actor: Any, request: FundingRequest, custodian_reference: str = "", completed_on: date | None = None
) -> FundingRequest:
    """The custodian did it: release the hold and post to the ledger, keyed by the request's
    reference, with the status change in this one transaction. A transaction the custodian import
    already recorded under the reference is linked instead of posted again."""
    current = _lock(request)
    if actor is not None and not has_right(actor, Right.FUNDING_AUTHORIZER):  # None: the custodian import
        raise ValidationError({"status": ValidationError("Completing needs the Funding Authorizer right.",
                                                         code="needs_right")})  # fmt: skip
    if current.status == S.COMPLETED:
        return current  # a retry (a second click, the import after the manual step): nothing more
    states.target(current.status, "complete", S.COMPLETED)
    day = completed_on or timezone.localdate()
    if day > timezone.localdate():
        raise ValidationError({"completed_on": "The completion date cannot be in the future."})
    _release_hold(current, actor, "Completed")
    current.transaction = _post(current, actor, day)
    current.custodian_reference = (custodian_reference or "").strip()[:100]
    current.completed_on = day
    reason = f"Custodian reference {current.custodian_reference}" if current.custodian_reference else ""
    return _move(current, "complete", S.COMPLETED, actor=actor, reason=reason)


def _post(request: FundingRequest, actor: Any, day: date) -> Any:
    assert request.account is not None
    key = request.reference
    memo = f"{request.get_kind_display()} {request.reference}"
    if request.kind in (RequestKind.DEPOSIT, RequestKind.WITHDRAWAL):
        kind = TransactionKind.DEPOSIT if request.kind == RequestKind.DEPOSIT else TransactionKind.WITHDRAWAL
        recorded = selectors.transaction_by_reference(account=request.account, reference=key)
        if recorded is not None:  # the custodian import brought it first
            if recorded.kind != kind or abs(recorded.amount) != request.amount or recorded.currency != request.currency:
                raise ValidationError(
                    {"custodian_reference": f"The custodian recorded {key} as {recorded.get_kind_display().lower()} of "
                     f"{formats.money(abs(recorded.amount), recorded.currency)}; check it before completing."}
                )  # fmt: skip
            return recorded
        return ledger.transaction_record(
            actor=actor, account=request.account, kind=kind, trade_date=day,
            amount=request.amount, currency=request.currency, description=memo, external_id=key,
        )  # fmt: skip
    if request.kind == RequestKind.INTERNAL_TRANSFER:
        assert request.to_account is not None and request.amount is not None
        transfer = ledger.internal_transfer(
            actor=actor, from_account=request.account, to_account=request.to_account, amount=request.amount,
            currency=request.currency, trade_date=day, idempotency_key=key, memo=memo,
        )  # fmt: skip
        return transfer.debit_transaction
    assert request.to_account is not None and request.security is not None and request.quantity is not None
    out, _ = ledger.transfer_position_between_accounts(
        actor=actor, from_account=request.account, to_account=request.to_account, security=request.security,
        quantity=request.quantity, trade_date=day, reference=key, memo=memo,
    )  # fmt: skip
    return out


def requests_match_custodian(*, account_ids: list[int] | None = None) -> int:
    """Complete the submitted requests whose reference the custodian import recorded (a
    transaction with the request's reference as its external id on the request's account)."""
    completed = 0
    for request, record in selectors.submitted_with_custodian_record(account_ids=account_ids):
        try:
            with transaction.atomic():
                request_complete(actor=None, request=request, custodian_reference="custodian file",
                                 completed_on=record.trade_date)  # fmt: skip
            completed += 1
        except ValidationError as refused:  # other figures than requested: a person checks it (said once)
            reason = " ".join(refused.messages)[:500]
            if not RequestEvent.objects.filter(request=request, action="custodian_mismatch", reason=reason).exists():
                _event(request, "custodian_mismatch", label="Custodian import", reason=reason)
    return completed


# --- Bank instructions --------------------------------------------------------------------------------


def _aba_valid(routing: str) -> bool:
    if not re.fullmatch(r"[0-9]{9}", routing):
        return False
    d = [int(c) for c in routing]
    return (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8])) % 10 == 0


@transaction.atomic
def bank_instruction_request(
    *,
    actor: Any,
    contact: Contact,
    holder_name: str,
    bank_name: str,
    account_kind: str,
    currency: str,
    account_number: str,
    routing_number: str,
    replaces: BankInstruction | None = None,
) -> FundingRequest:
    """Add (or, with ``replaces``, change) a client's bank instruction: saved as awaiting approval
    with its numbers encrypted, and a request (kind ``bank_instruction``) in draft that approves it."""
    account_number = re.sub(r"[\s-]", "", account_number or "")
    routing_number = re.sub(r"[\s-]", "", routing_number or "")
    if not re.fullmatch(r"[0-9]{4,17}", account_number):
        raise ValidationError({"account_number": "A bank account number has 4 to 17 digits."})
    if not _aba_valid(routing_number):
        raise ValidationError(
            {"routing_number": "Enter the bank's 9-digit ABA routing number (its check digit is wrong)."}
        )
    if replaces is not None and (replaces.contact_id != contact.pk or replaces.status != InstructionStatus.ACTIVE):
        raise ValidationError({"replaces": "Choose one of this client's active bank instructions to change."})
    instruction = BankInstruction(
        contact=contact, holder_name=(holder_name or "").strip(), bank_name=(bank_name or "").strip(),
        account_kind=account_kind, currency=_currency(currency or "USD"),
        account_number_encrypted=seal_secret(account_number), account_last4=account_number[-4:],
        routing_number_encrypted=seal_secret(routing_number), routing_last4=routing_number[-4:],
        replaces=replaces, created_by=actor,
    )  # fmt: skip
    instruction.full_clean()
    instruction.save()
    request = FundingRequest(kind=RequestKind.BANK_INSTRUCTION, client=contact, bank_instruction=instruction,
                             method="", created_by=actor)  # fmt: skip
    request.full_clean()
    request.save()
    _event(request, "create", actor=actor, to_status=request.status,
           reason=f"Change of {replaces}" if replaces else "New bank instruction")  # fmt: skip
    return request


def _close_instruction(request: FundingRequest) -> None:
    """A bank-instruction request that ends without approval leaves its instruction not approved."""
    instruction = request.bank_instruction
    if request.kind == RequestKind.BANK_INSTRUCTION and instruction is not None:
        instruction.status = InstructionStatus.REJECTED
        instruction.save(update_fields=["status"])


def _activate_instruction(request: FundingRequest) -> None:
    instruction = request.bank_instruction
    assert instruction is not None
    instruction.status = InstructionStatus.ACTIVE
    instruction.activated_at = timezone.now()
    instruction.save(update_fields=["status", "activated_at"])
    if instruction.replaces_id is not None:
        BankInstruction.objects.filter(pk=instruction.replaces_id, status=InstructionStatus.ACTIVE).update(
            status=InstructionStatus.REPLACED
        )


# --- What the approval page and emails show --------------------------------------------------------


def describe(request: FundingRequest) -> dict[str, Any]:
    """The request in words, for the client's email and page: amounts, masked numbers, dates."""
    rows: list[tuple[str, str]] = [("Request", request.reference), ("Type", request.get_kind_display())]
    title = request.get_kind_display()
    if request.amount is not None:
        money = formats.money(request.amount, request.currency)
        rows.append(("Amount", money))
        title = f"{title} of {money}"
    if request.quantity is not None and request.security is not None:
        rows.append(("Security", f"{request.security.symbol} · {request.security.name}"))
        rows.append(("Quantity", formats.quantity(request.quantity)))
        title = f"{title} of {formats.quantity(request.quantity)} {request.security.symbol}"
    if request.method:
        rows.append(("Method", request.get_method_display()))
    if request.account is not None:
        rows.append(("From account" if request.kind != RequestKind.DEPOSIT else "To account",
                     f"{request.account.title} · {formats.masked_digits(request.account.number[-4:])}"))  # fmt: skip
    if request.to_account is not None:
        to_mask = formats.masked_digits(request.to_account.number[-4:])
        rows.append(("To account", f"{request.to_account.title} · {to_mask}"))
    bank = request.bank_instruction
    if bank is not None:
        rows.append(("Bank account" if request.kind == RequestKind.WITHDRAWAL else "New bank account",
                     f"{bank.holder_name}, {bank.bank_name}, {bank.get_account_kind_display().lower()} "
                     f"{bank.masked_account}, routing {bank.masked_routing}, {bank.currency}"))  # fmt: skip
        if request.kind == RequestKind.BANK_INSTRUCTION and bank.replaces is not None:
            rows.append(("Replaces", f"{bank.replaces.bank_name} {bank.replaces.masked_account}"))
    if request.memo:
        rows.append(("Note", request.memo))
    rows.append(("Requested by", f"{request.created_by.full_name} on {formats.day(request.created_at)}"))
    return {"title": title, "rows": rows, "reference": request.reference}
