"""Every write of contact imports: upload, preview (dry run), apply, undo.

Applying is one transaction per file (all or nothing) on a bulk path that does what
``crm.services.contact_create``/``contact_update`` do for one contact, for thousands at once:
rows were validated with ``full_clean`` and tax ids sealed in the preview; creates are
``bulk_create`` in batches, updates ``bulk_update`` of the changed fields on locked rows; status
dates follow the same rule as the CRM service; search keys are written with
``crm.search.rebuild_keys`` (``fresh=True`` for new contacts); pictures go through
``crm.services.contact_set_picture``, which validates them. Bulk writes send no signals, so the
import writes ONE audit entry (``accounts.audit.record``) saying what it created and, per updated
contact, which fields changed from what to what (tax ids masked); the per-row details stay in
``ContactImportRow`` for the undo.

Progress while applying lives in the cache (the job's row is inside the apply transaction, so
other connections would not see it move); the status page reads it from there.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from accounts import audit
from accounts.models import AuditAction
from advisorportal.tenancy.context import require_firm_id
from contact_io.fields import BY_FIELD, TAX_ID
from contact_io.models import ContactImport, ContactImportRow, ImportStatus, RowAction, SourceKind
from contact_io.parsers import MAX_FILE_BYTES, FileRefused, ParsedFile, detect_kind
from contact_io.planning import PlanRow, build_plan, from_json, to_json
from crm import search
from crm.models import Activity, ActivityKind, Contact, ContactStatus
from crm.selectors import contacts_changed

BATCH = 5000
PREVIEW_ROWS = 20


def _progress_key(job_id: int) -> str:
    return f"contact_io:progress:{job_id}"


def progress_set(job_id: int, percent: int) -> None:
    cache.set(_progress_key(job_id), percent, timeout=3600)


def progress_get(job: ContactImport) -> int:
    if job.status == ImportStatus.APPLYING:
        return int(cache.get(_progress_key(job.pk)) or 0)
    return 100 if job.status in (ImportStatus.DONE, ImportStatus.UNDONE) else job.progress


@transaction.atomic
def import_upload(*, actor: Any, file_name: str, data: bytes) -> ContactImport:
    """Keep an uploaded file as a new job; its kind is read from the content, not the name."""
    if not data:
        raise ValidationError({"file": "The file is empty."})
    if len(data) > MAX_FILE_BYTES:
        raise ValidationError({"file": f"The file is over {MAX_FILE_BYTES // 2**20} MB."})
    try:
        kind = detect_kind(file_name, data[:4096])
    except FileRefused as error:
        raise ValidationError({"file": str(error)}) from None
    job = ContactImport(
        source_kind=kind,
        file_name=file_name[:255],
        file_size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
        created_by=actor,
    )
    if kind == SourceKind.CSV:
        from contact_io.parsers.csv_file import suggested_mapping

        try:
            job.column_mapping = suggested_mapping(data)
        except FileRefused as error:
            raise ValidationError({"file": str(error)}) from None
    job.full_clean()
    job.save()
    return job


def _parse(job: ContactImport) -> ParsedFile:
    data = bytes(job.data or b"")
    if job.source_kind == SourceKind.XLSX:
        from contact_io.parsers.xlsx import read_workbook

        return read_workbook(data)
    if job.source_kind == SourceKind.CSV:
        from contact_io.parsers.csv_file import read_csv

        return read_csv(data, job.column_mapping)
    from contact_io.parsers.vcard import read_vcards

    return read_vcards(data)


def _pack(plans: list[PlanRow]) -> bytes:
    return zlib.compress(json.dumps([p.as_json() for p in plans if p.action != "reject"]).encode(), 3)


def _unpack(blob: Any) -> list[dict[str, Any]]:
    return list(json.loads(zlib.decompress(bytes(blob))))


@transaction.atomic
def import_set_mapping(*, actor: Any, job: ContactImport, mapping: dict[str, str]) -> ContactImport:
    """Change a CSV job's column mapping (before it is applied); the preview must be run again."""
    from contact_io.parsers.csv_file import headers, mapping_problems

    job = ContactImport.objects.select_for_update().get(pk=job.pk)
    if job.source_kind != SourceKind.CSV or job.status not in (ImportStatus.UPLOADED, ImportStatus.PREVIEWED):
        raise ValidationError({"mapping": "Only a CSV import that is not applied yet has a column mapping."})
    header = headers(bytes(job.data or b""))
    clean = {str(k): str(v or "") for k, v in mapping.items() if str(k).isdigit() and int(k) < len(header)}
    problems = mapping_problems(clean, header)
    if problems:
        raise ValidationError({"mapping": problems})
    job.column_mapping, job.status, job.plan = clean, ImportStatus.UPLOADED, None
    job.save(update_fields=["column_mapping", "status", "plan"])
    return job


@transaction.atomic
def import_preview(*, actor: Any, job: ContactImport) -> ContactImport:
    """The dry run: parse, validate and match every row; store counts, the first rows of each class,
    every reject and the plan. Changes no contact."""
    job = ContactImport.objects.select_for_update().get(pk=job.pk)
    if job.status not in (ImportStatus.UPLOADED, ImportStatus.PREVIEWED):
        raise ValidationError({"status": f"This import is {job.get_status_display().lower()}; it cannot be previewed."})
    try:
        parsed = _parse(job)
    except FileRefused as error:
        parsed = ParsedFile()
        parsed.problem(str(error))
    report = list(parsed.problems)
    plans: list[PlanRow] = build_plan(user=actor, rows=parsed.rows) if parsed.ok else []
    classes: dict[str, list[dict[str, Any]]] = {"create": [], "update": [], "unchanged": [], "reject": []}
    counts = dict.fromkeys(classes, 0)
    for plan in plans:
        counts[plan.action] += 1
        report += plan.errors
        if plan.action != "reject" and len(classes[plan.action]) < PREVIEW_ROWS:
            classes[plan.action].append(_preview_row(plan))
    job.report = report
    job.rows_total = len(parsed.rows)
    job.created_count, job.updated_count = counts["create"], counts["update"]
    job.unchanged_count, job.rejected_count = counts["unchanged"], counts["reject"]
    job.preview = {"classes": classes, "notes": [{"row": p.row, "notes": p.notes} for p in plans if p.notes][:200]}
    job.plan = _pack(plans) if not parsed.problems else None
    job.status, job.previewed_at = ImportStatus.PREVIEWED, timezone.now()
    job.save()
    return job


def _preview_row(plan: PlanRow) -> dict[str, Any]:
    shown = {BY_FIELD[n].label: str(v) for n, v in plan.fields.items() if n in BY_FIELD}
    return {
        "row": plan.row,
        "name": plan.name,
        "contact_id": plan.contact_id,
        "changes": [BY_FIELD[n].label if n in BY_FIELD else n for n in plan.changes],
        "values": dict(list(shown.items())[:8]),
        "picture": bool(plan.picture),
    }


def can_apply(job: ContactImport) -> str | None:
    """Why the job cannot be applied now, or None."""
    if job.status != ImportStatus.PREVIEWED:
        return "Preview the import first." if job.status == ImportStatus.UPLOADED else "This import was applied."
    if job.rejected_count or job.plan is None:
        return "Fix the rejected rows (or remove them from the file) and upload it again: a file is applied whole."
    if not (job.created_count or job.updated_count):
        return "Nothing to change: every row matches its contact already."
    return None


@transaction.atomic
def import_request_apply(*, actor: Any, job: ContactImport) -> ContactImport:
    """Mark the job as applying and queue the background apply (after commit)."""
    from contact_io import tasks

    job = ContactImport.objects.select_for_update().get(pk=job.pk)
    reason = can_apply(job)
    if reason:
        raise ValidationError({"status": reason})
    job.status, job.progress = ImportStatus.APPLYING, 0
    job.save(update_fields=["status", "progress"])
    progress_set(job.pk, 0)
    firm_id, job_id, actor_id = job.firm_id, job.pk, actor.pk
    transaction.on_commit(lambda: tasks.apply_import.delay(firm_id, job_id, actor_id))
    return job


def _status_dates(contact: Contact, old_status: str | None, today: Any) -> None:
    """What ``crm.services`` does on a status change (closed_on, client_since)."""
    if contact.status == old_status:
        return
    if contact.status == ContactStatus.CLOSED:
        contact.closed_on = today
    elif old_status == ContactStatus.CLOSED:
        contact.closed_on = None
    if contact.status == ContactStatus.ACTIVE and contact.client_since is None:
        contact.client_since = today


def _set_tax(contact: Contact, tax: list[str] | None) -> None:
    if tax:
        contact.tax_id_encrypted = base64.b64decode(tax[0])
        contact.tax_id_digest, contact.tax_id_last4 = tax[1], tax[2]


def import_apply(*, job_id: int, actor: Any) -> ContactImport:
    """Apply a previewed job (run by the Celery task): all of it in one transaction, or nothing."""
    job = ContactImport.objects.get(pk=job_id)
    if job.status != ImportStatus.APPLYING:
        return job  # applied already, or never requested: a rerun does nothing
    try:
        with transaction.atomic():
            result = _apply(job, actor)
    except Exception as error:
        message = error.messages[0] if isinstance(error, ValidationError) else f"{type(error).__name__}: {error}"
        ContactImport.objects.filter(pk=job.pk).update(status=ImportStatus.FAILED, error=message[:2000], data=None)
        if not isinstance(error, ValidationError):
            raise
        return ContactImport.objects.get(pk=job.pk)
    transaction.on_commit(lambda: contacts_changed(firm_id=job.firm_id))
    return result


def _apply(job: ContactImport, actor: Any) -> ContactImport:
    from crm.services import contact_set_picture

    job = ContactImport.objects.select_for_update().get(pk=job.pk)
    rows = _unpack(job.plan)
    today = timezone.localdate()
    creates = [r for r in rows if r["action"] == "create"]
    updates = [r for r in rows if r["action"] == "update"]
    total = max(len(creates) + len(updates), 1)
    done = 0
    pictures: list[tuple[Contact, dict[str, Any]]] = []
    created_ids: list[int] = []
    records: list[ContactImportRow] = []
    actor_id = getattr(actor, "pk", None)
    firm_id = require_firm_id()
    for start in range(0, len(creates), BATCH):
        batch = creates[start : start + BATCH]
        contacts = []
        for row in batch:
            contact = Contact(
                **{n: from_json(n, v) for n, v in row.get("fields", {}).items()},
                firm_id=firm_id,
                created_by_id=actor_id,
            )
            _set_tax(contact, row.get("tax"))
            _status_dates(contact, None, today)
            contacts.append(contact)
        _insert_contacts(contacts)
        search.rebuild_keys(contacts, fresh=True)
        for row, contact in zip(batch, contacts, strict=True):
            records.append(ContactImportRow(firm_id=firm_id, contact_import=job, row=row["row"], contact_id=contact.pk,
                                            action=RowAction.CREATED))  # fmt: skip
            created_ids.append(contact.pk)
            if row.get("picture"):
                pictures.append((contact, row))
        done += len(batch)
        progress_set(job.pk, int(90 * done / total))

    changes: dict[str, Any] = {}
    for start in range(0, len(updates), BATCH):
        batch = updates[start : start + BATCH]
        locked = Contact.objects.select_for_update().in_bulk([r["contact_id"] for r in batch])
        touched: set[str] = {"updated_at"}
        contacts = []
        activities = []
        for row in batch:
            contact = locked.get(row["contact_id"])
            if contact is None or (job.previewed_at and contact.updated_at > job.previewed_at):
                raise ValidationError(
                    f"Row {row['row']}: contact #{row['contact_id']} was changed or deleted after the preview; "
                    "preview the import again."
                )
            before: dict[str, Any] = {}
            diff: dict[str, Any] = {}
            old_status = contact.status
            for name, value in row.get("fields", {}).items():
                before[name] = to_json(getattr(contact, name))
                setattr(contact, name, from_json(name, value))
                diff[name] = [before[name], value]
            if row.get("tax"):
                enc = contact.tax_id_encrypted
                before[TAX_ID] = [
                    base64.b64encode(bytes(enc)).decode() if enc else None,
                    contact.tax_id_digest,
                    contact.tax_id_last4,
                ]
                _set_tax(contact, row["tax"])
                diff[TAX_ID] = [audit.MASK, audit.MASK]
                touched |= {"tax_id_encrypted", "tax_id_digest", "tax_id_last4"}
            for name in ("closed_on", "client_since"):
                before.setdefault(name, to_json(getattr(contact, name)))
            _status_dates(contact, old_status, today)
            touched |= set(row.get("fields", {})) | {"closed_on", "client_since"}
            contact.updated_at = timezone.now()
            contacts.append(contact)
            changes[str(contact.pk)] = diff
            records.append(ContactImportRow(firm_id=firm_id, contact_import=job, row=row["row"], contact_id=contact.pk,
                                            action=RowAction.UPDATED, before=before))  # fmt: skip
            activities.append(Activity(firm_id=firm_id, contact=contact, kind=ActivityKind.SYSTEM, actor_id=actor_id,
                                       occurred_at=timezone.now(),
                                       summary=f"Updated by import #{job.pk} ({job.file_name})"[:300],
                                       body=", ".join(BY_FIELD[n].label for n in diff if n in BY_FIELD)))  # fmt: skip
            if row.get("picture"):
                pictures.append((contact, row))
        Contact.objects.bulk_update(contacts, sorted(touched))
        Activity.objects.bulk_create(activities)
        search.rebuild_keys(contacts)
        done += len(batch)
        progress_set(job.pk, int(90 * done / total))

    for contact, row in pictures:
        data, content_type = base64.b64decode(row["picture"][0]), row["picture"][1]
        contact_set_picture(actor=actor, contact=contact, data=data, content_type=content_type)
    ContactImportRow.objects.bulk_create(records, batch_size=BATCH)
    audit.record(
        action=AuditAction.CREATE,
        obj=job,
        changes={
            "import": [None, f"{job.source_kind} {job.file_name} sha256 {job.sha256}"],
            "created": [None, len(created_ids)],
            "created_ids": [None, _ranges(created_ids)],
            "updated": [None, changes],
        },
        actor_id=actor_id,
    )
    job.status, job.progress, job.applied_at = ImportStatus.DONE, 100, timezone.now()
    job.data, job.plan = None, None  # the file may hold tax ids in clear: not kept once applied
    job.save()
    progress_set(job.pk, 100)
    return job


def _insert_contacts(contacts: list[Contact]) -> None:
    """``bulk_create`` for thousands of wide rows, fast: ids drawn from the table's sequence
    first, then one ``INSERT … SELECT FROM unnest(<one array per column>)``. (Django's
    ``bulk_create`` renders one placeholder per value: ~70 x 5,000 per statement, most of the
    apply's time.) Values go through each field's ``get_db_prep_save``, as in ``bulk_create``."""
    if not contacts:
        return
    now = timezone.now()
    table = Contact._meta.db_table
    fields = [f for f in Contact._meta.concrete_fields if not f.generated]
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                       [table, len(contacts)])  # fmt: skip
        ids = [row[0] for row in cursor.fetchall()]
        for contact, pk in zip(contacts, ids, strict=True):
            contact.pk, contact.created_at, contact.updated_at = pk, now, now
        columns, selects, params = [], [], []
        for index, field in enumerate(fields):
            db_type = field.db_type(connection)
            values = [field.get_db_prep_save(getattr(c, field.attname), connection) for c in contacts]
            columns.append(connection.ops.quote_name(field.column))
            if db_type.endswith("[]"):  # an array column: each row's array as its text literal
                values = [None if v is None else _array_literal(v) for v in values]
                selects.append(f"c{index}::{db_type}")
                params.append(values)
                continue
            selects.append(f"c{index}")
            params.append(values)
        arrays = ", ".join(
            f"%s::{'text' if f.db_type(connection).endswith('[]') else f.db_type(connection)}[]" for f in fields
        )
        names = ", ".join(f"c{i}" for i in range(len(fields)))
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(selects)} "  # noqa: S608 - model metadata
            f"FROM unnest({arrays}) AS u({names})",
            params,
        )
    for contact in contacts:
        contact._state.adding = False


def _array_literal(values: list[Any]) -> str:
    quoted = ('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return "{" + ",".join(quoted) + "}"


def _ranges(ids: list[int]) -> list[str]:
    """``[1, 2, 3, 7]`` as ``["1-3", "7"]`` (bulk inserts give consecutive ids)."""
    out: list[str] = []
    for pk in sorted(ids):
        if out and "-" in out[-1] and int(out[-1].split("-")[1]) + 1 == pk:
            out[-1] = f"{out[-1].split('-')[0]}-{pk}"
        elif out and "-" not in out[-1] and int(out[-1]) + 1 == pk:
            out[-1] = f"{out[-1]}-{pk}"
        else:
            out.append(str(pk))
    return out


@transaction.atomic
def import_undo(*, actor: Any, job: ContactImport) -> ContactImport:
    """Undo a whole import: delete the contacts it created, restore the fields it changed. A contact
    edited after the import (or since linked to an account or heading a household, or outside the
    actor's scope) is left as it is and listed in ``undo_report``; the rest is undone together."""
    from accounts.policy import scope_contacts
    from crm.models import Household
    from portfolios.models import AccountOwner

    job = ContactImport.objects.select_for_update().get(pk=job.pk)
    if job.status != ImportStatus.DONE or job.applied_at is None:
        raise ValidationError({"status": "Only an applied import can be undone."})
    rows = list(ContactImportRow.objects.filter(contact_import=job).order_by("row"))
    ids = [r.contact_id for r in rows]
    contacts = {c.pk: c for c in scope_contacts(Contact.objects.select_for_update().filter(pk__in=ids), user=actor)}
    linked = set(AccountOwner.objects.filter(contact_id__in=ids).values_list("contact_id", flat=True))
    linked |= set(Household.objects.filter(head_id__in=ids).values_list("head_id", flat=True))
    report: list[dict[str, Any]] = []
    delete_ids: list[int] = []
    restored: list[Contact] = []
    touched: set[str] = {"updated_at"}
    restored_changes: dict[str, Any] = {}
    for row in rows:
        contact = contacts.get(row.contact_id)
        if contact is None:
            report.append(_skip(row, "", "deleted since the import or not in your scope; left as it is"))
            continue
        if contact.updated_at > job.applied_at:
            when = timezone.localtime(contact.updated_at).strftime("%Y-%m-%d %H:%M")
            report.append(_skip(row, contact.display_name, f"edited on {when}, after the import; not reverted"))
            continue
        if row.action == RowAction.CREATED:
            if contact.pk in linked:
                report.append(_skip(row, contact.display_name, "now owns an account or heads a household; kept"))
                continue
            delete_ids.append(contact.pk)
            continue
        diff: dict[str, Any] = {}
        for name, value in row.before.items():
            if name == TAX_ID:
                contact.tax_id_encrypted = base64.b64decode(value[0]) if value[0] else None
                contact.tax_id_digest, contact.tax_id_last4 = value[1], value[2]
                touched |= {"tax_id_encrypted", "tax_id_digest", "tax_id_last4"}
                diff[TAX_ID] = [audit.MASK, audit.MASK]
                continue
            diff[name] = [to_json(getattr(contact, name)), value]
            setattr(contact, name, from_json(name, value) if name in BY_FIELD else _date_or_none(value))
            touched.add(name)
        contact.updated_at = timezone.now()
        restored.append(contact)
        restored_changes[str(contact.pk)] = diff
    if restored:
        Contact.objects.bulk_update(restored, sorted(touched), batch_size=BATCH)
        search.rebuild_keys(restored)
    for start in range(0, len(delete_ids), BATCH):
        # Through the ORM: cascades (search keys, timeline, memberships) and one audit entry per contact.
        Contact.objects.filter(pk__in=delete_ids[start : start + BATCH]).delete()
    audit.record(
        action=AuditAction.UPDATE,
        obj=job,
        changes={
            "undo": [None, f"deleted {len(delete_ids)}, restored {len(restored)}, left {len(report)}"],
            "restored": [None, restored_changes],
        },
    )
    job.status, job.undone_at, job.undo_report = ImportStatus.UNDONE, timezone.now(), report
    job.save(update_fields=["status", "undone_at", "undo_report"])
    firm_id = job.firm_id
    transaction.on_commit(lambda: contacts_changed(firm_id=firm_id))
    return job


def _date_or_none(value: Any) -> Any:
    import datetime as dt

    return dt.date.fromisoformat(value) if isinstance(value, str) and value else value


def _skip(row: ContactImportRow, name: str, message: str) -> dict[str, Any]:
    return {"row": row.row, "contact_id": row.contact_id, "name": name, "message": message}
