"""Documents API: a contact's documents (list, upload multipart), the firm's documents (list,
search by name), one document (detail, download, delete). Same selectors, services, right (CRM)
and scope as the pages; another firm's or an out-of-scope document or contact is a 404."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as DrfValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_access import FirmScopedViewSet
from accounts.rights import Right
from crm import selectors as crm_selectors
from crm.documents import selectors, services
from crm.documents.filetypes import TYPES
from crm.documents.models import Document
from crm.documents.responses import file_response
from crm.documents.serializers import DocumentSerializer, DocumentUploadSerializer
from crm.models import Contact


@extend_schema_view(
    list=extend_schema(
        summary="Documents on contacts in your scope, newest first.",
        parameters=[OpenApiParameter("q", OpenApiTypes.STR, description="Only names containing this text.")],
    ),
    retrieve=extend_schema(summary="One document: name, type found by content, size, SHA-256, uploader."),
    destroy=extend_schema(summary="Delete a document and its stored file (audited)."),
)
class DocumentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, FirmScopedViewSet):
    """Documents kept on contacts. Upload through ``/contacts/{id}/documents/``."""

    required_right = Right.CRM
    serializer_class = DocumentSerializer
    keyset = selectors.ORDER
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[Document]:
        if self.describing_schema():
            return Document.objects.unscoped().none()
        return selectors.document_list(user=self.request.user, q=self.request.query_params.get("q", ""))

    def get_object(self) -> Document:
        try:
            return selectors.document_get(user=self.request.user, pk=self.kwargs["pk"])
        except Document.DoesNotExist:
            raise NotFound from None

    def perform_destroy(self, instance: Document) -> None:
        services.document_delete(actor=self.request.user, document=instance)

    @extend_schema(
        summary="The document's file, as an attachment (audited).",
        responses={(200, file_type.content_type): OpenApiTypes.BINARY for file_type in TYPES.values()},
    )
    @action(detail=True, methods=["get"])
    def download(self, request: Request, pk: str) -> FileResponse:
        return file_response(self.get_object(), inline=False)


@extend_schema_view(
    list=extend_schema(summary="A contact's documents, newest first."),
    create=extend_schema(
        summary="Upload one or more files to a contact (multipart field `files`, repeated).",
        request={"multipart/form-data": DocumentUploadSerializer},
        # The stored documents as a plain array: a serializer with many=True would be documented
        # as this list view's paginated page.
        responses={201: {"type": "array", "items": {"$ref": "#/components/schemas/Document"}}},
    ),
)
class ContactDocumentViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, FirmScopedViewSet):
    """Documents of one contact. Files are checked by content: PDF, PNG, JPEG, GIF, WebP, text,
    CSV, Excel (.xlsx) or Word (.docx), each at most ``DOCUMENT_MAX_BYTES``; a name whose
    extension contradicts the content is refused (400, ``files`` names each refused file and what it is),
    and then nothing is stored."""

    required_right = Right.CRM
    serializer_class = DocumentSerializer
    keyset = selectors.ORDER
    filter_backends: list[Any] = []
    parser_classes = [MultiPartParser]

    def _contact(self) -> Contact:
        try:
            return crm_selectors.contact_get(user=self.request.user, pk=self.kwargs["contact_pk"])
        except Contact.DoesNotExist:
            raise NotFound from None

    def get_queryset(self) -> QuerySet[Document]:
        if self.describing_schema():
            return Document.objects.unscoped().none()
        return selectors.document_list(user=self.request.user, contact=self._contact())

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        contact = self._contact()
        try:
            created = services.document_upload(
                actor=request.user, contact=contact, files=request.FILES.getlist("files")
            )
        except ValidationError as error:
            raise DrfValidationError(error.message_dict) from None
        return Response(DocumentSerializer(created, many=True).data, status=status.HTTP_201_CREATED)
