"""Client-approved fee increases (issue #18, point 5), on real daily values and the real ledger: a
new schedule version or an assignment that raises a client's fee waits for the client's approval
through the emailed link (followed through the real request path: page, one-time code, decision);
the fee run bills the old terms before approval and the new ones after; a decline keeps the old; a
lowering needs no approval; the approved agreement is a PDF on the contact's documents; the pages
and the API are scoped (another firm's increase is a 404, no Fee Administration right a 403)."""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from pypdf import PdfReader

from advisorportal.jobs import services as job_services
from advisorportal.mail.models import OutgoingEmail
from billing import increases, services
from billing.models import FeeIncrease, FeeLine, FeeRun, FeeSchedule, IncreaseStatus
from crm.documents.models import Document
from portfolios import performance
from portfolios import services as ledger
from portfolios.models import ClientAccount
from tests.conftest import Persona
from tests.factories import ContactFactory, HouseholdFactory, UserFactory
from tests.factories_portfolios import ClientAccountFactory

pytestmark = pytest.mark.django_db
D = Decimal
Q1 = (date(2025, 1, 1), date(2025, 3, 31))
Q2 = (date(2025, 4, 1), date(2025, 6, 30))
ONE_PCT = [{"up_to": None, "annual_rate_pct": "1.00"}]


def rate(pct: str) -> list[dict[str, Any]]:
    return [{"up_to": None, "annual_rate_pct": pct}]


@pytest.fixture
def book(alice: Persona) -> dict[str, Any]:
    """Olga Oak's account (400,000 USD) and the Hill household's two (300,000 + 100,000, billed
    together) on the firm's default schedule, 1 % a year billed quarterly on the period-end value."""
    with alice.scope():
        ClientAccountFactory(number="MASTER", is_master=True)
        checker = UserFactory(firm=alice.firm, email="checker@alpha.test", full_name="Chris Checker")
        olga = ContactFactory(first_name="Olga", last_name="Oak", email="olga@example.test")
        hana = ContactFactory(first_name="Hana", last_name="Hill", email="hana@example.test")
        household = HouseholdFactory(name="Hill family", head=hana)
        alone = ClientAccountFactory(number="O2000001", owners=[olga], inception_date=Q1[0])
        big = ClientAccountFactory(number="H1000001", household=household, owners=[hana], inception_date=Q1[0])
        small = ClientAccountFactory(number="H1000002", household=household, owners=[hana], inception_date=Q1[0])
        for account, amount in ((alone, "400000"), (big, "300000"), (small, "100000")):
            ledger.transaction_record(actor=None, account=account, kind="deposit", trade_date=Q1[0], amount=D(amount))
        standard = services.schedule_create(actor=alice.user, name="Standard", effective_from=date(2024, 1, 1),
                                            method="tiered", tiers=ONE_PCT, valuation="period_end",
                                            is_default=True)  # fmt: skip
        services.assign(actor=alice.user, schedule=standard, households=[household], householding=True)
        performance.recompute_full(end=Q2[1])
    return {"alice": alice, "checker": checker, "olga": olga, "hana": hana, "household": household,
            "alone": alone, "big": big, "small": small, "standard": standard}  # fmt: skip


def run_q2(book: dict[str, Any]) -> FeeRun:
    alice = book["alice"]
    run = services.run_create(actor=alice.user, period_start=Q2[0], period_end=Q2[1])
    assert job_services.job_execute(job_id=run.job_id) == "done"
    run.refresh_from_db()
    return run


def fee_of(run: FeeRun, account: ClientAccount) -> FeeLine:
    return FeeLine.objects.get(run=run, account=account)


def last_email_to(address: str) -> str:
    return OutgoingEmail.objects.filter(to=address).order_by("-pk").values_list("text_body", flat=True)[0]


def answer_by_link(alice: Persona, address: str, decision: str) -> str:
    """The client opens the emailed link, asks for a code, and approves or declines with it."""
    with alice.scope():
        token = re.search(r"/approve/([^/\s]+)/", last_email_to(address))[1]  # type: ignore[index]
    client = Client()
    page = client.get(f"/approve/{token}/")
    assert page.status_code == 200, page.content.decode()
    assert client.post(f"/approve/{token}/code/", {"destination": "0"}).status_code == 302
    with alice.scope():
        code = re.search(r"\b(\d{6})\b", last_email_to(address))[1]  # type: ignore[index]
    done = client.post(f"/approve/{token}/decide/", {"decision": decision, "code": code})
    assert done.status_code == 200, done.content.decode()
    assert client.post(f"/approve/{token}/decide/", {"decision": decision, "code": code}).status_code == 404
    return page.content.decode() + done.content.decode()


def test_a_raise_waits_for_the_client_who_approves_from_the_emailed_link(book: dict[str, Any]) -> None:
    alice = book["alice"]
    with alice.scope():
        services.version_add(actor=alice.user, schedule=book["standard"], effective_from=Q2[0], method="tiered",
                             tiers=rate("1.50"), valuation="period_end")  # fmt: skip
        found = sorted(FeeIncrease.objects.all(), key=lambda i: i.household_id or 0)
        assert [(i.account_id, i.household_id, i.status, i.old_annual_fee, i.new_annual_fee) for i in found] == [
            (book["alone"].pk, None, IncreaseStatus.PENDING, D("4000.00"), D("6000.00")),
            (None, book["household"].pk, IncreaseStatus.PENDING, D("4000.00"), D("6000.00")),
        ]
        olga_increase = found[0]
        assert olga_increase.recipient_email == "olga@example.test" and olga_increase.sent_at is not None
        assert found[1].recipient_email == "hana@example.test"  # the household's head
        body = last_email_to("olga@example.test")
        assert "/approve/" in body and "6,000.00 USD" in body and "4,000.00 USD" in body

        before = run_q2(book)  # nobody approved yet: the old terms
        line = fee_of(before, book["alone"])
        assert line.period_fee == D("1000.00") and line.version.tiers[0]["annual_rate_pct"] == "1.00"
        assert f"The fee increase {olga_increase.reference}" in line.explanation
        assert "waits for the client's approval" in line.explanation
        assert fee_of(before, book["big"]).period_fee == D("750.00")

    shown = answer_by_link(alice, "olga@example.test", "approve")
    assert (
        "asks you to agree to new advisory fee terms" in shown
        and "6,000.00" in shown
        and "You approved the fee change" in shown
    )

    with alice.scope():
        olga_increase.refresh_from_db()
        assert olga_increase.status == IncreaseStatus.APPROVED and olga_increase.decided_at is not None
        document = Document.objects.get(pk=olga_increase.document_id)
        assert document.contact_id == book["olga"].pk and document.sha256 == olga_increase.content_hash
        from crm.documents import services as documents

        with documents.documents_storage().open(document.storage_key, "rb") as handle:
            text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(handle.read())).pages)
        assert "Fee agreement" in text and olga_increase.reference in text and "Alpha Advisors" in text
        services.run_recompute(actor=alice.user, run=before)
        before.refresh_from_db()
        assert job_services.job_execute(job_id=before.job_id) == "done"
        assert fee_of(before, book["alone"]).period_fee == D("1500.00")  # approved: the new terms
        assert fee_of(before, book["big"]).period_fee == D("750.00")  # the Hills have not answered


def test_a_decline_keeps_the_old_terms(book: dict[str, Any]) -> None:
    alice = book["alice"]
    with alice.scope():
        services.version_add(actor=alice.user, schedule=book["standard"], effective_from=Q2[0], method="tiered",
                             tiers=rate("1.50"), valuation="period_end")  # fmt: skip
    answer_by_link(alice, "hana@example.test", "decline")
    with alice.scope():
        hill = FeeIncrease.objects.get(household=book["household"])
        assert hill.status == IncreaseStatus.DECLINED and hill.document_id is None
        run = run_q2(book)
        assert fee_of(run, book["big"]).period_fee == D("750.00")
        assert "was declined by the client" in fee_of(run, book["big"]).explanation
        assert fee_of(run, book["alone"]).period_fee == D("1000.00")  # Olga has not answered


def test_a_lowering_needs_no_approval(book: dict[str, Any]) -> None:
    alice = book["alice"]
    with alice.scope():
        sent = OutgoingEmail.objects.count()
        services.version_add(actor=alice.user, schedule=book["standard"], effective_from=Q2[0], method="tiered",
                             tiers=rate("0.80"), valuation="period_end")  # fmt: skip
        assert not FeeIncrease.objects.exists() and OutgoingEmail.objects.count() == sent
        run = run_q2(book)
        assert fee_of(run, book["alone"]).period_fee == D("800.00")


def test_moving_an_account_to_a_dearer_schedule_waits_too(book: dict[str, Any]) -> None:
    alice = book["alice"]
    with alice.scope():
        flat = {"effective_from": date(2024, 1, 1), "method": "flat", "valuation": "period_end"}
        premium = services.schedule_create(actor=alice.user, name="Premium", flat_annual_fee=D("8000"), **flat)
        cheap = services.schedule_create(actor=alice.user, name="Cheap", flat_annual_fee=D("100"), **flat)
        services.assign(actor=alice.user, schedule=premium, accounts=[book["alone"]])
        increase = FeeIncrease.objects.get()
        assert increase.kind == "assignment" and increase.account_id == book["alone"].pk
        assert increase.old_version.schedule_id == book["standard"].pk and increase.new_annual_fee == D("8000.00")
        run = run_q2(book)
        line = fee_of(run, book["alone"])
        assert line.period_fee == D("1000.00") and line.version.schedule_id == book["standard"].pk
        services.assign(actor=alice.user, schedule=cheap, accounts=[book["alone"]])  # cheaper: no approval
        assert FeeIncrease.objects.count() == 1
        services.run_recompute(actor=alice.user, run=run)
        run.refresh_from_db()
        assert job_services.job_execute(job_id=run.job_id) == "done"
        assert fee_of(run, book["alone"]).period_fee == D("25.00")


def test_a_dearer_firm_default_waits_for_the_clients_it_bills(book: dict[str, Any]) -> None:
    """A new default bills every account without a schedule of its own or of its household: Olga
    (on the old default) is asked; the Hill household (assigned Standard) is not. A cheaper default
    asks nobody (the API)."""
    alice = book["alice"]
    with alice.scope():
        flat = {"effective_from": date(2024, 1, 1), "method": "flat", "valuation": "period_end"}
        premium = services.schedule_create(actor=alice.user, name="Premium", flat_annual_fee=D("8000"), **flat)
        cheap = services.schedule_create(actor=alice.user, name="Cheap", flat_annual_fee=D("100"), **flat)
        assert not FeeIncrease.objects.exists()
    done = alice.client().post(f"/billing/schedules/{premium.pk}/default/", follow=True)
    assert done.status_code == 200
    assert "It raises one client&#x27;s fee: they stay on their old terms until they approve" in done.content.decode()
    with alice.scope():
        increase = FeeIncrease.objects.get()
        assert increase.account_id == book["alone"].pk and increase.kind == "assignment"
        assert increase.old_version.schedule_id == book["standard"].pk and increase.new_annual_fee == D("8000.00")
        assert "/approve/" in last_email_to("olga@example.test")
        assert FeeSchedule.objects.get(is_default=True) == premium
    answer = alice.api().post(f"/api/v1/billing/schedules/{cheap.pk}/make-default/")
    assert answer.status_code == 200 and answer.json()["is_default"] is True
    with alice.scope():
        assert FeeIncrease.objects.count() == 1


def test_pending_increases_maps_household_accounts(book: dict[str, Any]) -> None:
    alice = book["alice"]
    with alice.scope():
        version = services.version_add(actor=alice.user, schedule=book["standard"], effective_from=Q2[0],
                                       method="tiered", tiers=rate("2.00"), valuation="period_end")  # fmt: skip
        ids = [book["alone"].pk, book["big"].pk, book["small"].pk]
        held = increases.pending_increases(alice.firm, ids, Q2[0])
        assert sorted(held) == sorted(ids)
        assert held[book["small"].pk].instead_of(version).tiers[0]["annual_rate_pct"] == "1.00"  # type: ignore[union-attr]
        assert FeeSchedule.objects.count() == 1


def test_the_pending_list_resend_and_cancel_on_the_page_and_the_api(book: dict[str, Any]) -> None:
    alice = book["alice"]
    with alice.scope():
        services.version_add(actor=alice.user, schedule=book["standard"], effective_from=Q2[0], method="tiered",
                             tiers=rate("1.50"), valuation="period_end")  # fmt: skip
        olga = FeeIncrease.objects.get(account=book["alone"])
        hill = FeeIncrease.objects.get(household=book["household"])
        first_token = re.search(r"/approve/([^/\s]+)/", last_email_to("olga@example.test"))[1]  # type: ignore[index]
    page = alice.client().get("/billing/increases/")
    text = page.content.decode()
    assert page.status_code == 200
    for expected in (olga.reference, hill.reference, "Olga Oak", "Hill family", "4,000.00", "6,000.00",
                     "Awaiting the client", f"/billing/increases/{olga.pk}/resend/"):  # fmt: skip
        assert expected in text, expected
    assert alice.client().post(f"/billing/increases/{olga.pk}/resend/").status_code == 302
    assert Client().get(f"/approve/{first_token}/").status_code == 404  # the first link stopped working
    with alice.scope():
        assert OutgoingEmail.objects.filter(to="olga@example.test", template=increases.EMAIL_TEMPLATE).count() == 2

    api = alice.api()
    listed = api.get("/api/v1/billing/fee-increases/?status=pending").json()
    assert sorted(r["reference"] for r in listed["results"]) == sorted([olga.reference, hill.reference])
    one = api.get(f"/api/v1/billing/fee-increases/{hill.pk}/").json()
    assert one["old_annual_fee"] == "4000.00" and one["new_annual_fee"] == "6000.00" and one["household"]
    cancelled = api.post(f"/api/v1/billing/fee-increases/{hill.pk}/cancel/", {"reason": "Kept the old fee"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = api.post(f"/api/v1/billing/fee-increases/{hill.pk}/cancel/", {})
    assert again.status_code == 400 and "status" in again.json()["error"]["fields"]
    resent = api.post(f"/api/v1/billing/fee-increases/{olga.pk}/resend/")
    assert resent.status_code == 200 and resent.json()["email_status"]
    with alice.scope():
        run = run_q2(book)
        assert "was cancelled" in fee_of(run, book["big"]).explanation
        assert fee_of(run, book["big"]).period_fee == D("750.00")


def test_scope_outsiders_get_404_and_no_right_403(book: dict[str, Any], bob: Persona, charlie: Persona) -> None:
    alice = book["alice"]
    with alice.scope():
        services.version_add(actor=alice.user, schedule=book["standard"], effective_from=Q2[0], method="tiered",
                             tiers=rate("1.50"), valuation="period_end")  # fmt: skip
        olga = FeeIncrease.objects.get(account=book["alone"])
    outsider = charlie.client()
    assert outsider.post(f"/billing/increases/{olga.pk}/resend/").status_code == 404
    assert outsider.post(f"/billing/increases/{olga.pk}/cancel/").status_code == 404
    assert olga.reference not in outsider.get("/billing/increases/").content.decode()
    outsider_api = charlie.api()
    assert outsider_api.get(f"/api/v1/billing/fee-increases/{olga.pk}/").status_code == 404
    assert outsider_api.post(f"/api/v1/billing/fee-increases/{olga.pk}/resend/").status_code == 404
    assert outsider_api.post(f"/api/v1/billing/fee-increases/{olga.pk}/cancel/").status_code == 404
    assert outsider_api.get("/api/v1/billing/fee-increases/").json()["results"] == []
    assert bob.client().get("/billing/increases/").status_code == 403
    assert bob.api().get("/api/v1/billing/fee-increases/").status_code == 403
    with alice.scope():
        olga.refresh_from_db()
        assert olga.status == IncreaseStatus.PENDING
