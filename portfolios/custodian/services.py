"""Every write of custodian imports: accept an upload, then (as a background job of the jobs kit)
validate and apply it.

The job (kind ``IMPORT_JOB``, run by ``run_import`` inside the kit's one transaction) goes:

1. **Parse** the file (``parsers``): every bad cell is collected with its row and column.
2. **Plan** against what is stored (``planning``): unknown accounts (or accounts outside the
   uploader's scope: the same message) and symbols, rows repeated in the file, and conflicts with
   stored transactions, positions and prices. Any error or conflict ends the job here, and nothing
   from the file is stored.
3. **Apply** what is new through ``portfolios.services`` (so every transaction gets its balanced
   ledger entry under the account's row lock). If any row is refused there (e.g. a withdrawal
   beyond the cash), everything applied is rolled back and that row is reported.

Progress (rows done of the file's rows) goes through the kit's progress writer, which the page
reads while the job's transaction is still open; the job's "done" commits with the rows. A worker
that dies mid-file leaves nothing applied and a lease that runs out: the job is queued again (the
file starts over) or failed with a retry button.

Re-importing a file (or the same rows in another file) finds everything stored and reports it as
unchanged.
"""

from __future__ import annotations

import logging
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction as db_transaction
from django.db.models import Model
from django.urls import reverse

from accounts import audit
from accounts.models import AuditAction
from accounts.policy import has_right
from accounts.rights import Right
from advisorportal import bulk
from advisorportal.jobs import services as jobs
from advisorportal.jobs.issues import FILE, Issue
from advisorportal.jobs.kinds import Outcome
from advisorportal.jobs.models import Job
from advisorportal.jobs.progress import Progress
from advisorportal.jobs.uploads import FileRefused, read_upload
from advisorportal.notifications.services import notify_after_commit
from portfolios import performance
from portfolios import services as portfolio_services
from portfolios.custodian import hooks, parsers, planning
from portfolios.custodian.models import APPLYING, VALIDATING, ImportJob, ImportKind
from portfolios.custodian.parsers.base import PositionRow, PriceRow, TransactionRow
from portfolios.models import SecurityPrice, TransactionKind

IMPORT_FINISHED = "imports.finished"  # labelled by the notifications app

logger = logging.getLogger(__name__)

IMPORT_JOB = "custodian_import"


def max_bytes() -> int:
    return int(settings.IMPORT_MAX_BYTES)


def max_rows() -> int:
    return int(settings.IMPORT_MAX_ROWS)


def may_import_prices(user: Any) -> bool:
    """Prices are global reference data every firm sees, so only platform operators may add them:
    the users listed (by email) in ``IMPORT_PRICE_OPERATORS``. Nobody may overwrite a stored price."""
    operators = settings.IMPORT_PRICE_OPERATORS
    email = (getattr(user, "email", "") or "").lower()
    return bool(email) and email in {address.lower() for address in operators}


@db_transaction.atomic
def job_create(*, actor: Any, upload: UploadedFile, kind: str = "") -> ImportJob:
    """Store an upload and queue its job (it starts after commit). A file over the size limit (or
    empty) is recorded as a failed job with the reason, without its content."""
    if kind and kind not in ImportKind.values:
        raise ValidationError({"kind": f"Unknown kind {kind!r}."})
    name = PurePath((upload.name or "upload").replace("\\", "/")).name[:255] or "upload"
    job = ImportJob(file_name=name, requested_kind=kind, kind=kind, size=int(upload.size or 0), created_by=actor)
    try:
        received = read_upload(upload, limit=max_bytes())
    except FileRefused as refused:
        job.error_count = 1
        job.background_job = jobs.job_create(
            actor=actor, kind=IMPORT_JOB, failed=_NOTHING_STORED, issues=[Issue(FILE, "", str(refused))]
        )
    else:
        job.content, job.size, job.sha256 = received.data, received.size, received.sha256
        job.background_job = jobs.job_create(actor=actor, kind=IMPORT_JOB, phase=VALIDATING)
    job.full_clean()
    job.save()
    return job


@db_transaction.atomic
def job_cancel(*, actor: Any, job: ImportJob) -> ImportJob:
    if job.finished:
        raise ValidationError({"status": "This import has finished; it cannot be cancelled."})
    jobs.job_cancel(actor=actor, job=job.background_job)
    return job


@db_transaction.atomic
def job_retry(*, actor: Any, job: ImportJob) -> ImportJob:
    """Run again an import that stopped without a verdict on the file (its worker died, an
    unexpected error, cancelled). A file that was refused is refused again: upload a corrected one."""
    if not job.content:
        raise ValidationError({"status": "This file was not kept (it was refused on upload); upload it again."})
    jobs.job_retry(actor=actor, job=job.background_job)
    return job


_NOTHING_STORED = "Nothing from this file was stored. Correct the rows in the report and upload it again."


def run_import(background: Job, progress: Progress) -> Outcome:
    """The job: validate, plan and apply one file (run by the jobs kit, inside its transaction)."""
    job = ImportJob.objects.select_related("created_by").get(background_job=background)
    user = job.created_by
    job.created_count = job.unchanged_count = job.conflict_count = job.error_count = 0
    progress.update(0, phase=VALIDATING)

    if not user.is_active or not has_right(user, Right.ACCOUNT_INFORMATION):
        return _result(job, [Issue(FILE, "", "The uploader no longer holds the Account Information right.")])
    kind, parsed = parsers.parse(bytes(job.content), job.requested_kind)
    job.kind = kind
    job.rows_total = parsed.rows
    progress.update(0, total=parsed.rows)
    if parsed.rows > max_rows():
        return _result(job, [Issue(FILE, "", f"The file has {parsed.rows:,} rows; the limit is {max_rows():,}.")])
    if not parsed.ok:
        return _result(job, parsed.issues)
    if kind == ImportKind.PRICES_CSV and not may_import_prices(user):
        message = (
            "Prices are shared by every firm on the platform, so only platform operators may import them. "
            "Ask your platform operator to load these prices."
        )
        return _result(job, [*parsed.issues, Issue(FILE, "", message)])

    plan = planning.plan(user=user, operations=parsed.operations)
    issues = [*parsed.issues, *plan.issues]
    job.created_count, job.unchanged_count, job.conflict_count = len(plan.actions), plan.unchanged, plan.conflicts
    if not plan.ok:
        job.created_count = 0
        return _result(job, issues)

    progress.update(job.rows_total - len(plan.actions), phase=APPLYING)
    if plan.actions:
        failure = _apply(job, plan, progress)
        if failure is not None:
            job.created_count = 0
            return _result(job, [*issues, failure])
        accounts = sorted({action.account.pk for action in plan.actions if action.account is not None})
        if accounts:
            hooks.transactions_stored(firm_id=job.firm_id, account_ids=accounts)
    return _result(job, issues, applied=True)


def _result(job: ImportJob, issues: list[Issue], *, applied: bool = False) -> Outcome:
    """The job's counts saved, and its outcome: done only if it was applied with no error or conflict."""
    errors = [issue for issue in issues if issue.level == "error"]
    job.error_count = len(errors)
    job.save(update_fields=[
        "kind", "rows_total", "created_count", "unchanged_count", "conflict_count", "error_count",
    ])  # fmt: skip
    ok = applied and not errors and not job.conflict_count
    notify_after_commit(
        recipient_id=job.created_by_id,
        category=IMPORT_FINISHED,
        url=reverse("imports:job-detail", args=[job.pk]),
        title=f"Custodian import finished: {job.file_name}: {job.created_count:,} rows stored"
        if ok
        else f"Custodian import stopped: {job.file_name}: nothing stored, see the report",
    )
    if ok:
        return Outcome(issues=issues)
    return Outcome.failure(_NOTHING_STORED, issues)


class _RowRefused(Exception):
    def __init__(self, issue: Issue) -> None:
        super().__init__(issue.message)
        self.issue = issue


def _apply(job: ImportJob, plan: planning.Plan, progress: Progress) -> Issue | None:
    """Everything new; the row that is refused, if any (then everything applied is rolled back).
    Transactions and prices keep no audit entry per row (the books are append-only, their own
    trail): one entry on the job names what it stored."""
    done = job.rows_total - len(plan.actions)
    stored: dict[str, list[int]] = {}
    try:
        with db_transaction.atomic():
            if any(isinstance(action.operation, PriceRow) for action in plan.actions):
                # Before any account is locked (the daily values hold it while they lock accounts).
                performance.lock_market_data()
                portfolio_services.queue_series_correction(job.firm_id)
            for index, action in enumerate(plan.actions, start=1):
                row = _apply_one(job, action)
                stored.setdefault(row._meta.label_lower, []).append(row.pk)
                progress.update(done + index)
            audit.record(
                action=AuditAction.UPDATE, obj=job, object_repr=f"Stored by import #{job.pk} ({job.file_name})"[:200],
                changes={label: [None, ", ".join(bulk.id_ranges(ids))] for label, ids in sorted(stored.items())},
            )  # fmt: skip
    except _RowRefused as refused:
        return refused.issue
    return None


# The fields ``transaction_record`` names in its errors -> our field names (see TransactionRow.columns).
_FIELD_TO_COLUMN = {"security": "symbol", "transaction": "amount", "__all__": "", "cost": "cost_basis"}


def _apply_one(job: ImportJob, action: planning.Action) -> Model:
    """The row stored for ``action``: a price or a transaction."""
    operation = action.operation
    account = action.account
    try:
        if isinstance(operation, PriceRow):
            price = SecurityPrice(security=action.security, date=operation.date, close=operation.close)
            price.full_clean(validate_unique=False)
            price.save()
            return price
        if isinstance(operation, PositionRow):
            assert account is not None
            return portfolio_services.transaction_record(
                actor=job.created_by,
                account=account,
                kind=TransactionKind.POSITION_TRANSFER_IN,
                trade_date=operation.as_of,
                quantity=operation.quantity,
                cost=operation.cost_basis,
                security=action.security,
                currency=operation.currency,
                description=f"Opening position from import {job.pk}",
                external_id=action.external_id,
            )
        assert isinstance(operation, TransactionRow) and account is not None
        return portfolio_services.transaction_record(
            actor=job.created_by,
            account=account,
            kind=operation.kind,
            trade_date=operation.trade_date,
            settle_date=operation.settle_date,
            amount=operation.amount,
            quantity=operation.quantity,
            price=operation.price,
            security=action.security,
            currency=action.currency,
            description=operation.description,
            external_id=operation.external_id,
        )
    except ValidationError as error:
        messages = error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
        field, texts = next(iter(messages.items()))
        name = _FIELD_TO_COLUMN.get(field, field)
        column = operation.columns.get(name, name)
        raise _RowRefused(Issue(operation.row, column, f"Refused: {' '.join(texts)}")) from None
