"""Contact import (template, CSV, matching, apply, undo, bad input) and export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from accounts.models import AuditEntry
from accounts.rights import Role
from advisorportal.jobs.uploads import FileRefused
from crm.contact_io import services
from crm.contact_io.fields import BY_FIELD, COLUMNS
from crm.contact_io.models import ContactImport, ContactImportStatus
from crm.contact_io.parsers.xlsx import read_workbook, template_workbook
from crm.crypto import open_tax_id
from crm.models import Contact
from devtools.demo.contact_sample import sample_workbook
from tests.conftest import Persona
from tests.factories import ContactFactory, UserFactory
from tests.factories_portfolios import ClientAccountFactory


def workbook(rows: list[dict[str, Any]], *, labels: list[str] | None = None, edit: Any = None) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Contacts"
    labels = labels if labels is not None else [c.label for c in COLUMNS]
    ws.append(labels)
    by_label = {c.label: c.field for c in COLUMNS}
    for row in rows:
        ws.append([row.get(by_label.get(label, label)) for label in labels])
    if edit:
        edit(ws)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


ADA = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "res_country": "GB"}


@pytest.fixture
def run(django_capture_on_commit_callbacks: Any) -> Callable[..., ContactImport]:
    """Upload, preview and (unless told not to) apply a file as ``persona``."""

    def go(persona: Persona, data: bytes, name: str = "contacts.xlsx", apply: bool = True) -> ContactImport:
        with persona.scope():
            job = services.import_upload(actor=persona.user, file_name=name, data=data)
            job = services.import_preview(actor=persona.user, job=job)
            if apply and services.can_apply(job) is None:
                with django_capture_on_commit_callbacks(execute=True):
                    services.import_request_apply(actor=persona.user, job=job)
                job = ContactImport.objects.select_related("apply_job").get(pk=job.pk)
        return job

    return go


def _count(persona: Persona) -> int:
    with persona.scope():
        return Contact.objects.count()


# --- The template -------------------------------------------------------------------------------


def test_template_has_data_guidance_and_example_sheets_with_validation_lists() -> None:
    wb = load_workbook(io.BytesIO(template_workbook()))
    assert {"Contacts", "Guidance", "Example"} <= set(wb.sheetnames)
    sheet = wb["Contacts"]
    header = [c.value for c in sheet[1]]
    assert header == [c.label for c in COLUMNS]
    validated = {str(dv.sqref).split(":")[0].rstrip("0123456789") for dv in sheet.data_validations.dataValidation}
    choice_columns = [i for i, c in enumerate(COLUMNS, start=1) if c.kind in ("choice", "bool")]
    from openpyxl.utils import get_column_letter

    assert {get_column_letter(i) for i in choice_columns} <= validated
    guidance = {row[0].value: row for row in wb["Guidance"].iter_rows(min_row=2) if row[0].value}
    assert "Prospect" in guidance["Status"][3].value
    assert wb["Example"].max_row >= 2
    # The example rows import as they are.
    del wb["Contacts"]
    wb["Example"].title = "Contacts"
    out = io.BytesIO()
    wb.save(out)
    assert read_workbook(out.getvalue()).ok


def test_template_download_page(alice: Persona) -> None:
    response = alice.client().get(reverse("contact_io:import-template"))
    assert response.status_code == 200
    assert load_workbook(io.BytesIO(response.content)).sheetnames[0] == "Contacts"


# --- Creating, matching and updating ------------------------------------------------------------


def test_template_import_creates_contacts_with_sealed_tax_ids(alice: Persona, run: Any) -> None:
    rows = [
        {**ADA, "status": "Active client", "tax_id_type": "SSN", "tax_id": "123-45-6789", "tags": "esg, vip",
         "date_of_birth": "1980-12-10", "investment_objectives": "Growth, Income", "annual_income": 250000},
        {"kind": "Entity (trust, company…)", "last_name": "Lovelace Trust", "email": "trust@example.com"},
    ]  # fmt: skip
    job = run(alice, workbook(rows))
    assert job.status == ContactImportStatus.DONE and job.created_count == 2, job.report
    with alice.scope():
        ada = Contact.objects.get(email="ada@example.com")
        assert open_tax_id(ada.tax_id_encrypted) == "123456789" and ada.tax_id_last4 == "6789"
        assert ada.tags == ["esg", "vip"] and ada.investment_objectives == ["growth", "income"]
        assert ada.client_since is not None  # the CRM's status rule
        assert Contact.objects.get(email="trust@example.com").kind == "entity"
        from crm.search import search_filter

        assert Contact.objects.filter(search_filter("lovel")).count() == 2  # search keys written
        entry = AuditEntry.objects.get(object_type="contact_io.contactimport", changes__has_key="created_ids")
        assert entry.changes["created"] == [None, 2]
    assert job.data is None  # the file (tax ids in clear) is not kept once applied


def test_rows_update_contacts_matched_by_email_tax_id_or_account(alice: Persona, run: Any) -> None:
    with alice.scope():
        by_email = ContactFactory(first_name="Ada", last_name="Lovelace", email="ADA@example.com")
        by_tax = ContactFactory(first_name="Alan", last_name="Turing", email="", tax_id_type="ssn",
                                tax_id="219-09-9999")  # fmt: skip
        owner = ContactFactory(first_name="Grace", last_name="Hopper", email="grace@example.com")
        ClientAccountFactory(number="U7700001", owners=[owner])
    rows = [
        {**ADA, "res_city": "London"},
        {"first_name": "Alan", "last_name": "Turing", "tax_id": "219 09 9999", "occupation": "Mathematician"},
        {"first_name": "Grace", "last_name": "Hopper", "account_number": "u7700001", "res_city": "Arlington"},
    ]
    job = run(alice, workbook(rows))
    assert (job.created_count, job.updated_count, job.rejected_count) == (0, 3, 0), job.report
    assert job.preview["classes"]["update"][0]["changes"] == ["Email", "City", "Country"]  # email: its case
    with alice.scope():
        assert Contact.objects.count() == 3
        assert Contact.objects.get(pk=by_email.pk).res_city == "London"
        assert Contact.objects.get(pk=by_tax.pk).occupation == "Mathematician"
        assert Contact.objects.get(pk=owner.pk).res_city == "Arlington"


def test_the_same_file_again_is_unchanged(alice: Persona, run: Any) -> None:
    run(alice, workbook([ADA]))
    job = run(alice, workbook([ADA]), apply=False)
    assert (job.unchanged_count, job.created_count) == (1, 0)
    assert services.can_apply(job) == "Nothing to change: every row matches its contact already."


# --- Undo ---------------------------------------------------------------------------------------


def test_undo_deletes_created_restores_updated_and_reports_edited(alice: Persona, run: Any) -> None:
    with alice.scope():
        old = ContactFactory(first_name="Ada", last_name="Lovelace", email="ada@example.com", res_city="Paris")
    rows = [{**ADA, "res_city": "London"}, {"first_name": "Bo", "last_name": "New", "email": "bo@example.com"},
            {"first_name": "Cy", "last_name": "Edited", "email": "cy@example.com"}]  # fmt: skip
    job = run(alice, workbook(rows))
    assert (job.created_count, job.updated_count) == (2, 1)
    with alice.scope():
        from crm import services as crm_services

        cy = Contact.objects.get(email="cy@example.com")
        crm_services.contact_update(actor=alice.user, contact=cy, occupation="Edited after the import")
        job = services.import_undo(actor=alice.user, job=job)
        assert job.status == ContactImportStatus.UNDONE
        assert Contact.objects.get(pk=old.pk).res_city == "Paris"
        assert not Contact.objects.filter(email="bo@example.com").exists()
        assert Contact.objects.filter(pk=cy.pk).exists()
        assert [r["contact_id"] for r in job.undo_report] == [cy.pk]
        assert "after the import" in job.undo_report[0]["message"]
        with pytest.raises(Exception, match="Only an applied import"):
            services.import_undo(actor=alice.user, job=job)


# --- Bad input: a clear message naming row and column, and nothing changed ---------------------


@pytest.mark.parametrize(
    ("row", "column", "message"),
    [
        ({"email": "not-an-email"}, "Email", "valid email"),
        ({"phone": "call me maybe"}, "Phone", "phone number"),
        ({"date_of_birth": "31/31/1980"}, "Date of birth", "YYYY-MM-DD"),
        ({"res_country": "Narnia"}, "Country", "two-letter"),
        ({"tax_id_type": "SSN", "tax_id": "12-34"}, "Tax id", "9 digits"),
        ({"tax_id_type": "SSN", "tax_id": "000-12-3456"}, "Tax id", "not a valid US taxpayer"),
        ({"status": "Sleeping"}, "Status", "is not one of"),
        ({"first_name": ""}, "First name", "first name"),
    ],
)
def test_invalid_values_are_rejected_with_row_and_column(alice: Persona, run: Any, row: dict[str, Any],
                                                         column: str, message: str) -> None:  # fmt: skip
    job = run(alice, workbook([ADA | {"email": "ok@example.com"}, {**ADA, **row}]))
    assert job.status == ContactImportStatus.PREVIEWED and job.rejected_count == 1
    problem = job.report[0]
    assert (problem["row"], problem["column"]) == (3, column) and message in problem["message"], job.report
    assert services.can_apply(job) is not None
    assert _count(alice) == 0


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: workbook([ADA], labels=[c.label for c in COLUMNS] + ["Shoe size"]), "Column "),
        (lambda: workbook([ADA], labels=[c.label for c in COLUMNS if c.field != "email"]), "columns missing: Email"),
        (lambda: workbook([ADA], edit=lambda ws: ws.cell(row=2, column=6, value="=1+1")), "formula"),
        (lambda: workbook([ADA, ADA], edit=lambda ws: ws.merge_cells("A2:A3")), "Merged cells A2:A3"),
    ],
)
def test_spreadsheets_that_are_not_the_template(alice: Persona, run: Any, make: Any, message: str) -> None:
    job = run(alice, make())
    assert job.status == ContactImportStatus.PREVIEWED and job.plan is None
    assert any(message in p["message"] for p in job.report), job.report
    assert _count(alice) == 0


def test_formula_report_names_row_and_column(alice: Persona, run: Any) -> None:
    email_column = [c.label for c in COLUMNS].index("Email") + 1
    job = run(alice, workbook([ADA], edit=lambda ws: ws.cell(row=2, column=email_column, value='=HYPERLINK("x")')))
    assert (job.report[0]["row"], job.report[0]["column"]) == (2, "Email")


def test_a_workbook_without_the_contacts_sheet(alice: Persona, run: Any) -> None:
    wb = Workbook()
    out = io.BytesIO()
    wb.save(out)
    job = run(alice, out.getvalue())
    assert 'no sheet named "Contacts"' in job.report[0]["message"]


def test_over_100000_rows_is_refused(alice: Persona, run: Any) -> None:
    result = read_workbook(sample_workbook(100_001))
    assert result.problems[0]["message"].startswith("The sheet has more than 100,000 data rows")
    assert result.rows == []


def test_a_renamed_pdf_is_refused(alice: Persona) -> None:
    with alice.scope(), pytest.raises(Exception, match="PDF"):
        services.import_upload(actor=alice.user, file_name="contacts.xlsx", data=b"%PDF-1.7\n...")


def test_a_zip_bomb_posing_as_xlsx_is_refused_before_openpyxl(alice: Persona, run: Any) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (300 * 1024 * 1024))
    job = run(alice, out.getvalue())
    assert "ZIP bomb" in job.report[0]["message"]
    with pytest.raises(FileRefused, match="ZIP archive but not an Excel"):
        read_workbook(_zip({"hello.txt": b"hi"}))


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


# --- CSV ----------------------------------------------------------------------------------------


def test_csv_guesses_the_mapping_and_lets_the_user_change_it(alice: Persona, run: Any) -> None:
    data = "Given name,Surname,E-mail Address,Shoe\nAda,Lovelace,ada@example.com,7\n".encode("utf-8-sig")
    job = run(alice, data, name="people.csv", apply=False)
    assert job.column_mapping == {"0": "first_name", "1": "last_name", "2": "email", "3": ""}
    with alice.scope():
        mapping = {"0": "first_name", "1": "last_name", "2": "email_alt", "3": ""}
        job = services.import_set_mapping(actor=alice.user, job=job, mapping=mapping)
        job = services.import_preview(actor=alice.user, job=job)
    assert job.created_count == 1
    assert job.preview["classes"]["create"][0]["values"]["Other email"] == "ada@example.com"
    with alice.scope(), pytest.raises(Exception, match="chosen for both"):
        services.import_set_mapping(actor=alice.user, job=job, mapping={"0": "email", "1": "last_name", "2": "email"})


def test_csv_not_utf8_is_refused_with_its_row(alice: Persona) -> None:
    data = "First name,Last name\nJürgen,Müller\n".encode("latin-1")
    with alice.scope(), pytest.raises(Exception, match=r"Row 2: this file is not UTF-8"):
        services.import_upload(actor=alice.user, file_name="x.csv", data=data)
    assert _count(alice) == 0


# --- Scope and other firms ----------------------------------------------------------------------


def test_charlie_gets_404_on_alices_imports(alice: Persona, charlie: Persona, run: Any) -> None:
    job = run(alice, workbook([ADA]), apply=False)
    client = charlie.client()
    assert client.get(reverse("contact_io:import-detail", args=[job.pk])).status_code == 404
    assert client.post(reverse("contact_io:import-apply", args=[job.pk])).status_code == 404
    assert client.post(reverse("contact_io:import-undo", args=[job.pk])).status_code == 404
    assert client.post(reverse("contact_io:import-cancel", args=[job.pk])).status_code == 404
    assert client.post(reverse("contact_io:import-retry", args=[job.pk])).status_code == 404
    api = charlie.api()
    assert api.get(f"/api/v1/contact-imports/{job.pk}/").status_code == 404
    assert api.post(f"/api/v1/contact-imports/{job.pk}/apply/").status_code == 404
    assert api.post(f"/api/v1/contact-imports/{job.pk}/cancel/").status_code == 404
    assert api.post(f"/api/v1/contact-imports/{job.pk}/retry/").status_code == 404
    assert api.get("/api/v1/contact-imports/").json()["results"] == []


@pytest.fixture
def scoped_bob(alice: Persona, bob: Persona) -> tuple[Persona, Contact, Contact]:
    """Bob sees only the owner of account U8800001; another contact exists outside his scope."""
    from accounts import services as account_services
    from accounts.models import AccountScope

    with alice.scope():
        mine = ContactFactory(first_name="In", last_name="Scope", email="in@example.com")
        account = ClientAccountFactory(number="U8800001", owners=[mine])
        hidden = ContactFactory(first_name="Out", last_name="Side", email="out@example.com", tax_id_type="ssn",
                                tax_id="219-09-9999")  # fmt: skip
    account_services.account_scope_set(actor=alice.user, user=bob.user, scope=AccountScope.SELECTED,
                                       account_ids=frozenset({account.pk}))  # fmt: skip
    return bob, mine, hidden


def test_out_of_scope_matches_are_new_contacts_never_updates(scoped_bob: Any, run: Any, alice: Persona) -> None:
    bob, mine, hidden = scoped_bob
    rows = [
        {"first_name": "Out", "last_name": "Side", "email": "OUT@example.com", "occupation": "Hacked"},
        {"first_name": "Tax", "last_name": "Twin", "tax_id_type": "SSN", "tax_id": "219-09-9999"},
        {"first_name": "In", "last_name": "Scope", "email": "in@example.com", "occupation": "Pilot"},
    ]
    job = run(bob, workbook(rows))
    assert (job.created_count, job.updated_count) == (2, 1), job.report
    assert "Out" not in str(job.preview["classes"]["update"])  # nothing revealed about the hidden contact
    with alice.scope():
        hidden.refresh_from_db()
        assert hidden.occupation == ""
        assert Contact.objects.get(pk=mine.pk).occupation == "Pilot"
        assert Contact.objects.filter(email_key="out@example.com").count() == 2


# --- Pages and API ------------------------------------------------------------------------------


def test_pages_upload_preview_apply_undo(alice: Persona, django_capture_on_commit_callbacks: Any) -> None:
    client = alice.client()
    assert client.get(reverse("contact_io:import-start")).status_code == 200
    upload = io.BytesIO(workbook([ADA]))
    upload.name = "contacts.xlsx"
    response = client.post(reverse("contact_io:import-start"), {"file": upload})
    assert response.status_code == 302
    detail = response["Location"]
    page = client.get(detail)
    assert b"Apply: create 1, update 0" in page.content and b"Lovelace" in page.content
    job_id = int(detail.rstrip("/").split("/")[-1])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("contact_io:import-apply", args=[job_id]))
    status = client.get(detail, HTTP_HX_REQUEST="true")
    assert b'data-status="done"' in status.content and b"hx-trigger" not in status.content
    client.post(reverse("contact_io:import-undo", args=[job_id]))
    assert _count(alice) == 0
    assert b"Undone" in client.get(reverse("contact_io:import-start")).content


def test_applying_page_polls_every_second(alice: Persona, run: Any, django_capture_on_commit_callbacks: Any) -> None:
    job = run(alice, workbook([ADA]), apply=False)
    with alice.scope(), django_capture_on_commit_callbacks(execute=False):  # queued, no worker yet
        services.import_request_apply(actor=alice.user, job=job)
    page = alice.client().get(reverse("contact_io:import-detail", args=[job.pk]))
    assert b'hx-trigger="every 1s"' in page.content and b'role="progressbar"' in page.content
    assert b'data-status="applying"' in page.content and b">Cancel</button>" in page.content


def test_api_flow(alice: Persona, django_capture_on_commit_callbacks: Any) -> None:
    api = alice.api()
    upload = io.BytesIO(workbook([ADA]))
    upload.name = "contacts.xlsx"
    created = api.post("/api/v1/contact-imports/", {"file": upload}, format="multipart")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "previewed" and body["created_count"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        applied = api.post(f"/api/v1/contact-imports/{body['id']}/apply/")
    assert applied.status_code == 202
    assert api.get(f"/api/v1/contact-imports/{body['id']}/").json()["status"] == "done"
    assert api.post(f"/api/v1/contact-imports/{body['id']}/undo/").json()["status"] == "undone"
    bad = api.post(f"/api/v1/contact-imports/{body['id']}/apply/")
    assert bad.status_code == 400 and bad.json()["error"]["fields"]["status"]


def test_api_rejects_show_row_and_column(alice: Persona) -> None:
    upload = io.BytesIO(workbook([{**ADA, "email": "nope"}]))
    upload.name = "c.xlsx"
    body = alice.api().post("/api/v1/contact-imports/", {"file": upload}, format="multipart").json()
    assert body["report"] == [{"row": 2, "column": "Email", "message": "Enter a valid email address."}]


# --- Exports ------------------------------------------------------------------------------------


def _csv(response: Any) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_summary_export_follows_filters_selection_and_neutralises_formulas(alice: Persona) -> None:
    with alice.scope():
        a = ContactFactory(first_name="=cmd", last_name="Evil", status="prospect")
        b = ContactFactory(first_name="Bea", last_name="Good", status="active")
    client = alice.client()
    rows = _csv(client.get(reverse("contact_io:export-summary")))
    assert rows[0][:2] == ["Id", "Name"] and len(rows) == 3
    assert any(r[1].startswith("'=cmd") for r in rows[1:])
    only_active = _csv(client.get(reverse("contact_io:export-summary") + "?status=active"))
    assert [r[0] for r in only_active[1:]] == [str(b.pk)]
    selection = _csv(client.get(reverse("contact_io:export-summary") + f"?ids={a.pk}"))
    assert [r[0] for r in selection[1:]] == [str(a.pk)]
    with alice.scope():
        assert AuditEntry.objects.filter(action="read", object_repr="contact summary CSV export").count() == 3
    bad = client.get(reverse("contact_io:export-summary") + "?status=nonsense")
    assert bad.status_code == 400 and b"status" in bad.content


def test_tasks_export_lists_application_stages(alice: Persona) -> None:
    with alice.scope():
        ContactFactory(first_name="Ann", last_name="Applying", status="application_started")
        ContactFactory(first_name="Cal", last_name="Client", status="active")
    rows = _csv(alice.client().get(reverse("contact_io:export-tasks")))
    assert len(rows) == 2 and rows[1][4] == "Application started"
    assert "date of birth" in rows[1][6]


def test_full_export_needs_step_up_decrypts_and_is_audited(alice: Persona) -> None:
    with alice.scope():
        ContactFactory(first_name="Tia", last_name="Tax", tax_id_type="ssn", tax_id="219-09-9999")
    client = alice.client()
    response = client.get(reverse("contact_io:export-full"))
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)))["Contacts"]
    header = [c.value for c in sheet[1]]
    assert sheet.cell(row=2, column=header.index("Tax id") + 1).value == "219-09-9999"
    with alice.scope():
        assert AuditEntry.objects.filter(action="read", object_repr__startswith="full client data").exists()
    session = client.session
    from accounts import two_factor

    session[two_factor.VERIFIED_AT] = 0
    session.save()
    assert client.get(reverse("contact_io:export-full")).status_code == 302  # to the 2FA step


def test_exports_stay_in_scope(scoped_bob: Any) -> None:
    bob, mine, hidden = scoped_bob
    rows = _csv(bob.client().get(reverse("contact_io:export-summary") + f"?ids={mine.pk},{hidden.pk}"))
    assert [r[0] for r in rows[1:]] == [str(mine.pk)]
    api_rows = bob.api().get("/api/v1/contact-exports/summary/")
    assert [r[0] for r in _csv(api_rows)[1:]] == [str(mine.pk)]


def test_charlie_exports_nothing_of_firm_a(alice: Persona, charlie: Persona) -> None:
    with alice.scope():
        ContactFactory()
    assert len(_csv(charlie.client().get(reverse("contact_io:export-summary")))) == 1
    assert charlie.api().get("/api/v1/contact-exports/nope/").status_code == 404


def test_staff_without_crm_right_cannot_import(alice: Persona) -> None:
    officer = UserFactory(firm=alice.firm, email="sec@alpha.test", role=Role.SECURITY_OFFICER)
    client = Persona(officer, alice.firm).client()
    assert client.get(reverse("contact_io:import-start")).status_code == 403


def test_labels_are_unique_and_every_editable_field_has_a_column() -> None:
    from crm.services import EDITABLE_FIELDS

    assert len({c.label.casefold() for c in COLUMNS}) == len(COLUMNS)
    assert set(EDITABLE_FIELDS) - {"advisor"} <= set(BY_FIELD)


# --- Reading cells and validating per distinct value --------------------------------------------


def test_number_date_and_boolean_cells_read_as_their_values(alice: Persona, run: Any) -> None:
    import datetime as dt
    from decimal import Decimal

    row = {**ADA, "phone": 2125550100, "annual_income": 250000, "net_worth": 1250000.5,
           "date_of_birth": dt.date(1980, 12, 10), "mailing_same": False, "dependents": 2}  # fmt: skip
    job = run(alice, workbook([row]))
    assert job.status == ContactImportStatus.DONE, job.report
    with alice.scope():
        ada = Contact.objects.get(email="ada@example.com")
    assert (ada.phone, ada.annual_income, ada.net_worth) == ("2125550100", Decimal("250000"), Decimal("1250000.50"))
    assert (ada.date_of_birth, ada.mailing_same, ada.dependents) == (dt.date(1980, 12, 10), False, 2)


def test_rows_get_the_errors_full_clean_gives(alice: Persona) -> None:
    """The per-value checker says what ``Contact.full_clean`` says, in the same order."""
    from crm.contact_io.planning import MODEL_FIELDS, Checker

    cases = [
        {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"},
        {"first_name": "", "last_name": "", "email": "nope", "phone": "call me", "res_country": "usa"},
        {"kind": "entity", "last_name": "Trust", "dependents": 31, "annual_income": Decimal("1.234")},
        {"kind": "entity", "first_name": "", "last_name": " ", "status": "sleeping", "tags": ["x" * 41]},
        {"first_name": "A" * 101, "last_name": "B", "investment_objectives": ["growth", "moon"]},
    ]
    checker = Checker()
    for values in cases:
        contact = Contact(**values)
        given = {*values, "first_name", "last_name", "kind"}
        expected: dict[str, list[str]] = {}
        with alice.scope():
            try:
                contact.full_clean(exclude=[n for n in MODEL_FIELDS if n not in given], validate_unique=False,
                                   validate_constraints=False)  # fmt: skip
            except ValidationError as error:
                expected = error.message_dict
            merged = {n: getattr(contact, n) for n in MODEL_FIELDS}
            found = checker.errors(merged, given)
        assert found == expected and list(found) == list(expected), values


def test_changing_the_tax_id_type_needs_the_tax_id_again(alice: Persona, run: Any) -> None:
    with alice.scope():
        ContactFactory(first_name="Ada", last_name="Lovelace", email="ada@example.com", tax_id_type="ssn",
                       tax_id="219-09-9999")  # fmt: skip
    job = run(alice, workbook([{**ADA, "tax_id_type": "EIN"}]))
    assert job.rejected_count == 1
    assert (job.report[0]["column"], job.report[0]["message"]) == (
        "Tax id type", "Give the tax id again in the same row when you change its type.")  # fmt: skip
    job = run(alice, workbook([{**ADA, "tax_id_type": "SSN", "res_city": "London"}]))  # the same type: fine
    assert (job.updated_count, job.rejected_count) == (1, 0), job.report


def test_created_contacts_are_kept_as_runs_for_the_undo() -> None:
    from crm.contact_io.applying import runs

    assert runs([2, 3, 4, 7, 8], [10, 11, 12, 13, 14]) == [[2, 10, 3], [7, 13, 2]]
    assert ContactImport(created_runs=[[2, 10, 3], [7, 13, 2]]).created_ids() == [10, 11, 12, 13, 14]


def test_a_plan_stored_row_by_row_still_applies(alice: Persona, django_capture_on_commit_callbacks: Any) -> None:
    """Plans previewed before plans were kept by column (one dict per row) apply as they are."""
    import json
    import zlib

    with alice.scope():
        old = ContactFactory(first_name="Ada", last_name="Lovelace", email="ada@example.com")
        job = services.import_upload(actor=alice.user, file_name="c.xlsx", data=workbook([ADA]))
        job = services.import_preview(actor=alice.user, job=job)
        legacy = [
            {"row": 2, "action": "update", "contact_id": old.pk, "fields": {"res_country": "GB"}},
            {"row": 3, "action": "create", "fields": {"first_name": "Bo", "last_name": "New", "status": "active"}},
        ]
        ContactImport.objects.filter(pk=job.pk).update(plan=zlib.compress(json.dumps(legacy).encode()),
                                                       created_count=1, updated_count=1)  # fmt: skip
        job.refresh_from_db()
        with django_capture_on_commit_callbacks(execute=True):
            services.import_request_apply(actor=alice.user, job=job)
        job.refresh_from_db()
        assert job.status == ContactImportStatus.DONE, job.error
        assert Contact.objects.get(pk=old.pk).res_country == "GB"
        bo = Contact.objects.get(pk__in=job.created_ids())
        assert (bo.first_name, bo.client_since is not None) == ("Bo", True)


# --- A worker that dies while applying ------------------------------------------------------------


def test_an_apply_whose_worker_died_fails_clearly_and_can_be_retried(
    alice: Persona, run: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """The worker is simulated dead (its job claimed, its lease run out): tests/test_jobs_worker.py
    kills a real one."""
    from advisorportal.jobs import services as jobs
    from advisorportal.jobs.models import Job

    settings.JOB_MAX_ATTEMPTS = 1
    job = run(alice, workbook([ADA]), apply=False)
    with alice.scope():
        with django_capture_on_commit_callbacks(execute=False):
            job = services.import_request_apply(actor=alice.user, job=job)
        assert jobs._claim(job.apply_job_id) is not None  # a worker took it, then died
        Job.objects.filter(pk=job.apply_job_id).update(lease_expires_at=timezone.now() - dt.timedelta(seconds=1))
        assert jobs.jobs_sweep_firm()["failed"] == 1
    page = alice.client().get(reverse("contact_io:import-detail", args=[job.pk])).content.decode()
    assert 'data-status="failed"' in page and "The worker stopped while this job was running" in page
    assert "This import was applied" not in page and "The import is complete" not in page
    assert "<dt>Applied</dt>" not in page and ">Retry</button>" in page and "every 1s" not in page
    assert _count(alice) == 0
    with alice.scope():
        assert "failed" in (services.can_apply(ContactImport.objects.get(pk=job.pk)) or "")
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.client().post(reverse("contact_io:import-retry", args=[job.pk]))
    assert response.status_code == 302
    with alice.scope():
        assert ContactImport.objects.select_related("apply_job").get(pk=job.pk).status == ContactImportStatus.DONE
    assert _count(alice) == 1


def test_cancel_and_retry_through_the_api(alice: Persona, run: Any, django_capture_on_commit_callbacks: Any) -> None:
    job = run(alice, workbook([ADA]), apply=False)
    api = alice.api()
    with django_capture_on_commit_callbacks(execute=False):
        queued = api.post(f"/api/v1/contact-imports/{job.pk}/apply/")
    assert queued.json()["status"] == "applying"
    cancelled = api.post(f"/api/v1/contact-imports/{job.pk}/cancel/").json()
    assert (cancelled["status"], cancelled["progress"]) == ("cancelled", 0)
    assert "nothing was applied" in cancelled["error"]
    assert api.post(f"/api/v1/contact-imports/{job.pk}/cancel/").status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        retried = api.post(f"/api/v1/contact-imports/{job.pk}/retry/")
    assert retried.status_code == 202
    body = api.get(f"/api/v1/contact-imports/{job.pk}/").json()
    assert (body["status"], body["progress"], body["error"]) == ("done", 100, "")
    assert _count(alice) == 1
