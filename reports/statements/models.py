"""Statements and report definitions (issue #19, points 2 and 3).

- A **Statement** is one document for an account or a household over a period: an activity
  statement (balances, positions, transactions, fees, performance) or a performance report
  (snapshot or detailed: cover page, contents, charts). A worker computes its ``figures`` once and
  renders the PDF, the CSV and the Excel workbook from them, so the three always agree. The PDF is
  kept on the client's contact documents (``document``) with its SHA-256 (``content_hash``).
- A **ReportDefinition** names what to make (kind, sections, period, benchmark) for whom (chosen
  accounts and households, or every account in its owner's scope) and when (on demand, or monthly,
  quarterly or yearly by Celery beat), and whether to email each client a download link.
- A **ReportRun** is one definition for one period: ONE background job, split into parts that the
  workers run side by side, makes every statement (each in its own transaction: resumable) and
  mails each recipient once.
- A **Delivery** is one email to one recipient for one definition and period: its row is unique
  on (definition, period, recipient) and is claimed before the email is queued, in the same
  transaction, so no client is mailed twice whatever runs again.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from advisorportal.tenancy.models import FirmOwnedModel


class Kind(models.TextChoices):
    ACTIVITY = "activity", "Activity statement"
    PERFORMANCE = "performance", "Performance report"


class Style(models.TextChoices):
    SNAPSHOT = "snapshot", "Snapshot"
    DETAILED = "detailed", "Detailed"


class Section(models.TextChoices):
    SUMMARY = "summary", "Balances"
    PERFORMANCE = "performance", "Performance"
    CHART = "chart", "Growth chart"
    ALLOCATION = "allocation", "Allocation"
    POSITIONS = "positions", "Positions"
    TRANSACTIONS = "transactions", "Transactions"
    FEES = "fees", "Fees"


SECTION_ORDER = [s.value for s in Section]
DEFAULT_SECTIONS = {
    (Kind.ACTIVITY, Style.SNAPSHOT): ["summary", "positions", "transactions", "fees", "performance"],
    (Kind.ACTIVITY, Style.DETAILED): ["summary", "positions", "transactions", "fees", "performance"],
    (Kind.PERFORMANCE, Style.SNAPSHOT): ["summary", "performance", "chart", "allocation"],
    (Kind.PERFORMANCE, Style.DETAILED): SECTION_ORDER,
}


class Period(models.TextChoices):
    """A definition's period, counted back from the day it runs."""

    PREVIOUS_MONTH = "previous_month", "The previous month"
    PREVIOUS_QUARTER = "previous_quarter", "The previous quarter"
    PREVIOUS_YEAR = "previous_year", "The previous year"
    YEAR_TO_DATE = "year_to_date", "Year to date (to the day before)"


class Frequency(models.TextChoices):
    NONE = "none", "On demand only"
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"
    YEARLY = "yearly", "Yearly"


class StatementSettings(FirmOwnedModel):
    """What every statement of the firm prints beside its name, colours and logo."""

    disclosures = models.TextField(max_length=5000, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(FirmOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["firm"], name="statements_settings_one_per_firm")]


class ReportDefinition(FirmOwnedModel):
    name_fields = frozenset({"name"})

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.ACTIVITY)
    style = models.CharField(max_length=10, choices=Style.choices, default=Style.DETAILED)
    sections = models.JSONField(default=list, help_text="Sections, in the document's order.")
    period = models.CharField(max_length=20, choices=Period.choices, default=Period.PREVIOUS_QUARTER)
    benchmark = models.CharField(max_length=20, blank=True, help_text="A benchmark symbol; blank: the default.")
    every_account = models.BooleanField(
        default=False, help_text="Every open account in the owner's scope, one statement each (a statement run)."
    )
    frequency = models.CharField(max_length=10, choices=Frequency.choices, default=Frequency.NONE)
    next_run_on = models.DateField(null=True, blank=True, help_text="The day beat runs it next (scheduled only).")
    email_clients = models.BooleanField(
        default=True, help_text="Email each client a download link to their statements."
    )
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["firm", "name"], name="statements_definition_name_uniq")]
        indexes = [models.Index(fields=["firm", "active", "next_run_on"], name="statements_definition_due_idx")]

    def __str__(self) -> str:
        return self.name


class DefinitionTarget(FirmOwnedModel):
    """One account or one household a definition reports on."""

    definition = models.ForeignKey(ReportDefinition, on_delete=models.CASCADE, related_name="targets")
    account = models.ForeignKey("portfolios.ClientAccount", on_delete=models.CASCADE, null=True, related_name="+")
    household = models.ForeignKey("crm.Household", on_delete=models.CASCADE, null=True, related_name="+")

    class Meta(FirmOwnedModel.Meta):
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(account__isnull=False, household__isnull=True)
                | models.Q(account__isnull=True, household__isnull=False),
                name="statements_target_one_subject",
            ),
            models.UniqueConstraint(
                fields=["firm", "definition", "account"], condition=models.Q(account__isnull=False),
                name="statements_target_account_uniq",
            ),
            models.UniqueConstraint(
                fields=["firm", "definition", "household"], condition=models.Q(household__isnull=False),
                name="statements_target_household_uniq",
            ),
        ]  # fmt: skip


class ReportRun(FirmOwnedModel):
    """One definition over one period. Running it again (the sweeper, Run now, beat) carries on:
    only the statements missing are made and only recipients not mailed are mailed."""

    definition = models.ForeignKey(ReportDefinition, on_delete=models.CASCADE, related_name="runs")
    period_start = models.DateField()
    period_end = models.DateField()
    job = models.ForeignKey("jobs.Job", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    scheduled = models.BooleanField(default=False, help_text="Started by beat (else: Run now).")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    refused = models.JSONField(default=list, blank=True, help_text="Subjects not reported on, with the reason.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["-period_end", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["firm", "definition", "period_start", "period_end"], name="statements_run_period_uniq"
            )
        ]


class Statement(FirmOwnedModel):
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.ACTIVITY)
    style = models.CharField(max_length=10, choices=Style.choices, default=Style.DETAILED)
    sections = models.JSONField(default=list)
    account = models.ForeignKey(
        "portfolios.ClientAccount", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    household = models.ForeignKey("crm.Household", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    contact = models.ForeignKey(
        "crm.Contact", on_delete=models.PROTECT, related_name="+",
        help_text="The client it is kept for and sent to: the account's primary owner or the household's head.",
    )  # fmt: skip
    title = models.CharField(max_length=300)
    period_start = models.DateField()
    period_end = models.DateField()
    benchmark = models.CharField(max_length=20, blank=True)
    run = models.ForeignKey(ReportRun, on_delete=models.CASCADE, null=True, blank=True, related_name="statements")
    job = models.ForeignKey("jobs.Job", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    figures = models.JSONField(default=dict, blank=True, help_text="What the PDF, CSV and Excel show.")
    content_hash = models.CharField("SHA-256 of the PDF", max_length=64, blank=True)
    pages = models.PositiveSmallIntegerField(default=0)
    document = models.ForeignKey(
        "documents.Document", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    made_at = models.DateTimeField(null=True, blank=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(account__isnull=False, household__isnull=True)
                | models.Q(account__isnull=True, household__isnull=False),
                name="statements_statement_one_subject",
            ),
            models.UniqueConstraint(
                fields=["firm", "run", "account"], condition=models.Q(run__isnull=False, account__isnull=False),
                name="statements_statement_run_account_uniq",
            ),
            models.UniqueConstraint(
                fields=["firm", "run", "household"], condition=models.Q(run__isnull=False, household__isnull=False),
                name="statements_statement_run_household_uniq",
            ),
        ]  # fmt: skip
        indexes = [
            models.Index(fields=["firm", "contact", "created_at"], name="statements_contact_idx"),
            models.Index(fields=["firm", "-created_at", "-id"], name="statements_recent_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def made(self) -> bool:
        return bool(self.content_hash)


class DeliveryStatus(models.TextChoices):
    SENT = "sent", "Emailed"
    NO_EMAIL = "no_email", "Not sent: no email address"


class Delivery(FirmOwnedModel):
    definition = models.ForeignKey(ReportDefinition, on_delete=models.CASCADE, related_name="deliveries")
    period_start = models.DateField()
    period_end = models.DateField()
    contact = models.ForeignKey("crm.Contact", on_delete=models.PROTECT, related_name="+")
    run = models.ForeignKey(ReportRun, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices)
    recipient_email = models.EmailField(blank=True)
    statement_ids = models.JSONField(default=list, help_text="The statements whose links the email carries.")
    email = models.ForeignKey("mail.OutgoingEmail", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    message = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["firm", "definition", "period_start", "period_end", "contact"],
                name="statements_delivery_once",
            )
        ]
