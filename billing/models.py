"""Fee billing: schedules versioned by effective date, their assignments, and fee runs whose lines
explain themselves.

A ``FeeSchedule`` is the named template ("Standard tiered 1 %"); what it charges is its
``FeeScheduleVersion`` in effect on a period's first day (a change is a new version from a date,
never an edit of a billed one). A ``FeeAssignment`` puts a schedule on an account or on a household
(billed together: householding, perhaps with one payer account); an account without either is
billed on the firm's default schedule. A ``FeeRun`` computes one ``FeeLine`` per account for a
period (the preview), is approved, and posts each line's difference against what was already
billed for that account and period through the ledger's fee services, keyed by run and account,
so nothing is billed twice (docs/billing.md).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from advisorportal.tenancy.models import FirmOwnedModel
from portfolios.models import CurrencyField


def AmountField(**kwargs: Any) -> models.DecimalField[Any, Any]:
    return models.DecimalField(max_digits=17, decimal_places=2, **kwargs)


class Method(models.TextChoices):
    TIERED = "tiered", "Tiered"
    BREAKPOINT = "breakpoint", "Breakpoint"
    FLAT = "flat", "Flat fee"


class Frequency(models.TextChoices):
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"
    SEMIANNUAL = "semiannual", "Semi-annual"
    ANNUAL = "annual", "Annual"


class Timing(models.TextChoices):
    ARREARS = "arrears", "In arrears (on the period just ended)"
    ADVANCE = "advance", "In advance (on the period before)"


class Valuation(models.TextChoices):
    PERIOD_END = "period_end", "Value at the end of the period"
    AVERAGE_DAILY = "average_daily", "Average daily balance"
    MONTH_END_AVERAGE = "month_end_average", "Average of month-ends"


class PeriodBasis(models.TextChoices):
    FREQUENCY = "frequency", "Annual fee ÷ frequency"
    DAYS = "days", "By the days in the period"


class Proration(models.TextChoices):
    ACTUAL_ACTUAL = "actual/actual", "Actual/actual"
    ACTUAL_365 = "actual/365", "Actual/365"
    PERIOD_FRACTION = "period_fraction", "Period fraction"


class BillingSettings(FirmOwnedModel):
    """The firm's billing rules (one row per firm, made on first use)."""

    four_eyes = models.BooleanField(
        "four eyes", default=True, help_text="A run is approved by someone other than the person who prepared it."
    )
    change_alert_pct = models.DecimalField(
        "change alert (%)", max_digits=6, decimal_places=2, default=25,
        validators=[MinValueValidator(0), MaxValueValidator(10_000)],
        help_text="The pre-bill audit flags a fee that changed by more than this against the account's previous bill.",
    )  # fmt: skip
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(FirmOwnedModel.Meta):
        verbose_name_plural = "billing settings"
        constraints = [models.UniqueConstraint(fields=["firm"], name="billing_settings_one_per_firm")]


class FeeSchedule(FirmOwnedModel):
    name_fields: ClassVar[frozenset[str]] = frozenset({"name"})

    name = models.CharField(max_length=120)
    description = models.TextField(max_length=2000, blank=True)
    is_default = models.BooleanField(
        "firm default", default=False, help_text="Bills every account that has no schedule of its own."
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["firm", "name"], name="billing_schedule_name_uniq"),
            models.UniqueConstraint(
                fields=["firm"], condition=models.Q(is_default=True), name="billing_schedule_one_default"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class FeeScheduleVersion(FirmOwnedModel):
    """What a schedule charges from ``effective_from`` on (until the next version's date).
    ``tiers`` is a list of {"up_to": "1000000.00" | null, "annual_rate_pct": "1.00"}, checked by
    ``billing.fees.check_schedule`` on save."""

    schedule = models.ForeignKey(FeeSchedule, on_delete=models.CASCADE, related_name="versions")
    effective_from = models.DateField("effective from")
    method = models.CharField(max_length=10, choices=Method.choices)
    tiers = models.JSONField("bands", default=list, blank=True)
    flat_annual_fee = AmountField(null=True, blank=True)
    minimum_annual_fee = AmountField(null=True, blank=True)
    maximum_annual_fee = AmountField(null=True, blank=True)
    frequency = models.CharField(max_length=10, choices=Frequency.choices, default=Frequency.QUARTERLY)
    timing = models.CharField(max_length=8, choices=Timing.choices, default=Timing.ARREARS)
    valuation = models.CharField(max_length=20, choices=Valuation.choices, default=Valuation.AVERAGE_DAILY)
    period_basis = models.CharField(
        "period fee", max_length=10, choices=PeriodBasis.choices, default=PeriodBasis.FREQUENCY
    )
    proration = models.CharField(
        max_length=16, choices=Proration.choices, default=Proration.ACTUAL_365,
        help_text="How days are counted for a part period (an account opened mid-period) and for a period fee by days.",
    )  # fmt: skip
    note = models.CharField(max_length=300, blank=True, help_text="Why this version, for the record.")
    exclusions = models.JSONField(
        default=dict, blank=True, help_text="What is left out of the billed value (``billing.exclusions``)."
    )
    flow_threshold_amount = AmountField(
        verbose_name="flow threshold (amount)", null=True, blank=True, validators=[MinValueValidator(0)],
        help_text="A deposit or withdrawal above it during the period is prorated by its days in the account.",
    )  # fmt: skip
    flow_threshold_pct = models.DecimalField(
        "flow threshold (% of value)", max_digits=9, decimal_places=6, null=True, blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(1000)],
        help_text="The same, as a percentage of the account's billed value.",
    )  # fmt: skip
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["schedule", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["firm", "schedule", "effective_from"], name="billing_version_schedule_date_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.schedule} from {self.effective_from}"

    def band_rows(self) -> list[tuple[Decimal, Decimal | None, Decimal]]:
        """(from, to under, annual rate %) of each band."""
        rows, low = [], Decimal(0)
        for tier in self.tiers:
            high = None if tier["up_to"] is None else Decimal(tier["up_to"])
            rows.append((low, high, Decimal(tier["annual_rate_pct"])))
            low = high if high is not None else low
        return rows


class FeeAssignment(FirmOwnedModel):
    """A schedule on one account, or on a household. A household's assignment with ``householding``
    bills its accounts together (their combined value sets the bands); ``payer`` pays for all of
    them. An account's own assignment wins over its household's; ``excluded`` keeps it unbilled;
    ``fee_cap_pct`` caps its fee at an annualised percentage of its value."""

    schedule = models.ForeignKey(FeeSchedule, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    account = models.ForeignKey(
        "portfolios.ClientAccount", on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        db_constraint=False,
    )  # fmt: skip
    household = models.ForeignKey(
        "crm.Household", on_delete=models.CASCADE, null=True, blank=True, related_name="+", db_constraint=False
    )
    householding = models.BooleanField(
        "bill together", default=True, help_text="The household's combined value sets the bands."
    )
    payer = models.ForeignKey(
        "portfolios.ClientAccount", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        db_constraint=False, help_text="The account that pays the household's fees (blank: each pays its own).",
    )  # fmt: skip
    excluded = models.BooleanField("not billed", default=False)
    fee_cap_pct = models.DecimalField(
        "fee cap (% a year)", max_digits=9, decimal_places=6, null=True, blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )  # fmt: skip
    exclusions = models.JSONField(
        default=dict, blank=True, help_text="What is left out of the billed value (``billing.exclusions``)."
    )
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(FirmOwnedModel.Meta):
        constraints = [
            models.CheckConstraint(
                condition=models.Q(account__isnull=False, household__isnull=True)
                | models.Q(account__isnull=True, household__isnull=False),
                name="billing_assignment_one_target",
            ),
            models.UniqueConstraint(
                fields=["firm", "account"],
                condition=models.Q(account__isnull=False),
                name="billing_assign_account_uniq",
            ),
            models.UniqueConstraint(
                fields=["firm", "household"],
                condition=models.Q(household__isnull=False),
                name="billing_assign_household_uniq",
            ),
        ]


class RunStatus(models.TextChoices):
    PREVIEW = "preview", "Preview"
    APPROVED = "approved", "Approved"
    POSTING = "posting", "Posting"
    POSTED = "posted", "Posted"
    DISCARDED = "discarded", "Discarded"


class FeeRun(FirmOwnedModel):
    """One period's fees for a set of accounts. Computing (the preview) and posting are background
    jobs (``job``: the latest). Only one run of a period may be approved at a time, and posting
    locks every run of the period, so two postings of one period never interleave."""

    period_start = models.DateField("period from")
    period_end = models.DateField("period to")
    account_numbers = models.JSONField(
        default=list, blank=True, help_text="The accounts billed (their numbers); empty: every open account."
    )
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.PREVIEW)
    note = models.CharField(max_length=200, blank=True, help_text="Why the run was made, when not by hand.")
    job = models.ForeignKey("jobs.Job", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    computed_at = models.DateTimeField(null=True, blank=True)
    line_count = models.PositiveIntegerField(default=0)
    total_fee = AmountField(default=0)
    total_to_post = AmountField(default=0)
    audit = models.JSONField("pre-bill audit", default=list, blank=True)
    prepared_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    posted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["-period_end", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period_end__gte=models.F("period_start")), name="billing_run_dates"
            ),
            models.UniqueConstraint(
                fields=["firm", "period_start", "period_end"],
                condition=models.Q(status__in=["approved", "posting"]),
                name="billing_run_one_approved_per_period",
            ),
        ]

    def __str__(self) -> str:
        return f"FEE-{self.pk}"

    @property
    def reference(self) -> str:
        return f"FEE-{self.pk}"


class LineStatus(models.TextChoices):
    BILLED = "billed", "Billed"
    NO_SCHEDULE = "no_schedule", "No schedule"
    NOT_EFFECTIVE = "not_effective", "Schedule not yet effective"
    EXCLUDED = "excluded", "Not billed"
    NO_CASH = "no_cash", "Not enough cash"
    WRONG_PERIOD = "wrong_period", "Bills on another cycle"
    OVERLAP = "overlap", "Billed by a run of another period"


class FeeLine(FirmOwnedModel):
    """One account's fee in a run, with how it was reached (``explanation``, ``details``).
    ``previously_billed`` is what earlier runs posted for the account and period; posting moves
    ``to_post`` = ``period_fee`` less that (a refund when negative) and records ``posted_amount``."""

    run = models.ForeignKey(FeeRun, on_delete=models.CASCADE, related_name="lines")
    account = models.ForeignKey(
        "portfolios.ClientAccount", on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    payer = models.ForeignKey(
        "portfolios.ClientAccount", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        db_constraint=False,
    )  # fmt: skip
    household = models.ForeignKey(
        "crm.Household", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_constraint=False
    )
    version = models.ForeignKey(FeeScheduleVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    status = models.CharField(max_length=14, choices=LineStatus.choices, default=LineStatus.BILLED)
    currency = CurrencyField(default="USD")
    value = AmountField(default=0)
    billable_from = models.DateField(null=True, blank=True)
    billable_to = models.DateField(null=True, blank=True)
    annual_fee = AmountField(default=0)
    period_fee = AmountField(default=0)
    previously_billed = AmountField(default=0)
    to_post = AmountField(default=0)
    posted_amount = AmountField(null=True, blank=True)
    transfer = models.ForeignKey(
        "portfolios.AccountTransfer", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        db_constraint=False,
    )  # fmt: skip
    explanation = models.TextField(max_length=20_000)
    details = models.JSONField(default=dict, blank=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["run", "id"]
        constraints = [models.UniqueConstraint(fields=["firm", "run", "account"], name="billing_line_run_account_uniq")]
        indexes = [models.Index(fields=["firm", "account", "run"], name="billing_line_account_idx")]

    def __str__(self) -> str:
        return f"{self.run} {self.account_id}"


class InvoiceBatch(FirmOwnedModel):
    """The making and sending of a posted run's invoices (one per run; ``job``: the latest). The
    job is resumable: each invoice commits on its own, and running it again makes only what is
    missing and mails only what was not mailed."""

    run = models.ForeignKey(FeeRun, on_delete=models.CASCADE, related_name="+")
    job = models.ForeignKey("jobs.Job", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    no_recipient = models.JSONField(
        default=list, blank=True, help_text="Accounts billed by the run with no one to invoice (their numbers)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(FirmOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["firm", "run"], name="billing_invoice_batch_run_uniq")]


class Invoice(FirmOwnedModel):
    """One billing unit's invoice for a posted run: a household (sent to its head) or a client's
    own accounts (sent to their primary owner), in one currency. The PDF is kept as a document on
    the recipient's contact record (``document``; ``content_hash`` is the PDF's SHA-256, kept even
    if the document is deleted there). ``sent_at`` is set, once, in the transaction that queues
    the email (``email``), so no client is mailed twice for one invoice; ``not_sent`` says why an
    invoice was made and not mailed (no recipient, no email address)."""

    run = models.ForeignKey(FeeRun, on_delete=models.PROTECT, related_name="+")
    number = models.CharField(max_length=40)
    sequence = models.PositiveIntegerField()
    household = models.ForeignKey(
        "crm.Household", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_constraint=False
    )
    contact = models.ForeignKey(
        "crm.Contact", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_constraint=False,
        help_text="The recipient: the household's head, else the accounts' primary owner.",
    )  # fmt: skip
    recipient_name = models.CharField(max_length=200)
    recipient_email = models.EmailField(blank=True)
    currency = CurrencyField(default="USD")
    total = AmountField(default=0)
    line_ids = models.JSONField(default=list, help_text="The fee lines invoiced (ids).")
    content_hash = models.CharField("SHA-256 of the PDF", max_length=64)
    document = models.ForeignKey(
        "documents.Document", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        db_constraint=False,
    )  # fmt: skip
    email = models.ForeignKey(
        "mail.OutgoingEmail", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_constraint=False
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    not_sent = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["run", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["firm", "run", "sequence"], name="billing_invoice_run_seq_uniq"),
            models.UniqueConstraint(fields=["firm", "number"], name="billing_invoice_number_uniq"),
        ]

    def __str__(self) -> str:
        return self.number


# --- Adjustments (issue #18, point 4) -------------------------------------------------------------


class AdjustmentKind(models.TextChoices):
    CREDIT = "credit", "Credit"
    REIMBURSEMENT = "reimbursement", "Reimbursement"


class Adjustment(FirmOwnedModel):
    """A one-off credit or reimbursement to a client account, posted at once as a fee refund (the
    firm's master account debited, the client's account credited: ``transfer``), with its reason.
    Posted exactly once per ``idempotency_key``; a mistaken one is corrected by a new posting,
    never by an edit (the ledger is append-only)."""

    name_fields: ClassVar[frozenset[str]] = frozenset({"reason"})

    account = models.ForeignKey(
        "portfolios.ClientAccount", on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    kind = models.CharField(max_length=14, choices=AdjustmentKind.choices, default=AdjustmentKind.CREDIT)
    amount = AmountField(validators=[MinValueValidator(Decimal("0.01"))])
    currency = CurrencyField(default="USD")
    reason = models.CharField(max_length=300)
    trade_date = models.DateField()
    idempotency_key = models.CharField(max_length=255)
    transfer = models.ForeignKey(
        "portfolios.AccountTransfer", on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["firm", "idempotency_key"], name="billing_adjustment_key_uniq"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="billing_adjustment_amount_positive"),
        ]
        indexes = [models.Index(fields=["firm", "account", "created_at"], name="billing_adjustment_account_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.currency}"


class RecurringKind(models.TextChoices):
    FIXED_CREDIT = "fixed_credit", "Fixed credit per billing period"
    FEE_DISCOUNT = "fee_discount", "Discount of the fee (%)"


class RecurringAdjustment(FirmOwnedModel):
    """A credit on an account's fee in every billing period that overlaps ``starts_on`` to
    ``ends_on`` (open-ended when empty): a fixed amount per period, or a percentage of the period
    fee. Fee runs apply it to the account's line (``billing.runs``), which says so; it never turns
    a fee into a payment to the client. Stopping it sets ``ends_on`` (what was billed stays)."""

    name_fields: ClassVar[frozenset[str]] = frozenset({"reason"})

    account = models.ForeignKey(
        "portfolios.ClientAccount", on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    kind = models.CharField(max_length=14, choices=RecurringKind.choices)
    amount = AmountField(
        null=True, blank=True, validators=[MinValueValidator(Decimal("0.01"))],
        help_text="The credit per billing period, in the account's currency (fixed credit).",
    )  # fmt: skip
    pct = models.DecimalField(
        "discount (%)", max_digits=9, decimal_places=6, null=True, blank=True,
        validators=[MinValueValidator(Decimal("0.000001")), MaxValueValidator(100)],
        help_text="The share of the period fee credited (discount).",
    )  # fmt: skip
    reason = models.CharField(max_length=300)
    starts_on = models.DateField("from")
    ends_on = models.DateField("to", null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    stopped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["account", "starts_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind="fixed_credit", amount__gt=0, pct__isnull=True)
                | models.Q(kind="fee_discount", amount__isnull=True, pct__gt=0, pct__lte=100),
                name="billing_recurring_terms",
            ),
            models.CheckConstraint(
                condition=models.Q(ends_on__isnull=True) | models.Q(ends_on__gte=models.F("starts_on")),
                name="billing_recurring_dates",
            ),
        ]
        indexes = [models.Index(fields=["firm", "account", "starts_on"], name="billing_recurring_account_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.account_id}"

    def in_force(self, start: Any, end: Any) -> bool:
        """Whether it overlaps the period ``start`` to ``end``."""
        return self.starts_on <= end and (self.ends_on is None or self.ends_on >= start)


from billing.increase_models import *  # noqa: E402, F403
