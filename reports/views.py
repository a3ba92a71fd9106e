from __future__ import annotations

from typing import Any, ClassVar

from django.http import HttpRequest, HttpResponse
from django.views.generic import TemplateView

from accounts.access import FirmScopedView
from accounts.rights import Right
from reports.forms import HeldAwayForm, RmdForm


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
