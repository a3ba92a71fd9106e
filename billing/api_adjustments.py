"""The API of fee adjustments and exclusions (Fee Administration).

- `/api/v1/billing/adjustments/`: one-off credits and reimbursements, posted at once (the firm's
  master account debited, the client's account credited) with their reason; `POST` takes an
  `Idempotency-Key` header, which is also the adjustment's key unless the body gives one: the
  same key posts once.
- `/api/v1/billing/recurring-adjustments/`: a fixed credit per billing period or a discount of
  the fee, from a date to a date; fee runs apply them to the account's line. `stop` ends one.
- `/api/v1/billing/versions/{id}/exclusions/` and `/api/v1/billing/assignments/{id}/exclusions/`:
  what a schedule version or an assignment leaves out of the billed value (and a version's flow
  threshold).

Accounts outside the caller's Fee Administration scope are not found (404 on a path, 400 naming
`account` in a body); a refusal answers 400 and keeps its audit entry.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_access import FirmScopedAPIView
from accounts.rights import Right
from advisorportal.idempotency.api import HEADER, idempotent_view
from advisorportal.serializers import StrictSerializer
from billing import adjustments, exclusion_services, selectors, services
from billing.api import BillingViewSet, _refusal
from billing.models import (
    Adjustment,
    AdjustmentKind,
    FeeAssignment,
    FeeScheduleVersion,
    RecurringAdjustment,
    RecurringKind,
)
from portfolios.models import AssetClass, ClientAccount


def _amount(**options: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=17, decimal_places=2, **options)


class AdjustmentSerializer(serializers.ModelSerializer[Adjustment]):
    account: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="number", read_only=True)
    created_by = serializers.CharField(source="created_by.full_name", read_only=True, allow_null=True)

    class Meta:
        model = Adjustment
        fields = ["id", "account", "kind", "amount", "currency", "reason", "trade_date", "idempotency_key",
                  "transfer", "created_by", "created_at"]  # fmt: skip


class AdjustmentBodySerializer(StrictSerializer):
    account = serializers.CharField(max_length=32, help_text="The client account's number")
    kind = serializers.ChoiceField(choices=AdjustmentKind.choices, default=AdjustmentKind.CREDIT)
    amount = _amount(min_value=Decimal("0.01"), help_text="Credited, in the account's currency")
    reason = serializers.CharField(max_length=300)
    trade_date = serializers.DateField(required=False, allow_null=True, default=None, help_text="Default: today")
    idempotency_key = serializers.CharField(
        max_length=255, required=False, default="", help_text="The adjustment's key (default: the Idempotency-Key)"
    )


class RecurringSerializer(serializers.ModelSerializer[RecurringAdjustment]):
    account: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="number", read_only=True)

    class Meta:
        model = RecurringAdjustment
        fields = ["id", "account", "kind", "amount", "pct", "reason", "starts_on", "ends_on", "created_at",
                  "stopped_at"]  # fmt: skip


class RecurringBodySerializer(StrictSerializer):
    account = serializers.CharField(max_length=32)
    kind = serializers.ChoiceField(choices=RecurringKind.choices)
    amount = _amount(required=False, allow_null=True, default=None, help_text="Fixed credit per period")
    pct = serializers.DecimalField(max_digits=9, decimal_places=6, required=False, allow_null=True, default=None,
                                   help_text="Discount: % of the period fee")  # fmt: skip
    reason = serializers.CharField(max_length=300)
    starts_on = serializers.DateField()
    ends_on = serializers.DateField(required=False, allow_null=True, default=None)


class StopBodySerializer(StrictSerializer):
    ends_on = serializers.DateField(required=False, allow_null=True, default=None, help_text="Default: today")


class PositionExclusionSerializer(serializers.Serializer[Any]):
    symbol = serializers.CharField(max_length=32)
    pct = serializers.DecimalField(max_digits=9, decimal_places=6, help_text="% of the position left out")


class ExclusionsSerializer(serializers.Serializer[Any]):
    symbols = serializers.ListField(child=serializers.CharField(max_length=32), required=False, max_length=200)
    asset_classes = serializers.ListField(child=serializers.ChoiceField(choices=AssetClass.choices), required=False,
                                          max_length=10)  # fmt: skip
    cash = serializers.BooleanField(required=False)
    positions = PositionExclusionSerializer(many=True, required=False)


class VersionExtrasSerializer(StrictSerializer):
    exclusions = ExclusionsSerializer(required=False)
    flow_threshold_amount = _amount(required=False, allow_null=True, default=None, min_value=Decimal(0))
    flow_threshold_pct = serializers.DecimalField(max_digits=9, decimal_places=6, required=False, allow_null=True,
                                                  default=None, min_value=Decimal(0))  # fmt: skip


class AssignmentExclusionsSerializer(StrictSerializer):
    exclusions = ExclusionsSerializer(required=False)


def _plain(exclusions: Any) -> dict[str, Any]:
    data = dict(exclusions or {})
    if "positions" in data:
        data["positions"] = [{"symbol": p["symbol"], "pct": str(p["pct"])} for p in data["positions"]]
    return data


def _account(user: Any, number: str) -> ClientAccount:
    try:
        return adjustments.account_of(user=user, number=number)
    except ClientAccount.DoesNotExist:
        raise exceptions.ValidationError({"account": [f"No such account: {number}."]}) from None


def _errors(error: DjangoValidationError) -> exceptions.ValidationError:
    return exceptions.ValidationError(
        error.message_dict if hasattr(error, "error_dict") else {"non_field_errors": error.messages}
    )


class AdjustmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BillingViewSet):
    """One-off credits and reimbursements of the accounts in your scope, newest first."""

    serializer_class = AdjustmentSerializer
    keyset = ("-id",)

    def get_queryset(self) -> QuerySet[Adjustment]:
        if self.describing_schema():
            return Adjustment.objects.unscoped().none()
        return adjustments.adjustments(user=self.request.user)

    @extend_schema(request=AdjustmentBodySerializer, responses={201: AdjustmentSerializer})
    @idempotent_view("billing.adjustment_create")
    def create(self, request: Request) -> Response:
        """Post a credit or reimbursement at once. Bad input (no reason, more than the master
        account's available cash, a reused key with other content) answers 400 naming the field;
        nothing is posted and the refusal is audited."""
        body = AdjustmentBodySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        account = _account(request.user, data["account"])
        key = data["idempotency_key"] or f"api.{request.headers.get(HEADER, '')}"
        try:
            made = adjustments.adjustment_post(actor=request.user, account=account, kind=data["kind"],
                                               amount=data["amount"], reason=data["reason"],
                                               trade_date=data["trade_date"], idempotency_key=key)  # fmt: skip
        except services.Refused as refused:
            return _refusal(refused)
        except DjangoValidationError as error:
            raise _errors(error) from None
        return Response(AdjustmentSerializer(made).data, status=201)


class RecurringViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BillingViewSet):
    """Recurring adjustments of the accounts in your scope: fee runs apply each to the account's
    line in every period that overlaps `starts_on` to `ends_on` (a discount, then a fixed credit,
    never below zero)."""

    serializer_class = RecurringSerializer
    keyset = ("id",)

    def get_queryset(self) -> QuerySet[RecurringAdjustment]:
        if self.describing_schema():
            return RecurringAdjustment.objects.unscoped().none()
        return adjustments.recurring(user=self.request.user).order_by("id")

    @extend_schema(request=RecurringBodySerializer, responses={201: RecurringSerializer})
    @idempotent_view("billing.recurring_create")
    def create(self, request: Request) -> Response:
        body = RecurringBodySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        account = _account(request.user, data.pop("account"))
        try:
            row = adjustments.recurring_add(actor=request.user, account=account, **data)
        except services.Refused as refused:
            return _refusal(refused)
        return Response(RecurringSerializer(row).data, status=201)

    @extend_schema(request=StopBodySerializer, responses=RecurringSerializer)
    @idempotent_view("billing.recurring_stop")
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, pk: str | None = None) -> Response:
        """End it on `ends_on` (today by default); what was billed stays."""
        row = self.get_object()
        body = StopBodySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            row = adjustments.recurring_stop(actor=request.user, recurring=row, ends_on=body.validated_data["ends_on"])
        except services.Refused as refused:
            return _refusal(refused)
        return Response(RecurringSerializer(row).data)


class VersionExclusionsView(FirmScopedAPIView):
    """What a schedule version leaves out of the billed value of every account it bills, and its
    flow threshold. Changed only while no posted fee was billed on the version."""

    required_right = Right.FEE_ADMINISTRATION

    def _version(self, pk: int) -> FeeScheduleVersion:
        try:
            return FeeScheduleVersion.objects.select_related("schedule").get(pk=pk)
        except FeeScheduleVersion.DoesNotExist:
            raise exceptions.NotFound("No such schedule version.") from None

    @staticmethod
    def _data(version: FeeScheduleVersion) -> dict[str, Any]:
        return VersionExtrasSerializer({"exclusions": version.exclusions,
                                        "flow_threshold_amount": version.flow_threshold_amount,
                                        "flow_threshold_pct": version.flow_threshold_pct}).data  # fmt: skip

    @extend_schema(responses=VersionExtrasSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(self._data(self._version(pk)))

    @extend_schema(request=VersionExtrasSerializer, responses=VersionExtrasSerializer)
    @idempotent_view("billing.version_exclusions")
    def put(self, request: Request, pk: int) -> Response:
        """Replace them. Refused (400 on `version`, audited) once a posted fee was billed on it."""
        version = self._version(pk)
        body = VersionExtrasSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            version = exclusion_services.version_extras_set(
                actor=request.user, version=version, exclusions=_plain(data.get("exclusions")),
                flow_threshold_amount=data["flow_threshold_amount"], flow_threshold_pct=data["flow_threshold_pct"],
            )  # fmt: skip
        except services.Refused as refused:
            return _refusal(refused)
        except DjangoValidationError as error:
            raise _errors(error) from None
        return Response(self._data(version))


class AssignmentExclusionsView(FirmScopedAPIView):
    """What an assignment leaves out of the billed value of the accounts it bills (with its
    version's exclusions). An assignment outside your scope is not found."""

    required_right = Right.FEE_ADMINISTRATION

    def _assignment(self, pk: int) -> FeeAssignment:
        rows = FeeAssignment.objects.filter(pk=pk)
        if not selectors.whole_firm(self.request.user):
            visible = selectors.accounts(user=self.request.user)
            rows = rows.filter(account__in=visible) | rows.filter(household__in=visible.values("household_id"))
        found = rows.first()
        if found is None:
            raise exceptions.NotFound("No such assignment.")
        return found

    @extend_schema(responses=AssignmentExclusionsSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(AssignmentExclusionsSerializer({"exclusions": self._assignment(pk).exclusions}).data)

    @extend_schema(request=AssignmentExclusionsSerializer, responses=AssignmentExclusionsSerializer)
    @idempotent_view("billing.assignment_exclusions")
    def put(self, request: Request, pk: int) -> Response:
        """Replace them (the next run bills with them; a re-run of a posted period posts the difference)."""
        assignment = self._assignment(pk)
        body = AssignmentExclusionsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            row = exclusion_services.assignment_exclusions_set(
                actor=request.user, assignment=assignment, exclusions=_plain(body.validated_data.get("exclusions"))
            )
        except DjangoValidationError as error:
            raise _errors(error) from None
        return Response(AssignmentExclusionsSerializer({"exclusions": row.exclusions}).data)
