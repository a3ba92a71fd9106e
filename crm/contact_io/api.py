"""API of contact import (upload, preview, mapping, apply, status, undo) and export."""

from __future__ import annotations

from typing import Any, cast

from django.db.models import QuerySet
from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from accounts import audit
from accounts.api_access import FirmScopedAPIView, FirmScopedViewSet, require_stepped_up_session
from accounts.models import User
from accounts.rights import Right
from accounts.two_factor import recently_verified
from advisorportal.formats import DateFormat
from advisorportal.tenancy.context import firm_stream
from crm.contact_io import exports, selectors, services
from crm.contact_io.models import ContactImport, SourceKind
from crm.contact_io.serializers import (
    ColumnMappingSerializer,
    ContactImportDetailSerializer,
    ContactImportSerializer,
    ContactImportUploadSerializer,
)


@extend_schema_view(
    list=extend_schema(summary="Your contact imports, newest first."),
    retrieve=extend_schema(summary="One import: status, progress, counts, preview rows, report and undo report."),
    create=extend_schema(
        summary="Upload a contacts file (xlsx template, CSV or vCard); the dry run runs at once unless preview=false.",
        request={"multipart/form-data": ContactImportUploadSerializer},
        responses={201: ContactImportDetailSerializer},
    ),
)
class ContactImportViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, FirmScopedViewSet
):
    """Contact imports. Upload, (CSV: set the column mapping), preview, apply — applying runs in the
    background: poll the import until its status is ``done`` or ``failed`` — and undo. Every
    rejected row comes back in ``report`` as ``{row, column, message}``. An apply that failed (its
    worker stopped, say) or was cancelled changed nothing and can be retried."""

    required_right = Right.CRM
    keyset = ("-created_at", "-id")
    filter_backends: list[Any] = []
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        if self.action == "create":
            return ContactImportUploadSerializer
        if self.action == "mapping":
            return ColumnMappingSerializer
        if self.action == "list":
            return ContactImportSerializer
        return ContactImportDetailSerializer

    def get_queryset(self) -> QuerySet[ContactImport]:
        if self.describing_schema():
            return ContactImport.objects.unscoped().none()
        return selectors.import_list(user=self.request.user)

    def _job(self) -> ContactImport:
        try:
            return selectors.import_get(user=self.request.user, pk=self.kwargs["pk"])
        except ContactImport.DoesNotExist:
            raise NotFound from None

    def _detail(self, job: ContactImport, code: int = status.HTTP_200_OK) -> Response:
        job = selectors.import_get(user=self.request.user, pk=job.pk)
        return Response(ContactImportDetailSerializer(job).data, status=code)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        upload = ContactImportUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        file = upload.validated_data["file"]
        job = services.import_upload(actor=request.user, file_name=file.name, data=file.read())
        if upload.validated_data["preview"]:
            job = services.import_preview(actor=request.user, job=job)
        return self._detail(job, status.HTTP_201_CREATED)

    @extend_schema(summary="Run the dry run (again): what would be created, updated and rejected.", request=None)
    @action(detail=True, methods=["post"])
    def preview(self, request: Request, pk: str) -> Response:
        return self._detail(services.import_preview(actor=request.user, job=self._job()))

    @extend_schema(summary="Set a CSV import's column mapping, then run the dry run again.")
    @action(detail=True, methods=["post"])
    def mapping(self, request: Request, pk: str) -> Response:
        body = ColumnMappingSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        job = services.import_set_mapping(actor=request.user, job=self._job(), mapping=body.validated_data["mapping"])
        return self._detail(services.import_preview(actor=request.user, job=job))

    @extend_schema(summary="Apply a previewed import in the background (all rows or none).", request=None,
                   responses={202: ContactImportDetailSerializer})  # fmt: skip
    @action(detail=True, methods=["post"])
    def apply(self, request: Request, pk: str) -> Response:
        job = services.import_request_apply(actor=request.user, job=self._job())
        return self._detail(job, status.HTTP_202_ACCEPTED)

    @extend_schema(summary="Cancel a background apply: it rolls back and can be retried.", request=None)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        return self._detail(services.import_cancel(actor=request.user, job=self._job()))

    @extend_schema(summary="Apply again an import whose apply failed or was cancelled.", request=None,
                   responses={202: ContactImportDetailSerializer})  # fmt: skip
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        return self._detail(services.import_retry(actor=request.user, job=self._job()), status.HTTP_202_ACCEPTED)

    @extend_schema(summary="Undo a whole applied import (contacts edited since: see undo_report).", request=None)
    @action(detail=True, methods=["post"])
    def undo(self, request: Request, pk: str) -> Response:
        return self._detail(services.import_undo(actor=request.user, job=self._job()))


KINDS = {"summary": "contacts.csv", "tasks": "application-tasks.csv", "full": "client-data.xlsx"}


class ContactExportView(FirmScopedAPIView):
    """Export the contacts of your scope that match the contacts list's search (``q``), filters
    (as ``/api/v1/contacts/`` takes them) and optional selection (``ids=1,2,3``). ``summary`` and
    ``tasks`` are CSV; ``full`` is Excel with tax ids in clear, so it is served only to a signed-in
    browser session with a recent second-factor confirmation, never to an API token (403). From a
    browser session every export needs that confirmation; every export is audited."""

    required_right = Right.CRM

    @extend_schema(
        summary="Export contacts: summary CSV, application tasks CSV or full client data Excel.",
        parameters=[
            OpenApiParameter("kind", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(KINDS)),
            OpenApiParameter("q", OpenApiTypes.STR, description="Search as on the contacts list."),
            OpenApiParameter("ids", OpenApiTypes.STR, description="Comma-separated contact ids (a selection)."),
        ],
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): OpenApiTypes.BINARY,
        },
    )
    def get(self, request: Request, kind: str) -> Any:
        if kind not in KINDS:
            raise NotFound
        if kind == "full":  # tax ids in clear
            require_stepped_up_session(request, what="The full client data export (tax ids in clear)")
        elif request.auth is None and not recently_verified(request._request):
            raise PermissionDenied("Confirm your second factor again before exporting client data.")
        contacts = exports.selected_contacts(user=request.user, query=request.query_params, request=request)
        audit.record_read(what=f"contact {kind} export (API)", details=dict(request.query_params.items()))
        if kind == "full":
            return FileResponse(
                exports.full_workbook(contacts, date_format=DateFormat.ISO), as_attachment=True, filename=KINDS[kind]
            )
        rows = (
            exports.summary_rows(contacts)
            if kind == "summary"
            else exports.task_rows(contacts, date_format=DateFormat.ISO)
        )
        firm_id = cast(User, request.user).firm_id
        response = StreamingHttpResponse(firm_stream(firm_id, rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{KINDS[kind]}"'
        return response


__all__ = ["ContactExportView", "ContactImportViewSet", "SourceKind"]
