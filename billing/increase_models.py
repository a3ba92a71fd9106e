"""Client-approved fee increases and uploaded advisor-calculated invoices (issue #18, points 5 and 6).

A ``FeeIncrease`` is one client's pending change to dearer terms: a new version of the schedule
that bills them, or an assignment that moves their account (or household) to a dearer schedule.
Until the client approves it through the emailed approval link, fee runs bill that client on
``old_version`` (``billing.increases.pending_increases``). A ``FeeUpload`` is a file of fees an
advisor calculated: checked row by row, shown as a dry run, then made into a fee run whose lines
are the file's amounts, approved and posted by the fee runs' own approval and posting.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from advisorportal.tenancy.models import FirmOwnedModel
from billing.models import AmountField, FeeRun, FeeScheduleVersion
from portfolios.models import CurrencyField


class IncreaseKind(models.TextChoices):
    VERSION = "version", "New schedule terms"
    ASSIGNMENT = "assignment", "Moved to another schedule"


class IncreaseStatus(models.TextChoices):
    PENDING = "pending", "Awaiting the client"
    APPROVED = "approved", "Approved by the client"
    DECLINED = "declined", "Declined by the client"
    EXPIRED = "expired", "Link expired"
    CANCELLED = "cancelled", "Cancelled"


class FeeIncrease(FirmOwnedModel):
    """One billing unit's fee increase (an account, or a household billed together), waiting for
    its client. ``old_version`` bills the client until the increase is approved; ``value`` is the
    client's value when it was found, on which ``old_annual_fee`` < ``new_annual_fee``."""

    kind = models.CharField(max_length=10, choices=IncreaseKind.choices)
    status = models.CharField(max_length=10, choices=IncreaseStatus.choices, default=IncreaseStatus.PENDING)
    account = models.ForeignKey(
        "portfolios.ClientAccount", on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        db_constraint=False,
    )  # fmt: skip
    household = models.ForeignKey(
        "crm.Household", on_delete=models.CASCADE, null=True, blank=True, related_name="+", db_constraint=False
    )
    contact = models.ForeignKey(
        "crm.Contact", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_constraint=False,
        help_text="Who approves: the account's primary owner, or the household's head.",
    )  # fmt: skip
    recipient_email = models.EmailField(blank=True)
    old_version = models.ForeignKey(FeeScheduleVersion, on_delete=models.PROTECT, related_name="+")
    new_version = models.ForeignKey(FeeScheduleVersion, on_delete=models.PROTECT, related_name="+")
    effective_from = models.DateField("takes effect from")
    currency = CurrencyField(default="USD")
    value = AmountField(default=0)
    old_annual_fee = AmountField(default=0)
    new_annual_fee = AmountField(default=0)
    email = models.ForeignKey(
        "mail.OutgoingEmail", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_constraint=False
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    not_sent = models.CharField(max_length=200, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision = models.CharField(max_length=300, blank=True, help_text="Who decided, how, and why.")
    document = models.ForeignKey(
        "documents.Document", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        db_constraint=False, help_text="The approved agreement (PDF) on the contact's documents.",
    )  # fmt: skip
    content_hash = models.CharField("SHA-256 of the agreement", max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(account__isnull=False, household__isnull=True)
                | models.Q(account__isnull=True, household__isnull=False),
                name="billing_increase_one_target",
            ),
            models.UniqueConstraint(
                fields=["firm", "account", "new_version"],
                condition=models.Q(account__isnull=False),
                name="billing_increase_account_version_uniq",
            ),
            models.UniqueConstraint(
                fields=["firm", "household", "new_version"],
                condition=models.Q(household__isnull=False),
                name="billing_increase_household_version_uniq",
            ),
        ]
        indexes = [models.Index(fields=["firm", "status"], name="billing_increase_status_idx")]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        return f"FI-{self.pk}"


class FeeUpload(FirmOwnedModel):
    """A file of advisor-calculated fees, posted as the fee run ``run`` (its lines are the file's
    rows; the run is approved and posted like any other). A file with a bad row makes no run."""

    file_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    row_count = models.PositiveIntegerField(default=0)
    total = AmountField(default=0)
    run = models.ForeignKey(FeeRun, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    issues = models.JSONField(default=list, blank=True, help_text="What was wrong, by row and column.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["firm", "run"], condition=models.Q(run__isnull=False), name="billing_upload_run_uniq"
            )
        ]

    def __str__(self) -> str:
        return self.file_name


__all__ = ["FeeIncrease", "FeeUpload", "IncreaseKind", "IncreaseStatus"]
