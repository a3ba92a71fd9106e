from __future__ import annotations

from django.views.generic import TemplateView

from accounts.rights import Right
from advisorportal.tenancy.access import FirmScopedView


class IndexView(FirmScopedView, TemplateView):
    required_right = Right.ACCOUNT_INFORMATION
    template_name = "section.html"
    extra_context = {
        "section_title": "Client accounts",
        "section_text": (
            "Client brokerage accounts, positions, transactions and daily values. "
            "No client accounts have been loaded for your firm yet."
        ),
    }
