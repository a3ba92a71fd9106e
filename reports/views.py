from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.views.generic import TemplateView

from accounts.access import FirmScopedView
from accounts.rights import Right
from advisorportal import formats
from crm.contact_io.exports import csv_safe
from reports import queries, selectors, services
from reports.charts import allocation_chart, contribution_chart, growth_chart
from reports.forms import (
    PERIOD_CHOICES,
    AccountQueryForm,
    ActivityQueryForm,
    HeldAwayForm,
    PerformanceForm,
    PerformanceQueryForm,
    QueryForm,
    RmdForm,
    RmdQueryForm,
    SymbolQueryForm,
)
from reports.models import Rebalance
from reports.performance import PerformanceInputError


class ReportsPage(FirmScopedView, TemplateView):
    required_right: ClassVar[Right | str] = Right.PORTFOLIO_ANALYST
    nav: ClassVar[str] = ""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["reports_nav"] = self.nav
        return context


class IndexView(ReportsPage):
    template_name = "reports/index.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["groups"] = selectors.visible_groups(user=self.user)
        return context


class HeldAwayView(ReportsPage):
    """The returns of an account held elsewhere, from its pasted valuations and flows (nothing stored)."""

    template_name = "reports/held_away.html"
    nav = "held-away"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=HeldAwayForm()))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = HeldAwayForm(request.POST)
        valid = form.is_valid()
        result = getattr(form, "result", None) if valid else None
        return self.render_to_response(self.get_context_data(form=form, result=result), status=200 if valid else 400)


class RmdView(ReportsPage):
    """A required minimum distribution (a GET form: nothing changes, the answer can be bookmarked)."""

    template_name = "reports/rmd.html"
    nav = "rmd"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.GET:
            return self.render_to_response(self.get_context_data(form=RmdForm()))
        form = RmdForm(request.GET)
        valid = form.is_valid()
        result = getattr(form, "result", None) if valid else None
        return self.render_to_response(self.get_context_data(form=form, result=result), status=200 if valid else 400)


class PerformancePageForm(PerformanceForm):
    """The performance page's choices: the range and benchmark, a blended benchmark of the firm and the
    period the positions' contributions are measured over."""

    blend = forms.ChoiceField(required=False, label="Blended benchmark")
    contribution = forms.ChoiceField(
        required=False, label="Contribution over", choices=[("", "Default"), *PERIOD_CHOICES],
        help_text="Default: the custom range, else year to date.",
    )  # fmt: skip

    def __init__(self, *args: Any, benchmarks: list[str], blends: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, benchmarks=benchmarks, **kwargs)
        field = self.fields["blend"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "None"), *((str(b.pk), b.name) for b in blends)]
        self.blends = {str(b.pk): b for b in blends}


class PerformanceView(ReportsPage):
    """The performance of an account, a household, a group or the firm: every period measured three
    ways, net and gross of fees, beside a benchmark and a blended benchmark, with why the time- and
    money-weighted returns differ, the growth chart, the allocation at the end and the contribution
    of each position. A GET form chooses a custom range, the benchmarks and the contribution's period."""

    template_name = "reports/performance.html"
    nav = "performance"
    kind: ClassVar[str]

    def subject(self, pk: int | None) -> selectors.Subject:
        if self.kind == "household":
            return selectors.performance_household(user=self.user, pk=pk)
        if self.kind == "group":
            return selectors.performance_group(user=self.user, pk=pk)
        if self.kind == "firm":
            return selectors.performance_firm(user=self.user)
        return selectors.performance_account(user=self.user, pk=pk)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            subject = self.subject(kwargs.get("pk"))
        except selectors.SubjectNotFound:
            raise Http404("No such account, household or group.") from None
        choices = selectors.benchmark_choices()
        form = PerformancePageForm(request.GET or None, benchmarks=choices, blends=selectors.blend_list())
        context: dict[str, Any] = {"subject": subject, "form": form}
        if request.GET and not form.is_valid():
            return self.render_to_response(self.get_context_data(**context), status=400)
        wanted = form.cleaned_data if request.GET else {}
        try:
            page = selectors.performance(
                subject=subject, start=wanted.get("start"), end=wanted.get("end"),
                benchmark=wanted.get("benchmark") or "", day=formats.day, choices=choices, user=self.user,
                blend=form.blends.get(wanted.get("blend") or ""), contribution=wanted.get("contribution") or "",
            )  # fmt: skip
        except PerformanceInputError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
            return self.render_to_response(self.get_context_data(**context), status=400)
        chart = growth_chart(page.series, page.window, page.levels) if page.series and page.window else None
        context.update(
            page=page, result=page.performance, chart=chart,
            allocation_parts=[(b, allocation_chart(b)) for b in page.allocation.breakdowns] if page.allocation else [],
            contribution_chart=contribution_chart(page.contribution) if page.contribution else None,
        )  # fmt: skip
        return self.render_to_response(self.get_context_data(**context))


class AccountPerformanceView(PerformanceView):
    kind = "account"


class HouseholdPerformanceView(PerformanceView):
    kind = "household"


class GroupPerformanceView(PerformanceView):
    kind = "group"


class FirmPerformanceView(PerformanceView):
    """The accounts of the user's whole scope: the firm, for a user who sees every account."""

    kind = "firm"


# --- Blended benchmarks ---------------------------------------------------------------------------

COMPONENT_ROWS = services.MAX_COMPONENTS


class BlendForm(forms.Form):
    """A blend's name, rebalancing and up to eight (index series, weight) rows; empty rows are ignored."""

    name = forms.CharField(label="Name", max_length=100)
    rebalance = forms.ChoiceField(
        label="Rebalanced", choices=Rebalance.choices, initial=Rebalance.MONTHLY,
        help_text="Set back to the target weights at the close of each period's last day.",
    )  # fmt: skip

    def __init__(self, *args: Any, benchmarks: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for i in range(COMPONENT_ROWS):
            self.fields[f"index_{i}"] = forms.ChoiceField(
                label=f"Index series {i + 1}", required=False, choices=[("", "—"), *((s, s) for s in benchmarks)]
            )
            self.fields[f"weight_{i}"] = forms.DecimalField(
                label=f"Weight {i + 1} (%)", required=False, min_value=Decimal("0.01"), max_value=Decimal(100),
                decimal_places=2, max_digits=5,
            )  # fmt: skip

    def rows(self) -> list[tuple[Any, Any]]:
        return [(self[f"index_{i}"], self[f"weight_{i}"]) for i in range(COMPONENT_ROWS)]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        components = []
        for i in range(COMPONENT_ROWS):
            symbol, weight = data.get(f"index_{i}"), data.get(f"weight_{i}")
            if symbol and weight is None and f"weight_{i}" not in self.errors:
                self.add_error(f"weight_{i}", "Give this index series a weight.")
            elif weight is not None and not symbol:
                self.add_error(f"index_{i}", "Choose the index series this weight is for.")
            elif symbol and weight is not None:
                components.append((symbol, weight))
        data["components"] = components
        return data


def _blend_initial(blend: Any) -> dict[str, Any]:
    initial: dict[str, Any] = {"name": blend.name, "rebalance": blend.rebalance}
    for i, component in enumerate(blend.components.all()):
        initial[f"index_{i}"], initial[f"weight_{i}"] = component.benchmark.symbol, component.weight
    return initial


class BlendListView(ReportsPage):
    """The firm's blended benchmarks, and a form for a new one."""

    template_name = "reports/blends.html"
    nav = "blends"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = BlendForm(benchmarks=selectors.benchmark_choices())
        return self.render_to_response(self.get_context_data(form=form, blends=selectors.blend_list()))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = BlendForm(request.POST, benchmarks=selectors.benchmark_choices())
        if form.is_valid():
            try:
                blend = services.blend_create(
                    actor=self.user, name=form.cleaned_data["name"], rebalance=form.cleaned_data["rebalance"],
                    components=form.cleaned_data["components"],
                )  # fmt: skip
            except ValidationError as error:
                _form_errors(form, error)
            else:
                messages.success(request, f"Blended benchmark {blend.name} saved.")
                return HttpResponseRedirect(reverse("reports:blends"))
        context = self.get_context_data(form=form, blends=selectors.blend_list())
        return self.render_to_response(context, status=400)


def _form_errors(form: forms.Form, error: ValidationError) -> None:
    for name, problems in error.message_dict.items():
        form.add_error(name if name in form.fields else None, problems)


class BlendDetailView(ReportsPage):
    """Edit one blend (its components replaced as a whole), or delete it after a confirmation."""

    template_name = "reports/blend.html"
    nav = "blends"

    def blend(self, pk: Any) -> Any:
        try:
            return selectors.blend_get(pk=pk)
        except selectors.BlendNotFound:
            raise Http404("No such blended benchmark.") from None

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        blend = self.blend(kwargs["pk"])
        form = BlendForm(initial=_blend_initial(blend), benchmarks=selectors.benchmark_choices())
        confirm = request.GET.get("delete") == "1"
        return self.render_to_response(self.get_context_data(blend=blend, form=form, confirm_delete=confirm))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        blend = self.blend(kwargs["pk"])
        if request.POST.get("action") == "delete":
            if request.POST.get("confirm") != "yes":
                return HttpResponseRedirect(f"{reverse('reports:blend', args=[blend.pk])}?delete=1")
            services.blend_delete(actor=self.user, blend=blend)
            messages.success(request, f"Blended benchmark {blend.name} deleted.")
            return HttpResponseRedirect(reverse("reports:blends"))
        form = BlendForm(request.POST, benchmarks=selectors.benchmark_choices())
        if form.is_valid():
            try:
                services.blend_update(
                    actor=self.user, blend=blend, name=form.cleaned_data["name"],
                    rebalance=form.cleaned_data["rebalance"], components=form.cleaned_data["components"],
                )  # fmt: skip
            except ValidationError as error:
                _form_errors(form, error)
            else:
                messages.success(request, f"Blended benchmark {form.cleaned_data['name']} saved.")
                return HttpResponseRedirect(reverse("reports:blends"))
        return self.render_to_response(self.get_context_data(blend=blend, form=form), status=400)


# --- Client data queries and account queries (issue #19, point 4) -------------------------------

SHOWN_ROWS = 500  # a page shows this many rows; the CSV has them all


def query_csv(result: queries.QueryResult, name: str) -> HttpResponse:
    """The result as CSV: numbers and dates as they are (ISO 8601), text made safe for spreadsheets."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([column.label for column in result.columns])
    for row in result.rows:
        writer.writerow(
            [csv_safe(row[c.key]) if c.kind == "text" else ("" if row[c.key] is None else row[c.key])
             for c in result.columns]
        )  # fmt: skip
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}-{timezone.localdate().isoformat()}.csv"'
    return response


@dataclass(frozen=True)
class Cell:
    label: str
    text: str
    numeric: bool
    link: str = ""


def _cell(column: queries.Column, row: dict[str, Any]) -> Cell:
    value = row.get(column.key)
    numeric = column.kind in ("rate", "money", "number")
    if value is None or value == "":
        return Cell(column.label, "", numeric)
    if column.kind == "rate":
        text = formats.percent(value)
    elif column.kind == "money":
        text = formats.money(value, row.get("currency") or "USD")
    elif column.kind == "number":
        text = formats.quantity(value)
    elif column.kind == "date":
        text = formats.day(value)
    else:
        text = str(value)
    link = ""
    if column.key == "number" and row.get("id"):
        link = reverse("portfolios:account-detail", args=[row["id"]])
    elif column.key == "client" and row.get("contact_id"):
        link = reverse("crm:contact-detail", args=[row["contact_id"]])
    return Cell(column.label, text, numeric, link)


def query_table(result: queries.QueryResult, limit: int) -> list[list[Cell]]:
    """The first ``limit`` rows as formatted cells (the id column is left to the CSV)."""
    shown = [c for c in result.columns if c.key != "id"]
    return [[_cell(c, row) for c in shown] for row in result.rows[:limit]]


class QueriesIndexView(ReportsPage):
    template_name = "reports/queries.html"
    nav = "queries"


class QueryView(ReportsPage):
    """A query as a GET form: its results below it (the first rows), or all of them as CSV with
    ``?format=csv``. Bad input is a form error on its field (status 400) and nothing else."""

    template_name = "reports/query.html"
    nav = "queries"
    form_class: ClassVar[type[QueryForm]]
    name: ClassVar[str]
    title: ClassVar[str]
    intro: ClassVar[str]

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        wanted = request.GET.copy()
        as_csv = wanted.pop("format", [""])[-1] == "csv"
        context: dict[str, Any] = {"title": self.title, "intro": self.intro, "query_name": self.name}
        if not wanted:
            return self.render_to_response(self.get_context_data(form=self.form_class(), **context))
        form = self.form_class(wanted)
        result = form.run(user=self.user, today=timezone.localdate())
        if result is None:
            return self.render_to_response(self.get_context_data(form=form, **context), status=400)
        if as_csv:
            return query_csv(result, self.name)
        context.update(
            form=form,
            result=result,
            headings=[c for c in result.columns if c.key != "id"],
            table=query_table(result, SHOWN_ROWS),
            shown_rows=SHOWN_ROWS,
            csv_query=f"{wanted.urlencode()}&format=csv",
        )
        return self.render_to_response(self.get_context_data(**context))


class PerformanceQueryView(QueryView):
    form_class = PerformanceQueryForm
    name, title = "performance", "Accounts by time-weighted return"
    intro = (
        "Accounts whose time-weighted return, net of fees, over a period is above and/or below a figure. Each is "
        "measured from its stored daily values, from the close before the period to its last close, as on its "
        "performance page."
    )


class SymbolQueryView(QueryView):
    form_class = SymbolQueryForm
    name, title = "symbol", "Accounts by symbol"
    intro = "Accounts that held a security when a period began, or bought, sold or moved it during the period."


class ActivityQueryView(QueryView):
    form_class = ActivityQueryForm
    name, title = "activity", "Accounts by transaction count"
    intro = (
        "Accounts with more trades, dividends and position transfers in a period than a threshold. Interest, "
        "deposits, withdrawals and fees are not counted; a correction and the transaction it reverses count as none."
    )


class RmdQueryView(QueryView):
    form_class = RmdQueryForm
    name, title = "rmd", "Required minimum distributions due"
    intro = (
        "Clients who must take a required minimum distribution from a Traditional, Rollover or SEP IRA for a tax "
        "year, with the balance of December 31 before, what was withdrawn so far and what is left."
    )


class AccountQueryView(QueryView):
    """Account queries need a second-factor confirmation of the last minutes (as the seed's
    Account Queries need the Secure Login System): they list the book's accounts by any criteria."""

    step_up = True
    form_class = AccountQueryForm
    name, title = "accounts", "Account query"
    intro = "Accounts by type, status, margin type, trading permissions, base currency, opening date, value and more."
