"""Custodian import jobs: one uploaded file, its validation report and what applying it did.

The file itself is kept in the row (``bytea``): it is at most ``IMPORT_MAX_BYTES``, it is never
served back to a browser, and keeping it in the database puts it under the same row-level security
as the job (a file under MEDIA would not be).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from advisorportal.tenancy.models import FirmOwnedModel


class ImportKind(models.TextChoices):
    POSITIONS_CSV = "positions_csv", "Positions (CSV)"
    TRANSACTIONS_CSV = "transactions_csv", "Transactions (CSV)"
    PRICES_CSV = "prices_csv", "Prices (CSV)"
    BROKER_XML = "broker_xml", "Broker activity statement (Flex XML)"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    VALIDATING = "validating", "Validating"
    APPLYING = "applying", "Applying"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


FINISHED = frozenset({ImportStatus.DONE, ImportStatus.FAILED})


class ImportJob(FirmOwnedModel):
    """One uploaded file. ``report`` is a list of ``{"row", "column", "message", "level"}`` where
    ``row`` is the file's row (CSV: the header is row 1; XML: the line of the element), 0 for the
    file as a whole, and ``level`` is ``error``, ``conflict`` or ``info``."""

    # The file is recorded as changed, never copied into the audit trail; the report can be long.
    audit_masked_fields = frozenset({"content", "report"})

    kind = models.CharField(max_length=20, choices=ImportKind.choices, blank=True)
    requested_kind = models.CharField(max_length=20, blank=True, help_text="What the uploader chose; blank: detect.")
    file_name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    content = models.BinaryField(default=bytes, editable=False)
    status = models.CharField(max_length=12, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    conflict_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(FirmOwnedModel.Meta):
        pass  # newest first is a backward scan of the UNIQUE (firm_id, id) index every firm-owned table has

    def __str__(self) -> str:
        return f"Import {self.pk}: {self.file_name}"

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def percent(self) -> int:
        if self.status == ImportStatus.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(100, int(self.rows_done * 100 / self.rows_total))
