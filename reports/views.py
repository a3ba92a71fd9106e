from __future__ import annotations

from django.views.generic import TemplateView

from accounts.access import FirmScopedView
from accounts.rights import Right


class IndexView(FirmScopedView, TemplateView):
    required_right = Right.PORTFOLIO_ANALYST
    template_name = "section.html"
    extra_context = {
        "section_title": "Reports",
        "section_text": ("Performance, statements and client data queries. No reports have been defined."),
    }
