"""The dry run: every parsed row validated as the CRM validates a contact, matched to an existing
contact of the user's scope, and classed as create, update, unchanged or reject.

Validation is the CRM's own rules, run per distinct value instead of per row: what
``Contact.full_clean`` would check on the fields a row gives (each model field's ``clean``: type,
choices, blank, length, validators) is computed once per (field, value) and remembered, and the
model's ``Contact.clean`` once per (kind, has a first name, has a last name) — the only things it
reads. Errors come out in the order ``full_clean`` gives them (fields in model order, then the
model's own). A 100k-row file thus costs one ``clean`` per distinct email or phone, not a
``Contact`` instance and ~20 field checks per row (~7 s of the old preview). Tax ids are checked with
``crm.crypto.tax_id_error`` and sealed here, so the plan never holds one in clear.

Matching (natural keys, within the user's scope only): account number (an account owner), then
tax id (keyed digest), then email (case-insensitive), one query per key type and 5,000 keys.
Keys pointing at different contacts, or an email shared by several contacts, reject the row. A
contact outside the user's scope is never found, so a row carrying its email or tax id is treated
as a new contact: the import neither updates nor reveals it (the duplicate can be merged by
someone who sees both).
"""

from __future__ import annotations

import base64
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
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


# --- Validation, once per distinct value ----------------------------------------------------------

MODEL_FIELDS = {f.name: f for f in Contact._meta.fields if not f.generated}
FIELD_ORDER = {name: index for index, name in enumerate(MODEL_FIELDS)}
NAME_FIELDS = ("kind", "first_name", "middle_name", "last_name", "suffix")
_display_name: Callable[[Any], str] = Contact.display_name.fget  # type: ignore[attr-defined]
_MISSING = object()


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


class Checker:
    """``Contact.full_clean`` for rows, remembered per (field, value): the cell reading of
    ``fields.read_cell`` and the model fields' ``clean``, and ``Contact.clean`` per name shape."""

    def __init__(self) -> None:
        self.cells: dict[tuple[str, type, Any], Any] = {}
        self.fields: dict[tuple[str, Any], tuple[str, ...]] = {}
        self.model: dict[tuple[str, bool, bool], dict[str, list[str]]] = {}

    def read(self, name: str, raw: Any) -> Any:
        """The typed value of a cell, or a ``CellError`` (returned, not raised)."""
        try:
            key = (name, type(raw), raw)
            hit = self.cells.get(key, _MISSING)
        except TypeError:  # an unhashable cell: read it every time
            key, hit = None, _MISSING
        if hit is _MISSING:
            try:
                hit = read_cell(BY_FIELD[name], raw)
            except CellError as error:
                hit = error
            if key is not None:
                self.cells[key] = hit
        return hit

    def field_errors(self, name: str, value: Any) -> tuple[str, ...]:
        """What ``clean_fields`` says about one field's value (nothing for an allowed blank)."""
        field = MODEL_FIELDS[name]
        if field.blank and value in field.empty_values:
            return ()
        key = (name, _hashable(value))
        found = self.fields.get(key)
        if found is None:
            try:
                field.clean(value, None)
                found = ()
            except ValidationError as error:
                found = tuple(error.messages)
            self.fields[key] = found
        return found

    def model_errors(self, kind: str, first_name: str, last_name: str) -> dict[str, list[str]]:
        """What ``Contact.clean`` says; it reads only the kind and whether each name is blank."""
        key = (kind, bool(first_name.strip()), bool(last_name.strip()))
        found = self.model.get(key)
        if found is None:
            probe = Contact(kind=kind, first_name="x" if key[1] else "", last_name="x" if key[2] else "")
            try:
                probe.clean()
                found = {}
            except ValidationError as error:
                found = error.message_dict
            self.model[key] = found
        return found

    def errors(self, values: dict[str, Any], given: Iterable[str]) -> dict[str, list[str]]:
        """``full_clean(exclude=<all but given>)`` of a contact holding ``values``, as ``message_dict``."""
        errors: dict[str, list[str]] = {}
        for name in sorted(given, key=FIELD_ORDER.__getitem__):
            messages = self.field_errors(name, values[name])
            if messages:
                errors[name] = list(messages)
        for name, found in self.model_errors(values["kind"], values["first_name"], values["last_name"]).items():
            errors.setdefault(name, []).extend(found)
        return errors


# --- Matching -----------------------------------------------------------------------------------


@dataclass
class Existing:
    """Contacts of the user's scope that the file's natural keys point at (``contacts``: the values
    of the fields the file gives, and those validation and matching read, by id)."""

    by_email: dict[str, list[int]]
    by_digest: dict[str, list[int]]
    by_account: dict[str, list[int]]
    contacts: dict[int, dict[str, Any]]


def _chunks(values: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


READ_FOR_UPDATE = (*NAME_FIELDS, "tax_id_type", "tax_id_digest", "tax_id_encrypted")


def find_existing(
    *, user: Any, emails: set[str], digests: set[str], accounts: set[str], fields: Iterable[str] = ()
) -> Existing:
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
    columns = sorted({*READ_FOR_UPDATE, *(n for n in fields if n in MODEL_FIELDS)})
    contacts: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(sorted(ids)):
        contacts.update({row["pk"]: row for row in scoped.filter(pk__in=chunk).values("pk", *columns)})
    return Existing(dict(by_email), dict(by_digest), dict(by_account), contacts)


# --- The plan -----------------------------------------------------------------------------------


def _typed(parsed: ParsedRow, plan: PlanRow, checker: Checker) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, raw in parsed.cells.items():
        if raw is None or (isinstance(raw, str) and not raw.strip()) or name not in BY_FIELD:
            continue
        value = checker.read(name, raw)
        if isinstance(value, CellError):
            _error(plan, name, str(value))
        else:
            values[name] = value
    return values


def build_plan(*, user: Any, rows: list[ParsedRow]) -> list[PlanRow]:
    """One ``PlanRow`` per parsed row, in file order."""
    checker = Checker()
    plans = [PlanRow(row=r.row, action="create", notes=list(r.notes)) for r in rows]
    typed = [_typed(parsed, plan, checker) for parsed, plan in zip(rows, plans, strict=True)]
    emails = {str(v["email"]).strip().lower() for v in typed if v.get("email")}
    digests: dict[int, str] = {}
    for index, values in enumerate(typed):
        if values.get(TAX_ID):
            digests[index] = seal_digest(str(values[TAX_ID]))
    accounts = {str(v[ACCOUNT_NUMBER]).strip().upper() for v in typed if v.get(ACCOUNT_NUMBER)}
    given = {name for values in typed for name in values}
    existing = find_existing(user=user, emails=emails, digests=set(digests.values()), accounts=accounts, fields=given)
    defaults = {name: MODEL_FIELDS[name].get_default() for name in NAME_FIELDS}
    first_seen: dict[tuple[str, str], int] = {}
    for index, (parsed, plan, values) in enumerate(zip(rows, plans, typed, strict=True)):
        _match(plan, values, digests.get(index), existing, first_seen)
        if not plan.errors:
            _validate(plan, values, existing, checker, defaults)
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


def _validate(
    plan: PlanRow, values: dict[str, Any], existing: Existing, checker: Checker, defaults: dict[str, Any]
) -> None:
    tax_id = values.pop(TAX_ID, None)
    values.pop(ACCOUNT_NUMBER, None)
    current = existing.contacts[plan.contact_id] if plan.contact_id is not None else None
    if current is None and values.get("kind") == ContactKind.ENTITY:
        values.setdefault("first_name", "")
    # The contact as full_clean would see it: the matched one (or a new one) with the row's values.
    merged = {**(current if current is not None else defaults), **values}
    if tax_id is not None:
        id_type = values.get("tax_id_type", current["tax_id_type"] if current else "")
        error = tax_id_error(str(tax_id), id_type)
        if error:
            _error(plan, TAX_ID, error)
            return
        sealed = seal_tax_id(str(tax_id))
        if current is None or sealed.digest != current["tax_id_digest"]:
            plan.tax = [base64.b64encode(sealed.ciphertext).decode(), sealed.digest, sealed.last4]
        if not values.get("tax_id_type") and not (current and current["tax_id_type"]):
            values["tax_id_type"] = "ssn" if len(normalise_tax_id(str(tax_id))) == 9 else "foreign"
            merged["tax_id_type"] = values["tax_id_type"]
    elif (
        current is not None
        and current["tax_id_encrypted"]
        and values.get("tax_id_type", current["tax_id_type"]) != current["tax_id_type"]
    ):
        _error(plan, "tax_id_type", "Give the tax id again in the same row when you change its type.")
        return
    errors = checker.errors(merged, {*values, "first_name", "last_name", "kind"})
    if errors:
        for name, messages in errors.items():
            for message in messages:
                _error(plan, "" if name == "__all__" else name, message)
        return
    plan.name = _display_name(_Names(*(merged[n] for n in NAME_FIELDS)))
    if current is not None:
        values = {n: v for n, v in values.items() if current[n] != v}
        plan.changes = list(values) + ([TAX_ID] if plan.tax else [])
        if not plan.changes:
            plan.action = "unchanged"
    else:
        plan.changes = list(values) + ([TAX_ID] if plan.tax else [])
    plan.fields = {n: to_json(v) for n, v in values.items()}


@dataclass(frozen=True, slots=True)
class _Names:
    """What ``Contact.display_name`` reads, without building a ``Contact`` per row."""

    kind: str
    first_name: str
    middle_name: str
    last_name: str
    suffix: str
