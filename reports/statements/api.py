"""Statements and report definitions API under /api/v1/reports/ (Activity Statements; a performance
report also needs PortfolioAnalyst: 403 without). An account, household, statement or definition
outside the caller's scope, another firm's and a missing one are the same 404. Writes take an
``Idempotency-Key``: a retried request answers the first result and makes nothing again.

- ``GET/POST /reports/statements/``: the statements (keyset pages); make one (202: a worker makes it).
- ``GET /reports/statements/{id}/``: one, with its figures; ``?format=pdf`` the PDF as kept.
- ``GET/POST /reports/definitions/``, ``GET/PATCH/DELETE /reports/definitions/{id}/``.
- ``POST /reports/definitions/{id}/run/``: run it now for its period (202; one job; idempotent by
  itself too: a run of the same period carries on, mailing nobody twice).
- ``GET /reports/definitions/{id}/deliveries/``: who was emailed, or why not.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import exceptions, mixins, renderers, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_access import FirmScopedViewSet
from accounts.rights import Right
from advisorportal.idempotency.api import idempotent_view
from advisorportal.serializers import StrictSerializer
from reports.selectors import SubjectNotFound
from reports.statements import delivery, selectors, services
from reports.statements.models import (
    Delivery,
    DeliveryStatus,
    Frequency,
    Kind,
    Period,
    ReportDefinition,
    Section,
    Statement,
    Style,
)
from reports.statements.views import pdf_response

ID_PATTERN = "[0-9]{1,19}"


PERIOD_FIELDS = {"start": "period_start", "end": "period_end"}  # the services' names, the API's names


def _refused(error: ValidationError) -> exceptions.ValidationError:
    if not hasattr(error, "error_dict"):
        return exceptions.ValidationError({"non_field_errors": error.messages})
    return exceptions.ValidationError({PERIOD_FIELDS.get(k, k): v for k, v in error.message_dict.items()})


def _call(function: Any, **kwargs: Any) -> Any:
    try:
        return function(**kwargs)
    except SubjectNotFound:
        raise Http404 from None
    except DjangoPermissionDenied as error:
        raise exceptions.PermissionDenied(str(error)) from None
    except ValidationError as error:
        raise _refused(error) from None


def _choice(choices: list[tuple[str, str]], **kwargs: Any) -> serializers.ChoiceField:
    """A choice field described in the schema as a string of its listed values. drf-spectacular
    would make an enum component named after the field (``kind``, ``frequency``), whose names other
    apps' enums already take; the values are the same, written as a pattern and listed in words."""
    values = [value for value, _ in choices]
    schema = {"type": "string", "pattern": f"^({'|'.join(values)})$",
              "description": "One of: " + "; ".join(f"`{v}` ({label})" for v, label in choices) + "."}  # fmt: skip
    # A class of its own: DRF copies a declared field by calling its class again, so an annotation
    # on the instance would be lost.
    field_class = extend_schema_field(schema)(type("StatementChoiceField", (serializers.ChoiceField,), {}))
    return field_class(choices=choices, **kwargs)


class PdfRenderer(renderers.BaseRenderer):
    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> Any:
        return data


# --- Serializers ----------------------------------------------------------------------------------------


class StatementSerializer(serializers.ModelSerializer[Statement]):
    account = serializers.SerializerMethodField(help_text="The account's number (null for a household).")
    status = serializers.SerializerMethodField(help_text="queued, running, done or failed (the worker's job).")
    error = serializers.SerializerMethodField(help_text="Why it was not made, if it failed.")
    pdf_url = serializers.SerializerMethodField(help_text="The PDF (GET, ?format=pdf); null until made.")
    kind = _choice(Kind.choices, read_only=True)

    class Meta:
        model = Statement
        fields = [
            "id", "kind", "style", "sections", "account", "household", "contact", "title", "period_start",
            "period_end", "benchmark", "status", "error", "content_hash", "pages", "made_at", "pdf_url", "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_account(self, statement: Statement) -> str | None:
        return statement.account.number if statement.account_id and statement.account else None

    def get_status(self, statement: Statement) -> str:
        if statement.made:
            return "done"
        return statement.job.status if statement.job_id and statement.job else "queued"

    def get_error(self, statement: Statement) -> str:
        job = statement.job if statement.job_id else None
        return job.error if job is not None and job.status == "failed" else ""

    def get_pdf_url(self, statement: Statement) -> str | None:
        return reverse("api:reports-statement-detail", args=[statement.pk]) + "?format=pdf" if statement.made else None


class StatementDetailSerializer(StatementSerializer):
    figures = serializers.JSONField(read_only=True, help_text="The figures the PDF, CSV and Excel show.")

    class Meta(StatementSerializer.Meta):
        fields = [*StatementSerializer.Meta.fields, "figures"]
        read_only_fields = fields


class StatementBodySerializer(StrictSerializer):
    account = serializers.CharField(required=False, max_length=32, help_text="An account number; or `household`.")
    household = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    kind = _choice(Kind.choices, default=Kind.ACTIVITY)
    style = serializers.ChoiceField(choices=Style.choices, default=Style.DETAILED)  # type: ignore[assignment]
    sections = serializers.ListField(
        child=serializers.ChoiceField(choices=Section.choices), required=False, max_length=len(Section.choices),
        help_text="None: the document's usual sections.",
    )  # fmt: skip
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    benchmark = serializers.CharField(required=False, allow_blank=True, max_length=20, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if bool(attrs.get("account")) == bool(attrs.get("household")):
            raise serializers.ValidationError({"account": "Give one account number or one household id."})
        return attrs


class DefinitionSerializer(serializers.ModelSerializer[ReportDefinition]):
    accounts = serializers.SerializerMethodField(help_text="Account numbers reported on.")
    households = serializers.SerializerMethodField(help_text="Household ids reported on.")
    kind = _choice(Kind.choices, read_only=True)
    frequency = _choice(Frequency.choices, read_only=True)

    class Meta:
        model = ReportDefinition
        fields = [
            "id", "name", "kind", "style", "sections", "period", "benchmark", "every_account", "accounts",
            "households", "frequency", "next_run_on", "email_clients", "active", "created_by", "created_at",
            "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_accounts(self, definition: ReportDefinition) -> list[str]:
        return [t.account.number for t in definition.targets.all() if t.account_id and t.account]

    def get_households(self, definition: ReportDefinition) -> list[int]:
        return [t.household_id for t in definition.targets.all() if t.household_id]


class DefinitionBodySerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    kind = _choice(Kind.choices, default=Kind.ACTIVITY)
    style = serializers.ChoiceField(choices=Style.choices, default=Style.DETAILED)  # type: ignore[assignment]
    sections = serializers.ListField(
        child=serializers.ChoiceField(choices=Section.choices), required=False, max_length=len(Section.choices)
    )
    period = serializers.ChoiceField(choices=Period.choices, default=Period.PREVIOUS_QUARTER)
    benchmark = serializers.CharField(required=False, allow_blank=True, max_length=20, default="")
    every_account = serializers.BooleanField(default=False)
    accounts = serializers.ListField(child=serializers.CharField(max_length=32), required=False, max_length=5000)
    households = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), required=False, max_length=5000
    )
    frequency = _choice(Frequency.choices, default=Frequency.NONE)
    email_clients = serializers.BooleanField(default=True)
    active = serializers.BooleanField(default=True)


class DefinitionRunSerializer(serializers.Serializer[Any]):
    run = serializers.IntegerField()
    definition = serializers.IntegerField()
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    job = serializers.IntegerField()
    status = serializers.CharField(help_text="queued, running, done, failed or cancelled.")
    done = serializers.IntegerField()
    total = serializers.IntegerField()


class DeliverySerializer(serializers.ModelSerializer[Delivery]):
    status = serializers.ChoiceField(choices=DeliveryStatus.choices, read_only=True)
    email_status = serializers.SerializerMethodField(help_text="The email's delivery status; null if none.")

    class Meta:
        model = Delivery
        fields = [
            "id", "contact", "period_start", "period_end", "status", "recipient_email", "statement_ids", "message",
            "sent_at", "email_status", "run",
        ]  # fmt: skip
        read_only_fields = fields

    def get_email_status(self, item: Delivery) -> str | None:
        return item.email.status if item.email_id and item.email else None


# --- Views ---------------------------------------------------------------------------------------------------


class StatementsBase(FirmScopedViewSet):
    required_right = Right.ACTIVITY_STATEMENTS
    filter_backends: list[Any] = []
    lookup_value_regex = ID_PATTERN
    keyset = ("-id",)


@extend_schema_view(list=extend_schema(summary="Statements and reports in your scope, newest first."))
class StatementViewSet(mixins.ListModelMixin, StatementsBase):
    """Activity statements and performance reports of an account or a household: made by a worker,
    kept on the client's documents with the SHA-256 of the PDF."""

    serializer_class = StatementSerializer
    renderer_classes = [renderers.JSONRenderer, PdfRenderer]

    def get_queryset(self) -> QuerySet[Statement]:
        if self.describing_schema():
            return Statement.objects.unscoped().none()
        return selectors.statements(user=self.request.user)

    @extend_schema(
        summary="Make a statement (a worker makes it; poll the statement for its status)",
        description="Bad input answers 400 naming the field: a period before inception or in the future, an "
        "end before the start, an unknown benchmark or section, an account without an owner. Nothing is made.",
        request=StatementBodySerializer,
        responses={202: StatementSerializer},
    )
    @idempotent_view("statements.statement_create")
    def create(self, request: Request) -> Response:
        body = StatementBodySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        account = None
        if data.get("account"):
            account = selectors.account_by_number(user=request.user, number=data["account"])
            if account is None:
                raise exceptions.ValidationError({"account": [f"No account {data['account']} in your scope."]})
        subject = _call(services.subject_of, user=request.user, account=account, household=data.get("household"))
        statement = _call(
            services.statement_request, actor=request.user, subject=subject, start=data["period_start"],
            end=data["period_end"], kind=data["kind"], style=data["style"], sections=data.get("sections"),
            benchmark=data["benchmark"],
        )  # fmt: skip
        return Response(StatementSerializer(statement).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="One statement with its figures; ?format=pdf the PDF as kept",
        responses={
            (200, "application/json"): StatementDetailSerializer,
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY),
        },
    )
    def retrieve(self, request: Request, pk: str | None = None) -> Response | HttpResponse:
        try:
            statement = selectors.statement_get(user=request.user, pk=pk)
        except SubjectNotFound:
            raise Http404 from None
        if request.accepted_renderer.format == "pdf":
            if not statement.made:
                raise exceptions.NotFound("The statement is not made yet.")
            response = pdf_response(statement, what="statement PDF download (API)")
            if response.status_code == 410:
                raise exceptions.NotFound(response.content.decode())
            return response
        return Response(StatementDetailSerializer(statement).data)


@extend_schema_view(
    list=extend_schema(summary="Report definitions you can see."),
    retrieve=extend_schema(summary="One report definition."),
    destroy=extend_schema(summary="Remove a definition (one that has runs is switched off instead)."),
)
class DefinitionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, StatementsBase):
    """Custom report definitions: sections, period and benchmark; the accounts and households (or
    every open account in your scope); on demand or monthly, quarterly or yearly by the scheduler,
    each client emailed a single-use download link once."""

    serializer_class = DefinitionSerializer
    keyset = ("id",)

    def get_queryset(self) -> QuerySet[ReportDefinition]:
        if self.describing_schema():
            return ReportDefinition.objects.unscoped().none()
        return selectors.definitions(user=self.request.user).prefetch_related("targets__account")

    def get_object(self) -> ReportDefinition:
        try:
            return selectors.definition_get(user=self.request.user, pk=self.kwargs["pk"])
        except SubjectNotFound:
            raise Http404 from None

    def _save(self, request: Request, definition: ReportDefinition | None) -> ReportDefinition:
        body = DefinitionBodySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        accounts = []
        for number in dict.fromkeys(data.pop("accounts", [])):
            found = selectors.account_by_number(user=request.user, number=number)
            if found is None:
                raise exceptions.ValidationError({"accounts": [f"No account {number} in your scope."]})
            accounts.append(found)
        saved: ReportDefinition = _call(
            services.definition_save, actor=request.user, definition=definition, accounts=accounts,
            households=data.pop("households", []), **data,
        )  # fmt: skip
        return self.get_queryset().get(pk=saved.pk)

    @extend_schema(summary="Save a report definition", request=DefinitionBodySerializer,
                   responses={201: DefinitionSerializer})  # fmt: skip
    @idempotent_view("statements.definition_create")
    def create(self, request: Request) -> Response:
        return Response(DefinitionSerializer(self._save(request, None)).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Replace a report definition's settings (every field, as on create)",
        request=DefinitionBodySerializer,
        responses={200: DefinitionSerializer},
    )
    @idempotent_view("statements.definition_update")
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        return Response(DefinitionSerializer(self._save(request, self.get_object())).data)

    def perform_destroy(self, instance: ReportDefinition) -> None:
        services.definition_delete(actor=self.request.user, definition=instance)

    @extend_schema(summary="Run the definition now for its period (one background job)", request=None,
                   responses={202: DefinitionRunSerializer})  # fmt: skip
    @idempotent_view("statements.definition_run")
    @action(detail=True, methods=["post"])
    def run(self, request: Request, pk: str | None = None) -> Response:
        run = _call(delivery.run_start, actor=request.user, definition=self.get_object())
        job = run.job
        assert job is not None
        body = {"run": run.pk, "definition": run.definition_id, "period_start": run.period_start,
                "period_end": run.period_end, "job": job.pk, "status": job.status, "done": job.done,
                "total": job.total}  # fmt: skip
        return Response(DefinitionRunSerializer(body).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(summary="Who was emailed for this definition, or why not", responses=DeliverySerializer(many=True))
    @action(detail=True, methods=["get"])
    def deliveries(self, request: Request, pk: str | None = None) -> Response:
        definition = self.get_object()
        rows = Delivery.objects.filter(definition=definition).select_related("email").order_by("-id")
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)
