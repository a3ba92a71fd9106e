"""The billing API. Rights: Fee Administration.

The fee calculator (``POST /api/v1/billing/fee-calculator/``) computes, without storing anything,
the fee of a schedule on given values: the same calculation as the calculator page and, next, the
fee runs (``billing.fees``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_access import FirmScopedAPIView, FirmScopedViewSet
from accounts.rights import Right
from advisorportal.idempotency.api import idempotent_view
from billing import fees, selectors, services
from billing.models import FeeAssignment, FeeRun, FeeSchedule, FeeScheduleVersion, LineStatus
from billing.serializers import (
    RULES,
    AssignBodySerializer,
    AssignmentSerializer,
    FeeCalculatorResultSerializer,
    FeeCalculatorSerializer,
    FeeScheduleSerializer,
    LineSerializer,
    RunBodySerializer,
    RunSerializer,
    ScheduleBodySerializer,
    VersionBodySerializer,
    VersionSerializer,
    calculate_body,
    result_data,
)
from crm.models import Household

ID_PATTERN = "[0-9]{1,19}"

EXAMPLE = {
    "schedule": {
        "method": "tiered",
        "tiers": [{"up_to": "1000000.00", "annual_rate_pct": "1.00"}, {"up_to": None, "annual_rate_pct": "0.75"}],
        "minimum_annual_fee": "1000.00",
        "maximum_annual_fee": None,
        "flat_annual_fee": None,
    },
    "accounts": [{"ref": "U1234567", "value": "900000.00"}, {"ref": "U1234568", "value": "350000.00"}],
    "householding": True,
    "frequency": "quarterly",
}


class FeeCalculatorView(FirmScopedAPIView):
    required_right = Right.FEE_ADMINISTRATION

    @extend_schema(
        summary="The fee of a schedule on given values (nothing is stored)",
        description=RULES + "\n\nBad input (overlapping or unordered bands, negative values, an unknown method) "
        "answers 400 with `fields` naming each field by its path, e.g. `schedule.tiers[1].up_to`.",
        request=FeeCalculatorSerializer,
        responses=FeeCalculatorResultSerializer,
        examples=[OpenApiExample("Householded, tiered, quarterly", value=EXAMPLE, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        try:
            result = calculate_body(request.data)
        except fees.FeeInputError as error:
            raise exceptions.ValidationError({path: [message] for path, message in error.errors.items()}) from None
        return Response(result_data(result))


# --- Schedules, assignments and runs --------------------------------------------------------------


def _service(call: Callable[..., Any], **kwargs: Any) -> Any:
    """Run a billing service: its ``ValidationError`` is the API's 400 naming the field."""
    try:
        return call(**kwargs)
    except services.Refused:
        raise
    except DjangoValidationError as error:
        raise exceptions.ValidationError(
            error.message_dict if hasattr(error, "error_dict") else {"non_field_errors": error.messages}
        ) from None


class BillingViewSet(FirmScopedViewSet):
    required_right = Right.FEE_ADMINISTRATION
    filter_backends: list[Any] = []
    lookup_value_regex = ID_PATTERN


def _refusal(refused: services.Refused) -> Response:
    """A refused action's 400, answered (not raised) so that the request's transaction, and with it
    the refusal's audit entry, is kept (the service rolled its own work back)."""
    fields = {name: list(messages) for name, messages in refused.message_dict.items()}
    return Response({"error": {"code": "invalid", "message": "Some fields are not valid.", "fields": fields}}, 400)


class ScheduleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BillingViewSet):
    """Fee schedules, each with its versions (newest first): a version's terms bill the periods that
    start on or after its `effective_from`. `method` is `tiered` (each band's rate on the part of the
    value inside it), `breakpoint` (one rate, by the band the whole value falls in) or `flat`."""

    serializer_class = FeeScheduleSerializer
    keyset = ("name", "id")

    def get_queryset(self) -> QuerySet[FeeSchedule]:
        if self.describing_schema():
            return FeeSchedule.objects.unscoped().none()
        versions = FeeScheduleVersion.objects.order_by("-effective_from")
        return FeeSchedule.objects.prefetch_related(Prefetch("versions", queryset=versions))

    @extend_schema(request=ScheduleBodySerializer, responses={201: FeeScheduleSerializer})
    @idempotent_view("billing.schedule_create")
    def create(self, request: Request) -> Response:
        """A schedule with its first version. Bad bands (overlapping, unordered, a last band with an
        upper bound) answer 400 naming the band in `tiers`; nothing is saved."""
        body = ScheduleBodySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        data["tiers"] = [dict(t) for t in data.get("tiers", [])]
        schedule = _service(services.schedule_create, actor=request.user, **data)
        return Response(FeeScheduleSerializer(self.get_queryset().get(pk=schedule.pk)).data, status=201)

    @extend_schema(request=VersionBodySerializer, responses={201: VersionSerializer})
    @idempotent_view("billing.schedule_version")
    @action(detail=True, methods=["post"])
    def versions(self, request: Request, pk: str | None = None) -> Response:
        """New terms from `effective_from`. Refused on or before the end of a period already posted
        on this schedule (400 on `effective_from`, with an audit entry)."""
        schedule = self.get_object()
        body = VersionBodySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        data["tiers"] = [dict(t) for t in data.get("tiers", [])]
        try:
            version = _service(services.version_add, actor=request.user, schedule=schedule, **data)
        except services.Refused as refused:
            return _refusal(refused)
        return Response(VersionSerializer(version).data, status=201)

    @extend_schema(request=None, responses=FeeScheduleSerializer)
    @action(detail=True, methods=["post"], url_path="make-default")
    def make_default(self, request: Request, pk: str | None = None) -> Response:
        """Make this the firm's default: it bills every account without a schedule of its own."""
        schedule = self.get_object()
        _service(services.schedule_make_default, actor=request.user, schedule=schedule)
        return Response(FeeScheduleSerializer(self.get_queryset().get(pk=schedule.pk)).data)


class AssignmentQuerySerializer(serializers.Serializer[Any]):
    schedule = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)


@extend_schema_view(list=extend_schema(parameters=[AssignmentQuerySerializer]))
class AssignmentViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, BillingViewSet):
    """What bills each account: a schedule on an account (its own value, perhaps capped, or not
    billed at all) or on a household (billed together: the combined value sets the bands; perhaps
    one payer account). An account's own assignment wins over its household's, which wins over the
    firm's default. Accounts and households outside your Fee Administration scope are not found."""

    serializer_class = AssignmentSerializer
    keyset = ("id",)

    def get_queryset(self) -> QuerySet[FeeAssignment]:
        if self.describing_schema():
            return FeeAssignment.objects.unscoped().none()
        rows = FeeAssignment.objects.select_related("account")
        query = AssignmentQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        if query.validated_data.get("schedule"):
            rows = rows.filter(schedule_id=query.validated_data["schedule"])
        if selectors.whole_firm(self.request.user):
            return rows
        visible = selectors.accounts(user=self.request.user)
        return rows.filter(account__in=visible) | rows.filter(household__in=visible.values("household_id"))

    @extend_schema(request=AssignBodySerializer, responses={201: AssignmentSerializer(many=True)})
    @idempotent_view("billing.assign")
    def create(self, request: Request) -> Response:
        """Put `schedule` on `accounts` (numbers) and `households` (ids), replacing what they had. An
        unknown account or one outside your scope is a 400 naming it; a household you do not see
        whole is a 404. Nothing is assigned unless everything is."""
        body = AssignBodySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        user = request.user
        schedule = None
        if data["schedule"] is not None:
            schedule = FeeSchedule.objects.filter(pk=data["schedule"]).first()
            if schedule is None:
                raise exceptions.ValidationError({"schedule": ["No such fee schedule."]})
        found, missing = selectors.accounts_numbered(user=user, numbers=list(dict.fromkeys(data["accounts"])))
        if missing:
            raise exceptions.ValidationError({"accounts": [f"No such account: {', '.join(missing[:10])}."]})
        households = []
        for pk in dict.fromkeys(data["households"]):
            try:
                households.append(selectors.household_get(user=user, pk=pk))
            except Household.DoesNotExist:
                raise Http404 from None
        payer = None
        if data["payer"]:
            payers, _ = selectors.accounts_numbered(user=user, numbers=[data["payer"]])
            if not payers:
                raise exceptions.ValidationError({"payer": [f"No such account: {data['payer']}."]})
            payer = payers[0]
        _service(services.assign, actor=user, schedule=schedule, accounts=found, households=households,
                 householding=data["householding"], payer=payer, excluded=data["excluded"],
                 fee_cap_pct=data["fee_cap_pct"])  # fmt: skip
        rows = FeeAssignment.objects.filter(account__in=found) | FeeAssignment.objects.filter(household__in=households)
        return Response(AssignmentSerializer(rows.select_related("account").order_by("id"), many=True).data, status=201)

    def perform_destroy(self, instance: FeeAssignment) -> None:
        services.assignment_remove(actor=self.request.user, assignment=instance)


class LineQuerySerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=LineStatus.choices, required=False)


class RunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BillingViewSet):
    """Fee runs: `POST` computes a preview in the background (`job_status`, `progress`), with each
    account's line and the pre-bill `audit`; nothing is posted. `approve` (four eyes: not by the
    preparer when the firm asks for it), then `post` debits each client and credits the master
    account once per account and period. A run of a period already posted posts only the
    difference. Each action takes an `Idempotency-Key`; a refusal is a 400 naming `run`."""

    serializer_class = RunSerializer
    keyset = ("-id",)

    def get_queryset(self) -> QuerySet[FeeRun]:
        if self.describing_schema():
            return FeeRun.objects.unscoped().none()
        return selectors.runs(user=self.request.user)

    @extend_schema(request=RunBodySerializer, responses={202: RunSerializer})
    @idempotent_view("billing.run_create")
    def create(self, request: Request) -> Response:
        body = RunBodySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        user = request.user
        numbers = list(dict.fromkeys(data["accounts"]))
        if not numbers and not selectors.whole_firm(user):
            numbers = list(selectors.accounts(user=user).values_list("number", flat=True))
        found, missing = selectors.accounts_numbered(user=user, numbers=numbers)
        if missing:
            raise exceptions.ValidationError({"accounts": [f"No such account: {', '.join(missing[:10])}."]})
        run = _service(services.run_create, actor=user, period_start=data["period_start"],
                       period_end=data["period_end"], account_numbers=[a.number for a in found])  # fmt: skip
        return Response(RunSerializer(self.get_queryset().get(pk=run.pk)).data, status=202)

    @extend_schema(parameters=[LineQuerySerializer], responses=LineSerializer(many=True))
    @action(detail=True, methods=["get"])
    def lines(self, request: Request, pk: str | None = None) -> Response:
        """The run's lines in your scope, by account number: value and how valued, fee, what was
        already billed, what posts, and the explanation."""
        run = self.get_object()
        query = LineQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = selectors.run_lines(user=request.user, run=run, status=query.validated_data.get("status", ""))
        page = self.paginate_queryset(rows.order_by("id"))
        return self.get_paginated_response(LineSerializer(page, many=True).data)

    def _act(self, call: Callable[..., Any], status_code: int = 200) -> Response:
        try:
            run = _service(call, actor=self.request.user, run=self.get_object())
        except services.Refused as refused:
            return _refusal(refused)
        return Response(RunSerializer(self.get_queryset().get(pk=run.pk)).data, status=status_code)

    @extend_schema(request=None, responses={202: RunSerializer})
    @idempotent_view("billing.run_recompute")
    @action(detail=True, methods=["post"])
    def recompute(self, request: Request, pk: str | None = None) -> Response:
        """Compute a preview again (after a correction)."""
        return self._act(services.run_recompute, 202)

    @extend_schema(request=None, responses=RunSerializer)
    @idempotent_view("billing.run_approve")
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        """Approve a computed preview (one approved run per period at a time)."""
        return self._act(services.run_approve)

    @extend_schema(request=None, responses={202: RunSerializer})
    @idempotent_view("billing.run_post")
    @action(detail=True, methods=["post"], url_path="post")
    def post_run(self, request: Request, pk: str | None = None) -> Response:
        """Post an approved run in the background; posting a run twice is refused."""
        return self._act(services.run_post, 202)

    @extend_schema(request=None, responses=RunSerializer)
    @idempotent_view("billing.run_discard")
    @action(detail=True, methods=["post"])
    def discard(self, request: Request, pk: str | None = None) -> Response:
        """Discard a preview or an approved run (nothing of it was posted)."""
        return self._act(services.run_discard)
