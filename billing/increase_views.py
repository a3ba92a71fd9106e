"""Pages of client-approved fee increases (Fee Administration, in the user's scope).

- ``/billing/increases/``: every increase waiting for (or answered by) a client: who, the old and
  new terms and annual fees, when it takes effect, its status and email; Resend and Cancel; while
  the approval emails of many increases found at once are being sent, that job's progress
  (``?panel=sending`` the panel alone, which polls itself).
- ``POST /billing/increases/<id>/resend/`` a new email with a new link (earlier links stop working).
- ``POST /billing/increases/<id>/cancel/`` withdraw it (the client stays on the old terms).

The client's own page is the floor's approval page (``/approve/<token>/``), with what
``billing.increases.PURPOSE`` shows. Another firm's increase, or one outside the user's scope, is
the same 404 as a missing one."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponseBase
from django.shortcuts import redirect
from django.views.generic import TemplateView

from accounts.access import FirmScopedView
from accounts.rights import Right
from billing import increases
from billing.increase_models import FeeIncrease, IncreaseStatus

PAGE_SIZE = 50


def increase_or_404(*, user: Any, pk: Any) -> FeeIncrease:
    try:
        return increases.increase_get(user=user, pk=pk)
    except (FeeIncrease.DoesNotExist, ValueError):
        raise Http404("No such fee increase.") from None


class IncreasesView(FirmScopedView, TemplateView):
    required_right = Right.FEE_ADMINISTRATION
    template_name = "billing/increases.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        status = self.request.GET.get("status", "")
        status = status if status in IncreaseStatus.values else ""
        rows = increases.increases_visible(user=self.user, status=status).order_by("-created_at", "-id")
        page = Paginator(rows, PAGE_SIZE).get_page(self.request.GET.get("page"))
        context.update(
            sending=increases.sending_job(),
            page=page,
            increases=list(page.object_list),
            status=status,
            statuses=IncreaseStatus.choices,
            open_statuses=increases.OPEN,
        )
        return context

    def get_template_names(self) -> list[str]:
        if self.request.GET.get("panel") == "sending":  # the progress panel alone, as it polls itself
            return ["billing/_increases_sending.html"]
        return [self.template_name]


class IncreaseActionView(FirmScopedView):
    required_right = Right.FEE_ADMINISTRATION
    action = ""

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        increase = increase_or_404(user=self.user, pk=pk)
        try:
            if self.action == "resend":
                increase = increases.increase_resend(actor=self.user, increase=increase)
                messages.success(request, f"{increase.reference}: a new email was sent to {increase.recipient_email}.")
            else:
                increases.increase_cancel(actor=self.user, increase=increase, reason=request.POST.get("reason", ""))
                messages.success(request, f"{increase.reference} was cancelled: the client stays on the old terms.")
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        return redirect("billing:increases")
