"""Issue #17: money movement. The state machine, maker-checker, the policy, holds and postings,
the client's approval link with its one-time code, instruction files and completion."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from accounts.rights import Right, Role
from advisorportal.links.models import Link, LinkCode
from funding import selectors, services
from funding.models import FundingRequest, InstructionStatus, RequestEvent, Status
from portfolios import selectors as book
from portfolios import services as ledger
from portfolios.models import CashHold, LedgerPosting, Transaction
from tests.conftest import Persona
from tests.factories import ContactFactory, UserFactory
from tests.factories_portfolios import ClientAccountFactory, SecurityFactory

D = Decimal
TODAY = timezone.localdate()


class World:
    def __init__(self, alice: Persona) -> None:
        self.alice = alice
        firm = alice.firm
        self.advisor = UserFactory(
            firm=firm,
            email="adam@alpha.test",
            full_name="Adam Advisor",
            role=Role.ADVISOR,
            rights=frozenset({Right.CRM, Right.ACCOUNT_INFORMATION, Right.FUNDING}),
        )
        self.authorizer = UserFactory(
            firm=firm,
            email="olga@alpha.test",
            full_name="Olga Officer",
            role=Role.ADVISOR,
            rights=frozenset({Right.FUNDING, Right.FUNDING_AUTHORIZER}),
        )
        self.authorizer2 = UserFactory(
            firm=firm,
            email="pete@alpha.test",
            full_name="Pete Partner",
            role=Role.ADVISOR,
            rights=frozenset({Right.FUNDING, Right.FUNDING_AUTHORIZER}),
        )
        with alice.scope():
            self.client = ContactFactory(
                first_name="Carla", last_name="Client", email="carla@example.test", mobile_phone="+1 212 555 0199"
            )
            self.account = ClientAccountFactory(number="U5550001", title="Carla Individual", owners=[self.client])
            self.other = ClientAccountFactory(number="U5550002", title="Carla IRA", owners=[self.client])
            self.stranger = ClientAccountFactory(number="U5550003", title="Someone Else")
            ledger.transaction_record(
                actor=None,
                account=self.account,
                kind="deposit",
                amount=D("10000"),
                currency="USD",
                trade_date=TODAY - timedelta(days=5),
            )
            self.instruction = self.active_instruction(self.client)

    def active_instruction(self, contact: Any) -> Any:
        request = services.bank_instruction_request(
            actor=self.advisor,
            contact=contact,
            holder_name=str(contact),
            bank_name="First Bank",
            account_kind="checking",
            currency="USD",
            account_number="000123456789",
            routing_number="021000021",
        )
        services.enrollment_set(actor=self.advisor, contact=contact, powers=["bank_instructions"], form_reference="T")
        services.settings_update(actor=self.alice.user, program="full_service", cooling_off_days=0)
        services.request_send(actor=self.advisor, request=request)
        services.request_authorize(actor=self.authorizer, request=request)
        services.enrollment_end(actor=self.advisor, contact=contact)
        services.settings_update(actor=self.alice.user, program="streamlined", cooling_off_days=3)
        request.refresh_from_db()
        assert request.status == Status.COMPLETED
        instruction = request.bank_instruction
        instruction.refresh_from_db()
        instruction.activated_at = timezone.now() - timedelta(days=10)
        instruction.save()
        return instruction

    def withdrawal(self, amount: str = "2500", **kwargs: Any) -> FundingRequest:
        return services.request_create(
            actor=self.advisor,
            kind="withdrawal",
            account=self.account,
            bank_instruction=self.instruction,
            method="ach",
            amount=amount,
            currency="USD",
            **kwargs,
        )


@pytest.fixture
def world(alice: Persona) -> World:
    return World(alice)


def available(account: Any) -> Decimal:
    return book.cash_position(account=account, currency="USD").available


def last_email_text() -> str:
    from advisorportal.mail.models import OutgoingEmail

    return OutgoingEmail.objects.order_by("-pk").values_list("text_body", flat=True)[0]


def token_from_outbox(world: World) -> str:
    with world.alice.scope():
        return re.search(r"/approve/([^/\s]+)/", last_email_text())[1]  # type: ignore[index]


def code_from_email(world: World) -> str:
    with world.alice.scope():
        return re.search(r"\b(\d{6})\b", last_email_text())[1]  # type: ignore[index]


@pytest.mark.django_db
def test_withdrawal_end_to_end_posts_once(world: World, client: Client) -> None:
    with world.alice.scope():
        request = world.withdrawal()
        assert request.status == Status.DRAFT and request.reference.startswith("FR-")
        services.request_send(actor=world.advisor, request=request)
        request.refresh_from_db()
        assert request.status == Status.AWAITING_CLIENT
        assert available(world.account) == D("7500")  # held at sending
    token = token_from_outbox(world)
    page = client.get(f"/approve/{token}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "2,500.00" in text and "••••\u00a06789" in text and "000123456789" not in text
    assert client.head(f"/approve/{token}/").status_code == 200
    with world.alice.scope():
        assert FundingRequest.objects.get(pk=request.pk).status == Status.AWAITING_CLIENT  # GET changed nothing
    assert client.post(f"/approve/{token}/code/", {"destination": "0"}).status_code == 302
    code = code_from_email(world)
    wrong = client.post(
        f"/approve/{token}/decide/", {"decision": "approve", "code": "000000" if code != "000000" else "111111"}
    )
    assert wrong.status_code == 400 and "not right" in wrong.content.decode()
    done = client.post(f"/approve/{token}/decide/", {"decision": "approve", "code": code})
    assert done.status_code == 200, done.content.decode()
    again = client.post(f"/approve/{token}/decide/", {"decision": "approve", "code": code})
    assert again.status_code == 404  # a used link: the one answer every bad token gets
    with world.alice.scope():
        request.refresh_from_db()
        assert request.status == Status.AWAITING_AUTHORIZER
        with pytest.raises(ValidationError, match="needs the Funding Authorizer right"):
            services.request_authorize(actor=world.advisor, request=request)
        services.request_authorize(actor=world.authorizer, request=request)
        request.refresh_from_db()
        assert request.status == Status.SUBMITTED
        _file, content = services.instruction_file_create(actor=world.authorizer)
        assert b"000123456789" in content and request.reference.encode() in content
        services.request_complete(actor=world.authorizer, request=request, custodian_reference="C-1")
        services.request_complete(actor=world.authorizer, request=request, custodian_reference="C-1")
        request.refresh_from_db()
        assert request.status == Status.COMPLETED
        assert Transaction.objects.filter(external_id=request.reference).count() == 1
        assert available(world.account) == D("7500")
        assert not CashHold.objects.filter(released_at__isnull=True).exists()
        actions = list(RequestEvent.objects.filter(request=request).values_list("action", flat=True))
        assert actions[:3] == ["create", "send", "email_sent"] and actions[-1] == "complete"


@pytest.mark.django_db
def test_bad_amounts_are_refused_and_change_nothing(world: World) -> None:
    with world.alice.scope():
        before = FundingRequest.objects.count()
        for amount, message in (
            ("-5", "greater than zero"),
            ("0", "greater than zero"),
            ("1.001", "2 decimal"),
            ("abc", "as a number"),
            ("10000.01", "available cash"),
        ):
            with pytest.raises(ValidationError, match=message):
                world.withdrawal(amount)
        with pytest.raises(ValidationError, match="not a currency"):
            services.request_create(
                actor=world.advisor, kind="deposit", account=world.account, method="wire", amount="5", currency="XYZ"
            )
        assert FundingRequest.objects.count() == before


@pytest.mark.django_db
def test_withdrawal_to_another_clients_instruction_is_refused(world: World) -> None:
    with world.alice.scope():
        someone = world.stranger.owners.first()
        theirs = world.active_instruction(someone)
        with pytest.raises(ValidationError, match="does not own"):
            services.request_create(
                actor=world.advisor,
                kind="withdrawal",
                account=world.account,
                bank_instruction=theirs,
                method="ach",
                amount="10",
                currency="USD",
            )


@pytest.mark.django_db
def test_new_instruction_waits_for_the_cooling_off(world: World) -> None:
    with world.alice.scope():
        world.instruction.activated_at = timezone.now()
        world.instruction.save()
        with pytest.raises(ValidationError, match="cooling-off"):
            world.withdrawal("10")


@pytest.mark.django_db
def test_edit_voids_earlier_links(world: World, client: Client) -> None:
    with world.alice.scope():
        request = world.withdrawal()
        services.request_send(actor=world.advisor, request=request)
    token = token_from_outbox(world)
    with world.alice.scope():
        services.request_edit(actor=world.advisor, request=request, amount="2000")
        request.refresh_from_db()
        assert request.status == Status.DRAFT and request.version == 2
        assert available(world.account) == D("10000")
    assert client.get(f"/approve/{token}/").status_code == 404


@pytest.mark.django_db
def test_illegal_transitions_are_refused(world: World) -> None:
    with world.alice.scope():
        request = world.withdrawal()
        with pytest.raises(ValidationError, match="cannot be authorized"):
            services.request_authorize(actor=world.authorizer, request=request)
        with pytest.raises(ValidationError, match="cannot be completed"):
            services.request_complete(actor=world.authorizer, request=request)
        services.request_cancel(actor=world.advisor, request=request, reason="Client changed their mind")
        with pytest.raises(ValidationError, match="cannot be sent"):
            services.request_send(actor=world.advisor, request=request)


@pytest.mark.django_db
def test_large_withdrawal_needs_two_authorizers(world: World) -> None:
    with world.alice.scope():
        services.settings_update(actor=world.alice.user, dual_authorization_amount=D("1000"))
        request = world.withdrawal("1500")
        answer = services.decision(request)
        assert answer.authorizers == 2 and "Two different authorizers" in answer.reason
        services.request_send(actor=world.advisor, request=request)
        request.refresh_from_db()
        request.status = Status.AWAITING_AUTHORIZER  # as if the client approved
        request.save()
        services.request_authorize(actor=world.authorizer, request=request)
        with pytest.raises(ValidationError, match="already authorized"):
            services.request_authorize(actor=world.authorizer, request=request)
        request.refresh_from_db()
        assert request.status == Status.AWAITING_AUTHORIZER
        services.request_authorize(actor=world.authorizer2, request=request)
        request.refresh_from_db()
        assert request.status == Status.SUBMITTED


@pytest.mark.django_db
def test_streamlined_plus_lets_the_advisor_approve_same_owner_transfers(world: World) -> None:
    with world.alice.scope():
        services.settings_update(actor=world.alice.user, program="streamlined_plus")
        request = services.request_create(
            actor=world.advisor,
            kind="internal_transfer",
            account=world.account,
            to_account=world.other,
            amount="100",
            currency="USD",
        )
        assert services.decision(request).advisor_may_approve
        services.request_send(actor=world.advisor, request=request)
        services.request_approve_on_behalf(actor=world.advisor, request=request, reason="Client called on Dec 4")
        request.refresh_from_db()
        assert request.status == Status.AWAITING_AUTHORIZER
        services.request_authorize(actor=world.authorizer, request=request)
        services.request_complete(actor=world.authorizer, request=request)
        assert book.cash_position(account=world.other, currency="USD").total == D("100")
        with pytest.raises(ValidationError, match="no owner in common"):
            services.request_create(
                actor=world.advisor,
                kind="internal_transfer",
                account=world.account,
                to_account=world.stranger,
                amount="1",
                currency="USD",
            )


@pytest.mark.django_db
def test_position_transfer_never_more_than_unencumbered(world: World) -> None:
    with world.alice.scope():
        security = SecurityFactory(symbol="ACME", currency="USD")
        ledger.transaction_record(
            actor=None,
            account=world.account,
            kind="buy",
            security=security,
            quantity=D(10),
            price=D(10),
            trade_date=TODAY - timedelta(days=3),
        )
        first = services.request_create(
            actor=world.advisor,
            kind="position_transfer",
            account=world.account,
            to_account=world.other,
            security=security,
            quantity="6",
        )
        services.request_send(actor=world.advisor, request=first)
        with pytest.raises(ValidationError, match="holds 4"):
            services.request_create(
                actor=world.advisor,
                kind="position_transfer",
                account=world.account,
                to_account=world.other,
                security=security,
                quantity="5",
            )


@pytest.mark.django_db
def test_deposit_needs_no_approval_and_completes_from_the_custodian_record(world: World) -> None:
    with world.alice.scope():
        request = services.request_create(
            actor=world.advisor, kind="deposit", account=world.account, method="wire", amount="300", currency="USD"
        )
        services.request_send(actor=world.advisor, request=request)
        request.refresh_from_db()
        assert request.status == Status.SUBMITTED
        ledger.transaction_record(
            actor=None,
            account=world.account,
            kind="deposit",
            amount=D("300"),
            currency="USD",
            trade_date=TODAY,
            external_id=request.reference,
        )
        assert services.requests_match_custodian() == 1
        request.refresh_from_db()
        assert request.status == Status.COMPLETED
        assert Transaction.objects.filter(external_id=request.reference).count() == 1
        assert services.requests_match_custodian() == 0


@pytest.mark.django_db
def test_link_expiry_expires_the_request_and_releases_the_hold(world: World) -> None:
    from advisorportal.links.services import links_expire

    with world.alice.scope():
        request = world.withdrawal()
        services.request_send(actor=world.advisor, request=request)
        Link.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
        assert links_expire() == 1
        request.refresh_from_db()
        assert request.status == Status.EXPIRED
        assert available(world.account) == D("10000")


@pytest.mark.django_db
def test_client_decline_releases_the_hold(world: World, client: Client) -> None:
    with world.alice.scope():
        request = world.withdrawal()
        services.request_send(actor=world.advisor, request=request)
    token = token_from_outbox(world)
    client.post(f"/approve/{token}/code/", {"destination": "1"})  # the text message
    with world.alice.scope():
        assert LinkCode.objects.get().channel == "sms"
    code_mail = mail.outbox[-1]
    code = re.search(r"\b(\d{6})\b", code_mail.body)[1]  # type: ignore[index]
    assert client.post(f"/approve/{token}/decide/", {"decision": "decline", "code": code}).status_code == 200
    with world.alice.scope():
        request.refresh_from_db()
        assert request.status == Status.REJECTED
        assert available(world.account) == D("10000")
        assert not LedgerPosting.objects.filter(entry__transaction__external_id=request.reference).exists()


@pytest.mark.django_db
def test_bank_numbers_are_encrypted_at_rest(world: World) -> None:
    with world.alice.scope():
        stored = bytes(type(world.instruction).objects.get(pk=world.instruction.pk).account_number_encrypted)
        assert b"123456789" not in stored and world.instruction.account_last4 == "6789"
        assert world.instruction.status == InstructionStatus.ACTIVE
        with pytest.raises(ValidationError, match="check digit"):
            services.bank_instruction_request(
                actor=world.advisor,
                contact=world.client,
                holder_name="x",
                bank_name="y",
                account_kind="checking",
                currency="USD",
                account_number="1234567",
                routing_number="123456789",
            )
        assert selectors.instructions_for_account(account=world.account).count() == 1


@pytest.mark.django_db
def test_the_requester_never_authorizes(world: World) -> None:
    with world.alice.scope():
        request = services.request_create(
            actor=world.authorizer, kind="deposit", account=world.account, method="check", amount="5", currency="USD"
        )
        request = services.request_create(
            actor=world.authorizer,
            kind="withdrawal",
            account=world.account,
            bank_instruction=world.instruction,
            method="wire",
            amount="5",
            currency="USD",
        )
        services.request_send(actor=world.authorizer, request=request)
        FundingRequest.objects.filter(pk=request.pk).update(status=Status.AWAITING_AUTHORIZER)
        with pytest.raises(ValidationError, match="another authorizer must approve"):
            services.request_authorize(actor=world.authorizer, request=request)
        request.refresh_from_db()
        assert request.status == Status.AWAITING_AUTHORIZER


@pytest.mark.django_db
def test_waiting_requests_are_pending_items(world: World) -> None:
    with world.alice.scope():
        request = world.withdrawal()
        services.request_send(actor=world.advisor, request=request)
        deposit = services.request_create(
            actor=world.advisor, kind="deposit", account=world.account, method="wire", amount="300", currency="USD"
        )
        services.request_send(actor=world.advisor, request=deposit)
    client = Persona(world.advisor, world.alice.firm).client()
    page = client.get("/pending/?kind=funding-request").content.decode()
    assert request.reference in page and deposit.reference in page
    assert "Awaiting client" in page and "Custodian" in page and f"/funding/requests/{request.pk}/" in page
    only = client.get("/pending/?status=submitted").content.decode()
    assert deposit.reference in only and request.reference not in only
    assert "2 items" in client.get("/pending/?kind=funding-request").content.decode()


def _approve_by_link(world: World, client: Client, decision: str = "approve") -> int:
    token = token_from_outbox(world)
    assert client.post(f"/approve/{token}/code/", {"destination": "0"}).status_code == 302
    return client.post(f"/approve/{token}/decide/", {"decision": decision, "code": code_from_email(world)}).status_code


@pytest.mark.django_db
def test_a_changed_bank_instruction_is_approved_by_the_client_then_an_authorizer(world: World, client: Client) -> None:
    with world.alice.scope():
        request = services.bank_instruction_request(
            actor=world.advisor, contact=world.client, holder_name="Carla Client", bank_name="Second Bank",
            account_kind="savings", currency="USD", account_number="55554444", routing_number="011000015",
            replaces=world.instruction,
        )  # fmt: skip
        services.request_send(actor=world.advisor, request=request)
    page = client.get(f"/approve/{token_from_outbox(world)}/").content.decode()
    assert "Second Bank" in page and "••••\u00a04444" in page and "55554444" not in page and "Replaces" in page
    assert _approve_by_link(world, client) == 200
    with world.alice.scope():
        services.request_authorize(actor=world.authorizer, request=request)
        request.refresh_from_db()
        assert request.status == Status.COMPLETED
        new = request.bank_instruction
        new.refresh_from_db()
        world.instruction.refresh_from_db()
        assert (new.status, world.instruction.status) == (InstructionStatus.ACTIVE, "replaced")
        with pytest.raises(ValidationError, match="cooling-off"):  # new: not before the cooling-off period
            services.request_create(actor=world.advisor, kind="withdrawal", account=world.account,
                                    bank_instruction=new, method="ach", amount="10", currency="USD")  # fmt: skip


@pytest.mark.django_db
def test_a_declined_bank_instruction_is_not_approved(world: World, client: Client) -> None:
    with world.alice.scope():
        request = services.bank_instruction_request(
            actor=world.advisor, contact=world.client, holder_name="Carla Client", bank_name="Third Bank",
            account_kind="checking", currency="USD", account_number="99998888", routing_number="011000015",
        )  # fmt: skip
        services.request_send(actor=world.advisor, request=request)
    assert _approve_by_link(world, client, "decline") == 200
    with world.alice.scope():
        request.refresh_from_db()
        request.bank_instruction.refresh_from_db()
        assert (request.status, request.bank_instruction.status) == (Status.REJECTED, InstructionStatus.REJECTED)


@pytest.mark.django_db
def test_bad_tokens_are_throttled_per_address(world: World, client: Client) -> None:
    for _ in range(20):
        assert client.get("/approve/1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/").status_code == 404
    with world.alice.scope():
        request = world.withdrawal()
        services.request_send(actor=world.advisor, request=request)
    assert client.get(f"/approve/{token_from_outbox(world)}/").status_code == 429  # even a good one, for a while


@pytest.mark.django_db
def test_transfer_and_pay_reads_cash_in_a_constant_number_of_queries(world: World) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = Persona(world.advisor, world.alice.firm).client()

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/funding/").status_code == 200
        return len(captured)

    client.get("/funding/")
    few = queries()
    with world.alice.scope():
        for index in range(6):
            account = ClientAccountFactory(number=f"U66{index}", owners=[world.client])
            ledger.transaction_record(actor=None, account=account, kind="deposit", amount=D("10"), currency="USD",
                                      trade_date=TODAY - timedelta(days=2))  # fmt: skip
    assert queries() == few
