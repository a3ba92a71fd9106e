"""Applying a previewed plan: what ``crm.services.contact_create``/``contact_update`` do for one
contact, for a whole file at once, in the caller's transaction.

The plan holds validated values (JSON form, tax ids sealed), so nothing is parsed or validated
again. Per batch of ``BATCH`` rows:

- creates: ids drawn from the sequence, one ``INSERT … SELECT FROM unnest`` (``contact_io.bulk``)
  of the columns the file gives, the rest as one default each; status dates by the CRM's rule
  (``closed_on``, ``client_since``); search keys through ``crm.search.rebuild_keys``
  (``fresh=True``), fed with the key fields only, not model instances;
- updates: the batch's contacts locked (``SELECT … FOR UPDATE``, only the columns needed), a
  contact changed since the preview fails the whole apply ("preview again"); the before-values
  kept for the undo; one ``UPDATE … FROM unnest``; search keys rewritten; one ``Activity``
  ("Updated by import #n") per contact, inserted in bulk;
- one ``ContactImportRow`` per contact (the undo's record), inserted in bulk.

Pictures (vCards only) go through ``crm.services.contact_set_picture``, which validates them.
Bulk writes send no signals: the caller writes one audit entry for the whole import.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

from django.core.exceptions import ValidationError

from accounts import audit
from contact_io import bulk
from contact_io.bulk import Same
from contact_io.fields import BY_FIELD, TAX_ID
from contact_io.models import ContactImport, ContactImportRow, RowAction
from contact_io.planning import MODEL_FIELDS, to_json
from crm import search
from crm.models import Activity, ActivityKind, Contact, ContactStatus

BATCH = 10_000
# What ``crm.search.contact_keys`` reads of a contact.
KEY_FIELDS = (
    "first_name", "middle_name", "last_name", "preferred_name", "organization", "email", "email_alt",
    "phone", "mobile_phone", "work_phone", "username",
)  # fmt: skip
TAX_FIELDS = ("tax_id_encrypted", "tax_id_digest", "tax_id_last4")
STATUS_DATES = ("closed_on", "client_since")


@dataclass
class Applied:
    created_ids: list[int] = field(default_factory=list)
    changes: dict[str, Any] = field(default_factory=dict)  # per updated contact: {field: [before, after]}
    pictures: list[tuple[int, list[str]]] = field(default_factory=list)


def status_dates(
    status: str, old_status: str | None, closed_on: Any, client_since: Any, today: dt.date
) -> tuple[Any, Any]:
    """What ``crm.services`` does on a status change: ``closed_on`` set on closing and cleared on
    reopening, ``client_since`` set when a contact first becomes an active client."""
    if status == old_status:
        return closed_on, client_since
    if status == ContactStatus.CLOSED:
        closed_on = today
    elif old_status == ContactStatus.CLOSED:
        closed_on = None
    if status == ContactStatus.ACTIVE and client_since in (None, ""):
        client_since = today
    return closed_on, client_since


def _batches(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), BATCH):
        yield rows[start : start + BATCH]


def _keys_of(pairs: list[tuple[int, dict[str, Any]]]) -> list[Contact]:
    """What ``search.rebuild_keys`` reads (the id and the key fields), without a model instance
    per contact (~70 µs each)."""
    return cast(list[Contact], [SimpleNamespace(pk=pk, **{n: values.get(n) or "" for n in KEY_FIELDS})
                                for pk, values in pairs])  # fmt: skip


def _defaults(names: list[str]) -> dict[str, Any]:
    return {n: to_json(MODEL_FIELDS[n].get_default()) for n in names}


def apply_plan(
    *, job: ContactImport, rows: list[dict[str, Any]], actor_id: int | None, firm_id: int,
    now: dt.datetime, today: dt.date, progress: Callable[[float], None],
) -> Applied:  # fmt: skip
    creates = [r for r in rows if r["action"] == "create"]
    updates = [r for r in rows if r["action"] == "update"]
    total = max(len(creates) + len(updates), 1)
    done = 0
    applied = Applied()
    for batch in _batches(creates):
        _create(job, batch, applied, actor_id=actor_id, firm_id=firm_id, now=now, today=today)
        done += len(batch)
        progress(done / total)
    for batch in _batches(updates):
        _update(job, batch, applied, actor_id=actor_id, firm_id=firm_id, now=now, today=today)
        done += len(batch)
        progress(done / total)
    return applied


def _create(
    job: ContactImport, batch: list[dict[str, Any]], applied: Applied, *, actor_id: int | None, firm_id: int,
    now: dt.datetime, today: dt.date,
) -> None:  # fmt: skip
    given = sorted({n for r in batch for n in r.get("fields", {})} - set(STATUS_DATES))
    defaults = _defaults([*given, "status", *STATUS_DATES])
    values = [{**defaults, **r.get("fields", {})} for r in batch]
    ids = bulk.next_ids(Contact, len(batch))
    columns: dict[str, list[Any] | Same] = {
        "id": ids, "firm_id": Same(firm_id), "created_by_id": Same(actor_id), "created_at": Same(now),
        "updated_at": Same(now),
    }  # fmt: skip
    for name in given:
        columns[MODEL_FIELDS[name].attname] = [v[name] for v in values]
    dates = [status_dates(v["status"], None, v["closed_on"], v["client_since"], today) for v in values]
    columns["closed_on"] = [d[0] for d in dates]
    columns["client_since"] = [d[1] for d in dates]
    if any(r.get("tax") for r in batch):
        sealed = [r.get("tax") or [None, "", ""] for r in batch]
        columns["tax_id_encrypted"] = [base64.b64decode(t[0]) if t[0] else None for t in sealed]
        columns["tax_id_digest"] = [t[1] for t in sealed]
        columns["tax_id_last4"] = [t[2] for t in sealed]
    bulk.insert(Contact, len(batch), columns)
    search.rebuild_keys(_keys_of(list(zip(ids, values, strict=True))), fresh=True)
    bulk.insert(ContactImportRow, len(batch), {
        "id": bulk.next_ids(ContactImportRow, len(batch)), "firm_id": Same(firm_id),
        "contact_import_id": Same(job.pk), "row": [r["row"] for r in batch], "contact_id": ids,
        "action": Same(RowAction.CREATED), "before": Same({}),
    })  # fmt: skip
    applied.created_ids += ids
    applied.pictures += [(pk, r["picture"]) for pk, r in zip(ids, batch, strict=True) if r.get("picture")]


def _update(
    job: ContactImport, batch: list[dict[str, Any]], applied: Applied, *, actor_id: int | None, firm_id: int,
    now: dt.datetime, today: dt.date,
) -> None:  # fmt: skip
    touched = sorted({n for r in batch for n in r.get("fields", {})} | {"status", *STATUS_DATES})
    taxed = any(r.get("tax") for r in batch)
    read = sorted({"id", "updated_at", *touched, *KEY_FIELDS, *(TAX_FIELDS if taxed else ())})
    ids = [r["contact_id"] for r in batch]
    locked = {c["id"]: c for c in Contact.objects.select_for_update().filter(pk__in=ids).order_by("pk").values(*read)}
    new_values: list[dict[str, Any]] = []
    befores: list[dict[str, Any]] = []
    activities: list[tuple[int, str]] = []
    for row in batch:
        current = locked.get(row["contact_id"])
        if current is None or (job.previewed_at and current["updated_at"] > job.previewed_at):
            raise ValidationError(
                f"Row {row['row']}: contact #{row['contact_id']} was changed or deleted after the preview; "
                "preview the import again."
            )
        fields = row.get("fields", {})
        before = {name: to_json(current[name]) for name in fields}
        diff = {name: [before[name], value] for name, value in fields.items()}
        merged = {**current, **fields}
        if row.get("tax"):
            enc = current["tax_id_encrypted"]
            before[TAX_ID] = [base64.b64encode(bytes(enc)).decode() if enc else None,
                              current["tax_id_digest"], current["tax_id_last4"]]  # fmt: skip
            sealed = row["tax"]
            merged.update(tax_id_encrypted=base64.b64decode(sealed[0]), tax_id_digest=sealed[1],
                          tax_id_last4=sealed[2])  # fmt: skip
            diff[TAX_ID] = [audit.MASK, audit.MASK]
        for name in STATUS_DATES:
            before.setdefault(name, to_json(current[name]))
        merged["closed_on"], merged["client_since"] = status_dates(
            merged["status"], current["status"], merged["closed_on"], merged["client_since"], today
        )
        new_values.append(merged)
        befores.append(before)
        applied.changes[str(row["contact_id"])] = diff
        activities.append((row["contact_id"], ", ".join(BY_FIELD[n].label for n in diff if n in BY_FIELD)))
        if row.get("picture"):
            applied.pictures.append((row["contact_id"], row["picture"]))
    columns: dict[str, list[Any] | Same] = {MODEL_FIELDS[n].attname: [v[n] for v in new_values] for n in touched}
    if taxed:
        columns.update({n: [v[n] for v in new_values] for n in TAX_FIELDS})
    columns["updated_at"] = Same(now)
    bulk.update(Contact, ids, columns)
    search.rebuild_keys(_keys_of(list(zip(ids, new_values, strict=True))))
    summary = f"Updated by import #{job.pk} ({job.file_name})"[:300]
    bulk.insert(Activity, len(batch), {
        "id": bulk.next_ids(Activity, len(batch)), "firm_id": Same(firm_id), "contact_id": [a[0] for a in activities],
        "kind": Same(ActivityKind.SYSTEM), "summary": Same(summary), "body": [a[1] for a in activities],
        "actor_id": Same(actor_id), "occurred_at": Same(now),
    })  # fmt: skip
    bulk.insert(ContactImportRow, len(batch), {
        "id": bulk.next_ids(ContactImportRow, len(batch)), "firm_id": Same(firm_id),
        "contact_import_id": Same(job.pk), "row": [r["row"] for r in batch], "contact_id": ids,
        "action": Same(RowAction.UPDATED), "before": befores,
    })  # fmt: skip
