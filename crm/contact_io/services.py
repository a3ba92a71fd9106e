"""Every write of contact imports: upload, preview (dry run), apply (and cancel, retry), undo.

Applying is one transaction per file (all or nothing) on the bulk path of ``applying`` (what
``crm.services.contact_create``/``contact_update`` do for one contact, for thousands at once, from
the plan the preview validated and stored: the file is not parsed again). Bulk writes send no
signals, so the import writes ONE audit entry (``accounts.audit.record``) saying what it created and, per updated
contact, which fields changed from what to what (tax ids masked); the per-row details stay in
``ContactImportRow`` for the undo.

Applying runs as a background job of the jobs kit (kind ``APPLY_JOB``): the kit claims it, runs
``run_apply`` in one transaction, writes its progress through its own connection (the page reads
it from the job) and marks it done in that same transaction; a worker that dies leaves a lease
that runs out, and the job is queued again or failed, never left "applying".
"""

from __future__ import annotations

import base64
import gc
import json
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import transaction
from django.db.models.expressions import RawSQL
from django.urls import reverse
from django.utils import timezone

from accounts import audit
from accounts.models import AuditAction
from advisorportal.formats import moment
from advisorportal.jobs import services as jobs
from advisorportal.jobs.models import Job
from advisorportal.jobs.progress import Progress
from advisorportal.jobs.uploads import FileRefused, read_upload
from advisorportal.notifications.services import notify_after_commit
from advisorportal.tenancy.context import require_firm_id
from crm import search
from crm.contact_io.applying import BATCH, apply_plan, runs
from crm.contact_io.fields import BY_FIELD, TAX_ID
from crm.contact_io.models import ContactImport, ContactImportRow, ContactImportStatus, RowAction, SourceKind, Stage
from crm.contact_io.parsers import MAX_FILE_BYTES, ParsedFile, detect_kind
from crm.contact_io.planning import PREVIEW_ROWS, Plan, PlanRow, build_plan, from_json, legacy_plan, to_json
from crm.models import Contact
from crm.notifications import IMPORT_FINISHED
from crm.selectors import contacts_changed
from portfolios import selectors as portfolio_selectors

APPLY_JOB = "contact_import.apply"


def _locked(job: ContactImport) -> ContactImport:
    """The import, locked (its apply job read with it, not locked: a running job's progress is
    written to that row from another connection)."""
    return ContactImport.objects.select_related("apply_job").select_for_update(of=("self",)).get(pk=job.pk)


@transaction.atomic
def import_upload(*, actor: Any, file_name: str, data: bytes) -> ContactImport:
    """Keep an uploaded file as a new job; its kind is read from the content, not the name."""
    try:
        upload = read_upload(data, limit=MAX_FILE_BYTES)
        kind = detect_kind(file_name, data[:4096])
    except FileRefused as error:
        raise ValidationError({"file": str(error)}) from None
    job = ContactImport(
        source_kind=kind,
        file_name=file_name[:255],
        file_size=upload.size,
        sha256=upload.sha256,
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

    job = _locked(job)
    if job.source_kind != SourceKind.CSV or job.status not in (
        ContactImportStatus.UPLOADED,
        ContactImportStatus.PREVIEWED,
    ):
        raise ValidationError({"mapping": "Only a CSV import that is not applied yet has a column mapping."})
    header = headers(bytes(job.data or b""))
    clean = {str(k): str(v or "") for k, v in mapping.items() if str(k).isdigit() and int(k) < len(header)}
    problems = mapping_problems(clean, header)
    if problems:
        raise ValidationError({"mapping": problems})
    job.column_mapping, job.stage, job.plan = clean, Stage.UPLOADED, None
    job.save(update_fields=["column_mapping", "stage", "plan"])
    return job


@transaction.atomic
def import_preview(*, actor: Any, job: ContactImport) -> ContactImport:
    """The dry run: parse, validate and match every row; store counts, the first rows of each class,
    every reject and the plan. Changes no contact."""
    job = _locked(job)
    if job.status not in (ContactImportStatus.UPLOADED, ContactImportStatus.PREVIEWED):
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
    job.stage, job.previewed_at = Stage.PREVIEWED, timezone.now()
    # Not the file again (megabytes written back unchanged).
    job.save(update_fields=[
        "report", "rows_total", "created_count", "updated_count", "unchanged_count", "rejected_count", "preview",
        "plan", "stage", "previewed_at",
    ])  # fmt: skip
    return job


def _shown(name: str, value: Any) -> str:
    """A value as people read it: a choice by its label ("Prospect", not ``prospect``)."""
    try:
        field: Any = Contact._meta.get_field(name)
    except FieldDoesNotExist:
        return str(value)
    choices = dict(field.flatchoices or getattr(getattr(field, "base_field", None), "flatchoices", None) or ())
    if not choices:
        return str(value)
    if isinstance(value, list | tuple):
        return ", ".join(str(choices.get(v, v)) for v in value)
    return str(choices.get(value, value))


def _preview_row(plan: PlanRow) -> dict[str, Any]:
    shown = {BY_FIELD[n].label: _shown(n, v) for n, v in plan.fields.items() if n in BY_FIELD}
    return {
        "row": plan.row,
        "name": plan.name,
        "contact_id": plan.contact_id,
        "changes": [BY_FIELD[n].label if n in BY_FIELD else n for n in plan.changes],
        "values": dict(list(shown.items())[:8]),
        "picture": bool(plan.picture),
    }


_NOT_APPLICABLE = {
    ContactImportStatus.UPLOADED: "Preview the import first.",
    ContactImportStatus.APPLYING: "This import is being applied.",
    ContactImportStatus.DONE: "This import was applied.",
    ContactImportStatus.UNDONE: "This import was applied and undone.",
    ContactImportStatus.FAILED: "Applying this import failed and nothing was applied: retry it.",
    ContactImportStatus.CANCELLED: "Applying this import was cancelled and nothing was applied: retry it.",
}


def can_apply(job: ContactImport) -> str | None:
    """Why the job cannot be applied now, or None."""
    if job.status != ContactImportStatus.PREVIEWED:
        return _NOT_APPLICABLE[ContactImportStatus(job.status)]
    if job.rejected_count or job.plan is None:
        return "Fix the rejected rows (or remove them from the file) and upload it again: a file is applied whole."
    if not (job.created_count or job.updated_count):
        return "Nothing to change: every row matches its contact already."
    return None


@transaction.atomic
def import_request_apply(*, actor: Any, job: ContactImport) -> ContactImport:
    """Queue the background apply (it starts after commit). The file is dropped here: applying
    works from the stored plan, and the file may hold tax ids in clear."""
    job = _locked(job)
    reason = can_apply(job)
    if reason:
        raise ValidationError({"status": reason})
    job.apply_job = jobs.job_create(
        actor=actor, kind=APPLY_JOB, total=job.created_count + job.updated_count, phase="Applying"
    )
    job.data = None
    job.save(update_fields=["apply_job", "data"])
    return job


@transaction.atomic
def import_cancel(*, actor: Any, job: ContactImport) -> ContactImport:
    """Ask the apply to stop; it rolls back and the import can be applied again (retry)."""
    job = _locked(job)
    if job.status != ContactImportStatus.APPLYING or job.apply_job is None:
        raise ValidationError({"status": "Only an import that is being applied can be cancelled."})
    jobs.job_cancel(actor=actor, job=job.apply_job)
    return ContactImport.objects.select_related("apply_job").get(pk=job.pk)


@transaction.atomic
def import_retry(*, actor: Any, job: ContactImport) -> ContactImport:
    """Apply again an import whose apply failed or was cancelled (nothing of it was applied)."""
    job = _locked(job)
    if (
        job.status not in (ContactImportStatus.FAILED, ContactImportStatus.CANCELLED)
        or job.apply_job is None
        or job.plan is None
    ):
        raise ValidationError({"status": "Only an import whose apply failed or was cancelled can be retried."})
    jobs.job_retry(actor=actor, job=job.apply_job)
    return ContactImport.objects.select_related("apply_job").get(pk=job.pk)


def run_apply(background: Job, progress: Progress) -> None:
    """The apply job (run by the jobs kit, inside its transaction): the whole plan, or nothing."""
    from crm.services import contact_set_picture

    # Locks the import only: the job's own row takes the progress writes of another connection.
    job = ContactImport.objects.select_for_update().get(apply_job=background)
    actor = background.created_by
    actor_id = background.created_by_id
    total = background.total
    with _gc_paused():
        applied = apply_plan(
            job=job, plan=_unpack(job.plan), actor_id=actor_id, firm_id=require_firm_id(), now=timezone.now(),
            today=timezone.localdate(), progress=lambda done: progress.update(int(total * done)),
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
    job.stage, job.applied_at = Stage.APPLIED, timezone.now()
    job.data, job.plan = None, None  # the file may hold tax ids in clear: not kept once applied
    job.save()
    firm_id = job.firm_id
    transaction.on_commit(lambda: contacts_changed(firm_id=firm_id))
    notify_after_commit(
        recipient_id=actor_id,
        category=IMPORT_FINISHED,
        url=reverse("contact_io:import-detail", args=[job.pk]),
        title=f"Contact import finished: {job.file_name}: {len(applied.created_ids):,} added, "
        f"{len(applied.changes):,} updated",
    )


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

    job = _locked(job)
    if job.status != ContactImportStatus.DONE or job.applied_at is None:
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
            when = moment(contact.updated_at)
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
    job.stage, job.undone_at, job.undo_report = Stage.UNDONE, timezone.now(), report
    job.save(update_fields=["stage", "undone_at", "undo_report"])
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
