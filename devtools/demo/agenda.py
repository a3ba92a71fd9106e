"""Demo agenda: workflows in several states (some overdue), tasks and notes on the first contacts of
a demo firm (both in and out of the assistant's group), and, for benchmarks, ``extra_tasks`` open
tasks spread over the firm's users and contacts (``seed_demo --tasks``). Runs once per firm: a
firm that already has tasks is left as it is."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from accounts.models import Firm, User
from crm.agenda import services
from crm.agenda.models import Priority, Task, WorkflowTemplate
from crm.models import Contact
from crm.scope import scope_contacts

NOTES = (
    ("Prefers a call in the morning; email for documents.", True),
    ("Discussed retirement timing: wants to stop working at 62 and keep a cash reserve of a year.", False),
    ("Daughter starts college next autumn; review the 529 contributions.", False),
    ("Asked about ESG options for the growth sleeve.", False),
)
TASKS = (
    ("Send the fee schedule", 2, Priority.NORMAL),
    ("Call about the RMD for this year", -3, Priority.HIGH),
    ("Book the annual review meeting", 6, Priority.NORMAL),
    ("Collect the updated beneficiary form", 1, Priority.HIGH),
    ("Follow up on the transfer of the old 401(k)", -1, Priority.NORMAL),
    ("Check the address change went through", 9, Priority.LOW),
)
BENCH_TITLES = ("Follow-up call", "Send documents", "Review allocation", "Confirm details", "Prepare meeting")


@transaction.atomic
def seed_agenda(*, firm: Firm, extra_tasks: int = 0, seed: int = 0, log: Callable[[str], object] = print) -> None:
    if Task.objects.exists():
        return
    users = {u.email.split("@")[0]: u for u in User.objects.filter(is_active=True)}
    owner, advisor, assistant = users.get("owner"), users.get("advisor"), users.get("assistant")
    if owner is None or advisor is None or assistant is None:
        return
    today = timezone.localdate()
    in_group = list(scope_contacts(Contact.objects.order_by("id"), user=assistant)[:6])
    others = list(Contact.objects.exclude(pk__in=[c.pk for c in in_group]).order_by("id")[:8])
    contacts = in_group + others
    if not contacts:
        return
    templates = {t.name: t for t in WorkflowTemplate.objects.all()}
    plan = [
        ("New client onboarding", 12, 3), ("Annual review", 3, 1), ("Annual review", 20, 4),
        ("Account closing", 2, 0), ("New client onboarding", 1, 0), ("Annual review", 8, 2),
    ]  # fmt: skip
    started = 0
    for i, (name, days_ago, done) in enumerate(plan):
        template = templates.get(name)
        for contact in (contacts[i % len(contacts)], contacts[(i + len(in_group)) % len(contacts)]):
            if template is None:
                continue
            workflow = services.workflow_start(
                actor=advisor, template=template, contact=contact, start_date=today - dt.timedelta(days=days_ago)
            )
            for _ in range(done):
                step = workflow.steps.filter(status="open").order_by("position").first()
                if step is None:
                    break
                services.step_complete(actor=advisor, step=step)
            started += 1
    for i, contact in enumerate(contacts[:10]):
        for body, pinned in NOTES[: 1 + i % len(NOTES)]:
            services.note_create(actor=advisor if i % 2 else assistant, contact=contact, body=body, pinned=pinned)
    for i, (title, days, priority) in enumerate(TASKS * 2):
        assignee = (advisor, assistant, owner)[i % 3]
        contact = contacts[i % len(contacts)] if i % 4 else None
        if assignee == assistant and contact is not None and contact not in in_group:
            contact = in_group[i % len(in_group)] if in_group else None
        services.task_create(
            actor=advisor, title=title, assignee=assignee, contact=contact, priority=priority,
            due_date=today + dt.timedelta(days=days), remind_days_before=1 if days > 1 else None,
        )  # fmt: skip
    if extra_tasks:
        _bench_tasks(extra_tasks, owner=owner, others=[advisor, assistant], today=today, seed=seed)
    tasks = len(TASKS) * 2 + extra_tasks
    log(f"{firm.name}: {started} workflows, {tasks} tasks, notes on {min(10, len(contacts))} contacts")


def _bench_tasks(count: int, *, owner: User, others: list[User], today: dt.date, seed: int) -> None:
    """``count`` open tasks in bulk (audited by the ORM's bulk path): half for the owner (the
    bench's user), the rest for the others, on random contacts, due over the coming year."""
    rng = random.Random(seed)
    contact_ids = list(Contact.objects.order_by("id").values_list("id", flat=True)[:20_000])
    batch: list[Task] = []
    for i in range(count):
        batch.append(
            Task(
                title=f"{BENCH_TITLES[i % len(BENCH_TITLES)]} #{i + 1}",
                assignee=owner if i % 2 == 0 else others[(i // 2) % len(others)],
                created_by=owner,
                contact_id=rng.choice(contact_ids) if contact_ids and i % 5 else None,
                priority=Priority.NORMAL,
                due_date=today + dt.timedelta(days=rng.randint(-20, 365)),
            )
        )
        if len(batch) == 2000:
            Task.objects.bulk_create(batch)
            batch = []
    if batch:
        Task.objects.bulk_create(batch)
