"""A clear value of an encrypted field (tax ids, bank account and routing numbers) leaves the
system only to a signed-in browser session with a recent second factor, never to an API token.

The walk below calls every operation of the OpenAPI schema (GET, body-less POST, empty PATCH)
and every page route, with the ids of real objects of Alice's firm in the path, as a token
carrying every right, and searches each answer — JSON, CSV, the XML inside an Excel workbook, the
text of a PDF, the headers — for every known tax id and bank number in every way it is written. A
new endpoint is walked without being listed here; one whose path names an object this test has
no id for fails until it gets one, so nothing is skipped silently.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pypdf
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from accounts.models import AuditEntry
from accounts.services import api_token_create
from advisorportal.mail.models import MessageTemplate
from advisorportal.notifications import services as notification_services
from advisorportal.shell.panels import registered
from billing import adjustments as billing_adjustments
from billing import services as billing_services
from billing.models import FeeAssignment
from crm import selectors as crm_selectors
from crm import services as crm_services
from crm.agenda import bulk_email
from crm.agenda import emails as agenda_emails
from crm.agenda import services as agenda_services
from crm.agenda.calendar import services as calendar_services
from crm.agenda.models import WorkflowTemplate
from crm.contact_io import services as import_services
from crm.documents import services as document_services
from crm.merge import services as merge_services
from crm.models import Contact, ContactKind
from funding import services as funding_services
from portfolios import performance as daily_values
from portfolios import services as portfolio_services
from portfolios.custodian import services as custodian_services
from portfolios.custodian.templates_csv import TEMPLATES as CUSTODIAN_TEMPLATES
from portfolios.models import Benchmark, BenchmarkValue
from reports import services as report_services
from reports.planning import services as planning_services
from reports.statements import services as statement_services
from tests.conftest import Persona
from tests.factories import ContactFactory, HouseholdFactory
from tests.factories_portfolios import ClientAccountFactory
from tests.test_contact_io import workbook
from tests.test_funding_api import funding_book

pytestmark = pytest.mark.django_db

# The tax ids of Alice's firm, normalised as stored (what crm.crypto seals).
SECRETS = {
    "Ada's SSN": "287654321",
    "Ivan's ITIN": "912701234",
    "Acme Trust's EIN": "987654321",
    "Fiona's foreign tax id": "XK12QZ34WV",
    "the SSN a merge moved": "318274455",
    "the SSN an import brought": "456127890",
}
# The numbers of Ada's bank instructions (funding; sealed like tax ids, shown as the last four).
BANK_SECRETS = {
    "Ada's bank account number": "4417009921337",
    "Ada's bank routing number": "011000015",
    "Ada's pending bank account number": "000123456789",
    "Ada's pending bank routing number": "021000021",
}


def written_forms(value: str) -> set[str]:
    """Every way a tax id is written: as stored, SSN/ITIN style (123-45-6789), EIN style
    (12-3456789); spaced forms are caught by searching the text with its whitespace removed."""
    forms = {value.lower()}
    if value.isdigit() and len(value) == 9:
        forms |= {f"{value[:3]}-{value[3:5]}-{value[5:]}", f"{value[:2]}-{value[2:]}"}
    return forms


def readable(response: Any) -> str:
    """Everything a client receives, as searchable text: headers, body, the files inside a ZIP
    (an xlsx is XML in a ZIP), a PDF's text and metadata."""
    body = b"".join(response.streaming_content) if response.streaming else response.content
    parts = [f"{name}: {value}" for name, value in response.items()]
    parts.append(body.decode("utf-8", "replace"))
    if body[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            parts += [archive.read(name).decode("utf-8", "replace") for name in archive.namelist()]
    if body[:5] == b"%PDF-":
        reader = pypdf.PdfReader(io.BytesIO(body))
        parts += [page.extract_text() for page in reader.pages]
        parts += [str(value) for value in (reader.metadata or {}).values()]
    return "\n".join(parts)


def secrets_in(response: Any) -> set[str]:
    text = readable(response).lower()
    squeezed = re.sub(r"\s+", "", text)
    return {
        name
        for name, value in {**SECRETS, **BANK_SECRETS}.items()
        if any(form in text or form in squeezed for form in written_forms(value))
    }


@dataclass
class Firm:
    """Ids of the objects of Alice's firm, by the path segment that names them."""

    ids: dict[str, list[Any]] = field(default_factory=dict)
    contacts: dict[str, int] = field(default_factory=dict)
    slug: str = ""


@pytest.fixture
def book(alice: Persona, django_capture_on_commit_callbacks: Any) -> Firm:
    """Alice's firm with a contact for every kind of tax id, a duplicate pair (same tax id), a
    merge that moved a tax id, an applied contact import that brought one, a household, a group,
    a saved view, an account with a transaction and a custodian import, and a blended benchmark."""
    actor = alice.user
    with alice.scope():
        ada = ContactFactory(first_name="Ada", last_name="Lovelace", tax_id_type="ssn", tax_id="287-65-4321")
        twin = ContactFactory(first_name="Ada", last_name="Lovelace", tax_id_type="ssn", tax_id="287654321")
        ivan = ContactFactory(first_name="Ivan", last_name="Itin", tax_id_type="itin", tax_id="912-70-1234")
        acme = ContactFactory(
            kind=ContactKind.ENTITY, first_name="", last_name="Acme Trust", tax_id_type="ein", tax_id="98-7654321"
        )
        fiona = ContactFactory(first_name="Fiona", last_name="Abroad", tax_id_type="foreign", tax_id="XK12QZ34WV")
        gone = ContactFactory(first_name="Mo", last_name="Merge", tax_id_type="ssn", tax_id="318-27-4455")
        kept = ContactFactory(first_name="Mo", last_name="Merge")
        merge = merge_services.contacts_merge(
            actor=actor, contacts=[kept, gone], survivor_id=kept.pk, choices={"tax_id": gone.pk}
        )
        household = HouseholdFactory(name="Lovelace household", head=ada)
        crm_services.household_add_members(actor=actor, household=household, contacts=[ivan])
        group = crm_services.group_create(actor=actor, name="Tax id holders")
        crm_services.group_add_members(actor=actor, group=group, contacts=[ada, ivan, acme, fiona])
        saved = crm_services.saved_view_save(actor=actor, name="Adas", query="q=Ada", is_shared=True)
        document = document_services.document_upload(
            actor=actor, contact=ada, files=[("ada.csv", b"name,city\nAda,London\n")]
        )[0]
        account = ClientAccountFactory(number="U8000001", title="Lovelace individual", owners=[ada])
        portfolio_services.transaction_record(
            actor=None, account=account, kind="deposit", trade_date=date(2025, 2, 3), amount=Decimal(1000)
        )
        rows = [
            {"first_name": "Nina", "last_name": "New", "email": "nina@example.com", "tax_id_type": "SSN",
             "tax_id": "456-12-7890"},
            {"first_name": "Ivan", "last_name": "Itin", "tax_id_type": "ITIN", "tax_id": "912 70 1234",
             "occupation": "Mathematician"},
        ]  # fmt: skip
        contact_import = import_services.import_upload(actor=actor, file_name="c.xlsx", data=workbook(rows))
        contact_import = import_services.import_preview(actor=actor, job=contact_import)
        assert import_services.can_apply(contact_import) is None
        with django_capture_on_commit_callbacks(execute=True):
            import_services.import_request_apply(actor=actor, job=contact_import)
        csv = (
            "account,trade_date,settle_date,type,symbol,quantity,price,amount,currency,description,external_id\n"
            "U8000001,2025-02-04,2025-02-04,deposit,,,,250.00,USD,Wire from client,CUST-1\n"
        )
        with django_capture_on_commit_callbacks(execute=True):
            custodian = custodian_services.job_create(actor=actor, upload=SimpleUploadedFile("t.csv", csv.encode()))
        contact_ids = [ada.pk, twin.pk, ivan.pk, acme.pk, fiona.pk, kept.pk]
        nina = Contact.objects.get(email="nina@example.com")
        contact_ids.append(nina.pk)
        meeting = calendar_services.event_create(
            actor=actor, title="Review with Ada", start=datetime(2026, 12, 7, 15, tzinfo=UTC),
            end=datetime(2026, 12, 7, 16, tzinfo=UTC), contacts=[ada, acme],
        )  # fmt: skip
        feed_token = calendar_services.feed_issue(user=actor)
        agenda_template = WorkflowTemplate.objects.order_by("pk").first()
        assert agenda_template is not None
        workflow = agenda_services.workflow_start(actor=actor, template=agenda_template, contact=ada)
        step = workflow.steps.order_by("position").first()
        assert step is not None
        task = agenda_services.task_create(actor=actor, title="Call Ada", contact=ada, due_date=date(2026, 12, 9))
        note = agenda_services.note_create(actor=actor, contact=ada, body="Ada prefers mornings")
        told = notification_services.notify(
            recipient=actor, category="documents", title="A document for Ada Lovelace",
            url=f"/crm/contacts/{ada.pk}/", contact_id=ada.pk,
        )  # fmt: skip
        assert told is not None
        news = MessageTemplate.objects.create(
            name="News", category="service", subject="Hi", body="Dear {{ contact.first_name }}"
        )
        mailing = bulk_email.bulk_email_start(
            actor=actor,
            template=news,
            selection=crm_selectors.contact_selection(user=actor, contacts=[ada.pk, acme.pk]),
        )
        letter = agenda_emails.contact_email_send(actor=actor, contact=ada, template=news)
        deposit = funding_services.request_create(
            actor=actor, kind="deposit", account=account, method="wire", amount="250", currency="USD"
        )
        funding_services.request_send(actor=actor, request=deposit)  # submitted: it goes into the file below
        instruction_file, _ = funding_services.instruction_file_create(actor=actor)
        funding_services.bank_instruction_request(
            actor=actor, contact=ada, holder_name="Ada Lovelace", bank_name="First Bank", account_kind="checking",
            currency="USD", account_number="000123456789", routing_number="021000021",
        )  # fmt: skip  # a pending bank instruction: its clear numbers must reach no token
        funding_ids = funding_book(actor=actor, contact=ada, account=account)
        fee_schedule = billing_services.schedule_create(
            actor=actor, name="Standard", effective_from=date(2024, 1, 1), method="flat", flat_annual_fee=Decimal(1000)
        )
        billing_services.assign(actor=actor, schedule=fee_schedule, accounts=[account])
        fee_assignment = FeeAssignment.objects.get(account=account)
        fee_run = billing_services.run_create(actor=actor, period_start=date(2026, 1, 1), period_end=date(2026, 3, 31))
        master = ClientAccountFactory(number="MASTER-1", is_master=True, owners=[], inception_date=date(2025, 1, 1))
        portfolio_services.transaction_record(actor=None, account=master, kind="deposit", trade_date=date(2025, 2, 3),
                                              amount=Decimal(500))  # fmt: skip
        adjustment = billing_adjustments.adjustment_post(actor=actor, account=account, amount="10", reason="Goodwill",
                                                         idempotency_key="book-credit")  # fmt: skip
        recurring = billing_adjustments.recurring_add(actor=actor, account=account, kind="fee_discount", pct="10",
                                                      reason="Family", starts_on=date(2026, 1, 1))  # fmt: skip
        fee_version = fee_schedule.versions.get()
        questionnaire = planning_services.questionnaire_ensure_default(actor=actor)
        answers = {q.pk: q.options.order_by("pk").first().pk for q in questionnaire.questions.all()}
        risk_score = planning_services.risk_score_record(actor=actor, contact=ada, questionnaire=questionnaire,
                                                         answers=answers)  # fmt: skip
        goal = planning_services.goal_create(
            actor=actor, contact=ada, name="Retirement", target_amount=Decimal("500000.00"),
            target_date=date(date.today().year + 20, 1, 1), current_amount=Decimal("100000.00"),
            monthly_contribution=Decimal("1000.00"), expected_return=Decimal("0.0600"), volatility=Decimal("0.1200"),
        )  # fmt: skip
        daily_values.recompute_full(account_ids=[account.pk], end=date(2025, 2, 28))
        with django_capture_on_commit_callbacks(execute=True):  # the worker makes it (eager Celery)
            statement = statement_services.statement_request(
                actor=actor, subject=statement_services.subject_of(user=actor, account=account),
                start=date(2025, 2, 3), end=date(2025, 2, 28),
            )  # fmt: skip
        definition = statement_services.definition_save(actor=actor, name="Book quarterly", accounts=[account])
        for symbol, levels in (("BOOKEQ", ("100", "104")), ("BOOKBD", ("50", "51"))):
            index = Benchmark.objects.create(symbol=symbol, name=f"{symbol} index", currency="USD")
            for day, level in zip((date(2025, 2, 3), date(2025, 2, 28)), levels, strict=True):
                BenchmarkValue.objects.create(benchmark=index, date=day, level=Decimal(level))
        blend = report_services.blend_create(
            actor=actor, name="Book 60/40", rebalance="monthly",
            components=[("BOOKEQ", Decimal(60)), ("BOOKBD", Decimal(40))],
        )  # fmt: skip
        audit_ids = list(AuditEntry.objects.values_list("pk", flat=True))
    ids = {
        "contacts": contact_ids,
        "households": [household.pk],
        "groups": [group.pk],
        "saved-views": [saved.pk],
        "documents": [document.pk],
        "audit": audit_ids,
        "accounts": [account.pk],
        "account": [account.pk],  # /reports/performance/account/<pk>/
        "household": [household.pk],  # /reports/performance/household/<pk>/
        "group": [group.pk],  # /reports/performance/group/<pk>/
        "esg": [],  # /reports/planning/esg/<token>/: the client's page of an emailed link, not a user's
        "contact-merges": [merge.pk],
        "contact-imports": [contact_import.pk],
        "imports": [custodian.pk],
        "users": [alice.user.pk],
        "merge": [merge.pk],
        "import": [contact_import.pk],
        "views": [saved.pk],
        "templates": list(CUSTODIAN_TEMPLATES),
        "sessions": [],  # POST-only page routes (end a session, revoke a token): nothing to read
        "api-tokens": [],
        "calendar-events": [meeting.pk],
        "events": [meeting.pk],
        "week": ["2026-12-07"],
        "day": ["2026-12-07"],
        "feed": [feed_token],
        "workflow-templates": [agenda_template.pk],
        "workflows": [workflow.pk],
        "workflow-steps": [step.pk],
        "steps": [step.pk],
        "tasks": [task.pk],
        "notes": [note.pk],
        "workflow-starts": [],
        "holds": [],  # POST-only (release a hold)
        "messages": [told.pk],
        "notifications": [told.pk],
        "bulk-emails": [mailing.pk],
        "emails": [letter.pk],
        "message-templates": [news.pk],
        "panels": [panel.key for panel in registered()],
        "outbox": [],  # the development outbox's emails are files in var/mail, not the book's rows
        "anymail": ["postmark"],  # the provider of the delivery-report webhook (404 unless it is EMAIL_PROVIDER)
        "requests": [deposit.pk],  # funding requests (/funding/requests/<pk>/…)
        "instruction-files": [instruction_file.pk],
        **funding_ids,  # /api/v1/funding-requests/{id}/, bank-instructions/{id}/, full-service-enrollments/{id}/
        "schedules": [fee_schedule.pk],
        "assignments": [fee_assignment.pk],
        "runs": [fee_run.pk],
        "adjustments": [adjustment.pk],
        "recurring-adjustments": [recurring.pk],
        "recurring": [recurring.pk],  # /billing/adjustments/recurring/<pk>/stop/
        "versions": [fee_version.pk],  # /api/v1/billing/versions/{id}/exclusions/
        "questionnaires": [questionnaire.pk],
        "questions": list(answers)[:1],
        "risk-scores": [risk_score.pk],
        "goals": [goal.pk],
        "statements": [statement.pk],  # /reports/statements/<pk>/…, /api/v1/reports/statements/{id}/
        "definitions": [definition.pk],  # report definitions (run, deliveries)
        "benchmarks": [blend.pk],  # blended benchmarks (/reports/benchmarks/<pk>/, /api/v1/reports/benchmarks/{id}/)
        "copy": [],  # a statement's emailed single-use link (public, tested in tests/test_reports_schedule.py)
        "invoices": [],  # invoices need a posted run on daily values (tests/test_billing_invoices.py)
        "fee-increases": [],  # an increase needs daily values and a dearer version (tests/test_billing_increases.py)
        "increases": [],  # POST-only page routes (resend, cancel an increase)
        "brand": [alice.firm.pk],  # the firm's colours for its client approval pages (public)
    }
    return Firm(ids=ids, contacts={"ada": ada.pk, "fiona": fiona.pk, "acme": acme.pk}, slug=alice.firm.slug)


# Calendar routes name a month by its parts (/calendar/month/{year}/{month}/).
DATE_PARTS = {"year": 2026, "month": 12}


def _fill(path: str, names: list[tuple[str, list[Any] | None]], firm: Firm) -> list[str]:
    """``path`` once for every combination of real values of its parameters: enum values, or the
    ids of the objects named by the segment before the parameter."""
    urls = [path]
    for name, enum in names:
        if enum:
            values: list[Any] = enum
        elif name in ("slug", "firm_slug"):
            values = [firm.slug]
        elif name in DATE_PARTS:
            values = [DATE_PARTS[name]]
        else:
            segment = path.split("{" + name + "}")[0].rstrip("/").rsplit("/", 1)[-1]
            assert segment in firm.ids, f"{path}: no id of a {segment!r} object here; add one to the book fixture"
            values = firm.ids[segment]
        urls = [url.replace("{" + name + "}", str(value)) for url in urls for value in values]
    return urls


def api_requests(firm: Firm) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, url, data) for every operation of the OpenAPI schema that reads or changes
    without a body: GET, POST without a request body (actions such as tax-id, preview, undo) and
    PATCH with nothing to change (which answers the object)."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method == "get" or (method == "post" and "requestBody" not in operation) or method == "patch":
                names = [
                    (p["name"], p.get("schema", {}).get("enum"))
                    for p in operation.get("parameters", [])
                    if p["in"] == "path"
                ]
                choices = [
                    (p["name"], value)
                    for p in operation.get("parameters", [])
                    if p["in"] == "query"
                    for value in p.get("schema", {}).get("enum") or []
                ]
                for url in _fill(path, names, firm):
                    yield method, url, {}
                    for name, value in choices:  # each documented choice of a query parameter once
                        yield method, f"{url}?{name}={value}", {}


def page_routes(firm: Firm) -> Iterator[str]:
    """Every page route (outside /api/), its parameters filled like the API's."""

    def walk(patterns: list[Any], prefix: str = "") -> Iterator[str]:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                yield prefix + str(entry.pattern)

    for route in walk(get_resolver().url_patterns):
        if route.startswith("api/"):
            continue
        template = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
        names = re.findall(r"\{(\w+)\}", template)
        if any(name in ("uidb64", "token") for name in names):
            yield template.replace("{uidb64}", "MQ").replace("{token}", "x-y")  # emailed links: no firm data
            continue
        yield from _fill(template, [(name, None) for name in names], firm)


@dataclass
class Answer:
    method: str
    url: str
    status: int
    found: set[str]
    after_actions: bool


def walk_api(client: Client, firm: Firm) -> list[Answer]:
    """GET everything, then run the body-less actions (undo an import, undo a merge…), then GET
    everything again to read what they changed."""
    planned = list(api_requests(firm))
    reads = [r for r in planned if r[0] == "get"]
    order = [(r, False) for r in reads] + [(r, True) for r in planned if r[0] != "get"] + [(r, True) for r in reads]
    answers = []
    for (method, url, data), after_actions in order:
        response = getattr(client, method)(url, data, format="json") if method != "get" else client.get(url)
        answers.append(Answer(method.upper(), url, response.status_code, secrets_in(response), after_actions))
    return answers


def is_public(url: str) -> bool:
    match = resolve(url)
    target = getattr(match.func, "view_class", None) or getattr(match.func, "cls", None) or match.func
    return bool(getattr(target, "public_reason", None))


def test_no_clear_tax_id_reaches_a_token_on_any_endpoint_or_page(alice: Persona, book: Firm) -> None:
    _, raw = api_token_create(user=alice.user, name="walker")  # every right Alice holds: all of them
    token = APIClient()
    token.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    answers = walk_api(token, book)
    leaks = [f"{a.method} {a.url} ({a.status}): {', '.join(sorted(a.found))}" for a in answers if a.found]
    assert not leaks, "clear tax ids in answers to a token:\n" + "\n".join(leaks)
    # The walk reached the data: nothing failed, and before the actions (an undo removes what it
    # undid) no GET was "not found", which would mean this test filled in a wrong id.
    broken = [f"{a.method} {a.url}: {a.status}" for a in answers if a.status >= 500]
    missed = [a.url for a in answers if a.method == "GET" and not a.after_actions and a.status == 404]
    assert not broken and not missed, (broken, missed)
    reached = {a.url.split("?")[0] for a in answers if a.method == "GET" and a.status == 200}
    assert f"/api/v1/contacts/{book.contacts['ada']}/" in reached
    assert f"/api/v1/contacts/{book.contacts['ada']}/client-information.pdf" in reached
    assert {"/api/v1/contact-exports/summary/", "/api/v1/contact-exports/tasks/"} <= reached
    full = [a for a in answers if a.url == "/api/v1/contact-exports/full/"]
    assert full and all(a.status == 403 for a in full)

    # Pages are for browser sessions: a token alone opens none of them, and none shows a tax id.
    page_client = Client(HTTP_AUTHORIZATION=f"Token {raw}")
    for url in page_routes(book):
        response = page_client.get(url)
        assert not secrets_in(response), f"GET {url} with a token: {secrets_in(response)}"
        if not is_public(url):  # to the sign-in page, or refused as a GET of a POST-only action
            signs_in = response.status_code == 302 and response["Location"].startswith("/login/")
            assert signs_in or response.status_code == 405, f"GET {url} with a token: {response.status_code}"


def test_the_walk_would_see_a_clear_tax_id(alice: Persona, book: Firm) -> None:
    """The control: the same search finds the tax ids where they may appear — the full export
    (XML inside the workbook), the tax-id endpoint (JSON) and the PDF with the full tax id (its
    text), all for a browser session with a fresh second factor."""
    session = APIClient()
    session.force_login(alice.user)
    alice.pass_two_factor(session)
    export = session.get("/api/v1/contact-exports/full/")
    assert export.status_code == 200
    assert secrets_in(export) == set(SECRETS)
    revealed = session.post(f"/api/v1/contacts/{book.contacts['acme']}/tax-id/")
    assert revealed.status_code == 200 and secrets_in(revealed) == {"Acme Trust's EIN"}
    pdf = session.get(f"/contacts/{book.contacts['fiona']}/client-information.pdf?tax_id=full")
    assert pdf.status_code == 200 and secrets_in(pdf) == {"Fiona's foreign tax id"}


def test_a_token_is_refused_the_full_export_in_the_error_shape(alice: Persona, bob: Persona, charlie: Persona) -> None:
    for persona in (alice, bob, charlie):  # every right, CRM only, another firm
        response = persona.api().get("/api/v1/contact-exports/full/")
        assert response.status_code == 403
        error = response.json()["error"]
        assert error["code"] == "permission_denied" and "signed-in browser session" in error["message"]
    # The CSV exports hold no tax id: a token still gets them.
    assert alice.api().get("/api/v1/contact-exports/summary/").status_code == 200


def test_an_outsider_session_exports_none_of_the_firms_tax_ids(charlie: Persona, book: Firm) -> None:
    session = APIClient()
    session.force_login(charlie.user)
    charlie.pass_two_factor(session)
    export = session.get("/api/v1/contact-exports/full/")
    assert export.status_code == 200 and not secrets_in(export)
