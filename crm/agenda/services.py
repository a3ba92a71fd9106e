"""Every write of the agenda: workflow templates (edit, copy), starting workflows (one contact, or
many as a background job), completing steps, tasks and notes. Keyword-only, transactional,
validated; the ORM's signals (and the bulk kit for bulk inserts) write the audit trail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from accounts.preferences import date_format_of, firm_date_format
from advisorportal.formats import day
from advisorportal.jobs import services as job_services
from advisorportal.jobs.models import Job
from advisorportal.jobs.progress import Progress
from advisorportal.tenancy.context import firm_scope, require_firm_id
from crm.agenda import defaults
from crm.agenda.models import (
    DueFrom,
    Note,
    StepStatus,
    Task,
    TaskStatus,
    TemplateStep,
    Workflow,
    WorkflowBatch,
    WorkflowStatus,
    WorkflowStep,
    WorkflowTemplate,
)
from crm.models import Contact

BULK_START_KIND = "agenda.workflow_start"
# A start on more contacts than this runs as a background job with a progress bar.
BULK_INLINE_MAX = 200
BULK_MAX = 100_000


def add_business_days(day: dt.date, days: int) -> dt.date:
    """``day`` plus ``days`` working days (Monday to Friday); 0 days from a weekend is the Monday."""
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    while days > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day


# --- Templates ---------------------------------------------------------------------------------


def on_firm_saved(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    """Every new firm gets the default templates (existing firms got them by migration)."""
    if created and not raw:
        with firm_scope(instance):
            defaults.create_defaults(firm_id=instance.pk, template_model=WorkflowTemplate, step_model=TemplateStep)


STEP_FIELDS = ("name", "description", "due_days", "due_from", "priority", "assignee", "assignee_role", "depends_on")


@transaction.atomic
def template_save(
    *, actor: Any, template: WorkflowTemplate | None = None, name: str, description: str = "",
    is_active: bool = True, steps: Sequence[dict[str, Any]],
) -> WorkflowTemplate:  # fmt: skip
    """Create or edit a template with its steps (in order; each a dict of ``STEP_FIELDS``).
    Workflows already started keep the steps they copied."""
    if not steps:
        raise ValidationError({"steps": "A template needs at least one step."})
    template = template or WorkflowTemplate()
    template.name, template.description, template.is_active = name.strip(), description, is_active
    if WorkflowTemplate.objects.filter(name=template.name).exclude(pk=template.pk).exists():
        raise ValidationError({"name": "Another template has this name."})
    template.full_clean()
    template.save()
    TemplateStep.objects.filter(template=template).delete()
    for position, data in enumerate(steps, start=1):
        unknown = set(data) - set(STEP_FIELDS)
        if unknown:
            raise ValidationError({f"steps[{position}]": f"Unknown fields: {', '.join(sorted(unknown))}."})
        step = TemplateStep(template=template, position=position, **data)
        if step.depends_on is not None and not 1 <= step.depends_on < position:
            raise ValidationError({f"steps[{position}]": "A step can only wait on an earlier step."})
        if step.assignee_role and step.assignee_role not in ROLES:
            raise ValidationError({f"steps[{position}]": "Choose a role: advisor or staff (or none)."})
        try:
            step.full_clean(exclude=["template"])
        except ValidationError as error:
            raise ValidationError({f"steps[{position}]": error.messages}) from None
        step.save()
    return template


ROLES = ("advisor", "staff", "primary", "security_officer")


@transaction.atomic
def template_copy(*, actor: Any, template: WorkflowTemplate, name: str = "") -> WorkflowTemplate:
    name = name.strip() or _copy_name(template.name)
    steps = [{f: getattr(s, f) for f in STEP_FIELDS} for s in template.steps.all()]
    return template_save(actor=actor, name=name, description=template.description, steps=steps)


def _copy_name(name: str) -> str:
    base, n = f"{name} (copy)"[:120], 2
    candidate = base
    while WorkflowTemplate.objects.filter(name=candidate).exists():
        candidate, n = f"{name} (copy {n})"[:120], n + 1
    return candidate


# --- Starting workflows ------------------------------------------------------------------------


class _Assignees:
    """Who a template step goes to: its user if active; else by role (the contact's advisor for
    "advisor" when there is one, else the starter if they hold the role, else the firm's first
    active user with it); else the person who starts the workflow."""

    def __init__(self, starter: User) -> None:
        self.starter = starter
        self.by_role: dict[str, User] = {}
        for user in User.objects.filter(is_active=True).order_by("id"):
            self.by_role.setdefault(user.role, user)
        self.active_ids = set(User.objects.filter(is_active=True).values_list("id", flat=True))

    def __call__(self, step: TemplateStep, contact: Contact) -> int:
        if step.assignee_id and step.assignee_id in self.active_ids:
            return step.assignee_id
        role = step.assignee_role
        if role:
            if role == "advisor" and contact.advisor_id and contact.advisor_id in self.active_ids:
                return contact.advisor_id
            if self.starter.role == role:
                return self.starter.pk
            if role in self.by_role:
                return self.by_role[role].pk
        return self.starter.pk


def _build(
    *, template: WorkflowTemplate, steps: Sequence[TemplateStep], contact: Contact, start_date: dt.date,
    actor: Any, assign: _Assignees,
) -> tuple[Workflow, list[WorkflowStep]]:  # fmt: skip
    workflow = Workflow(
        template=template, name=template.name, contact=contact, start_date=start_date, started_by=actor,
        steps_total=len(steps),
    )  # fmt: skip
    built = []
    for step in steps:
        waits = step.depends_on if step.depends_on is not None else step.position - 1
        is_open = waits == 0
        built.append(
            WorkflowStep(
                workflow=workflow,
                position=step.position,
                name=step.name,
                description=step.description,
                due_days=step.due_days,
                due_from=step.due_from,
                depends_on=waits or None,
                priority=step.priority,
                assignee_id=assign(step, contact),
                contact=contact,
                status=StepStatus.OPEN if is_open else StepStatus.WAITING,
                due_date=add_business_days(start_date, step.due_days) if is_open else None,
            )
        )
    return workflow, built


def _template_steps(template: WorkflowTemplate) -> list[TemplateStep]:
    steps = list(template.steps.order_by("position"))
    if not steps:
        raise ValidationError({"template": "This template has no steps."})
    return steps


@transaction.atomic
def workflow_start(
    *, actor: Any, template: WorkflowTemplate, contact: Contact, start_date: dt.date | None = None
) -> Workflow:
    """Start ``template`` on one contact (the caller has checked the contact is in scope)."""
    if not template.is_active:
        raise ValidationError({"template": "This template is archived; choose another."})
    steps = _template_steps(template)
    workflow, built = _build(
        template=template, steps=steps, contact=contact, start_date=start_date or timezone.localdate(),
        actor=actor, assign=_Assignees(actor),
    )  # fmt: skip
    workflow.full_clean()
    workflow.save()
    for step in built:
        step.workflow = workflow
        step.save()
    _notify_assigned([s for s in built if s.status == StepStatus.OPEN], actor=actor)
    return workflow


def workflows_start(
    *, actor: Any, template: WorkflowTemplate, contacts: Sequence[Contact], start_date: dt.date | None = None
) -> Job | list[Workflow]:
    """Start ``template`` on every contact given (the caller resolved them within scope). Up to
    ``BULK_INLINE_MAX`` contacts start at once (the workflows are returned); more run as a
    background job (the job is returned; the page shows its progress)."""
    if not template.is_active:
        raise ValidationError({"template": "This template is archived; choose another."})
    if not contacts:
        raise ValidationError({"contacts": "Choose at least one contact."})
    if len(contacts) > BULK_MAX:
        raise ValidationError({"contacts": f"At most {BULK_MAX:,} contacts at a time."})
    _template_steps(template)
    start_date = start_date or timezone.localdate()
    if len(contacts) <= BULK_INLINE_MAX:
        with transaction.atomic():
            return [workflow_start(actor=actor, template=template, contact=c, start_date=start_date) for c in contacts]
    with transaction.atomic():
        job = job_services.job_create(actor=actor, kind=BULK_START_KIND, total=len(contacts), phase="Queued")
        batch = WorkflowBatch(
            template=template, contact_ids=[c.pk for c in contacts], start_date=start_date, started_by=actor, job=job
        )
        batch.full_clean()
        batch.save()
    return job


CHUNK = 1000


def run_bulk_start(job: Job, progress: Progress) -> None:
    """The job of a bulk start: the workflows and their steps in bulk inserts of ``CHUNK``
    contacts (audited by the ORM's bulk path), all in the job's one transaction."""
    batch = WorkflowBatch.objects.select_related("template", "started_by").get(job=job)
    steps = _template_steps(batch.template)
    assign = _Assignees(batch.started_by)
    ids = batch.contact_ids
    progress.update(0, total=len(ids), phase="Starting workflows")
    for start in range(0, len(ids), CHUNK):
        contacts = list(Contact.objects.filter(pk__in=ids[start : start + CHUNK]).only("id", "advisor_id"))
        pairs = [
            _build(template=batch.template, steps=steps, contact=c, start_date=batch.start_date,
                   actor=batch.started_by, assign=assign)
            for c in contacts
        ]  # fmt: skip
        workflows = Workflow.objects.bulk_create([w for w, _ in pairs])
        rows = []
        for workflow, built in zip(workflows, (b for _, b in pairs), strict=True):
            for step in built:
                step.workflow = workflow
                rows.append(step)
        WorkflowStep.objects.bulk_create(rows)
        progress.update(start + len(contacts))
    return None


def _notify_assigned(steps: Iterable[WorkflowStep], *, actor: Any) -> None:
    """Tell each assignee (other than the actor) about a step that opened for them."""
    notify = _notifier()
    if notify is None:
        return
    for step in steps:
        if step.assignee_id and step.assignee_id != getattr(actor, "pk", None):
            _send_later(
                notify, recipient_id=step.assignee_id, category=NOTIFY_CATEGORY,
                title=f"Workflow step for you: {step.name}", url=f"/agenda/workflows/{step.workflow_id}/",
                contact_id=step.contact_id,
            )  # fmt: skip


NOTIFY_CATEGORY = "agenda.task"  # registered with its label in AgendaConfig.ready


def _notifier() -> Any:
    try:
        from advisorportal.notifications.services import notify
    except ImportError:  # the notifications app lands separately
        return None
    return notify


def _send_later(notify: Any, *, recipient_id: int, **kwargs: Any) -> None:
    def send() -> None:
        recipient = User.objects.filter(pk=recipient_id, is_active=True).first()
        if recipient is not None:
            notify(recipient=recipient, **kwargs)

    transaction.on_commit(send)


# --- Steps -------------------------------------------------------------------------------------


@transaction.atomic
def step_complete(*, actor: Any, step: WorkflowStep) -> WorkflowStep:
    """Mark an open step done and open the steps that waited on it (due N business days from
    today, or from the workflow's start for "after start" steps). The workflow completes with its
    last step. Refuses a step that is not open."""
    step = WorkflowStep.objects.select_for_update().get(pk=step.pk)
    if step.status != StepStatus.OPEN:
        raise ValidationError({"step": "Only an open step can be completed."})
    today = timezone.localdate()
    step.status, step.completed_at, step.completed_by = StepStatus.DONE, timezone.now(), actor
    step.save(update_fields=["status", "completed_at", "completed_by"])
    workflow = Workflow.objects.select_for_update().get(pk=step.workflow_id)
    opened = []
    for waiting in WorkflowStep.objects.filter(workflow=workflow, status=StepStatus.WAITING, depends_on=step.position):
        base = workflow.start_date if waiting.due_from == DueFrom.START else today
        waiting.status = StepStatus.OPEN
        waiting.due_date = max(add_business_days(base, waiting.due_days), today)
        waiting.save(update_fields=["status", "due_date"])
        opened.append(waiting)
    workflow.steps_done = F("steps_done") + 1
    workflow.save(update_fields=["steps_done"])
    workflow.refresh_from_db(fields=["steps_done"])
    if workflow.steps_done >= workflow.steps_total:
        workflow.status, workflow.completed_at = WorkflowStatus.COMPLETED, timezone.now()
        workflow.save(update_fields=["status", "completed_at"])
    _notify_assigned(opened, actor=actor)
    return step


@transaction.atomic
def workflow_cancel(*, actor: Any, workflow: Workflow) -> Workflow:
    if workflow.status != WorkflowStatus.ACTIVE:
        raise ValidationError({"workflow": "Only a workflow in progress can be cancelled."})
    workflow.status = WorkflowStatus.CANCELLED
    workflow.save(update_fields=["status"])
    return workflow


# --- Tasks -------------------------------------------------------------------------------------

TASK_FIELDS = ("title", "description", "contact", "assignee", "priority", "due_date", "remind_days_before")


def _remind_on(task: Task) -> dt.date | None:
    if task.due_date is None or task.remind_days_before is None:
        return None
    return task.due_date - dt.timedelta(days=task.remind_days_before)


def _check_assignee(assignee: Any) -> None:
    if assignee is None or not getattr(assignee, "is_active", False):
        raise ValidationError({"assignee": "Choose an active colleague to assign the task to."})


@transaction.atomic
def task_create(*, actor: Any, title: str, assignee: User | None = None, **fields: Any) -> Task:
    """A task, standalone or on a contact (the caller has checked the contact is in scope)."""
    unknown = set(fields) - set(TASK_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be set."))
    assignee = assignee or actor
    _check_assignee(assignee)
    task = Task(title=title.strip(), assignee=assignee, created_by=actor, **fields)
    task.remind_on = _remind_on(task)
    task.full_clean()
    task.save()
    if assignee.pk != actor.pk:
        notify = _notifier()
        if notify is not None:
            _send_later(
                notify, recipient_id=assignee.pk, category=NOTIFY_CATEGORY, title=f"Task for you: {task.title}",
                url="/agenda/", contact_id=task.contact_id,
            )  # fmt: skip
    return task


@transaction.atomic
def task_update(*, actor: Any, task: Task, **fields: Any) -> Task:
    unknown = set(fields) - set(TASK_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be set."))
    if "assignee" in fields:
        _check_assignee(fields["assignee"])
    for name, value in fields.items():
        setattr(task, name, value)
    new_remind = _remind_on(task)
    if new_remind != task.remind_on:
        task.remind_on, task.reminder_sent_at = new_remind, None
    task.full_clean()
    task.save()
    return task


@transaction.atomic
def task_complete(*, actor: Any, task: Task, done: bool = True) -> Task:
    task.status = TaskStatus.DONE if done else TaskStatus.OPEN
    task.completed_at = timezone.now() if done else None
    task.save(update_fields=["status", "completed_at"])
    return task


@transaction.atomic
def task_delete(*, actor: Any, task: Task) -> None:
    task.delete()


def task_reminders_send(*, today: dt.date | None = None, limit: int = 500) -> int:
    """Email each open task's assignee on its reminder day, once (one conditional UPDATE of
    ``reminder_sent_at`` per task, so a rerun or a second beat sends nothing again). The current
    firm's tasks; called by beat through ``tasks.task_reminders_firm``. Returns how many were sent."""
    from django.apps import apps
    from django.conf import settings
    from django.urls import reverse

    if not apps.is_installed("advisorportal.mail"):
        return 0
    from advisorportal.mail.services import email_send
    from crm.agenda.apps import REMINDER_TEMPLATE

    today = today or timezone.localdate()
    sent = 0
    firm_default = firm_date_format(firm_id=require_firm_id())
    due = Task.objects.filter(status=TaskStatus.OPEN, reminder_sent_at=None, remind_on__lte=today)
    for task in due.select_related("assignee", "contact").order_by("remind_on", "id")[:limit]:
        with transaction.atomic():
            won = Task.objects.filter(pk=task.pk, reminder_sent_at=None).update(reminder_sent_at=timezone.now())
            if won != 1 or not task.assignee.is_active:
                continue
            due_shown = day(task.due_date, date_format_of(task.assignee, firm_default=firm_default))
            context = {
                "task_title": task.title, "task_due": due_shown,
                "contact_name": task.contact.display_name if task.contact else "",
                "agenda_url": settings.SITE_URL.rstrip("/") + reverse("agenda:home"),
            }  # fmt: skip
            email_send(to=task.assignee.email, template=REMINDER_TEMPLATE, context=context, category="service",
                       contact_id=task.contact_id)  # fmt: skip
            sent += 1
    return sent


# --- Notes -------------------------------------------------------------------------------------


@transaction.atomic
def note_create(*, actor: Any, contact: Contact, body: str, pinned: bool = False) -> Note:
    note = Note(contact=contact, body=body.strip(), pinned=pinned, author=actor)
    note.full_clean()
    note.save()
    return note


@transaction.atomic
def note_update(*, actor: Any, note: Note, body: str | None = None, pinned: bool | None = None) -> Note:
    """Edit a note's text or pin it; the audit trail keeps the text before and after."""
    if body is not None:
        note.body = body.strip()
    if pinned is not None:
        note.pinned = pinned
    note.full_clean()
    note.save()
    return note


@transaction.atomic
def note_delete(*, actor: Any, note: Note) -> None:
    note.delete()
