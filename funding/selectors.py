"""Every read of money movement, given the user where scope matters (Funding scope: the
request's accounts, or for a bank instruction its client, must be in the user's scope)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Now
from django.utils import timezone

from accounts.policy import grant_scope
from accounts.rights import Right
from advisorportal import formats
from advisorportal.links.models import Link
from crm.models import Contact, contact_label_defer
from crm.scope import scope_contacts
from funding.models import (
    WAITING_STATUSES,
    BankInstruction,
    Enrollment,
    FundingRequest,
    FundingSettings,
    InstructionStatus,
    RequestEvent,
    RequestKind,
    Status,
)
from funding.policy import CLIENT_OR_ADVISOR, RULES
from portfolios import selectors as book
from portfolios.models import ClientAccount, Security, Transaction
from portfolios.scope import scope_accounts


def funding_settings() -> FundingSettings:
    """The firm's funding policy, or the defaults (unsaved) until it saves its own."""
    return FundingSettings.objects.first() or FundingSettings()


def enrollment_of(contact: Contact) -> Enrollment | None:
    return Enrollment.objects.filter(contact=contact).first()


def instruction_usable_from(instruction: BankInstruction) -> datetime | None:
    if instruction.activated_at is None:
        return None
    return instruction.activated_at + timedelta(days=funding_settings().cooling_off_days)


def pending_position_quantity(*, account: ClientAccount, security: Security, exclude: int | None = None) -> Decimal:
    """Quantity of ``security`` that waiting position transfers will take out of ``account``."""
    rows = FundingRequest.objects.filter(
        account=account, security=security, kind=RequestKind.POSITION_TRANSFER, status__in=WAITING_STATUSES
    )
    if exclude is not None:
        rows = rows.exclude(pk=exclude)
    return rows.aggregate(total=Sum("quantity"))["total"] or Decimal(0)


def _open_links(request: FundingRequest) -> QuerySet[Link]:
    return Link.objects.filter(
        subject_type=request._meta.label_lower, subject_id=str(request.pk), used_at=None, revoked_at=None,
        expired_at=None, expires_at__gt=Now(),
    )  # fmt: skip


def open_links(request: FundingRequest) -> bool:
    return _open_links(request).exists()


def latest_open_link(request: FundingRequest) -> Link | None:
    return _open_links(request).order_by("-created_at", "-id").first()


def reminder_candidates(*, after_hours: int) -> list[int]:
    """Requests whose open approval link went out at least ``after_hours`` ago and does not expire
    within 15 minutes (the expiry sweep comes first); the service checks each again under its lock."""
    now = timezone.now()
    due = Link.objects.filter(
        subject_type=FundingRequest._meta.label_lower, used_at=None, revoked_at=None, expired_at=None,
        created_at__lte=now - timedelta(hours=after_hours), expires_at__gt=now + timedelta(minutes=15),
    ).values_list("subject_id", flat=True)  # fmt: skip
    return sorted({int(pk) for pk in due})


def reminded(request: FundingRequest) -> bool:
    """Whether the request's latest approval email was a reminder (a re-send starts again)."""
    last = (
        RequestEvent.objects.filter(request=request, action__in=("email_sent", "reminder_sent"))
        .order_by("-at", "-id")
        .values_list("action", flat=True)
        .first()
    )
    return last == "reminder_sent"


def transaction_by_reference(*, account: ClientAccount, reference: str) -> Transaction | None:
    return Transaction.objects.filter(account=account, external_id=reference).first()


def submitted_with_custodian_record(
    *, account_ids: list[int] | None = None
) -> list[tuple[FundingRequest, Transaction]]:
    """Submitted deposits and withdrawals whose reference a custodian file recorded on their account."""
    requests = FundingRequest.objects.filter(
        status=Status.SUBMITTED, kind__in=[RequestKind.DEPOSIT, RequestKind.WITHDRAWAL]
    ).select_related("account", "hold")
    if account_ids is not None:
        requests = requests.filter(account_id__in=account_ids)
    by_key = {(r.account_id, r.reference): r for r in requests}
    if not by_key:
        return []
    records = Transaction.objects.filter(
        account_id__in={a for a, _ in by_key}, external_id__in={ref for _, ref in by_key}
    )
    return [(by_key[(t.account_id, t.external_id)], t) for t in records if (t.account_id, t.external_id) in by_key]


# --- Scoped lists -------------------------------------------------------------------------------------


def requests_in_scope(*, user: Any) -> QuerySet[FundingRequest]:
    """Requests the user may see: every account they name (the source and a transfer's
    destination) in the user's Funding scope, or, for a bank instruction, its client in that scope."""
    base = FundingRequest.objects.all()
    allowed, grant_id = grant_scope(user, Right.FUNDING)
    if not allowed:
        return base.none()
    if grant_id is None:  # every client of the firm
        return base
    accounts = scope_accounts(ClientAccount.objects.all(), user=user, right=Right.FUNDING).values("pk")
    by_account = base.filter(account__in=accounts).filter(Q(to_account__isnull=True) | Q(to_account__in=accounts))
    by_contact = scope_contacts(base.filter(kind=RequestKind.BANK_INSTRUCTION), user=user, right=Right.FUNDING,
                                contact_field="client")  # fmt: skip
    return base.filter(Q(pk__in=by_account.values("pk")) | Q(pk__in=by_contact.values("pk")))


def request_get(*, user: Any, pk: Any) -> FundingRequest:
    """One request in scope (``FundingRequest.DoesNotExist`` for another firm's, out of scope or missing)."""
    return (
        requests_in_scope(user=user)
        .select_related(
            "account",
            "to_account",
            "bank_instruction",
            "bank_instruction__replaces",
            "security",
            "client",
            "created_by",
            "hold",
        )
        .defer(*contact_label_defer("client"))
        .get(pk=pk)
    )


def history(
    *,
    user: Any,
    date_from: date | None = None,
    date_to: date | None = None,
    kind: str = "",
    method: str = "",
    status: str = "",
    q: str = "",
    account: ClientAccount | None = None,
    default_days: int | None = 90,
) -> QuerySet[FundingRequest]:
    """Transaction history: requests created in the range, newest first; without ``date_from``
    the last ``default_days`` days (None: every date)."""
    rows = requests_in_scope(user=user)
    if date_from is None and default_days is not None:
        date_from = timezone.localdate() - timedelta(days=default_days)
    if date_from is not None:
        rows = rows.filter(created_at__date__gte=date_from)
    if date_to:
        rows = rows.filter(created_at__date__lte=date_to)
    if kind:
        rows = rows.filter(kind=kind)
    if method:
        rows = rows.filter(method=method)
    if status:
        rows = rows.filter(status=status)
    if account is not None:
        rows = rows.filter(Q(account=account) | Q(to_account=account))
    if q:
        rows = rows.filter(_text_match(q))
    return rows.select_related("account", "to_account", "client", "security", "created_by").order_by(
        "-created_at", "-id"
    )


def waiting(*, user: Any, status: str = "", q: str = "", limit: int | None = None) -> list[FundingRequest]:
    """Requests waiting on someone (client, authorizer, custodian) in the user's scope, oldest wait
    first; ``q`` matches the reference, the account number or the client's name."""
    rows = requests_in_scope(user=user).filter(status__in=[status] if status else WAITING_STATUSES)
    if q:
        rows = rows.filter(_text_match(q))
    rows = (
        rows.select_related("account", "client", "security")
        .defer(*contact_label_defer("client"))
        .order_by("status_changed_at", "id")
    )
    return list(rows[:limit] if limit else rows)


def waiting_count(*, user: Any, status: str = "", q: str = "") -> int:
    rows = requests_in_scope(user=user).filter(status__in=[status] if status else WAITING_STATUSES)
    return (rows.filter(_text_match(q)) if q else rows).count()


def advisor_may_approve(requests: list[FundingRequest]) -> set[int]:
    """Of these requests, the ones awaiting their client that the advisor may approve on the
    client's behalf: the policy's ``advisor_may_approve`` for a page of requests in two queries
    (a request's page asks ``services.decision`` for one)."""
    program = funding_settings().program
    candidates = [
        r
        for r in requests
        if r.status == Status.AWAITING_CLIENT
        and r.to_account_id is not None
        and any(RULES.get((r.kind, relation), {}).get(program) == CLIENT_OR_ADVISOR for relation in ("same", "shared"))
    ]
    if not candidates:
        return set()
    ids = {a for r in candidates for a in (r.account_id, r.to_account_id) if a is not None}
    owners = book.owner_ids_by_account(account_ids=ids)
    allowed = set()
    for r in candidates:
        source, destination = owners.get(r.account_id or 0, set()), owners.get(r.to_account_id or 0, set())
        relation = "same" if source and source == destination else "shared" if source & destination else ""
        if relation and RULES[(r.kind, relation)][program] == CLIENT_OR_ADVISOR:
            allowed.add(r.pk)
    return allowed


def waiting_subject(request: FundingRequest) -> str:
    what = request.get_kind_display()
    if request.amount is not None:
        what += f" of {formats.money(request.amount, request.currency)}"
    elif request.quantity is not None and request.security is not None:
        what += f" of {formats.quantity(request.quantity)} {request.security.symbol}"
    return f"{request.reference} {what}"


def _text_match(q: str) -> Q:
    term = q.strip()
    match = Q(memo__icontains=term) | Q(account__number__startswith=term) | Q(to_account__number__startswith=term)
    match |= Q(client__last_name__istartswith=term) | Q(client__first_name__istartswith=term)
    if term.upper().startswith("FR-") and term[3:].isdigit():
        match |= Q(pk=int(term[3:]))
    return match


def bank_instructions(*, contact: Contact, include_inactive: bool = False) -> QuerySet[BankInstruction]:
    rows = BankInstruction.objects.filter(contact=contact)
    return rows if include_inactive else rows.filter(status=InstructionStatus.ACTIVE)


def instructions_for_account(*, account: ClientAccount) -> QuerySet[BankInstruction]:
    """Active bank instructions of the account's owners (where its withdrawals may go)."""
    return BankInstruction.objects.filter(
        contact__in=account.owners.values("pk"), status=InstructionStatus.ACTIVE
    ).select_related("contact")


def accounts_in_scope(*, user: Any) -> QuerySet[ClientAccount]:
    return scope_accounts(ClientAccount.objects.filter(is_master=False), user=user, right=Right.FUNDING)


def contacts_in_scope(*, user: Any) -> QuerySet[Contact]:
    return scope_contacts(Contact.objects.all(), user=user, right=Right.FUNDING)
