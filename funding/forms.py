"""Forms of the funding pages. Their choices come from the scoped selectors only (the accounts,
bank instructions and positions the user may use); amounts and quantities are text, checked by
``funding.services`` so every page, the API and the approval page give the same messages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.functional import lazy

from advisorportal.formats import masked_digits, round_money
from funding import selectors
from funding.models import BankAccountKind, BankInstruction, Method, Power, Program, RequestKind, Status
from funding.services import METHODS
from portfolios import selectors as book
from portfolios.models import ClientAccount

MAX_INSTRUCTIONS_DESCRIBED = 6  # an account's owners have one or two; the help text names at most this many
AMOUNT_ATTRS = {"inputmode": "decimal", "autocomplete": "off", "placeholder": "e.g. 2500.00"}


def currency_choices() -> list[tuple[str, str]]:
    return [(code, code) for code in sorted(book.known_currencies())]


class AccountChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.number} · {obj.title}"


class InstructionChoice(forms.ModelChoiceField):
    """A bank instruction by its bank and masked number only ("First Bank •••• 6789"): a closed
    select at 360 px shows about 30 characters. The holder, kind and currency are in the field's
    help text (``instruction_help``)."""

    def label_from_instance(self, obj: Any) -> str:
        return instruction_label(obj)


def instruction_label(obj: BankInstruction) -> str:
    return f"{obj.bank_name} {masked_digits(obj.account_last4)}"


INSTRUCTION_HELP = "Active bank instructions of the account's owners"


def instruction_help(instructions: QuerySet[BankInstruction]) -> str:
    """The field's help text: whose account each choice is, of which kind and currency."""
    shown = list(instructions[: MAX_INSTRUCTIONS_DESCRIBED + 1])
    details = [
        f"{instruction_label(i)} is {i.holder_name}'s {i.get_account_kind_display().lower()} account in {i.currency}"
        for i in shown[:MAX_INSTRUCTIONS_DESCRIBED]
    ]
    if len(shown) > MAX_INSTRUCTIONS_DESCRIBED:
        details.append("and more")
    return f"{INSTRUCTION_HELP}: {'; '.join(details)}." if details else f"{INSTRUCTION_HELP}."


class RequestForm(forms.Form):
    """The fields of one request kind, for the account money or positions leave (a deposit's: where
    it arrives). ``kind`` picks the fields; the choices are the user's."""

    memo = forms.CharField(
        label="Note", required=False, max_length=200, help_text="Shown to the client and the custodian."
    )

    def __init__(self, *args: Any, kind: str, account: ClientAccount, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind, self.account = kind, account
        fields: dict[str, forms.Field] = {}
        if kind == RequestKind.WITHDRAWAL:
            instructions = selectors.instructions_for_account(account=account).order_by("bank_name", "pk")
            fields["bank_instruction"] = InstructionChoice(
                label="To the bank account",
                queryset=instructions,
                empty_label="— Choose a bank instruction —",
                help_text=lazy(instruction_help, str)(instructions),  # read only when the form is shown
            )
        if kind in (RequestKind.INTERNAL_TRANSFER, RequestKind.POSITION_TRANSFER):
            fields["to_account"] = AccountChoice(
                label="To account",
                queryset=transfer_destinations(user=user, account=account),
                empty_label="— Choose the account —",
                help_text="Open accounts in your reach with an owner in common with this one.",
            )
        if kind in (RequestKind.DEPOSIT, RequestKind.WITHDRAWAL, RequestKind.INTERNAL_TRANSFER):
            fields["amount"] = forms.CharField(label="Amount", max_length=40, widget=forms.TextInput(AMOUNT_ATTRS))
            fields["currency"] = forms.ChoiceField(label="Currency", choices=currency_choices())
        if kind in (RequestKind.DEPOSIT, RequestKind.WITHDRAWAL):
            fields["method"] = forms.ChoiceField(
                label="Method", choices=[(m, Method(m).label) for m in METHODS[kind]], widget=forms.RadioSelect
            )
        if kind == RequestKind.POSITION_TRANSFER:
            held = book.positions(account=account)
            fields["security"] = forms.ChoiceField(
                label="Security",
                choices=[("", "— Choose the security —")]
                + [(p.symbol, f"{p.symbol} · {p.name} (holds {p.quantity.normalize():,f})") for p in held],
            )
            fields["quantity"] = forms.CharField(
                label="Quantity", max_length=40, widget=forms.TextInput({"inputmode": "decimal", "autocomplete": "off"})
            )
        if "currency" in fields and not self.is_bound and "currency" not in self.initial:
            self.initial["currency"] = account.base_currency
        memo = self.fields.pop("memo")
        self.fields.update(fields)
        self.fields["memo"] = memo

    def service_fields(self) -> dict[str, Any]:
        """The cleaned values as ``services.request_create``/``request_edit`` take them."""
        data = dict(self.cleaned_data)
        if "security" in data:
            data["security"] = security_by_symbol(data["security"])
        return data

    def payload(self) -> dict[str, Any]:
        """What the one-time form key is bound to (JSON: ids and text)."""
        return {name: str(getattr(value, "pk", value) or "") for name, value in self.cleaned_data.items()}


def transfer_destinations(*, user: Any, account: ClientAccount) -> Any:
    """Open client accounts in the user's Funding scope that share an owner with ``account``."""
    return (
        selectors.accounts_in_scope(user=user)
        .filter(status="open", owners__in=account.owners.values("pk"))
        .exclude(pk=account.pk)
        .distinct()
        .order_by("number")
    )


def security_by_symbol(symbol: str) -> Any:
    from portfolios.models import Security  # shared reference data, not a firm's

    return Security.objects.filter(symbol=symbol).first()


def initial_of(request: Any) -> dict[str, Any]:
    """A request's editable values as a form's initial data."""
    return {
        "bank_instruction": request.bank_instruction_id,
        "to_account": request.to_account_id,
        "amount": "" if request.amount is None else f"{round_money(request.amount, request.currency):f}",
        "currency": request.currency,
        "method": request.method,
        "security": request.security.symbol if request.security_id else "",
        "quantity": "" if request.quantity is None else f"{request.quantity.normalize():f}",
        "memo": request.memo,
    }


class ReasonForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=500)


class CompleteForm(forms.Form):
    custodian_reference = forms.CharField(
        label="Custodian's reference", max_length=100, help_text="The custodian's number for the movement."
    )
    completed_on = forms.DateField(
        label="Completed on", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )


class HistoryFilterForm(forms.Form):
    date_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    date_to = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    kind = forms.ChoiceField(label="Type", required=False, choices=[("", "Any type"), *RequestKind.choices])
    method = forms.ChoiceField(label="Method", required=False, choices=[("", "Any method"), *Method.choices])
    status = forms.ChoiceField(label="Status", required=False, choices=[("", "Any status"), *Status.choices])
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=100,
        widget=forms.TextInput({"type": "search", "placeholder": "Reference, account, client or note"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "The end date is before the start date.")
        return data

    def filters(self) -> dict[str, Any]:
        """The valid filters; an invalid one is left out (and shown as an error by the page)."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return {k: v for k, v in getattr(self, "cleaned_data", {}).items() if v not in (None, "")}


class NoEcho(forms.TextInput):
    """A text input that never writes its value back into the page (clear bank numbers)."""

    def format_value(self, value: Any) -> None:
        return None


class BankInstructionForm(forms.Form):
    holder_name = forms.CharField(label="Account holder", max_length=140)
    bank_name = forms.CharField(label="Bank", max_length=140)
    account_kind = forms.ChoiceField(label="Account type", choices=BankAccountKind.choices, widget=forms.RadioSelect)
    currency = forms.ChoiceField(label="Currency", initial="USD")
    routing_number = forms.CharField(
        label="Routing number (ABA)",
        max_length=20,
        widget=NoEcho({"inputmode": "numeric", "autocomplete": "off"}),
        help_text="9 digits.",
    )
    account_number = forms.CharField(
        label="Account number",
        max_length=30,
        widget=NoEcho({"inputmode": "numeric", "autocomplete": "off"}),
        help_text="4 to 17 digits. Stored encrypted; pages show only its last four.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = currency_choices()  # type: ignore[attr-defined]

    def payload(self, contact_pk: int, replaces: BankInstruction | None) -> dict[str, Any]:
        """What the form key is bound to: never the clear numbers (the key's fingerprint is stored)."""
        data = self.cleaned_data
        return {
            "contact": contact_pk,
            "replaces": replaces.pk if replaces else None,
            **{name: data[name] for name in ("holder_name", "bank_name", "account_kind", "currency")},
            "account_last4": "".join(ch for ch in data["account_number"] if ch.isdigit())[-4:],
            "routing_last4": "".join(ch for ch in data["routing_number"] if ch.isdigit())[-4:],
        }


PROGRAM_HELP = {
    Program.STREAMLINED: (
        "Every client, automatically: you enter requests, and the client approves each one that moves money or "
        "positions out of an account, or changes a bank instruction, from an emailed link with a one-time code."
    ),
    Program.STREAMLINED_PLUS: (
        "As Streamlined, and moves between accounts with the same owners (internal and position transfers) are "
        "administrative: the client approves them from the link, or you approve them on the client's behalf."
    ),
    Program.FULL_SERVICE: (
        "Per client, with the powers the client granted on a signed power of attorney: what the client granted "
        "needs no client approval, the rest is as Streamlined. A client not enrolled is as Streamlined."
    ),
}


class SettingsForm(forms.Form):
    program = forms.ChoiceField(label="Service program", choices=Program.choices, widget=forms.RadioSelect)
    cooling_off_days = forms.IntegerField(
        label="Cooling-off days for new bank instructions",
        min_value=0,
        max_value=60,
        help_text="A new or changed bank instruction can receive a withdrawal only this many days after it was "
        "approved.",
    )
    dual_authorization_amount = forms.DecimalField(
        label="Two authorizers from",
        min_value=0,
        max_digits=20,
        decimal_places=2,
        help_text="Withdrawals of this amount or more need two different Funding Authorizers.",
    )
    dual_authorization_currency = forms.ChoiceField(label="In currency")
    link_expiry_hours = forms.IntegerField(
        label="Approval links expire after (hours)",
        min_value=1,
        max_value=720,
        help_text="A client's emailed approval link stops working after this many hours; the request then expires.",
    )
    reminder_after_hours = forms.IntegerField(
        label="Remind the client after (hours)",
        min_value=0,
        max_value=719,
        help_text="A client who has not answered gets one reminder email after this many hours, with a new link "
        "that expires when the first would have. 0: no reminders.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dual_authorization_currency"].choices = currency_choices()  # type: ignore[attr-defined]


class EnrollmentForm(forms.Form):
    powers = forms.MultipleChoiceField(
        label="Powers the client granted", choices=Power.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    form_reference = forms.CharField(
        label="Signed form",
        max_length=100,
        help_text="Where the client's signed power of attorney is filed, e.g. its document number.",
    )
