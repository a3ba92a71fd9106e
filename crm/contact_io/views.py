"""Pages of contact import (upload → mapping for CSV → preview → apply with progress → result and
undo; past imports) and of contact export (summary CSV, application tasks CSV, full Excel)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts import audit
from accounts.access import AuthenticatedRequest, firm_view
from accounts.rights import Right
from advisorportal.formats import date_style
from advisorportal.tenancy.context import firm_stream
from advisorportal.tenancy.pagination import keyset_page
from crm.contact_io import exports, selectors, services
from crm.contact_io.fields import COLUMNS
from crm.contact_io.forms import UploadForm
from crm.contact_io.models import ContactImport, ContactImportStatus, SourceKind
from crm.contact_io.parsers.xlsx import template_workbook


def _job(request: HttpRequest, pk: int) -> ContactImport:
    try:
        return selectors.import_get(user=request.user, pk=pk)
    except ContactImport.DoesNotExist:
        raise Http404 from None


def _errors(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return " ".join(
            f"{field}: {m}" if field != "__all__" else m for field, found in error.message_dict.items() for m in found
        )
    return " ".join(error.messages)


@firm_view(Right.CRM)
def import_start(request: AuthenticatedRequest) -> HttpResponseBase:
    """Upload a file (and see past imports)."""
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = services.import_upload(actor=request.user, file_name=upload.name, data=upload.read())
            if job.source_kind != SourceKind.CSV:
                services.import_preview(actor=request.user, job=job)
        except ValidationError as error:
            form.add_error("file", _errors(error))
        else:
            return redirect("contact_io:import-detail", pk=job.pk)
    page = keyset_page(
        selectors.import_list(user=request.user), keys=("-created_at", "-id"), after=request.GET.get("after", ""),
        size=20,
    )  # fmt: skip
    return render(request, "contact_io/import_start.html", {"form": form, "page": page})


@firm_view(Right.CRM)
def import_template(request: AuthenticatedRequest) -> HttpResponse:
    response = HttpResponse(
        template_workbook(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = 'attachment; filename="contacts-template.xlsx"'
    return response


def _detail_context(request: HttpRequest, job: ContactImport) -> dict[str, Any]:
    context: dict[str, Any] = {
        "job": job,
        "apply_blocked": services.can_apply(job) if job.status == ContactImportStatus.PREVIEWED else None,
        "classes": job.preview.get("classes", {}) if job.preview else {},
        "notes": job.preview.get("notes", []) if job.preview else [],
    }
    if job.source_kind == SourceKind.CSV and job.status in (
        ContactImportStatus.UPLOADED,
        ContactImportStatus.PREVIEWED,
    ):
        from crm.contact_io.parsers.csv_file import headers

        header = headers(bytes(job.data or b""))
        context["mapping_rows"] = [(str(i), name, job.column_mapping.get(str(i), "")) for i, name in enumerate(header)]
        context["field_choices"] = [(c.field, c.label) for c in COLUMNS]
    return context


@firm_view(Right.CRM)
def import_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    template = "contact_io/_status.html" if request.headers.get("HX-Request") else "contact_io/import_detail.html"
    return render(request, template, _detail_context(request, job))


@firm_view(Right.CRM)
@require_POST
def import_mapping(request: AuthenticatedRequest, pk: int) -> HttpResponseBase:
    job = _job(request, pk)
    mapping = {key.removeprefix("col_"): str(value) for key, value in request.POST.items() if key.startswith("col_")}
    try:
        job = services.import_set_mapping(actor=request.user, job=job, mapping=mapping)
        services.import_preview(actor=request.user, job=job)
    except ValidationError as error:
        messages.error(request, _errors(error))
    return redirect("contact_io:import-detail", pk=pk)


@firm_view(Right.CRM)
@require_POST
def import_apply(request: AuthenticatedRequest, pk: int) -> HttpResponseBase:
    try:
        services.import_request_apply(actor=request.user, job=_job(request, pk))
    except ValidationError as error:
        messages.error(request, _errors(error))
    return redirect("contact_io:import-detail", pk=pk)


@firm_view(Right.CRM)
@require_POST
def import_cancel(request: AuthenticatedRequest, pk: int) -> HttpResponseBase:
    try:
        services.import_cancel(actor=request.user, job=_job(request, pk))
    except ValidationError as error:
        messages.error(request, _errors(error))
    return redirect("contact_io:import-detail", pk=pk)


@firm_view(Right.CRM)
@require_POST
def import_retry(request: AuthenticatedRequest, pk: int) -> HttpResponseBase:
    try:
        services.import_retry(actor=request.user, job=_job(request, pk))
    except ValidationError as error:
        messages.error(request, _errors(error))
    return redirect("contact_io:import-detail", pk=pk)


@firm_view(Right.CRM)
@require_POST
def import_undo(request: AuthenticatedRequest, pk: int) -> HttpResponseBase:
    try:
        job = services.import_undo(actor=request.user, job=_job(request, pk))
    except ValidationError as error:
        messages.error(request, _errors(error))
    else:
        left = len(job.undo_report)
        more = f" {left} contact(s) could not be undone: see below." if left else ""
        messages.success(request, "Import undone." + more)
    return redirect("contact_io:import-detail", pk=pk)


# --- Exports ------------------------------------------------------------------------------------


def _export_contacts(request: HttpRequest) -> Any:
    try:
        return exports.selected_contacts(user=request.user, query=request.GET, request=request)
    except ValidationError as error:
        return HttpResponse(_errors(error), status=400, content_type="text/plain; charset=utf-8")


def _streamed(request: AuthenticatedRequest, rows: Any, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(firm_stream(request.user.firm_id, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@firm_view(Right.CRM, step_up=True)
def export_summary(request: AuthenticatedRequest) -> HttpResponseBase:
    contacts = _export_contacts(request)
    if isinstance(contacts, HttpResponse):
        return contacts
    audit.record_read(what="contact summary CSV export", details=dict(request.GET.items()))
    return _streamed(request, exports.summary_rows(contacts), "contacts.csv")


@firm_view(Right.CRM, step_up=True)
def export_tasks(request: AuthenticatedRequest) -> HttpResponseBase:
    contacts = _export_contacts(request)
    if isinstance(contacts, HttpResponse):
        return contacts
    audit.record_read(what="application tasks CSV export", details=dict(request.GET.items()))
    return _streamed(request, exports.task_rows(contacts, date_format=date_style().code), "application-tasks.csv")


@firm_view(Right.CRM, step_up=True)
def export_full(request: AuthenticatedRequest) -> HttpResponseBase:
    contacts = _export_contacts(request)
    if isinstance(contacts, HttpResponse):
        return contacts
    audit.record_read(
        what="full client data Excel export (tax ids in clear)",
        details={**dict(request.GET.items()), "contacts": contacts.count()},
    )
    return FileResponse(
        exports.full_workbook(contacts, date_format=date_style().code), as_attachment=True, filename="client-data.xlsx"
    )


def export_links(query: str) -> dict[str, str]:
    """The export URLs for a contacts-page query string (for the lead's contacts page)."""
    suffix = f"?{query}" if query else ""
    return {name: reverse(f"contact_io:export-{name}") + suffix for name in ("summary", "tasks", "full")}
