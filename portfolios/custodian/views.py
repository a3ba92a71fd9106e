"""Pages of custodian imports: the job list with the upload form, a job with its live progress and
report, the report as CSV and a template per CSV format. The uploaded file is never served back."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.views.generic import TemplateView

from accounts.access import FirmScopedView
from accounts.rights import Right
from portfolios.custodian import selectors, services
from portfolios.custodian.forms import UploadForm
from portfolios.custodian.models import ImportJob
from portfolios.custodian.templates_csv import TEMPLATES

PAGE_SIZE = 25
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> str:
    """A cell a spreadsheet will show as text, never run as a formula (OWASP CSV injection)."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


class ImportListView(FirmScopedView, TemplateView):
    required_right = Right.ACCOUNT_INFORMATION
    template_name = "imports/job_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("form", UploadForm(user=self.user))
        after = self.request.GET.get("after", "")
        context["page"] = selectors.job_page(user=self.user, after=after, size=PAGE_SIZE)
        context["templates"] = TEMPLATES
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        form = UploadForm(request.POST, request.FILES, user=request.user)
        if form.is_valid():
            try:
                data = form.cleaned_data
                job = services.job_create(actor=request.user, upload=data["file"], kind=data["kind"])
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, f"{job.file_name} was uploaded; the import runs in the background.")
                return redirect("imports:job-detail", pk=job.pk)
        return self.render_to_response(self.get_context_data(form=form), status=400)


def _job_or_404(request: HttpRequest, pk: int) -> ImportJob:
    try:
        return selectors.job_get(user=request.user, pk=pk)
    except ImportJob.DoesNotExist:
        raise Http404 from None


class ImportDetailView(FirmScopedView, TemplateView):
    """The job; while it runs, its panel polls itself every second (htmx) and stops once finished."""

    required_right = Right.ACCOUNT_INFORMATION
    template_name = "imports/job_detail.html"

    def get_template_names(self) -> list[str]:
        if getattr(self.request, "htmx", False):
            return ["imports/_job.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["job"] = _job_or_404(self.request, kwargs["pk"])
        return context


class ImportCancelView(FirmScopedView):
    required_right = Right.ACCOUNT_INFORMATION

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        try:
            services.job_cancel(actor=self.user, job=_job_or_404(request, pk))
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        return redirect("imports:job-detail", pk=pk)


class ImportRetryView(FirmScopedView):
    required_right = Right.ACCOUNT_INFORMATION

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        try:
            services.job_retry(actor=self.user, job=_job_or_404(request, pk))
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        return redirect("imports:job-detail", pk=pk)


class ImportReportView(FirmScopedView):
    """The job's report as CSV (row, column, level, message)."""

    required_right = Right.ACCOUNT_INFORMATION

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = _job_or_404(request, pk)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["row", "column", "level", "message"])
        for issue in job.report:
            writer.writerow(
                [issue.get("row", 0), *(spreadsheet_safe(issue.get(k, "")) for k in ("column", "level", "message"))]
            )
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-report.csv"'
        return response


class ImportTemplateView(FirmScopedView):
    """An example file of one CSV format, with its header and a few rows."""

    required_right = Right.ACCOUNT_INFORMATION

    def get(self, request: HttpRequest, kind: str) -> HttpResponse:
        template = TEMPLATES.get(kind)
        if template is None:
            raise Http404
        response = HttpResponse(template.content, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{template.file_name}"'
        return response
