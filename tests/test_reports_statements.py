"""Statements and reports (issue #19, point 2): an activity statement and a performance report of
an account or a household, made by the worker as a white-branded PDF kept on the client's contact
documents with its SHA-256, listed on the contact's Reports tab; CSV and Excel of the same
figures; bad input refused with a clear message and nothing made; rights and scope (403 without
the right, 404 outside the scope or the firm), on the pages and in the API."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from accounts.models import AccountScope
from accounts.rights import Right, Role
from accounts.services import account_scope_set
from advisorportal.jobs.models import Job
from advisorportal.pdf import content_hash
from crm.documents.models import Document
from portfolios import performance as daily_values
from portfolios import services as ledger
from portfolios.models import ClientAccount
from reports.statements import services
from reports.statements.models import Statement, StatementSettings
from tests.conftest import Persona
from tests.factories import ContactFactory, HouseholdFactory, UserFactory
from tests.factories_portfolios import ClientAccountFactory, SecurityFactory, SecurityPriceFactory

pytestmark = pytest.mark.django_db
D = Decimal
START, END = date(2025, 1, 2), date(2025, 3, 31)
DISCLOSURE = "Alpha Advisors LLC is a registered investment adviser. Statement figures are unaudited."


def business_days(first: date, last: date) -> list[date]:
    days, day = [], first
    while day <= last:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


@pytest.fixture
def book(alice: Persona) -> dict[str, Any]:
    return build_book(alice)


def build_book(alice: Persona) -> dict[str, Any]:
    """Hana Hill (email and address) owns H1000001 (100,000 in, 500 ACME bought, a dividend, a fee,
    10,000 more in March) and H1000002 (50,000 cash) in the Hill household; Olga Oak owns O2000001."""
    with alice.scope():
        acme = SecurityFactory(symbol="ACME", name="Acme Corp.")
        for i, day in enumerate(business_days(START, END)):
            SecurityPriceFactory(security=acme, date=day, close=D("100") + D(i) / 10)
        hana = ContactFactory(first_name="Hana", last_name="Hill", email="hana@example.test",
                              res_street="1 Elm Street", res_city="Springfield", res_postal_code="12345")  # fmt: skip
        olga = ContactFactory(first_name="Olga", last_name="Oak", email="olga@example.test")
        household = HouseholdFactory(name="Hill family", head=hana)
        main = ClientAccountFactory(number="H1000001", title="Hana Hill", household=household, owners=[hana],
                                    inception_date=START)  # fmt: skip
        cash = ClientAccountFactory(number="H1000002", title="Hana cash", household=household, owners=[hana],
                                    inception_date=START)  # fmt: skip
        other = ClientAccountFactory(number="O2000001", title="Olga Oak", owners=[olga], inception_date=START)

        def record(account: ClientAccount, kind: str, day: date, **figures: Any) -> None:
            ledger.transaction_record(actor=None, account=account, kind=kind, trade_date=day, **figures)

        record(main, "deposit", START, amount=D("100000"))
        record(main, "buy", date(2025, 1, 3), security=acme, quantity=D("500"), price=D("100.10"))
        record(main, "dividend", date(2025, 2, 14), security=acme, amount=D("250"))
        record(main, "deposit", date(2025, 3, 3), amount=D("10000"))
        record(main, "fee", date(2025, 3, 20), amount=D("300"), description="Advisory fee Q1")
        record(cash, "deposit", START, amount=D("50000"))
        record(other, "deposit", START, amount=D("20000"))
        daily_values.recompute_full(end=END)
    return {"hana": hana, "olga": olga, "household": household, "main": main, "cash": cash, "other": other}


def pdf_text(data: bytes) -> str:
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages))


def make(persona: Persona, capture: Any, **body: Any) -> Any:
    """POST the statements page as ``persona``; the worker's job runs on commit (eager Celery)."""
    with capture(execute=True):
        return persona.client().post("/reports/statements/", body)


def csv_sections(text: str) -> dict[str, list[list[str]]]:
    blocks: dict[str, list[list[str]]] = {}
    current: list[list[str]] | None = None
    for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))):
        if not row:
            current = None
        elif current is None:
            current = blocks.setdefault(row[0], [])
        else:
            current.append(row)
    return blocks


def money(value: str) -> str:
    return f"{D(value):,.2f}"


def percent(value: str) -> str:
    return f"{D(value) * 100:+.2f} %"


def test_activity_statement_is_made_kept_hashed_listed_and_its_csv_and_excel_match_the_pdf(
    alice: Persona, book: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    with alice.scope():
        StatementSettings.objects.create(disclosures=DISCLOSURE)
    response = make(alice, django_capture_on_commit_callbacks, account="H1000001", kind="activity",
                    style="detailed", start="2025-01-02", end="2025-03-31")  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    with alice.scope():
        statement = Statement.objects.get()
        assert Job.objects.get(pk=statement.job_id).status == "done"
        assert statement.made and statement.contact_id == book["hana"].pk and statement.pages >= 1
        document = Document.objects.get(pk=statement.document_id)
        assert document.contact_id == book["hana"].pk and document.name.endswith(".pdf")
    client = alice.client()
    pdf = client.get(f"/reports/statements/{statement.pk}/pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert content_hash(pdf.content) == statement.content_hash == document.sha256
    text = pdf_text(pdf.content)
    for expected in ("Alpha Advisors", "Activity statement", "Hana Hill", "1 Elm Street", "H1000001",
                     "Balances", "Positions", "Transactions", "Fees", "Performance", "ACME", "Acme Corp.",
                     "Dividend", "Advisory fee Q1", "Jan 2, 2025 to Mar 31, 2025", DISCLOSURE,
                     "Time-weighted", "Modified Dietz"):  # fmt: skip
        assert expected in text, expected

    figures = statement.figures
    summary = figures["summary"]
    assert D(summary["flows"]) == D("10000.00")  # the first deposit is in the opening value (base day)
    assert D(summary["fees"]) == D("-300.00") and D(summary["income"]) == D("250.00")
    assert D(summary["closing"]) == D(summary["opening"]) + D(summary["flows"]) + D(summary["gain"])

    exported = client.get(f"/reports/statements/{statement.pk}/csv/")
    assert exported.status_code == 200 and exported["Content-Type"].startswith("text/csv")
    blocks = csv_sections(exported.content.decode())
    balances = {row[0]: row[1] for row in blocks["Balances"][1:]}
    for line in ("Opening value", "Deposits and withdrawals (net)", "Fees (less refunds)", "Closing value"):
        assert money(balances[line]) in text, line  # the PDF shows the CSV's amounts
    period = blocks["Performance"][1]
    assert period[0] == "This period" and percent(period[3]) in text and percent(period[7]) in text
    acme = next(row for row in blocks["Positions"][1:] if row[1] == "ACME")
    assert acme[4] == "500" and money(acme[8]) in text
    assert [row[4] for row in blocks["Fees"][1:]] == ["Advisory fee Q1"]

    xlsx = client.get(f"/reports/statements/{statement.pk}/xlsx/")
    workbook = load_workbook(io.BytesIO(b"".join(xlsx.streaming_content)))
    sheet_rows = list(workbook["Balances"].iter_rows(values_only=True))
    closing = next(r for r in sheet_rows if r[0] == "Closing value")
    assert D(str(closing[1])) == D(balances["Closing value"])
    twr = list(workbook["Performance"].iter_rows(values_only=True))[1][3]
    assert D(str(twr)) == D(period[3])

    # The contact's Reports tab lists it, and the contact page links to the tab.
    tab = client.get(f"/reports/statements/contacts/{book['hana'].pk}/").content.decode()
    assert f"/reports/statements/{statement.pk}/pdf/" in tab and "Activity statement" in tab
    assert (
        f"/reports/statements/contacts/{book['hana'].pk}/"
        in client.get(f"/contacts/{book['hana'].pk}/").content.decode()
    )
    olga_tab = client.get(f"/reports/statements/contacts/{book['olga'].pk}/").content.decode()
    assert "No statements kept for this contact yet." in olga_tab


def test_performance_report_of_a_household_through_the_api_has_a_cover_contents_and_chart(
    alice: Persona, book: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    api = alice.api()
    body = {"household": book["household"].pk, "kind": "performance", "style": "detailed",
            "period_start": "2025-01-02", "period_end": "2025-03-31"}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        first = api.post("/api/v1/reports/statements/", body, format="json", HTTP_IDEMPOTENCY_KEY="perf-1")
    assert first.status_code == 202, first.json()
    again = api.post("/api/v1/reports/statements/", body, format="json", HTTP_IDEMPOTENCY_KEY="perf-1")
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    with alice.scope():
        assert Statement.objects.count() == 1
    found = api.get(f"/api/v1/reports/statements/{first.json()['id']}/").json()
    assert found["status"] == "done" and found["account"] is None and len(found["content_hash"]) == 64
    assert found["sections"] == ["summary", "performance", "chart", "allocation", "positions", "transactions", "fees"]
    assert [a["number"] for a in found["figures"]["subject"]["accounts"]] == ["H1000001", "H1000002"]
    pdf = api.get(found["pdf_url"])
    assert pdf.status_code == 200 and content_hash(pdf.content) == found["content_hash"]
    pages = PdfReader(io.BytesIO(pdf.content)).pages
    cover, contents = pages[0].extract_text(), pages[1].extract_text()
    assert "Performance report" in cover and "Hill family" in cover and "Alpha Advisors" in cover
    assert "Contents" in contents and "Growth chart" in contents and "Allocation" in contents
    text = pdf_text(pdf.content)
    assert "Growth of 10,000" in text and "Allocation" in text and "H1000002" in text
    listed = api.get("/api/v1/reports/statements/").json()
    assert [row["id"] for row in listed["results"]] == [found["id"]]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"start": "2024-12-01", "end": "2025-03-31"}, "start", "is before inception"),
        ({"start": "2025-01-02", "end": "2099-01-01"}, "end", "is in the future"),
        ({"start": "2025-03-01", "end": "2025-02-01"}, "end", "The end is before the start"),
        ({"start": "2025-01-02", "end": "2025-03-31", "benchmark": "NOPE"}, "benchmark", "Select a valid choice"),
        ({"start": "", "end": "2025-03-31"}, "start", "This field is required"),
        ({"account": "", "start": "2025-01-02", "end": "2025-03-31"}, "account", "Give one account number"),
        ({"account": "X9999999", "start": "2025-01-02", "end": "2025-03-31"}, "account", "No account X9999999"),
    ],
)
def test_bad_input_on_the_page_is_refused_naming_the_field_and_nothing_is_made(
    alice: Persona,
    book: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
    body: dict[str, str],
    field: str,
    message: str,
) -> None:
    response = make(alice, django_capture_on_commit_callbacks, **{"account": "H1000001", "kind": "activity",
                                                                  "style": "detailed", **body})  # fmt: skip
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page, page[:3000]
    assert response.context["form"].errors.get(field), response.context["form"].errors
    with alice.scope():
        assert not Statement.objects.exists() and not Document.objects.exists() and not Job.objects.exists()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"period_start": "2024-06-30"}, "period_start", "before inception"),
        ({"period_end": "2099-12-31"}, "period_end", "in the future"),
        ({"benchmark": "NOPE"}, "benchmark", "Unknown benchmark"),
        ({"sections": ["summary", "horoscope"]}, "sections", "not a valid choice"),
        ({"colour": "red"}, "colour", "not part of this request"),
        ({"account": None}, "account", "Give one account number"),
    ],
)
def test_bad_input_in_the_api_is_a_400_naming_the_field_and_nothing_is_made(
    alice: Persona, book: dict[str, Any], change: dict[str, Any], field: str, message: str
) -> None:
    body = {"account": "H1000001", "period_start": "2025-01-02", "period_end": "2025-03-31", **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = alice.api().post("/api/v1/reports/statements/", body, format="json", HTTP_IDEMPOTENCY_KEY="bad-1")
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    fields = {name.split(".")[0].split("[")[0]: problems for name, problems in error["fields"].items()}
    assert field in fields and message in str(fields[field]), error
    with alice.scope():
        assert not Statement.objects.exists() and not Job.objects.exists()


def test_an_account_without_an_owner_or_daily_values_makes_no_file(
    alice: Persona, book: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    with alice.scope():
        ClientAccountFactory(number="Z0000001", owners=[], inception_date=START)
        ClientAccountFactory(number="N0000001", owners=[ContactFactory()], inception_date=date(2025, 4, 1))
    refused = make(alice, django_capture_on_commit_callbacks, account="Z0000001", kind="activity", style="detailed",
                   start="2025-01-02", end="2025-03-31")  # fmt: skip
    assert refused.status_code == 400 and "has no owner" in refused.content.decode()
    # No daily values yet (the nightly update has not run since April): the worker says so, no file.
    response = make(alice, django_capture_on_commit_callbacks, account="N0000001", kind="activity",
                    style="detailed", start="2025-04-01", end="2025-04-30")  # fmt: skip
    assert response.status_code == 302
    with alice.scope():
        statement = Statement.objects.get()
        job = Job.objects.get(pk=statement.job_id)
        assert job.status == "failed" and "no daily values" in job.error
        assert not statement.made and not Document.objects.exists()
    page = alice.client().get(f"/reports/statements/{statement.pk}/").content.decode()
    assert "no daily values" in page
    assert alice.client().get(f"/reports/statements/{statement.pk}/pdf/").status_code == 404


def test_rights_and_scope(
    alice: Persona, bob: Persona, charlie: Persona, book: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    make(alice, django_capture_on_commit_callbacks, account="H1000001", kind="activity", style="detailed",
         start="2025-01-02", end="2025-03-31")  # fmt: skip
    with alice.scope():
        statement = Statement.objects.get()
        analyst_less = UserFactory(firm=alice.firm, email="sam@alpha.test", role=Role.STAFF,
                                   rights=frozenset({Right.ACTIVITY_STATEMENTS}))  # fmt: skip
        olga_only = UserFactory(firm=alice.firm, email="oscar@alpha.test", role=Role.STAFF,
                                rights=frozenset({Right.ACTIVITY_STATEMENTS, Right.PORTFOLIO_ANALYST}))  # fmt: skip
        account_scope_set(actor=alice.user, user=olga_only, scope=AccountScope.SELECTED,
                          account_ids=frozenset({book["other"].pk}))  # fmt: skip
    paths = [f"/reports/statements/{statement.pk}/", f"/reports/statements/{statement.pk}/pdf/",
             f"/reports/statements/{statement.pk}/csv/", f"/reports/statements/{statement.pk}/xlsx/",
             f"/reports/statements/contacts/{book['hana'].pk}/"]  # fmt: skip
    # Bob has CRM only: 403 on every page and in the API.
    assert bob.client().get("/reports/statements/").status_code == 403
    assert bob.api().get("/api/v1/reports/statements/").status_code == 403
    # Charlie (another firm) and Oscar (scoped to Olga's account): the same 404 as a missing one.
    oscar = Persona(olga_only, alice.firm)
    for outsider in (charlie, oscar):
        browser, api = outsider.client(), outsider.api()
        for path in paths:
            assert browser.get(path).status_code == 404, (outsider.user.email, path)
        assert api.get(f"/api/v1/reports/statements/{statement.pk}/").status_code == 404
        assert api.get("/api/v1/reports/statements/").json()["results"] == []
        household = {"household": book["household"].pk, "period_start": "2025-01-02", "period_end": "2025-03-31"}
        created = api.post("/api/v1/reports/statements/", household, format="json", HTTP_IDEMPOTENCY_KEY="x")
        assert created.status_code == 404
    assert Persona(olga_only, alice.firm).client().get("/reports/statements/99999999/").status_code == 404
    # A performance report needs PortfolioAnalyst too.
    sam = Persona(analyst_less, alice.firm)
    refused = sam.api().post("/api/v1/reports/statements/", {"account": "H1000001", "kind": "performance",
                             "period_start": "2025-01-02", "period_end": "2025-03-31"}, format="json",
                             HTTP_IDEMPOTENCY_KEY="p")  # fmt: skip
    assert refused.status_code == 403 and "PortfolioAnalyst" in refused.json()["error"]["message"]
    page = make(sam, django_capture_on_commit_callbacks, account="H1000001", kind="performance", style="snapshot",
                start="2025-01-02", end="2025-03-31")  # fmt: skip
    assert page.status_code == 403
    with alice.scope():
        assert Statement.objects.count() == 1


def test_disclosures_page_saves_the_text(alice: Persona, bob: Persona) -> None:
    client = alice.client()
    assert services.DEFAULT_DISCLOSURES in client.get("/reports/statements/disclosures/").content.decode()
    assert client.post("/reports/statements/disclosures/", {"disclosures": DISCLOSURE}).status_code == 302
    with alice.scope():
        assert services.disclosures(firm_id=alice.firm.pk) == DISCLOSURE
    assert bob.client().post("/reports/statements/disclosures/", {"disclosures": "x"}).status_code == 403
