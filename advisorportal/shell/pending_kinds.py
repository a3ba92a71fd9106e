"""The pending-item kinds the shell registers over each app's selectors: workflow steps, tasks and
funding requests."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from django.urls import reverse

from accounts.policy import has_right
from accounts.rights import Right
from advisorportal.shell.pending import Action, ItemKind, PendingItem, register
from crm.agenda import selectors as agenda_selectors
from funding import selectors as funding_selectors

STATUSES = (("open", "Open"), ("overdue", "Overdue"))


def _matches(item: PendingItem, q: str, status: str) -> bool:
    if status == "overdue" and not item.overdue:
        return False
    return not q or q.lower() in f"{item.title} {item.number} {item.subject}".lower()


def _steps(user: Any, *, q: str, status: str, limit: int | None) -> list[PendingItem]:
    fetch = None if q else limit  # words match in Python (names, titles); the status in the database
    rows = []
    for step in agenda_selectors.open_steps_for_user(user=user, limit=fetch, overdue=status == "overdue"):
        overdue = bool(getattr(step, "is_overdue", False))  # set by the agenda's selector
        item = PendingItem(
            kind="workflow-step",
            kind_label="Workflow step",
            date=step.workflow.start_date,
            title=str(step.contact),
            number="",
            subject=f"{step.workflow.name}: {step.name}",
            status="Overdue" if overdue else "Open",
            waits_on=user.full_name,
            due=step.due_date,
            overdue=overdue,
            actions=(Action("Open workflow", reverse("agenda:workflow", args=[step.workflow_id])),),
        )
        if _matches(item, q, status):
            rows.append(item)
    return rows[:limit] if limit else rows


def _tasks(user: Any, *, q: str, status: str, limit: int | None) -> list[PendingItem]:
    fetch = None if q else limit
    rows = []
    for task in agenda_selectors.open_tasks_for_user(user=user, limit=fetch, overdue=status == "overdue"):
        overdue = bool(getattr(task, "is_overdue", False))  # set by the agenda's selector
        item = PendingItem(
            kind="task",
            kind_label="Task",
            date=task.created_at.date(),
            title=str(task.contact) if task.contact else "",
            number="",
            subject=task.title,
            status="Overdue" if overdue else "Open",
            waits_on=user.full_name,
            due=task.due_date,
            overdue=overdue,
            actions=(Action("Agenda", reverse("agenda:home")),),
        )
        if _matches(item, q, status):
            rows.append(item)
    return rows[:limit] if limit else rows


def _steps_count(user: Any, *, q: str, status: str) -> int | None:
    return None if q else agenda_selectors.open_steps_count(user=user, overdue=status == "overdue")


def _tasks_count(user: Any, *, q: str, status: str) -> int | None:
    return None if q else agenda_selectors.open_tasks_count(user=user, overdue=status == "overdue")


register(ItemKind("workflow-step", "Workflow steps", _steps, (Right.CRM,), STATUSES, _steps_count))
register(ItemKind("task", "Tasks", _tasks, (Right.CRM,), STATUSES, _tasks_count))


FUNDING_STATUSES = (
    ("awaiting_client", "Awaiting client"),
    ("awaiting_authorizer", "Awaiting authorizer"),
    ("submitted", "Submitted"),
)
_WAITS_ON = {"awaiting_client": "Client", "awaiting_authorizer": "Funding authorizer", "submitted": "Custodian"}


def _funding(user: Any, *, q: str, status: str, limit: int | None) -> list[PendingItem]:
    requests = funding_selectors.waiting(user=user, status=status, q=q, limit=limit)
    on_behalf = funding_selectors.advisor_may_approve(requests)
    authorizer = has_right(user, Right.FUNDING_AUTHORIZER)
    rows = []
    for request in requests:
        rows.append(
            PendingItem(
                kind="funding-request",
                kind_label="Funding request",
                date=request.status_changed_at.date(),
                title=str(request.client),
                number=request.account.number if request.account else "",
                subject=funding_selectors.waiting_subject(request),
                status=request.get_status_display(),
                waits_on=_WAITS_ON.get(request.status, ""),
                due=None,
                actions=_funding_actions(request, user, authorizer=authorizer, on_behalf=request.pk in on_behalf),
            )
        )
    return rows


def _funding_actions(request: Any, user: Any, *, authorizer: bool, on_behalf: bool) -> tuple[Action, ...]:
    """What the request's state allows, as on its page (which checks it all again): re-sending
    is a button; what needs a reason or a confirmation opens the request at that form."""
    page = reverse("funding:request", args=[request.pk])
    actions = [Action("Open", page)]
    if request.status == "awaiting_client":
        actions.append(
            Action("Re-send email", reverse("funding:request-resend", args=[request.pk]), post=True, key=uuid4().hex)
        )
        if on_behalf:
            actions.append(Action("Approve for the client…", f"{page}#reason-approve-on-behalf"))
    elif request.status == "awaiting_authorizer" and authorizer and request.created_by_id != user.pk:
        actions.append(Action("Authorize or reject…", f"{page}#actions-h"))
    elif request.status == "submitted" and authorizer:
        actions.append(Action("Mark completed…", f"{page}#actions-h"))
    if request.status != "submitted" or request.instruction_file_id is None:
        actions.append(Action("Cancel…", f"{page}#reason-cancel"))
    return tuple(actions)


def _funding_count(user: Any, *, q: str, status: str) -> int:
    return funding_selectors.waiting_count(user=user, status=status, q=q)


register(ItemKind("funding-request", "Funding requests", _funding, (Right.FUNDING,), FUNDING_STATUSES, _funding_count))
