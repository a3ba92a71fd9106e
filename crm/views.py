from __future__ import annotations

from typing import Any

from django.views.generic import TemplateView

from accounts.rights import Right
from advisorportal.tenancy.access import FirmScopedView, get_scoped_or_404
from crm import selectors
from crm.models import Contact, ContactStatus


class ContactListView(FirmScopedView, TemplateView):
    required_right = Right.CRM
    template_name = "crm/contact_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        status = self.request.GET.get("status", "")
        page = selectors.contact_page(user=self.request.user, status=status, after=self.request.GET.get("after", ""))
        context.update(
            page=page,
            status=status if status in ContactStatus.values else "",
            statuses=ContactStatus.choices,
            counts=selectors.contact_status_counts(user=self.request.user),
        )
        return context


class ContactDetailView(FirmScopedView, TemplateView):
    required_right = Right.CRM
    template_name = "crm/contact_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["contact"] = get_scoped_or_404(Contact.objects.all(), pk=kwargs["pk"])
        context["households"] = context["contact"].households.order_by("name")
        return context
