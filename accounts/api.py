from __future__ import annotations

from typing import Any, cast

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import services
from accounts.access import SIGNED_IN
from accounts.api_access import FirmScopedAPIView, FirmScopedViewSet, require_stepped_up_session
from accounts.forms import AuditFilterForm
from accounts.models import ApiToken, AuditEntry, User
from accounts.rights import Right
from accounts.selectors import api_tokens, audit_entries, audit_object_types, firm_users
from accounts.serializers import ApiTokenSerializer, AuditEntrySerializer, MeSerializer


class MeView(FirmScopedAPIView):
    """The caller: who they are, which firm, which access rights."""

    required_right = SIGNED_IN

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(cast(User, request.user)).data)

    @extend_schema(request=MeSerializer, responses=MeSerializer, summary="Change your date format.")
    def patch(self, request: Request) -> Response:
        user = cast(User, request.user)
        serializer = MeSerializer(user, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if "date_format" in serializer.validated_data:
            services.user_date_format_set(user=user, date_format=serializer.validated_data["date_format"])
        return Response(MeSerializer(user).data)


class AuditEntryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    """The firm's audit trail, newest first. Filters: actor (user id), action, object_type,
    object_id, date_from, date_to (YYYY-MM-DD). Needs User Management."""

    required_right = Right.USER_MANAGEMENT
    serializer_class = AuditEntrySerializer
    keyset = ("-id",)

    def get_queryset(self) -> QuerySet[AuditEntry]:
        if self.describing_schema():
            return AuditEntry.objects.unscoped().none()
        user = cast(User, self.request.user)
        if self.action != "list":
            return audit_entries(user=user)
        form = AuditFilterForm(
            self.request.query_params or None,
            users=firm_users(firm_id=user.firm_id),
            object_types=audit_object_types(user=user),
        )
        if form.is_bound and not form.is_valid():
            raise ValidationError(form.errors.get_json_data())
        data = form.cleaned_data if form.is_bound else {}
        return audit_entries(
            user=user,
            actor_id=data.get("actor"),
            action=data.get("action") or "",
            object_type=data.get("object_type") or "",
            object_id=data.get("object_id") or "",
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )


class ApiTokenViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin, FirmScopedViewSet):
    """The caller's own API tokens. Creating returns the token's text once, in `token`.
    Tokens can only be created from a signed-in browser session whose second factor was confirmed
    in the last minutes (step-up), never by another token; `rights` (at least one) are a subset of
    the caller's, and `expires_in_days` is at most the firm's longest token lifetime (its default).
    DELETE revokes."""

    required_right = SIGNED_IN
    serializer_class = ApiTokenSerializer

    def get_queryset(self) -> QuerySet[ApiToken]:
        if self.describing_schema():
            return ApiToken.objects.none()
        return api_tokens(user=cast(User, self.request.user))

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        require_stepped_up_session(request, what="Creating an API token")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            token, plain = services.api_token_create(
                user=cast(User, request.user),
                name=data["name"],
                expires_in_days=data.get("expires_in_days"),
                rights=frozenset(Right(r) for r in data["rights"]),
            )
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from None
        return Response({**self.get_serializer(token).data, "token": plain}, status=201)

    def perform_destroy(self, instance: ApiToken) -> None:
        services.api_token_revoke(user=cast(User, self.request.user), token_id=instance.pk)
