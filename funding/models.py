"""Money movement: funding requests and their timeline, bank instructions, service programs.

Every request is one ``FundingRequest`` whose ``status`` moves only through
``funding.states.TRANSITIONS`` (the one table of legal moves), each move written as a
``RequestEvent`` (actor, time, reason) by ``funding.services``. Money leaves an account only at
completion, through the portfolios ledger services, keyed by the request's reference, so it is
posted at most once whatever is retried (docs/funding.md).
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from advisorportal.tenancy.models import FirmOwnedModel
from portfolios.models import CurrencyField, MoneyField, QuantityField


class Program(models.TextChoices):
    """The service programs of seed 000's table: who must approve what."""

    STREAMLINED = "streamlined", "Streamlined"
    STREAMLINED_PLUS = "streamlined_plus", "Streamlined Plus"
    FULL_SERVICE = "full_service", "Full-Service"


class Power(models.TextChoices):
    """What a client enrolled in Full-Service may let the advisor do on their behalf."""

    MOVE_FUNDS = "move_funds", "Send payments and wires, move funds and positions"
    BANK_INSTRUCTIONS = "bank_instructions", "Provide or change banking and transfer instructions"


class FundingSettings(FirmOwnedModel):
    """The firm's funding policy (one row per firm; ``selectors.funding_settings`` gives the
    defaults until a firm saves its own)."""

    program = models.CharField("service program", max_length=20, choices=Program.choices, default=Program.STREAMLINED)
    cooling_off_days = models.PositiveSmallIntegerField(
        "cooling-off days for new bank instructions",
        default=3,
        validators=[MaxValueValidator(60)],
        help_text="A bank instruction can receive a withdrawal only this many days after it was approved.",
    )
    dual_authorization_amount = MoneyField(
        verbose_name="two authorizers from",
        default=Decimal(50_000),  # a Decimal, as a saved row reads it (an unsaved default is used as is)
        validators=[MinValueValidator(0)],
        help_text="Withdrawals of this amount or more (in the currency below) need two different authorizers.",
    )
    dual_authorization_currency = CurrencyField(default="USD")
    link_expiry_hours = models.PositiveSmallIntegerField(
        "approval links expire after (hours)", default=72, validators=[MinValueValidator(1), MaxValueValidator(720)]
    )
    reminder_after_hours = models.PositiveSmallIntegerField(
        "remind the client after (hours)",
        default=24,
        validators=[MaxValueValidator(719)],
        help_text="A client who has not answered an approval email after this many hours gets one reminder, "
        "with a new link that expires when the first would have. 0: no reminders.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def clean(self) -> None:
        if self.reminder_after_hours and self.reminder_after_hours >= self.link_expiry_hours:
            message = (
                f"The reminder must go out before the link expires: fewer hours than the links' "
                f"{self.link_expiry_hours}, or 0 for no reminders."
            )
            raise ValidationError({"reminder_after_hours": message})

    class Meta(FirmOwnedModel.Meta):
        verbose_name_plural = "funding settings"
        constraints = [models.UniqueConstraint(fields=["firm"], name="funding_settings_one_per_firm")]


class Enrollment(FirmOwnedModel):
    """A client's Full-Service enrolment: the powers they granted the advisor (signed form on file)."""

    contact = models.ForeignKey("crm.Contact", on_delete=models.PROTECT, related_name="+", db_constraint=False)
    powers = ArrayField(models.CharField(max_length=20, choices=Power.choices), default=list, blank=True)
    form_reference = models.CharField(
        "signed form", max_length=100, help_text="Where the client's signed power of attorney is filed."
    )
    enrolled_at = models.DateTimeField(auto_now_add=True)
    enrolled_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")

    name_fields: ClassVar[frozenset[str]] = frozenset({"form_reference"})

    class Meta(FirmOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["firm", "contact"], name="funding_enrollment_contact_uniq")]


class BankAccountKind(models.TextChoices):
    CHECKING = "checking", "Checking"
    SAVINGS = "savings", "Savings"


class InstructionStatus(models.TextChoices):
    PENDING = "pending", "Awaiting approval"
    ACTIVE = "active", "Active"
    REPLACED = "replaced", "Replaced"
    REJECTED = "rejected", "Not approved"


class BankInstruction(FirmOwnedModel):
    """A client's saved bank account for withdrawals. The account and routing numbers are
    encrypted at rest (``crm.crypto``, as tax ids); pages and the API show only their last four.
    Adding or changing one is itself a request (kind ``bank_instruction``); it becomes active when
    that request completes, and can receive a withdrawal after the firm's cooling-off period."""

    contact = models.ForeignKey("crm.Contact", on_delete=models.PROTECT, related_name="+", db_constraint=False)
    holder_name = models.CharField("account holder", max_length=140)
    bank_name = models.CharField("bank", max_length=140)
    account_kind = models.CharField("account type", max_length=10, choices=BankAccountKind.choices)
    currency = CurrencyField(default="USD")
    account_number_encrypted = models.BinaryField(editable=False)
    account_last4 = models.CharField(max_length=4, editable=False)
    routing_number_encrypted = models.BinaryField(editable=False)
    routing_last4 = models.CharField(max_length=4, editable=False)
    status = models.CharField(max_length=10, choices=InstructionStatus.choices, default=InstructionStatus.PENDING)
    replaces = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    activated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")

    name_fields: ClassVar[frozenset[str]] = frozenset({"holder_name", "bank_name"})
    audit_masked_fields: ClassVar[frozenset[str]] = frozenset({"account_number_encrypted", "routing_number_encrypted"})

    class Meta(FirmOwnedModel.Meta):
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["firm", "contact", "status"], name="funding_instr_contact_idx")]

    def __str__(self) -> str:
        return f"{self.bank_name} {self.masked_account}"

    @property
    def masked_account(self) -> str:
        return f"•••• {self.account_last4}"

    @property
    def masked_routing(self) -> str:
        return f"•••• {self.routing_last4}"


class RequestKind(models.TextChoices):
    DEPOSIT = "deposit", "Deposit notification"
    WITHDRAWAL = "withdrawal", "Withdrawal"
    INTERNAL_TRANSFER = "internal_transfer", "Internal transfer"
    POSITION_TRANSFER = "position_transfer", "Position transfer"
    BANK_INSTRUCTION = "bank_instruction", "Bank instruction"


class Method(models.TextChoices):
    ACH = "ach", "ACH"
    WIRE = "wire", "Wire"
    CHECK = "check", "Check"
    INTERNAL = "internal", "Internal"


class Status(models.TextChoices):
    DRAFT = "draft", "Draft"
    AWAITING_CLIENT = "awaiting_client", "Awaiting client"
    AWAITING_AUTHORIZER = "awaiting_authorizer", "Awaiting authorizer"
    SUBMITTED = "submitted", "Submitted"
    COMPLETED = "completed", "Completed"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


OPEN_STATUSES = (Status.DRAFT, Status.AWAITING_CLIENT, Status.AWAITING_AUTHORIZER, Status.SUBMITTED)
WAITING_STATUSES = (Status.AWAITING_CLIENT, Status.AWAITING_AUTHORIZER, Status.SUBMITTED)


class FundingRequest(FirmOwnedModel):
    """One request to move money or positions, or to add or change a bank instruction."""

    kind = models.CharField(max_length=20, choices=RequestKind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    client = models.ForeignKey(
        "crm.Contact", on_delete=models.PROTECT, related_name="+", db_constraint=False,
        help_text="Who approves: the source account's primary owner, or the bank instruction's client",
    )  # fmt: skip
    account = models.ForeignKey(
        "portfolios.ClientAccount", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        db_constraint=False, help_text="The account money or positions leave (a deposit's: where it arrives)",
    )  # fmt: skip
    to_account = models.ForeignKey(
        "portfolios.ClientAccount", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        db_constraint=False,
    )  # fmt: skip
    bank_instruction = models.ForeignKey(
        BankInstruction, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    method = models.CharField(max_length=10, choices=Method.choices, blank=True)
    amount = MoneyField(null=True, blank=True)
    currency = CurrencyField(blank=True)
    security = models.ForeignKey(
        "portfolios.Security", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    quantity = QuantityField(null=True, blank=True)
    memo = models.CharField(max_length=200, blank=True)
    version = models.PositiveIntegerField(default=1, help_text="Raised by every edit; approval links name a version")
    required_authorizers = models.PositiveSmallIntegerField(default=1)
    hold = models.ForeignKey(
        "portfolios.CashHold", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_constraint=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status_changed_at = models.DateTimeField(auto_now_add=True)
    client_approved_at = models.DateTimeField(null=True, blank=True)
    client_approval = models.CharField(max_length=200, blank=True, help_text="How the client's approval was given")
    instruction_file = models.ForeignKey(
        "InstructionFile", on_delete=models.PROTECT, null=True, blank=True, related_name="requests"
    )
    custodian_reference = models.CharField(max_length=100, blank=True)
    completed_on = models.DateField(null=True, blank=True)
    transaction = models.ForeignKey(
        "portfolios.Transaction", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        db_constraint=False, help_text="The posting that completed it (a transfer's: its debit side)",
    )  # fmt: skip

    name_fields: ClassVar[frozenset[str]] = frozenset({"memo", "custodian_reference", "client_approval"})

    class Meta(FirmOwnedModel.Meta):
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__isnull=True) | models.Q(amount__gt=0), name="funding_request_amount_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(quantity__isnull=True) | models.Q(quantity__gt=0),
                name="funding_request_quantity_positive",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="completed") | models.Q(completed_on__isnull=False),
                name="funding_request_completed_dated",
            ),
        ]
        indexes = [
            models.Index(
                fields=["firm", "status", "status_changed_at"],
                condition=models.Q(status__in=["draft", "awaiting_client", "awaiting_authorizer", "submitted"]),
                name="funding_req_open_idx",
            ),
            # Pending items: the requests waiting longest first.
            models.Index(
                fields=["firm", "status_changed_at", "id"],
                condition=models.Q(status__in=["awaiting_client", "awaiting_authorizer", "submitted"]),
                name="funding_req_waiting_idx",
            ),
            models.Index(fields=["firm", "-created_at", "-id"], name="funding_req_recent_idx"),
            models.Index(fields=["firm", "account", "status"], name="funding_req_account_idx"),
            models.Index(fields=["firm", "client"], name="funding_req_client_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.get_kind_display()}"

    @property
    def reference(self) -> str:
        """The number the client, the custodian and the ledger know the request by."""
        return f"FR-{self.pk:07d}" if self.pk else "FR-(new)"


class RequestEvent(FirmOwnedModel):
    """One step of a request's timeline: a transition, or something done without one (an email
    re-sent, a code sent). Append-only; written by ``funding.services`` only."""

    audited: ClassVar[bool] = False  # the request's own audit entries record every change

    request = models.ForeignKey(FundingRequest, on_delete=models.PROTECT, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    action = models.CharField(max_length=40)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    actor_label = models.CharField(max_length=200, blank=True, help_text="Who acted when it was not a user")
    reason = models.CharField(max_length=500, blank=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["firm", "request", "at"], name="funding_event_req_idx")]


class Authorization(FirmOwnedModel):
    """One authorizer's approval of a request (maker-checker: never its requester)."""

    request = models.ForeignKey(FundingRequest, on_delete=models.PROTECT, related_name="authorizations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField()
    at = models.DateTimeField(auto_now_add=True)

    class Meta(FirmOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["firm", "request", "user", "version"], name="funding_authorization_uniq")
        ]


class InstructionFile(FirmOwnedModel):
    """A CSV of submitted requests for the custodian (docs/funding.md), downloaded by an
    operator; each request goes into exactly one file."""

    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    rows = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Instruction file {self.pk}"
