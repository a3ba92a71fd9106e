"""Every write of contact imports: upload, preview (dry run), apply, undo.

Applying is one transaction per file (all or nothing) on the bulk path of ``applying`` (what
``crm.services.contact_create``/``contact_update`` do for one contact, for thousands at once, from
the plan the preview validated and stored: the file is not parsed again). Bulk writes send no
signals, so the import writes ONE audit entry (``accounts.audit.record``) saying what it created and, per updated
contact, which fields changed from what to what (tax ids masked); the per-row details stay in
``ContactImportRow`` for the undo.

Progress while applying lives in the cache (the job's row is inside the apply transaction, so
other connections would not see it move); the status page reads it from there.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import json
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from accounts import audit
from accounts.models import AuditAction
from advisorportal.tenancy.context import require_firm_id
from crm import search
from crm.contact_io.applying import BATCH, apply_plan, runs
from crm.contact_io.fields import BY_FIELD, TAX_ID
from crm.contact_io.models import ContactImport, ContactImportRow, ImportStatus, RowAction, SourceKind
from crm.contact_io.parsers import MAX_FILE_BYTES, FileRefused, ParsedFile, detect_kind
from crm.contact_io.planning import PREVIEW_ROWS, Plan, PlanRow, build_plan, from_json, legacy_plan, to_json
from crm.models import Contact
from crm.selectors import contacts_changed
from portfolios import selectors as portfolio_selectors


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
        from crm.contact_io.parsers.csv_file import suggested_mapping

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
        from crm.contact_io.parsers.xlsx import read_workbook

        return read_workbook(data)
    if job.source_kind == SourceKind.CSV:
        from crm.contact_io.parsers.csv_file import read_csv

        return read_csv(data, job.column_mapping)
    from crm.contact_io.parsers.vcard import read_vcards

    return read_vcards(data)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a file is parsed, planned or applied: it makes millions of
    small objects (cells, values) that live until the end, and each automatic full collection
    walks all of them (measured: half of a 100k-row parse). Collection resumes afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _pack(plan: Plan) -> bytes:
    return zlib.compress(json.dumps(plan.as_json(), separators=(",", ":")).encode(), 1)


def _unpack(blob: Any) -> dict[str, Any]:
    stored = json.loads(zlib.decompress(bytes(blob)))
    return stored if isinstance(stored, dict) else legacy_plan(stored)


@transaction.atomic
def import_set_mapping(*, actor: Any, job: ContactImport, mapping: dict[str, str]) -> ContactImport:
    """Change a CSV job's column mapping (before it is applied); the preview must be run again."""
    from crm.contact_io.parsers.csv_file import headers, mapping_problems

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
    with _gc_paused():
        try:
            parsed = _parse(job)
        except FileRefused as error:
            parsed = ParsedFile()
            parsed.problem(str(error))
        plan = build_plan(user=actor, rows=parsed.rows, columns=parsed.columns) if parsed.ok else None
        packed = _pack(plan) if plan is not None else None
    report = list(parsed.problems)
    plans: list[PlanRow] = plan.outcomes if plan else []
    classes: dict[str, list[dict[str, Any]]] = {"create": [], "update": [], "unchanged": [], "reject": []}
    counts = dict.fromkeys(classes, 0)
    for outcome in plans:
        counts[outcome.action] += 1
        report += outcome.errors
        if outcome.action != "reject" and len(classes[outcome.action]) < PREVIEW_ROWS:
            classes[outcome.action].append(_preview_row(outcome))
    job.report = report
    job.rows_total = len(parsed.rows)
    job.created_count, job.updated_count = counts["create"], counts["update"]
    job.unchanged_count, job.rejected_count = counts["unchanged"], counts["reject"]
    job.preview = {"classes": classes, "notes": [{"row": p.row, "notes": p.notes} for p in plans if p.notes][:200]}
    job.plan = packed
    job.status, job.previewed_at = ImportStatus.PREVIEWED, timezone.now()
    # Not the file again (megabytes written back unchanged).
    job.save(update_fields=[
        "report", "rows_total", "created_count", "updated_count", "unchanged_count", "rejected_count", "preview",
        "plan", "status", "previewed_at",
    ])  # fmt: skip
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
    from crm.contact_io import tasks

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


def import_apply(*, job_id: int, actor: Any) -> ContactImport:
    """Apply a previewed job (run by the Celery task): all of it in one transaction, or nothing."""
    job = ContactImport.objects.defer("data", "plan").get(pk=job_id)  # _apply reads them, locked
    if job.status != ImportStatus.APPLYING:
        return job  # applied already, or never requested: a rerun does nothing
    try:
        with transaction.atomic(), _gc_paused():
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
    actor_id = getattr(actor, "pk", None)
    applied = apply_plan(
        job=job, plan=_unpack(job.plan), actor_id=actor_id, firm_id=require_firm_id(), now=timezone.now(),
        today=timezone.localdate(), progress=lambda done: progress_set(job.pk, int(90 * done)),
    )  # fmt: skip
    for contact_id, (data, content_type) in applied.pictures:
        contact_set_picture(actor=actor, contact=Contact(pk=contact_id), data=base64.b64decode(data),
                            content_type=content_type)  # fmt: skip
    audit.record(
        action=AuditAction.CREATE,
        obj=job,
        changes={
            "import": [None, f"{job.source_kind} {job.file_name} sha256 {job.sha256}"],
            "created": [None, len(applied.created_ids)],
            "created_ids": [None, _ranges(applied.created_ids)],
            "updated": [None, applied.changes],
        },
        actor_id=actor_id,
    )
    job.created_runs = runs(applied.created_rows, applied.created_ids)
    job.status, job.progress, job.applied_at = ImportStatus.DONE, 100, timezone.now()
    job.data, job.plan = None, None  # the file may hold tax ids in clear: not kept once applied
    job.save()
    progress_set(job.pk, 100)
    return job


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
    from crm.models import Household
    from crm.scope import scope_contacts

    job = ContactImport.objects.select_for_update().get(pk=job.pk)
    if job.status != ImportStatus.DONE or job.applied_at is None:
        raise ValidationError({"status": "Only an applied import can be undone."})
    rows = list(ContactImportRow.objects.filter(contact_import=job))
    rows += [
        ContactImportRow(row=first_row + i, contact_id=first_id + i, action=RowAction.CREATED)
        for first_row, first_id, count in job.created_runs
        for i in range(count)
    ]
    rows.sort(key=lambda r: r.row)
    ids = _array([r.contact_id for r in rows])
    locked = Contact.objects.select_for_update().filter(pk__in=ids)
    contacts = {c.pk: c for c in scope_contacts(locked, user=actor)}
    linked = set(portfolio_selectors.account_owners(contact_ids=ids).values_list("contact_id", flat=True))
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


def _array(ids: list[int]) -> RawSQL:
    """``IN (SELECT unnest(<one array parameter>))`` for many ids."""
    return RawSQL("SELECT unnest(%s::bigint[])", [ids])


def _date_or_none(value: Any) -> Any:
    import datetime as dt

    return dt.date.fromisoformat(value) if isinstance(value, str) and value else value


def _skip(row: ContactImportRow, name: str, message: str) -> dict[str, Any]:
    return {"row": row.row, "contact_id": row.contact_id, "name": name, "message": message}
