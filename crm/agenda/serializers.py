from __future__ import annotations

from rest_framework import serializers

from crm.agenda import selectors
from crm.agenda.models import DueFrom, Note, Priority, StepStatus, Task, TaskStatus, WorkflowStatus


class TemplateStepSerializer(serializers.Serializer):
    position = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    due_days = serializers.IntegerField(min_value=0, max_value=365, default=1, help_text="Business days")
    due_from = serializers.ChoiceField(choices=DueFrom.choices, default=DueFrom.PREVIOUS)
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.NORMAL)
    assignee = serializers.IntegerField(source="assignee_id", required=False, allow_null=True, default=None)
    assignee_role = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    depends_on = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="An earlier step's position; null: the one before"
    )


class TemplateSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    is_active = serializers.BooleanField(default=True)
    steps = TemplateStepSerializer(many=True)


class WorkflowStepSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    workflow = serializers.IntegerField(source="workflow_id", read_only=True)
    contact = serializers.IntegerField(source="contact_id", read_only=True)
    position = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=StepStatus.choices, read_only=True)
    priority = serializers.ChoiceField(choices=Priority.choices, read_only=True)
    assignee = serializers.IntegerField(source="assignee_id", read_only=True, allow_null=True)
    depends_on = serializers.IntegerField(read_only=True, allow_null=True)
    due_date = serializers.DateField(read_only=True, allow_null=True)
    is_overdue = serializers.BooleanField(read_only=True, default=False)
    completed_at = serializers.DateTimeField(read_only=True, allow_null=True)


class WorkflowSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    template = serializers.IntegerField(source="template_id", read_only=True)
    contact = serializers.IntegerField(source="contact_id", read_only=True)
    status = serializers.ChoiceField(choices=WorkflowStatus.choices, read_only=True)
    start_date = serializers.DateField(read_only=True)
    steps_done = serializers.IntegerField(read_only=True)
    steps_total = serializers.IntegerField(read_only=True)
    is_overdue = serializers.BooleanField(read_only=True, default=False)
    started_at = serializers.DateTimeField(read_only=True)


class WorkflowStartSerializer(serializers.Serializer):
    template = serializers.IntegerField()
    contacts = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    group = serializers.IntegerField(required=False, allow_null=True, default=None)
    saved_view = serializers.IntegerField(required=False, allow_null=True, default=None)
    start_date = serializers.DateField(required=False, allow_null=True, default=None)


class WorkflowStartResultSerializer(serializers.Serializer):
    workflows = serializers.ListField(child=serializers.IntegerField(), help_text="Started at once")
    job = serializers.IntegerField(allow_null=True, help_text="A background job for a large start")


class TaskSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=20_000, required=False, allow_blank=True, default="")
    contact = serializers.IntegerField(source="contact_id", required=False, allow_null=True, default=None)
    assignee = serializers.IntegerField(source="assignee_id", required=False, allow_null=True, default=None)
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.NORMAL)
    status = serializers.ChoiceField(choices=TaskStatus.choices, required=False)
    due_date = serializers.DateField()
    remind_days_before = serializers.IntegerField(
        min_value=0, max_value=30, required=False, allow_null=True, default=None
    )
    is_overdue = serializers.SerializerMethodField(help_text="Open and due before today (the firm's date).")
    created_at = serializers.DateTimeField(read_only=True)
    completed_at = serializers.DateTimeField(read_only=True, allow_null=True)

    def get_is_overdue(self, task: Task) -> bool:
        # Computed here, not annotated by the selector: a task just created or changed is answered too.
        return task.status == TaskStatus.OPEN and task.due_date is not None and task.due_date < selectors.today()


class NoteSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    contact = serializers.IntegerField(source="contact_id")
    body = serializers.CharField(max_length=20_000)
    pinned = serializers.BooleanField(default=False)
    author = serializers.IntegerField(source="author_id", read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


__all__ = ["Note", "Task"]
