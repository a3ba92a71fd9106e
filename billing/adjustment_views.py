"""The Adjustments page of fee billing (Fee Administration): one-off credits and reimbursements
(posted after a confirmation step, once per form: the form carries its idempotency key) and
recurring adjustments (added, stopped). Accounts outside the user's scope are not found."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponseBase
from django.shortcuts import redirect
from django.utils import timezone

from advisorportal import formats
from billing import adjustments
from billing.forms import AdjustmentForm, RecurringForm, StopForm, show_service_errors
from billing.models import AdjustmentKind, RecurringAdjustment
from billing.views import BillingPage
from portfolios.models import ClientAccount


class AdjustmentsView(BillingPage):
    template_name = "billing/adjustments.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        account = None
        number = self.request.GET.get("account", "").strip()
        if number:
            try:
                account = adjustments.account_of(user=self.user, number=number)
            except ClientAccount.DoesNotExist:
                raise Http404("No such account.") from None
        context.setdefault("form", AdjustmentForm(initial={"key": uuid.uuid4().hex,
                                                           "account": account.number if account else ""}))  # fmt: skip
        context.setdefault("recurring_form", RecurringForm(initial={"account": account.number if account else "",
                                                                    "starts_on": timezone.localdate()}))  # fmt: skip
        page = Paginator(adjustments.adjustments(user=self.user, account=account), 50).get_page(
            self.request.GET.get("page")
        )
        context.update(
            page=page, one_offs=page.object_list, account=account, stop_form=StopForm(),
            recurring=list(adjustments.recurring(user=self.user, account=account,
                                                 active_on=timezone.localdate())[:500]),
        )  # fmt: skip
        return context


def _account_or_error(view: BillingPage, form: Any) -> ClientAccount | None:
    try:
        return adjustments.account_of(user=view.user, number=form.cleaned_data["account"])
    except ClientAccount.DoesNotExist:
        form.add_error("account", f"No such account: {form.cleaned_data['account']}. Nothing was posted.")
        return None


class AdjustmentNewView(AdjustmentsView):
    """POST: without ``confirmed``, the confirmation page; with it, the posting."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponseBase:
        form = AdjustmentForm(request.POST)
        account = _account_or_error(self, form) if form.is_valid() else None
        if account is not None:
            data = form.cleaned_data
            if not data["confirmed"]:
                self.template_name = "billing/adjustments_confirm.html"
                return self.render_to_response(
                    {
                        "form": form,
                        "account": account,
                        "kind_label": AdjustmentKind(data["kind"]).label,
                        "view": self,
                    }
                )
            try:
                made = adjustments.adjustment_post(
                    actor=self.user, account=account, kind=data["kind"], amount=data["amount"],
                    reason=data["reason"], idempotency_key=data["key"],
                )  # fmt: skip
            except ValidationError as error:
                show_service_errors(form, error)
            else:
                messages.success(
                    request,
                    f"{made.get_kind_display()} of {formats.amount(made.amount)} {made.currency} posted to "
                    f"{account.number}: the firm's master account paid it.",
                )
                return redirect("billing:adjustments")
        return self.render_to_response(self.get_context_data(form=form), status=400)


class RecurringNewView(AdjustmentsView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponseBase:
        form = RecurringForm(request.POST)
        account = _account_or_error(self, form) if form.is_valid() else None
        if account is not None:
            data = form.cleaned_data
            try:
                row = adjustments.recurring_add(
                    actor=self.user, account=account, kind=data["kind"], reason=data["reason"],
                    starts_on=data["starts_on"], ends_on=data["ends_on"], amount=data["amount"] or None,
                    pct=data["pct"] or None,
                )  # fmt: skip
            except ValidationError as error:
                show_service_errors(form, error)
            else:
                messages.success(request, f"{row.get_kind_display()} added to {account.number}: fee runs of the "
                                 "periods it covers apply it.")  # fmt: skip
                return redirect("billing:adjustments")
        return self.render_to_response(self.get_context_data(recurring_form=form), status=400)


class RecurringStopView(AdjustmentsView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        try:
            row = adjustments.recurring_get(user=self.user, pk=pk)
        except RecurringAdjustment.DoesNotExist:
            raise Http404("No such recurring adjustment.") from None
        form = StopForm(request.POST)
        if form.is_valid():
            try:
                row = adjustments.recurring_stop(actor=self.user, recurring=row, ends_on=form.cleaned_data["ends_on"])
            except ValidationError as error:
                for texts in error.message_dict.values():
                    for text in texts:
                        messages.error(request, text)
            else:
                assert row.ends_on is not None
                messages.success(request, f"The {row.get_kind_display().lower()} on {row.account.number} ends on "
                                 f"{formats.day(row.ends_on)}.")  # fmt: skip
        else:
            messages.error(request, "Give the last day as a date.")
        return redirect("billing:adjustments")
