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
tax id (keyed digest), then email (case-insensitive), one query per key type for the whole file.
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
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.db.models.expressions import RawSQL

from advisorportal import text
from crm.contact_io.fields import ACCOUNT_NUMBER, BY_FIELD, TAX_ID, CellError, read_cell
from crm.contact_io.parsers import ParsedRow
from crm.crypto import normalise_tax_id, seal_tax_id, tax_id_error
from crm.models import Contact
from crm.scope import scope_contacts
from portfolios import selectors as portfolio_selectors

PREVIEW_ROWS = 20  # the first rows of each class the preview shows


@dataclass
class PlanRow:
    row: int
    action: str  # create, update, unchanged, reject
    name: str = ""  # the display name (of a new valid row: only if the preview shows it)
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


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


class Checker:
    """``Contact.full_clean`` for rows, remembered per (field, value): the cell reading of
    ``fields.read_cell`` and the model fields' ``clean``, and ``Contact.clean`` per name shape."""

    def __init__(self) -> None:
        self.fields: dict[tuple[str, Any], tuple[str, ...]] = {}
        self.model: dict[tuple[str, bool, bool], dict[str, list[str]]] = {}

    def reader(self, name: str) -> Callable[[Any], Any]:
        """``read`` for one column, with its own memo (a column's cells share few distinct values)."""
        column = BY_FIELD[name]
        memo: dict[tuple[type, Any], Any] = {}

        def read(raw: Any) -> Any:
            try:
                key = (raw.__class__, raw)
                return memo[key]
            except KeyError:
                pass
            except TypeError:  # an unhashable cell: read it every time
                key = None
            try:
                value = read_cell(column, raw)
            except CellError as error:
                value = error
            if key is not None:
                memo[key] = value
            return value

        return read

    def field_errors(self, name: str, value: Any) -> tuple[str, ...]:
        """What ``clean_fields`` says about one field's value (nothing for an allowed blank), the
        floor's text check included (``advisorportal.text``)."""
        field = MODEL_FIELDS[name]
        if field.blank and value in field.empty_values:
            return ()
        key = (name, _hashable(value))
        found = self.fields.get(key)
        if found is None:
            try:
                field.clean(value, None)
                # The floor's text check, as FirmOwnedModel.clean_fields runs it after the field's.
                found = tuple(text.field_errors(field, value, name=name in Contact.name_fields))
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


def _array(values: Iterable[Any], of: str = "text") -> RawSQL:
    """``IN (SELECT unnest(<one array parameter>))``: one parameter however many keys (Django's
    ``__in`` with a list renders one placeholder per key, and parsing 100k of them costs seconds)."""
    return RawSQL(f"SELECT unnest(%s::{of}[])", [sorted(values)])  # noqa: S611 - "of" is ours


READ_FOR_UPDATE = (*NAME_FIELDS, "tax_id_type", "tax_id_digest", "tax_id_encrypted")


def find_existing(
    *, user: Any, emails: set[str], digests: set[str], accounts: set[str], fields: Iterable[str] = ()
) -> Existing:
    by_email: dict[str, list[int]] = defaultdict(list)
    by_digest: dict[str, list[int]] = defaultdict(list)
    by_account: dict[str, list[int]] = defaultdict(list)
    scoped = scope_contacts(Contact.objects.all(), user=user)
    if emails:
        for pk, key in scoped.filter(email_key__in=_array(emails)).values_list("pk", "email_key"):
            by_email[key].append(pk)
    if digests:
        for pk, digest in scoped.filter(tax_id_digest__in=_array(digests)).values_list("pk", "tax_id_digest"):
            by_digest[digest].append(pk)
    if accounts:
        owners = scope_contacts(
            portfolio_selectors.account_owners(numbers=_array(accounts)), user=user, contact_field="contact"
        )
        for contact_id, number in owners.values_list("contact_id", "account__number"):
            by_account[number].append(contact_id)
    ids = {pk for found in (by_email, by_digest, by_account) for pks in found.values() for pk in pks}
    columns = sorted({*READ_FOR_UPDATE, *(n for n in fields if n in MODEL_FIELDS)})
    contacts: dict[int, dict[str, Any]] = {}
    if ids:
        contacts = {row["pk"]: row for row in scoped.filter(pk__in=_array(ids, "bigint")).values("pk", *columns)}
    return Existing(dict(by_email), dict(by_digest), dict(by_account), contacts)


# --- The plan -----------------------------------------------------------------------------------

MISSING: Any = None  # in a typed column: the row gives no value (a blank cell is never a value)
DATE_OR_DECIMAL = frozenset(c.field for c in BY_FIELD.values() if c.kind in ("date", "decimal"))


@dataclass
class Plan:
    """The outcome of every row (``outcomes``, file order) and what applying writes, by column:
    for each planned row (not rejected) its file row, action and matched contact; for each field
    the planned rows that set it (stored as null when that is every row, in order) and their values
    (JSON form); the sealed tax ids and pictures.
    Columns keep the stored plan small and let the apply build its arrays without a dict per row."""

    outcomes: list[PlanRow]
    rows: list[int] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    contact_ids: list[int | None] = field(default_factory=list)
    fields: dict[str, tuple[list[int], list[Any]]] = field(default_factory=dict)
    tax: tuple[list[int], list[list[str]]] = field(default_factory=lambda: ([], []))
    pictures: tuple[list[int], list[list[str]]] = field(default_factory=lambda: ([], []))

    def as_json(self) -> dict[str, Any]:
        every = list(range(len(self.rows)))
        return {
            "v": 2, "row": self.rows, "action": self.actions, "contact_id": self.contact_ids,
            "fields": {n: [None if i == every else list(i), list(v)] for n, (i, v) in self.fields.items()},
            "tax": [list(x) for x in self.tax], "picture": [list(x) for x in self.pictures],
        }  # fmt: skip


def legacy_plan(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A plan stored before plans were kept by column (one dict per row), in today's form."""
    plan = Plan(outcomes=[])
    for position, row in enumerate(rows):
        plan.rows.append(row["row"])
        plan.actions.append(row["action"])
        plan.contact_ids.append(row.get("contact_id"))
        for name, value in row.get("fields", {}).items():
            plan.fields.setdefault(name, ([], []))
            plan.fields[name][0].append(position)
            plan.fields[name][1].append(value)
        for key, target in (("tax", plan.tax), ("picture", plan.pictures)):
            if row.get(key):
                target[0].append(position)
                target[1].append(row[key])
    return plan.as_json()


def _typed_columns(
    rows: list[ParsedRow], columns: dict[str, list[Any]], outcomes: list[PlanRow], checker: Checker
) -> dict[str, list[Any]]:
    """One list per file column (in file order) of typed values, ``MISSING`` where the row has none;
    cells that cannot be read are errors of their row. Each distinct cell is read once, and a
    column is mapped in one pass (a 100k-row file has ~1.6M cells but far fewer distinct ones)."""
    count = len(rows)
    raw: dict[str, list[Any]] = {n: c for n, c in columns.items() if n in BY_FIELD}
    for index, parsed in enumerate(rows):
        for name, value in parsed.cells.items():
            column = raw.get(name)
            if column is None:
                if name not in BY_FIELD:
                    continue
                column = raw[name] = [None] * count
            column[index] = value
    typed: dict[str, list[Any]] = {}
    for name, column in raw.items():
        read = checker.reader(name)
        found = _typed_column(column, read)
        if found is not None:
            out, failed_any = found
            if failed_any:
                for index, value in enumerate(out):
                    if value.__class__ is CellError:
                        _error(outcomes[index], name, str(value))
                        out[index] = MISSING
            typed[name] = out
            continue
        mapping: dict[tuple[type, Any], Any] = {}
        failed: set[tuple[type, Any]] = set()
        try:
            keys = [(v.__class__, v) for v in column]
            for key in set(keys):
                value = key[1]
                if value is None or (key[0] is str and not value.strip()):
                    mapping[key] = MISSING
                    continue
                mapping[key] = read(value)
                if mapping[key].__class__ is CellError:
                    failed.add(key)
        except TypeError:  # an unhashable cell (not from our readers): one at a time
            keys = [(v.__class__, id(v)) for v in column]
            mapping = {}
            for key, value in zip(keys, column, strict=True):
                typed_value = MISSING if value is None else read(value)
                mapping[key] = typed_value
                if typed_value.__class__ is CellError:
                    failed.add(key)
        out = [mapping[key] for key in keys]
        if failed:
            for index, key in enumerate(keys):
                if key in failed:
                    _error(outcomes[index], name, str(out[index]))
                    out[index] = MISSING
        typed[name] = out
    return typed


def _typed_column(column: list[Any], read: Callable[[Any], Any]) -> tuple[list[Any], bool] | None:
    """``_typed_columns`` for a column whose cells are all of one type (most are): the cells
    themselves key the distinct values, and the column is mapped in C (``map``). The typed column
    and whether any cell could not be read; None for a column of mixed types."""
    kinds = set(map(type, column))
    if len(kinds) != 1:
        return None
    try:
        distinct = set(column)
    except TypeError:
        return None
    text = kinds == {str}
    typed = {v: MISSING if v is None or (text and not v.strip()) else read(v) for v in distinct}
    failed = any(v.__class__ is CellError for v in typed.values())
    return list(map(typed.__getitem__, column)), failed


def _rows_with_field_errors(typed: dict[str, list[Any]], checker: Checker) -> set[int]:
    """Rows with a value that its model field refuses, column by column (each distinct value once)."""
    bad_rows: set[int] = set()
    for name, column in typed.items():
        if name not in MODEL_FIELDS:
            continue
        bad: set[Any] = set()
        try:
            for value in set(column):
                if value is not MISSING and checker.field_errors(name, value):
                    bad.add(value)
        except TypeError:  # lists (tags, choices)
            bad_rows.update(i for i, v in enumerate(column) if v is not MISSING and checker.field_errors(name, v))
            continue
        if bad:
            bad_rows.update(i for i, v in enumerate(column) if v in bad)
    return bad_rows


def build_plan(*, user: Any, rows: list[ParsedRow], columns: dict[str, list[Any]] | None = None) -> Plan:
    """Validate, match and class every parsed row (its cells in ``row.cells``, or by column in
    ``columns``, aligned with ``rows``); see the module's docstring."""
    checker = Checker()
    count = len(rows)
    outcomes = [PlanRow(row=r.row, action="create", notes=list(r.notes)) for r in rows]
    typed = _typed_columns(rows, columns or {}, outcomes, checker)
    none = [MISSING] * count
    emails = [str(v).strip().lower() if v else None for v in typed.get("email", none)]
    accounts = [str(v).strip().upper() if v else None for v in typed.get(ACCOUNT_NUMBER, none)]
    digests = [seal_digest(str(v)) if v else None for v in typed.get(TAX_ID, none)]
    existing = find_existing(
        user=user,
        emails={e for e in emails if e},
        digests={d for d in digests if d},
        accounts={a for a in accounts if a},
        fields=typed,
    )
    field_bad = _rows_with_field_errors(typed, checker)
    defaults = {name: MODEL_FIELDS[name].get_default() for name in NAME_FIELDS}
    names = {n: typed.get(n, none) for n in NAME_FIELDS}
    first_seen: dict[tuple[str, str], int] = {}
    plan = Plan(outcomes=outcomes)
    planned_values: dict[int, dict[str, Any]] = {}  # rows taking the per-row path: their values
    shown = 0
    kinds, firsts, lasts = names["kind"], names["first_name"], names["last_name"]
    taxes = typed.get(TAX_ID, none)
    names_valid: dict[tuple[str, str, str], bool] = {}  # (kind, first, last): no error from them
    for index, outcome in enumerate(outcomes):
        _match(outcome, accounts[index], digests[index], emails[index], existing, first_seen)
        if outcome.errors:
            continue
        if outcome.contact_id is not None or taxes[index] is not MISSING or index in field_bad:
            simple = False
        else:
            kind, first, last = kinds[index], firsts[index], lasts[index]
            shape = (
                defaults["kind"] if kind is MISSING else kind,
                defaults["first_name"] if first is MISSING else first,
                defaults["last_name"] if last is MISSING else last,
            )
            valid = names_valid.get(shape)
            if valid is None:
                valid = names_valid[shape] = not (
                    checker.field_errors("first_name", shape[1])
                    or checker.field_errors("last_name", shape[2])
                    or checker.field_errors("kind", shape[0])
                    or checker.model_errors(*shape)
                )
            simple = valid
        if simple:  # a new contact whose values are all valid: nothing more per row
            if shown < PREVIEW_ROWS:  # what the preview shows of the first rows (and their names)
                outcome.name = _display_name(
                    _Names(*(defaults[n] if (v := names[n][index]) is MISSING else v for n in NAME_FIELDS))
                )
                shown += 1
                outcome.fields = {n: to_json(c[index]) for n, c in typed.items() if c[index] is not MISSING}
                outcome.fields.pop(ACCOUNT_NUMBER, None)
                outcome.changes = list(outcome.fields)
            continue
        # The per-row path: updates, rows with an error (reported in full_clean's order), tax ids.
        values = {n: col[index] for n, col in typed.items() if col[index] is not MISSING}
        _validate(outcome, values, existing, checker, defaults)
        planned_values[index] = values
    for index, parsed in enumerate(rows):
        outcome = outcomes[index]
        if outcome.errors:
            outcome.action, outcome.fields, outcome.tax, outcome.picture = "reject", {}, None, None
        elif parsed.picture is not None:
            outcome.picture = [base64.b64encode(parsed.picture[0]).decode(), parsed.picture[1]]
    if not any(o.errors for o in outcomes):  # with a reject nothing is applied: no columns needed
        _fill_columns(plan, typed, planned_values)
    return plan


def _fill_columns(plan: Plan, typed: dict[str, list[Any]], planned_values: dict[int, dict[str, Any]]) -> None:
    """The columns applying writes, for a plan without rejects (every row planned, in file order):
    every value of a created row, the changed values of an updated one (``PlanRow.fields`` of the
    rows that took the per-row path), the sealed tax ids and the pictures."""
    outcomes = plan.outcomes
    plan.rows = [o.row for o in outcomes]
    plan.actions = [o.action for o in outcomes]
    plan.contact_ids = [o.contact_id for o in outcomes]
    columns: dict[str, tuple[list[int], list[Any]]] = {}
    for name, column in typed.items():
        if name in (TAX_ID, ACCOUNT_NUMBER):
            continue
        if planned_values:
            column = [MISSING if i in planned_values else v for i, v in enumerate(column)]
        positions = [i for i, v in enumerate(column) if v is not MISSING]
        values = [column[i] for i in positions]
        if name in DATE_OR_DECIMAL:
            values = [to_json(v) for v in values]
        columns[name] = (positions, values)
    for index in sorted(planned_values):
        for name, value in outcomes[index].fields.items():
            columns.setdefault(name, ([], []))
            columns[name][0].append(index)
            columns[name][1].append(value)
    for index, outcome in enumerate(outcomes):
        if outcome.tax:
            plan.tax[0].append(index)
            plan.tax[1].append(outcome.tax)
        if outcome.picture:
            plan.pictures[0].append(index)
            plan.pictures[1].append(outcome.picture)
    plan.fields = {n: c for n, c in columns.items() if c[0]}


def seal_digest(tax_id: str) -> str:
    from crm.crypto import tax_id_digest

    return tax_id_digest(tax_id)


def _match(
    plan: PlanRow,
    account: str | None,
    digest: str | None,
    email: str | None,
    existing: Existing,
    first_seen: dict[tuple[str, str], int],
) -> None:
    keys = []
    if account:
        keys.append((ACCOUNT_NUMBER, account, existing.by_account))
    if digest:
        keys.append((TAX_ID, digest, existing.by_digest))
    if email:
        keys.append(("email", email, existing.by_email))
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


class _Names(NamedTuple):
    """What ``Contact.display_name`` reads, without building a ``Contact`` per row."""

    kind: str
    first_name: str
    middle_name: str
    last_name: str
    suffix: str
