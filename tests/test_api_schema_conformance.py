"""Answers match the OpenAPI schema where the outside probe found they did not (issue #14,
point 9): the duplicates page, a contact's activities, an import whose kind is not read yet, and
the demo's email addresses (documented as ``format: email``)."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from devtools.demo.accounts import people
from portfolios.custodian import services as custodian_services
from tests.conftest import Persona
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def _json_schema(node: Any, components: dict[str, Any], depth: int = 0) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema: references inlined, ``nullable`` as a null type."""
    if isinstance(node, list):
        return [_json_schema(n, components, depth) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        assert depth < 30, node["$ref"]
        return _json_schema(components[node["$ref"].rsplit("/", 1)[1]], components, depth + 1)
    out = {k: _json_schema(v, components, depth) for k, v in node.items() if k != "nullable"}
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def _check(persona: Persona, response: Any, path: str, method: str) -> None:
    schema = persona.api().get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"][path][method]
    documented = operation["responses"][str(response.status_code)]["content"]["application/json"]["schema"]
    validator = jsonschema.Draft202012Validator(
        _json_schema(copy.deepcopy(documented), schema["components"]["schemas"]),
        format_checker=jsonschema.FormatChecker(),
    )
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(response.json())]
    assert not errors, errors


def test_duplicates_page_is_the_documented_object(alice: Persona) -> None:
    with alice.scope():
        ContactFactory(first_name="Dee", last_name="Dupe", email="dee@example.com")
        ContactFactory(first_name="Dee", last_name="Dupe", email="dee@example.com")
    response = alice.api().get("/api/v1/contact-merges/duplicates/")
    assert response.status_code == 200 and response.json()["results"]
    _check(alice, response, "/api/v1/contact-merges/duplicates/", "get")


def test_activities_are_the_documented_list_and_a_new_one_the_documented_object(alice: Persona) -> None:
    with alice.scope():
        contact = ContactFactory()
    path = "/api/v1/contacts/{id}/activities/"
    created = alice.api().post(f"/api/v1/contacts/{contact.pk}/activities/", {"kind": "note", "summary": "Hi"})
    assert created.status_code == 201, created.content
    _check(alice, created, path, "post")
    listed = alice.api().get(f"/api/v1/contacts/{contact.pk}/activities/")
    assert listed.status_code == 200 and isinstance(listed.json(), list) and listed.json()
    _check(alice, listed, path, "get")


def test_an_import_whose_kind_is_not_read_yet_matches_the_schema(alice: Persona, settings: Any) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = False  # keep the job queued: its kind is not read yet
    with alice.scope():
        upload = SimpleUploadedFile("holdings.csv", b"account,symbol,quantity\n")
        job = custodian_services.job_create(actor=alice.user, upload=upload)
    assert job.kind == ""
    response = alice.api().get(f"/api/v1/imports/{job.pk}/")
    assert response.status_code == 200 and response.json()["kind"] == ""
    _check(alice, response, "/api/v1/imports/{id}/", "get")
    listed = alice.api().get("/api/v1/imports/")
    _check(alice, listed, "/api/v1/imports/", "get")


def test_demo_emails_are_ascii_as_documented() -> None:
    emails = [p.email for p in people(20261204, 2000) if p.email]
    assert emails and all(e.isascii() for e in emails)
