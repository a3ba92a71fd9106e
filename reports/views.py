from __future__ import annotations

from typing import Any, ClassVar

from django.http import Http404, HttpRequest, HttpResponse
from django.views.generic import TemplateView

from accounts.access import FirmScopedView
from accounts.rights import Right
from advisorportal import formats
from reports import selectors
from reports.charts import growth_chart
from reports.forms import HeldAwayForm, PerformanceForm, RmdForm
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

    def subject(self, pk: int) -> selectors.Subject:
        if self.kind == "household":
            return selectors.performance_household(user=self.user, pk=pk)
        return selectors.performance_account(user=self.user, pk=pk)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            subject = self.subject(kwargs["pk"])
        except selectors.SubjectNotFound:
            raise Http404("No such account or household.") from None
        choices = selectors.benchmark_choices()
        form = PerformanceForm(request.GET or None, benchmarks=choices)
        context: dict[str, Any] = {"subject": subject, "form": form}
        if request.GET and not form.is_valid():
            return self.render_to_response(self.get_context_data(**context), status=400)
        wanted = form.cleaned_data if request.GET else {}
        try:
            page = selectors.performance(
                subject=subject, start=wanted.get("start"), end=wanted.get("end"),
                benchmark=wanted.get("benchmark") or "", day=formats.day, choices=choices,
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
