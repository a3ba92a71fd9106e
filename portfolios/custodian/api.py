from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from accounts.api_access import FirmScopedViewSet
from accounts.rights import Right
from portfolios.custodian import selectors, services
from portfolios.custodian.models import ImportJob
from portfolios.custodian.serializers import ImportJobDetailSerializer, ImportJobSerializer, ImportUploadSerializer


@extend_schema_view(
    list=extend_schema(summary="Import jobs, newest first (without their reports)."),
    retrieve=extend_schema(summary="One import job: status, progress, counts and report."),
    create=extend_schema(
        summary="Upload a file to import; the job runs in the background.",
        request={"multipart/form-data": ImportUploadSerializer},
        responses={201: ImportJobDetailSerializer},
    ),
)
class ImportJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, FirmScopedViewSet):
    """Custodian imports: positions, transactions and prices CSV and Interactive Brokers Flex XML.
    Poll a job until its status is ``done``, ``failed`` or ``cancelled``; its report names file row
    and column. A job that stopped without a verdict on the file (its worker died) can be retried."""

    required_right = Right.ACCOUNT_INFORMATION
    keyset = selectors.JOB_ORDER
    filter_backends: list[Any] = []
    parser_classes = [MultiPartParser, FormParser]

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        if self.action == "create":
            return ImportUploadSerializer
        if self.action == "retrieve":
            return ImportJobDetailSerializer
        return ImportJobSerializer

    def get_queryset(self) -> QuerySet[ImportJob]:
        if self.describing_schema():
            return ImportJob.objects.unscoped().none()
        if self.action == "retrieve":
            return selectors.jobs_with_report(user=self.request.user)
        return selectors.job_list(user=self.request.user)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        upload = ImportUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        job = services.job_create(
            actor=request.user, upload=upload.validated_data["file"], kind=upload.validated_data.get("kind", "")
        )
        return Response(ImportJobDetailSerializer(job).data, status=status.HTTP_201_CREATED)

    def _job(self) -> ImportJob:
        try:
            return selectors.job_get(user=self.request.user, pk=self.kwargs["pk"])
        except (ImportJob.DoesNotExist, ValueError, TypeError):
            raise NotFound from None

    def _detail(self, job: ImportJob, code: int = status.HTTP_200_OK) -> Response:
        job = selectors.job_get(user=self.request.user, pk=job.pk)
        return Response(ImportJobDetailSerializer(job).data, status=code)

    @extend_schema(summary="Cancel a queued or running import: nothing from the file is stored.", request=None,
                   responses={200: ImportJobDetailSerializer})  # fmt: skip
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        return self._detail(services.job_cancel(actor=request.user, job=self._job()))

    @extend_schema(summary="Run again an import whose worker stopped or that was cancelled.", request=None,
                   responses={202: ImportJobDetailSerializer})  # fmt: skip
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        return self._detail(services.job_retry(actor=request.user, job=self._job()), status.HTTP_202_ACCEPTED)
