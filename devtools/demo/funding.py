"""Demo money movement: each demo firm's funding policy, saved bank instructions of a few clients,
and requests in every state, made through the funding services as the advisor (requester) and the
primary user (authorizer) would. One withdrawal waits on its client with the approval email in the
development outbox, so a person can follow a client approval from there. Idempotent: a firm that
has requests gets none added.

Harbor uses Streamlined Plus (the advisor may approve moves between a client's own accounts for
the client); Summit uses Full-Service, with two clients enrolled and their powers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from accounts.models import Firm, User
from advisorportal.links import services as link_services
from advisorportal.links.models import Link
from crm.crypto import seal_secret
from funding import services
from funding.models import BankInstruction, FundingRequest, InstructionStatus, Power
from portfolios import selectors as book
from portfolios import services as ledger
from portfolios.models import ClientAccount

MIN_ACCOUNTS = 10  # a smaller demo firm (tests) gets no funding data and keeps exactly its accounts
PROGRAMS = {"harbor": "streamlined_plus", "summit": "full_service"}
# (bank, account number, routing number): test numbers with valid ABA check digits.
BANKS = (
    ("First Republic Savings", "004512837761", "021000021"),
    ("Harborview Credit Union", "000918273645", "011000015"),
    ("Summit National Bank", "003344556677", "026009593"),
    ("Lakeside Federal", "007788990011", "121000358"),
)


def delete_funding() -> None:
    """The firm's funding rows (for ``seed_demo --reset``, before its accounts go)."""
    from advisorportal.links.models import LinkCode
    from funding.models import Authorization, Enrollment, FundingSettings, InstructionFile, RequestEvent

    LinkCode.objects.filter(link__subject_type="funding.fundingrequest").delete()
    Link.objects.filter(subject_type="funding.fundingrequest").delete()
    Authorization.objects.all().delete()
    RequestEvent.objects.all().delete()
    FundingRequest.objects.all().delete()
    InstructionFile.objects.all().delete()
    BankInstruction.objects.filter(replaces__isnull=False).delete()
    BankInstruction.objects.all().delete()
    Enrollment.objects.all().delete()
    FundingSettings.objects.all().delete()


def _pairs(limit: int, actor: User) -> list[tuple[ClientAccount, ClientAccount]]:
    """Pairs of open USD accounts with the same single owner, the first with cash to move; where a
    funded account's owner has no second account, one is opened for them (a savings account)."""
    pairs = []
    candidates = (
        ClientAccount.objects.filter(is_master=False, status="open", base_currency="USD")
        .annotate(owners_count=Count("owners"))
        .filter(owners_count=1)
        .order_by("id")
    )
    for account in candidates[: limit * 10]:
        if book.cash_position(account=account, currency="USD").available <= 5000:
            continue
        contact = book.primary_owner(account=account)
        other = (
            ClientAccount.objects.filter(owners=contact, status="open", base_currency="USD")
            .exclude(pk=account.pk)
            .annotate(owners_count=Count("owners"))
            .filter(owners_count=1)
            .first()
        )
        if other is None:
            other = ledger.account_open(
                actor=actor, number=f"{account.number}S", title=f"{contact} Savings", account_type="individual",
                owners=[contact], household=account.household,
            )  # fmt: skip
        pairs.append((account, other))
        if len(pairs) >= limit:
            break
    return pairs


def _instruction(contact: Any, index: int, actor: User) -> BankInstruction:
    """A bank instruction on file since before the demo's requests (approved a month ago)."""
    bank, number, routing = BANKS[index % len(BANKS)]
    return BankInstruction.objects.create(
        contact=contact, holder_name=str(contact), bank_name=bank, account_kind="checking", currency="USD",
        account_number_encrypted=seal_secret(number), account_last4=number[-4:],
        routing_number_encrypted=seal_secret(routing), routing_last4=routing[-4:],
        status=InstructionStatus.ACTIVE, activated_at=timezone.now() - timedelta(days=30), created_by=actor,
    )  # fmt: skip


@transaction.atomic
def seed_funding(*, firm: Firm, extra_waiting: int = 0, log: Callable[[str], Any] = print) -> int:
    """Create ``firm``'s demo funding data (inside its ``firm_scope``); returns the requests made.
    ``extra_waiting`` deposit notifications more wait on the custodian (for the bench's Pending
    items with thousands of waiting requests)."""
    if FundingRequest.objects.exists() or ClientAccount.objects.filter(is_master=False).count() < MIN_ACCOUNTS:
        return 0
    users = {u.email.split("@")[0]: u for u in User.objects.filter(email__endswith=f"@{firm.slug}.example")}
    advisor, owner = users.get("advisor"), users.get("owner")
    pairs = _pairs(4, owner) if owner is not None else []
    if advisor is None or owner is None or len(pairs) < 4:
        return 0
    program = PROGRAMS.get(firm.slug, "streamlined")
    services.settings_update(actor=owner, program=program, cooling_off_days=3,
                             dual_authorization_amount=Decimal(50_000))  # fmt: skip
    made: list[FundingRequest] = []

    def withdrawal(account: ClientAccount, amount: str, memo: str = "") -> FundingRequest:
        contact = book.primary_owner(account=account)
        instruction = BankInstruction.objects.filter(contact=contact, status="active").first() or _instruction(
            contact, len(made), owner
        )
        request = services.request_create(
            actor=advisor, kind="withdrawal", account=account, bank_instruction=instruction, method="ach",
            amount=amount, currency=account.base_currency, memo=memo,
        )  # fmt: skip
        made.append(request)
        return request

    def transfer(pair: tuple[ClientAccount, ClientAccount], amount: str, memo: str) -> FundingRequest:
        request = services.request_create(
            actor=advisor, kind="internal_transfer", account=pair[0], to_account=pair[1], amount=amount,
            currency=pair[0].base_currency, memo=memo,
        )  # fmt: skip
        made.append(request)
        return request

    def deposit(account: ClientAccount, amount: str, method: str) -> FundingRequest:
        request = services.request_create(
            actor=advisor, kind="deposit", account=account, method=method, amount=amount,
            currency=account.base_currency,
        )  # fmt: skip
        made.append(request)
        return request

    (a, b), (c, d), (e, f), (g, _) = pairs[:4]
    if program == "full_service":
        services.enrollment_set(
            actor=advisor,
            contact=book.primary_owner(account=c),
            powers=[Power.MOVE_FUNDS, Power.BANK_INSTRUCTIONS],
            form_reference="LPOA 2026-014",
        )
        services.enrollment_set(actor=advisor, contact=book.primary_owner(account=e),
                                powers=[Power.MOVE_FUNDS], form_reference="LPOA 2026-021")  # fmt: skip

    # Draft, awaiting the client (the approval email is in the outbox), cancelled, expired.
    withdrawal(a, "1250.00", "Draft: check the amount with the client")
    followed = withdrawal(a, "2500.00", "Tuition payment")
    services.request_send(actor=advisor, request=followed)
    cancelled = withdrawal(g, "400.00")
    services.request_cancel(actor=advisor, request=cancelled, reason="The client paid by card instead")
    expired = services.request_send(actor=advisor, request=withdrawal(g, "900.00", "Home repair"))
    if expired.status == "awaiting_client":
        Link.objects.filter(subject_type="funding.fundingrequest", subject_id=str(expired.pk)).update(
            expires_at=timezone.now() - timedelta(minutes=1)
        )  # as if the client let it lapse
        link_services.links_expire()

    # Deposits: one on its way to the custodian, one completed.
    services.request_send(actor=advisor, request=deposit(b, "5000.00", "wire"))
    done_deposit = deposit(d, "1200.00", "check")
    services.request_send(actor=advisor, request=done_deposit)
    services.request_complete(actor=owner, request=done_deposit, custodian_reference="CHK-88231")

    # Transfers between a client's own accounts: approved for the client (Streamlined Plus) or
    # needing no client approval (Full-Service with the power), then authorized, rejected, completed.
    def to_authorizer(request: FundingRequest) -> FundingRequest:
        services.request_send(actor=advisor, request=request)
        request.refresh_from_db()
        if request.status == "awaiting_client" and services.decision(request).advisor_may_approve:
            services.request_approve_on_behalf(actor=advisor, request=request, reason="The client asked by phone")
        request.refresh_from_db()
        return request

    waiting = to_authorizer(transfer((c, d), "750.00", "Rebalance cash between accounts"))
    rejected = to_authorizer(transfer((e, f), "300.00", "Move cash for a purchase"))
    if rejected.status == "awaiting_authorizer":
        services.request_reject(actor=owner, request=rejected, reason="Wrong destination account; ask again")
    submitted = to_authorizer(transfer((c, d), "500.00", "Monthly top-up"))
    if submitted.status == "awaiting_authorizer":
        services.request_authorize(actor=owner, request=submitted)
    completed = to_authorizer(transfer((e, f), "200.00", "Quarterly contribution"))
    if completed.status == "awaiting_authorizer":
        services.request_authorize(actor=owner, request=completed)
        services.request_complete(actor=owner, request=completed, custodian_reference="INT-4410")
    accounts = list(ClientAccount.objects.filter(is_master=False, status="open", base_currency="USD")[:500])
    for index in range(extra_waiting):
        services.request_send(
            actor=advisor, request=deposit(accounts[index % len(accounts)], f"{100 + index}.00", "ach")
        )
    log(f"  funding: {len(made)} requests ({program}); {waiting.reference} waits on an authorizer, "
        f"{followed.reference} on its client (approval email in the outbox)")  # fmt: skip
    return len(made)
