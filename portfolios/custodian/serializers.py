from __future__ import annotations

from typing import Any

from rest_framework import serializers

from portfolios.custodian.models import CustodianImportStatus, ImportJob, ImportKind


class IssueSerializer(serializers.Serializer[Any]):
    row = serializers.IntegerField(help_text="Row of the file (CSV: the header is row 1; XML: the line); 0: the file.")
    column = serializers.CharField(help_text="Column (CSV) or attribute (XML); blank for the whole row or file.")
    message = serializers.CharField()
    level = serializers.ChoiceField(choices=["error", "conflict", "info"])


class ImportJobSerializer(serializers.ModelSerializer[ImportJob]):
    kind = serializers.ChoiceField(
        choices=ImportKind.choices, allow_blank=True, read_only=True,
        help_text="The kind of file as read from its content; blank until the file has been read.",
    )  # fmt: skip
    status = serializers.ChoiceField(
        choices=CustodianImportStatus.choices, read_only=True,
        help_text="Poll until done, failed or cancelled. Failed or cancelled: nothing from the file was stored.",
    )  # fmt: skip
    rows_done = serializers.IntegerField(read_only=True)
    percent = serializers.IntegerField(read_only=True, help_text="Rows done as a percentage of all rows.")
    error = serializers.CharField(source="background_job.error", read_only=True, help_text="Why it failed.")
    started_at = serializers.DateTimeField(read_only=True, allow_null=True)
    finished_at = serializers.DateTimeField(read_only=True, allow_null=True)
    created_by = serializers.CharField(source="created_by.full_name", read_only=True)

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "kind",
            "requested_kind",
            "file_name",
            "size",
            "sha256",
            "status",
            "rows_total",
            "rows_done",
            "percent",
            "created_count",
            "unchanged_count",
            "conflict_count",
            "error_count",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class ImportJobDetailSerializer(ImportJobSerializer):
    report = IssueSerializer(many=True, read_only=True)

    class Meta(ImportJobSerializer.Meta):
        fields = [*ImportJobSerializer.Meta.fields, "report"]
        read_only_fields = fields


class ImportUploadSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(help_text="The CSV or Flex XML file.", allow_empty_file=True)
    kind = serializers.ChoiceField(
        choices=ImportKind.choices, required=False, allow_blank=True, help_text="Blank or absent: detect."
    )
