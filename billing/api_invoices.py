"""The invoices API (Fee Administration right).

- ``GET /api/v1/billing/runs/{id}/invoices/``: the run's invoices (keyset pages), those whose every
  account is in the caller's scope.
- ``POST /api/v1/billing/runs/{id}/invoices/``: make and send the run's invoices in a background
  job; idempotent by itself (while a job runs it is the answer; afterwards only missing invoices are
  made and only unsent ones mailed, so a retry never mails a client twice). Needs the right for
  every client. 202 with the job; a run not posted is 400 naming ``run``.
- ``GET /api/v1/billing/invoices/{id}/``: one invoice; ``?format=pdf`` the PDF as it was sent.

Another firm's run or invoice, or one outside the caller's scope: 404."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, renderers, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_access import FirmScopedAPIView
from accounts.rights import Right
from advisorportal.tenancy.pagination import KeysetPagination
from billing import invoices, selectors
from billing.invoice_views import pdf_response
from billing.models import FeeRun, Invoice


class InvoiceSerializer(serializers.ModelSerializer[Invoice]):
    total = serializers.DecimalField(max_digits=17, decimal_places=2, coerce_to_string=True, read_only=True)
    email_status = serializers.SerializerMethodField(help_text="The email's delivery status; null if not sent.")
    pdf_url = serializers.SerializerMethodField(help_text="The PDF (GET, ?format=pdf).")

    class Meta:
        model = Invoice
        fields = [
            "id", "number", "run", "contact", "household", "recipient_name", "recipient_email", "currency", "total",
            "content_hash", "sent_at", "not_sent", "email_status", "pdf_url", "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_email_status(self, invoice: Invoice) -> str | None:
        return invoice.email.status if invoice.email_id and invoice.email else None

    def get_pdf_url(self, invoice: Invoice) -> str:
        return reverse("api:billing-invoice", args=[invoice.pk]) + "?format=pdf"


class InvoiceJobSerializer(serializers.Serializer[Any]):
    run = serializers.IntegerField()
    job = serializers.IntegerField()
    status = serializers.CharField(help_text="queued, running, done, failed or cancelled.")
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    no_recipient = serializers.ListField(child=serializers.CharField(), help_text="Accounts with no one to invoice.")


class PdfRenderer(renderers.BaseRenderer):
    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> Any:
        return data


def _run(pk: int, *, user: Any) -> FeeRun:
    try:
        return selectors.runs(user=user).get(pk=pk)
    except FeeRun.DoesNotExist:
        raise Http404 from None


class RunInvoicesAPIView(FirmScopedAPIView):
    """A posted fee run's invoices: one per household or client, each a PDF kept on the recipient's
    contact record and emailed once with a single-use download link."""

    required_right = Right.FEE_ADMINISTRATION
    pagination_class = KeysetPagination

    @extend_schema(summary="The invoices of a fee run", responses=InvoiceSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        run = _run(pk, user=request.user)
        visible = [i.pk for i in invoices.run_invoices(run=run, user=request.user)]
        queryset = Invoice.objects.filter(pk__in=visible).select_related("email").order_by("id")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(InvoiceSerializer(page, many=True).data)

    @extend_schema(
        summary="Make and send the invoices of a posted fee run (idempotent)",
        request=None,
        responses={202: InvoiceJobSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        run = _run(pk, user=request.user)
        if not selectors.whole_firm(request.user):
            raise exceptions.PermissionDenied("This needs the Fee Administration right for every client.")
        try:
            batch = invoices.invoices_start(actor=request.user, run=run)
        except ValidationError as error:
            raise exceptions.ValidationError(error.message_dict) from None
        job = batch.job
        assert job is not None
        body = {"run": run.pk, "job": job.pk, "status": job.status, "done": job.done, "total": job.total,
                "no_recipient": batch.no_recipient}  # fmt: skip
        return Response(InvoiceJobSerializer(body).data, status=status.HTTP_202_ACCEPTED)


class InvoiceAPIView(FirmScopedAPIView):
    """One invoice of a fee run: whom it went to, its total, whether and when it was emailed, and the
    SHA-256 of its PDF."""

    required_right = Right.FEE_ADMINISTRATION
    renderer_classes = [renderers.JSONRenderer, PdfRenderer]

    @extend_schema(
        summary="One invoice; ?format=pdf the PDF as it was sent",
        responses={
            (200, "application/json"): InvoiceSerializer,
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY),
        },
    )
    def get(self, request: Request, pk: int) -> Response | HttpResponse:
        try:
            invoice = Invoice.objects.select_related("run", "email").get(pk=pk)
        except Invoice.DoesNotExist:
            raise Http404 from None
        if not invoices.visible_to(user=request.user, invoice=invoice):
            raise Http404
        if request.accepted_renderer.format == "pdf":
            response = pdf_response(invoice, what="invoice PDF download (API)")
            if response.status_code == 410:
                raise exceptions.NotFound(response.content.decode())
            return response
        return Response(InvoiceSerializer(invoice).data)
