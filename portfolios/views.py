from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.http import Http404
from django.views.generic import TemplateView

from accounts.rights import Right
from advisorportal.tenancy.access import FirmScopedView
from portfolios import selectors
from portfolios.forms import AccountFilterForm, TransactionFilterForm
from portfolios.models import ClientAccount, DailyValue

PAGE_SIZE = 50
CHART_DAYS = 365
CHART_WIDTH, CHART_HEIGHT = 600, 160


@dataclass(frozen=True)
class NavChart:
    points: str
    first: DailyValue
    last: DailyValue
    low: Decimal
    high: Decimal

    @property
    def period_return(self) -> Decimal:
        """Time-weighted return over the chart's period (flows excluded)."""
        return self.last.return_index / self.first.return_index - 1


def nav_chart(values: list[DailyValue]) -> NavChart | None:
    """An SVG polyline of the NAV (drawn server-side: no script, nothing inline for the CSP)."""
    if len(values) < 2:
        return None
    navs = [float(v.nav) for v in values]
    low, high = min(navs), max(navs)
    span = (high - low) or 1.0
    step = CHART_WIDTH / (len(navs) - 1)
    points = " ".join(
        f"{i * step:.1f},{CHART_HEIGHT - 4 - (nav - low) / span * (CHART_HEIGHT - 8):.1f}" for i, nav in enumerate(navs)
    )
    return NavChart(
        points=points, first=values[0], last=values[-1], low=min(v.nav for v in values), high=max(v.nav for v in values)
    )


def _query_without(request: Any, *names: str) -> str:
    """The current query string without ``names`` (for pager links that keep the filters)."""
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


class AccountListView(FirmScopedView, TemplateView):
    required_right = Right.ACCOUNT_INFORMATION
    template_name = "portfolios/account_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        form = AccountFilterForm(self.request.GET or None)
        filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
        page = selectors.account_page(
            user=self.request.user,
            after=self.request.GET.get("after", ""),
            size=PAGE_SIZE,
            q=filters.get("q", ""),
            account_type=filters.get("account_type", ""),
            status=filters.get("status", ""),
            household=filters.get("household"),
        )
        context.update(
            form=form, page=page, filtered=any(filters.values()), query=_query_without(self.request, "after")
        )
        return context


class AccountDetailView(FirmScopedView, TemplateView):
    required_right = Right.ACCOUNT_INFORMATION
    template_name = "portfolios/account_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        try:
            account = selectors.account_get(user=self.request.user, pk=kwargs["pk"])
        except ClientAccount.DoesNotExist:
            raise Http404 from None
        form = TransactionFilterForm(self.request.GET or None)
        filters = form.filters()
        transactions = selectors.transaction_page(
            user=self.request.user, account=account, after=self.request.GET.get("after", ""), size=PAGE_SIZE, **filters
        )
        summary = selectors.account_summary(user=self.request.user, account=account, history_days=CHART_DAYS)
        context.update(
            account=account,
            summary=summary,
            chart=nav_chart(summary.history),
            form=form,
            transactions=transactions,
            default_window=not filters.get("date_from") and not filters.get("date_to"),
            default_days=selectors.TRANSACTION_DEFAULT_DAYS,
            query=_query_without(self.request, "after"),
        )
        return context
