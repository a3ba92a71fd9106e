"""The audit trail: automatic, attributed, append-only in the database, visible to security officers only."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection, transaction
from django.db.utils import ProgrammingError
from django.test import Client

from accounts.models import AuditEntry
from crm.models import Contact
from tests.conftest import Persona
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def login(persona: Persona) -> Client:
    return persona.client()


def entries_for(persona: Persona, obj: Contact) -> list[AuditEntry]:
    with persona.scope():
        return list(AuditEntry.objects.filter(object_type="crm.contact", object_id=str(obj.pk)).order_by("id"))


def test_create_update_delete_are_recorded_with_a_diff(alice: Persona) -> None:
    with alice.scope():
        contact = ContactFactory(first_name="Ann", last_name="Lee", email="ann@example.test")
        contact = Contact.objects.get(pk=contact.pk)
        contact.email = "ann.lee@example.test"
        contact.save()
        contact.save()  # nothing changed: nothing recorded
        pk = contact.pk
        contact.delete()
    contact.pk = pk
    created, updated, deleted = entries_for(alice, contact)
    assert created.action == "create" and created.changes["last_name"] == [None, "Lee"]
    assert updated.action == "update" and updated.changes == {
        "email": ["ann@example.test", "ann.lee@example.test"],
        "updated_at": updated.changes["updated_at"],
    }
    assert deleted.action == "delete" and deleted.changes["first_name"] == ["Ann", None]


def test_api_change_is_attributed_to_the_token_user_with_request_details(alice: Persona) -> None:
    client = alice.api()
    response = client.post(
        "/api/v1/contacts/",
        {"first_name": "Ben", "last_name": "Ode"},
        format="json",
        HTTP_USER_AGENT="integration-test/1.0",
        HTTP_X_REQUEST_ID="req-123",
    )
    assert response.status_code == 201 and response["X-Request-ID"] == "req-123"
    with alice.scope():
        entry = AuditEntry.objects.get(object_type="crm.contact", object_id=str(response.json()["id"]))
    assert entry.actor_id == alice.user.pk
    assert (entry.user_agent, entry.request_id, entry.ip) == ("integration-test/1.0", "req-123", "127.0.0.1")


def test_a_bad_request_id_is_replaced(alice: Persona) -> None:
    response = alice.api().get("/api/v1/me/", HTTP_X_REQUEST_ID="<script>")
    assert response["X-Request-ID"] != "<script>" and len(response["X-Request-ID"]) == 32


@pytest.mark.parametrize(
    "statement", ["UPDATE accounts_auditentry SET action = 'read'", "DELETE FROM accounts_auditentry"]
)
def test_the_application_role_cannot_rewrite_the_trail(alice: Persona, statement: str) -> None:
    with alice.scope():
        ContactFactory()
        with (
            pytest.raises(ProgrammingError, match="permission denied"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement)
        assert AuditEntry.objects.filter(object_type="crm.contact").count() == 1


def test_the_trail_is_firm_scoped(alice: Persona, charlie: Persona) -> None:
    with alice.scope():
        ContactFactory(last_name="Secretive")
    with charlie.scope():
        assert not AuditEntry.objects.filter(object_repr__contains="Secretive").exists()
    assert b"Secretive" not in login(charlie).get("/settings/audit/").content
    assert b"Secretive" in login(alice).get("/settings/audit/").content


def test_viewer_needs_user_management(bob: Persona) -> None:
    client = login(bob)
    assert client.get("/settings/audit/").status_code == 403
    assert client.get("/settings/audit.csv").status_code == 403


def test_viewer_filters_and_reports_bad_filters(alice: Persona) -> None:
    with alice.scope():
        kept = ContactFactory(last_name="Keeper")
        gone = ContactFactory(last_name="Goner")
        gone.delete()
    client = login(alice)
    page = client.get("/settings/audit/", {"action": "delete"}).content.decode()
    assert "Goner" in page and "Keeper" not in page
    page = client.get("/settings/audit/", {"object_type": "crm.contact", "object_id": kept.pk}).content.decode()
    assert "Keeper" in page and "Goner" not in page
    bad = client.get("/settings/audit/", {"date_from": "2026-02-30", "action": "explode"})
    assert bad.status_code == 200
    assert "Enter a valid date." in bad.content.decode() and "Select a valid choice." in bad.content.decode()
    assert client.get("/settings/audit.csv", {"date_from": "2026-05-02", "date_to": "2026-05-01"}).status_code == 400


def test_csv_export_is_complete_safe_and_itself_recorded(alice: Persona) -> None:
    with alice.scope():
        ContactFactory(first_name="=HYPERLINK(1)", last_name="X")
    response = login(alice).get("/settings/audit.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][0] == "time"
    assert any(row[5].startswith("'=HYPERLINK") for row in rows[1:])
    with alice.scope():
        assert AuditEntry.objects.filter(action="read", object_repr="audit trail CSV export").count() == 1


def test_audit_api_lists_entries_for_security_officers_only(alice: Persona, bob: Persona, charlie: Persona) -> None:
    with alice.scope():
        contact = ContactFactory()
    body = alice.api().get("/api/v1/audit/", {"object_type": "crm.contact"}).json()
    assert [r["object_id"] for r in body["results"]] == [str(contact.pk)]
    assert body["results"][0]["actor"] is None and body["results"][0]["action"] == "create"
    assert bob.api().get("/api/v1/audit/").status_code == 403
    assert charlie.api().get("/api/v1/audit/", {"object_type": "crm.contact"}).json()["results"] == []
    bad = alice.api().get("/api/v1/audit/", {"date_from": "yesterday"})
    assert bad.status_code == 400 and "date_from" in bad.json()["error"]["fields"]


def test_sign_in_and_out_are_recorded(alice: Persona) -> None:
    client = Client(HTTP_USER_AGENT="Firefox/140")
    client.post("/login/", {"username": alice.user.email, "password": alice.password})
    client.post("/logout/")
    with alice.scope():
        actions = list(
            AuditEntry.objects.filter(object_type="accounts.user").values_list("action", "actor_id", "user_agent")
        )
    assert actions == [("login", alice.user.pk, "Firefox/140"), ("logout", alice.user.pk, "Firefox/140")]
