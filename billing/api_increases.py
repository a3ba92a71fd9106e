"""The fee increases API (Fee Administration, in the caller's scope).

- ``GET /api/v1/billing/fee-increases/`` (keyset pages, ``?status=``) and ``/{id}/``: who, the old
  and new terms and annual fees, when it takes effect, its status, email and decision, and the
  agreement's SHA-256 once approved.
- ``POST /{id}/resend/`` a new email with a new link (earlier links stop working).
- ``POST /{id}/cancel/`` (``reason`` optional) withdraw it: the client stays on the old terms.

The client answers on the floor's approval page from the emailed link, not through this API.
Another firm's increase, or one outside the caller's scope, is a 404; refusals are 400 naming
``status`` (or ``recipient_email``)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_access import FirmScopedViewSet
from accounts.rights import Right
from billing import increases
from billing.increase_models import FeeIncrease, IncreaseKind, IncreaseStatus

ID_PATTERN = "[0-9]{1,19}"


class FeeIncreaseSerializer(serializers.ModelSerializer[FeeIncrease]):
    reference = serializers.CharField(read_only=True)
    kind = serializers.ChoiceField(choices=IncreaseKind.choices, read_only=True)
    status = serializers.ChoiceField(choices=IncreaseStatus.choices, read_only=True)
    account: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="number", read_only=True, allow_null=True, help_text="The account, if the increase is one account's"
    )
    old_schedule = serializers.SerializerMethodField(help_text="The schedule billing the client until approval.")
    new_schedule = serializers.SerializerMethodField(help_text="The dearer schedule, once approved.")
    email_status = serializers.SerializerMethodField(help_text="The email's delivery status; null if not sent.")

    class Meta:
        model = FeeIncrease
        fields = [
            "id",
            "reference",
            "kind",
            "status",
            "account",
            "household",
            "contact",
            "recipient_email",
            "old_version",
            "old_schedule",
            "new_version",
            "new_schedule",
            "effective_from",
            "currency",
            "value",
            "old_annual_fee",
            "new_annual_fee",
            "sent_at",
            "not_sent",
            "email_status",
            "decided_at",
            "decision",
            "document",
            "content_hash",
            "created_at",
        ]
        read_only_fields = fields

    def get_old_schedule(self, increase: FeeIncrease) -> str:
        return increase.old_version.schedule.name

    def get_new_schedule(self, increase: FeeIncrease) -> str:
        return increase.new_version.schedule.name

    def get_email_status(self, increase: FeeIncrease) -> str | None:
        return increase.email.status if increase.email_id and increase.email else None


class IncreaseQuerySerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=IncreaseStatus.choices, required=False)


class CancelBodySerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


def _refused(error: DjangoValidationError) -> exceptions.ValidationError:
    return exceptions.ValidationError(
        error.message_dict if hasattr(error, "error_dict") else {"status": error.messages}
    )


@extend_schema_view(list=extend_schema(parameters=[IncreaseQuerySerializer]))
class FeeIncreaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    """Fee increases waiting for (or answered by) clients. A new schedule version or an assignment
    that raises a client's annual fee on their current value takes effect for that client only once
    they approve it from the emailed link; until then (and after a decline, an expiry or a
    cancellation) fee runs bill them on `old_version`."""

    required_right = Right.FEE_ADMINISTRATION
    serializer_class = FeeIncreaseSerializer
    filter_backends: list[Any] = []
    lookup_value_regex = ID_PATTERN
    keyset = ("-id",)

    def get_queryset(self) -> QuerySet[FeeIncrease]:
        if self.describing_schema():
            return FeeIncrease.objects.unscoped().none()
        query = IncreaseQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return increases.increases_visible(user=self.request.user, status=query.validated_data.get("status", ""))

    @extend_schema(request=None, responses=FeeIncreaseSerializer)
    @action(detail=True, methods=["post"])
    def resend(self, request: Request, pk: str | None = None) -> Response:
        """A new approval email with a new link to the address on record (earlier links stop working)."""
        try:
            increase = increases.increase_resend(actor=request.user, increase=self.get_object())
        except DjangoValidationError as error:
            raise _refused(error) from None
        return Response(FeeIncreaseSerializer(self.get_queryset().get(pk=increase.pk)).data)

    @extend_schema(request=CancelBodySerializer, responses=FeeIncreaseSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Withdraw the increase: its links stop working and the client stays on the old terms."""
        body = CancelBodySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            increase = increases.increase_cancel(
                actor=request.user, increase=self.get_object(), reason=body.validated_data["reason"]
            )
        except DjangoValidationError as error:
            raise _refused(error) from None
        return Response(FeeIncreaseSerializer(self.get_queryset().get(pk=increase.pk)).data)
