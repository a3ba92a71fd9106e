from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_access import FirmScopedViewSet
from accounts.rights import Right
from advisorportal.tenancy.pagination import KeysetPagination
from portfolios import performance, returns, selectors
from portfolios.models import ClientAccount, Transaction
from portfolios.serializers import (
    AccountListQuerySerializer,
    AsOfSerializer,
    ClientAccountDetailSerializer,
    ClientAccountSerializer,
    DateRangeSerializer,
    PositionSerializer,
    RealizedReportSerializer,
    ReturnsQuerySerializer,
    ReturnsSerializer,
    TransactionFilterSerializer,
    TransactionSerializer,
    ValueHistorySerializer,
)


class AccountPagination(KeysetPagination):
    """Keyset pages in the view's ``ordering`` (accounts without a NAV come last in both NAV orders)."""

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        self.request = request
        page = selectors.ordered_account_page(
            queryset,
            ordering=getattr(view, "ordering", "number"),
            after=request.query_params.get(self.cursor_query_param, ""),
            size=self._size(request),
        )
        self.next_cursor = page.next_cursor
        return page.rows


@extend_schema_view(list=extend_schema(parameters=[AccountListQuerySerializer]))
class ClientAccountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    """Client accounts in the caller's account scope, with their latest NAV; sortable with
    ``?ordering=`` (number, title, type, status, nav, inception; ``-`` for descending). One account
    gives its summary, positions, daily values and realized P&L by period."""

    required_right = Right.ACCOUNT_INFORMATION
    serializer_class = ClientAccountSerializer
    pagination_class = AccountPagination
    filter_backends: list[Any] = []
    ordering = "number"

    def get_queryset(self) -> QuerySet[ClientAccount]:
        if self.describing_schema():
            return ClientAccount.objects.unscoped().none()
        if self.action != "list":
            return selectors.account_list(user=self.request.user)
        query = AccountListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        filters = dict(query.validated_data)
        self.ordering = filters.pop("ordering", "number")
        return selectors.account_list(user=self.request.user, **filters)

    def account(self) -> ClientAccount:
        """The account of the URL, in the caller's scope (a 404 for another firm's, an out-of-scope
        or a missing one alike)."""
        try:
            return selectors.account_get(user=self.request.user, pk=self.kwargs["pk"])
        except (ClientAccount.DoesNotExist, ValueError):
            raise Http404 from None

    @extend_schema(responses=ClientAccountDetailSerializer)
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        summary = selectors.account_summary(user=request.user, account=self.account())
        return Response(ClientAccountDetailSerializer(summary).data)

    @extend_schema(responses=PositionSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def positions(self, request: Request, pk: str | None = None) -> Response:
        """Open positions with their latest price, market value and unrealized P&L, by symbol."""
        rows = selectors.positions(account=self.account())
        return Response(PositionSerializer(rows, many=True).data)

    @extend_schema(parameters=[DateRangeSerializer], responses=ValueHistorySerializer)
    @action(detail=True, methods=["get"], pagination_class=None)
    def values(self, request: Request, pk: str | None = None) -> Response:
        """Daily NAV, net external flow and time-weighted return index between two dates (default: all)."""
        account = self.account()
        query = DateRangeSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        start, end = query.validated_data.get("date_from"), query.validated_data.get("date_to")
        values = performance.value_history(account=account, start=start, end=end)
        body = {"currency": account.base_currency, "date_from": start, "date_to": end, "values": values}
        return Response(ValueHistorySerializer(body).data)

    @extend_schema(parameters=[ReturnsQuerySerializer], responses=ReturnsSerializer)
    @action(detail=True, methods=["get"], pagination_class=None)
    def returns(self, request: Request, pk: str | None = None) -> Response:
        """Month, quarter and year to date, 1, 3 and 5 years and since inception, net and gross of
        fees, with a benchmark; missing prices and rates; whether a correction is being included."""
        account = self.account()
        query = ReturnsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        symbol = selectors.pick_benchmark(selectors.benchmark_symbols(), query.validated_data.get("benchmark", ""))
        return Response(ReturnsSerializer(returns.returns_report(account, symbol)).data)

    @extend_schema(parameters=[AsOfSerializer], responses=RealizedReportSerializer)
    @action(detail=True, methods=["get"], url_path="realized-pnl", pagination_class=None)
    def realized_pnl(self, request: Request, pk: str | None = None) -> Response:
        """Realized P&L of sales per currency: month, quarter and year to date, and since inception."""
        account = self.account()
        query = AsOfSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        as_of = query.validated_data.get("as_of")
        rows = selectors.realized_by_period(account=account, as_of=as_of)
        body = {"as_of": as_of or timezone.localdate(), "periods": rows}
        return Response(RealizedReportSerializer(body).data)


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
