"""Who emits notifications: a task assigned or due (beat, once), a contact or custodian import
finished, a document uploaded for someone else's contact; never about a contact outside the
recipient's scope."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts import services as account_services
from accounts.models import AccountScope
from accounts.rights import Right, Role
from advisorportal.notifications import categories
from advisorportal.notifications.models import Notification
from crm import services as crm_services
from crm.agenda import services as agenda_services
from crm.agenda import tasks as agenda_tasks
from crm.agenda.due import task_due_notifications_send
from crm.contact_io import services as io_services
from crm.documents import services as document_services
from portfolios.custodian import services as custodian_services
from tests.conftest import Persona
from tests.factories import ContactFactory, UserFactory
from tests.test_contact_io import ADA, workbook

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
TODAY = dt.date(2026, 12, 7)


@pytest.fixture(autouse=True)
def document_store(settings: Any, tmp_path: Path) -> Path:
    root = tmp_path / "documents"
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(root)}},
    }
    return root


@pytest.fixture
def book(firm_a: Any, alice: Persona) -> dict[str, Any]:
    """Dana's CRM scope is one group holding ``inside``; ``outside`` is beyond it."""
    with alice.scope():
        inside = ContactFactory(first_name="Ina", last_name="Inside")
        outside = ContactFactory(first_name="Otto", last_name="Outside")
        group = crm_services.group_create(actor=alice.user, name="Dana's clients")
        crm_services.group_add_members(actor=alice.user, group=group, contacts=[inside])
        dana = UserFactory(firm=firm_a, email="dana@alpha.test", full_name="Dana Diaz", role=Role.STAFF,
                           rights=frozenset({Right.CRM}))  # fmt: skip
        account_services.account_scope_set(
            actor=alice.user, user=dana, scope=AccountScope.SELECTED, group_ids=frozenset({group.pk})
        )
    return {"dana": Persona(dana, firm_a), "inside": inside, "outside": outside}


def titles(persona: Persona) -> list[str]:
    with persona.scope():
        return sorted(Notification.objects.filter(recipient=persona.user).values_list("title", flat=True))


def test_every_emitted_category_has_a_readable_label() -> None:
    for code, label in [
        ("agenda.task", "Task or workflow step"),
        ("agenda.task_due", "Task due"),
        ("imports.finished", "Import finished"),
        ("documents.uploaded", "Document uploaded"),
    ]:
        assert categories.label(code) == label


# --- Tasks ---------------------------------------------------------------------------------------


def test_a_task_assigned_to_someone_else_tells_them_unless_the_contact_is_out_of_their_scope(
    alice: Persona, book: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    dana = book["dana"]
    with alice.scope(), django_capture_on_commit_callbacks(execute=True):
        agenda_services.task_create(actor=alice.user, title="Call Ina", assignee=dana.user, contact=book["inside"],
                                    due_date=TODAY)  # fmt: skip
        agenda_services.task_create(actor=alice.user, title="Call Otto", assignee=dana.user, contact=book["outside"],
                                    due_date=TODAY)  # fmt: skip
        agenda_services.task_create(actor=alice.user, title="Mine", due_date=TODAY)
    assert titles(dana) == ["Task for you: Call Ina"]
    assert titles(alice) == []


def test_task_due_is_told_once_to_the_assignee_and_never_out_of_scope(
    alice: Persona, book: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    dana = book["dana"]
    with alice.scope():
        with django_capture_on_commit_callbacks(execute=False):
            for title, contact, due in [
                ("Due today", book["inside"], TODAY),
                ("Overdue", None, TODAY - dt.timedelta(days=3)),
                ("Later", book["inside"], TODAY + dt.timedelta(days=1)),
                ("Otto's", book["outside"], TODAY),
            ]:
                agenda_services.task_create(actor=dana.user, title=title, assignee=dana.user, contact=contact,
                                            due_date=due)  # fmt: skip
            done = agenda_services.task_create(actor=dana.user, title="Done", assignee=dana.user, due_date=TODAY)
            agenda_services.task_complete(actor=dana.user, task=done)
        assert task_due_notifications_send(today=TODAY) == 2
        # A rerun, or a second beat at the same time, tells nobody again.
        assert task_due_notifications_send(today=TODAY) == 0
        assert task_due_notifications_send(today=TODAY + dt.timedelta(days=1)) == 1  # "Later" is due now
    assert titles(dana) == [
        "Task due since Dec 4, 2026: Overdue",  # the assignee's date format (here the default)
        "Task due today: Due today (Ina Inside)",
        "Task due today: Later (Ina Inside)",
    ]
    with alice.scope():
        due = Notification.objects.get(title="Task due today: Due today (Ina Inside)")
        assert due.category == "agenda.task_due" and due.contact_id == book["inside"].pk
        assert due.url == f"/contacts/{book['inside'].pk}/agenda/"


def test_a_task_moved_to_another_day_falls_due_again(alice: Persona, book: dict[str, Any]) -> None:
    dana = book["dana"]
    with alice.scope():
        task = agenda_services.task_create(actor=dana.user, title="Review", assignee=dana.user, due_date=TODAY)
        assert task_due_notifications_send(today=TODAY) == 1
        agenda_services.task_update(actor=dana.user, task=task, due_date=TODAY + dt.timedelta(days=2))
        assert task_due_notifications_send(today=TODAY + dt.timedelta(days=2)) == 1
        assert task_due_notifications_send(today=TODAY + dt.timedelta(days=2)) == 0


def test_the_beat_task_runs_per_firm_in_its_scope(
    alice: Persona, charlie: Persona, book: dict[str, Any], settings: Any
) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True
    assert "task-due-notifications" in settings.CELERY_BEAT_SCHEDULE
    with alice.scope():
        agenda_services.task_create(actor=alice.user, title="Alpha task", due_date=dt.date.today())
    with charlie.scope():
        agenda_services.task_create(actor=charlie.user, title="Beta task", due_date=dt.date.today())
    assert agenda_tasks.task_due_notifications_all.apply().get() >= 2
    agenda_tasks.task_due_notifications_all.apply().get()
    assert titles(alice) == ["Task due today: Alpha task"]
    assert titles(charlie) == ["Task due today: Beta task"]


# --- Imports -------------------------------------------------------------------------------------


def test_a_contact_import_tells_whoever_started_it(
    alice: Persona, book: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    with alice.scope():
        job = io_services.import_upload(actor=alice.user, file_name="clients.xlsx", data=workbook([ADA]))
        job = io_services.import_preview(actor=alice.user, job=job)
        with django_capture_on_commit_callbacks(execute=True):
            io_services.import_request_apply(actor=alice.user, job=job)
        note = Notification.objects.get(recipient=alice.user)
    assert (note.category, note.title) == (
        "imports.finished",
        "Contact import finished: clients.xlsx: 1 added, 0 updated",
    )
    assert note.url == f"/contacts/import/{job.pk}/"
    assert titles(book["dana"]) == []
    assert alice.client().get(note.url).status_code == 200


def test_a_custodian_import_tells_whoever_started_it_also_when_it_stores_nothing(
    alice: Persona, charlie: Persona, django_capture_on_commit_callbacks: Any
) -> None:
    with alice.scope(), django_capture_on_commit_callbacks(execute=True):
        job = custodian_services.job_create(
            actor=alice.user, upload=SimpleUploadedFile("bad.csv", b"account,trade_date\nU1,not a date\n")
        )
    with alice.scope():
        note = Notification.objects.get(recipient=alice.user)
    assert note.category == "imports.finished" and note.url == f"/imports/{job.pk}/"
    assert note.title == "Custodian import stopped: bad.csv: nothing stored, see the report"
    assert titles(charlie) == []


# --- Documents -----------------------------------------------------------------------------------


def test_a_document_uploaded_by_someone_else_tells_the_contacts_advisor(
    alice: Persona, book: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    dana = book["dana"]
    with alice.scope(), django_capture_on_commit_callbacks(execute=True):
        inside, outside = book["inside"], book["outside"]
        for contact in (inside, outside):
            contact.advisor = dana.user
            contact.save()
        document_services.document_upload(actor=alice.user, contact=inside, files=[("passport.pdf", PDF)])
        document_services.document_upload(
            actor=alice.user, contact=inside, files=[("a.pdf", PDF), ("b.pdf", PDF), ("c.pdf", PDF)]
        )
        # Outside Dana's scope: she is told nothing, though she is its advisor.
        document_services.document_upload(actor=alice.user, contact=outside, files=[("otto.pdf", PDF)])
        # Her own upload: nothing to tell her.
        document_services.document_upload(actor=dana.user, contact=inside, files=[("mine.pdf", PDF)])
    with alice.scope():
        urls = set(Notification.objects.filter(recipient=dana.user).values_list("url", flat=True))
    assert titles(dana) == [
        "Document uploaded for Ina Inside: passport.pdf",
        "Documents uploaded for Ina Inside: a.pdf and 2 more",
    ]
    assert urls == {f"/contacts/{inside.pk}/documents/"}
    assert titles(alice) == []


def test_a_refused_upload_tells_nobody(
    alice: Persona, book: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    with alice.scope(), django_capture_on_commit_callbacks(execute=True):
        book["inside"].advisor = book["dana"].user
        book["inside"].save()
        with pytest.raises(Exception):  # noqa: B017 - the upload's own refusal
            document_services.document_upload(actor=alice.user, contact=book["inside"], files=[("x.pdf", b"MZ")])
    assert titles(book["dana"]) == []
