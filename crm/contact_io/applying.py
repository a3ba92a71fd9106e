"""Applying a previewed plan: what ``crm.services.contact_create``/``contact_update`` do for one
contact, for a whole file at once, in the caller's transaction.

The plan holds validated values (JSON form, tax ids sealed), so nothing is parsed or validated
again. Per batch of ``BATCH`` rows:

- creates: ids drawn from the sequence, one ``INSERT … SELECT`` from a COPY (``advisorportal.bulk``)
  of the columns the file gives, the rest as one default each; status dates by the CRM's rule
  (``crm.services.status_dates``); then the search keys of all of them at once, in key order
  (``crm.search.sorted_keys``, worked out in a thread while the rows go in, and ``insert_keys``),
  fed with the key fields only, not model instances;
- updates: the batch's contacts locked (``SELECT … FOR UPDATE``, only the columns needed), a
  contact changed since the preview fails the whole apply ("preview again"); the before-values
  kept for the undo; one ``UPDATE … FROM`` a COPY; search keys rewritten; one ``Activity``
  ("Updated by import #n") per contact, inserted in bulk;
- the undo's record: the created contacts as runs of (file row, id) in the job
  (``created_runs``), one ``ContactImportRow`` per updated contact with its before-values.

The plan is stored by column (``planning.Plan``): each field's values are spread into one list per
planned row once, and a batch's arrays are slices of those lists.

Pictures (vCards only) go through ``crm.services.contact_set_picture``, which validates them.
Bulk writes send no signals: each statement leaves one audit entry naming the rows and columns it
wrote (``advisorportal.bulk``), and the caller writes one for the whole import with every changed
value.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

from django.core.exceptions import ValidationError

from accounts import audit
from advisorportal import bulk
from advisorportal.bulk import Audit, Same, next_ids
from crm import search
from crm.contact_io.fields import BY_FIELD, TAX_ID
from crm.contact_io.models import ContactImport, ContactImportRow, RowAction
from crm.contact_io.planning import MODEL_FIELDS, to_json
from crm.models import Activity, ActivityKind, Contact
from crm.services import STATUS_DATE_FIELDS as STATUS_DATES
from crm.services import status_dates

BATCH = 10_000
# What ``crm.search.contact_keys`` reads of a contact.
KEY_FIELDS = (
    "first_name", "middle_name", "last_name", "preferred_name", "organization", "email", "email_alt",
    "phone", "mobile_phone", "work_phone", "username",
)  # fmt: skip
TAX_FIELDS = ("tax_id_encrypted", "tax_id_digest", "tax_id_last4")


@dataclass
class Applied:
    created_ids: list[int] = field(default_factory=list)
    created_rows: list[int] = field(default_factory=list)  # the file row of each created contact
    changes: dict[str, Any] = field(default_factory=dict)  # per updated contact: {field: [before, after]}
    pictures: list[tuple[int, list[str]]] = field(default_factory=list)


class _Absent:
    """No value in the plan for this row and field."""


ABSENT: Any = _Absent()


def _expand(column: list[list[Any]], count: int) -> list[Any]:
    """A stored ``[positions, values]`` as one value per planned row (``ABSENT`` elsewhere; no
    positions: every row)."""
    if column[0] is None:  # every row has a value, in order
        return list(column[1])
    full: list[Any] = [ABSENT] * count
    for position, value in zip(column[0], column[1], strict=True):
        full[position] = value
    return full


class _KeySource:
    """What ``search.rebuild_keys_bulk`` reads of a contact: its id and key fields, without a
    model instance per contact (~70 µs each)."""

    __slots__ = ("pk", *KEY_FIELDS)

    def __init__(self, pk: int, values: tuple[Any, ...]) -> None:
        self.pk = pk
        for name, value in zip(KEY_FIELDS, values, strict=True):
            setattr(self, name, value or "")


@dataclass
class _Context:
    job: ContactImport
    actor_id: int | None
    firm_id: int
    now: dt.datetime
    today: dt.date
    plan: dict[str, Any]
    columns: dict[str, list[Any]]  # field -> one value per planned row, or ABSENT
    tax: list[Any]
    pictures: list[Any]
    applied: Applied = field(default_factory=Applied)
    created_ids: list[int] = field(default_factory=list)
    import_rows: list[tuple[int, int, str, dict[str, Any]]] = field(default_factory=list)  # updated


def apply_plan(
    *, job: ContactImport, plan: dict[str, Any], actor_id: int | None, firm_id: int,
    now: dt.datetime, today: dt.date, progress: Callable[[float], None],
) -> Applied:  # fmt: skip
    count = len(plan["row"])
    context = _Context(
        job=job, actor_id=actor_id, firm_id=firm_id, now=now, today=today, plan=plan,
        columns={name: _expand(column, count) for name, column in plan["fields"].items()},
        tax=_expand(plan["tax"], count), pictures=_expand(plan["picture"], count),
    )  # fmt: skip
    actions = plan["action"]
    creates = [i for i in range(count) if actions[i] == "create"]
    updates = [i for i in range(count) if actions[i] == "update"]
    done, total = 0, max(len(creates) + len(updates), 1)
    context.created_ids = list(next_ids(Contact, len(creates)))
    # The search keys of the new contacts are worked out in a thread while their rows go in: that
    # is Python (the GIL), the INSERTs are PostgreSQL's work (psycopg waits without the GIL).
    with ThreadPoolExecutor(max_workers=1) as pool:
        keys = pool.submit(lambda: search.sorted_keys(_key_sources(context, creates, context.created_ids)))
        for start in range(0, len(creates), BATCH):
            batch = creates[start : start + BATCH]
            _create(context, batch, context.created_ids[start : start + BATCH])
            done += len(batch)
            progress(0.5 * done / total)
        pairs = keys.result()
    search.insert_keys(pairs)
    progress(0.8 * done / total)
    for start in range(0, len(updates), BATCH):
        batch = updates[start : start + BATCH]
        _update(context, batch)
        done += len(batch)
        progress(0.8 * done / total)
    rows = context.import_rows
    if rows:
        _insert_import_rows(context, rows)
    return context.applied


def _insert_import_rows(context: _Context, rows: list[tuple[int, int, str, dict[str, Any]]]) -> None:
    firm_id, job = context.firm_id, context.job
    # Not audited: the undo's own record of the values before, which the import's entry has too.
    bulk.insert(ContactImportRow, len(rows), {
        "id": list(next_ids(ContactImportRow, len(rows))), "firm_id": Same(firm_id),
        "contact_import_id": Same(job.pk), "row": [r[0] for r in rows], "contact_id": [r[1] for r in rows],
        "action": [r[2] for r in rows], "before": [r[3] for r in rows],
    }, audit=None)  # fmt: skip


def runs(rows: list[int], ids: list[int]) -> list[list[int]]:
    """``(row, id)`` pairs as ``[first row, first id, count]`` runs where both go up by one."""
    out: list[list[int]] = []
    for row, pk in zip(rows, ids, strict=True):
        last = out[-1] if out else None
        if last and row == last[0] + last[2] and pk == last[1] + last[2]:
            last[2] += 1
        else:
            out.append([row, pk, 1])
    return out


def _column(context: _Context, name: str, rows: list[int]) -> list[Any]:
    """The values of ``name`` for these planned rows of new contacts (the field's default where absent)."""
    default = to_json(MODEL_FIELDS[name].get_default())
    values = context.columns.get(name)
    if values is None:
        return [default] * len(rows)
    consecutive = rows and rows[-1] - rows[0] == len(rows) - 1  # sorted, distinct: a file of new contacts
    picked = values[rows[0] : rows[-1] + 1] if consecutive else [values[i] for i in rows]
    if ABSENT not in picked:
        return picked
    return [default if v is ABSENT else v for v in picked]


def _key_sources(context: _Context, rows: list[int], ids: list[int]) -> list[Contact]:
    columns = zip(*(_column(context, name, rows) for name in KEY_FIELDS), strict=True)
    return cast(list[Contact], [_KeySource(pk, values) for pk, values in zip(ids, columns, strict=True)])


def _create(context: _Context, batch: list[int], ids: list[int]) -> None:
    plan, columns = context.plan, context.columns

    def column(name: str) -> list[Any]:
        return _column(context, name, batch)

    contact_columns: dict[str, list[Any] | Same] = {
        "id": ids, "firm_id": Same(context.firm_id), "created_by_id": Same(context.actor_id),
        "created_at": Same(context.now), "updated_at": Same(context.now),
    }  # fmt: skip
    for name in columns:
        if name not in STATUS_DATES:
            contact_columns[MODEL_FIELDS[name].attname] = column(name)
    dates = [
        status_dates(status=status, old_status=None, closed_on=closed_on, client_since=client_since,
                     today=context.today)
        for status, closed_on, client_since in zip(column("status"), column("closed_on"), column("client_since"),
                                                   strict=True)
    ]  # fmt: skip
    contact_columns["closed_on"] = [d[0] for d in dates]
    contact_columns["client_since"] = [d[1] for d in dates]
    sealed = [context.tax[i] for i in batch]
    if any(t is not ABSENT for t in sealed):
        sealed = [[None, "", ""] if t is ABSENT else t for t in sealed]
        contact_columns["tax_id_encrypted"] = [base64.b64decode(t[0]) if t[0] else None for t in sealed]
        contact_columns["tax_id_digest"] = [t[1] for t in sealed]
        contact_columns["tax_id_last4"] = [t[2] for t in sealed]
    bulk.insert(Contact, len(batch), contact_columns, audit=_audit(context, "Created"))
    rows = plan["row"]
    context.applied.created_rows += [rows[i] for i in batch]
    context.applied.created_ids += ids
    context.applied.pictures += [
        (pk, context.pictures[i]) for i, pk in zip(batch, ids, strict=True) if context.pictures[i] is not ABSENT
    ]


def _update(context: _Context, batch: list[int]) -> None:
    plan, columns, job = context.plan, context.columns, context.job
    row_fields = [{n: c[i] for n, c in columns.items() if c[i] is not ABSENT} for i in batch]
    taxes = [None if (t := context.tax[i]) is ABSENT else t for i in batch]
    touched = sorted({n for f in row_fields for n in f} | {"status", *STATUS_DATES})
    taxed = any(taxes)
    read = sorted({"id", "updated_at", *touched, *KEY_FIELDS, *(TAX_FIELDS if taxed else ())})
    ids = [plan["contact_id"][i] for i in batch]
    locked = {c["id"]: c for c in Contact.objects.select_for_update().filter(pk__in=ids).order_by("pk").values(*read)}
    new_values: list[dict[str, Any]] = []
    activities: list[tuple[int, str]] = []
    for index, contact_id, fields, tax in zip(batch, ids, row_fields, taxes, strict=True):
        row = plan["row"][index]
        current = locked.get(contact_id)
        if current is None or (job.previewed_at and current["updated_at"] > job.previewed_at):
            raise ValidationError(
                f"Row {row}: contact #{contact_id} was changed or deleted after the preview; preview the import again."
            )
        before = {name: to_json(current[name]) for name in fields}
        diff = {name: [before[name], value] for name, value in fields.items()}
        merged = {**current, **fields}
        if tax:
            enc = current["tax_id_encrypted"]
            before[TAX_ID] = [base64.b64encode(bytes(enc)).decode() if enc else None,
                              current["tax_id_digest"], current["tax_id_last4"]]  # fmt: skip
            merged.update(tax_id_encrypted=base64.b64decode(tax[0]), tax_id_digest=tax[1], tax_id_last4=tax[2])
            diff[TAX_ID] = [audit.MASK, audit.MASK]
        for name in STATUS_DATES:
            before.setdefault(name, to_json(current[name]))
        merged["closed_on"], merged["client_since"] = status_dates(
            status=merged["status"], old_status=current["status"], closed_on=merged["closed_on"],
            client_since=merged["client_since"], today=context.today,
        )  # fmt: skip
        new_values.append(merged)
        context.applied.changes[str(contact_id)] = diff
        context.import_rows.append((row, contact_id, RowAction.UPDATED, before))
        activities.append((contact_id, ", ".join(BY_FIELD[n].label for n in diff if n in BY_FIELD)))
        if context.pictures[index] is not ABSENT:
            context.applied.pictures.append((contact_id, context.pictures[index]))
    contact_columns: dict[str, list[Any] | Same] = {
        MODEL_FIELDS[n].attname: [v[n] for v in new_values] for n in touched
    }
    if taxed:
        contact_columns.update({n: [v[n] for v in new_values] for n in TAX_FIELDS})
    contact_columns["updated_at"] = Same(context.now)
    bulk.update(Contact, ids, contact_columns, audit=_audit(context, "Updated"))
    sources = [_KeySource(pk, tuple(v[n] for n in KEY_FIELDS)) for pk, v in zip(ids, new_values, strict=True)]
    search.rebuild_keys_bulk(cast(list[Contact], sources))
    summary = f"Updated by import #{job.pk} ({job.file_name})"[:300]
    bulk.insert(Activity, len(batch), {
        "id": list(next_ids(Activity, len(batch))), "firm_id": Same(context.firm_id),
        "contact_id": [a[0] for a in activities], "kind": Same(ActivityKind.SYSTEM), "summary": Same(summary),
        "body": [a[1] for a in activities], "actor_id": Same(context.actor_id), "occurred_at": Same(context.now),
    }, audit=_audit(context, "Timeline entries of contacts updated"))  # fmt: skip


def _audit(context: _Context, what: str) -> Audit:
    """The audit record of one bulk statement of this import (the import's own entry has every value)."""
    job = context.job
    return Audit(f"{what} by import #{job.pk} ({job.file_name})"[:200], {"import": job.pk})
