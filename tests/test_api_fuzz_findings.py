"""What the schema fuzzer (tests/test_api_fuzz.py) found, each as an ordinary API test (issue #14):
error answers documented in the one error shape, and the endpoints whose answers did not match
their schema or failed."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.conftest import Persona
from tests.factories import ContactFactory
from tests.test_api_schema_conformance import _check

pytestmark = pytest.mark.django_db


def _schema(persona: Persona) -> dict[str, Any]:
    return persona.api().get("/api/schema/", {"format": "json"}).json()


def test_every_operation_documents_its_error_answers_in_the_error_shape(alice: Persona) -> None:
    schema = _schema(alice)
    assert schema["components"]["schemas"]["Error"]["required"] == ["error"]
    missing = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            expected = {"401", "403", "429"}
            if "{" in path:
                expected.add("404")
            if method in ("post", "put", "patch", "delete"):
                expected.add("400")
            for code in sorted(expected - set(responses)):
                missing.append(f"{method.upper()} {path}: {code}")
            for code in expected & set(responses):
                content = responses[code]["content"]["application/json"]["schema"]
                if content != {"$ref": "#/components/schemas/Error"}:
                    missing.append(f"{method.upper()} {path}: {code} is not the Error shape")
    assert not missing, missing


def test_a_reused_reference_is_documented_where_the_body_is_the_key(alice: Persona) -> None:
    holds = _schema(alice)["paths"]["/api/v1/accounts/{account_pk}/holds/"]["post"]["responses"]
    assert {"409", "422"} <= set(holds)
    contacts = _schema(alice)["paths"]["/api/v1/contacts/"]["post"]["responses"]
    assert "422" not in contacts


def test_real_error_answers_match_the_documented_error_shape(alice: Persona) -> None:
    with alice.scope():
        contact = ContactFactory()
    not_found = alice.api().get("/api/v1/contacts/999999999/")
    assert not_found.status_code == 404
    _check(alice, not_found, "/api/v1/contacts/{id}/", "get")
    refused = alice.api().patch(f"/api/v1/contacts/{contact.pk}/", {"email": "not an email"}, format="json")
    assert refused.status_code == 400 and "email" in refused.json()["error"]["fields"]
    _check(alice, refused, "/api/v1/contacts/{id}/", "patch")
    anonymous = APIClient().get("/api/v1/contacts/")
    assert anonymous.status_code in (401, 403)
    _check(alice, anonymous, "/api/v1/contacts/", "get")


def test_a_saved_view_with_only_a_name_is_saved_with_an_empty_query(alice: Persona) -> None:
    response = alice.api().post("/api/v1/saved-views/", {"name": "Everyone"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["query"] == "" and response.json()["name"] == "Everyone"
    _check(alice, response, "/api/v1/saved-views/", "post")


def test_a_merge_that_stands_has_no_undone_by_as_documented(alice: Persona) -> None:
    from crm.merge import services as merge_services

    with alice.scope():
        kept, gone = ContactFactory(first_name="Mo"), ContactFactory(first_name="Mo")
        merge = merge_services.contacts_merge(actor=alice.user, contacts=[kept, gone], survivor_id=kept.pk, choices={})
    response = alice.api().get(f"/api/v1/contact-merges/{merge.pk}/")
    assert response.status_code == 200 and response.json()["undone_by"] is None
    _check(alice, response, "/api/v1/contact-merges/{id}/", "get")
    _check(alice, alice.api().get("/api/v1/contact-merges/"), "/api/v1/contact-merges/", "get")
    undone = alice.api().post(f"/api/v1/contact-merges/{merge.pk}/undo/")
    assert undone.status_code == 200, undone.content
    again = alice.api().get(f"/api/v1/contact-merges/{merge.pk}/")
    assert again.json()["undone_by"] == "Alice Able"
    _check(alice, again, "/api/v1/contact-merges/{id}/", "get")


def test_documents_upload_and_download_are_documented_as_answered(alice: Persona) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.test_documents import PDF

    with alice.scope():
        contact = ContactFactory()
    api = alice.api()
    uploaded = api.post(
        f"/api/v1/contacts/{contact.pk}/documents/",
        {"files": [SimpleUploadedFile("a.pdf", PDF), SimpleUploadedFile("b.csv", b"name\nAda\n")]},
        format="multipart",
    )
    assert uploaded.status_code == 201 and isinstance(uploaded.json(), list) and len(uploaded.json()) == 2
    _check(alice, uploaded, "/api/v1/contacts/{contact_pk}/documents/", "post")
    documented = _schema(alice)["paths"]["/api/v1/documents/{id}/download/"]["get"]["responses"]["200"]["content"]
    for document in uploaded.json():
        download = api.get(f"/api/v1/documents/{document['id']}/download/")
        assert download.status_code == 200
        assert download["Content-Type"].split(";")[0] in documented
    assert {"application/pdf", "text/csv", "image/png"} <= set(documented)


def test_a_task_is_overdue_when_open_and_due_before_today(alice: Persona) -> None:
    from datetime import timedelta

    from django.utils import timezone

    api = alice.api()
    today = timezone.localdate()
    late = api.post("/api/v1/tasks/", {"title": "Late", "due_date": str(today - timedelta(days=1))}, format="json")
    soon = api.post("/api/v1/tasks/", {"title": "Today", "due_date": str(today)}, format="json")
    assert late.status_code == soon.status_code == 201, late.content
    assert late.json()["is_overdue"] is True and soon.json()["is_overdue"] is False
    _check(alice, late, "/api/v1/tasks/", "post")
    late_id = late.json()["id"]
    listed = {t["id"]: t["is_overdue"] for t in api.get("/api/v1/tasks/").json()["results"]}
    assert listed[late_id] is True and listed[soon.json()["id"]] is False
    assert api.get(f"/api/v1/tasks/{late_id}/").json()["is_overdue"] is True
    done = api.patch(f"/api/v1/tasks/{late_id}/", {"status": "done"}, format="json")
    assert done.status_code == 200 and done.json()["is_overdue"] is False
    _check(alice, done, "/api/v1/tasks/{id}/", "patch")


def test_a_workflows_steps_are_the_documented_plain_array(alice: Persona) -> None:
    from crm.agenda import services as agenda_services
    from crm.agenda.models import WorkflowTemplate

    with alice.scope():
        contact = ContactFactory()
        template = WorkflowTemplate.objects.order_by("pk").first()
        assert template is not None
        workflow = agenda_services.workflow_start(actor=alice.user, template=template, contact=contact)
    response = alice.api().get(f"/api/v1/workflows/{workflow.pk}/steps/")
    assert response.status_code == 200 and isinstance(response.json(), list) and response.json()
    _check(alice, response, "/api/v1/workflows/{id}/steps/", "get")


@pytest.mark.parametrize("size", ["0", "-1", "abc", "501", "1.5", "²"])
def test_a_page_size_out_of_range_is_refused_naming_the_parameter(alice: Persona, size: str) -> None:
    response = alice.api().get(f"/api/v1/contacts/?page_size={size}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and "from 1 to 500" in error["fields"]["page_size"][0]


@pytest.mark.parametrize("size", ["1", "500", ""])
def test_a_page_size_in_range_or_none_is_used(alice: Persona, size: str) -> None:
    with alice.scope():
        ContactFactory.create_batch(2)
    body = alice.api().get(f"/api/v1/contacts/?page_size={size}").json()
    assert len(body["results"]) == (1 if size == "1" else 2)


def test_a_crm_only_user_reads_contacts_with_an_empty_list_of_accounts(alice: Persona, bob: Persona) -> None:
    from tests.factories_portfolios import ClientAccountFactory

    with alice.scope():
        contact = ContactFactory()
        ClientAccountFactory(number="U7000001", owners=[contact])
    listed = bob.api().get("/api/v1/contacts/")
    assert listed.status_code == 200
    assert [c["accounts"] for c in listed.json()["results"] if c["id"] == contact.pk] == [[]]
    _check(bob, listed, "/api/v1/contacts/", "get")
    one = bob.api().get(f"/api/v1/contacts/{contact.pk}/")
    assert one.status_code == 200 and one.json()["accounts"] == []
    assert alice.api().get(f"/api/v1/contacts/{contact.pk}/").json()["accounts"] == ["U7000001"]


# --- make fuzz, issue #14: the last schema-conformance findings ---------------------------------


@pytest.mark.parametrize("path", ["calendar-events", "emails", "notes", "tasks", "workflows"])
def test_a_filter_naming_an_object_outside_the_scope_answers_the_documented_404(
    alice: Persona, charlie: Persona, path: str
) -> None:
    with charlie.scope():
        theirs = ContactFactory()
    operation = _schema(alice)["paths"][f"/api/v1/{path}/"]["get"]
    [contact] = [p for p in operation["parameters"] if p["name"] == "contact"]
    assert contact["schema"]["type"] == "integer" and "404" in contact["description"]
    assert operation["responses"]["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    for value in (theirs.pk, 999_999_999):
        response = alice.api().get(f"/api/v1/{path}/", {"contact": value})
        assert response.status_code == 404, response.content
        _check(alice, response, f"/api/v1/{path}/", "get")


def test_a_list_without_a_filter_naming_an_object_documents_no_404(alice: Persona) -> None:
    paths = _schema(alice)["paths"]
    assert "404" not in paths["/api/v1/contacts/"]["get"]["responses"]
    assert "404" not in paths["/api/v1/notifications/"]["get"]["responses"]  # its contact filter only narrows


def test_every_operation_with_a_body_documents_415_and_answers_it_in_the_error_shape(alice: Persona) -> None:
    schema = _schema(alice)
    missing = [
        f"{method.upper()} {path}"
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if operation.get("requestBody") and "415" not in operation["responses"]
    ]
    assert not missing, missing
    template = alice.api().post(
        "/api/v1/message-templates/",
        {"name": "T", "category": "service", "subject": "Hi", "body": "Hello"},
        format="json",
    )
    assert template.status_code == 201, template.content
    path = f"/api/v1/message-templates/{template.json()['id']}/"
    for content_type in ("text/plain", ""):
        response = alice.api().generic("PATCH", path, b"subject=Yo", content_type=content_type)
        assert response.status_code == 415 and response.json()["error"]["code"] == "unsupported_media_type"
        _check(alice, response, "/api/v1/message-templates/{id}/", "patch")


@pytest.mark.parametrize(
    ("method", "path", "documented"),
    [
        ("delete", "/api/v1/tokens/-5.2e-96/", "/api/v1/tokens/{id}/"),  # a number, not an id
        ("post", "/api/v1/accounts/1/holds/-3/release/", "/api/v1/accounts/{account_pk}/holds/{id}/release/"),
    ],
)
def test_an_api_path_no_route_matches_answers_the_documented_json_404(
    alice: Persona, method: str, path: str, documented: str
) -> None:
    response = getattr(alice.api(), method)(path, {"reason": "x"}, format="json")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}
    _check(alice, response, documented, method)
    page = alice.api().get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("path", ["/api/v1/contacts/bulk/", "/api/v1/groups/{id}/members/"])
def test_a_body_with_too_many_fields_answers_the_documented_json_400(alice: Persona, path: str) -> None:
    with alice.scope():
        contact = ContactFactory()
    group = alice.api().post("/api/v1/groups/", {"name": "Many"}, format="json")
    assert group.status_code == 201, group.content
    url = path.replace("{id}", str(group.json()["id"]))
    body = "&".join([f"ids={contact.pk}&contacts={contact.pk}"] * 600)  # 1,200 fields; Django reads 1,000
    response = alice.api().post(url, body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert response.json()["error"] == {
        "code": "parse_error",
        "message": "The request has too many fields (at most 1000).",
    }
    _check(alice, response, path, "post")


def test_an_error_asked_for_as_a_pdf_answers_json_as_documented(alice: Persona) -> None:
    path = "/api/v1/contacts/{id}/client-information.pdf"
    with alice.scope():
        contact = ContactFactory()
    missing = alice.api().get(path.replace("{id}", "999999999"), {"format": "pdf"})
    assert missing.status_code == 404 and missing["Content-Type"] == "application/json"
    assert missing.json()["error"]["code"] == "not_found"
    _check(alice, missing, path, "get")
    found = alice.api().get(path.replace("{id}", str(contact.pk)), {"format": "pdf"})
    assert found.status_code == 200 and found["Content-Type"] == "application/pdf"
