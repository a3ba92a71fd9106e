"""Contact import jobs and what each applied row did, so a whole import can be undone.

The uploaded file is kept in the row (``bytea``, under the same row-level security as the job)
only until applying is requested: it may hold tax ids in clear, so it is not kept longer. The
validated plan (``plan``, zlib-compressed JSON, tax ids already sealed) is kept between the
preview and the apply so applying (and retrying it) does not parse the file again; it is dropped
once applied.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from advisorportal.jobs.models import Job, JobStatus
from advisorportal.tenancy.models import FirmOwnedModel


class SourceKind(models.TextChoices):
    XLSX = "xlsx", "Excel (template)"
    CSV = "csv", "CSV"
    VCARD = "vcard", "vCard"


class Stage(models.TextChoices):
    """Where the import itself stands; while it is being applied, its background job says more."""

    UPLOADED = "uploaded", "Uploaded"
    PREVIEWED = "previewed", "Previewed"
    APPLIED = "applied", "Applied"
    UNDONE = "undone", "Undone"


class ContactImportStatus(models.TextChoices):
    """What the pages and the API show: the stage, or the apply job's status once one was started."""

    UPLOADED = "uploaded", "Uploaded"
    PREVIEWED = "previewed", "Previewed"
    APPLYING = "applying", "Applying"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    UNDONE = "undone", "Undone"


_BY_STAGE = {
    Stage.UPLOADED: ContactImportStatus.UPLOADED,
    Stage.PREVIEWED: ContactImportStatus.PREVIEWED,
    Stage.APPLIED: ContactImportStatus.DONE,
    Stage.UNDONE: ContactImportStatus.UNDONE,
}
_BY_JOB = {
    JobStatus.QUEUED: ContactImportStatus.APPLYING,
    JobStatus.RUNNING: ContactImportStatus.APPLYING,
    JobStatus.DONE: ContactImportStatus.DONE,  # committed together with Stage.APPLIED
    JobStatus.FAILED: ContactImportStatus.FAILED,
    JobStatus.CANCELLED: ContactImportStatus.CANCELLED,
}


class ContactImport(FirmOwnedModel):
    """One uploaded contacts file. ``report`` is a list of ``{"row", "column", "message"}``: ``row``
    is the file's row (the header is row 1; vCard: the card's number), 0 for the file as a whole.

    Applying runs as a background job (``apply_job``), which holds the status, progress and error
    while it runs; the stage becomes "applied" in the job's own transaction, so an import is never
    shown as applied unless its changes committed."""

    audit_masked_fields = frozenset({"data", "plan", "report", "preview"})

    source_kind = models.CharField(max_length=8, choices=SourceKind.choices)
    file_name = models.CharField(max_length=255)
    file_size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    data = models.BinaryField(null=True, blank=True, editable=False)
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.UPLOADED)
    apply_job = models.ForeignKey(
        Job, on_delete=models.PROTECT, null=True, blank=True, editable=False, related_name="+",
        db_constraint=False, db_index=False,  # the same-firm key and the unique constraint below cover both
    )  # fmt: skip
    column_mapping = models.JSONField(default=dict, blank=True, help_text="CSV: file column -> contact field.")
    rows_total = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=list, blank=True)
    preview = models.JSONField(default=dict, blank=True, help_text="The first rows of each class, for the page.")
    plan = models.BinaryField(null=True, blank=True, editable=False)
    undo_report = models.JSONField(default=list, blank=True)
    created_runs = models.JSONField(
        default=list,
        blank=True,
        help_text="The contacts the import created, as runs [first file row, first contact id, count] "
        "(row r + i made contact id + i); updated contacts have a ContactImportRow each.",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    previewed_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["firm", "created_at", "id"], name="contact_io_import_created_idx")]
        constraints = [models.UniqueConstraint(fields=["firm", "apply_job"], name="contact_io_import_job_uniq")]

    def __str__(self) -> str:
        return f"Import #{self.pk} {self.file_name}"

    def created_ids(self) -> list[int]:
        """The ids of the contacts this import created, in file order."""
        return [first_id + i for _, first_id, count in self.created_runs for i in range(count)]

    @property
    def status(self) -> str:
        if self.stage == Stage.PREVIEWED and self.apply_job is not None:
            return _BY_JOB[JobStatus(self.apply_job.status)]
        return _BY_STAGE[Stage(self.stage)]

    def get_status_display(self) -> str:
        return str(ContactImportStatus(self.status).label)

    @property
    def progress(self) -> int:
        """Percent applied."""
        status = self.status
        if status in (ContactImportStatus.DONE, ContactImportStatus.UNDONE):
            return 100
        if status == ContactImportStatus.APPLYING and self.apply_job is not None:
            return self.apply_job.percent or 0
        return 0

    @property
    def error(self) -> str:
        """Why applying failed or was cancelled."""
        job = self.apply_job
        return job.error if job is not None and job.status in (JobStatus.FAILED, JobStatus.CANCELLED) else ""


class RowAction(models.TextChoices):
    CREATED = "created", "Created"
    UPDATED = "updated", "Updated"


class ContactImportRow(FirmOwnedModel):
    """One contact an applied import updated (or, before ``ContactImport.created_runs``, created);
    ``before`` holds the updated fields' old values (JSON; a sealed tax id as base64) so the import
    can be undone. Created contacts are kept as runs in the job: a row each was ~5 % of a 100k-row
    apply (the insert and two foreign-key checks per row)."""

    audited = False  # the import's own audit entry records what it did
    audit_masked_fields = frozenset({"before"})

    contact_import = models.ForeignKey(
        ContactImport, on_delete=models.CASCADE, related_name="rows", db_index=False, db_constraint=False
    )
    row = models.PositiveIntegerField()
    contact_id = models.BigIntegerField(help_text="Not a foreign key: the contact may be deleted since.")
    action = models.CharField(max_length=8, choices=RowAction.choices)
    before = models.JSONField(default=dict, blank=True)

    class Meta(FirmOwnedModel.Meta):
        indexes = [models.Index(fields=["firm", "contact_import", "row"], name="contact_io_row_import_idx")]
