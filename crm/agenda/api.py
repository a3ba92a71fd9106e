"""The agenda API: workflow templates, workflows (start on contacts, a group or a saved view; a
contact outside your scope or of another firm is a 404 and nothing starts), completing steps,
tasks and notes. Same selectors, services, right (CRM) and scope as the pages."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_access import FirmScopedViewSet
from accounts.rights import Right
from advisorportal.api_schema import object_filter
from crm import selectors as crm_selectors
from crm.agenda import selectors, services
from crm.agenda.models import Note, Task, TaskStatus, Workflow, WorkflowStep, WorkflowTemplate
from crm.agenda.serializers import (
    NoteSerializer,
    TaskSerializer,
    TemplateSerializer,
    WorkflowSerializer,
    WorkflowStartResultSerializer,
    WorkflowStartSerializer,
    WorkflowStepSerializer,
)
from crm.models import Contact


def _or_404(getter: Any, **kwargs: Any) -> Any:
    try:
        return getter(**kwargs)
    except (ObjectDoesNotExist, ValueError, TypeError):
        raise Http404 from None


def _contact(user: Any, pk: Any) -> Contact | None:
    return None if pk is None else _or_404(crm_selectors.contact_get, user=user, pk=pk)


def _user(pk: Any) -> Any:
    if pk is None:
        return None
    user = selectors.assignable_users().filter(pk=pk).first()
    if user is None:
        raise ValidationError({"assignee": "Choose an active colleague of your firm."})
    return user


class TemplateViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                      mixins.UpdateModelMixin, FirmScopedViewSet):  # fmt: skip
    """Workflow templates with their steps; editing one leaves workflows already started as they are."""

    required_right = Right.CRM
    serializer_class = TemplateSerializer
    keyset = ("name", "id")

    def get_queryset(self) -> QuerySet[WorkflowTemplate]:
        if self.describing_schema():
            return WorkflowTemplate.objects.unscoped().none()
        return WorkflowTemplate.objects.prefetch_related("steps")

    def _steps(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        steps = []
        for step in data["steps"]:
            step = dict(step)
            step["assignee"] = _user(step.pop("assignee_id", None))
            steps.append(step)
        return steps

    def perform_create(self, serializer: Any) -> None:
        data = serializer.validated_data
        serializer.instance = services.template_save(
            actor=self.request.user, name=data["name"], description=data["description"],
            is_active=data["is_active"], steps=self._steps(data),
        )  # fmt: skip

    def perform_update(self, serializer: Any) -> None:
        data = {**TemplateSerializer(serializer.instance).data, **serializer.validated_data}
        if "steps" not in serializer.validated_data:
            data["steps"] = [dict(s, assignee_id=s.pop("assignee")) for s in data["steps"]]
            for s in data["steps"]:
                s.pop("position", None)
        serializer.instance = services.template_save(
            actor=self.request.user, template=serializer.instance, name=data["name"],
            description=data["description"], is_active=data["is_active"], steps=self._steps(data),
        )  # fmt: skip

    @extend_schema(request=None, responses={201: TemplateSerializer})
    @action(detail=True, methods=["post"])
    def copy(self, request: Request, pk: Any = None) -> Response:
        """A copy of the template named "… (copy)", to edit."""
        copy = services.template_copy(actor=request.user, template=self.get_object())
        return Response(TemplateSerializer(copy).data, status=status.HTTP_201_CREATED)


class WorkflowViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    """Workflows on contacts in your scope, newest first; `steps` lists one's steps."""

    required_right = Right.CRM
    serializer_class = WorkflowSerializer
    keyset = ("-started_at", "-id")

    def get_queryset(self) -> QuerySet[Workflow]:
        if self.describing_schema():
            return Workflow.objects.unscoped().none()
        params = self.request.query_params
        contact = _contact(self.request.user, params.get("contact")) if params.get("contact") else None
        return selectors.workflow_list(user=self.request.user, contact=contact, status=params.get("status", ""))

    def get_object(self) -> Workflow:
        return _or_404(selectors.workflow_get, user=self.request.user, pk=self.kwargs["pk"])

    @extend_schema(
        parameters=[
            object_filter("contact", "Only this contact's workflows"),
            OpenApiParameter("status", OpenApiTypes.STR),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={200: WorkflowStepSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=None)  # every step at once, a plain array
    def steps(self, request: Request, pk: Any = None) -> Response:
        return Response(WorkflowStepSerializer(selectors.workflow_steps(workflow=self.get_object()), many=True).data)

    @extend_schema(request=WorkflowStartSerializer, responses={201: WorkflowStartResultSerializer})
    @action(detail=False, methods=["post"])
    def start(self, request: Request) -> Response:
        """Start a template on `contacts` (ids), a `group` or a `saved_view`. Any contact outside
        your scope or of another firm: 404, nothing started. More than 200 contacts: a background
        job (its id in `job`)."""
        body = WorkflowStartSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        user = request.user
        template = _or_404(selectors.template_get, pk=data["template"])
        contacts = list(
            _or_404(
                crm_selectors.contact_selection, user=user, contacts=data["contacts"], group=data["group"],
                saved_view=data["saved_view"],
            ).contacts
        )  # fmt: skip
        result = services.workflows_start(
            actor=user, template=template, contacts=contacts, start_date=data["start_date"]
        )
        body_out: dict[str, Any] = (
            {"workflows": [w.pk for w in result], "job": None}
            if isinstance(result, list)
            else {"workflows": [], "job": result.pk}
        )
        return Response(body_out, status=status.HTTP_201_CREATED)


class StepViewSet(mixins.ListModelMixin, FirmScopedViewSet):
    """Your open workflow steps (on contacts in your scope), soonest due first; `complete` one."""

    required_right = Right.CRM
    serializer_class = WorkflowStepSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[WorkflowStep]:
        return WorkflowStep.objects.unscoped().none()

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        steps = selectors.open_steps_for_user(user=request.user, limit=500)
        return Response(WorkflowStepSerializer(steps, many=True).data)

    @extend_schema(request=None, responses={200: WorkflowStepSerializer})
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: Any = None) -> Response:
        """Complete an open step; the steps waiting on it open. A step that is not open: 400."""
        step = _or_404(selectors.step_get, user=request.user, pk=pk)
        step = services.step_complete(actor=request.user, step=step)
        return Response(WorkflowStepSerializer(step).data)


class TaskViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                  mixins.UpdateModelMixin, mixins.DestroyModelMixin, FirmScopedViewSet):  # fmt: skip
    """Tasks. The list is your open tasks, soonest due first (`status=done` for done ones,
    `contact` for a contact's, `assignee=any` for everyone's you may see)."""

    required_right = Right.CRM
    serializer_class = TaskSerializer
    keyset = ("due_date", "id")

    def get_queryset(self) -> QuerySet[Task]:
        if self.describing_schema():
            return Task.objects.unscoped().none()
        params = self.request.query_params
        user = self.request.user
        if self.action != "list":
            return selectors.task_list(user=user, status="", assignee=None)
        contact = _contact(user, params.get("contact")) if params.get("contact") else None
        status_ = params.get("status", TaskStatus.OPEN)
        if status_ not in TaskStatus.values:
            raise ValidationError({"status": "Use open or done."})
        return selectors.task_list(
            user=user, status=status_, contact=contact, assignee=None if params.get("assignee") == "any" else "me"
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=TaskStatus.values, description="Default: open"),
            object_filter("contact", "Only this contact's tasks"),
            OpenApiParameter("assignee", OpenApiTypes.STR, description="any: everyone's you may see; default: yours"),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    def get_object(self) -> Task:
        return _or_404(selectors.task_get, user=self.request.user, pk=self.kwargs["pk"])

    def perform_create(self, serializer: Any) -> None:
        data = dict(serializer.validated_data)
        data.pop("status", None)
        user = self.request.user
        contact = _contact(user, data.pop("contact_id"))
        assignee = _user(data.pop("assignee_id"))
        serializer.instance = services.task_create(actor=user, assignee=assignee, contact=contact, **data)

    def perform_update(self, serializer: Any) -> None:
        data = dict(serializer.validated_data)
        user, task = self.request.user, serializer.instance
        done = data.pop("status", None)
        if "contact_id" in data:
            data["contact"] = _contact(user, data.pop("contact_id"))
        if "assignee_id" in data:
            data["assignee"] = _user(data.pop("assignee_id")) or task.assignee
        task = services.task_update(actor=user, task=task, **data)
        if done is not None and done != task.status:
            task = services.task_complete(actor=user, task=task, done=done == TaskStatus.DONE)
        serializer.instance = task

    def perform_destroy(self, instance: Task) -> None:
        services.task_delete(actor=self.request.user, task=instance)


class NoteViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                  mixins.UpdateModelMixin, mixins.DestroyModelMixin, FirmScopedViewSet):  # fmt: skip
    """Notes on a contact (`contact` is required in the list), pinned first; `q` searches the
    text, `sort` is newest, oldest or updated. Every edit and delete is audited."""

    required_right = Right.CRM
    serializer_class = NoteSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[Note]:
        if self.describing_schema():
            return Note.objects.unscoped().none()
        return Note.objects.unscoped().none()

    @extend_schema(
        parameters=[
            object_filter("contact", "The contact whose notes to list", required=True),
            *(OpenApiParameter(n, OpenApiTypes.STR) for n in ("q", "sort")),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        params = request.query_params
        if not params.get("contact"):
            raise ValidationError({"contact": "Give the contact whose notes to list."})
        contact = _contact(request.user, params["contact"])
        assert contact is not None
        notes = selectors.note_list(user=request.user, contact=contact, q=params.get("q", ""),
                                    sort=params.get("sort", "newest"))[:500]  # fmt: skip
        return Response(NoteSerializer(notes, many=True).data)

    def get_object(self) -> Note:
        return _or_404(selectors.note_get, user=self.request.user, pk=self.kwargs["pk"])

    def perform_create(self, serializer: Any) -> None:
        data = serializer.validated_data
        contact = _contact(self.request.user, data["contact_id"])
        assert contact is not None
        serializer.instance = services.note_create(
            actor=self.request.user, contact=contact, body=data["body"], pinned=data["pinned"]
        )

    def perform_update(self, serializer: Any) -> None:
        data = serializer.validated_data
        if "contact_id" in data and data["contact_id"] != serializer.instance.contact_id:
            raise ValidationError({"contact": "A note stays on its contact."})
        serializer.instance = services.note_update(
            actor=self.request.user, note=serializer.instance, body=data.get("body"), pinned=data.get("pinned")
        )

    def perform_destroy(self, instance: Note) -> None:
        services.note_delete(actor=self.request.user, note=instance)
