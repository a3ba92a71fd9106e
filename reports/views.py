from __future__ import annotations

from django.views.generic import TemplateView

from accounts.access import FirmScopedView
from accounts.rights import Right


class IndexView(FirmScopedView, TemplateView):
    required_right = Right.PORTFOLIO_ANALYST
    template_name = "section.html"
    extra_context = {
        "section_title": "Reports",
        "section_text": (
            "Performance reports, statements and client data queries are not built yet. "
            "Each account's page shows its returns today."
        ),
    }
