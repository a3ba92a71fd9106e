"""The agenda (crm/agenda): default templates, workflows (start, complete, next opens, scope,
outsiders, bulk start as a job), tasks and notes (pinned first, search, audited edits)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse

from accounts import services as account_services
from accounts.models import AccountScope, AuditEntry
from accounts.rights import Right, Role
from crm import services as crm_services
from crm.agenda import selectors, services
from crm.agenda.models import Note, StepStatus, Task, Workflow, WorkflowStatus, WorkflowTemplate
from tests.conftest import Persona
from tests.factories import ContactFactory, UserFactory


@pytest.fixture
def scoped(firm_a: Any, alice: Persona) -> dict[str, Any]:
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
    return {"dana": Persona(dana, firm_a), "inside": inside, "outside": outside, "group": group}


def template(persona: Persona, name: str = "Annual review") -> WorkflowTemplate:
    with persona.scope():
        return WorkflowTemplate.objects.get(name=name)


def test_every_new_firm_gets_three_templates(firm_a: Any, alice: Persona) -> None:
    with alice.scope():
        names = set(WorkflowTemplate.objects.values_list("name", flat=True))
    assert names == {"New client onboarding", "Annual review", "Account closing"}


def test_start_complete_and_next_step_opens(alice: Persona) -> None:
    with alice.scope():
        contact = ContactFactory()
        workflow = services.workflow_start(
            actor=alice.user, template=template(alice), contact=contact, start_date=dt.date(2026, 12, 4)
        )
        steps = selectors.workflow_steps(workflow=workflow)
        assert [s.status for s in steps] == ["open", "waiting", "waiting", "waiting"]
        assert steps[0].due_date == dt.date(2026, 12, 11)  # Friday + 5 business days
        services.step_complete(actor=alice.user, step=steps[0])
        steps = selectors.workflow_steps(workflow=workflow)
        assert steps[1].status == StepStatus.OPEN and steps[2].status == StepStatus.WAITING
        services.step_complete(actor=alice.user, step=steps[1])
        steps = selectors.workflow_steps(workflow=workflow)
        assert steps[2].status == StepStatus.OPEN and steps[2].due_date is not None
        with pytest.raises(Exception, match="Only an open step"):
            services.step_complete(actor=alice.user, step=steps[3])
        for step in steps[2:]:
            services.step_complete(actor=alice.user, step=selectors.step_get(user=alice.user, pk=step.pk))
        workflow.refresh_from_db()
        assert workflow.status == WorkflowStatus.COMPLETED and workflow.steps_done == 4


def test_pages_start_and_complete(alice: Persona) -> None:
    with alice.scope():
        contact = ContactFactory()
        tpl = template(alice)
    client = alice.client()
    page = client.get(reverse("agenda:contact", args=[contact.pk]))
    assert page.status_code == 200 and b"Start workflow" in page.content
    response = client.post(reverse("agenda:workflow-start"), {"template": tpl.pk, "contact": contact.pk})
    assert response.status_code == 302
    with alice.scope():
        workflow = Workflow.objects.get(contact=contact)
        first = workflow.steps.get(position=1)
    assert client.get(reverse("agenda:workflow", args=[workflow.pk])).status_code == 200
    assert client.post(reverse("agenda:step-complete", args=[first.pk])).status_code == 302
    with alice.scope():
        first.refresh_from_db()
        assert first.status == StepStatus.DONE
    assert client.get(reverse("agenda:home")).status_code == 200
    assert client.get(reverse("agenda:templates")).status_code == 200
    assert client.get(reverse("agenda:template", args=[tpl.pk])).status_code == 200


def test_start_outside_scope_or_firm_is_404_and_starts_nothing(scoped: dict[str, Any], charlie: Persona) -> None:
    dana = scoped["dana"]
    tpl = template(dana)
    client = dana.client()
    url = reverse("agenda:workflow-start")
    both = {"template": tpl.pk, "contact": [scoped["inside"].pk, scoped["outside"].pk]}
    assert client.post(url, both).status_code == 404
    outsider = charlie.client()
    assert outsider.post(url, {"template": tpl.pk, "contact": scoped["inside"].pk}).status_code == 404
    with charlie.scope():
        other_tpl = WorkflowTemplate.objects.first()
        assert other_tpl is not None
    assert client.post(url, {"template": other_tpl.pk, "contact": scoped["inside"].pk}).status_code == 404
    with dana.scope():
        assert not Workflow.objects.exists()
    assert client.post(url, {"template": tpl.pk, "group": scoped["group"].pk}).status_code == 302
    with dana.scope():
        assert list(Workflow.objects.values_list("contact_id", flat=True)) == [scoped["inside"].pk]
    assert client.get(reverse("agenda:contact", args=[scoped["outside"].pk])).status_code == 404
    assert outsider.get(reverse("agenda:contact", args=[scoped["inside"].pk])).status_code == 404


def test_bulk_start_queues_a_job(alice: Persona, monkeypatch: pytest.MonkeyPatch) -> None:
    from crm.agenda.models import WorkflowBatch

    monkeypatch.setattr(services, "BULK_INLINE_MAX", 2)
    with alice.scope():
        contacts = [ContactFactory() for _ in range(5)]
        job = services.workflows_start(actor=alice.user, template=template(alice), contacts=contacts)
        assert not isinstance(job, list)
        assert job.total == 5 and job.kind == services.BULK_START_KIND
        assert WorkflowBatch.objects.get(job=job).contact_ids == [c.pk for c in contacts]
        assert not Workflow.objects.exists()


def test_tasks_scope_and_bad_input(scoped: dict[str, Any], alice: Persona) -> None:
    dana = scoped["dana"]
    with alice.scope():
        services.task_create(actor=alice.user, title="Call", assignee=dana.user, contact=scoped["inside"],
                             due_date=dt.date(2026, 12, 1))  # fmt: skip
        services.task_create(actor=alice.user, title="Hidden", assignee=dana.user, contact=scoped["outside"],
                             due_date=dt.date(2026, 12, 1))  # fmt: skip
    with dana.scope():
        assert [t.title for t in selectors.open_tasks_for_user(user=dana.user)] == ["Call"]
    client = dana.client()
    response = client.post(reverse("agenda:task-new"), {"title": "", "due_date": "nope"})
    assert response.status_code == 302
    response = client.post(
        reverse("agenda:task-new"), {"title": "x", "due_date": "2026-12-01", "contact": scoped["outside"].pk}
    )
    assert response.status_code == 404
    with dana.scope():
        assert Task.objects.count() == 2
    assert client.post(reverse("agenda:task-new"), {"title": "Mine", "due_date": "2026-12-03"}).status_code == 302
    with dana.scope():
        assert Task.objects.filter(title="Mine", assignee=dana.user).exists()


def test_notes_pinned_first_searchable_audited(alice: Persona, charlie: Persona) -> None:
    with alice.scope():
        contact = ContactFactory()
    client = alice.client()
    client.post(reverse("agenda:note-new", args=[contact.pk]), {"body": "First call went well"})
    client.post(reverse("agenda:note-new", args=[contact.pk]), {"body": "Prefers email"})
    with alice.scope():
        first = Note.objects.get(body__startswith="First")
    client.post(reverse("agenda:note-edit", args=[first.pk]), {"action": "pin"})
    with alice.scope():
        notes = list(selectors.note_list(user=alice.user, contact=contact))
        assert notes[0].pk == first.pk and notes[0].pinned
        assert [n.body for n in selectors.note_list(user=alice.user, contact=contact, q="EMAIL")] == ["Prefers email"]
    client.post(reverse("agenda:note-edit", args=[first.pk]), {"action": "edit", "body": "First call: follow up"})
    assert charlie.client().post(reverse("agenda:note-edit", args=[first.pk]), {"action": "delete"}).status_code == 404
    client.post(reverse("agenda:note-edit", args=[first.pk]), {"action": "delete"})
    with alice.scope():
        assert not Note.objects.filter(pk=first.pk).exists()
        actions = list(
            AuditEntry.objects.filter(object_id=str(first.pk), object_type__icontains="note").values_list(
                "action", flat=True
            )
        )
    assert len(actions) >= 3


def test_api_start_complete_tasks_notes(alice: Persona, charlie: Persona) -> None:
    with alice.scope():
        contact = ContactFactory()
        tpl = template(alice)
    api = alice.api()
    response = api.post("/api/v1/workflows/start/", {"template": tpl.pk, "contacts": [contact.pk]}, format="json")
    assert response.status_code == 201, response.content
    workflow_id = response.json()["workflows"][0]
    steps = api.get(f"/api/v1/workflows/{workflow_id}/steps/").json()
    assert [s["status"] for s in steps][:2] == ["open", "waiting"]
    assert api.post(f"/api/v1/workflow-steps/{steps[0]['id']}/complete/").status_code == 200
    assert api.post(f"/api/v1/workflow-steps/{steps[0]['id']}/complete/").status_code == 400
    assert api.get(f"/api/v1/workflows/{workflow_id}/steps/").json()[1]["status"] == "open"
    task = api.post(
        "/api/v1/tasks/", {"title": "Call back", "due_date": "2026-12-10", "contact": contact.pk}, format="json"
    )
    assert task.status_code == 201, task.content
    assert [t["title"] for t in api.get("/api/v1/tasks/").json()["results"]] == ["Call back"]
    assert api.post("/api/v1/tasks/", {"title": "x"}, format="json").status_code == 400
    note = api.post(
        "/api/v1/notes/", {"contact": contact.pk, "body": "Met at the office", "pinned": True}, format="json"
    )
    assert note.status_code == 201, note.content
    assert api.get(f"/api/v1/notes/?contact={contact.pk}&q=office").json()[0]["pinned"] is True
    assert api.get("/api/v1/workflow-templates/").status_code == 200
    assert api.post(f"/api/v1/workflow-templates/{tpl.pk}/copy/").status_code == 201
    outsider = charlie.api()
    assert outsider.get(f"/api/v1/workflows/{workflow_id}/").status_code == 404
    assert outsider.get(f"/api/v1/tasks/{task.json()['id']}/").status_code == 404
    assert outsider.delete(f"/api/v1/notes/{note.json()['id']}/").status_code == 404
    assert (
        outsider.post(
            "/api/v1/workflows/start/", {"template": tpl.pk, "contacts": [contact.pk]}, format="json"
        ).status_code
        == 404
    )
    assert outsider.post(f"/api/v1/workflow-steps/{steps[1]['id']}/complete/").status_code == 404


def test_api_needs_the_crm_right(firm_a: Any) -> None:
    nobody = Persona(
        UserFactory(firm=firm_a, email="n@alpha.test", role=Role.STAFF, rights=frozenset({Right.FUNDING})), firm_a
    )
    api = nobody.api()
    for url in ("/api/v1/tasks/", "/api/v1/workflows/", "/api/v1/workflow-templates/", "/api/v1/workflow-steps/"):
        assert api.get(url).status_code == 403
    assert nobody.client().get(reverse("agenda:home")).status_code == 403


def test_bulk_start_job_starts_every_workflow(
    alice: Persona, charlie: Persona, monkeypatch: pytest.MonkeyPatch
) -> None:
    from advisorportal.jobs import services as job_services

    monkeypatch.setattr(services, "BULK_INLINE_MAX", 2)
    with alice.scope():
        contacts = [ContactFactory() for _ in range(5)]
        job = services.workflows_start(actor=alice.user, template=template(alice), contacts=contacts)
        assert not isinstance(job, list)
        page = alice.client().get(reverse("agenda:batch", args=[job.pk]))
        assert page.status_code == 200 and b"workflow-start-progress" in page.content
        assert job_services.job_execute(job_id=job.pk) == "done"
        assert sorted(Workflow.objects.values_list("contact_id", flat=True)) == sorted(c.pk for c in contacts)
        assert Workflow.objects.first().steps.filter(status="open").count() == 1  # type: ignore[union-attr]
    assert charlie.client().get(reverse("agenda:batch", args=[job.pk])).status_code == 404
    panel = alice.client().get(reverse("agenda:batch", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert (
        panel.content.decode().lstrip().startswith('<div id="workflow-start">')
        and b"Every workflow started" in panel.content
    )


def test_task_reminder_is_emailed_once(alice: Persona, firm_a: Any) -> None:
    from django.apps import apps

    if not apps.is_installed("advisorportal.mail"):
        pytest.skip("the mail kit is not installed")
    from advisorportal.mail.models import OutgoingEmail

    bob = UserFactory(firm=firm_a, email="bo@alpha.test", role=Role.STAFF, rights=frozenset({Right.CRM}))
    with alice.scope():
        services.task_create(actor=alice.user, title="Call Ann", assignee=bob, due_date=dt.date(2026, 12, 10),
                             remind_days_before=1)  # fmt: skip
        services.task_create(actor=alice.user, title="Later", assignee=bob, due_date=dt.date(2026, 12, 20),
                             remind_days_before=1)  # fmt: skip
        assert services.task_reminders_send(today=dt.date(2026, 12, 9)) == 1
        assert services.task_reminders_send(today=dt.date(2026, 12, 9)) == 0
        email = OutgoingEmail.objects.get(to="bo@alpha.test")
        assert "Call Ann" in email.subject


def test_start_on_a_saved_view_and_nothing_chosen(alice: Persona) -> None:
    with alice.scope():
        ContactFactory(first_name="Zed", last_name="Viewmatch")
        ContactFactory(first_name="Other", last_name="Person")
        view = crm_services.saved_view_save(actor=alice.user, name="Zeds", query="q=Viewmatch")
        tpl = template(alice)
    client = alice.client()
    url = reverse("agenda:workflow-start")
    response = client.post(url, {"template": tpl.pk}, follow=True)
    assert "Choose a group or a saved view" in response.content.decode()
    assert client.post(url, {"template": tpl.pk, "saved_view": view.pk}).status_code == 302
    with alice.scope():
        assert [w.contact.last_name for w in Workflow.objects.select_related("contact")] == ["Viewmatch"]
    assert client.get(reverse("agenda:templates")).status_code == 200
