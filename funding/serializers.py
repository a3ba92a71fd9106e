"""What the money-movement API reads and answers (``funding.api``).

Amounts and quantities travel as decimal strings both ways ("2500.00"): a JSON number is a float
to most clients and cannot hold every amount exactly. Bank account and routing numbers are sent in
the clear once, to add an instruction, and are never answered: every answer shows their last four
digits only (``•••• 6789``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from advisorportal.serializers import StrictSerializer
from funding import states
from funding.models import (
    Authorization,
    BankAccountKind,
    BankInstruction,
    Enrollment,
    FundingRequest,
    FundingSettings,
    InstructionStatus,
    Method,
    Power,
    Program,
    RequestEvent,
    RequestKind,
    Status,
)
from portfolios.serializers import money

# Ids in a body or a query: whole numbers a bigint holds (anything else is a 400 naming the field).
MAX_ID = 2**63 - 1
_DECIMAL = re.compile(r"[+-]?[0-9]{1,18}(\.[0-9]{1,20})?")
CREATABLE_KINDS = [(k.value, k.label) for k in RequestKind if k != RequestKind.BANK_INSTRUCTION]


def _id_field(help_text: str, **kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text=help_text, **kwargs)


def quantity_text(value: Decimal | None) -> str | None:
    return None if value is None else f"{value.normalize():f}"


@extend_schema_field({"type": "string", "format": "decimal", "example": "2500.00"})
class DecimalStringField(serializers.CharField):
    """A decimal number as a JSON string: digits, an optional sign and fraction ("2500.00").
    Whether it is positive, precise enough for its currency and small enough is the service's
    check, with the service's message."""

    default_error_messages = {
        "not_a_string": 'Send it as a decimal string, e.g. "2500.00", not as a JSON number.',
        "not_a_decimal": 'Enter a decimal number as a string, e.g. "2500.00" (at most 18 digits before the point).',
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 40)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        value = super().to_internal_value(data)
        if value and not _DECIMAL.fullmatch(value):
            self.fail("not_a_decimal")
        return value


# --- References inside answers --------------------------------------------------------------------


class PersonRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField(source="__str__")


class UserRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField(source="full_name")


class AccountRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="pk")
    number = serializers.CharField()
    title = serializers.CharField()


class BankInstructionRefSerializer(serializers.ModelSerializer[BankInstruction]):
    """A bank instruction as requests show it: masked numbers only."""

    account_number_masked = serializers.CharField(source="masked_account", help_text="e.g. •••• 6789")
    routing_number_masked = serializers.CharField(source="masked_routing", help_text="e.g. •••• 0021")

    class Meta:
        model = BankInstruction
        fields: tuple[str, ...] = (
            "id", "holder_name", "bank_name", "account_kind", "currency", "account_number_masked",
            "routing_number_masked", "status",
        )  # fmt: skip
        read_only_fields = fields


# --- Requests ---------------------------------------------------------------------------------------


class FundingRequestSerializer(serializers.ModelSerializer[FundingRequest]):
    """One request as lists show it (the detail adds the policy's decision, the timeline and the
    authorizations)."""

    reference = serializers.CharField(read_only=True, help_text='"FR-" and 7 digits: what the client, the '
                                      "custodian and the ledger know the request by")  # fmt: skip
    client = PersonRefSerializer(read_only=True, help_text="Who approves: the source account's primary owner, "
                                 "or the bank instruction's client")  # fmt: skip
    account = AccountRefSerializer(read_only=True, allow_null=True)
    to_account = AccountRefSerializer(read_only=True, allow_null=True)
    bank_instruction = BankInstructionRefSerializer(read_only=True, allow_null=True)
    method = serializers.ChoiceField(choices=Method.choices, allow_blank=True, read_only=True,
                                     help_text="Blank for a bank instruction")  # fmt: skip
    amount = serializers.SerializerMethodField(help_text="In the currency's minor unit, as a string")
    security = serializers.SerializerMethodField(help_text="The symbol of a position transfer's security")
    quantity = serializers.SerializerMethodField(help_text="A position transfer's quantity, as a string")
    created_by = UserRefSerializer(read_only=True)
    sent_to_custodian = serializers.SerializerMethodField(
        help_text="In an instruction file already (then only the custodian can stop it)"
    )
    transaction = serializers.IntegerField(
        source="transaction_id", read_only=True, allow_null=True,
        help_text="The ledger transaction that completed it (a transfer's: its debit side)",
    )  # fmt: skip

    class Meta:
        model = FundingRequest
        fields: tuple[str, ...] = (
            "id", "reference", "kind", "status", "client", "account", "to_account", "bank_instruction", "method",
            "amount", "currency", "security", "quantity", "memo", "version", "required_authorizers", "created_at",
            "created_by", "status_changed_at", "client_approved_at", "client_approval", "sent_to_custodian",
            "custodian_reference", "completed_on", "transaction",
        )  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_amount(self, request: FundingRequest) -> str | None:
        return money(request.amount, request.currency)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_security(self, request: FundingRequest) -> str | None:
        return request.security.symbol if request.security is not None else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_quantity(self, request: FundingRequest) -> str | None:
        return quantity_text(request.quantity)

    @extend_schema_field(serializers.BooleanField())
    def get_sent_to_custodian(self, request: FundingRequest) -> bool:
        return request.instruction_file_id is not None


class DecisionSerializer(serializers.Serializer[Any]):
    """The service program's answer for the request as it is now (``funding.policy``)."""

    client_must_approve = serializers.BooleanField()
    advisor_may_approve = serializers.BooleanField(help_text="On the client's behalf (approve-on-behalf)")
    authorizers = serializers.IntegerField(help_text="Different Funding Authorizers it needs: 0, 1 or 2")
    custodian_step = serializers.BooleanField(help_text="Submitted to the custodian, then completed")
    reason = serializers.CharField(help_text="Why, in words")


class RequestEventSerializer(serializers.ModelSerializer[RequestEvent]):
    label = serializers.SerializerMethodField(help_text="The action in words")  # type: ignore[assignment]
    actor = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = RequestEvent
        fields = ("id", "at", "action", "label", "from_status", "to_status", "actor", "actor_label", "reason")
        read_only_fields = fields

    @extend_schema_field(serializers.CharField())
    def get_label(self, event: RequestEvent) -> str:
        return states.ACTION_LABELS.get(event.action, event.action)


class AuthorizationSerializer(serializers.ModelSerializer[Authorization]):
    user = UserRefSerializer(read_only=True)

    class Meta:
        model = Authorization
        fields = ("user", "version", "at")
        read_only_fields = fields


class HoldSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="pk")
    amount = serializers.SerializerMethodField()
    currency = serializers.CharField()
    is_open = serializers.BooleanField()

    @extend_schema_field(serializers.CharField())
    def get_amount(self, hold: Any) -> str | None:
        return money(hold.amount, hold.currency)


# The API operations each status allows (the policy and your rights may still refuse one).
_API_ACTIONS = {
    "send": "send", "cancel": "cancel", "edit": "edit", "approve_on_behalf": "approve-on-behalf",
    "authorize": "authorize", "reject": "reject", "complete": "complete",
}  # fmt: skip


def api_actions(status: str) -> list[str]:
    found = [_API_ACTIONS[a] for a in states.actions_from(status) if a in _API_ACTIONS]
    if status == Status.DRAFT:
        found.insert(0, "edit")
    if status == Status.AWAITING_CLIENT:
        found.append("resend")
    return found


class FundingRequestDetailSerializer(FundingRequestSerializer):
    """One request with the policy's decision, its hold, its timeline and its authorizations.
    The context gives ``decision`` (a ``policy.Decision``, or None when the request can no longer
    be decided, e.g. the two accounts of a transfer no longer share an owner)."""

    decision = serializers.SerializerMethodField()
    hold = HoldSerializer(read_only=True, allow_null=True, help_text="The cash it holds from sending to completion")
    actions = serializers.SerializerMethodField(
        help_text="What its status allows: edit, send, resend, approve-on-behalf, authorize, reject, cancel, "
        "complete (the service program and your rights may still refuse one)"
    )
    events = RequestEventSerializer(many=True, read_only=True, help_text="The timeline, oldest first")
    authorizations = AuthorizationSerializer(
        many=True, read_only=True,
        help_text="Every authorization, with the version it approved (an edit starts the count again)",
    )  # fmt: skip

    class Meta(FundingRequestSerializer.Meta):
        fields = (*FundingRequestSerializer.Meta.fields, "decision", "hold", "actions", "events", "authorizations")
        read_only_fields = fields

    @extend_schema_field(DecisionSerializer(allow_null=True))
    def get_decision(self, request: FundingRequest) -> dict[str, Any] | None:
        decision = self.context.get("decision")
        return None if decision is None else DecisionSerializer(decision).data

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_actions(self, request: FundingRequest) -> list[str]:
        return api_actions(request.status)


class FundingRequestCreateSerializer(StrictSerializer):
    """A new request: what each kind needs is checked by the service (a deposit: amount, currency,
    method; a withdrawal: also an active bank instruction; an internal transfer: `to_account`; a
    position transfer: `to_account`, `security` and `quantity`). Unknown keys are refused."""

    kind = serializers.ChoiceField(
        choices=CREATABLE_KINDS,
        help_text="A bank instruction is added with POST /api/v1/bank-instructions/",
        error_messages={
            "invalid_choice": 'Choose deposit, withdrawal, internal_transfer or position_transfer ("{input}" is not '
            "one; a bank instruction is added with POST /api/v1/bank-instructions/)."
        },
    )
    account = _id_field("The account money or positions leave (a deposit's: where it arrives), in your Funding scope")
    to_account = _id_field("A transfer's destination account, in your Funding scope", required=False, allow_null=True)
    bank_instruction = _id_field(
        "A withdrawal's destination: an active bank instruction of an owner of the account",
        required=False,
        allow_null=True,
    )
    method = serializers.ChoiceField(
        choices=Method.choices, required=False, allow_blank=True,
        help_text="Deposit: ach, wire or check; withdrawal: ach or wire; transfers: internal (the default)",
    )  # fmt: skip
    amount = DecimalStringField(required=False, allow_null=True, help_text="A positive amount, as a string")
    currency = serializers.CharField(
        required=False, allow_blank=True, max_length=8, help_text="ISO 4217 code; default the account's base currency"
    )
    security = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=32,
        help_text="A position transfer's security, by its symbol (e.g. ACME)",
    )  # fmt: skip
    quantity = DecimalStringField(required=False, allow_null=True, help_text="A position transfer's quantity")
    memo = serializers.CharField(required=False, allow_blank=True, max_length=200)


class FundingRequestEditSerializer(StrictSerializer):
    """The fields an edit may change (``funding.services.EDITABLE``); only those sent change."""

    to_account = _id_field("A transfer's destination account, in your Funding scope", required=False, allow_null=True)
    bank_instruction = _id_field("A withdrawal's bank instruction", required=False, allow_null=True)
    method = serializers.ChoiceField(choices=Method.choices, required=False, allow_blank=True)
    amount = DecimalStringField(required=False, allow_null=True)
    currency = serializers.CharField(required=False, allow_blank=True, max_length=8)
    security = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=32,
                                     help_text="By symbol")  # fmt: skip
    quantity = DecimalStringField(required=False, allow_null=True)
    memo = serializers.CharField(required=False, allow_blank=True, max_length=200)


class ReasonSerializer(StrictSerializer):
    """Why the request is rejected or cancelled, or how the client asked for it."""

    reason = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default="",
        help_text="Required: why (or, on the client's behalf, how the client asked)",
    )  # fmt: skip


class CompleteSerializer(StrictSerializer):
    """What the custodian confirmed."""

    custodian_reference = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default="", help_text="The custodian's reference"
    )
    completed_on = serializers.DateField(
        required=False, allow_null=True, default=None,
        help_text="When the custodian did it (default today; never in the future)",
    )  # fmt: skip


class FundingRequestQuerySerializer(serializers.Serializer[Any]):
    """Filters of the request list (newest first). Without dates: every request in your scope."""

    status = serializers.ChoiceField(choices=Status.choices, required=False)
    kind = serializers.ChoiceField(choices=RequestKind.choices, required=False)
    method = serializers.ChoiceField(choices=Method.choices, required=False)
    account = _id_field("Requests from or to this account (in your Funding scope)", required=False)
    date_from = serializers.DateField(required=False, help_text="Created on or after")
    date_to = serializers.DateField(required=False, help_text="Created on or before")
    q = serializers.CharField(required=False, allow_blank=True, max_length=100,
                              help_text="Reference (FR-0000012), memo, account number or client name")  # fmt: skip

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("date_from") and attrs.get("date_to") and attrs["date_from"] > attrs["date_to"]:
            raise serializers.ValidationError({"date_to": "The end date is before the start date."})
        return attrs


# --- Bank instructions ------------------------------------------------------------------------------


class BankInstructionSerializer(BankInstructionRefSerializer):
    """A client's bank instruction: masked numbers only, never the clear ones."""

    contact = PersonRefSerializer(read_only=True)
    replaces = serializers.IntegerField(source="replaces_id", read_only=True, allow_null=True,
                                        help_text="The instruction this one changes")  # fmt: skip
    usable_from = serializers.SerializerMethodField(
        help_text="When it can receive withdrawals (after the firm's cooling-off period); null until active"
    )

    class Meta(BankInstructionRefSerializer.Meta):
        fields = (*BankInstructionRefSerializer.Meta.fields, "contact", "replaces", "activated_at", "usable_from",
                  "created_at")  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_usable_from(self, instruction: BankInstruction) -> str | None:
        if instruction.activated_at is None or instruction.status != InstructionStatus.ACTIVE:
            return None
        days = self.context["cooling_off_days"]
        return serializers.DateTimeField().to_representation(instruction.activated_at + timedelta(days=days))


class BankInstructionCreateSerializer(StrictSerializer):
    """A client's bank account. The numbers are encrypted at rest and never answered again."""

    contact = _id_field("The client whose bank account it is, in your Funding scope")
    holder_name = serializers.CharField(max_length=140)
    bank_name = serializers.CharField(max_length=140)
    account_kind = serializers.ChoiceField(choices=BankAccountKind.choices)
    currency = serializers.CharField(max_length=8, required=False, default="USD", help_text="Default USD")
    account_number = serializers.CharField(max_length=40, help_text="4 to 17 digits; never shown again")
    routing_number = serializers.CharField(max_length=20, help_text="The 9-digit ABA routing number")
    replaces = _id_field("One of the client's active instructions that this one changes", required=False,
                         allow_null=True)  # fmt: skip


class BankInstructionQuerySerializer(serializers.Serializer[Any]):
    """Filters of the bank instruction list (every status unless one is given)."""

    contact = _id_field("Only this client's instructions (in your Funding scope)", required=False)
    status = serializers.ChoiceField(choices=InstructionStatus.choices, required=False)


# --- Settings and enrolments -----------------------------------------------------------------------------


class FundingSettingsSerializer(serializers.ModelSerializer[FundingSettings]):
    """The firm's funding policy (the defaults until it saves its own)."""

    program = serializers.ChoiceField(choices=Program.choices, required=False)
    dual_authorization_amount = DecimalStringField(
        required=False, help_text="Withdrawals of this amount or more need two different authorizers"
    )
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="Null: never saved")

    class Meta:
        model = FundingSettings
        fields = ("program", "cooling_off_days", "dual_authorization_amount", "dual_authorization_currency",
                  "link_expiry_hours", "reminder_after_hours", "updated_at")  # fmt: skip
        extra_kwargs = {
            "cooling_off_days": {"required": False, "min_value": 0, "max_value": 60},
            "dual_authorization_currency": {"required": False},
            "link_expiry_hours": {"required": False, "min_value": 1, "max_value": 720},
            "reminder_after_hours": {"required": False, "min_value": 0, "max_value": 719},
        }

    def to_representation(self, instance: FundingSettings) -> dict[str, Any]:
        data = super().to_representation(instance)
        amount = instance.dual_authorization_amount  # the model's default is an int until saved
        data["dual_authorization_amount"] = money(Decimal(amount), instance.dual_authorization_currency)
        return data

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if isinstance(self.initial_data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(self.initial_data) - writable)
            if unknown:
                raise serializers.ValidationError(dict.fromkeys(unknown, "This setting cannot be changed here."))
        return attrs


class EnrollmentSerializer(serializers.ModelSerializer[Enrollment]):
    contact = PersonRefSerializer(read_only=True)
    enrolled_by = UserRefSerializer(read_only=True, allow_null=True)
    powers = serializers.ListField(child=serializers.ChoiceField(choices=Power.choices), read_only=True)

    class Meta:
        model = Enrollment
        fields = ("contact", "powers", "form_reference", "enrolled_at", "enrolled_by")
        read_only_fields = fields


class EnrollmentSetSerializer(StrictSerializer):
    """A client's Full-Service enrolment: the powers granted and where the signed form is."""

    powers = serializers.ListField(
        child=serializers.ChoiceField(choices=Power.choices), allow_empty=True, max_length=len(Power.values),
        help_text="What the client granted the advisor on the signed form (move_funds, bank_instructions)",
    )  # fmt: skip
    form_reference = serializers.CharField(max_length=100, help_text="Where the signed form is filed")


class EnrollmentCreateSerializer(EnrollmentSetSerializer):
    """Enrol a client (or change an enrolment): the client, the powers, the signed form."""

    contact = _id_field("The client, in your Funding scope")
