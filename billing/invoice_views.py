"""Pages of a run's invoices and summary (Fee Administration), and the client's download page.

- ``/billing/runs/<id>/invoices/``: GET the invoices panel (``billing/_invoices.html``, alone: the
  run page includes it, htmx refreshes it while the job runs); POST "Make and send invoices".
- ``/billing/invoices/<id>.pdf``: the invoice's PDF as it was made and sent.
- ``/billing/runs/<id>/summary.csv`` and ``.xlsx``: one row per fee line.
- ``/billing/invoice-copy/<token>/``: no login; the page an invoice email links to (GET changes
  nothing; its Download button, a POST, uses the single-use link and sends the PDF).

Another firm's run or invoice is the same 404 as a missing one (scoped managers)."""

from __future__ import annotations

import base64
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts import audit
from accounts.access import FirmScopedView
from accounts.rights import Right
from advisorportal.formats import date_style
from advisorportal.links.services import NOT_VALID, LinkNotValid, link_consume, link_resolve, link_scope
from advisorportal.mail import branding
from advisorportal.tenancy.context import firm_stream
from billing import invoices, selectors, summary
from billing.models import FeeRun, Invoice


def run_or_404(pk: Any, *, user: Any) -> FeeRun:
    try:
        return selectors.runs(user=user).get(pk=pk)
    except (FeeRun.DoesNotExist, ValueError):
        raise Http404 from None


def invoice_or_404(pk: Any, *, user: Any) -> Invoice:
    """The invoice, if every account on it is in the user's Fee Administration scope."""
    try:
        invoice = Invoice.objects.select_related("run").get(pk=pk)
    except (Invoice.DoesNotExist, ValueError):
        raise Http404 from None
    if not invoices.visible_to(user=user, invoice=invoice):
        raise Http404
    return invoice


def require_whole_firm(user: Any) -> None:
    """A run's summary and its invoices' sending reach every client billed: for a user whose Fee
    Administration scope is the whole firm."""
    if not selectors.whole_firm(user):
        raise PermissionDenied("This needs the Fee Administration right for every client, not a selection.")


def _gone(invoice: Invoice) -> HttpResponse:
    return HttpResponse(
        f"The PDF of {invoice.number} was deleted from the contact's documents.",
        status=410, content_type="text/plain; charset=utf-8",
    )  # fmt: skip


def pdf_response(invoice: Invoice, *, what: str, data: bytes | None = None) -> HttpResponse:
    """The invoice's PDF as an attachment (audited); 410 if its document was deleted."""
    data = data if data is not None else invoices.invoice_pdf(invoice=invoice)
    if data is None:
        return _gone(invoice)
    audit.record_read(what=what, obj=invoice, details={"number": invoice.number, "sha256": invoice.content_hash})
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


class InvoicesPanelView(FirmScopedView):
    """The run's invoices panel (GET) and "Make and send invoices" (POST, back to ``next``)."""

    required_right = Right.FEE_ADMINISTRATION

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        run = run_or_404(pk, user=self.user)
        return render(request, "billing/_invoices.html", invoices.panel_context(run=run, user=self.user))

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        run = run_or_404(pk, user=self.user)
        require_whole_firm(self.user)
        try:
            invoices.invoices_start(actor=self.user, run=run)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Invoices of {run.reference} are being made and sent.")
        target = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
            target = reverse("billing:run-invoices", args=[run.pk])
        return redirect(target)


class InvoicePdfView(FirmScopedView):
    required_right = Right.FEE_ADMINISTRATION

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return pdf_response(invoice_or_404(pk, user=self.user), what="invoice PDF download")


class RunSummaryCsvView(FirmScopedView):
    required_right = Right.FEE_ADMINISTRATION

    def get(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        run = run_or_404(pk, user=self.user)
        require_whole_firm(self.user)
        audit.record_read(what="fee run summary CSV export", obj=run)
        body = firm_stream(self.user.firm_id, summary.csv_lines(run, date_format=date_style().code))
        response = StreamingHttpResponse(body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{summary.filename(run, "csv")}"'
        return response


class RunSummaryXlsxView(FirmScopedView):
    required_right = Right.FEE_ADMINISTRATION

    def get(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        run = run_or_404(pk, user=self.user)
        require_whole_firm(self.user)
        audit.record_read(what="fee run summary Excel export", obj=run)
        return FileResponse(
            summary.workbook(run, date_format=date_style().code), as_attachment=True,
            filename=summary.filename(run, "xlsx"),
        )  # fmt: skip


def _brand(firm_id: int) -> dict[str, str]:
    brand = branding.for_firm(firm_id)
    logo = f"data:{brand.logo_type};base64,{base64.b64encode(brand.logo).decode()}" if brand.logo else ""
    return {"name": brand.name, "logo": logo, "firm_id": str(firm_id)}


def _not_valid(request: HttpRequest) -> HttpResponse:
    response = render(request, "links/not_valid.html", {"message": NOT_VALID}, status=404)
    response["X-Robots-Tag"] = "noindex"
    return response


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def invoice_copy(request: HttpRequest, token: str) -> HttpResponseBase:
    """The client's copy of an invoice: GET shows what it is and a Download button; the POST uses
    the link (one conditional UPDATE, in the request's transaction) and sends the PDF."""
    with link_scope(token):
        try:
            link = link_resolve(token=token, purpose=invoices.COPY_PURPOSE)
        except LinkNotValid:
            return _not_valid(request)
        invoice = Invoice.objects.select_related("run").filter(pk=link.subject_id).first()
        if invoice is None:
            return _not_valid(request)
        if request.method == "POST":
            data = invoices.invoice_pdf(invoice=invoice)
            if data is None:
                return _gone(invoice)  # the link stays unused
            try:
                link_consume(link=link, fingerprint=invoice.content_hash)
            except LinkNotValid:
                return _not_valid(request)
            return pdf_response(invoice, what="invoice PDF downloaded by the client", data=data)
        response = render(
            request, "billing/invoice_copy.html",
            {"brand": _brand(link.firm_id), "invoice": invoice, "amount": abs(invoice.total),
             "expires_at": link.expires_at},
        )  # fmt: skip
        response["X-Robots-Tag"] = "noindex"
        return response


invoice_copy.public_reason = (  # type: ignore[attr-defined]
    "A client who is not a user opens it from the invoice email; the single-use, expiring token names the one "
    "invoice it downloads."
)
