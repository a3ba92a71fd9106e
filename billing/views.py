from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.views.generic import TemplateView

from accounts.access import FirmScopedView
from accounts.rights import Right
from billing import fees, increases, invoices, runs, selectors, services
from billing.forms import AssignForm, FeeCalculatorForm, RunForm, ScheduleForm, SettingsForm, VersionForm
from billing.models import FeeAssignment, FeeRun, FeeSchedule, LineStatus, RunStatus
from billing.serializers import calculate_body


def _texts(error: ValidationError) -> list[str]:
    return [message for messages_ in getattr(error, "message_dict", {"": error.messages}).values()
            for message in messages_]  # fmt: skip


class BillingPage(FirmScopedView, TemplateView):
    required_right = Right.FEE_ADMINISTRATION

    def schedule_or_404(self, pk: int) -> FeeSchedule:
        try:
            return FeeSchedule.objects.get(pk=pk)
        except FeeSchedule.DoesNotExist:
            raise Http404("No such fee schedule.") from None

    def run_or_404(self, pk: int) -> FeeRun:
        try:
            return selectors.runs(user=self.user).get(pk=pk)
        except FeeRun.DoesNotExist:
            raise Http404("No such fee run.") from None


class IndexView(BillingPage):
    template_name = "billing/index.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(recent=list(selectors.runs(user=self.user)[:5]), schedules=selectors.schedules(),
                       default=FeeSchedule.objects.filter(is_default=True).first())  # fmt: skip
        return context


class FeeCalculatorView(BillingPage):
    """The fee of a schedule on values typed in: the API's calculator behind a form (GET: nothing
    is stored, so the page's address holds the question)."""

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


# --- Schedules -----------------------------------------------------------------------------------


class SchedulesView(BillingPage):
    template_name = "billing/schedules.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "schedules": selectors.schedules()}


class ScheduleNewView(BillingPage):
    template_name = "billing/schedule_form.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("form", ScheduleForm())
        return context


class ScheduleDetailView(BillingPage):
    template_name = "billing/schedule_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        schedule = self.schedule_or_404(kwargs["pk"])
        versions = list(schedule.versions.order_by("-effective_from"))
        latest = versions[0] if versions else None
        initial = {}
        if latest is not None:
            initial = {name: getattr(latest, name) for name in VersionForm.term_names}
            for n, tier in enumerate(latest.tiers, 1):
                initial[f"band_{n}_up_to"] = tier["up_to"] or ""
                initial[f"band_{n}_rate"] = tier["annual_rate_pct"]
        context.setdefault("version_form", VersionForm(initial=initial))
        context.setdefault("assign_form", AssignForm())
        context.update(
            schedule=schedule, versions=versions, posted_until=services.last_posted_day(schedule),
            assignments=list(selectors.assignments(user=self.user, schedule=schedule)[:500]),
        )  # fmt: skip
        return context

    def refused(self, pk: int, **forms: Any) -> HttpResponse:
        return self.render_to_response(self.get_context_data(pk=pk, **forms), status=400)


class ScheduleDefaultView(BillingPage):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        schedule = self.schedule_or_404(pk)
        found = services.schedule_make_default(actor=self.user, schedule=schedule)
        messages.success(request, f"{schedule.name} now bills every account without a schedule of its own."
                         + increases.asked_note(len(found)))  # fmt: skip
        return redirect("billing:schedule", pk=pk)


class AssignmentRemoveView(BillingPage):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        try:
            assignment = FeeAssignment.objects.get(pk=pk)
        except FeeAssignment.DoesNotExist:
            raise Http404("No such assignment.") from None
        if (
            assignment.schedule_id is None
            or not selectors.assignments(user=self.user, schedule=assignment.schedule).filter(pk=pk).exists()
        ):
            raise Http404("No such assignment.")
        schedule_pk = assignment.schedule_id
        services.assignment_remove(actor=self.user, assignment=assignment)
        messages.success(request, "Assignment removed: the account is billed by its household's schedule or the "
                         "firm's default.")  # fmt: skip
        return redirect("billing:schedule", pk=schedule_pk)


# --- Runs ----------------------------------------------------------------------------------------


class RunsView(BillingPage):
    template_name = "billing/runs.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("form", RunForm())
        page = Paginator(selectors.runs(user=self.user), 50).get_page(self.request.GET.get("page"))
        context.update(page=page, runs=page.object_list)
        return context

    def post(self, request: HttpRequest) -> HttpResponseBase:
        form = RunForm(request.POST)
        if form.is_valid():
            numbers = form.numbers()
            if not numbers and not selectors.whole_firm(self.user):
                numbers = list(selectors.accounts(user=self.user).values_list("number", flat=True))
            found, missing = selectors.accounts_numbered(user=self.user, numbers=numbers)
            if missing:
                form.add_error("accounts", f"No such account: {', '.join(missing[:10])}.")
            else:
                try:
                    run = services.run_create(actor=self.user, period_start=form.cleaned_data["period_start"],
                                              period_end=form.cleaned_data["period_end"],
                                              account_numbers=[a.number for a in found])  # fmt: skip
                except ValidationError as error:
                    for name, texts in error.message_dict.items():
                        for text in texts:
                            form.add_error(name if name in form.fields else None, text)
                else:
                    messages.success(request, f"{run.reference} is being computed. Nothing is posted until it is "
                                     "approved and posted.")  # fmt: skip
                    return redirect("billing:run", pk=run.pk)
        return self.render_to_response(self.get_context_data(form=form), status=400)


class RunDetailView(BillingPage):
    template_name = "billing/run_detail.html"

    def get_template_names(self) -> list[str]:
        if self.request.headers.get("HX-Request") and self.request.GET.get("panel") == "progress":
            return ["billing/_run_progress.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        run = self.run_or_404(kwargs["pk"])
        status = self.request.GET.get("status", "")
        if status not in LineStatus.values:
            status = ""
        page = Paginator(selectors.run_lines(user=self.user, run=run, status=status), 100).get_page(
            self.request.GET.get("page")
        )
        user = self.user
        four_eyes = runs.settings_of().four_eyes
        context.update(
            run=run, page=page, lines=page.object_list, status=status, statuses=LineStatus.choices,
            job=run.job, errors=[f for f in run.audit if f["level"] == "error"],
            warnings=[f for f in run.audit if f["level"] == "warning"],
            may_approve=run.status == RunStatus.PREVIEW and run.computed_at is not None
            and not (four_eyes and run.prepared_by_id == user.pk),
            four_eyes_blocks=run.status == RunStatus.PREVIEW and four_eyes and run.prepared_by_id == user.pk,
            computing=run.job is not None and run.job.active,
        )  # fmt: skip
        context.update(invoices.panel_context(run=run, user=user), whole_firm=selectors.whole_firm(user),
                       uploaded=services.uploaded(run))  # fmt: skip
        return context


class RunActionView(BillingPage):
    http_method_names = ["post"]
    action = ""
    done = {
        "recompute": "{ref} is being computed again.",
        "approve": "{ref} is approved. Post it to debit the clients.",
        "post": "{ref} is being posted: each account is debited once.",
        "discard": "{ref} is discarded; nothing of it was posted.",
    }

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        run = self.run_or_404(pk)
        service = {"recompute": services.run_recompute, "approve": services.run_approve, "post": services.run_post,
                   "discard": services.run_discard}[self.action]  # fmt: skip
        try:
            service(actor=self.user, run=run)
        except ValidationError as error:
            for text in _texts(error):
                messages.error(request, text)
        else:
            messages.success(request, self.done[self.action].format(ref=run.reference))
        return redirect(reverse("billing:run", args=[pk]))


class SettingsView(BillingPage):
    template_name = "billing/settings.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        current = runs.settings_of()
        context.setdefault("form", SettingsForm(initial={"four_eyes": current.four_eyes,
                                                         "change_alert_pct": current.change_alert_pct}))  # fmt: skip
        return context

    def post(self, request: HttpRequest) -> HttpResponseBase:
        form = SettingsForm(request.POST)
        if form.is_valid():
            services.settings_update(actor=self.user, **form.cleaned_data)
            messages.success(request, "Billing settings saved.")
            return redirect("billing:settings")
        return self.render_to_response(self.get_context_data(form=form), status=400)
