"""Workflows (templates of steps, and the workflows started from them on contacts), tasks and notes.

A workflow copies its template's steps when it starts, so editing a template never changes work
already under way. Step ``i`` waits on the step it depends on, or else on the step before it; the
first step (and every step whose dependency is done) is *open*, the rest *waiting*. A step's due
date is set when it opens: N business days after the workflow's start, or after the day the step
it waited on was completed.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q

from advisorportal.tenancy.models import FirmOwnedModel

FREE_TEXT_MAX = 20_000


class Priority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"


class DueFrom(models.TextChoices):
    START = "start", "after the workflow starts"
    PREVIOUS = "previous", "after the previous step is done"


class WorkflowTemplate(FirmOwnedModel):
    name_fields: ClassVar[frozenset[str]] = frozenset({"name"})

    name = models.CharField(max_length=120)
    description = models.TextField(max_length=2000, blank=True)
    is_active = models.BooleanField("offered when starting workflows", default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["firm", "name"], name="agenda_template_name_uniq")]

    def __str__(self) -> str:
        return self.name


class TemplateStep(FirmOwnedModel):
    name_fields: ClassVar[frozenset[str]] = frozenset({"name"})

    template = models.ForeignKey(WorkflowTemplate, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=200)
    description = models.TextField(max_length=2000, blank=True)
    due_days = models.PositiveSmallIntegerField(
        "business days", default=1, validators=[MaxValueValidator(365, "At most 365 business days.")]
    )
    due_from = models.CharField(max_length=10, choices=DueFrom.choices, default=DueFrom.PREVIOUS)
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Blank with no assignee: whoever starts the workflow. "advisor": the contact's advisor first.
    assignee_role = models.CharField("assignee role", max_length=20, blank=True)
    depends_on = models.PositiveSmallIntegerField(
        "waits on step", null=True, blank=True, help_text="The number of an earlier step; blank: the step before"
    )

    class Meta(FirmOwnedModel.Meta):
        ordering = ["template", "position"]
        constraints = [
            models.UniqueConstraint(fields=["firm", "template", "position"], name="agenda_template_step_uniq"),
            models.CheckConstraint(
                condition=Q(depends_on__isnull=True) | Q(depends_on__lt=models.F("position")),
                name="agenda_template_step_depends_earlier",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class WorkflowStatus(models.TextChoices):
    ACTIVE = "active", "In progress"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class Workflow(FirmOwnedModel):
    template = models.ForeignKey(WorkflowTemplate, on_delete=models.PROTECT, related_name="workflows")
    name = models.CharField(max_length=120)
    contact = models.ForeignKey("crm.Contact", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=WorkflowStatus.choices, default=WorkflowStatus.ACTIVE)
    start_date = models.DateField()
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    steps_total = models.PositiveSmallIntegerField(default=0)
    steps_done = models.PositiveSmallIntegerField(default=0)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["firm", "contact", "status"], name="agenda_workflow_contact_idx"),
            models.Index(fields=["firm", "template", "status"], name="agenda_workflow_template_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def percent(self) -> int:
        return round(100 * self.steps_done / self.steps_total) if self.steps_total else 100


class WorkflowBatch(FirmOwnedModel):
    """A start of one template on many contacts, run as a background job (``services.run_bulk_start``)."""

    template = models.ForeignKey(WorkflowTemplate, on_delete=models.PROTECT, related_name="+")
    contact_ids = ArrayField(models.BigIntegerField(), default=list)
    start_date = models.DateField()
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    job = models.ForeignKey("jobs.Job", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["-created_at", "-id"]


class StepStatus(models.TextChoices):
    WAITING = "waiting", "Waiting"
    OPEN = "open", "Open"
    DONE = "done", "Done"


class WorkflowStep(FirmOwnedModel):
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=200)
    description = models.TextField(max_length=2000, blank=True)
    due_days = models.PositiveSmallIntegerField(default=1)
    due_from = models.CharField(max_length=10, choices=DueFrom.choices, default=DueFrom.PREVIOUS)
    depends_on = models.PositiveSmallIntegerField(null=True, blank=True)
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Copied from the workflow, so the agenda reads a user's open steps with their contact from one index.
    contact = models.ForeignKey("crm.Contact", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=8, choices=StepStatus.choices, default=StepStatus.WAITING)
    due_date = models.DateField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta(FirmOwnedModel.Meta):
        ordering = ["workflow", "position"]
        constraints = [models.UniqueConstraint(fields=["firm", "workflow", "position"], name="agenda_step_uniq")]
        indexes = [
            models.Index(
                fields=["firm", "assignee", "due_date", "id"],
                name="agenda_step_open_idx",
                condition=Q(status="open"),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"


class Task(FirmOwnedModel):
    name_fields: ClassVar[frozenset[str]] = frozenset({"title"})

    title = models.CharField(max_length=200)
    description = models.TextField(max_length=FREE_TEXT_MAX, blank=True)
    contact = models.ForeignKey("crm.Contact", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(max_length=8, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    due_date = models.DateField("due")
    remind_days_before = models.PositiveSmallIntegerField(
        "reminder (days before)", null=True, blank=True, validators=[MaxValueValidator(30, "At most 30 days.")]
    )
    remind_on = models.DateField(null=True, blank=True, editable=False)
    reminder_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["due_date", "id"]
        indexes = [
            models.Index(
                fields=["firm", "assignee", "due_date", "id"], name="agenda_task_open_idx", condition=Q(status="open")
            ),
            models.Index(fields=["firm", "contact", "status"], name="agenda_task_contact_idx"),
            models.Index(
                fields=["firm", "remind_on"],
                name="agenda_task_reminder_idx",
                condition=Q(status="open", reminder_sent_at=None, remind_on__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Note(FirmOwnedModel):
    contact = models.ForeignKey("crm.Contact", on_delete=models.CASCADE, related_name="+")
    body = models.TextField(max_length=FREE_TEXT_MAX)
    pinned = models.BooleanField(default=False)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["-pinned", "-updated_at", "-id"]
        indexes = [models.Index(fields=["firm", "contact", "pinned", "updated_at"], name="agenda_note_contact_idx")]

    def __str__(self) -> str:
        return self.body[:60]
