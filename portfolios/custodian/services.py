"""Every write of custodian imports: accept an upload, then (in a Celery task) validate and apply it.

A job runs in three steps:

1. **Parse** the file (``imports.parsers``): every bad cell is collected with its row and column.
2. **Plan** against what is stored (``imports.planning``): unknown accounts (or accounts outside the
   uploader's scope: the same message) and symbols, rows repeated in the file, and conflicts with
   stored transactions, positions and prices. Any error or conflict ends the job here, and nothing
   from the file is stored.
3. **Apply** what is new in ONE database transaction, through ``portfolios.services`` (so every
   transaction gets its balanced ledger entry under the account's row lock). If any row is refused
   there (e.g. a withdrawal beyond the cash), the whole transaction rolls back and that row is
   reported. Progress is written every ``PROGRESS_EVERY`` rows through a second database connection,
   in small transactions of its own, so the page sees it while the big one is still open.

Re-importing a file (or the same rows in another file) finds everything stored and reports it as
unchanged.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db import transaction as db_transaction
from django.utils import timezone

from accounts.policy import has_right
from accounts.rights import Right
from advisorportal import request_context
from portfolios import services as portfolio_services
from portfolios.custodian import parsers, planning
from portfolios.custodian.models import ImportJob, ImportKind, ImportStatus
from portfolios.custodian.parsers.base import FILE, Issue, PositionRow, PriceRow, TransactionRow
from portfolios.models import SecurityPrice, TransactionKind

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 250
REPORT_LIMIT = 1000  # issues kept in a job's report (the counts cover all of them)


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
    """Store an upload as a queued job and start its task after commit. A file over the size limit
    is recorded as a failed job with the reason, without its content."""
    if kind and kind not in ImportKind.values:
        raise ValidationError({"kind": f"Unknown kind {kind!r}."})
    name = PurePath((upload.name or "upload").replace("\\", "/")).name[:255] or "upload"
    size = int(upload.size or 0)
    job = ImportJob(file_name=name, requested_kind=kind, kind=kind, size=size, created_by=actor)
    limit = max_bytes()
    if size > limit:
        job.status = ImportStatus.FAILED
        job.finished_at = timezone.now()
        job.error_count = 1
        job.report = [
            Issue(
                FILE, "", f"The file is {size:,} bytes; the limit is {limit:,} bytes. Split it and upload the parts."
            ).as_dict()
        ]
    else:
        digest = hashlib.sha256()
        chunks = []
        for chunk in upload.chunks():
            digest.update(chunk)
            chunks.append(chunk)
        job.content = b"".join(chunks)
        job.size = len(job.content)
        job.sha256 = digest.hexdigest()
    job.full_clean()
    job.save()
    if job.status == ImportStatus.QUEUED:
        from portfolios.custodian.tasks import run_import

        firm_id, job_id = job.firm_id, job.pk
        db_transaction.on_commit(lambda: run_import.delay(firm_id, job_id))
    return job


def job_run(*, job_id: int) -> ImportJob:
    """Validate and apply a queued job (the Celery task's body). A finished job is left alone; a job
    found half-way (its worker died) starts again: its apply transaction never committed."""
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    if job.finished:
        return job
    with request_context.acting(request_context.RequestContext(actor_id=job.created_by_id)):
        return _run(job)


def _run(job: ImportJob) -> ImportJob:
    user = job.created_by
    job.status, job.started_at, job.rows_done = ImportStatus.VALIDATING, timezone.now(), 0
    job.created_count = job.unchanged_count = job.conflict_count = job.error_count = 0
    job.report = []
    _save(job)

    if not user.is_active or not has_right(user, Right.ACCOUNT_INFORMATION):
        return _finish(job, [Issue(FILE, "", "The uploader no longer holds the Account Information right.")])
    kind, parsed = parsers.parse(bytes(job.content), job.requested_kind)
    job.kind = kind
    job.rows_total = parsed.rows
    if parsed.rows > max_rows():
        return _finish(job, [Issue(FILE, "", f"The file has {parsed.rows:,} rows; the limit is {max_rows():,}.")])
    if not parsed.ok:
        return _finish(job, parsed.issues)
    if kind == ImportKind.PRICES_CSV and not may_import_prices(user):
        message = (
            "Prices are shared by every firm on the platform, so only platform operators may import them. "
            "Ask your platform operator to load these prices."
        )
        return _finish(job, [*parsed.issues, Issue(FILE, "", message)])
    _save(job)

    plan = planning.plan(user=user, operations=parsed.operations)
    issues = [*parsed.issues, *plan.issues]
    job.created_count, job.unchanged_count, job.conflict_count = len(plan.actions), plan.unchanged, plan.conflicts
    if not plan.ok:
        job.created_count = 0
        return _finish(job, issues)

    job.status = ImportStatus.APPLYING
    job.rows_done = job.rows_total - len(plan.actions)
    _save(job)
    if plan.actions:
        failure = _apply(job, plan)
        if failure is not None:
            job.created_count = 0
            return _finish(job, [*issues, failure])
    job.rows_done = job.rows_total
    return _finish(job, issues, status=ImportStatus.DONE)


def _save(job: ImportJob) -> None:
    job.save(
        update_fields=[
            "kind",
            "status",
            "started_at",
            "finished_at",
            "rows_total",
            "rows_done",
            "created_count",
            "unchanged_count",
            "conflict_count",
            "error_count",
            "report",
        ]
    )


def _finish(job: ImportJob, issues: list[Issue], *, status: str = ImportStatus.FAILED) -> ImportJob:
    errors = [issue for issue in issues if issue.level == "error"]
    if status == ImportStatus.DONE and (errors or job.conflict_count):
        status = ImportStatus.FAILED
    job.status = status
    job.error_count = len(errors)
    ordered = sorted(issues, key=lambda issue: (issue.row, issue.column))
    job.report = [issue.as_dict() for issue in ordered[:REPORT_LIMIT]]
    if len(ordered) > REPORT_LIMIT:
        job.report.append(
            Issue(FILE, "", f"{len(ordered) - REPORT_LIMIT:,} more problems are not listed.", "info").as_dict()
        )
    job.finished_at = timezone.now()
    _save(job)
    return job


class _RowRefused(Exception):
    def __init__(self, issue: Issue) -> None:
        super().__init__(issue.message)
        self.issue = issue


def _apply(job: ImportJob, plan: planning.Plan) -> Issue | None:
    """Everything new, in one transaction; the row that is refused, if any (then nothing is stored)."""
    progress = ProgressWriter(job.pk)
    try:
        with db_transaction.atomic():
            done = job.rows_done
            for index, action in enumerate(plan.actions, start=1):
                _apply_one(job, action)
                if index % PROGRESS_EVERY == 0:
                    progress.write(done + index)
    except _RowRefused as refused:
        return refused.issue
    finally:
        progress.close()
    return None


# The fields ``transaction_record`` names in its errors -> our field names (see TransactionRow.columns).
_FIELD_TO_COLUMN = {"security": "symbol", "transaction": "amount", "__all__": "", "cost": "cost_basis"}


def _apply_one(job: ImportJob, action: planning.Action) -> None:
    operation = action.operation
    account = action.account
    try:
        if isinstance(operation, PriceRow):
            price = SecurityPrice(security=action.security, date=operation.date, close=operation.close)
            price.full_clean(validate_unique=False)
            price.save()
        elif isinstance(operation, PositionRow):
            assert account is not None
            portfolio_services.transaction_record(
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
        elif isinstance(operation, TransactionRow):
            assert account is not None
            portfolio_services.transaction_record(
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


class ProgressWriter:
    """Writes ``rows_done`` of a job through a connection of its own, committing each update, so that
    other requests see the progress of an import whose own transaction is still open. Best effort: a
    failure here never fails the import."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.connection: Any = None

    def write(self, rows_done: int) -> None:
        try:
            if self.connection is None:
                self.connection = connections.create_connection(DEFAULT_DB_ALIAS)
                self.connection.set_autocommit(False)  # every statement in a transaction: the firm is set for RLS
            with self.connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {ImportJob._meta.db_table} SET rows_done = %s WHERE id = %s AND status = %s",  # noqa: S608 - table name from the model
                    [rows_done, self.job_id, ImportStatus.APPLYING],
                )
            self.connection.commit()
        except DatabaseError:
            logger.warning("Could not record the progress of import %s", self.job_id, exc_info=True)
            self.close()

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            finally:
                self.connection = None
