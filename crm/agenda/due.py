"""Task-due notifications: each open task's assignee is told once when the task falls due (its
due day, or the first run after it if it was created overdue). Celery beat runs it per firm
(``tasks.task_due_notifications_firm``); a rerun tells nobody twice, because each notification
carries the key ``agenda.task_due:<task>:<due date>`` that the notifications table keeps unique
per recipient (a task moved to another day falls due again)."""

from __future__ import annotations

import datetime as dt

from django.db.models import CharField, Exists, OuterRef, Value
from django.db.models.functions import Cast, Concat
from django.urls import reverse
from django.utils import timezone

from accounts.preferences import date_format_of, firm_date_format
from advisorportal.formats import day
from advisorportal.notifications.models import Notification
from advisorportal.notifications.services import notify
from advisorportal.tenancy.context import require_firm_id
from crm.agenda.models import Task, TaskStatus
from crm.notifications import TASK_DUE

# Tasks overdue by longer than this when first seen (a new firm's imported backlog) are not announced.
LOOK_BACK_DAYS = 30


def _key(task: Task) -> str:
    return f"{TASK_DUE}:{task.pk}:{task.due_date.isoformat()}"


def task_due_notifications_send(*, today: dt.date | None = None, limit: int = 1000) -> int:
    """Tell the assignees of the current firm's open tasks due by ``today``; returns how many were told."""
    today = today or timezone.localdate()
    key = Concat(Value(f"{TASK_DUE}:"), Cast("id", CharField()), Value(":"), Cast("due_date", CharField()))
    told = Notification.objects.filter(recipient_id=OuterRef("assignee_id"), key=OuterRef("due_key"))
    due = (
        Task.objects.filter(status=TaskStatus.OPEN, due_date__lte=today,
                            due_date__gte=today - dt.timedelta(days=LOOK_BACK_DAYS), assignee__is_active=True)
        .annotate(due_key=key)
        .filter(~Exists(told))
        .select_related("assignee", "contact")
        .order_by("due_date", "id")
    )  # fmt: skip
    sent = 0
    firm_default = firm_date_format(firm_id=require_firm_id())
    for task in due[:limit]:
        shown = day(task.due_date, date_format_of(task.assignee, firm_default=firm_default))
        when = "today" if task.due_date == today else f"since {shown}"
        name = f" ({task.contact.display_name})" if task.contact else ""
        url = reverse("agenda:contact", args=[task.contact_id]) if task.contact_id else reverse("agenda:home")
        made = notify(recipient=task.assignee, category=TASK_DUE, title=f"Task due {when}: {task.title}{name}",
                      url=url, contact_id=task.contact_id, key=_key(task))  # fmt: skip
        sent += made is not None
    return sent
