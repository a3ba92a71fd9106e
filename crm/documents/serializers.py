from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from crm.documents.models import Document


class DocumentSerializer(serializers.ModelSerializer[Document]):
    uploaded_by = serializers.CharField(source="uploaded_by.full_name", default=None, read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = ["id", "contact", "name", "kind", "content_type", "size", "sha256", "uploaded_by", "created_at",
                  "download_url"]  # fmt: skip
        read_only_fields = fields

    def get_download_url(self, document: Document) -> str:
        return reverse("api:document-download", args=[document.pk])


class DocumentUploadSerializer(serializers.Serializer[Any]):
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True), allow_empty=False,
        help_text="One or more files (repeat the field); all are kept, or none if any is refused.",
    )  # fmt: skip
