"""Merges of duplicate contacts and the client information PDF, under /api/v1/."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, renderers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from accounts.api_access import FirmScopedAPIView, FirmScopedViewSet
from accounts.rights import Right
from crm import selectors as crm_selectors
from crm.merge import selectors, services
from crm.merge.models import ContactMerge
from crm.merge.serializers import (
    ContactMergeSerializer,
    DuplicateClusterSerializer,
    DuplicatePageSerializer,
    MergeRequestSerializer,
    UndoResultSerializer,
)
from crm.merge.views import client_pdf_response
from crm.models import Contact

DUPLICATES_PAGE = 25


class ContactMergeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    """Merges of duplicate contacts (newest first), possible duplicates, merge and undo."""

    required_right = Right.CRM
    serializer_class = ContactMergeSerializer
    keyset = ("-created_at", "-id")
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[ContactMerge]:
        if self.describing_schema():
            return ContactMerge.objects.unscoped().none()
        return selectors.merge_list(user=self.request.user)

    @extend_schema(request=MergeRequestSerializer, responses={201: ContactMergeSerializer})
    def create(self, request: Request) -> Response:
        """Merge 2 or 3 contacts into ``survivor``; related records move to it; undoable."""
        form = MergeRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            contacts = selectors.merge_candidates(user=request.user, ids=data["ids"])
        except Contact.DoesNotExist:
            raise Http404 from None
        merge = services.contacts_merge(
            actor=request.user, contacts=contacts, survivor_id=data["survivor"], choices=data["choices"]
        )
        return Response(ContactMergeSerializer(merge).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: UndoResultSerializer})
    @action(detail=True, methods=["post"])
    def undo(self, request: Request, pk: str) -> Response:
        """Undo a merge: the merged contacts come back with their ids and records; survivor fields
        edited since the merge keep their newer values (listed in ``kept_fields``)."""
        merge = self.get_object()
        result = services.merge_undo(actor=request.user, merge=merge)
        body = {"merge": result.merge, "kept_fields": result.kept_fields, "missing_rows": result.missing_rows}
        return Response(UndoResultSerializer(body).data)

    @extend_schema(
        parameters=[OpenApiParameter("cursor", str, description="From the previous page's `next`.")],
        responses={200: DuplicatePageSerializer},
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def duplicates(self, request: Request) -> Response:
        """Groups of possible duplicates in the caller's scope, with the reasons (same email, same
        tax id, similar name and same birth date)."""
        page = selectors.duplicate_page(
            user=request.user, after=request.query_params.get("cursor", ""), size=DUPLICATES_PAGE
        )
        results = [{"ids": c.ids, "reasons": c.reasons, "contacts": c.contacts} for c in page.clusters]
        next_url = (
            replace_query_param(request.build_absolute_uri(), "cursor", page.next_cursor) if page.next_cursor else None
        )
        return Response({"next": next_url, "results": DuplicateClusterSerializer(results, many=True).data})


class PdfRenderer(renderers.BaseRenderer):
    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> Any:
        return data


class ClientPdfAPIView(FirmScopedAPIView):
    """The client information PDF of one contact (tax id masked; the full value only from the
    browser page after a fresh two-factor confirmation)."""

    required_right = Right.CRM
    renderer_classes = [renderers.JSONRenderer, PdfRenderer]

    @extend_schema(responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY)})
    def get(self, request: Request, pk: int) -> HttpResponse:
        try:
            contact = crm_selectors.contact_get(user=request.user, pk=pk)
        except Contact.DoesNotExist:
            raise Http404 from None
        return client_pdf_response(request, contact, full_tax_id=False)
