from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_access import FirmScopedViewSet
from accounts.policy import has_right
from accounts.rights import Right
from advisorportal.tenancy.pagination import KeysetPagination
from portfolios import performance, returns, selectors, services
from portfolios.models import CashHold, ClientAccount, Transaction
from portfolios.serializers import (
    AccountClosedSerializer,
    AccountCloseSerializer,
    AccountListQuerySerializer,
    AsOfSerializer,
    CashHoldSerializer,
    CashQuerySerializer,
    CashSerializer,
    ClientAccountDetailSerializer,
    ClientAccountSerializer,
    DateRangeSerializer,
    HoldPlaceSerializer,
    HoldReleaseSerializer,
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

    @extend_schema(request=AccountCloseSerializer, responses=AccountClosedSerializer)
    @action(detail=True, methods=["post"], pagination_class=None)
    def close(self, request: Request, pk: str | None = None) -> Response:
        """Close the account (Onboarding right and scope), ``closed_on`` its last open day. Refused (400) for
        the master account, an account closed already, a day in the future or before its
        inception, or cash still held on it. ``notes`` says what it set going: a fee refund run
        for each period it prepaid fees for beyond that day, waiting for approval."""
        if not has_right(request.user, Right.ONBOARDING):
            raise PermissionDenied("Closing an account needs the Onboarding right.")
        try:  # in the user's scope for Onboarding, not only for reading accounts
            account = selectors.account_get(user=request.user, pk=pk, right=Right.ONBOARDING)
        except (ClientAccount.DoesNotExist, ValueError):
            raise Http404 from None
        data = AccountCloseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        closing = services.account_close(actor=request.user, account=account, **data.validated_data)
        return Response(AccountClosedSerializer({"account": closing.account, "notes": closing.notes}).data)

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

    @extend_schema(parameters=[CashQuerySerializer], responses=CashSerializer)
    @action(detail=True, methods=["get"], pagination_class=None)
    def cash(self, request: Request, pk: str | None = None) -> Response:
        """Cash per currency: the ledger's total, pending settlement, settled, on hold and available
        (settled less open holds: what a withdrawal or transfer out may take); the open holds."""
        account = self.account()
        query = CashQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        today = timezone.localdate()
        holds = selectors.hold_list(account=account, include_released=query.validated_data["include_released"])
        body = {"as_of": today, "currencies": selectors.cash_summary(account=account, today=today), "holds": holds}
        return Response(CashSerializer(body).data)

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


class AccountHoldViewSet(FirmScopedViewSet):
    """Holds on one account's cash (Funding right): place one (``reference`` makes it idempotent)
    or release one. Reading them is ``GET /accounts/{id}/cash/``."""

    required_right = Right.FUNDING
    serializer_class = CashHoldSerializer
    pagination_class = None

    def account(self) -> ClientAccount:
        try:
            return selectors.account_get(user=self.request.user, pk=self.kwargs["account_pk"])
        except (ClientAccount.DoesNotExist, ValueError):
            raise Http404 from None

    @extend_schema(request=HoldPlaceSerializer, responses={201: CashHoldSerializer, 200: CashHoldSerializer})
    def create(self, request: Request, account_pk: str) -> Response:
        """Reserve an amount of the account's available cash. 201 with the new hold; 200 with the
        first one when the same reference is sent again with the same content."""
        account = self.account()
        data = HoldPlaceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        known = set(CashHold.objects.filter(account=account).values_list("pk", flat=True))
        hold = services.hold_place(actor=request.user, account=account, **data.validated_data)
        status = 200 if hold.pk in known else 201
        return Response(CashHoldSerializer(hold).data, status=status)

    @extend_schema(request=HoldReleaseSerializer, responses=CashHoldSerializer)
    @action(detail=True, methods=["post"])
    def release(self, request: Request, account_pk: str, pk: str) -> Response:
        """Release an open hold: its cash is available again. A retry with the same reason answers
        the released hold; another reason for a released hold is refused (422)."""
        account = self.account()
        data = HoldReleaseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            hold = CashHold.objects.get(account=account, pk=int(pk))
        except (CashHold.DoesNotExist, ValueError):
            raise Http404 from None
        released = services.hold_release(actor=request.user, hold=hold, reason=data.validated_data["reason"])
        return Response(CashHoldSerializer(released).data)
