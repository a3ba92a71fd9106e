"""Documents kept on a contact: the record of one stored file.

The bytes live in the "documents" storage (Django's storage API: local disk or an S3-compatible
store, ``settings.STORAGES``) under a random key that says nothing about the firm's data; the row
holds the cleaned name people see, what the content was found to be, its size and its SHA-256.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from advisorportal.tenancy.models import FirmOwnedModel


class DocumentKind(models.TextChoices):
    PDF = "pdf", "PDF document"
    PNG = "png", "PNG image"
    JPEG = "jpeg", "JPEG image"
    GIF = "gif", "GIF image"
    WEBP = "webp", "WebP image"
    TEXT = "text", "Text"
    CSV = "csv", "CSV file"
    XLSX = "xlsx", "Excel workbook"
    DOCX = "docx", "Word document"


class Document(FirmOwnedModel):
    name_fields = frozenset({"name"})

    contact = models.ForeignKey("crm.Contact", on_delete=models.CASCADE, related_name="documents")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=8, choices=DocumentKind.choices)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField("SHA-256", max_length=64)
    storage_key = models.CharField(max_length=200, editable=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["firm", "contact", "created_at", "id"], name="documents_contact_idx"),
            models.Index(fields=["firm", "created_at", "id"], name="documents_created_idx"),
        ]
        constraints = [models.UniqueConstraint(fields=["firm", "storage_key"], name="documents_storage_key_uniq")]

    def __str__(self) -> str:
        return self.name

    @property
    def previewable(self) -> bool:
        """Shown in the browser (PDFs, images, text) rather than only downloaded."""
        return self.kind in PREVIEWABLE

    @property
    def is_image(self) -> bool:
        return self.kind in IMAGES


IMAGES = frozenset({DocumentKind.PNG, DocumentKind.JPEG, DocumentKind.GIF, DocumentKind.WEBP})
PREVIEWABLE = IMAGES | {DocumentKind.PDF, DocumentKind.TEXT}
