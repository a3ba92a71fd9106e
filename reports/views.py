from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any, ClassVar

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.generic import TemplateView

from accounts.access import FirmScopedView
from accounts.rights import Right
from advisorportal import formats
from crm.contact_io.exports import csv_safe
from reports import queries, selectors
from reports.charts import growth_chart
from reports.forms import (
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


class PerformanceView(ReportsPage):
    """The performance of an account or a household: every period measured three ways, net and
    gross of fees, beside a benchmark, with why the time- and money-weighted returns differ, and
    the growth chart. A GET form chooses a custom range and the benchmark."""

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
        form = PerformanceForm(request.GET or None, benchmarks=choices)
        context: dict[str, Any] = {"subject": subject, "form": form}
        if request.GET and not form.is_valid():
            return self.render_to_response(self.get_context_data(**context), status=400)
        wanted = form.cleaned_data if request.GET else {}
        try:
            page = selectors.performance(
                subject=subject, start=wanted.get("start"), end=wanted.get("end"),
                benchmark=wanted.get("benchmark") or "", day=formats.day, choices=choices, user=self.user,
            )  # fmt: skip
        except PerformanceInputError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
            return self.render_to_response(self.get_context_data(**context), status=400)
        chart = growth_chart(page.series, page.window, page.levels) if page.series and page.window else None
        context.update(page=page, result=page.performance, chart=chart)
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
