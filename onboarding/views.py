from __future__ import annotations

from django.views.generic import TemplateView

from accounts.access import FirmScopedView
from accounts.rights import Right


class IndexView(FirmScopedView, TemplateView):
    required_right = Right.ONBOARDING
    template_name = "section.html"
    extra_context = {
        "section_title": "Onboarding",
        "section_text": ("Account opening (applications from invitation to approval) is not built yet."),
    }
