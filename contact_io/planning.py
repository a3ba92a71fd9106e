"""The dry run: every parsed row validated as the CRM validates a contact, matched to an existing
contact of the user's scope, and classed as create, update, unchanged or reject.

Validation is the CRM's own: each row becomes an unsaved ``Contact`` (for an update: the matched
contact with the row's values set) and ``full_clean`` runs on the fields the row gives plus the
model's ``clean`` (names); tax ids are checked with ``crm.crypto.tax_id_error`` and sealed here,
so the plan never holds one in clear.

Matching (natural keys, within the user's scope only): account number (an account owner), then
tax id (keyed digest), then email (case-insensitive). Keys pointing at different contacts, or an
email shared by several contacts, reject the row. A contact outside the user's scope is never
found, so a row carrying its email or tax id is treated as a new contact: the import neither
updates nor reveals it (the duplicate can be merged by someone who sees both).
"""

from __future__ import annotations

import base64
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError

from accounts.policy import scope_contacts
from contact_io.fields import ACCOUNT_NUMBER, BY_FIELD, TAX_ID, CellError, read_cell
from contact_io.parsers import ParsedRow
from crm.crypto import normalise_tax_id, seal_tax_id, tax_id_error
from crm.models import Contact, ContactKind

CHUNK = 5000
CONTACT_FIELDS = [f.name for f in Contact._meta.concrete_fields]
COPIED = [f for f in Contact._meta.concrete_fields if not f.generated]


@dataclass
class PlanRow:
    row: int
    action: str  # create, update, unchanged, reject
    name: str = ""
    contact_id: int | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    tax: list[str] | None = None  # [ciphertext base64, digest, last4]
    picture: list[str] | None = None  # [base64, content type]
    changes: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [], {}, "")}


def to_json(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def from_json(name: str, value: Any) -> Any:
    if value is None:
        return None
    kind = BY_FIELD[name].kind if name in BY_FIELD else ""
    if kind == "date":
        return dt.date.fromisoformat(value)
    if kind == "decimal":
        return Decimal(value)
    return value


def _label(name: str) -> str:
    column = BY_FIELD.get(name)
    return column.label if column else name.replace("_", " ").capitalize()


def _error(plan: PlanRow, column: str, message: str) -> None:
    plan.errors.append({"row": plan.row, "column": _label(column) if column else "", "message": message})


@dataclass
class Existing:
    """Contacts of the user's scope that the file's natural keys point at."""

    by_email: dict[str, list[int]]
    by_digest: dict[str, list[int]]
    by_account: dict[str, list[int]]
    contacts: dict[int, Contact]


def _chunks(values: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def find_existing(*, user: Any, emails: set[str], digests: set[str], accounts: set[str]) -> Existing:
    from portfolios.models import AccountOwner

    by_email: dict[str, list[int]] = defaultdict(list)
    by_digest: dict[str, list[int]] = defaultdict(list)
    by_account: dict[str, list[int]] = defaultdict(list)
    scoped = scope_contacts(Contact.objects.all(), user=user)
    for chunk in _chunks(sorted(emails)):
        for pk, key in scoped.filter(email_key__in=chunk).values_list("pk", "email_key"):
            by_email[key].append(pk)
    for chunk in _chunks(sorted(digests)):
        for pk, digest in scoped.filter(tax_id_digest__in=chunk).values_list("pk", "tax_id_digest"):
            by_digest[digest].append(pk)
    for chunk in _chunks(sorted(accounts)):
        owners = scope_contacts(
            AccountOwner.objects.filter(account__number__in=chunk), user=user, contact_field="contact"
        )
        for contact_id, number in owners.values_list("contact_id", "account__number"):
            by_account[number].append(contact_id)
    ids = {pk for found in (by_email, by_digest, by_account) for pks in found.values() for pk in pks}
    contacts: dict[int, Contact] = {}
    for chunk in _chunks(sorted(ids)):
        contacts.update({c.pk: c for c in scoped.filter(pk__in=chunk)})
    return Existing(dict(by_email), dict(by_digest), dict(by_account), contacts)


def _typed(parsed: ParsedRow, plan: PlanRow) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, raw in parsed.cells.items():
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        column = BY_FIELD.get(name)
        if column is None:
            continue
        try:
            values[name] = read_cell(column, raw)
        except CellError as error:
            _error(plan, name, str(error))
    return values


def build_plan(*, user: Any, rows: list[ParsedRow]) -> list[PlanRow]:
    """One ``PlanRow`` per parsed row, in file order."""
    plans = [PlanRow(row=r.row, action="create", notes=list(r.notes)) for r in rows]
    typed = [_typed(parsed, plan) for parsed, plan in zip(rows, plans, strict=True)]
    emails = {str(v["email"]).strip().lower() for v in typed if v.get("email")}
    digests: dict[int, str] = {}
    for index, values in enumerate(typed):
        if values.get(TAX_ID):
            digests[index] = seal_digest(str(values[TAX_ID]))
    accounts = {str(v[ACCOUNT_NUMBER]).strip().upper() for v in typed if v.get(ACCOUNT_NUMBER)}
    existing = find_existing(user=user, emails=emails, digests=set(digests.values()), accounts=accounts)
    first_seen: dict[tuple[str, str], int] = {}
    for index, (parsed, plan, values) in enumerate(zip(rows, plans, typed, strict=True)):
        _match(plan, values, digests.get(index), existing, first_seen)
        if not plan.errors:
            _validate(plan, values, existing)
        if parsed.picture is not None and not plan.errors:
            plan.picture = [base64.b64encode(parsed.picture[0]).decode(), parsed.picture[1]]
        if plan.errors:
            plan.action, plan.fields, plan.tax, plan.picture = "reject", {}, None, None
    return plans


def seal_digest(tax_id: str) -> str:
    from crm.crypto import tax_id_digest

    return tax_id_digest(tax_id)


def _match(
    plan: PlanRow,
    values: dict[str, Any],
    digest: str | None,
    existing: Existing,
    first_seen: dict[tuple[str, str], int],
) -> None:
    keys = []
    if values.get(ACCOUNT_NUMBER):
        keys.append((ACCOUNT_NUMBER, str(values[ACCOUNT_NUMBER]).strip().upper(), existing.by_account))
    if digest:
        keys.append((TAX_ID, digest, existing.by_digest))
    if values.get("email"):
        keys.append(("email", str(values["email"]).strip().lower(), existing.by_email))
    found: dict[str, int] = {}
    for name, key, index in keys:
        earlier = first_seen.setdefault((name, key), plan.row)
        if earlier != plan.row:
            _error(plan, name, f"Same {_label(name).lower()} as row {earlier}; each contact once per file.")
            return
        matches = index.get(key, [])
        if name == ACCOUNT_NUMBER and not matches:
            _error(plan, name, "No client account with this number in your scope.")
            return
        if len(matches) > 1:
            _error(plan, name, f"{len(matches)} contacts have this {_label(name).lower()}; merge them first.")
            return
        if matches:
            found[name] = matches[0]
    if len(set(found.values())) > 1:
        described = " and ".join(f"{_label(n).lower()} (contact #{pk})" for n, pk in found.items())
        _error(plan, "", f"The row matches different contacts by {described}.")
        return
    if found:
        plan.contact_id = next(iter(found.values()))
        plan.action = "update"


def _validate(plan: PlanRow, values: dict[str, Any], existing: Existing) -> None:
    tax_id = values.pop(TAX_ID, None)
    values.pop(ACCOUNT_NUMBER, None)
    if plan.contact_id is not None:
        current = existing.contacts[plan.contact_id]
        contact = Contact(**{f.attname: getattr(current, f.attname) for f in COPIED})
        for name, value in values.items():
            setattr(contact, name, value)
    else:
        if values.get("kind") == ContactKind.ENTITY:
            values.setdefault("first_name", "")
        contact = Contact(**values)
    if tax_id is not None:
        id_type = values.get("tax_id_type", contact.tax_id_type)
        error = tax_id_error(str(tax_id), id_type)
        if error:
            _error(plan, TAX_ID, error)
            return
        sealed = seal_tax_id(str(tax_id))
        if plan.contact_id is None or sealed.digest != contact.tax_id_digest:
            plan.tax = [base64.b64encode(sealed.ciphertext).decode(), sealed.digest, sealed.last4]
        if not values.get("tax_id_type") and not contact.tax_id_type:
            values["tax_id_type"] = "ssn" if len(normalise_tax_id(str(tax_id))) == 9 else "foreign"
            contact.tax_id_type = values["tax_id_type"]
    elif "tax_id_type" in plan.changes and plan.contact_id is not None and contact.tax_id_encrypted:
        _error(plan, "tax_id_type", "Give the tax id again in the same row when you change its type.")
        return
    given = set(values) | {"first_name", "last_name", "kind"}
    try:
        contact.full_clean(
            exclude=[n for n in CONTACT_FIELDS if n not in given], validate_unique=False, validate_constraints=False
        )
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            for message in messages:
                _error(plan, "" if name == "__all__" else name, message)
        return
    plan.name = contact.display_name
    if plan.contact_id is not None:
        current = existing.contacts[plan.contact_id]
        values = {n: v for n, v in values.items() if getattr(current, n) != v}
        plan.changes = list(values) + ([TAX_ID] if plan.tax else [])
        if not plan.changes:
            plan.action = "unchanged"
    else:
        plan.changes = list(values) + ([TAX_ID] if plan.tax else [])
    plan.fields = {n: to_json(v) for n, v in values.items()}
