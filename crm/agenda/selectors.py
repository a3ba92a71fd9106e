"""Every read of the agenda, given the user: their scope (``crm.scope.scope_contacts``, CRM right)
decides which contacts' work they see. Other apps (the shell's dashboard and pending items) read
the agenda only through the functions here.

- ``open_steps_for_user(user=…)``: open workflow steps assigned to the user, on contacts in scope,
  soonest due first (``due_date``, ``contact``, ``workflow``, ``status``; ``is_overdue``).
- ``open_tasks_for_user(user=…)``: open tasks assigned to the user (standalone, or on a contact in
  scope), soonest due first.
- ``recent_notes(user=…)``: the newest notes on contacts in scope.
- ``workflow_progress(user=…)``: workflows in progress on contacts in scope, with steps done of total.
- ``template_progress(user=…)``: per template, how many workflows are in progress, completed, overdue.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from accounts.policy import grant_scope
from accounts.rights import Right
from advisorportal.tenancy.pagination import KeysetPage, keyset_page
from crm.agenda.models import (
    Note,
    StepStatus,
    Task,
    TaskStatus,
    Workflow,
    WorkflowStatus,
    WorkflowStep,
    WorkflowTemplate,
)
from crm.models import Contact, contact_label_defer
from crm.scope import scope_contacts


def _in_scope(qs: QuerySet[Any], user: Any, *, nullable: bool = False) -> QuerySet[Any]:
    scoped = scope_contacts(qs, user=user, contact_field="contact")
    if nullable and scoped.query.where != qs.query.where:
        return qs.filter(Q(contact__isnull=True) | Q(pk__in=scoped.values("pk")))
    return scoped


def today() -> Any:
    return timezone.localdate()


# --- For the shell (dashboard, pending items) --------------------------------------------------


def _open_steps(user: Any, overdue: bool) -> QuerySet[WorkflowStep]:
    steps = WorkflowStep.objects.filter(assignee=user, status=StepStatus.OPEN, workflow__status=WorkflowStatus.ACTIVE)
    if overdue:
        steps = steps.filter(due_date__lt=today())
    return _in_scope(steps, user)


def open_steps_for_user(*, user: Any, limit: int | None = 50, overdue: bool = False) -> list[WorkflowStep]:
    steps = _open_steps(user, overdue).select_related("contact", "workflow").defer(*contact_label_defer())
    rows = list(steps.order_by("due_date", "id")[:limit] if limit else steps.order_by("due_date", "id"))
    return _mark_overdue(rows)


def open_steps_count(*, user: Any, overdue: bool = False) -> int:
    return _open_steps(user, overdue).count()


def open_tasks_for_user(*, user: Any, limit: int | None = 50, overdue: bool = False) -> list[Task]:
    tasks = task_list(user=user, status=TaskStatus.OPEN, overdue=overdue)
    return _mark_overdue(list(tasks[:limit] if limit else tasks))


def open_tasks_count(*, user: Any, overdue: bool = False) -> int:
    return task_list(user=user, status=TaskStatus.OPEN, overdue=overdue).order_by().count()


def recent_notes(*, user: Any, limit: int = 10) -> list[Note]:
    return list(
        _in_scope(Note.objects.all(), user)
        .select_related("contact", "author")
        .defer(*contact_label_defer())
        .order_by("-updated_at", "-id")[:limit]
    )


def workflow_progress(*, user: Any, limit: int = 10) -> list[Workflow]:
    """Workflows in progress (in scope), newest first, each with ``percent`` and ``is_overdue``."""
    overdue = WorkflowStep.objects.filter(workflow=OuterRef("pk"), status=StepStatus.OPEN, due_date__lt=today())
    rows = (
        _in_scope(Workflow.objects.filter(status=WorkflowStatus.ACTIVE), user)
        .select_related("contact")
        .defer(*contact_label_defer())
        .annotate(is_overdue=Exists(overdue))
        .order_by("-started_at", "-id")[:limit]
    )
    return list(rows)


def template_progress(*, user: Any) -> list[WorkflowTemplate]:
    """Every template with ``active``, ``completed`` and ``overdue`` counts of its workflows in scope."""
    workflows = _in_scope(Workflow.objects.all(), user)
    overdue_ids = WorkflowStep.objects.filter(status=StepStatus.OPEN, due_date__lt=today()).values("workflow_id")
    counts: dict[int, dict[str, int]] = {}
    for row in workflows.values("template_id", "status").annotate(n=Count("*")):
        counts.setdefault(row["template_id"], {})[row["status"]] = row["n"]
    late = dict(
        workflows.filter(status=WorkflowStatus.ACTIVE, pk__in=overdue_ids)
        .values("template_id")
        .annotate(n=Count("*"))
        .values_list("template_id", "n")
    )
    templates = list(WorkflowTemplate.objects.order_by("name", "id").annotate(step_count=Count("steps")))
    for t in templates:
        c = counts.get(t.pk, {})
        t.active = c.get(WorkflowStatus.ACTIVE, 0)
        t.completed = c.get(WorkflowStatus.COMPLETED, 0)
        t.overdue = late.get(t.pk, 0)
    return templates


def _mark_overdue(rows: list[Any]) -> list[Any]:
    day = today()
    for row in rows:
        row.is_overdue = row.status == StepStatus.OPEN and row.due_date is not None and row.due_date < day
    return rows


# --- Pages and API ------------------------------------------------------------------------------


def task_list(
    *, user: Any, status: str = TaskStatus.OPEN, assignee: Any = "me", contact: Contact | None = None,
    overdue: bool = False,
) -> QuerySet[Task]:  # fmt: skip
    """Tasks the user may see, soonest due first: those on contacts in scope, and standalone ones
    they hold or made. ``assignee="me"`` (default): assigned to the user; None: anyone's."""
    tasks = Task.objects.filter(status=status) if status else Task.objects.all()
    if contact is not None:
        tasks = tasks.filter(contact=contact)
    if assignee == "me":
        tasks = tasks.filter(assignee=user)
    elif assignee is not None:
        tasks = tasks.filter(assignee=assignee)
    if overdue:
        tasks = tasks.filter(due_date__lt=today())
    mine = Q(assignee=user) | Q(created_by=user)
    allowed, grant_id = grant_scope(user, Right.CRM)
    if not allowed:
        return tasks.none()
    if grant_id is None:
        visible = Q(contact__isnull=False) | mine
    else:
        in_scope = scope_contacts(Contact.objects.all(), user=user).values("pk")
        visible = Q(contact__in=in_scope) | (Q(contact__isnull=True) & mine)
    return (
        tasks.filter(visible)
        .select_related("contact", "assignee")
        .defer(*contact_label_defer())
        .order_by("due_date", "id")
    )


def task_page(*, user: Any, after: str = "", size: int = 50, **filters: Any) -> KeysetPage[Task]:
    return keyset_page(task_list(user=user, **filters), keys=("due_date", "id"), after=after, size=size)


def task_get(*, user: Any, pk: Any) -> Task:
    return task_list(user=user, status="", assignee=None).get(pk=int(pk))


def workflow_list(*, user: Any, contact: Contact | None = None, status: str = "") -> QuerySet[Workflow]:
    workflows = _in_scope(Workflow.objects.all(), user)
    if contact is not None:
        workflows = workflows.filter(contact=contact)
    if status:
        workflows = workflows.filter(status=status)
    overdue = WorkflowStep.objects.filter(workflow=OuterRef("pk"), status=StepStatus.OPEN, due_date__lt=today())
    return workflows.select_related("contact", "template").annotate(is_overdue=Exists(overdue))


def workflow_get(*, user: Any, pk: Any) -> Workflow:
    return workflow_list(user=user).get(pk=int(pk))


def workflow_steps(*, workflow: Workflow) -> list[WorkflowStep]:
    return _mark_overdue(
        list(WorkflowStep.objects.filter(workflow=workflow).select_related("assignee").order_by("position"))
    )


def step_get(*, user: Any, pk: Any) -> WorkflowStep:
    return _in_scope(WorkflowStep.objects.select_related("workflow"), user).get(pk=int(pk))


def template_list(*, active_only: bool = False) -> QuerySet[WorkflowTemplate]:
    templates = WorkflowTemplate.objects.annotate(step_count=Count("steps")).order_by("name", "id")
    return templates.filter(is_active=True) if active_only else templates


def template_get(*, pk: Any) -> WorkflowTemplate:
    return WorkflowTemplate.objects.prefetch_related("steps").get(pk=int(pk))


def note_list(*, user: Any, contact: Contact, q: str = "", sort: str = "newest") -> QuerySet[Note]:
    """A contact's notes, pinned first, then by ``sort`` (newest, oldest, updated); ``q`` searches the text."""
    notes = Note.objects.filter(contact=contact).select_related("author")
    if q.strip():
        notes = notes.filter(body__icontains=q.strip())
    order = {"oldest": ("created_at", "id"), "updated": ("-updated_at", "-id")}.get(sort, ("-created_at", "-id"))
    return notes.order_by("-pinned", *order)


def note_get(*, user: Any, pk: Any) -> Note:
    return _in_scope(Note.objects.select_related("contact"), user).get(pk=int(pk))


def assignable_users() -> QuerySet[User]:
    return User.objects.filter(is_active=True).order_by("full_name", "id")
