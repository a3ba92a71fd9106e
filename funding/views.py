from __future__ import annotations

from django.views.generic import TemplateView

from accounts.access import FirmScopedView
from accounts.rights import Right


class IndexView(FirmScopedView, TemplateView):
    required_right = Right.FUNDING
    template_name = "section.html"
    extra_context = {
        "section_title": "Funding",
        "section_text": (
            "Money movement (deposits, withdrawals, transfers and client approvals) is not built yet. "
            "What waits on you today is under Pending items on the Dashboard."
        ),
    }
