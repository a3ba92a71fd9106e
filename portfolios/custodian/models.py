"""Custodian import jobs: one uploaded file, its validation report and what applying it did.

The file itself is kept in the row (``bytea``): it is at most ``IMPORT_MAX_BYTES``, it is never
served back to a browser, and keeping it in the database puts it under the same row-level security
as the job (a file under MEDIA would not be). Status, progress and the report live in the
background job (``advisorportal.jobs``).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models

from advisorportal.jobs.models import Job, JobStatus
from advisorportal.tenancy.models import FirmOwnedModel


class ImportKind(models.TextChoices):
    POSITIONS_CSV = "positions_csv", "Positions (CSV)"
    TRANSACTIONS_CSV = "transactions_csv", "Transactions (CSV)"
    PRICES_CSV = "prices_csv", "Prices (CSV)"
    BROKER_XML = "broker_xml", "Broker activity statement (Flex XML)"


class CustodianImportStatus(models.TextChoices):
    """What the pages and the API show: the background job's status, and while it runs, its phase."""

    QUEUED = "queued", "Queued"
    VALIDATING = "validating", "Validating"
    APPLYING = "applying", "Applying"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


# The job's phase while it runs (``Job.phase``), as people read it.
VALIDATING = "Validating"
APPLYING = "Applying"


class ImportJob(FirmOwnedModel):
    """One uploaded file, processed by a background job of the jobs kit (``background_job``), which
    holds the status, progress, timing and the report: a list of ``{"row", "column", "message",
    "level"}`` where ``row`` is the file's row (CSV: the header is row 1; XML: the line of the
    element), 0 for the file as a whole, and ``level`` is ``error``, ``conflict`` or ``info``."""

    # The file is recorded as changed, never copied into the audit trail.
    audit_masked_fields = frozenset({"content"})

    kind = models.CharField(max_length=20, choices=ImportKind.choices, blank=True)
    requested_kind = models.CharField(max_length=20, blank=True, help_text="What the uploader chose; blank: detect.")
    file_name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    content = models.BinaryField(default=bytes, editable=False)
    background_job = models.ForeignKey(
        Job, on_delete=models.PROTECT, editable=False, related_name="+", db_constraint=False, db_index=False
    )  # the same-firm key and the unique constraint below cover both
    rows_total = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    conflict_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(FirmOwnedModel.Meta):
        # Newest first is a backward scan of the UNIQUE (firm_id, id) index every firm-owned table has.
        constraints = [models.UniqueConstraint(fields=["firm", "background_job"], name="imports_importjob_job_uniq")]

    def __str__(self) -> str:
        return f"Import {self.pk}: {self.file_name}"

    @property
    def status(self) -> str:
        job = self.background_job
        if job.status == JobStatus.RUNNING:
            return CustodianImportStatus.APPLYING if job.phase == APPLYING else CustodianImportStatus.VALIDATING
        return CustodianImportStatus(job.status)

    def get_status_display(self) -> str:
        return str(CustodianImportStatus(self.status).label)

    @property
    def finished(self) -> bool:
        return self.background_job.finished

    @property
    def rows_done(self) -> int:
        return self.background_job.done

    @property
    def percent(self) -> int:
        return self.background_job.percent or 0

    @property
    def report(self) -> list[dict[str, object]]:
        return list(self.background_job.issues)

    @property
    def started_at(self) -> dt.datetime | None:
        return self.background_job.started_at

    @property
    def finished_at(self) -> dt.datetime | None:
        return self.background_job.finished_at
