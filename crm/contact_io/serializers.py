from __future__ import annotations

from typing import Any

from rest_framework import serializers

from crm.contact_io.models import ContactImport, ContactImportStatus


class ContactImportSerializer(serializers.ModelSerializer[ContactImport]):
    status = serializers.ChoiceField(
        choices=ContactImportStatus.choices, read_only=True,
        help_text="While applying (in the background), poll until done, failed or cancelled; failed and "
        "cancelled imports changed nothing and can be retried.",
    )  # fmt: skip
    progress = serializers.IntegerField(read_only=True, help_text="Percent applied (while applying, live).")
    error = serializers.CharField(read_only=True, help_text="Why applying failed or was cancelled.")

    class Meta:
        model = ContactImport
        fields = [
            "id", "source_kind", "file_name", "file_size", "sha256", "status", "progress", "column_mapping",
            "rows_total", "created_count", "updated_count", "unchanged_count", "rejected_count", "error",
            "created_at", "previewed_at", "applied_at", "undone_at",
        ]  # fmt: skip
        read_only_fields = fields


class ContactImportDetailSerializer(ContactImportSerializer):
    class Meta(ContactImportSerializer.Meta):
        fields = [*ContactImportSerializer.Meta.fields, "report", "preview", "undo_report"]
        read_only_fields = fields


class ContactImportUploadSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(help_text="The Excel template (.xlsx), a CSV file or a vCard file (.vcf).")
    preview = serializers.BooleanField(
        default=True, help_text="Run the dry run at once (CSV: with the guessed column mapping)."
    )


class ColumnMappingSerializer(serializers.Serializer[Any]):
    mapping = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        help_text='CSV column position ("0", "1", …) -> contact field name ("" to skip the column).',
    )
