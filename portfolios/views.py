from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponseBase, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django.views.generic import TemplateView

from accounts.access import FirmScopedView, firm_view
from accounts.policy import grant_scope, has_right
from accounts.rights import Right
from advisorportal import formats
from advisorportal.cached_forms import rendered_once
from portfolios import returns, selectors, services
from portfolios.cells import render_positions, render_rows, render_transactions
from portfolios.forms import (
    AccountCloseForm,
    AccountFilterForm,
    ChartPeriodForm,
    HoldForm,
    HoldReleaseForm,
    TransactionFilterForm,
)
from portfolios.models import AccountStatus, CashHold, ClientAccount

PAGE_SIZE = 50
CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 600, 180, 6
CHART_MAX_POINTS = CHART_WIDTH  # one point per horizontal unit is all the eye can see

# Columns of the accounts list that sort, in page order: (ordering name, header).
SORTABLE_COLUMNS = (
    ("number", "Number"),
    ("title", "Title"),
    ("type", "Type"),
    ("status", "Status"),
    ("nav", "Net asset value"),
    ("inception", "Inception"),
)


@dataclass(frozen=True)
class NavChart:
    """An SVG chart drawn server-side (no script, nothing inline for the CSP)."""

    window: selectors.ValueWindow
    points: str
    benchmark_points: str
    low: Decimal
    high: Decimal

    @property
    def first(self) -> Any:
        return self.window.values[0]

    @property
    def last(self) -> Any:
        return self.window.values[-1]


def _thin(series: list[tuple[date, Decimal]]) -> list[tuple[date, Decimal]]:
    if len(series) <= CHART_MAX_POINTS:
        return series
    step = len(series) / CHART_MAX_POINTS
    return [series[int(i * step)] for i in range(CHART_MAX_POINTS - 1)] + [series[-1]]


def nav_chart(window: selectors.ValueWindow) -> NavChart | None:
    """The NAV as a polyline and the rebased benchmark as a second one, on one date axis and one scale."""
    if len(window.values) < 2:
        return None
    navs = _thin([(v.date, v.nav) for v in window.values])
    bench = _thin([(d, level) for d, level in window.benchmark if navs[0][0] <= d <= navs[-1][0]])
    everything = [float(value) for _, value in navs + bench]
    low, high = min(everything), max(everything)
    span = (high - low) or 1.0
    first_day, days = navs[0][0], ((navs[-1][0] - navs[0][0]).days or 1)

    def polyline(series: list[tuple[date, Decimal]]) -> str:
        return " ".join(
            f"{(day - first_day).days / days * CHART_WIDTH:.1f},"
            f"{CHART_HEIGHT - CHART_PAD - (float(value) - low) / span * (CHART_HEIGHT - 2 * CHART_PAD):.1f}"
            for day, value in series
        )

    return NavChart(
        window=window,
        points=polyline(navs),
        benchmark_points=polyline(bench) if len(bench) >= 2 else "",
        low=min(v.nav for v in window.values),
        high=max(v.nav for v in window.values),
    )


def _query_without(request: Any, *names: str) -> str:
    """The current query string without ``names`` (for links that keep the other parameters)."""
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


def _query_only(request: Any, *names: str) -> str:
    """The query string with only ``names`` (in that order)."""
    return urlencode([(name, value) for name in names for value in request.GET.getlist(name)])


def _htmx_target(request: Any) -> str:
    return str(request.headers.get("HX-Target", "")) if request.headers.get("HX-Request") == "true" else ""


class AccountListView(FirmScopedView, TemplateView):
    required_right = Right.ACCOUNT_INFORMATION
    template_name = "portfolios/account_list.html"

    def get_template_names(self) -> list[str]:
        if _htmx_target(self.request) == "account-results":
            return ["portfolios/_account_results.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.user
        form = AccountFilterForm(self.request.GET or None)
        filters, ordering = form.filters(), form.sort_order()
        page = selectors.account_page(
            user=user, ordering=ordering, after=self.request.GET.get("after", ""), size=PAGE_SIZE, **filters
        )
        render_rows(page.rows, ordering=ordering)
        base_query = _query_without(self.request, "after", "ordering")
        columns = []
        for name, label in SORTABLE_COLUMNS:
            current = ordering.removeprefix("-") == name
            descending = current and ordering.startswith("-")
            columns.append(
                {
                    "name": name,
                    "label": label,
                    "sort": ("descending" if descending else "ascending") if current else "",
                    # A click sorts ascending, a second click on the same column descending.
                    "ordering": name if not current or descending else f"-{name}",
                }
            )
        context.update(
            form=form,
            page=page,
            ordering=ordering,
            columns=columns,
            base_query=base_query,
            filtered=bool(filters),
            query=_query_without(self.request, "after"),
        )
        household = selectors.household_in_scope(user=user, pk=filters.get("household"))
        owner = selectors.owner_in_scope(user=user, contact_id=filters.get("owner"))
        context["chips"], context["clear_query"] = _account_chips(
            self.request, form, {"household": household.name if household else "", "owner": str(owner or "")}
        )
        return context


# The account list's filters, in the order their chips show; q (the live search) and the sort stay.
ACCOUNT_FILTERS = (("account_type", "Type"), ("status", "Status"), ("household", "Household"), ("owner", "Owner"))


@dataclass(frozen=True)
class AccountChip:
    text: str
    query: str  # the list's query without this filter


def _account_chips(request: Any, form: AccountFilterForm, names: dict[str, str]) -> tuple[list[AccountChip], str]:
    """The active filters as (text, query without that filter) chips, and the query without any."""
    chips = []
    for name, label in ACCOUNT_FILTERS:
        value = request.GET.get(name, "").strip()
        if not value:
            continue
        choices = dict(getattr(form.fields[name], "choices", ()))
        # An id shows its name within the user's scope ("unknown" outside it), never the id itself.
        shown = (names[name] or "unknown") if name in names else str(choices.get(value, value))
        chips.append(AccountChip(f"{label}: {shown}", _query_without(request, "after", name)))
    return chips, _query_only(request, "q", "ordering")


class AccountDetailView(FirmScopedView, TemplateView):
    """One account. htmx requests for the chart (``#nav-chart``) or the transactions
    (``#transactions``) get only that part, and run only its queries."""

    required_right = Right.ACCOUNT_INFORMATION
    template_name = "portfolios/account_detail.html"
    partials = {"nav-chart": "portfolios/_nav_chart.html", "transactions": "portfolios/_transactions.html"}

    def get_template_names(self) -> list[str]:
        partial = self.partials.get(_htmx_target(self.request))
        return [partial] if partial else [self.template_name]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user, target = self.user, _htmx_target(self.request)
        try:
            account = selectors.account_get(user=user, pk=kwargs["pk"])
        except ClientAccount.DoesNotExist:
            raise Http404 from None
        context.update(account=account, detail_url=reverse("portfolios:account-detail", args=[account.pk]))
        if target in ("", "nav-chart"):
            chart_form = ChartPeriodForm(self.request.GET or None)
            choice = chart_form.cleaned_data if chart_form.is_valid() else {}
            window = selectors.value_window(
                account=account,
                period=choice.get("period") or selectors.DEFAULT_CHART_PERIOD,
                benchmark=choice.get("benchmark") or "",
            )
            context.update(
                chart=nav_chart(window),
                window=window,
                periods=selectors.CHART_PERIODS,
                period_query=_query_without(self.request, "period"),
            )
        if target in ("", "transactions"):
            form = TransactionFilterForm(self.request.GET or None)
            filters = form.filters()
            transactions = selectors.transaction_page(
                user=user, account=account, after=self.request.GET.get("after", ""), size=PAGE_SIZE, **filters
            )
            render_transactions(transactions.rows)
            filter_query = _query_only(self.request, *form.fields)
            context.update(
                form=form,
                transaction_filters=_transaction_filters(filter_query) if target == "" else "",
                transactions=transactions,
                default_window=not filters.get("date_from") and not filters.get("date_to"),
                default_days=selectors.TRANSACTION_DEFAULT_DAYS,
                query=_query_without(self.request, "after"),
            )
        if target == "":
            context["returns"] = returns.returns_report(account, context["window"].benchmark_symbol)
            context["summary"] = summary = selectors.account_summary(user=user, account=account)
            context["position_rows"] = render_positions(summary.positions)
            context["cash_rows"] = selectors.cash_summary(account=account, total=summary.cash)
            context["holds"] = list(selectors.hold_list(account=account))
            if has_right(user, Right.FUNDING):
                context["hold_form"] = HoldForm(initial={"currency": account.base_currency})
            if _may_close(user, account):
                context["close_form"] = AccountCloseForm(initial={"closed_on": timezone.localdate()})
        return context


# --- Holds (Funding right) ----------------------------------------------------------------------------

FIELD_LABELS = {"amount": "Amount", "currency": "Currency", "reason": "Reason", "reference": "Reference",
                "release_reason": "Why release it", "account": "Account", "hold": "Hold",
                "closed_on": "Last day open"}  # fmt: skip


def _errors(error: ValidationError | Form) -> str:
    """ "Amount: 500.00 USD is more than the available cash …" — each message led by its field's label."""
    items = error.errors.items() if isinstance(error, Form) else error.message_dict.items()
    return "; ".join(
        f"{FIELD_LABELS[name]}: {' '.join(map(str, texts))}" if name in FIELD_LABELS else " ".join(map(str, texts))
        for name, texts in items
    )


def _account_or_404(request: HttpRequest, pk: int, right: Right = Right.ACCOUNT_INFORMATION) -> ClientAccount:
    try:
        return selectors.account_get(user=request.user, pk=pk, right=right)
    except ClientAccount.DoesNotExist:
        raise Http404 from None


def _cash_section(account: ClientAccount) -> str:
    return reverse("portfolios:account-detail", args=[account.pk]) + "#cash-heading"


@require_POST
@firm_view(Right.FUNDING)
def hold_place(request: HttpRequest, pk: int) -> HttpResponseBase:
    account = _account_or_404(request, pk)
    form = HoldForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The hold was not placed: " + _errors(form))
        return redirect(_cash_section(account))
    try:
        hold = services.hold_place(actor=request.user, account=account, **form.cleaned_data)
    except ValidationError as error:
        messages.error(request, "The hold was not placed: " + _errors(error))
        return redirect(_cash_section(account))
    amount = formats.round_money(hold.amount, hold.currency)
    messages.success(request, f"Placed a hold of {amount:,f} {hold.currency} ({hold.reference}).")
    return redirect(_cash_section(account))


@require_POST
@firm_view(Right.FUNDING)
def hold_release(request: HttpRequest, pk: int, hold_pk: int) -> HttpResponseBase:
    account = _account_or_404(request, pk)
    hold = CashHold.objects.filter(account=account, pk=hold_pk).first()
    if hold is None:
        raise Http404
    form = HoldReleaseForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The hold was not released: " + _errors(form))
        return redirect(_cash_section(account))
    try:
        services.hold_release(actor=request.user, hold=hold, reason=form.cleaned_data["reason"])
    except ValidationError as error:
        messages.error(request, "The hold was not released: " + _errors(error))
        return redirect(_cash_section(account))
    messages.success(request, f"Released the hold {hold.reference}: its cash is available again.")
    return redirect(_cash_section(account))


@rendered_once("portfolios/_transaction_filters.html", maxsize=256)
def _transaction_filters(query: str) -> TransactionFilterForm:
    """The transaction filter fields for these values: the same on every account (fixed choices),
    so rendered once per set of values and process instead of four widget templates per page."""
    return TransactionFilterForm(QueryDict(query) or None)


# --- Closing (Onboarding right) -----------------------------------------------------------------------


def _may_close(user: Any, account: ClientAccount) -> bool:
    """Whether the page offers to close ``account``: open, a client's, in the user's Onboarding scope."""
    if account.status == AccountStatus.CLOSED or account.is_master:
        return False
    allowed, grant_id = grant_scope(user, Right.ONBOARDING)
    if not allowed:
        return False
    if grant_id is None or grant_id == grant_scope(user, Right.ACCOUNT_INFORMATION)[1]:
        return True  # every client, or the selection the page was read through: no query
    try:
        selectors.account_get(user=user, pk=account.pk, right=Right.ONBOARDING)
    except ClientAccount.DoesNotExist:
        return False
    return True


@require_POST
@firm_view(Right.ONBOARDING)
def account_close(request: HttpRequest, pk: int) -> HttpResponseBase:
    account = _account_or_404(request, pk, Right.ONBOARDING)
    back = reverse("portfolios:account-detail", args=[account.pk])
    form = AccountCloseForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The account was not closed: " + _errors(form))
        return redirect(back + "#close-heading")
    try:
        closing = services.account_close(actor=request.user, account=account, **form.cleaned_data)
    except ValidationError as error:
        messages.error(request, "The account was not closed: " + _errors(error))
        return redirect(back + "#close-heading")
    messages.success(request, " ".join([f"Closed {account.number} on {formats.day(closing.account.closed_on)}.",
                                        *closing.notes]))  # fmt: skip
    return redirect(back)
