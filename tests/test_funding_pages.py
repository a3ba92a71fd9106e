"""Issue #17: the funding pages. Transfer & Pay, a form per request kind, a request's page with
its policy answer and the actions its status allows, transaction history with its CSV, the
custodian's instruction files (a fresh second factor), a client's bank instructions (masked
numbers only), settings and Full-Service enrolments; rights, scope and one-time form keys."""

from __future__ import annotations

import html
import re
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts import two_factor
from accounts.models import AccountScope
from accounts.rights import Right, Role
from accounts.services import account_scope_set
from funding import services
from funding.models import Enrollment, FundingRequest, InstructionFile, RequestEvent, Status
from portfolios import selectors as book
from portfolios import services as ledger
from portfolios.models import Transaction
from tests.conftest import Persona
from tests.factories import ContactFactory, UserFactory
from tests.factories_portfolios import ClientAccountFactory, SecurityFactory

pytestmark = pytest.mark.django_db
D = Decimal
TODAY = timezone.localdate()
CLEAR_ACCOUNT, CLEAR_ROUTING = "000123456789", "021000021"


class World:
    """Alice's firm: an advisor (Funding, no authorizing), two Funding Authorizers, a client with
    two accounts (9,900 USD and 10 ACME in the first) and an active bank instruction, and an
    account of someone else."""

    def __init__(self, alice: Persona) -> None:
        self.alice = alice
        firm = alice.firm
        funding = frozenset({Right.CRM, Right.ACCOUNT_INFORMATION, Right.FUNDING})
        self.advisor = Persona(UserFactory(firm=firm, email="adam@alpha.test", full_name="Adam Advisor",
                                           role=Role.ADVISOR, rights=funding), firm)  # fmt: skip
        authorizer = frozenset({Right.FUNDING, Right.FUNDING_AUTHORIZER})
        self.authorizer = Persona(UserFactory(firm=firm, email="olga@alpha.test", full_name="Olga Officer",
                                              role=Role.ADVISOR, rights=authorizer), firm)  # fmt: skip
        self.authorizer2 = Persona(UserFactory(firm=firm, email="pete@alpha.test", full_name="Pete Partner",
                                               role=Role.ADVISOR, rights=authorizer), firm)  # fmt: skip
        with alice.scope():
            self.client = ContactFactory(first_name="Carla", last_name="Client", email="carla@example.test")
            self.account = ClientAccountFactory(number="U5550001", title="Carla Individual", owners=[self.client])
            self.other = ClientAccountFactory(number="U5550002", title="Carla IRA", owners=[self.client])
            self.stranger_account = ClientAccountFactory(number="U5550003", title="Someone Else")
            self.stranger = self.stranger_account.owners.first()
            ledger.transaction_record(actor=None, account=self.account, kind="deposit", amount=D("10000"),
                                      currency="USD", trade_date=TODAY - timedelta(days=5))  # fmt: skip
            self.security = SecurityFactory(symbol="ACME", name="Acme Corp", currency="USD")
            ledger.transaction_record(actor=None, account=self.account, kind="buy", security=self.security,
                                      quantity=D(10), price=D(10), trade_date=TODAY - timedelta(days=3))  # fmt: skip
            self.instruction = self.active_instruction(self.client)
            self.instruction_request = FundingRequest.objects.get(bank_instruction=self.instruction)

    def active_instruction(self, contact: Any) -> Any:
        """An approved bank instruction past its cooling-off (through the services)."""
        request = services.bank_instruction_request(
            actor=self.advisor.user, contact=contact, holder_name=str(contact), bank_name="First Bank",
            account_kind="checking", currency="USD", account_number=CLEAR_ACCOUNT, routing_number=CLEAR_ROUTING,
        )  # fmt: skip
        services.enrollment_set(actor=self.advisor.user, contact=contact, powers=["bank_instructions"],
                                form_reference="T")  # fmt: skip
        services.settings_update(actor=self.alice.user, program="full_service", cooling_off_days=0)
        services.request_send(actor=self.advisor.user, request=request)
        services.request_authorize(actor=self.authorizer.user, request=request)
        services.enrollment_end(actor=self.advisor.user, contact=contact)
        services.settings_update(actor=self.alice.user, program="streamlined", cooling_off_days=3)
        instruction = FundingRequest.objects.get(pk=request.pk).bank_instruction
        instruction.activated_at = timezone.now() - timedelta(days=10)
        instruction.save()
        return instruction

    def withdrawal(self, amount: str = "2500", actor: Persona | None = None) -> FundingRequest:
        with self.alice.scope():
            return services.request_create(
                actor=(actor or self.advisor).user, kind="withdrawal", account=self.account,
                bank_instruction=self.instruction, method="ach", amount=amount, currency="USD",
            )  # fmt: skip

    def at(self, request: FundingRequest, status: str) -> FundingRequest:
        """``request`` moved to ``status`` as the client's approval would (for pages of later states)."""
        with self.alice.scope():
            if FundingRequest.objects.get(pk=request.pk).status == Status.DRAFT:
                services.request_send(actor=request.created_by, request=request)
            FundingRequest.objects.filter(pk=request.pk).update(status=status)
            return FundingRequest.objects.get(pk=request.pk)

    def fresh(self, request: FundingRequest) -> FundingRequest:
        with self.alice.scope():
            return FundingRequest.objects.get(pk=request.pk)


@pytest.fixture
def world(alice: Persona) -> World:
    return World(alice)


def form_key(page: Any) -> str:
    return re.search(r'name="form_key" value="([0-9a-f]+)"', page.content.decode())[1]  # type: ignore[index]


def not_recently_verified(client: Client) -> Client:
    session = client.session
    session[two_factor.VERIFIED_AT] = time.time() - 3600
    session.save()
    return client


def count(world: World, **filters: Any) -> int:
    with world.alice.scope():
        return FundingRequest.objects.filter(**filters).count()


# --- Rights and scope ---------------------------------------------------------------------------------


def test_every_page_renders_for_a_user_with_the_right(world: World) -> None:
    request = world.withdrawal()
    alice = world.alice.client()
    pages = [
        "/funding/", "/funding/?q=U555", "/funding/history/", "/funding/settings/", "/funding/instruction-files/",
        f"/funding/requests/{request.pk}/", f"/funding/requests/{request.pk}/edit/",
        f"/funding/contacts/{world.client.pk}/bank-instructions/",
        f"/funding/contacts/{world.client.pk}/bank-instructions/new/",
        f"/funding/contacts/{world.client.pk}/enrolment/", "/funding/settings/?client=Carla",
        "/funding/requests/new/withdrawal/", "/funding/requests/new/withdrawal/?find=U555",
    ] + [f"/funding/requests/new/{kind}/?account={world.account.pk}"
         for kind in ("deposit", "withdrawal", "internal-transfer", "position-transfer")]  # fmt: skip
    for url in pages:
        page = alice.get(url)
        assert page.status_code == 200, url
    overview = alice.get("/funding/").content.decode()
    assert "U5550001" in overview and "9,900.00 USD" in overview and "Withdrawal" in overview
    assert "Transaction history" in overview and "Instruction files" in overview  # the section's navigation
    assert f"/funding/requests/{request.pk}/" not in overview  # a draft waits on nobody
    found = alice.get("/funding/requests/new/withdrawal/?find=carla").content.decode()
    assert f"?account={world.account.pk}" in found and "U5550003" not in found


def test_without_the_right_403_and_outside_the_firm_or_scope_404(world: World, bob: Persona, charlie: Persona) -> None:
    request = world.withdrawal()
    contact = world.client.pk
    urls = [
        "/funding/", "/funding/history/", "/funding/settings/", f"/funding/requests/{request.pk}/",
        f"/funding/contacts/{contact}/bank-instructions/", f"/funding/requests/new/deposit/?account={world.account.pk}",
    ]  # fmt: skip
    crm_only = bob.client()
    for url in urls:
        assert crm_only.get(url).status_code == 403, url
    assert crm_only.post(f"/funding/requests/{request.pk}/cancel/", {"reason": "x"}).status_code == 403
    # Instruction files are for Funding Authorizers.
    assert world.advisor.client().get("/funding/instruction-files/").status_code == 403
    outsider = charlie.client()
    for url in urls[3:]:
        assert outsider.get(url).status_code == 404, url
    assert outsider.post(f"/funding/requests/{request.pk}/cancel/", {"reason": "x", "form_key": "k"}).status_code == 404
    assert outsider.get("/funding/requests/999999999/").status_code == 404
    # A user whose Funding scope is another account sees none of Carla's.
    with world.alice.scope():
        scoped = UserFactory(firm=world.alice.firm, email="sam@alpha.test", full_name="Sam Scoped",
                             role=Role.ADVISOR, rights=frozenset({Right.FUNDING}))  # fmt: skip
        account_scope_set(actor=world.alice.user, user=scoped, scope=AccountScope.SELECTED,
                          account_ids=frozenset({world.stranger_account.pk}))  # fmt: skip
    sam = Persona(scoped, world.alice.firm).client()
    for url in urls[3:]:
        assert sam.get(url).status_code == 404, url
    assert "U5550001" not in sam.get("/funding/").content.decode()
    assert "U5550003" in sam.get("/funding/").content.decode()
    # …and cannot create on Carla's account by posting its id.
    data = {"account": world.account.pk, "amount": "5", "currency": "USD", "method": "wire", "form_key": "k1"}
    posted = sam.post("/funding/requests/new/deposit/", data)
    assert posted.status_code == 404


# --- Creating each kind -----------------------------------------------------------------------------------


def create(client: Client, kind: str, account: Any, **data: Any) -> Any:
    page = client.get(f"/funding/requests/new/{kind}/?account={account.pk}")
    assert page.status_code == 200
    return client.post(f"/funding/requests/new/{kind}/", {"account": account.pk, "form_key": form_key(page), **data})


def test_each_kind_is_created_from_its_form_as_a_draft(world: World) -> None:
    adam = world.advisor.client()
    cases = {
        "deposit": {"amount": "300", "currency": "USD", "method": "wire"},
        "withdrawal": {"bank_instruction": world.instruction.pk, "amount": "2,500.00", "currency": "USD",
                       "method": "ach", "memo": "For the roof"},
        "internal-transfer": {"to_account": world.other.pk, "amount": "100", "currency": "USD"},
        "position-transfer": {"to_account": world.other.pk, "security": "ACME", "quantity": "4"},
    }  # fmt: skip
    for kind, data in cases.items():
        response = create(adam, kind, world.account, **data)
        assert response.status_code == 302, (kind, response.content.decode()[:2000])
        pk = int(re.search(r"/funding/requests/(\d+)/$", response["Location"])[1])  # type: ignore[index]
        with world.alice.scope():
            made = FundingRequest.objects.get(pk=pk)
        assert (
            made.status == Status.DRAFT and made.kind == kind.replace("-", "_") and made.account_id == world.account.pk
        )
        assert adam.get(response["Location"]).status_code == 200
    with world.alice.scope():
        withdrawal = FundingRequest.objects.get(kind="withdrawal")
        assert withdrawal.amount == D("2500") and withdrawal.memo == "For the roof"
        assert withdrawal.bank_instruction_id == world.instruction.pk and withdrawal.created_by == world.advisor.user
        positions = FundingRequest.objects.get(kind="position_transfer")
        assert positions.security_id == world.security.pk and positions.quantity == D(4)
        assert FundingRequest.objects.get(kind="internal_transfer").to_account_id == world.other.pk


def test_the_forms_offer_only_choices_in_reach(world: World) -> None:
    with world.alice.scope():
        theirs = world.active_instruction(world.stranger)
    adam = world.advisor.client()
    withdrawal = adam.get(f"/funding/requests/new/withdrawal/?account={world.account.pk}").content.decode()
    assert f'value="{world.instruction.pk}"' in withdrawal and f'value="{theirs.pk}"' not in withdrawal
    assert "First Bank ••••\u00a06789</option>" in withdrawal and CLEAR_ACCOUNT not in withdrawal
    assert "First Bank ••••\u00a06789 is Carla Client&#x27;s checking account in USD" in withdrawal
    transfer = adam.get(f"/funding/requests/new/internal-transfer/?account={world.account.pk}").content.decode()
    assert "U5550002" in transfer and "U5550003" not in transfer  # only accounts sharing an owner
    positions = adam.get(f"/funding/requests/new/position-transfer/?account={world.account.pk}").content.decode()
    assert "ACME · Acme Corp (holds 10)" in positions


def test_bad_input_shows_the_error_and_creates_nothing(world: World) -> None:
    with world.alice.scope():
        theirs = world.active_instruction(world.stranger)
    adam = world.advisor.client()
    before = count(world)
    base = {"bank_instruction": world.instruction.pk, "currency": "USD", "method": "ach"}
    for amount, message in (("-5", "greater than zero"), ("0", "greater than zero"), ("1.001", "2 decimal places"),
                            ("abc", "as a number"), ("9900.01", "more than the available cash")):  # fmt: skip
        response = create(adam, "withdrawal", world.account, **base, amount=amount)
        assert response.status_code == 400, amount
        assert message in response.content.decode(), amount
    refused = create(adam, "withdrawal", world.account, **{**base, "bank_instruction": theirs.pk}, amount="5")
    assert refused.status_code == 400 and "Select a valid choice" in refused.content.decode()
    too_many = create(adam, "position-transfer", world.account, to_account=world.other.pk, security="ACME",
                      quantity="11")  # fmt: skip
    assert too_many.status_code == 400 and "holds 10" in too_many.content.decode()
    stranger = create(adam, "internal-transfer", world.account, to_account=world.stranger_account.pk, amount="1",
                      currency="USD")  # fmt: skip
    assert stranger.status_code == 400  # not a choice: no owner in common
    no_key = adam.post("/funding/requests/new/deposit/", {"account": world.account.pk, "amount": "5",
                                                          "currency": "USD", "method": "wire"})  # fmt: skip
    assert no_key.status_code == 400 and "expired" in no_key.content.decode()
    assert count(world) == before


def test_a_double_posted_form_key_acts_once(world: World) -> None:
    adam = world.advisor.client()
    page = adam.get(f"/funding/requests/new/deposit/?account={world.account.pk}")
    data = {"account": world.account.pk, "form_key": form_key(page), "amount": "300", "currency": "USD",
            "method": "wire"}  # fmt: skip
    first = adam.post("/funding/requests/new/deposit/", data)
    second = adam.post("/funding/requests/new/deposit/", data)
    assert first.status_code == second.status_code == 302 and first["Location"] == second["Location"]
    assert count(world, kind="deposit") == 1
    other = adam.post("/funding/requests/new/deposit/", {**data, "amount": "301"})  # the same key, other values
    assert other.status_code == 400 and "already sent with other values" in other.content.decode()
    assert count(world, kind="deposit") == 1
    # A transition too: two clicks on Send send once.
    request = world.withdrawal()
    detail = adam.get(f"/funding/requests/{request.pk}/")
    key = form_key(detail)
    for _ in range(2):
        assert adam.post(f"/funding/requests/{request.pk}/send/", {"form_key": key}).status_code == 302
    with world.alice.scope():
        assert RequestEvent.objects.filter(request=request, action="send").count() == 1
        assert RequestEvent.objects.filter(request=request, action="email_sent").count() == 1
        assert book.cash_position(account=world.account, currency="USD").available == D("7400")


# --- A request's page ---------------------------------------------------------------------------------------


def action_urls(html: str, pk: int) -> set[str]:
    return set(re.findall(rf'action="/funding/requests/{pk}/([a-z-]+)/"', html))


def test_the_request_page_shows_the_reason_and_only_what_the_status_allows(world: World) -> None:
    request = world.withdrawal()
    adam = world.advisor.client()
    draft = adam.get(f"/funding/requests/{request.pk}/").content.decode()
    assert "Under Streamlined, Carla Client approves it from the emailed link with a one-time code." in draft
    assert "A Funding Authorizer who did not request it approves it." in draft
    assert action_urls(draft, request.pk) == {"send", "cancel"}
    assert f'href="/funding/requests/{request.pk}/edit/"' in draft and "••••\u00a06789" in draft
    assert "data-confirm=" in draft  # cancelling asks first
    assert "Created" in draft and "Adam Advisor" in draft  # the timeline

    adam.post(
        f"/funding/requests/{request.pk}/send/", {"form_key": form_key(adam.get(f"/funding/requests/{request.pk}/"))}
    )
    waiting = adam.get(f"/funding/requests/{request.pk}/").content.decode()
    assert action_urls(waiting, request.pk) == {"resend", "cancel"}
    assert "does not let the advisor approve this for the client" in waiting
    assert "Approval email sent" in waiting and "2,500.00 USD held on U5550001" in waiting

    world.at(request, Status.AWAITING_AUTHORIZER)
    assert action_urls(adam.get(f"/funding/requests/{request.pk}/").content.decode(), request.pk) == {"cancel"}
    assert "needs the Funding Authorizer right" in adam.get(f"/funding/requests/{request.pk}/").content.decode()
    olga = world.authorizer.client()
    page = olga.get(f"/funding/requests/{request.pk}/").content.decode()
    assert action_urls(page, request.pk) == {"authorize", "reject", "cancel"}

    # The requester who is an authorizer is told why they cannot authorize it.
    own = world.at(world.withdrawal("10", actor=world.authorizer), Status.AWAITING_AUTHORIZER)
    mine = olga.get(f"/funding/requests/{own.pk}/").content.decode()
    assert action_urls(mine, own.pk) == {"cancel"} and "You requested this" in mine

    submitted = world.at(world.withdrawal("20"), Status.SUBMITTED)
    assert action_urls(olga.get(f"/funding/requests/{submitted.pk}/").content.decode(), submitted.pk) == {
        "complete",
        "cancel",
    }
    with world.alice.scope():
        services.request_cancel(actor=world.advisor.user, request=submitted, reason="Client changed their mind")
    done = olga.get(f"/funding/requests/{submitted.pk}/").content.decode()
    assert action_urls(done, submitted.pk) == set() and "Client changed their mind" in done


def test_streamlined_plus_offers_approval_on_the_clients_behalf(world: World) -> None:
    with world.alice.scope():
        services.settings_update(actor=world.alice.user, program="streamlined_plus")
    adam = world.advisor.client()
    response = create(adam, "internal-transfer", world.account, to_account=world.other.pk, amount="100",
                      currency="USD")  # fmt: skip
    url = response["Location"]
    pk = int(url.rstrip("/").rsplit("/", 1)[1])
    adam.post(f"{url}send/", {"form_key": form_key(adam.get(url))})
    page = html.unescape(adam.get(url).content.decode())
    assert "or the advisor approves it on the client's behalf" in page
    assert action_urls(page, pk) == {"resend", "approve-on-behalf", "cancel"}
    no_reason = adam.post(f"{url}approve-on-behalf/", {"form_key": form_key(adam.get(url)), "reason": ""})
    assert no_reason.status_code == 400 and "Reason" in no_reason.content.decode()
    assert adam.post(f"{url}approve-on-behalf/", {"form_key": form_key(adam.get(url)),
                                                  "reason": "Client called"}).status_code == 302  # fmt: skip
    with world.alice.scope():
        assert FundingRequest.objects.get(pk=pk).status == Status.AWAITING_AUTHORIZER


def test_a_withdrawal_end_to_end_through_the_pages_posts_once(world: World, client: Client) -> None:
    adam, olga, pete = world.advisor.client(), world.authorizer.client(), world.authorizer2.client()
    url = create(adam, "withdrawal", world.account, bank_instruction=world.instruction.pk, amount="2500",
                 currency="USD", method="ach")["Location"]  # fmt: skip
    pk = int(url.rstrip("/").rsplit("/", 1)[1])
    assert adam.post(f"{url}send/", {"form_key": form_key(adam.get(url))}).status_code == 302
    from advisorportal.mail.models import OutgoingEmail

    with world.alice.scope():
        text = OutgoingEmail.objects.order_by("-pk").values_list("text_body", flat=True)[0]
    token = re.search(r"/approve/([^/\s]+)/", text)[1]  # type: ignore[index]
    client.post(f"/approve/{token}/code/", {"destination": "0"})
    with world.alice.scope():
        code_text = OutgoingEmail.objects.order_by("-pk").values_list("text_body", flat=True)[0]
    code = re.search(r"\b(\d{6})\b", code_text)[1]  # type: ignore[index]
    assert client.post(f"/approve/{token}/decide/", {"decision": "approve", "code": code}).status_code == 200
    key = form_key(olga.get(url))
    assert olga.post(f"{url}authorize/", {"form_key": key}).status_code == 302
    assert olga.post(f"{url}authorize/", {"form_key": key}).status_code == 302  # the double click: replayed
    assert world.fresh(FundingRequest(pk=pk)).status == Status.SUBMITTED
    assert "Olga Officer" in pete.get(url).content.decode()
    # Into an instruction file, then completed with the custodian's reference.
    files = olga.get("/funding/instruction-files/")
    download = olga.post("/funding/instruction-files/", {"form_key": form_key(files)})
    assert download.status_code == 200 and CLEAR_ACCOUNT.encode() in download.content
    done = olga.post(f"{url}complete/", {"form_key": form_key(olga.get(url)), "custodian_reference": "C-77",
                                         "completed_on": TODAY.isoformat()})  # fmt: skip
    assert done.status_code == 302
    again = olga.post(f"{url}complete/", {"form_key": "another-key", "custodian_reference": "C-77",
                                          "completed_on": TODAY.isoformat()})  # fmt: skip
    assert again.status_code == 302  # completed already: nothing more happens
    request = world.fresh(FundingRequest(pk=pk))
    assert request.status == Status.COMPLETED and request.custodian_reference == "C-77"
    with world.alice.scope():
        assert Transaction.objects.filter(external_id=request.reference).count() == 1
        assert book.cash_position(account=world.account, currency="USD").available == D("7400")
    page = adam.get(url).content.decode()
    assert "Custodian reference C-77" in page and "Sent to the custodian" in page


def test_reject_and_cancel_need_a_reason_and_are_confirmed(world: World) -> None:
    request = world.at(world.withdrawal(), Status.AWAITING_AUTHORIZER)
    olga = world.authorizer.client()
    url = f"/funding/requests/{request.pk}/"
    page = olga.get(url).content.decode()
    assert re.search(
        r'action="[^"]+/reject/" data-confirm="Reject FR-\d+\? It is refused and its hold of 2,500.00 USD', page
    )
    refused = olga.post(f"{url}reject/", {"form_key": form_key(olga.get(url))})
    assert refused.status_code == 400 and world.fresh(request).status == Status.AWAITING_AUTHORIZER
    assert (
        olga.post(f"{url}reject/", {"form_key": form_key(olga.get(url)), "reason": "Wrong account"}).status_code == 302
    )
    request = world.fresh(request)
    assert request.status == Status.REJECTED
    with world.alice.scope():
        assert book.cash_position(account=world.account, currency="USD").available == D("9900")
    # An action the status no longer allows is refused in words and changes nothing.
    assert "form_key" not in olga.get(url).content.decode()  # a finished request offers no action
    late = olga.post(f"{url}cancel/", {"form_key": "another-key", "reason": "late"})
    assert late.status_code == 400 and "cannot be cancelled" in late.content.decode()
    assert world.advisor.client().post(f"{url}authorize/", {"form_key": "k"}).status_code == 403


def test_editing_a_request_awaiting_its_client_puts_it_back_in_draft(world: World) -> None:
    request = world.withdrawal()
    adam = world.advisor.client()
    url = f"/funding/requests/{request.pk}/"
    adam.post(f"{url}send/", {"form_key": form_key(adam.get(url))})
    form = adam.get(f"{url}edit/")
    assert 'value="2500.00"' in form.content.decode()
    saved = adam.post(f"{url}edit/", {"form_key": form_key(form), "bank_instruction": world.instruction.pk,
                                      "amount": "2000", "currency": "USD", "method": "wire"})  # fmt: skip
    assert saved.status_code == 302
    request = world.fresh(request)
    assert request.status == Status.DRAFT and request.amount == D("2000") and request.method == "wire"
    bad = adam.post(f"{url}edit/", {"form_key": form_key(adam.get(f"{url}edit/")),
                                    "bank_instruction": world.instruction.pk, "amount": "99999", "currency": "USD",
                                    "method": "wire"})  # fmt: skip
    assert bad.status_code == 400 and world.fresh(request).amount == D("2000")


# --- History ---------------------------------------------------------------------------------------------------


def test_history_filters_and_its_csv(world: World) -> None:
    withdrawal = world.withdrawal("2500")
    with world.alice.scope():
        deposit = services.request_create(
            actor=world.advisor.user, kind="deposit", account=world.account, method="check", amount="300",
            currency="USD", memo="=cmd|' /C calc'!A0",
        )  # fmt: skip
        old = services.request_create(actor=world.advisor.user, kind="deposit", account=world.account,
                                      method="wire", amount="7", currency="USD")  # fmt: skip
        FundingRequest.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=120))
    adam = world.advisor.client()

    def refs(query: str) -> set[str]:
        html = adam.get(f"/funding/history/?{query}").content.decode()
        return set(re.findall(r">(FR-\d{7})<", html))

    bank = world.instruction_request.reference
    assert refs("") == {withdrawal.reference, deposit.reference, bank}  # 90 days by default
    assert refs("kind=deposit") == {deposit.reference}
    assert refs("method=ach") == {withdrawal.reference}
    assert refs("status=draft&kind=withdrawal") == {withdrawal.reference}
    assert refs("status=cancelled") == set()
    assert refs(f"q={deposit.reference}") == {deposit.reference}
    assert refs(f"date_from={(TODAY - timedelta(days=200)).isoformat()}") == {
        withdrawal.reference,
        deposit.reference,
        old.reference,
        bank,
    }
    assert refs("kind=bank_instruction&status=completed") == {bank}
    assert refs(f"date_to={(TODAY - timedelta(days=1)).isoformat()}") == set()
    bad = adam.get("/funding/history/?date_from=2026-02-02&date_to=2026-01-01")
    assert bad.status_code == 200 and "before the start date" in bad.content.decode()
    # The CSV: the same filtered rows, formula-safe, after a fresh second factor.
    response = adam.get("/funding/history.csv?kind=deposit")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    lines = text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("Reference,Created,Type,Method,Status") and len(lines) == 2
    assert deposit.reference in lines[1] and "Deposit notification" in lines[1] and "300.00" in lines[1]
    assert "'=cmd" in lines[1] and withdrawal.reference not in text
    assert not_recently_verified(adam).get("/funding/history.csv").status_code == 302


# --- Instruction files --------------------------------------------------------------------------------------------


def test_the_instruction_file_needs_a_fresh_second_factor(world: World) -> None:
    world.at(world.withdrawal(), Status.SUBMITTED)
    olga = world.authorizer.client()
    page = olga.get("/funding/instruction-files/")
    text = page.content.decode()
    assert "bank_account_number" in text and "The bank account number, in clear." in text  # the columns
    assert page.context["waiting"] == 1
    stale = not_recently_verified(world.authorizer.client())
    refused = stale.post("/funding/instruction-files/", {"form_key": form_key(page)})
    assert refused.status_code == 302 and "step_up=1" in refused["Location"]
    with world.alice.scope():
        assert not InstructionFile.objects.exists()
    key = form_key(page)
    first = olga.post("/funding/instruction-files/", {"form_key": key})
    assert first.status_code == 200 and first["Content-Disposition"].startswith("attachment")
    rows = first.content.decode().splitlines()
    assert rows[0].startswith("reference,type,method") and len(rows) == 2
    assert CLEAR_ACCOUNT in rows[1] and CLEAR_ROUTING in rows[1]
    second = olga.post("/funding/instruction-files/", {"form_key": key})  # a double click: the same file
    assert second.status_code == 200 and second.content == first.content
    with world.alice.scope():
        record = InstructionFile.objects.get()
    assert olga.get(f"/funding/instruction-files/{record.pk}/download/").content == first.content
    assert stale.get(f"/funding/instruction-files/{record.pk}/download/").status_code == 302
    nothing = olga.post("/funding/instruction-files/", {"form_key": form_key(olga.get("/funding/instruction-files/"))})
    assert nothing.status_code == 400 and "No submitted request" in nothing.content.decode()
    # An authorizer whose scope is a selection of clients may not download every client's numbers.
    with world.alice.scope():
        account_scope_set(actor=world.alice.user, user=world.authorizer2.user, scope=AccountScope.SELECTED,
                          account_ids=frozenset({world.account.pk}))  # fmt: skip
    assert world.authorizer2.client().get("/funding/instruction-files/").status_code == 403


# --- Bank instructions ----------------------------------------------------------------------------------------------


def test_bank_instruction_pages_show_masked_numbers_only(world: World) -> None:
    adam = world.advisor.client()
    listing = adam.get(f"/funding/contacts/{world.client.pk}/bank-instructions/").content.decode()
    assert "••••\u00a06789" in listing and "••••\u00a00021" in listing and "First Bank" in listing
    assert CLEAR_ACCOUNT not in listing and CLEAR_ROUTING not in listing and "123456789" not in listing
    url = f"/funding/contacts/{world.client.pk}/bank-instructions/new/"
    assert not_recently_verified(world.advisor.client()).get(url).status_code == 302  # step-up first
    form = adam.get(f"{url}?replaces={world.instruction.pk}")
    assert form.status_code == 200 and 'value="First Bank"' in form.content.decode()
    data = {"form_key": form_key(form), "replaces": world.instruction.pk, "holder_name": "Carla Client",
            "bank_name": "Second Bank", "account_kind": "savings", "currency": "USD",
            "account_number": "9876 5432 1098", "routing_number": "123456789"}  # fmt: skip
    wrong = adam.post(url, data)  # 123456789 fails the ABA check digit
    wrong_text = wrong.content.decode()
    assert wrong.status_code == 400 and "check digit" in wrong_text
    assert "987654321098" not in wrong_text and "9876 5432 1098" not in wrong_text  # not echoed back
    before = count(world, kind="bank_instruction")
    saved = adam.post(url, {**data, "routing_number": "011000015"})
    assert saved.status_code == 302 and count(world, kind="bank_instruction") == before + 1
    detail = adam.get(saved["Location"]).content.decode()
    assert "Second Bank" in detail and "••••\u00a01098" in detail and "987654321098" not in detail
    assert "Replaces" in detail and "Draft" in detail
    again = adam.get(f"/funding/contacts/{world.client.pk}/bank-instructions/").content.decode()
    assert "Awaiting approval" in again and "987654321098" not in again and "011000015" not in again
    # The contact's record links here.
    assert (
        f"/funding/contacts/{world.client.pk}/bank-instructions/"
        in adam.get(f"/contacts/{world.client.pk}/").content.decode()
    )


# --- Settings and enrolments ------------------------------------------------------------------------------------


def test_settings_are_read_with_funding_and_changed_with_user_management(world: World) -> None:
    adam = world.advisor.client()
    page = adam.get("/funding/settings/").content.decode()
    assert "Streamlined Plus" in page and "signed power of attorney" in page and "50,000.00 USD" in page
    assert 'name="program"' not in page  # read only
    assert adam.post("/funding/settings/", {"program": "full_service"}).status_code == 403
    alice = world.alice.client()
    data = {"program": "streamlined_plus", "cooling_off_days": "5", "dual_authorization_amount": "25000",
            "dual_authorization_currency": "USD", "link_expiry_hours": "48", "reminder_after_hours": "12"}  # fmt: skip
    assert alice.post("/funding/settings/", {**data, "cooling_off_days": "99"}).status_code == 400
    assert alice.post("/funding/settings/", data).status_code == 302
    with world.alice.scope():
        from funding.selectors import funding_settings

        current = funding_settings()
        assert current.program == "streamlined_plus" and current.cooling_off_days == 5
        assert current.dual_authorization_amount == D("25000") and current.link_expiry_hours == 48
        assert current.reminder_after_hours == 12
    # Enrolment of a client, with the powers on the signed form.
    url = f"/funding/contacts/{world.client.pk}/enrolment/"
    assert adam.post(url, {"powers": ["move_funds"], "form_reference": "POA-1"}).status_code == 403
    assert alice.post(url, {"powers": ["move_funds"], "form_reference": ""}).status_code == 400
    assert alice.post(url, {"powers": ["move_funds"], "form_reference": "POA-1"}).status_code == 302
    with world.alice.scope():
        assert Enrollment.objects.get(contact=world.client).powers == ["move_funds"]
    listed = alice.get("/funding/settings/").content.decode()
    assert "Carla Client" in listed and "POA-1" in listed and "Send payments and wires" in listed
    assert alice.post(url, {"action": "end"}).status_code == 302
    with world.alice.scope():
        assert not Enrollment.objects.filter(contact=world.client).exists()
