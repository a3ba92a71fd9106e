"""A contact's Agenda tab (issue #16, point 9): the contact's workflows, tasks, notes, events,
documents, emails and the user's notifications about the contact, in one page of bounded reads,
scoped like every other read."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from advisorportal.notifications import services as notification_services
from crm.agenda import emails as agenda_emails
from crm.agenda import services as agenda_services
from crm.agenda.calendar import services as calendar_services
from crm.agenda.models import WorkflowTemplate
from crm.documents import services as document_services
from crm.models import Contact
from tests.conftest import Persona, staff_scoped_to
from tests.factories import ContactFactory

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def document_store(settings: Any, tmp_path: Path) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                      "OPTIONS": {"location": str(tmp_path / "documents")}},
    }  # fmt: skip


def fill(persona: Persona, contact: Contact, n: int, tag: str) -> None:
    """``n`` of each kind of agenda item on ``contact``, titled with ``tag``."""
    with persona.scope():
        template = WorkflowTemplate.objects.get(name="Annual review")
        soon = timezone.now() + dt.timedelta(days=2)
        for i in range(n):
            agenda_services.workflow_start(actor=persona.user, template=template, contact=contact)
            agenda_services.task_create(actor=persona.user, title=f"{tag} task {i}", contact=contact,
                                        due_date=dt.date(2026, 12, 20))  # fmt: skip
            agenda_services.note_create(actor=persona.user, contact=contact, body=f"{tag} note {i}")
            calendar_services.event_create(actor=persona.user, title=f"{tag} meeting {i}", start=soon,
                                           end=soon + dt.timedelta(hours=1), contacts=[contact])  # fmt: skip
            calendar_services.event_create(actor=persona.user, title=f"{tag} past call {i}",
                                           start=soon - dt.timedelta(days=9), end=soon - dt.timedelta(days=9, hours=-1),
                                           contacts=[contact])  # fmt: skip
            document_services.document_upload(actor=persona.user, contact=contact, files=[(f"{tag} doc {i}.pdf", PDF)])
            agenda_emails.contact_email_send(actor=persona.user, contact=contact, subject=f"{tag} letter {i}",
                                             body="Dear {{ contact.first_name }}, see you soon.")  # fmt: skip
            notification_services.notify(recipient=persona.user, category="general", title=f"{tag} notice {i}",
                                         url=f"/contacts/{contact.pk}/", contact_id=contact.pk)  # fmt: skip


def test_every_section_shows_this_contacts_items_only(alice: Persona) -> None:
    with alice.scope():
        ada = ContactFactory(first_name="Ada", last_name="Agenda", email="ada@example.com")
        bob = ContactFactory(first_name="Bob", last_name="Other", email="bob@example.com")
    fill(alice, ada, 1, "Ada's")
    fill(alice, bob, 1, "Bob's")
    page = alice.client().get(reverse("agenda:contact", args=[ada.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    for section in ("workflows", "tasks", "notes", "events", "documents", "emails", "notifications"):
        assert f'id="{section}"' in html and f'href="#{section}"' in html
    items = ("task 0", "note 0", "meeting 0", "past call 0", "doc 0.pdf", "letter 0", "notice 0")
    assert "Annual review" in html
    for item in items:
        assert f"Ada&#x27;s {item}" in html, item
    assert "Bob&#x27;s" not in html
    assert reverse("agenda:contact-email", args=[ada.pk]) in html
    assert reverse("documents:contact-documents", args=[ada.pk]) in html


def test_empty_sections_say_so(alice: Persona) -> None:
    with alice.scope():
        ada = ContactFactory(first_name="Ada", last_name="Empty")
    html = alice.client().get(reverse("agenda:contact", args=[ada.pk])).content.decode()
    for text in ("No workflow for this contact.", "No event planned.", "No past event.", "No documents yet.",
                 "No email to Ada Empty yet.", "No notification about Ada Empty."):  # fmt: skip
        assert text in html, text


def test_query_count_does_not_grow_with_the_items(alice: Persona) -> None:
    with alice.scope():
        ada = ContactFactory(first_name="Ada", last_name="Agenda", email="ada@example.com")
    fill(alice, ada, 1, "First")
    client = alice.client()
    url = reverse("agenda:contact", args=[ada.pk])
    client.get(url)
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as before:
        assert client.get(url).status_code == 200
    fill(alice, ada, 4, "More")
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as after:
        assert client.get(url).status_code == 200
    assert 0 < len(after) == len(before), [q["sql"] for q in after.captured_queries]


def test_a_scoped_user_sees_their_own_notifications_and_outsiders_get_404(
    alice: Persona, charlie: Persona, firm_a: Any
) -> None:
    with alice.scope():
        ada = ContactFactory(first_name="Ada", last_name="Inside", email="ada@example.com")
        hidden = ContactFactory(first_name="Hal", last_name="Hidden")
        dana = staff_scoped_to(alice, [ada])
    fill(alice, ada, 1, "Alice's")
    with dana.scope():
        notification_services.notify(recipient=dana.user, category="general", title="Dana's own notice",
                                     contact_id=ada.pk)  # fmt: skip
    html = dana.client().get(reverse("agenda:contact", args=[ada.pk])).content.decode()
    assert "Dana&#x27;s own notice" in html and "Alice&#x27;s notice 0" not in html
    assert "Alice&#x27;s doc 0.pdf" in html and "Alice&#x27;s letter 0" in html  # the contact's, in her scope
    assert dana.client().get(reverse("agenda:contact", args=[hidden.pk])).status_code == 404
    assert charlie.client().get(reverse("agenda:contact", args=[ada.pk])).status_code == 404
