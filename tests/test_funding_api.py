"""Issue #17, point 8: the money-movement API. A whole withdrawal through it (the client's approval
through the real approval pages), every bad input of the issue (a clear 4xx, nothing moved),
scope and other firms (404), idempotent replays and refused reuse, maker-checker, two
authorizers, bank instructions, settings and enrolments; no answer holds a clear bank number."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import AccountScope
from accounts.rights import Right, Role
from advisorportal.hashing import fingerprint
from advisorportal.idempotency.models import IdempotencyKey
from funding import services
from funding.models import BankInstruction, Enrollment, FundingRequest, InstructionStatus, Status
from portfolios.models import CashHold, Transaction
from tests.conftest import Persona
from tests.factories import ContactFactory, UserFactory
from tests.factories_portfolios import ClientAccountFactory, SecurityFactory
from tests.test_funding import World, available, code_from_email, token_from_outbox

pytestmark = pytest.mark.django_db
D = Decimal
TODAY = timezone.localdate()
CLEAR_NUMBERS = ("000123456789", "021000021", "4417009921337", "011000015")


@pytest.fixture
def world(alice: Persona) -> World:
    return World(alice)


class Api:
    """A person's API token client that sends a fresh Idempotency-Key unless told one, and checks
    that no answer holds a clear bank number (every answer of this module)."""

    def __init__(self, persona: Persona, **token: Any) -> None:
        self.persona = persona
        self.client = APIClient()
        _, raw = account_services.api_token_create(user=persona.user, name="test", **token)
        self.client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")

    def _keep(self, response: Any) -> Any:
        for number in CLEAR_NUMBERS:
            assert number not in response.content.decode(), f"a clear bank number in {response.request['PATH_INFO']}"
        return response

    def get(self, url: str, params: dict[str, Any] | None = None) -> Any:
        return self._keep(self.client.get(url, params or {}))

    def write(self, method: str, url: str, body: dict[str, Any] | None = None, *, key: str | None = "new") -> Any:
        headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": uuid.uuid4().hex if key == "new" else key}
        return self._keep(getattr(self.client, method)(url, body or {}, format="json", **headers))

    def post(self, url: str, body: dict[str, Any] | None = None, *, key: str | None = "new") -> Any:
        return self.write("post", url, body, key=key)

    def act(self, request_id: int, name: str, body: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return self.post(f"/api/v1/funding-requests/{request_id}/{name}/", body, **kwargs)


def api(world: World, who: str, **token: Any) -> Api:
    return Api(Persona(getattr(world, who), world.alice.firm), **token)


def withdrawal_body(world: World, amount: Any = "2500", **changes: Any) -> dict[str, Any]:
    body = {"kind": "withdrawal", "account": world.account.pk, "bank_instruction": world.instruction.pk,
            "method": "ach", "amount": amount, "currency": "USD", "memo": "Tuition"}  # fmt: skip
    body.update(changes)
    return body


def error(response: Any) -> dict[str, Any]:
    return response.json()["error"]  # type: ignore[no-any-return]


def client_approves(world: World, client: Client) -> None:
    """The client approves the latest emailed link on the real approval pages, with the one-time code."""
    token = token_from_outbox(world)
    assert client.post(f"/approve/{token}/code/", {"destination": "0"}).status_code == 302
    done = client.post(f"/approve/{token}/decide/", {"decision": "approve", "code": code_from_email(world)})
    assert done.status_code == 200, done.content.decode()


def request_count(world: World) -> int:
    with world.alice.scope():
        return FundingRequest.objects.count()


def funding_book(*, actor: Any, contact: Any, account: Any) -> dict[str, list[Any]]:
    """The funding objects of the endpoint walks' book (``tests.test_secrets_never_by_token``):
    an active bank instruction of ``contact`` (the numbers of ``BANK_SECRETS`` there) with its
    approval request in draft, withdrawals from ``account`` in draft and awaiting the client, a
    submitted deposit notification and a Full-Service enrolment; their ids by path segment."""
    approval = services.bank_instruction_request(
        actor=actor, contact=contact, holder_name=str(contact), bank_name="Lovelace Savings Bank",
        account_kind="checking", currency="USD", account_number="4417-0099-21337", routing_number="011000015",
    )  # fmt: skip
    instruction = approval.bank_instruction
    assert instruction is not None
    BankInstruction.objects.filter(pk=instruction.pk).update(
        status=InstructionStatus.ACTIVE, activated_at=timezone.now() - timedelta(days=30)
    )
    instruction.refresh_from_db()
    out = {"kind": "withdrawal", "account": account, "bank_instruction": instruction, "method": "ach",
           "currency": "USD"}  # fmt: skip
    draft = services.request_create(actor=actor, amount="100", **out)
    waiting = services.request_create(actor=actor, amount="50", **out)
    services.request_send(actor=actor, request=waiting)
    deposit = services.request_create(actor=actor, kind="deposit", account=account, method="check", amount="75",
                                      currency="USD")  # fmt: skip
    services.request_send(actor=actor, request=deposit)
    services.enrollment_set(actor=actor, contact=contact, powers=["move_funds"], form_reference="POA in the file")
    return {
        "funding-requests": [approval.pk, draft.pk, waiting.pk, deposit.pk],
        "bank-instructions": [instruction.pk],
        "full-service-enrollments": [contact.pk],
    }


# --- The whole withdrawal ------------------------------------------------------------------------


def test_a_withdrawal_through_the_api_posts_exactly_once(world: World, client: Client) -> None:
    advisor, officer = api(world, "advisor"), api(world, "authorizer")
    created = advisor.post("/api/v1/funding-requests/", withdrawal_body(world))
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["reference"].startswith("FR-") and body["status"] == "draft" and body["kind"] == "withdrawal"
    assert (body["amount"], body["currency"], body["memo"]) == ("2500.00", "USD", "Tuition")
    bank = body["bank_instruction"]
    assert (bank["account_number_masked"], bank["routing_number_masked"]) == ("•••• 6789", "•••• 0021")
    decision = body["decision"]
    assert decision["client_must_approve"] and not decision["advisor_may_approve"] and decision["authorizers"] == 1
    assert "Carla Client approves it" in decision["reason"]
    assert body["actions"] == ["edit", "send", "cancel"] and [e["action"] for e in body["events"]] == ["create"]
    pk = body["id"]

    sent = advisor.act(pk, "send")
    assert sent.status_code == 200 and sent.json()["status"] == "awaiting_client"
    assert sent.json()["hold"]["amount"] == "2500.00" and sent.json()["hold"]["is_open"]
    with world.alice.scope():
        assert available(world.account) == D("7500")
    assert advisor.act(pk, "resend").status_code == 200  # a new link; the earlier one stops working
    client_approves(world, client)
    assert advisor.get(f"/api/v1/funding-requests/{pk}/").json()["status"] == "awaiting_authorizer"

    refused = advisor.act(pk, "authorize")  # the advisor holds Funding, not Funding Authorizer
    assert refused.status_code == 403 and "Funding Authorizer" in error(refused)["message"]
    authorized = officer.act(pk, "authorize")
    assert authorized.status_code == 200 and authorized.json()["status"] == "submitted"
    assert [a["user"]["name"] for a in authorized.json()["authorizations"]] == ["Olga Officer"]
    future = officer.act(pk, "complete", {"completed_on": str(TODAY + timedelta(days=1))})
    assert future.status_code == 400 and "future" in str(error(future)["fields"]["completed_on"])
    completed = officer.act(pk, "complete", {"custodian_reference": "C-1"})
    assert completed.status_code == 200, completed.content
    done = completed.json()
    assert done["status"] == "completed" and done["custodian_reference"] == "C-1" and done["transaction"]
    assert done["completed_on"] == str(TODAY) and done["actions"] == [] and not done["hold"]["is_open"]
    again = officer.act(pk, "complete", {"custodian_reference": "C-1"})  # a second click: nothing more
    assert again.status_code == 200 and again.json()["transaction"] == done["transaction"]

    with world.alice.scope():
        assert Transaction.objects.filter(external_id=body["reference"]).count() == 1
        posted = Transaction.objects.get(external_id=body["reference"])
        assert posted.kind == "withdrawal" and abs(posted.amount) == D("2500")
        assert available(world.account) == D("7500")
        assert not CashHold.objects.filter(released_at__isnull=True).exists()
    timeline = advisor.get(f"/api/v1/funding-requests/{pk}/").json()["events"]
    actions = [e["action"] for e in timeline]
    assert actions[:3] == ["create", "send", "email_sent"] and actions[-1] == "complete"
    assert "client_approve" in actions and timeline[-1]["actor"]["name"] == "Olga Officer"
    client_step = next(e for e in timeline if e["action"] == "client_approve")
    assert client_step["actor"] is None and client_step["actor_label"].startswith("Client")
    listed = advisor.get("/api/v1/funding-requests/", {"status": "completed", "kind": "withdrawal"}).json()["results"]
    assert [row["reference"] for row in listed] == [body["reference"]]


# --- Bad input: a clear 4xx, nothing saved or moved -----------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"amount": "-5"}, "amount", "greater than zero"),
        ({"amount": "0"}, "amount", "greater than zero"),
        ({"amount": "1.001"}, "amount", "2 decimal places"),
        ({"amount": "abc"}, "amount", "decimal"),
        ({"amount": "1e400"}, "amount", "decimal"),
        ({"amount": "9" * 19}, "amount", "18 digits"),
        ({"amount": 2500.1}, "amount", "not as a JSON number"),
        ({"amount": "10000.01"}, "amount", "available cash"),
        ({"currency": "XYZ"}, "currency", "not a currency"),
        ({"currency": "US"}, "currency", "three-letter"),
        ({"method": "check"}, "method", "ACH, Wire"),
        ({"kind": "bank_instruction"}, "kind", "/api/v1/bank-instructions/"),
        ({"bank_instruction": None}, "bank_instruction", "Choose the bank instruction"),
        ({"amount": "5", "surprise": 1}, "surprise", "not part of this request"),
    ],
)
def test_bad_input_is_refused_naming_the_field(world: World, changes: dict[str, Any], field: str, message: str) -> None:
    advisor = api(world, "advisor")
    response = advisor.post("/api/v1/funding-requests/", withdrawal_body(world, **changes))
    assert response.status_code == 400, response.content
    assert error(response)["code"] == "invalid"
    assert message in " ".join(error(response)["fields"][field]), error(response)
    assert request_count(world) == 1  # only the fixture's bank instruction request


def test_a_withdrawal_to_another_clients_bank_instruction_is_refused(world: World) -> None:
    with world.alice.scope():
        theirs = world.active_instruction(world.stranger.owners.first())
    before = request_count(world)
    response = api(world, "advisor").post(
        "/api/v1/funding-requests/", withdrawal_body(world, bank_instruction=theirs.pk)
    )
    assert response.status_code == 400
    assert "does not own the account" in error(response)["fields"]["bank_instruction"][0]
    assert request_count(world) == before


def test_a_new_instruction_in_its_cooling_off_period_is_refused(world: World) -> None:
    with world.alice.scope():
        world.instruction.activated_at = timezone.now()
        world.instruction.save()
    response = api(world, "advisor").post("/api/v1/funding-requests/", withdrawal_body(world, amount="10"))
    assert response.status_code == 400 and "cooling-off" in error(response)["fields"]["bank_instruction"][0]


def test_transfers_to_another_firms_or_an_out_of_scope_account_are_404(world: World, charlie: Persona) -> None:
    with charlie.scope():
        foreign = ClientAccountFactory(number="U9990001", title="Beta account")
    advisor = api(world, "advisor")
    transfer = {"kind": "internal_transfer", "account": world.account.pk, "amount": "10", "currency": "USD"}
    gone = advisor.post("/api/v1/funding-requests/", {**transfer, "to_account": foreign.pk})
    assert gone.status_code == 404 and error(gone) == {
        "code": "not_found",
        "message": "to_account: no such account in your firm and Funding scope.",
    }
    foreign_source = advisor.post("/api/v1/funding-requests/", {**transfer, "account": foreign.pk})
    assert foreign_source.status_code == 404 and "account:" in error(foreign_source)["message"]
    # Dora's scope is Carla's individual account only: the IRA is out of it.
    dora = UserFactory(firm=world.alice.firm, email="dora@alpha.test", full_name="Dora Scoped", role=Role.ADVISOR,
                       rights=frozenset({Right.FUNDING}))  # fmt: skip
    account_services.account_scope_set(
        actor=world.alice.user, user=dora, scope=AccountScope.SELECTED, account_ids=frozenset({world.account.pk})
    )
    scoped = Api(Persona(dora, world.alice.firm))
    out = scoped.post("/api/v1/funding-requests/", {**transfer, "to_account": world.other.pk})
    assert out.status_code == 404 and "to_account" in error(out)["message"]
    # Owners in common are required between two accounts of the firm the user may see.
    stranger = advisor.post("/api/v1/funding-requests/", {**transfer, "to_account": world.stranger.pk})
    assert stranger.status_code == 400 and "no owner in common" in error(stranger)["fields"]["to_account"][0]
    assert request_count(world) == 1


def test_outsiders_and_other_rights(world: World, charlie: Persona, bob: Persona) -> None:
    advisor = api(world, "advisor")
    pk = advisor.post("/api/v1/funding-requests/", withdrawal_body(world)).json()["id"]
    outsider = Api(charlie)
    for url in (
        f"/api/v1/funding-requests/{pk}/",
        f"/api/v1/bank-instructions/{world.instruction.pk}/",
        f"/api/v1/full-service-enrollments/{world.client.pk}/",
        "/api/v1/funding-requests/999999999/",
    ):
        response = outsider.get(url)
        assert response.status_code == 404 and error(response)["code"] == "not_found", url
    assert outsider.act(pk, "send").status_code == 404
    assert outsider.write("patch", f"/api/v1/funding-requests/{pk}/", {"memo": "x"}).status_code == 404
    assert outsider.get("/api/v1/funding-requests/").json()["results"] == []
    assert outsider.get("/api/v1/bank-instructions/").json()["results"] == []
    crm_only = Api(bob)
    for url in ("/api/v1/funding-requests/", "/api/v1/bank-instructions/", "/api/v1/funding-settings/",
                "/api/v1/full-service-enrollments/"):  # fmt: skip
        response = crm_only.get(url)
        assert response.status_code == 403 and error(response)["message"].endswith("this needs: Funding."), url
    # A token that does not carry Funding Authorizer cannot authorize, whatever its user holds.
    narrow = api(world, "authorizer", rights=frozenset({Right.FUNDING}))
    refused = narrow.act(pk, "authorize")
    assert refused.status_code == 403 and "token does not carry" in error(refused)["message"]
    with world.alice.scope():
        assert FundingRequest.objects.get(pk=pk).status == Status.DRAFT


def test_a_scoped_user_sees_only_requests_of_their_accounts(world: World) -> None:
    advisor = api(world, "advisor")
    mine = advisor.post("/api/v1/funding-requests/", withdrawal_body(world)).json()
    with world.alice.scope():
        someone = world.stranger.owners.first()
        theirs = services.request_create(
            actor=world.advisor, kind="deposit", account=world.stranger, method="wire", amount="5", currency="USD"
        )
        assert someone is not None
    dora = UserFactory(firm=world.alice.firm, email="dora@alpha.test", full_name="Dora Scoped", role=Role.ADVISOR,
                       rights=frozenset({Right.FUNDING}))  # fmt: skip
    account_services.account_scope_set(
        actor=world.alice.user, user=dora, scope=AccountScope.SELECTED, account_ids=frozenset({world.account.pk})
    )
    scoped = Api(Persona(dora, world.alice.firm))
    refs = {row["reference"] for row in scoped.get("/api/v1/funding-requests/").json()["results"]}
    assert mine["reference"] in refs and theirs.reference not in refs
    assert scoped.get(f"/api/v1/funding-requests/{theirs.pk}/").status_code == 404
    listed = scoped.get("/api/v1/funding-requests/", {"account": world.stranger.pk})
    assert listed.status_code == 400 and "account" in error(listed)["fields"]
    instructions = scoped.get("/api/v1/bank-instructions/", {"contact": someone.pk})
    assert instructions.status_code == 400 and "contact" in error(instructions)["fields"]


# --- Idempotency -----------------------------------------------------------------------------------


def test_the_same_key_replays_and_another_body_is_refused(world: World) -> None:
    advisor = api(world, "advisor")
    missing = advisor.post("/api/v1/funding-requests/", withdrawal_body(world), key=None)
    assert missing.status_code == 400 and error(missing)["code"] == "idempotency_key_invalid"
    first = advisor.post("/api/v1/funding-requests/", withdrawal_body(world), key="create-1")
    second = advisor.post("/api/v1/funding-requests/", withdrawal_body(world), key="create-1")
    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true" and second.json() == first.json()
    other = advisor.post("/api/v1/funding-requests/", withdrawal_body(world, amount="2600"), key="create-1")
    assert other.status_code == 422 and error(other)["code"] == "idempotency_key_reused"
    assert request_count(world) == 2
    pk = first.json()["id"]
    sent = advisor.act(pk, "send", key="send-1")
    replayed = advisor.act(pk, "send", key="send-1")  # a double click: one hold, one email
    assert sent.status_code == replayed.status_code == 200 and replayed["Idempotent-Replayed"] == "true"
    twice = advisor.act(pk, "send")  # a new key: the state machine refuses
    assert twice.status_code == 400 and error(twice)["code"] == "illegal_transition"
    with world.alice.scope():
        assert CashHold.objects.filter(released_at__isnull=True).count() == 1
        assert available(world.account) == D("7500")
    # An error is not stored: the same key runs again once the request is valid.
    bad = advisor.post("/api/v1/funding-requests/", withdrawal_body(world, amount="0"), key="create-2")
    assert bad.status_code == 400
    with world.alice.scope():
        assert not IdempotencyKey.objects.filter(key="create-2").exists()
    fixed = advisor.post("/api/v1/funding-requests/", withdrawal_body(world, amount="0"), key="create-2")
    assert fixed.status_code == 400 and "Idempotent-Replayed" not in fixed


# --- Maker-checker, transitions, two authorizers -----------------------------------------------------


def test_the_requester_never_authorizes(world: World) -> None:
    officer = api(world, "authorizer")
    body = withdrawal_body(world, amount="5", method="wire")
    pk = officer.post("/api/v1/funding-requests/", body).json()["id"]
    officer.act(pk, "send")
    with world.alice.scope():
        FundingRequest.objects.filter(pk=pk).update(status=Status.AWAITING_AUTHORIZER)  # as if the client approved
    refused = officer.act(pk, "authorize")
    assert refused.status_code == 400
    assert error(refused) == {
        "code": "refused",
        "message": "You requested this, so another authorizer must approve it.",
    }
    with world.alice.scope():
        assert FundingRequest.objects.get(pk=pk).status == Status.AWAITING_AUTHORIZER
    assert api(world, "authorizer2").act(pk, "reject", {"reason": ""}).status_code == 400  # a reason is required
    rejected = api(world, "authorizer2").act(pk, "reject", {"reason": "Wrong account"})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    with world.alice.scope():
        assert available(world.account) == D("10000")


def test_illegal_transitions_are_refused_with_their_code(world: World) -> None:
    advisor, officer = api(world, "advisor"), api(world, "authorizer")
    pk = advisor.post("/api/v1/funding-requests/", withdrawal_body(world)).json()["id"]
    for who, name, body, message in (
        (officer, "authorize", None, "A request that is draft cannot be authorized."),
        (officer, "complete", None, "A request that is draft cannot be completed."),
        (officer, "reject", {"reason": "No"}, "A request that is draft cannot be rejected."),
        (advisor, "approve-on-behalf", {"reason": "Call"}, "cannot be approved on the client's behalf"),
    ):
        response = who.act(pk, name, body)
        assert response.status_code == 400, (name, response.content)
        assert error(response)["code"] == "illegal_transition" and message in error(response)["message"]
    resend = advisor.act(pk, "resend")
    assert resend.status_code == 400 and "awaiting its client" in error(resend)["message"]
    assert advisor.act(pk, "cancel", {"reason": ""}).status_code == 400
    assert advisor.act(pk, "cancel", {"reason": "Client changed their mind"}).json()["status"] == "cancelled"
    resent = advisor.act(pk, "send")
    assert resent.status_code == 400 and error(resent) == {
        "code": "illegal_transition",
        "message": "A request that is cancelled cannot be sent.",
    }
    edit = advisor.write("patch", f"/api/v1/funding-requests/{pk}/", {"amount": "10"})
    assert edit.status_code == 400 and error(edit)["code"] == "illegal_transition"


def test_a_large_withdrawal_needs_two_different_authorizers(world: World, client: Client, alice: Persona) -> None:
    settings = Api(alice).write("patch", "/api/v1/funding-settings/", {"dual_authorization_amount": "1000"}, key=None)
    assert settings.status_code == 200 and settings.json()["dual_authorization_amount"] == "1000.00"
    advisor = api(world, "advisor")
    created = advisor.post("/api/v1/funding-requests/", withdrawal_body(world, amount="1500")).json()
    assert created["decision"]["authorizers"] == 2 and "Two different authorizers" in created["decision"]["reason"]
    pk = created["id"]
    advisor.act(pk, "send")
    client_approves(world, client)
    first = api(world, "authorizer").act(pk, "authorize")
    assert first.status_code == 200 and first.json()["status"] == "awaiting_authorizer"
    assert first.json()["events"][-1]["reason"] == "1 of 2 authorizers"
    twice = api(world, "authorizer").act(pk, "authorize")
    assert twice.status_code == 400 and error(twice)["code"] == "refused" and "already authorized" in str(error(twice))
    second = api(world, "authorizer2").act(pk, "authorize")
    assert second.status_code == 200 and second.json()["status"] == "submitted"
    assert {a["user"]["name"] for a in second.json()["authorizations"]} == {"Olga Officer", "Pete Partner"}


def test_streamlined_plus_approval_on_the_clients_behalf(world: World, alice: Persona) -> None:
    Api(alice).write("patch", "/api/v1/funding-settings/", {"program": "streamlined_plus"}, key=None)
    advisor = api(world, "advisor")
    transfer = {"kind": "internal_transfer", "account": world.account.pk, "to_account": world.other.pk,
                "amount": "100", "currency": "USD"}  # fmt: skip
    created = advisor.post("/api/v1/funding-requests/", transfer).json()
    assert created["method"] == "internal" and created["decision"]["advisor_may_approve"]
    pk = created["id"]
    advisor.act(pk, "send")
    missing = advisor.act(pk, "approve-on-behalf", {"reason": " "})
    assert missing.status_code == 400 and "how the client asked" in error(missing)["fields"]["reason"][0]
    approved = advisor.act(pk, "approve-on-behalf", {"reason": "Client called on Dec 4"})
    assert approved.status_code == 200 and approved.json()["status"] == "awaiting_authorizer"
    assert "Client called on Dec 4" in approved.json()["client_approval"]
    api(world, "authorizer").act(pk, "authorize")
    assert api(world, "authorizer").act(pk, "complete").json()["status"] == "completed"
    # A withdrawal is never the advisor's to approve for the client.
    other = advisor.post("/api/v1/funding-requests/", withdrawal_body(world, amount="5")).json()["id"]
    advisor.act(other, "send")
    refused = advisor.act(other, "approve-on-behalf", {"reason": "Call"})
    assert refused.status_code == 400 and error(refused)["code"] == "refused"


def test_a_position_transfer_names_its_security_by_symbol(world: World) -> None:
    from portfolios import services as ledger

    with world.alice.scope():
        acme = SecurityFactory(symbol="ACME", currency="USD")
        ledger.transaction_record(actor=None, account=world.account, kind="buy", security=acme, quantity=D(10),
                                  price=D(10), trade_date=TODAY - timedelta(days=3))  # fmt: skip
    advisor = api(world, "advisor")
    body = {"kind": "position_transfer", "account": world.account.pk, "to_account": world.other.pk,
            "security": "ACME", "quantity": "6.5"}  # fmt: skip
    created = advisor.post("/api/v1/funding-requests/", body)
    assert created.status_code == 201, created.content
    assert (created.json()["security"], created.json()["quantity"], created.json()["amount"]) == ("ACME", "6.5", None)
    advisor.act(created.json()["id"], "send")
    more = advisor.post("/api/v1/funding-requests/", {**body, "quantity": "4"})
    assert more.status_code == 400 and "holds 3.5" in error(more)["fields"]["quantity"][0]
    unknown = advisor.post("/api/v1/funding-requests/", {**body, "security": "NOPE"})
    assert unknown.status_code == 400 and "NOPE" in error(unknown)["fields"]["security"][0]
    huge = advisor.post("/api/v1/funding-requests/", {**body, "quantity": "1" + "0" * 17})
    assert huge.status_code == 400 and "quantity" in error(huge)["fields"]


# --- Edit ------------------------------------------------------------------------------------------


def test_an_edit_sends_the_request_back_to_draft(world: World, client: Client) -> None:
    advisor = api(world, "advisor")
    pk = advisor.post("/api/v1/funding-requests/", withdrawal_body(world)).json()["id"]
    advisor.act(pk, "send")
    token = token_from_outbox(world)
    url = f"/api/v1/funding-requests/{pk}/"
    assert advisor.write("patch", url, {"memo": "x"}, key=None).status_code == 400  # the key is required
    unknown = advisor.write("patch", url, {"account": world.other.pk})
    assert unknown.status_code == 400 and "not part of this request" in error(unknown)["fields"]["account"][0]
    nothing = advisor.write("patch", url, {})
    assert nothing.status_code == 200 and nothing.json()["status"] == "awaiting_client"
    edited = advisor.write("patch", url, {"amount": "2000", "memo": "Books"})
    assert edited.status_code == 200, edited.content
    body = edited.json()
    assert (body["status"], body["version"], body["amount"], body["memo"]) == ("draft", 2, "2000.00", "Books")
    assert not body["hold"]["is_open"]
    with world.alice.scope():
        assert available(world.account) == D("10000")
    assert client.get(f"/approve/{token}/").status_code == 404  # the earlier link no longer works
    too_much = advisor.write("patch", url, {"amount": "20000"})
    assert too_much.status_code == 400 and "available cash" in error(too_much)["fields"]["amount"][0]
    assert advisor.get(url).json()["amount"] == "2000.00"


# --- Lists -----------------------------------------------------------------------------------------


def test_the_request_list_filters(world: World) -> None:
    advisor = api(world, "advisor")
    withdrawal = advisor.post("/api/v1/funding-requests/", withdrawal_body(world)).json()
    notice = {"kind": "deposit", "account": world.account.pk, "method": "wire", "amount": "300", "currency": "USD"}
    deposit = advisor.post("/api/v1/funding-requests/", notice).json()
    with world.alice.scope():
        FundingRequest.objects.filter(pk=deposit["id"]).update(created_at=timezone.now() - timedelta(days=200))

    def refs(**params: Any) -> list[str]:
        response = advisor.get("/api/v1/funding-requests/", params)
        assert response.status_code == 200, response.content
        return [row["reference"] for row in response.json()["results"]]

    everything = refs()
    assert deposit["reference"] in everything  # no 90-day default in the API
    assert refs(kind="deposit") == [deposit["reference"]]
    assert refs(method="ach") == [withdrawal["reference"]]
    assert refs(q=withdrawal["reference"]) == [withdrawal["reference"]]
    assert refs(q="tuit") == [withdrawal["reference"]]
    assert refs(q="FR-" + "9" * 30) == []
    assert refs(account=world.account.pk, date_from=str(TODAY - timedelta(days=90))) == [withdrawal["reference"]]
    assert refs(date_to=str(TODAY - timedelta(days=100))) == [deposit["reference"]]
    assert refs(status="draft", kind="bank_instruction") == []
    page = advisor.get("/api/v1/funding-requests/", {"page_size": 1}).json()
    assert len(page["results"]) == 1 and page["next"]
    for params, field in (
        ({"date_from": str(TODAY), "date_to": str(TODAY - timedelta(days=1))}, "date_to"),
        ({"status": "asleep"}, "status"),
        ({"account": "abc"}, "account"),
        ({"q": "\x00"}, "q"),
    ):
        response = advisor.get("/api/v1/funding-requests/", params)
        assert response.status_code == 400 and field in error(response)["fields"], params


# --- Bank instructions -----------------------------------------------------------------------------


def test_a_bank_instruction_through_the_api(world: World, client: Client) -> None:
    advisor, officer = api(world, "advisor"), api(world, "authorizer")
    body = {"contact": world.client.pk, "holder_name": "Carla Client", "bank_name": "Second Bank",
            "account_kind": "savings", "currency": "USD", "account_number": "4417-0099-21337",
            "routing_number": "011000015", "replaces": world.instruction.pk}  # fmt: skip
    bad = advisor.post("/api/v1/bank-instructions/", {**body, "routing_number": "011000016"})
    assert bad.status_code == 400 and "check digit" in error(bad)["fields"]["routing_number"][0]
    short = advisor.post("/api/v1/bank-instructions/", {**body, "account_number": "123"})
    assert short.status_code == 400 and "4 to 17 digits" in error(short)["fields"]["account_number"][0]
    created = advisor.post("/api/v1/bank-instructions/", body, key="bank-1")
    assert created.status_code == 201, created.content
    request = created.json()
    assert (request["kind"], request["status"], request["method"]) == ("bank_instruction", "draft", "")
    assert request["bank_instruction"]["account_number_masked"] == "•••• 1337"
    assert request["bank_instruction"]["routing_number_masked"] == "•••• 0015"
    assert request["decision"]["client_must_approve"] and request["client"]["name"] == "Carla Client"
    replay = advisor.post("/api/v1/bank-instructions/", body, key="bank-1")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true" and replay.json() == request
    changed = advisor.post("/api/v1/bank-instructions/", {**body, "account_number": "4417009921338"}, key="bank-1")
    assert changed.status_code == 422
    with world.alice.scope():
        # The key's stored fingerprint is not the plain SHA-256 of the body (that could be searched
        # for the clear account number): the numbers enter it as keyed digests.
        stored = IdempotencyKey.objects.get(key="bank-1")
        plain = {"method": "POST", "path": "/api/v1/bank-instructions/", "query": {}, "body": body,
                 "user": world.advisor.pk}  # fmt: skip
        assert stored.fingerprint != fingerprint(plain) and "4417009921337" not in json.dumps(stored.response_body)
    pending = advisor.get("/api/v1/bank-instructions/", {"contact": world.client.pk, "status": "pending"}).json()
    assert [row["account_number_masked"] for row in pending["results"]] == ["•••• 1337"]
    assert pending["results"][0]["replaces"] == world.instruction.pk and pending["results"][0]["usable_from"] is None

    pk = request["id"]
    advisor.act(pk, "send")
    client_approves(world, client)
    done = officer.act(pk, "authorize")
    assert done.status_code == 200 and done.json()["status"] == "completed"
    new = done.json()["bank_instruction"]
    assert new["status"] == "active"
    detail = advisor.get(f"/api/v1/bank-instructions/{new['id']}/").json()
    assert detail["usable_from"] and detail["activated_at"]
    assert advisor.get(f"/api/v1/bank-instructions/{world.instruction.pk}/").json()["status"] == "replaced"
    with world.alice.scope():
        sealed = BankInstruction.objects.get(pk=new["id"])
        assert sealed.status == InstructionStatus.ACTIVE and b"4417009921337" not in bytes(
            sealed.account_number_encrypted
        )


def test_a_bank_instruction_for_someone_out_of_scope_is_404(world: World, charlie: Persona) -> None:
    with charlie.scope():
        foreign = ContactFactory(first_name="Fay", last_name="Foreign")
    body = {"contact": foreign.pk, "holder_name": "Fay", "bank_name": "B", "account_kind": "checking",
            "account_number": "4417009921337", "routing_number": "011000015"}  # fmt: skip
    response = api(world, "advisor").post("/api/v1/bank-instructions/", body)
    assert response.status_code == 404 and error(response)["message"].startswith("contact:")
    with world.alice.scope():
        assert BankInstruction.objects.count() == 1


# --- Settings and enrolments -------------------------------------------------------------------------


def test_funding_settings_read_with_funding_changed_with_user_management(world: World, alice: Persona) -> None:
    advisor, owner = api(world, "advisor"), Api(alice)
    read = advisor.get("/api/v1/funding-settings/")
    assert read.status_code == 200
    assert read.json()["program"] == "streamlined" and read.json()["dual_authorization_amount"] == "50000.00"
    refused = advisor.write("patch", "/api/v1/funding-settings/", {"cooling_off_days": 1}, key=None)
    assert refused.status_code == 403 and "User Management" in error(refused)["message"]
    for changes, field in (({"cooling_off_days": 61}, "cooling_off_days"), ({"program": "vip"}, "program"),
                           ({"link_expiry_hours": 0}, "link_expiry_hours"),
                           ({"dual_authorization_amount": "-1"}, "dual_authorization_amount"),
                           ({"updated_at": "2026-01-01T00:00:00Z"}, "updated_at")):  # fmt: skip
        response = owner.write("patch", "/api/v1/funding-settings/", changes, key=None)
        assert response.status_code == 400 and field in error(response)["fields"], (changes, response.content)
    saved = owner.write("patch", "/api/v1/funding-settings/", {"program": "full_service", "link_expiry_hours": 36},
                        key=None)  # fmt: skip
    assert saved.status_code == 200 and saved.json()["program"] == "full_service" and saved.json()["updated_at"]
    assert advisor.get("/api/v1/funding-settings/").json()["link_expiry_hours"] == 36


def test_the_defaults_of_a_firm_that_never_saved_its_settings(charlie: Persona) -> None:
    read = Api(charlie).get("/api/v1/funding-settings/")
    assert read.status_code == 200
    assert read.json() == {
        "program": "streamlined",
        "cooling_off_days": 3,
        "dual_authorization_amount": "50000.00",
        "dual_authorization_currency": "USD",
        "link_expiry_hours": 72,
        "reminder_after_hours": 24,
        "updated_at": None,
    }


def test_full_service_enrolments(world: World, alice: Persona) -> None:
    advisor = api(world, "advisor")
    url = "/api/v1/full-service-enrollments/"
    body = {"contact": world.client.pk, "powers": ["move_funds"], "form_reference": "POA-7 in the client file"}
    created = advisor.post(url, body, key=None)
    assert created.status_code == 201, created.content
    assert created.json()["powers"] == ["move_funds"] and created.json()["contact"]["id"] == world.client.pk
    assert advisor.post(url, {**body, "powers": ["move_funds", "bank_instructions"]}, key=None).status_code == 200
    assert advisor.post(url, {**body, "powers": ["fly"]}, key=None).status_code == 400
    assert advisor.post(url, {**body, "form_reference": ""}, key=None).status_code == 400
    assert [row["contact"]["id"] for row in advisor.get(url).json()["results"]] == [world.client.pk]
    one = f"{url}{world.client.pk}/"
    assert advisor.get(one).json()["powers"] == ["bank_instructions", "move_funds"]
    # With the power granted under Full-Service, a withdrawal needs no client approval.
    Api(alice).write("patch", "/api/v1/funding-settings/", {"program": "full_service"}, key=None)
    decision = advisor.post("/api/v1/funding-requests/", withdrawal_body(world)).json()["decision"]
    assert not decision["client_must_approve"] and "POA-7" in decision["reason"]
    replaced = advisor.write("put", one, {"powers": [], "form_reference": "POA-8"}, key=None)
    assert replaced.status_code == 200 and replaced.json()["powers"] == []
    assert advisor.write("delete", one, key=None).status_code == 204
    assert advisor.write("delete", one, key=None).status_code == 404
    assert advisor.get(one).status_code == 404
    with world.alice.scope():
        assert not Enrollment.objects.exists()
