"""Documents on contacts: upload (several at once, all or none), type by content, preview,
download, delete with confirmation, the firm-wide list, the API, the audit trail, and outsiders
(another firm, out of scope, no CRM right) on every page, file URL and endpoint."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts import services as account_services
from accounts.models import AccountScope, AuditEntry
from accounts.rights import Right, Role
from advisorportal.jobs import uploads
from crm.documents import selectors
from crm.documents.filetypes import clean_name
from crm.documents.models import Document
from crm.models import Contact, Group, GroupMember
from tests.conftest import Persona
from tests.factories import ContactFactory, UserFactory

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40


def office(main: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", f'<Types><Override PartName="/x" ContentType="{main}"/></Types>')
        archive.writestr("word/document.xml", "<w/>")
    return buffer.getvalue()


XLSX = office("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml")
DOCX = office("application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml")


@pytest.fixture(autouse=True)
def document_store(settings: Any, tmp_path: Path) -> Path:
    root = tmp_path / "documents"
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(root)}},
    }
    return root


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def contact(alice: Persona) -> Contact:
    with alice.scope():
        return ContactFactory(first_name="Ann", last_name="Archer")


@pytest.fixture
def hidden(alice: Persona) -> Contact:
    with alice.scope():
        return ContactFactory(first_name="Hal", last_name="Hidden")


@pytest.fixture
def dora(alice: Persona, contact: Contact) -> Persona:
    """Firm A, CRM scoped to one group that holds ``contact`` only."""
    with alice.scope():
        group = Group.objects.create(name="Dora's clients", owner=alice.user)
        GroupMember.objects.create(group=group, contact=contact)
        user = UserFactory(firm=alice.firm, email="dora@alpha.test", role=Role.STAFF, rights=frozenset({Right.CRM}))
        account_services.account_scope_set(
            actor=alice.user, user=user, scope=AccountScope.SELECTED, group_ids=frozenset({group.pk})
        )
    return Persona(user, alice.firm)


def upload(persona: Persona, contact: Contact, *files: tuple[str, bytes]) -> Any:
    return persona.client().post(
        f"/contacts/{contact.pk}/documents/", {"files": [SimpleUploadedFile(n, d) for n, d in files]}
    )


def make(persona: Persona, contact: Contact, name: str = "statement.pdf", data: bytes = PDF) -> Document:
    from crm.documents import services

    with persona.scope():
        return services.document_upload(actor=persona.user, contact=contact, files=[(name, data)])[0]


# --- Upload -----------------------------------------------------------------------------------------


def test_upload_two_files_at_once(alice: Persona, contact: Contact, document_store: Path) -> None:
    response = upload(alice, contact, ("Q3 statement.pdf", PDF), ("passport scan.png", PNG))
    assert response.status_code == 302
    with alice.scope():
        docs = {d.name: d for d in Document.objects.all()}
        assert set(docs) == {"Q3 statement.pdf", "passport scan.png"}
        pdf = docs["Q3 statement.pdf"]
        assert (pdf.kind, pdf.content_type, pdf.size) == ("pdf", "application/pdf", len(PDF))
        assert pdf.sha256 == uploads.sha256_hex(PDF) and pdf.uploaded_by == alice.user
        assert "statement" not in pdf.storage_key and pdf.storage_key.startswith(f"{alice.firm.pk}/")
        assert AuditEntry.objects.filter(object_type="documents.document", action="create").count() == 2
    assert len(stored_files(document_store)) == 2
    page = alice.client().get(f"/contacts/{contact.pk}/documents/").content.decode()
    assert "Q3 statement.pdf" in page and "passport scan.png" in page
    assert "multiple" in page and "documents/upload.js" in page


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("contract.pdf", PNG, "is a PNG image, not what its name (.pdf) says"),
        ("photo.png", PDF, "is a PDF document, not what its name (.png) says"),
        ("notes.pdf", b"just some text", "is text, not a PDF document"),
        ("page.html", b"<!doctype html><script>alert(1)</script>", "is an HTML page"),
        ("logo.svg", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "is an SVG image"),
        ("archive.zip", office("application/x-unknown"), "is a ZIP archive"),
        ("macro.xlsx", office("application/vnd.ms-excel.sheet.macroEnabled.main+xml"), "macro-enabled"),
        ("old.doc", b"\xd0\xcf\x11\xe0" + b"\x00" * 50, "an old Excel/Word file"),
        ("tool.exe", b"MZ\x90\x00\x03\x00\x00\x00", "binary data"),
        ("latin.txt", "caf\xe9".encode("latin-1"), "is not UTF-8 text"),
        ("empty.pdf", b"", "The file is empty"),
    ],
)
def test_refused_files_store_nothing(
    alice: Persona, contact: Contact, document_store: Path, name: str, data: bytes, message: str
) -> None:
    response = upload(alice, contact, ("good.pdf", PDF), (name, data))
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was uploaded" in page and message in page.replace("&#x27;", "'").replace("&quot;", '"')
    with alice.scope():
        assert not Document.objects.exists()
    assert stored_files(document_store) == []


def test_too_large_is_refused_with_the_limit(
    alice: Persona, contact: Contact, settings: Any, document_store: Path
) -> None:
    settings.DOCUMENT_MAX_BYTES = 2048
    response = upload(alice, contact, ("big.pdf", PDF + b"0" * 4096))
    assert response.status_code == 400
    assert "the limit is 2 KB" in response.content.decode()
    assert stored_files(document_store) == []


def test_too_many_files_and_none(alice: Persona, contact: Contact, settings: Any) -> None:
    settings.DOCUMENT_MAX_FILES = 2
    response = upload(alice, contact, ("a.pdf", PDF), ("b.pdf", PDF), ("c.pdf", PDF))
    assert response.status_code == 400 and "upload at most 2 at a time" in response.content.decode()
    assert "Choose at least one file" in alice.client().post(f"/contacts/{contact.pk}/documents/").content.decode()


def test_accepted_kinds_and_names(alice: Persona, contact: Contact) -> None:
    cases = [
        ("a.xlsx", XLSX, "xlsx"),
        ("b.docx", DOCX, "docx"),
        ("c.csv", b"a,b\n1,2\n", "csv"),
        ("d.txt", "naïve".encode(), "text"),
        ("scan", PDF, "pdf"),
        ("e.webp", b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"),
        ("f.JPG", b"\xff\xd8\xff\xe0", "jpeg"),
    ]
    for name, data, kind in cases:
        assert make(alice, contact, name, data).kind == kind
    with alice.scope():
        assert Document.objects.filter(name="scan.pdf").exists()  # the content's extension added


def test_names_are_cleaned() -> None:
    assert clean_name("C:\\Users\\ann\\..\\report.pdf") == "report.pdf"
    assert clean_name("../../etc/passwd") == "passwd"
    assert clean_name("in\u202evoice\x00.pdf") == "invoice.pdf"
    assert clean_name("...") == "document"
    long = clean_name("x" * 300 + ".pdf")
    assert len(long) == 200 and long.endswith(".pdf")


# --- Preview, download, delete ---------------------------------------------------------------------


def test_preview_is_inline_with_a_locked_down_response(alice: Persona, contact: Contact) -> None:
    doc = make(alice, contact)
    response = alice.client().get(f"/contacts/{contact.pk}/documents/{doc.pk}/file")
    assert response.status_code == 200 and b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in response["Content-Security-Policy"]
    image = make(alice, contact, "id.png", PNG)
    response = alice.client().get(f"/contacts/{contact.pk}/documents/{image.pk}/file")
    assert response["Content-Type"] == "image/png" and "sandbox" in response["Content-Security-Policy"]
    with alice.scope():
        assert AuditEntry.objects.filter(action="read", object_repr="document preview").count() == 2


def test_a_workbook_is_never_inline(alice: Persona, contact: Contact) -> None:
    doc = make(alice, contact, "fees.xlsx", XLSX)
    response = alice.client().get(f"/contacts/{contact.pk}/documents/{doc.pk}/file")
    assert response["Content-Disposition"].startswith("attachment")


def test_download_is_an_attachment_and_audited(alice: Persona, contact: Contact) -> None:
    doc = make(alice, contact, "Q3 statement é.pdf")
    response = alice.client().get(f"/contacts/{contact.pk}/documents/{doc.pk}/download")
    assert response.status_code == 200 and b"".join(response.streaming_content) == PDF
    assert response["Content-Disposition"].startswith("attachment")
    assert "filename*=utf-8''Q3%20statement%20%C3%A9.pdf" in response["Content-Disposition"]
    with alice.scope():
        entry = AuditEntry.objects.get(action="read", object_repr="document download")
        assert entry.object_id == str(doc.pk) and entry.actor_id == alice.user.pk


def test_delete_asks_then_removes_row_and_file(
    alice: Persona, contact: Contact, document_store: Path, django_capture_on_commit_callbacks: Any
) -> None:
    doc = make(alice, contact)
    client = alice.client()
    confirm = client.get(f"/contacts/{contact.pk}/documents/{doc.pk}/delete/")
    assert confirm.status_code == 200 and "Yes, delete it" in confirm.content.decode()
    with alice.scope():
        assert Document.objects.filter(pk=doc.pk).exists()  # a GET changes nothing
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/contacts/{contact.pk}/documents/{doc.pk}/delete/")
    assert response.status_code == 302
    with alice.scope():
        assert not Document.objects.filter(pk=doc.pk).exists()
        entry = AuditEntry.objects.get(action="delete", object_type="documents.document")
        assert entry.changes["sha256"][0] == doc.sha256
    assert stored_files(document_store) == []


def test_detail_page_and_firm_list_with_search(alice: Persona, contact: Contact, hidden: Contact) -> None:
    doc = make(alice, contact, "Annual review.pdf")
    make(alice, hidden, "photo id.png", PNG)
    page = alice.client().get(f"/contacts/{contact.pk}/documents/{doc.pk}/").content.decode()
    assert "Annual review.pdf" in page and doc.sha256 in page and "Open the PDF" in page
    listing = alice.client().get("/contacts/documents/").content.decode()
    assert "Annual review.pdf" in listing and "photo id.png" in listing
    found = alice.client().get("/contacts/documents/", {"q": "REVIEW"}).content.decode()
    assert "Annual review.pdf" in found and "photo id.png" not in found
    assert f"/contacts/{contact.pk}/documents/" in alice.client().get(f"/contacts/{contact.pk}/").content.decode()


def test_list_queries_do_not_grow_with_rows(
    alice: Persona, contact: Contact, django_assert_max_num_queries: Any
) -> None:
    for i in range(12):
        make(alice, contact, f"doc {i}.pdf")
    client = alice.client()
    client.get("/contacts/documents/")
    with django_assert_max_num_queries(14):
        client.get("/contacts/documents/")


# --- Outsiders --------------------------------------------------------------------------------------


def page_urls(contact: Contact, doc: Document) -> list[str]:
    base = f"/contacts/{contact.pk}/documents/"
    return [base, f"{base}{doc.pk}/", f"{base}{doc.pk}/file", f"{base}{doc.pk}/download", f"{base}{doc.pk}/delete/"]


def api_urls(contact: Contact, doc: Document) -> list[str]:
    return [f"/api/v1/contacts/{contact.pk}/documents/", f"/api/v1/documents/{doc.pk}/",
            f"/api/v1/documents/{doc.pk}/download/"]  # fmt: skip


def test_another_firm_gets_404_everywhere(alice: Persona, charlie: Persona, contact: Contact) -> None:
    doc = make(alice, contact)
    client, api = charlie.client(), charlie.api()
    for url in page_urls(contact, doc):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/contacts/{contact.pk}/documents/{doc.pk}/delete/").status_code == 404
    assert upload(charlie, contact, ("x.pdf", PDF)).status_code == 404
    for url in api_urls(contact, doc):
        assert api.get(url).status_code == 404, url
    assert api.delete(f"/api/v1/documents/{doc.pk}/").status_code == 404
    assert api.post(f"/api/v1/contacts/{contact.pk}/documents/", {"files": [SimpleUploadedFile("x.pdf", PDF)]},
                    format="multipart").status_code == 404  # fmt: skip
    assert api.get("/api/v1/documents/").json()["results"] == []
    assert "statement.pdf" not in client.get("/contacts/documents/").content.decode()
    with alice.scope():
        assert Document.objects.count() == 1


def test_out_of_scope_is_404_and_in_scope_works(
    alice: Persona, dora: Persona, contact: Contact, hidden: Contact
) -> None:
    seen, unseen = make(alice, contact, "seen.pdf"), make(alice, hidden, "unseen.pdf")
    client, api = dora.client(), dora.api()
    for url in page_urls(hidden, unseen):
        assert client.get(url).status_code == 404, url
    for url in api_urls(hidden, unseen):
        assert api.get(url).status_code == 404, url
    # Another contact's document under a visible contact's URL is missing too.
    assert client.get(f"/contacts/{contact.pk}/documents/{unseen.pk}/file").status_code == 404
    assert api.delete(f"/api/v1/documents/{unseen.pk}/").status_code == 404
    assert client.get(f"/contacts/{contact.pk}/documents/{seen.pk}/file").status_code == 200
    names = [row["name"] for row in api.get("/api/v1/documents/").json()["results"]]
    assert names == ["seen.pdf"]
    with dora.scope():
        assert [d.name for d in selectors.recent_documents(user=dora.user)] == ["seen.pdf"]
        assert len(selectors.recent_documents(user=alice.user)) == 2


def test_without_the_crm_right_403(alice: Persona, contact: Contact) -> None:
    doc = make(alice, contact)
    user = UserFactory(firm=alice.firm, email="eve@alpha.test", role=Role.STAFF,
                       rights=frozenset({Right.ACCOUNT_INFORMATION}))  # fmt: skip
    eve = Persona(user, alice.firm)
    client = eve.client()
    for url in [*page_urls(contact, doc), "/contacts/documents/"]:
        assert client.get(url).status_code == 403, url
    api = eve.api()
    for url in [*api_urls(contact, doc), "/api/v1/documents/"]:
        assert api.get(url).status_code == 403, url


# --- API --------------------------------------------------------------------------------------------


def test_api_upload_list_detail_download_delete(alice: Persona, contact: Contact, document_store: Path) -> None:
    api = alice.api()
    files = [SimpleUploadedFile("a.pdf", PDF), SimpleUploadedFile("b.png", PNG)]
    response = api.post(f"/api/v1/contacts/{contact.pk}/documents/", {"files": files}, format="multipart")
    assert response.status_code == 201, response.content
    created = response.json()
    assert [d["name"] for d in created] == ["a.pdf", "b.png"] and created[0]["sha256"] == uploads.sha256_hex(PDF)
    listed = api.get(f"/api/v1/contacts/{contact.pk}/documents/").json()["results"]
    assert {d["name"] for d in listed} == {"a.pdf", "b.png"}
    one = api.get(f"/api/v1/documents/{created[0]['id']}/").json()
    assert one["kind"] == "pdf" and one["contact"] == contact.pk
    download = api.get(one["download_url"])
    assert download.status_code == 200 and b"".join(download.streaming_content) == PDF
    assert download["Content-Disposition"].startswith("attachment")
    assert api.delete(f"/api/v1/documents/{one['id']}/").status_code == 204
    assert [d["name"] for d in api.get("/api/v1/documents/", {"q": "b."}).json()["results"]] == ["b.png"]


def test_api_refuses_bad_files_naming_each(alice: Persona, contact: Contact, document_store: Path) -> None:
    files = [SimpleUploadedFile("ok.pdf", PDF), SimpleUploadedFile("fake.pdf", PNG)]
    response = alice.api().post(f"/api/v1/contacts/{contact.pk}/documents/", {"files": files}, format="multipart")
    assert response.status_code == 400
    assert "“fake.pdf” is a PNG image" in str(response.json())
    assert stored_files(document_store) == []


def test_schema_lists_the_endpoints(alice: Persona) -> None:
    schema = alice.client().get("/api/schema/", {"format": "json"}).json()
    for path in ["/api/v1/documents/", "/api/v1/documents/{id}/", "/api/v1/documents/{id}/download/",
                 "/api/v1/contacts/{contact_pk}/documents/"]:  # fmt: skip
        assert path in schema["paths"], path


# --- The content check ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "kind"),
    [(XLSX, "xlsx"), (DOCX, "docx"), (b"PK\x03\x04broken", "zip"), (b"  <HTML><body>", "html"),
     (b"<svg onload=alert(1)>", "svg"), (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "webp"), (b"plain", "text")],
)  # fmt: skip
def test_identify(data: bytes, kind: str) -> None:
    assert uploads.identify(data).kind == kind


def test_a_merge_moves_documents_to_the_survivor_and_undo_moves_them_back(alice: Persona) -> None:
    from crm.merge import services as merge_services

    with alice.scope():
        kept = ContactFactory(first_name="Mo", last_name="Merge")
        gone = ContactFactory(first_name="Mo", last_name="Merge")
    doc = make(alice, gone, "gone's statement.pdf")
    with alice.scope():
        merge = merge_services.contacts_merge(actor=alice.user, contacts=[kept, gone], survivor_id=kept.pk, choices={})
        assert Document.objects.get(pk=doc.pk).contact_id == kept.pk
        merge_services.merge_undo(actor=alice.user, merge=merge)
        assert Document.objects.get(pk=doc.pk).contact_id == gone.pk


def test_a_search_with_a_nul_character_finds_by_the_rest(alice: Persona, contact: Contact) -> None:
    """Found by the schema fuzzer (make fuzz): a NUL in ``q`` answered 500 (PostgreSQL refuses it)."""
    make(alice, contact, name="Q3 statement.pdf")
    api = alice.api().get("/api/v1/documents/", {"q": "state\x00"})
    assert api.status_code == 200 and [d["name"] for d in api.json()["results"]] == ["Q3 statement.pdf"]
    assert alice.client().get("/contacts/documents/", {"q": "\x00"}).status_code == 200
