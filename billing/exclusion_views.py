"""The schedule forms' writes with exclusions and the flow threshold (Fee Administration): the
schedule pages of ``billing.views`` with their forms posted here, so that a new schedule, new
terms and an assignment are saved with what they leave out of the billed value, in one
transaction (``billing.exclusion_services``)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import redirect

from advisorportal import formats
from billing import exclusion_services, increases, selectors
from billing.forms import AssignForm, ScheduleForm, VersionForm
from billing.views import ScheduleDetailView, ScheduleNewView
from crm.models import Household


class ScheduleCreateView(ScheduleNewView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponseBase:
        form = ScheduleForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                schedule = exclusion_services.schedule_create(
                    actor=self.user, name=data["name"], description=data["description"],
                    is_default=data["is_default"], **form.terms(), **form.extras(),
                )  # fmt: skip
            except ValidationError as error:
                form.show_service_errors(error)
            else:
                messages.success(request, f"Fee schedule {schedule.name} created.")
                return redirect("billing:schedule", pk=schedule.pk)
        return self.render_to_response(self.get_context_data(form=form), status=400)


class ScheduleTermsView(ScheduleDetailView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        schedule = self.schedule_or_404(pk)
        form = VersionForm(request.POST)
        if form.is_valid():
            try:
                version = exclusion_services.version_add(
                    actor=self.user, schedule=schedule, **form.terms(), **form.extras()
                )
            except ValidationError as error:
                form.show_service_errors(error)
            else:
                messages.success(
                    request, f"New terms of {schedule.name} from {formats.day(version.effective_from)} saved."
                )
                return redirect("billing:schedule", pk=pk)
        return self.refused(pk, version_form=form)


class ScheduleAssignmentsView(ScheduleDetailView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        schedule = self.schedule_or_404(pk)
        form = AssignForm(request.POST)
        if not form.is_valid():
            return self.refused(pk, assign_form=form)
        data = form.cleaned_data
        found, missing = selectors.accounts_numbered(user=self.user, numbers=form.numbers())
        if missing:
            form.add_error("accounts", f"No such account: {', '.join(missing[:10])}. Nothing was assigned.")
            return self.refused(pk, assign_form=form)
        households: list[Household] = []
        if data["target"] == "households":
            households = selectors.households_of(user=self.user, accounts_=found)
            if not households:
                form.add_error(
                    "accounts", "None of these accounts is in a household you see whole. Nothing was assigned."
                )
                return self.refused(pk, assign_form=form)
            found = []
        try:
            count = exclusion_services.assign(
                actor=self.user, schedule=schedule, accounts=found, households=households,
                householding=data["householding"], fee_cap_pct=data["fee_cap_pct"], exclusions=form.exclusions(),
            )  # fmt: skip
        except ValidationError as error:
            fields = error.message_dict if hasattr(error, "error_dict") else {"": error.messages}
            for name, texts in fields.items():
                if name == "exclusions":
                    form.show_exclusion_errors(texts)
                else:
                    for text in texts:
                        form.add_error(None, text)
            return self.refused(pk, assign_form=form)
        what = "household" if households else "account"
        note = f"{schedule.name} assigned to {count} {what}{'s' if count != 1 else ''}."
        if increases.sending_job() is not None:
            note += " It raises some clients' fees: they stay on their old terms until they approve, and the emails "
            note += "asking them are being sent (Fee increases shows the progress)."
        messages.success(request, note)
        return redirect("billing:schedule", pk=pk)
