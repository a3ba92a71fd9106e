"""Issue #15, deliver 4, 5 and 7: settled, pending and available cash; holds; paired postings
between two accounts (fees, refunds, internal transfers) in one balanced, idempotent transaction
that locks both accounts in a fixed order; idempotency keys that compare the payload. Services,
the account page and the API, with real concurrency where it matters."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.utils import timezone

from accounts.models import AuditEntry
from accounts.rights import Right, Role
from advisorportal.tenancy.context import firm_scope
from portfolios import accounting, performance, selectors, services
from portfolios.models import (
    AccountTransfer,
    CashHold,
    ClientAccount,
    LedgerEntry,
    LedgerPosting,
    Transaction,
)
from tests.concurrency import run_concurrently
from tests.conftest import Persona
from tests.factories import FirmFactory, UserFactory
from tests.factories_portfolios import ClientAccountFactory

D = Decimal
TODAY = timezone.localdate()
YESTERDAY = TODAY - timedelta(days=1)


def record(account: ClientAccount, kind: str, amount: str, **kwargs: Any) -> Transaction:
    kwargs.setdefault("trade_date", YESTERDAY)
    return services.transaction_record(
        actor=None, account=account, kind=kind, amount=D(amount), currency="USD", **kwargs
    )


def book_counts() -> tuple[int, int, int, int, int]:
    return (
        Transaction.objects.count(),
        LedgerEntry.objects.count(),
        LedgerPosting.objects.count(),
        AccountTransfer.objects.count(),
        CashHold.objects.count(),
    )


@pytest.fixture
def accounts(alice: Persona) -> dict[str, ClientAccount]:
    with alice.scope():
        master = ClientAccountFactory(number="M1", is_master=True)
        client = ClientAccountFactory(number="C1")
        other = ClientAccountFactory(number="C2")
        record(client, "deposit", "1000")
        return {"master": master, "client": client, "other": other}


# --- Settled, pending and available cash ---------------------------------------------------------


@pytest.mark.django_db
def test_cash_pending_settlement_is_not_available(alice: Persona, accounts: dict[str, ClientAccount]) -> None:
    client = accounts["client"]
    with alice.scope():
        record(client, "deposit", "500", trade_date=TODAY, settle_date=TODAY + timedelta(days=2))
        (row,) = selectors.cash_summary(account=client)
        assert (row.total, row.pending, row.settled, row.held, row.available) == (
            D(1500),
            D(500),
            D(1000),
            D(0),
            D(1000),
        )
        before = book_counts()
        with pytest.raises(ValidationError) as refused:
            record(client, "withdrawal", "1200", trade_date=TODAY)
        assert "more than the available cash of 1000.00 USD (500.00 USD pending settlement)" in str(refused.value)
        assert book_counts() == before
        # Once the settle date has passed it is settled (the same rows, read as of a later day).
        (later,) = selectors.cash_summary(account=client, today=TODAY + timedelta(days=2))
        assert (later.settled, later.available) == (D(1500), D(1500))


# --- Holds ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_hold_reserves_available_cash_until_released(alice: Persona, accounts: dict[str, ClientAccount]) -> None:
    client = accounts["client"]
    with alice.scope():
        hold = services.hold_place(
            actor=alice.user, account=client, currency="USD", amount="400", reason="Withdrawal awaiting approval",
            reference="WR-1",
        )  # fmt: skip
        assert selectors.cash_position(account=client, currency="USD").available == D(600)
        with pytest.raises(ValidationError) as refused:
            record(client, "withdrawal", "700")
        assert "more than the available cash of 600.00 USD (400.00 USD on hold)" in str(refused.value)
        with pytest.raises(ValidationError) as too_much:
            services.hold_place(actor=None, account=client, currency="USD", amount="601", reason="x", reference="WR-2")
        assert list(too_much.value.message_dict) == ["amount"]
        record(client, "withdrawal", "600")
        services.hold_release(actor=alice.user, hold=hold, reason="Withdrawal rejected")
        assert selectors.cash_position(account=client, currency="USD").available == D(400)
        assert AuditEntry.objects.filter(object_type="portfolios.cashhold", object_id=str(hold.pk)).count() == 2


@pytest.mark.django_db
def test_holds_are_idempotent_by_reference_and_compare_the_payload(
    alice: Persona, accounts: dict[str, ClientAccount]
) -> None:
    client = accounts["client"]
    with alice.scope():
        first = services.hold_place(actor=None, account=client, currency="USD", amount="100", reason="r", reference="A")
        again = services.hold_place(
            actor=None, account=client, currency="USD", amount="100.00", reason="r", reference="A"
        )
        assert again.pk == first.pk and CashHold.objects.count() == 1
        with pytest.raises(ValidationError) as refused:
            services.hold_place(actor=None, account=client, currency="USD", amount="101", reason="r", reference="A")
        assert refused.value.error_dict["reference"][0].code == "idempotency_key_reused"
        assert CashHold.objects.count() == 1
        released = services.hold_release(actor=None, hold=first, reason="Paid")
        assert services.hold_release(actor=None, hold=first, reason="Paid").released_at == released.released_at
        with pytest.raises(ValidationError) as twice:
            services.hold_release(actor=None, hold=first, reason="Something else")
        assert "already released" in str(twice.value)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": "0.001"}, "amount"),
        ({"currency": "usd"}, "currency"),
        ({"reference": "  "}, "reference"),
    ],
    ids=["zero", "negative", "not a number", "rounds to zero", "bad currency", "no reference"],
)
def test_bad_holds_name_the_field_and_write_nothing(
    alice: Persona, accounts: dict[str, ClientAccount], arguments: dict[str, str], field: str
) -> None:
    with alice.scope():
        before = book_counts()
        values = {"currency": "USD", "amount": "10", "reason": "r", "reference": "R", **arguments}
        with pytest.raises(ValidationError) as refused:
            services.hold_place(actor=None, account=accounts["client"], **values)  # type: ignore[arg-type]
        assert field in refused.value.message_dict
        assert book_counts() == before


# --- Paired postings --------------------------------------------------------------------------------


def _cash(account: ClientAccount) -> Decimal:
    return selectors.cash_balances(account=account).get("USD", D(0))


@pytest.mark.django_db
def test_a_fee_debits_the_client_and_credits_the_master_in_one_balanced_posting(
    alice: Persona, accounts: dict[str, ClientAccount]
) -> None:
    client, master = accounts["client"], accounts["master"]
    with alice.scope():
        transfer = services.fee_charge(
            actor=alice.user, account=client, amount="25.50", currency="USD", trade_date=YESTERDAY,
            idempotency_key="fee-2025-q1-C1",
        )  # fmt: skip
        assert (_cash(client), _cash(master)) == (D("974.50"), D("25.50"))
        debit, credit = transfer.debit_transaction, transfer.credit_transaction
        assert (debit.kind, debit.amount, credit.kind, credit.amount) == ("fee", D("-25.50"), "fee_income", D("25.50"))
        for side in (debit, credit):  # each side is balanced on its own
            entry = LedgerEntry.objects.get(transaction=side)
            assert LedgerPosting.objects.filter(entry=entry).aggregate(t=Sum("amount"))["t"] == 0
        # The firm's fees ledger account nets to zero across the pair.
        fees = LedgerPosting.objects.filter(ledger_account="fees", entry__transaction__in=[debit, credit])
        assert fees.aggregate(t=Sum("amount"))["t"] == 0
        # A retry returns the same transfer; another amount with the same key is refused.
        again = services.fee_charge(
            actor=alice.user, account=client, amount="25.5", currency="USD", trade_date=YESTERDAY,
            idempotency_key="fee-2025-q1-C1",
        )  # fmt: skip
        assert again.pk == transfer.pk and AccountTransfer.objects.count() == 1
        before = book_counts()
        with pytest.raises(ValidationError) as refused:
            services.fee_charge(
                actor=alice.user, account=client, amount="26", currency="USD", trade_date=YESTERDAY,
                idempotency_key="fee-2025-q1-C1",
            )  # fmt: skip
        assert refused.value.error_dict["idempotency_key"][0].code == "idempotency_key_reused"
        assert book_counts() == before


@pytest.mark.django_db
def test_refunds_and_internal_transfers(alice: Persona, accounts: dict[str, ClientAccount]) -> None:
    client, master, other = accounts["client"], accounts["master"], accounts["other"]
    with alice.scope():
        services.fee_charge(
            actor=None, account=client, amount="30", currency="USD", trade_date=YESTERDAY, idempotency_key="f1"
        )
        refund = services.fee_refund(
            actor=None, account=client, amount="10", currency="USD", trade_date=YESTERDAY, idempotency_key="r1"
        )
        assert (refund.debit_transaction.kind, refund.credit_transaction.kind) == ("fee_income", "fee_refund")
        assert (_cash(client), _cash(master)) == (D(980), D(20))
        moved = services.internal_transfer(
            actor=None, from_account=client, to_account=other, amount="80", currency="USD", trade_date=YESTERDAY,
            idempotency_key="t1",
        )  # fmt: skip
        assert (moved.debit_transaction.kind, moved.credit_transaction.kind) == (
            "internal_transfer_out", "internal_transfer_in"
        )  # fmt: skip
        assert (_cash(client), _cash(other)) == (D(900), D(80))


def test_returns_classify_the_kinds_of_a_pair() -> None:
    """A fee is not an external flow of the client's account (its net return bears it; gross treats
    it as a flow); fee income is a flow of the master account; an internal transfer is an external
    flow of both accounts with opposite signs."""
    assert "fee" not in accounting.EXTERNAL_CASH_KINDS and "fee" in accounting.FEE_KINDS
    assert "fee_refund" in accounting.FEE_KINDS and "fee_refund" not in accounting.EXTERNAL_CASH_KINDS
    assert {"internal_transfer_in", "internal_transfer_out", "fee_income"} <= accounting.EXTERNAL_CASH_KINDS


@pytest.mark.django_db
def test_an_internal_transfer_is_a_flow_of_both_accounts_and_a_fee_is_not(alice: Persona) -> None:
    mon, tue = date(2025, 3, 3), date(2025, 3, 4)
    with alice.scope():
        ClientAccountFactory(number="M1", is_master=True)
        client, other = ClientAccountFactory(number="C1"), ClientAccountFactory(number="C2")
        record(client, "deposit", "1000", trade_date=mon)
        services.internal_transfer(
            actor=None, from_account=client, to_account=other, amount="400", currency="USD", trade_date=tue,
            idempotency_key="t-flow",
        )  # fmt: skip
        services.fee_charge(actor=None, account=client, amount="6", currency="USD", trade_date=tue, idempotency_key="f")
        performance.recompute_full(end=tue)
        day = performance.value_history(account=client)[-1]
        # Flows at the end of the day: the 400 out is a flow, the fee a loss of 6 on the 1,000 (net)
        # and a flow only in the gross-of-fee index.
        assert (day.date, day.nav, day.net_flow) == (tue, D(594), D(-400))
        assert (day.return_index, day.gross_index) == (D("0.994"), D(1))
        (received,) = performance.value_history(account=other)
        assert (received.nav, received.net_flow, received.return_index) == (D(400), D(400), D(1))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("call", "field"),
    [
        ("fee to a client", "credit_account"),
        ("refund from a client", "debit_account"),
        ("internal to master", "debit_account"),
        ("same account", "credit_account"),
        ("too much", "amount"),
        ("bad kind", "kind"),
        ("no key", "idempotency_key"),
    ],
)
def test_bad_transfers_name_the_field_and_write_nothing(
    alice: Persona, accounts: dict[str, ClientAccount], call: str, field: str
) -> None:
    client, master, other = accounts["client"], accounts["master"], accounts["other"]
    arguments: dict[str, Any] = {
        "fee to a client": {"debit_account": client, "credit_account": other, "kind": "fee"},
        "refund from a client": {"debit_account": client, "credit_account": master, "kind": "fee_refund"},
        "internal to master": {"debit_account": master, "credit_account": client, "kind": "internal_transfer"},
        "same account": {"debit_account": client, "credit_account": client, "kind": "internal_transfer"},
        "too much": {"debit_account": client, "credit_account": other, "kind": "internal_transfer", "amount": "1001"},
        "bad kind": {"debit_account": client, "credit_account": other, "kind": "gift"},
        "no key": {"debit_account": client, "credit_account": other, "kind": "internal_transfer", "key": ""},
    }[call]
    key = arguments.pop("key", "k")
    with alice.scope():
        before = (book_counts(), _cash(client), _cash(other), _cash(master))
        with pytest.raises(ValidationError) as refused:
            services.transfer_between_accounts(
                actor=None, currency="USD", trade_date=TODAY, idempotency_key=key, **{"amount": "10", **arguments}
            )
        assert field in refused.value.message_dict, refused.value
        assert (book_counts(), _cash(client), _cash(other), _cash(master)) == before


@pytest.mark.django_db
def test_a_side_of_a_pair_cannot_be_recorded_or_reversed_alone(
    alice: Persona, accounts: dict[str, ClientAccount]
) -> None:
    client, master = accounts["client"], accounts["master"]
    with alice.scope():
        with pytest.raises(ValidationError) as alone:
            record(master, "fee_income", "5")
        assert "post both sides together" in str(alone.value)
        transfer = services.fee_charge(
            actor=None, account=client, amount="5", currency="USD", trade_date=TODAY, idempotency_key="fee-x"
        )
        with pytest.raises(ValidationError) as reversed_alone:
            services.transaction_reverse(actor=None, transaction=transfer.debit_transaction)
        assert "post the opposite transfer instead" in str(reversed_alone.value)


# --- Real concurrency ----------------------------------------------------------------------------------


@pytest.fixture
def delta(committed_db: None) -> Persona:
    firm = FirmFactory(name="Delta Wealth", slug="delta")
    persona = Persona(UserFactory(firm=firm, email="dora@delta.test", rights=frozenset({Right.FUNDING})), firm)
    return persona


@pytest.mark.usefixtures("committed_db")
def test_opposite_transfers_at_once_neither_deadlock_nor_overdraw(delta: Persona) -> None:
    """Transfers in both directions between two accounts, and withdrawals, all at once: the fixed lock
    order means no deadlock, the available-cash check under the locks means no overdraft, and the
    books equal what the transfers that succeeded say."""
    with firm_scope(delta.firm):
        a, b = ClientAccountFactory(number="A1"), ClientAccountFactory(number="B1")
        for account in (a, b):
            record(account, "deposit", "100")

    def work(index: int) -> Any:
        with firm_scope(delta.firm):
            source, target = (a, b) if index % 2 else (b, a)
            if index % 5 == 4:
                return services.transaction_record(
                    actor=None, account=source, kind="withdrawal", trade_date=TODAY, amount=D(30), currency="USD"
                )
            return services.internal_transfer(
                actor=None, from_account=source, to_account=target, amount="30", currency="USD", trade_date=TODAY,
                idempotency_key=f"t{index}",
            )  # fmt: skip

    results = run_concurrently(12, work)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(e, ValidationError) and "available cash" in str(e) for e in errors), errors
    with firm_scope(delta.firm):
        cash_a, cash_b = _cash(a), _cash(b)
        assert cash_a >= 0 and cash_b >= 0
        withdrawn = sum(D(30) for r in results if isinstance(r, Transaction))
        assert cash_a + cash_b == D(200) - withdrawn
        transfers = AccountTransfer.objects.count()
        assert transfers + len([r for r in results if isinstance(r, Transaction)]) == 12 - len(errors)
        assert Transaction.objects.filter(kind__startswith="internal_transfer").count() == 2 * transfers


@pytest.mark.usefixtures("committed_db")
def test_one_fee_retried_at_once_posts_once(delta: Persona) -> None:
    with firm_scope(delta.firm):
        ClientAccountFactory(number="M1", is_master=True)
        client = ClientAccountFactory(number="C1")
        record(client, "deposit", "100")

    def work(index: int) -> Any:
        with firm_scope(delta.firm):
            return services.fee_charge(
                actor=None, account=client, amount="12.34", currency="USD", trade_date=TODAY,
                idempotency_key="fee-once",
            ).pk  # fmt: skip

    results = run_concurrently(8, work)
    assert len(set(results)) == 1 and isinstance(results[0], int), results
    with firm_scope(delta.firm):
        assert AccountTransfer.objects.count() == 1 and _cash(client) == D("87.66")
        assert Transaction.objects.filter(kind="fee").count() == 1


@pytest.mark.usefixtures("committed_db")
def test_holds_at_once_never_reserve_more_than_the_cash(delta: Persona) -> None:
    with firm_scope(delta.firm):
        client = ClientAccountFactory(number="C1")
        record(client, "deposit", "100")

    def work(index: int) -> Any:
        with firm_scope(delta.firm):
            return services.hold_place(
                actor=None, account=client, currency="USD", amount="30", reason="r", reference=f"H{index}"
            )

    results = run_concurrently(6, work)
    assert sum(isinstance(r, CashHold) for r in results) == 3, results
    with firm_scope(delta.firm):
        assert selectors.cash_position(account=client, currency="USD").available == D(10)


# --- The account page and the API ----------------------------------------------------------------------


@pytest.fixture
def reader(alice: Persona) -> Persona:
    """Account Information without Funding: sees cash and holds, may not place or release one."""
    user = UserFactory(
        firm=alice.firm, email="rita@alpha.test", full_name="Rita Reader", role=Role.STAFF,
        rights=frozenset({Right.ACCOUNT_INFORMATION}),
    )  # fmt: skip
    return Persona(user, alice.firm)


@pytest.mark.django_db
def test_the_account_page_shows_settled_pending_held_and_available_cash(
    alice: Persona, accounts: dict[str, ClientAccount]
) -> None:
    client = accounts["client"]
    with alice.scope():
        record(client, "deposit", "500", trade_date=TODAY, settle_date=TODAY + timedelta(days=3))
        services.hold_place(actor=alice.user, account=client, currency="USD", amount="250", reason="Withdrawal",
                            reference="WR-7")  # fmt: skip
    html = alice.client().get(f"/accounts/{client.pk}/").content.decode()
    row = html.split('<th scope="row">USD</th>')[1].split("</tr>")[0]
    assert "1,500.00 USD" in row and "500.00 USD" in row and "1,000.00 USD" in row and "250.00 USD" in row
    assert "<strong>750.00 USD</strong>" in row  # available = settled 1,000 - held 250
    assert "Withdrawal" in html and "WR-7" in html and 'data-confirm="Release the hold WR-7' in html
    assert "Place a hold" in html
    assert "<strong>750.00 USD</strong>Available cash (of 1,500.00 USD)" in html


@pytest.mark.django_db
def test_holds_from_the_page_place_release_and_refuse_with_a_clear_message(
    alice: Persona, reader: Persona, accounts: dict[str, ClientAccount]
) -> None:
    client = accounts["client"]
    browser = alice.client()
    url = f"/accounts/{client.pk}/holds/"
    placed = browser.post(url, {"currency": "usd", "amount": "300", "reason": "Fee due", "reference": "FEE-1"},
                          follow=True)  # fmt: skip
    assert "Placed a hold of 300.00 USD (FEE-1)." in placed.content.decode()
    too_much = browser.post(url, {"currency": "USD", "amount": "701", "reason": "x", "reference": "FEE-2"},
                            follow=True).content.decode()  # fmt: skip
    assert "The hold was not placed: Amount: 701.00 USD is more than the available cash of 700.00 USD." in too_much
    missing = browser.post(url, {"currency": "USD", "amount": "", "reason": "x", "reference": "FEE-3"}, follow=True)
    assert "The hold was not placed: Amount: This field is required." in missing.content.decode()
    with alice.scope():
        hold = CashHold.objects.get(reference="FEE-1")
        assert CashHold.objects.count() == 1
    # Rita may read but not place or release; an outsider's account is not found.
    assert "Place a hold" not in reader.client().get(f"/accounts/{client.pk}/").content.decode()
    assert (
        reader.client().post(url, {"currency": "USD", "amount": "1", "reason": "x", "reference": "R"}).status_code
        == 403
    )
    assert reader.client().post(f"{url}{hold.pk}/release/", {"reason": "no"}).status_code == 403
    released = browser.post(f"{url}{hold.pk}/release/", {"reason": "Fee collected"}, follow=True).content.decode()
    assert "Released the hold FEE-1: its cash is available again." in released
    no_reason = browser.post(f"{url}{hold.pk}/release/", {"reason": ""}, follow=True).content.decode()
    assert "The hold was not released: Reason: This field is required." in no_reason
    with alice.scope():
        assert CashHold.objects.get(pk=hold.pk).release_reason == "Fee collected"


@pytest.mark.django_db
def test_the_api_reads_cash_and_places_and_releases_holds(
    alice: Persona, reader: Persona, charlie: Persona, accounts: dict[str, ClientAccount]
) -> None:
    client = accounts["client"]
    api = alice.api()
    body = {"currency": "USD", "amount": "120.5", "reason": "Withdrawal awaiting approval", "reference": "WR-9"}
    created = api.post(f"/api/v1/accounts/{client.pk}/holds/", body, format="json")
    assert created.status_code == 201, created.content
    hold = created.json()
    assert (hold["amount"], hold["is_open"], hold["reference"]) == ("120.50", True, "WR-9")
    again = api.post(f"/api/v1/accounts/{client.pk}/holds/", body, format="json")
    assert again.status_code == 200 and again.json()["id"] == hold["id"]
    other = api.post(f"/api/v1/accounts/{client.pk}/holds/", {**body, "amount": "121"}, format="json")
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    over = api.post(f"/api/v1/accounts/{client.pk}/holds/", {**body, "reference": "WR-10", "amount": "1000"},
                    format="json")  # fmt: skip
    assert over.status_code == 400 and "available cash" in over.json()["error"]["fields"]["amount"][0]

    cash = api.get(f"/api/v1/accounts/{client.pk}/cash/").json()
    assert cash["currencies"] == [
        {"currency": "USD", "total": "1000.00", "pending": "0.00", "settled": "1000.00", "held": "120.50",
         "available": "879.50"}
    ]  # fmt: skip
    assert [h["reference"] for h in cash["holds"]] == ["WR-9"]
    # Rita reads the cash; she may not release; Charlie (another firm) finds nothing.
    assert reader.api().get(f"/api/v1/accounts/{client.pk}/cash/").status_code == 200
    release_url = f"/api/v1/accounts/{client.pk}/holds/{hold['id']}/release/"
    assert reader.api().post(release_url, {"reason": "x"}, format="json").status_code == 403
    assert charlie.api().get(f"/api/v1/accounts/{client.pk}/cash/").status_code == 404
    assert charlie.api().post(release_url, {"reason": "x"}, format="json").status_code == 404
    released = api.post(release_url, {"reason": "Approved and paid"}, format="json")
    assert released.status_code == 200 and released.json()["is_open"] is False
    assert api.post(release_url, {"reason": "Other"}, format="json").status_code == 422
    after = api.get(f"/api/v1/accounts/{client.pk}/cash/", {"include_released": "true"}).json()
    assert after["currencies"][0]["available"] == "1000.00" and len(after["holds"]) == 1
    assert api.get(f"/api/v1/accounts/{client.pk}/cash/").json()["holds"] == []
