"""Adjustments of fees on the real ledger: one-off credits and reimbursements posted once (master
account debited, client credited, with the reason), recurring credits and discounts applied by
fee runs to the line they explain, bad input refused with an audit entry, scope and rights."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts import services as account_services
from accounts.models import AccountScope, AuditEntry
from accounts.rights import Right, Role
from billing import adjustments
from billing.models import Adjustment, LineStatus, RecurringAdjustment
from portfolios import selectors as book
from portfolios import services as ledger
from portfolios.models import AccountTransfer, ClientAccount, LedgerPosting, Transaction
from tests.conftest import Persona
from tests.factories import UserFactory
from tests.test_billing_runs import books, computed, deposit, fees_of, line, new_account, posted, schedule
from tests.test_billing_runs_api import post as api_post

pytestmark = pytest.mark.django_db
D = Decimal
__all__ = ["books"]  # the fixture, used by name


def cash(account: ClientAccount) -> Decimal:
    return book.cash_balances(account=account).get("USD", D(0))


def refusals_on(account: ClientAccount) -> int:
    return AuditEntry.objects.filter(
        object_type="portfolios.clientaccount", object_id=str(account.pk), changes__has_key="refused"
    ).count()


@pytest.fixture
def funded(alice: Persona, books: dict[str, Any]) -> dict[str, Any]:
    """A client account with cash, and a master account with cash to pay credits from."""
    with alice.scope():
        account = new_account(number="C-100")
        deposit(account, "100000")
        deposit(books["master"], "50000")
    return {**books, "account": account}


def test_a_credit_is_posted_at_once_from_the_master_account_with_its_reason(
    alice: Persona, funded: dict[str, Any]
) -> None:
    account, master = funded["account"], funded["master"]
    with alice.scope():
        made = adjustments.adjustment_post(
            actor=alice.user, account=account, amount="250.00", reason="Fee overcharged in Q4",
            idempotency_key="adj-1", kind="reimbursement", trade_date=date(2025, 4, 2),
        )  # fmt: skip
        assert (made.amount, made.currency, made.kind) == (D("250.00"), "USD", "reimbursement")
        transfer = made.transfer
        assert (transfer.kind, transfer.debit_account_id, transfer.credit_account_id) == (
            "fee_refund", master.pk, account.pk)  # fmt: skip
        assert "Reimbursement: Fee overcharged in Q4" in transfer.memo
        assert cash(account) == D("100250.0000") and cash(master) == D("49750.0000")
        assert fees_of(account) == D("250.00")
        # Balanced: every entry's postings sum to zero.
        for entry_id in LedgerPosting.objects.values_list("entry_id", flat=True).distinct():
            assert sum(LedgerPosting.objects.filter(entry_id=entry_id).values_list("amount", flat=True)) == 0
        assert AuditEntry.objects.filter(object_type="billing.adjustment", object_id=str(made.pk)).exists()


def test_the_same_key_posted_twice_posts_once(alice: Persona, funded: dict[str, Any]) -> None:
    account = funded["account"]
    with alice.scope():
        first = adjustments.adjustment_post(actor=alice.user, account=account, amount="100", reason="Goodwill",
                                            idempotency_key="same", trade_date=date(2025, 4, 2))  # fmt: skip
        again = adjustments.adjustment_post(actor=alice.user, account=account, amount="100", reason="Goodwill",
                                            idempotency_key="same", trade_date=date(2025, 4, 2))  # fmt: skip
        assert first.pk == again.pk and first.transfer_id == again.transfer_id
        assert Adjustment.objects.count() == 1 and AccountTransfer.objects.count() == 1
        assert cash(account) == D("100100.0000")

        before = refusals_on(account)
        with pytest.raises(ValidationError, match="already used for another adjustment"):
            adjustments.adjustment_post(actor=alice.user, account=account, amount="999", reason="Goodwill",
                                        idempotency_key="same", trade_date=date(2025, 4, 2))  # fmt: skip
        assert AccountTransfer.objects.count() == 1 and cash(account) == D("100100.0000")
        assert refusals_on(account) == before + 1


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"amount": "0"}, "amount", "more than zero"),
        ({"amount": "-5"}, "amount", "more than zero"),
        ({"amount": "12.345"}, "amount", "2 decimals"),
        ({"amount": "lots"}, "amount", "Type an amount"),
        ({"reason": "  "}, "reason", "Say why"),
        ({"kind": "gift"}, "kind", "Choose one of"),
        ({"idempotency_key": ""}, "idempotency_key", "visible ASCII"),
        ({"amount": "60000"}, "amount", "available"),  # more than the master account's cash
    ],
)
def test_bad_input_posts_nothing_and_is_audited(
    alice: Persona, funded: dict[str, Any], changes: dict[str, Any], field: str, message: str
) -> None:
    account = funded["account"]
    body = {"amount": "10", "reason": "Credit", "idempotency_key": uuid.uuid4().hex, "kind": "credit", **changes}
    with alice.scope():
        with pytest.raises(ValidationError) as refused:
            adjustments.adjustment_post(actor=alice.user, account=account, **body)
        assert field in refused.value.message_dict
        assert message in " ".join(refused.value.message_dict[field])
        assert not Adjustment.objects.exists() and not AccountTransfer.objects.exists()
        assert refusals_on(account) == 1


def test_the_master_account_and_a_closed_account_are_refused(alice: Persona, funded: dict[str, Any]) -> None:
    with alice.scope():
        closed = new_account(number="C-CLOSED", status="closed")
        for target, text in ((funded["master"], "master account"), (closed, "closed")):
            with pytest.raises(ValidationError, match=text):
                adjustments.adjustment_post(actor=alice.user, account=target, amount="5", reason="x",
                                            idempotency_key=uuid.uuid4().hex)  # fmt: skip
            assert refusals_on(target) == 1
        assert not AccountTransfer.objects.exists()


# --- Recurring adjustments in fee runs ------------------------------------------------------------


def test_a_recurring_discount_and_credit_are_applied_explained_and_posted(
    alice: Persona, funded: dict[str, Any]
) -> None:
    """400,000 at 1 % a year: 1,000 a quarter; 10 % off (100), then 150 credited: 750 posted."""
    account = funded["account"]
    with alice.scope():
        schedule(alice.user, is_default=True)
        deposit(account, "300000")
        adjustments.recurring_add(actor=alice.user, account=account, kind="fee_discount", pct="10",
                                  reason="Family discount", starts_on=date(2025, 1, 1))  # fmt: skip
        adjustments.recurring_add(actor=alice.user, account=account, kind="fixed_credit", amount="150",
                                  reason="Platform credit", starts_on=date(2025, 2, 1),
                                  ends_on=date(2025, 12, 31))  # fmt: skip
        adjustments.recurring_add(actor=alice.user, account=account, kind="fixed_credit", amount="999",
                                  reason="Ended last year", starts_on=date(2024, 1, 1),
                                  ends_on=date(2024, 12, 31))  # fmt: skip
        run = computed(alice)
        fee = line(run, account)
        assert (fee.status, fee.annual_fee, fee.period_fee, fee.to_post) == (
            "billed", D("4000.00"), D("750.00"), D("750.00"))  # fmt: skip
        assert "Family discount" in fee.explanation and "a discount of 10 % of the fee, 100.00 off" in fee.explanation
        assert "Platform credit" in fee.explanation and "150.00 off" in fee.explanation
        assert "Ended last year" not in fee.explanation
        assert "Fee after adjustments: 750.00 USD." in fee.explanation
        assert fee.details["adjustments"]["before"] == "1000.00" and fee.details["adjustments"]["after"] == "750.00"
        assert [a["credit"] for a in fee.details["adjustments"]["applied"]] == ["100.00", "150.00"]

        run = posted(run, alice, funded["checker"])
        assert line(run, account).posted_amount == D("750.00")
        assert fees_of(account) == D("-750.00")


def test_a_credit_never_turns_the_fee_into_a_payment(alice: Persona, funded: dict[str, Any]) -> None:
    account = funded["account"]
    with alice.scope():
        schedule(alice.user, is_default=True)  # 100,000 at 1 %: 250 a quarter
        adjustments.recurring_add(actor=alice.user, account=account, kind="fixed_credit", amount="400",
                                  reason="Waived", starts_on=date(2025, 1, 1))  # fmt: skip
        fee = line(computed(alice), account)
        assert fee.period_fee == D("0.00") and fee.status == LineStatus.BILLED
        assert "250.00 off (limited to the fee left" in fee.explanation


def test_stopping_a_recurring_adjustment_keeps_what_was_billed(alice: Persona, funded: dict[str, Any]) -> None:
    account = funded["account"]
    with alice.scope():
        schedule(alice.user, is_default=True)
        row = adjustments.recurring_add(actor=alice.user, account=account, kind="fee_discount", pct="50",
                                        reason="Intro offer", starts_on=date(2025, 1, 1))  # fmt: skip
        with pytest.raises(ValidationError, match="cannot end before"):
            adjustments.recurring_stop(actor=alice.user, recurring=row, ends_on=date(2024, 12, 31))
        assert AuditEntry.objects.filter(object_type="billing.recurringadjustment", object_id=str(row.pk),
                                         changes__has_key="refused").exists()  # fmt: skip
        row = adjustments.recurring_stop(actor=alice.user, recurring=row, ends_on=date(2025, 1, 15))
        assert row.ends_on == date(2025, 1, 15) and row.stopped_by == alice.user
        assert "Intro offer" in line(computed(alice), account).explanation  # overlaps Q1: applies
        again = adjustments.recurring_stop(actor=alice.user, recurring=row, ends_on=date(2025, 1, 15))
        assert again.ends_on == date(2025, 1, 15)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "fixed_credit", "amount": "0"}, "amount"),
        ({"kind": "fixed_credit", "amount": "10", "pct": "5"}, "pct"),
        ({"kind": "fee_discount", "pct": "150"}, "pct"),
        ({"kind": "fee_discount", "pct": "5", "amount": "1"}, "amount"),
        ({"kind": "fee_discount", "pct": "5", "ends_on": date(2024, 1, 1)}, "ends_on"),
        ({"kind": "other", "pct": "5"}, "kind"),
        ({"kind": "fee_discount", "pct": "5", "reason": ""}, "reason"),
    ],
)
def test_bad_recurring_input_is_refused_and_audited(
    alice: Persona, funded: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    account = funded["account"]
    body = {"reason": "Because", "starts_on": date(2025, 1, 1), **body}
    with alice.scope():
        with pytest.raises(ValidationError) as refused:
            adjustments.recurring_add(actor=alice.user, account=account, **body)
        assert field in refused.value.message_dict
        assert not RecurringAdjustment.objects.exists() and refusals_on(account) == 1


# --- The ledger stays whole, whatever the order ---------------------------------------------------

OPERATION = st.tuples(st.sampled_from(["fee", "credit", "retry"]), st.integers(min_value=1, max_value=50_000))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(OPERATION, min_size=1, max_size=8))
def test_fees_and_adjustments_in_any_order_leave_the_ledger_equal_to_a_recompute(
    alice: Persona, funded: dict[str, Any], operations: list[tuple[str, int]]
) -> None:
    """Fees (as fee runs post them) and credits in any order, with retries of earlier keys: each
    account's ledger cash equals a recompute from its transactions and from the operations, and
    every entry balances."""
    account, master = funded["account"], funded["master"]
    with alice.scope(), transaction.atomic():
        start_client, start_master = cash(account), cash(master)
        done: list[tuple[str, str, Decimal]] = []
        expected = D(0)
        for number, (kind, cents) in enumerate(operations):
            amount = D(cents) / 100
            if kind == "retry" and done:
                kind, key, amount = done[cents % len(done)]
            else:
                kind = "fee" if kind == "retry" else kind
                key = f"op{number}"
            if kind == "fee":
                ledger.fee_charge(actor=None, account=account, amount=amount, currency="USD",
                                  trade_date=date(2025, 4, 1), idempotency_key=f"fee.{key}")  # fmt: skip
            else:
                adjustments.adjustment_post(actor=alice.user, account=account, amount=amount, reason="Credit",
                                            idempotency_key=f"credit.{key}", trade_date=date(2025, 4, 1))  # fmt: skip
            if (kind, key, amount) not in done:
                done.append((kind, key, amount))
                expected += amount if kind == "credit" else -amount
        assert cash(account) - start_client == expected
        assert cash(master) - start_master == -expected
        for target in (account, master):
            recomputed = sum(Transaction.objects.filter(account=target).values_list("amount", flat=True), D(0))
            assert cash(target) == recomputed
        sums: dict[int, Decimal] = {}
        for entry_id, amount in LedgerPosting.objects.values_list("entry_id", "amount"):
            sums[entry_id] = sums.get(entry_id, D(0)) + amount
        assert set(sums.values()) <= {D(0)}
        transaction.set_rollback(True)


# --- Pages and the API: rights and scope -----------------------------------------------------------


@pytest.fixture
def scoped(alice: Persona, funded: dict[str, Any]) -> dict[str, Any]:
    """Fran administers fees for one other account only; Bob has no Fee Administration right."""
    with alice.scope():
        mine = new_account(number="C-FRAN")
        fran = UserFactory(firm=alice.firm, email="fran@alpha.test", full_name="Fran Fee", role=Role.STAFF,
                           rights=frozenset({Right.FEE_ADMINISTRATION}))  # fmt: skip
        account_services.account_scope_set(actor=alice.user, user=fran, scope=AccountScope.SELECTED,
                                           account_ids=frozenset({mine.pk}))  # fmt: skip
    return {**funded, "fran": Persona(fran, alice.firm), "mine": mine}


def test_the_adjustments_page_posts_a_credit_after_confirmation(alice: Persona, funded: dict[str, Any]) -> None:
    web = alice.client()
    account = funded["account"]
    page = web.get(reverse("billing:adjustments"))
    assert page.status_code == 200 and "One-off credit" in page.content.decode()
    body = {"account": account.number, "kind": "credit", "amount": "1,200.00", "reason": "Service issue",
            "key": "page-key-1"}  # fmt: skip
    confirm = web.post(reverse("billing:adjustment-new"), body)
    assert confirm.status_code == 200 and "Confirm" in confirm.content.decode()
    with alice.scope():
        assert not Adjustment.objects.exists()
    done = web.post(reverse("billing:adjustment-new"), {**body, "confirmed": "1"})
    assert done.status_code == 302
    again = web.post(reverse("billing:adjustment-new"), {**body, "confirmed": "1"})  # a double click
    assert again.status_code == 302
    with alice.scope():
        assert Adjustment.objects.count() == 1 and cash(account) == D("101200.0000")
    listed = web.get(reverse("billing:adjustments")).content.decode()
    assert "Service issue" in listed and "1,200.00" in listed

    bad = web.post(reverse("billing:adjustment-new"), {**body, "amount": "0", "key": "page-key-2", "confirmed": "1"})
    assert bad.status_code == 400 and "more than zero" in bad.content.decode()
    with alice.scope():
        assert Adjustment.objects.count() == 1 and refusals_on(account) == 1


def test_the_adjustments_page_adds_and_stops_a_recurring_one(alice: Persona, funded: dict[str, Any]) -> None:
    web = alice.client()
    account = funded["account"]
    body = {"account": account.number, "kind": "fee_discount", "pct": "5", "reason": "Loyalty",
            "starts_on": "2025-01-01"}  # fmt: skip
    made = web.post(reverse("billing:recurring-new"), body)
    assert made.status_code == 302, made.content.decode()[:2000]
    with alice.scope():
        row = RecurringAdjustment.objects.get()
    assert "Loyalty" in web.get(reverse("billing:adjustments")).content.decode()
    stopped = web.post(reverse("billing:recurring-stop", args=[row.pk]), {"ends_on": "2025-06-30"})
    assert stopped.status_code == 302
    with alice.scope():
        row.refresh_from_db()
        assert row.ends_on == date(2025, 6, 30)
    bad = web.post(reverse("billing:recurring-new"), {**body, "pct": "500", "reason": "Too much"})
    assert bad.status_code == 400 and "at most 100" in bad.content.decode()


def test_pages_outside_the_scope_are_404_and_without_the_right_403(
    alice: Persona, bob: Persona, charlie: Persona, scoped: dict[str, Any]
) -> None:
    fran, account = scoped["fran"].client(), scoped["account"]
    with alice.scope():
        row = adjustments.recurring_add(actor=alice.user, account=account, kind="fee_discount", pct="5",
                                        reason="Hidden", starts_on=date(2025, 1, 1))  # fmt: skip
    listed = fran.get(reverse("billing:adjustments")).content.decode()
    assert "Hidden" not in listed
    body = {"account": account.number, "kind": "credit", "amount": "5", "reason": "x", "key": "k", "confirmed": "1"}
    refused = fran.post(reverse("billing:adjustment-new"), body)
    assert refused.status_code == 400 and "No such account" in refused.content.decode()
    assert fran.post(reverse("billing:recurring-stop", args=[row.pk]), {"ends_on": "2025-06-30"}).status_code == 404
    assert charlie.client().post(reverse("billing:recurring-stop", args=[row.pk]), {}).status_code == 404
    assert bob.client().get(reverse("billing:adjustments")).status_code == 403
    with alice.scope():
        assert not Adjustment.objects.exists()


def test_the_api_posts_once_and_keeps_the_audit_entry_of_a_refusal(
    alice: Persona, bob: Persona, charlie: Persona, scoped: dict[str, Any]
) -> None:
    from tests.test_api_schema_conformance import _check

    api, account = alice.api(), scoped["account"]
    body = {"account": account.number, "kind": "credit", "amount": "75.50", "reason": "API credit"}
    made = api_post(api, "/api/v1/billing/adjustments/", body, key="api-1")
    assert made.status_code == 201, made.content
    _check(alice, made, "/api/v1/billing/adjustments/", "post")
    assert made.json()["amount"] == "75.50" and made.json()["account"] == account.number
    replay = api_post(api, "/api/v1/billing/adjustments/", body, key="api-1")
    assert replay.status_code == 201 and replay.json()["id"] == made.json()["id"]
    with alice.scope():
        assert Adjustment.objects.count() == 1 and AccountTransfer.objects.count() == 1
    listed = api.get("/api/v1/billing/adjustments/")
    assert listed.status_code == 200 and [r["id"] for r in listed.json()["results"]] == [made.json()["id"]]
    _check(alice, listed, "/api/v1/billing/adjustments/", "get")

    bad = api_post(api, "/api/v1/billing/adjustments/", {**body, "amount": "100000"}, key="api-2")
    assert bad.status_code == 400 and "amount" in bad.json()["error"]["fields"]
    with alice.scope():
        assert refusals_on(account) == 1 and Adjustment.objects.count() == 1

    recurring = api_post(api, "/api/v1/billing/recurring-adjustments/", {
        "account": account.number, "kind": "fixed_credit", "amount": "20", "reason": "Monthly",
        "starts_on": "2025-01-01"})  # fmt: skip
    assert recurring.status_code == 201, recurring.content
    _check(alice, recurring, "/api/v1/billing/recurring-adjustments/", "post")
    rid = recurring.json()["id"]
    stop = api_post(api, f"/api/v1/billing/recurring-adjustments/{rid}/stop/", {"ends_on": "2025-03-31"})
    assert stop.status_code == 200 and stop.json()["ends_on"] == "2025-03-31"

    fran = scoped["fran"].api()
    assert api_post(fran, "/api/v1/billing/adjustments/", body).status_code == 400  # account not in scope
    assert fran.get(f"/api/v1/billing/adjustments/{made.json()['id']}/").status_code == 404
    assert api_post(fran, f"/api/v1/billing/recurring-adjustments/{rid}/stop/", {}).status_code == 404
    assert charlie.api().get(f"/api/v1/billing/adjustments/{made.json()['id']}/").status_code == 404
    assert bob.api().get("/api/v1/billing/adjustments/").status_code == 403
    assert api_post(api, "/api/v1/billing/adjustments/", body, key=None).status_code == 400  # no key
