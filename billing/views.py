from __future__ import annotations

from typing import Any

from django.views.generic import TemplateView

from accounts.access import FirmScopedView
from accounts.rights import Right
from billing import fees
from billing.forms import FeeCalculatorForm
from billing.serializers import calculate_body


class IndexView(FirmScopedView, TemplateView):
    required_right = Right.FEE_ADMINISTRATION
    template_name = "billing/index.html"


class FeeCalculatorView(FirmScopedView, TemplateView):
    """The fee of a schedule on values typed in: the API's calculator behind a form (GET: nothing
    is stored, so the page's address holds the question)."""

    required_right = Right.FEE_ADMINISTRATION
    template_name = "billing/fee_calculator.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        asked = "method" in self.request.GET
        form = FeeCalculatorForm(self.request.GET if asked else None)
        result = None
        if asked and form.is_valid():
            try:
                result = calculate_body(form.body())
            except fees.FeeInputError as error:
                form.show_errors(error.errors)
        context.update(form=form, result=result, rules=fees.RULES)
        return context
