from __future__ import annotations

from django.views.generic import TemplateView

from accounts.access import FirmScopedView
from accounts.rights import Right


class IndexView(FirmScopedView, TemplateView):
    required_right = Right.FEE_ADMINISTRATION
    template_name = "section.html"
    extra_context = {
        "section_title": "Fee billing",
        "section_text": (
            "Fee billing (fee schedules, fee runs and invoices) is not built yet. Nothing here bills a client today."
        ),
    }
