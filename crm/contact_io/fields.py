"""The columns of a contacts file: one human label per contact field, how a cell is read, and the
values a choice column allows. The Excel template, the CSV mapping, the vCard reader, the
validation of every row and the exports all use this one list.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from django.db import models

from crm.models import Contact

# Pseudo-fields: not columns of Contact, but read from a file.
TAX_ID = "tax_id"
ACCOUNT_NUMBER = "account_number"

LABELS = {
    "kind": "Type",
    "status": "Status",
    "first_name": "First name",
    "last_name": "Last name",
    "email": "Email",
    "email_alt": "Other email",
    "phone": "Phone",
    "mobile_phone": "Mobile phone",
    "work_phone": "Work phone",
    "date_of_birth": "Date of birth",
    "res_street": "Street",
    "res_street2": "Street (line 2)",
    "res_city": "City",
    "res_state": "State / province",
    "res_postal_code": "Postal code",
    "res_country": "Country",
    "mailing_same": "Mailing address is the residential address",
    "tax_id_type": "Tax id type",
    "tax_country": "Tax residence",
    "investment_objectives": "Investment objectives",
    "trading_permissions": "Trading permissions",
    "prospect_account_type": "Account type",
    "source_of_funds": "Source of funds",
    "tags": "Tags",
}
MEANINGS = {
    "kind": "Individual, or an entity such as a trust or company (an entity needs only its name, in Last name).",
    "status": "Lifecycle stage. Empty: Prospect.",
    "first_name": "Required for an individual.",
    "last_name": "Required. For an entity: its legal name.",
    "email": "Used to find the contact again: a row whose email matches a contact updates it.",
    "mailing_same": "Yes if mail goes to the residential address (then leave the mailing columns empty).",
    "tags": "Several tags separated by commas.",
    "investment_objectives": "Several values separated by commas.",
    "trading_permissions": "Several values separated by commas.",
    TAX_ID: "SSN, ITIN, EIN or foreign tax id; stored encrypted. A row whose tax id matches a contact updates it.",
    ACCOUNT_NUMBER: "An existing client account number: the row updates that account's owner. Not stored.",
}
SKIPPED = {"advisor"}
COUNTRY_FIELDS = frozenset(
    {"citizenship", "country_of_birth", "res_country", "mail_country", "tax_country"}
)  # a user link: not imported from a file


@dataclass(frozen=True)
class Column:
    field: str
    label: str
    kind: str  # text, choice, multi, tags, date, decimal, int, bool, tax_id, account
    choices: tuple[tuple[str, str], ...] = ()
    max_length: int | None = None
    meaning: str = ""

    @property
    def allowed(self) -> str:
        if self.choices:
            return ", ".join(label for _, label in self.choices)
        return {
            "date": "A date: YYYY-MM-DD (or an Excel date cell)",
            "decimal": "A number, e.g. 250000 or 250000.50 (no currency sign)",
            "int": "A whole number",
            "bool": "Yes or No",
            "tags": "Words separated by commas",
        }.get(self.kind, f"Text, at most {self.max_length} characters" if self.max_length else "Text")


def _kind_of(field: models.Field[Any, Any]) -> str:
    from django.contrib.postgres.fields import ArrayField

    if isinstance(field, ArrayField):
        return "multi" if field.base_field.choices else "tags"
    if field.choices:
        return "choice"
    if isinstance(field, models.DateField):
        return "date"
    if isinstance(field, models.DecimalField):
        return "decimal"
    if isinstance(field, models.PositiveSmallIntegerField | models.IntegerField):
        return "int"
    if isinstance(field, models.BooleanField):
        return "bool"
    return "text"


def _build() -> tuple[Column, ...]:
    from crm.services import EDITABLE_FIELDS

    columns: list[Column] = []
    for name in EDITABLE_FIELDS:
        if name in SKIPPED:
            continue
        field = cast("models.Field[Any, Any]", Contact._meta.get_field(name))  # editable fields are columns
        kind = _kind_of(field)
        base = getattr(field, "base_field", field)
        choices = tuple((str(v), str(label)) for v, label in (base.choices or ()))
        label = LABELS.get(name) or str(field.verbose_name)[:1].upper() + str(field.verbose_name)[1:]
        columns.append(Column(name, label, kind, choices, getattr(field, "max_length", None), MEANINGS.get(name, "")))
        if name == "tax_id_type":
            columns.append(Column(TAX_ID, "Tax id", "tax_id", meaning=MEANINGS[TAX_ID]))
    columns.append(Column(ACCOUNT_NUMBER, "Account number", "account", meaning=MEANINGS[ACCOUNT_NUMBER]))
    return tuple(columns)


COLUMNS: tuple[Column, ...] = _build()
BY_FIELD = {c.field: c for c in COLUMNS}
BY_LABEL = {c.label.casefold(): c for c in COLUMNS}
REQUIRED = ("first_name", "last_name")


def normalise_header(text: str) -> str:
    return re.sub(r"[\s_\-./()]+", "", text.casefold())


# Header spellings other systems use, for guessing a CSV mapping.
ALIASES = {
    "firstname": "first_name", "givenname": "first_name", "forename": "first_name", "first": "first_name",
    "lastname": "last_name", "surname": "last_name", "familyname": "last_name", "last": "last_name",
    "middlename": "middle_name", "emailaddress": "email", "email1": "email", "email2": "email_alt",
    "mail": "email", "phonenumber": "phone", "telephone": "phone", "tel": "phone", "homephone": "phone",
    "mobile": "mobile_phone", "cell": "mobile_phone", "cellphone": "mobile_phone", "businessphone": "work_phone",
    "company": "organization", "organisation": "organization", "employername": "employer",
    "birthday": "date_of_birth", "dob": "date_of_birth", "birthdate": "date_of_birth", "address": "res_street",
    "street1": "res_street", "addressline1": "res_street", "addressline2": "res_street2", "town": "res_city",
    "state": "res_state", "province": "res_state", "zip": "res_postal_code", "zipcode": "res_postal_code",
    "postcode": "res_postal_code", "ssn": TAX_ID, "taxid": TAX_ID, "tin": TAX_ID, "accountno": ACCOUNT_NUMBER,
    "account": ACCOUNT_NUMBER, "title": "occupation", "jobtitle": "occupation", "note": "notes",
}  # fmt: skip


def guess_mapping(headers: Sequence[str]) -> dict[str, str]:
    """For each header (by position, as a string key), the contact field it most likely holds, or ""."""
    by_norm = {normalise_header(c.label): c.field for c in COLUMNS}
    by_norm.update({normalise_header(c.field): c.field for c in COLUMNS})
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for index, header in enumerate(headers):
        norm = normalise_header(header or "")
        field = by_norm.get(norm) or ALIASES.get(norm, "")
        if field in taken:
            field = ""
        taken.add(field)
        mapping[str(index)] = field
    return mapping


# --- Reading one cell ---------------------------------------------------------------------------


class CellError(ValueError):
    """A cell's value cannot be read as its column's type; the message says what is expected."""


_YES = {"yes", "y", "true", "1", "x", "oui", "ja"}
_NO = {"no", "n", "false", "0", ""}
_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%Y/%m/%d", "%Y%m%d")


def _choice(column: Column, text: str) -> str:
    folded = text.strip().casefold()
    for value, label in column.choices:
        if folded in (value.casefold(), label.casefold()):
            return value
    raise CellError(f"{text!r} is not one of: {column.allowed}.")


def parse_date(text: str) -> dt.date:
    text = text.strip()
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise CellError(f"{text!r} is not a date; write it as YYYY-MM-DD, e.g. 1980-04-15.")


def read_cell(column: Column, value: Any) -> Any:
    """The Python value of a cell for ``column`` (``str`` from CSV/vCard, or what openpyxl gives)."""
    if value is None:
        value = ""
    kind = column.kind
    if kind == "date":
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        return parse_date(str(value)) if str(value).strip() else None
    if isinstance(value, float) and value.is_integer() and kind in ("text", "int", "account", "tax_id"):
        value = int(value)
    text = str(value).strip()
    if kind == "choice":
        return _choice(column, text) if text else ""
    if kind == "multi":
        return list(dict.fromkeys(_choice(column, part) for part in text.split(",") if part.strip()))
    if kind == "tags":
        return list(dict.fromkeys(part.strip()[:40] for part in text.split(",") if part.strip()))
    if kind == "decimal":
        if not text:
            return None
        try:
            return Decimal(text.replace(",", "").replace(" ", ""))
        except InvalidOperation:
            raise CellError(f"{text!r} is not a number; write e.g. 250000.50.") from None
    if kind == "int":
        if not text:
            return None
        if not re.fullmatch(r"\d+", text):
            raise CellError(f"{text!r} is not a whole number.")
        return int(text)
    if kind == "bool":
        if text.casefold() in _YES:
            return True
        if text.casefold() in _NO:
            return False
        raise CellError(f"{text!r} is not Yes or No.")
    if column.field in COUNTRY_FIELDS:
        return text.upper()
    return text
