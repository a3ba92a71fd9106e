"""Invoices of a posted fee run on real daily values (issue #18, point 3): one PDF per household or
client, kept on the contact's documents and emailed once with a single-use download link; a client
without an email address gets an invoice that says it was not sent; the firm's summary CSV and
Excel; another firm's invoice is a 404 on the page and in the API."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail as django_mail
from django.core.exceptions import ValidationError
from openpyxl import load_workbook
from pypdf import PdfReader

from advisorportal.jobs import services as job_services
from advisorportal.jobs.models import Job
from advisorportal.mail.models import OutgoingEmail
from advisorportal.pdf import content_hash
from billing import invoices, services
from billing.models import FeeRun, Invoice
from crm import services as crm_services
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
TIERED = [{"up_to": "1000000", "annual_rate_pct": "1.00"}, {"up_to": None, "annual_rate_pct": "0.50"}]


@pytest.fixture(autouse=True)
def _locmem(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    django_mail.outbox = []


def deposit(account: ClientAccount, amount: str, day: date = Q1[0]) -> None:
    ledger.transaction_record(actor=None, account=account, kind="deposit", trade_date=day, amount=D(amount))


@pytest.fixture
def book(alice: Persona) -> dict[str, Any]:
    """A posted quarter: the Hill household billed together (900,000 + 300,000, the big account
    pays for both), Olga Oak alone with 400,000, and Nora Nomail (no email address) with 200,000."""
    with alice.scope():
        ClientAccountFactory(number="MASTER", is_master=True)
        checker = UserFactory(firm=alice.firm, email="checker@alpha.test", full_name="Chris Checker")
        hana = ContactFactory(first_name="Hana", last_name="Hill", email="hana@example.test",
                              res_street="1 Elm Street", res_city="Springfield", res_postal_code="12345")  # fmt: skip
        household = HouseholdFactory(name="Hill family", head=hana)
        olga = ContactFactory(first_name="Olga", last_name="Oak", email="olga@example.test")
        nora = ContactFactory(first_name="Nora", last_name="Nomail", email="")
        big = ClientAccountFactory(number="H1000001", household=household, owners=[hana], inception_date=Q1[0])
        small = ClientAccountFactory(number="H1000002", household=household, owners=[hana], inception_date=Q1[0])
        alone = ClientAccountFactory(number="O2000001", owners=[olga], inception_date=Q1[0])
        quiet = ClientAccountFactory(number="N3000001", owners=[nora], inception_date=Q1[0])
        nobody = ClientAccountFactory(number="Z9000001", owners=[], inception_date=Q1[0])  # no one to invoice
        for account, amount in ((big, "900000"), (small, "300000"), (alone, "400000"), (quiet, "200000"),
                                (nobody, "100000")):  # fmt: skip
            deposit(account, amount)
        standard = services.schedule_create(actor=alice.user, name="Standard", effective_from=date(2024, 1, 1),
                                            method="tiered", tiers=TIERED, valuation="period_end",
                                            is_default=True)  # fmt: skip
        services.assign(actor=alice.user, schedule=standard, households=[household], householding=True, payer=big)
        performance.recompute_full(end=Q1[1])
        run = services.run_create(actor=alice.user, period_start=Q1[0], period_end=Q1[1])
        assert job_services.job_execute(job_id=run.job_id) == "done"
        run.refresh_from_db()
        services.run_approve(actor=checker, run=run)
        run = services.run_post(actor=alice.user, run=run)
        assert job_services.job_execute(job_id=run.job_id) == "done"
        run.refresh_from_db()
    return {"run": run, "hana": hana, "olga": olga, "nora": nora, "household": household, "big": big,
            "small": small, "alone": alone, "quiet": quiet}  # fmt: skip


def make_and_send(alice: Persona, run: FeeRun, capture: Any) -> list[Invoice]:
    """Start the invoices and run their job as a worker would, delivering the emails on commit."""
    with alice.scope(), capture(execute=True):
        batch = invoices.invoices_start(actor=alice.user, run=run)
        assert batch.job_id is not None
        assert job_services.job_execute(job_id=batch.job_id) == "done"
    with alice.scope():
        return list(Invoice.objects.filter(run=run).order_by("sequence"))


def pdf_text(data: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_one_invoice_per_household_and_client_in_the_pdf_and_the_outbox(
    alice: Persona, book: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    run = book["run"]
    made = make_and_send(alice, run, django_capture_on_commit_callbacks)
    assert [(i.number, i.recipient_name, i.total) for i in made] == [
        (f"INV-{run.pk}-1", "Hana Hill", D("2750.00")),  # 11,000 a year on 1,200,000 together
        (f"INV-{run.pk}-2", "Nora Nomail", D("500.00")),  # numbered in the order of the accounts
        (f"INV-{run.pk}-3", "Olga Oak", D("1000.00")),
    ]
    with alice.scope():
        assert invoices.batch_of(run=run).no_recipient == ["Z9000001"]  # type: ignore[union-attr]
    panel = alice.client().get(f"/billing/runs/{run.pk}/invoices/").content.decode()
    assert "No invoice for 1 account with neither a household nor a primary owner" in panel
    assert "Z9000001" in panel and f"/billing/invoices/{made[0].pk}.pdf" in panel
    hill = made[0]
    assert hill.household_id == book["household"].pk and hill.contact_id == book["hana"].pk

    with alice.scope():
        document = Document.objects.get(pk=hill.document_id)
        assert document.contact_id == book["hana"].pk and document.name == f"{hill.number}.pdf"
        data = invoices.invoice_pdf(invoice=hill)
    assert data is not None and content_hash(data) == hill.content_hash == document.sha256
    text = squash(pdf_text(data))
    for expected in ("Alpha Advisors", "Invoice", hill.number, "Hana Hill", "Hill family", "1 Elm Street",
                     "H1000001", "H1000002", "900,000.00 USD", "300,000.00 USD", "2,062.50", "687.50",
                     "2,750.00 USD", "Value at the end of the period", "Standard", "Total debited",
                     "pays for the household", "combined value of 1,200,000.00", "This account's share"):  # fmt: skip
        assert expected in text, expected
    assert "Jan 1, 2025 to Mar 31, 2025" in text  # the firm's date format

    # Two emails (Nora has no address), each to its recipient, with a download link and no PDF.
    assert sorted(m.to[0] for m in django_mail.outbox) == ["hana@example.test", "olga@example.test"]
    hana_mail = next(m for m in django_mail.outbox if m.to == ["hana@example.test"])
    assert hana_mail.subject == f"{hill.number}: your advisory fees, Jan 1, 2025 to Mar 31, 2025"
    assert "2,750.00 USD has been debited from your account •••• 0001" in squash(hana_mail.body)
    assert not hana_mail.attachments
    with alice.scope():
        assert OutgoingEmail.objects.get(pk=hill.email_id).status == "sent"
        assert hill.sent_at is not None and hill.recipient_email == "hana@example.test"


def test_the_emailed_link_downloads_the_pdf_once(
    alice: Persona, book: dict[str, Any], django_capture_on_commit_callbacks: Any, client: Any
) -> None:
    hill = make_and_send(alice, book["run"], django_capture_on_commit_callbacks)[0]
    body = next(m.body for m in django_mail.outbox if m.to == ["hana@example.test"])
    path = re.search(r"https?://[^/\s]+(/billing/invoice-copy/[^\s]+/)", body).group(1)  # type: ignore[union-attr]
    page = client.get(path)  # no login; a GET changes nothing
    assert page.status_code == 200 and "Download the PDF" in page.content.decode()
    assert client.get(path).status_code == 200
    download = client.post(path)
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    assert content_hash(download.content) == hill.content_hash
    assert client.post(path).status_code == 404  # single use
    assert client.get(path.replace("/invoice-copy/", "/invoice-copy/x")).status_code == 404


def test_sending_again_mails_nobody_twice(
    alice: Persona, book: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    run = book["run"]
    first = make_and_send(alice, run, django_capture_on_commit_callbacks)
    assert len(django_mail.outbox) == 2
    again = make_and_send(alice, run, django_capture_on_commit_callbacks)
    assert [(i.pk, i.content_hash, i.sent_at) for i in again] == [(i.pk, i.content_hash, i.sent_at) for i in first]
    with alice.scope(), django_capture_on_commit_callbacks(execute=True):  # the job replayed (a message twice)
        batch = invoices.batch_of(run=run)
        assert batch is not None
        Job.objects.filter(pk=batch.job_id).update(status="queued")
        job_services.job_execute(job_id=batch.job_id)
    assert len(django_mail.outbox) == 2
    with alice.scope():
        assert OutgoingEmail.objects.filter(template=invoices.EMAIL_TEMPLATE).count() == 2
        assert Document.objects.filter(name__startswith="INV-").count() == 3


def test_no_email_address_makes_the_invoice_says_so_and_sends_once_an_address_is_added(
    alice: Persona, book: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    run = book["run"]
    nora_invoice = make_and_send(alice, run, django_capture_on_commit_callbacks)[1]
    assert nora_invoice.sent_at is None and nora_invoice.email_id is None
    assert nora_invoice.not_sent == "Not sent: the recipient has no email address."
    panel = alice.client().get(f"/billing/runs/{run.pk}/invoices/").content.decode()
    assert "Not sent: the recipient has no email address." in panel
    assert "1</strong> invoice not emailed" in panel

    with alice.scope():
        crm_services.contact_update(actor=alice.user, contact=book["nora"], email="nora@example.test")
    assert not [m for m in django_mail.outbox if m.to == ["nora@example.test"]]
    response = alice.client().post(f"/billing/runs/{run.pk}/invoices/", {"next": f"/billing/runs/{run.pk}/"})
    assert response.status_code == 302 and response["Location"] == f"/billing/runs/{run.pk}/"
    with alice.scope(), django_capture_on_commit_callbacks(execute=True):
        batch = invoices.batch_of(run=run)
        assert batch is not None and job_services.job_execute(job_id=batch.job_id) == "done"
    assert [m.to for m in django_mail.outbox].count(["nora@example.test"]) == 1
    assert len(django_mail.outbox) == 3  # Hana and Olga were not mailed again


def test_a_run_not_posted_gets_no_invoices(alice: Persona, book: dict[str, Any]) -> None:
    with alice.scope():
        preview = services.run_create(actor=alice.user, period_start=Q1[0], period_end=Q1[1])
        with pytest.raises(ValidationError, match="invoices are made once it is posted"):
            invoices.invoices_start(actor=alice.user, run=preview)
    refused = alice.api().post(f"/api/v1/billing/runs/{preview.pk}/invoices/")
    assert refused.status_code == 400 and "once it is posted" in str(refused.json()["error"]["fields"]["run"])
    assert (
        "Invoices are made once the run is posted."
        in alice.client().get(f"/billing/runs/{preview.pk}/invoices/").content.decode()
    )


def test_pdf_page_and_api_and_charlie_gets_404(
    alice: Persona, charlie: Persona, book: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    run = book["run"]
    hill = make_and_send(alice, run, django_capture_on_commit_callbacks)[0]
    page = alice.client().get(f"/billing/invoices/{hill.pk}.pdf")
    assert page.status_code == 200 and content_hash(page.content) == hill.content_hash
    assert page["Content-Disposition"] == f'attachment; filename="{hill.number}.pdf"'

    api = alice.api()
    listed = api.get(f"/api/v1/billing/runs/{run.pk}/invoices/").json()
    assert [(r["number"], r["total"], r["email_status"]) for r in listed["results"]] == [
        (f"INV-{run.pk}-1", "2750.00", "sent"), (f"INV-{run.pk}-2", "500.00", None),
        (f"INV-{run.pk}-3", "1000.00", "sent"),
    ]  # fmt: skip
    one = api.get(f"/api/v1/billing/invoices/{hill.pk}/").json()
    assert one["recipient_email"] == "hana@example.test" and one["content_hash"] == hill.content_hash
    pdf = api.get(f"/api/v1/billing/invoices/{hill.pk}/?format=pdf")
    assert pdf.status_code == 200 and content_hash(pdf.content) == hill.content_hash
    again = api.post(f"/api/v1/billing/runs/{run.pk}/invoices/")
    assert again.status_code == 202 and again.json()["run"] == run.pk

    outsider = charlie.client()
    assert outsider.get(f"/billing/invoices/{hill.pk}.pdf").status_code == 404
    assert outsider.get(f"/billing/runs/{run.pk}/invoices/").status_code == 404
    assert outsider.post(f"/billing/runs/{run.pk}/invoices/").status_code == 404
    assert outsider.get(f"/billing/runs/{run.pk}/summary.csv").status_code == 404
    assert outsider.get(f"/billing/runs/{run.pk}/summary.xlsx").status_code == 404
    outsider_api = charlie.api()
    assert outsider_api.get(f"/api/v1/billing/invoices/{hill.pk}/").status_code == 404
    not_found = outsider_api.get(f"/api/v1/billing/invoices/{hill.pk}/?format=pdf")
    assert not_found.status_code == 404 and not_found.json()["error"]["code"]
    assert outsider_api.get(f"/api/v1/billing/runs/{run.pk}/invoices/").status_code == 404
    assert outsider_api.post(f"/api/v1/billing/runs/{run.pk}/invoices/").status_code == 404


def test_bob_without_fee_administration_is_refused(bob: Persona, book: dict[str, Any]) -> None:
    assert bob.client().get(f"/billing/runs/{book['run'].pk}/summary.csv").status_code == 403
    assert bob.api().get(f"/api/v1/billing/runs/{book['run'].pk}/invoices/").status_code == 403


def test_the_summary_csv_and_excel_have_a_row_per_line(alice: Persona, book: dict[str, Any]) -> None:
    run = book["run"]
    response = alice.client().get(f"/billing/runs/{run.pk}/summary.csv")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))  # type: ignore[attr-defined]
    assert rows[0] == ["Account", "Household", "Schedule", "Currency", "Value", "Valuation", "Valued from",
                       "Valued to", "Period fee", "Previously billed", "Posted", "Debited from", "Status"]  # fmt: skip
    by_account = {r[0]: r for r in rows[1:]}
    assert sorted(by_account) == ["H1000001", "H1000002", "N3000001", "O2000001", "Z9000001"]
    assert by_account["H1000002"] == ["H1000002", "Hill family", "Standard", "USD", "300000.00",
                                      "Value at the end of the period", "Jan 1, 2025", "Mar 31, 2025", "687.50",
                                      "0.00", "687.50", "H1000001", "Billed"]  # fmt: skip
    assert by_account["O2000001"][1] == "" and by_account["O2000001"][10] == "1000.00"

    workbook = alice.client().get(f"/billing/runs/{run.pk}/summary.xlsx")
    assert workbook.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(workbook.streaming_content))).active  # type: ignore[attr-defined]
    cells = {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    small = cells["H1000002"]
    assert small[1] == "Hill family" and small[4] == 300000 and small[8] == 687.5 and small[12] == "Billed"
    assert small[6].date() == Q1[0]
