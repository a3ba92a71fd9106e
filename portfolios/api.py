from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.rights import Right
from advisorportal.tenancy.api import FirmScopedViewSet
from portfolios import selectors
from portfolios.models import ClientAccount, Transaction
from portfolios.serializers import (
    ClientAccountDetailSerializer,
    ClientAccountSerializer,
    TransactionFilterSerializer,
    TransactionSerializer,
)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="Account number or title starts with (case-insensitive)."),
            OpenApiParameter("account_type", str, description="Filter by account type."),
            OpenApiParameter("status", str, description="Filter by status."),
            OpenApiParameter("household", int, description="Filter by household id."),
        ]
    )
)
class ClientAccountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    """Client accounts of the caller's firm, in number order, with their latest NAV; one account
    adds its owners, cash by currency and positions."""

    required_right = Right.ACCOUNT_INFORMATION
    serializer_class = ClientAccountSerializer
    keyset = selectors.ACCOUNT_ORDER
    filter_backends: list[Any] = []

    @extend_schema(responses=ClientAccountDetailSerializer)
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        summary = selectors.account_summary(user=request.user, account=self.get_object())
        return Response(ClientAccountDetailSerializer(summary).data)

    def get_queryset(self) -> QuerySet[ClientAccount]:
        if self.describing_schema():
            return ClientAccount.objects.unscoped().none()
        params = self.request.query_params
        return selectors.account_list(
            user=self.request.user,
            q=params.get("q", ""),
            account_type=params.get("account_type", ""),
            status=params.get("status", ""),
            household=params.get("household") or None,
        )


@extend_schema(parameters=[TransactionFilterSerializer])
class AccountTransactionViewSet(mixins.ListModelMixin, FirmScopedViewSet):
    """Transactions of one account, newest first; without dates, the last 90 days."""

    required_right = Right.ACCOUNT_INFORMATION
    serializer_class = TransactionSerializer
    keyset = selectors.TRANSACTION_ORDER
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[Transaction]:
        if self.describing_schema():
            return Transaction.objects.unscoped().none()
        try:
            account = selectors.account_get(user=self.request.user, pk=self.kwargs["account_pk"])
        except ClientAccount.DoesNotExist:
            raise Http404 from None
        filters = TransactionFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.transaction_list(user=self.request.user, account=account, **filters.validated_data)
