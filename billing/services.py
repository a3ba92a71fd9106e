"""Every write of fee billing: schedules and their versions, assignments, and fee runs (compute,
approve, post, discard). Keyword-only, transactional, ``full_clean()``.

Posting is the one place money moves: each line's difference against what posted runs already
billed the account for the period goes through ``portfolios.services.fee_charge`` (or
``fee_refund``) with the idempotency key ``billing.run<run>.account<account>``, in chunks that each
commit with the lines they posted, so a worker killed mid-run leaves every posted line recorded
and a retry carries on with the rest, never billing one twice.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from accounts import audit
from accounts.models import AuditAction
from advisorportal import bulk, formats
from advisorportal.jobs import services as jobs
from advisorportal.jobs.kinds import Outcome
from advisorportal.jobs.models import Job
from advisorportal.jobs.progress import Progress
from billing import fees, increases, runs
from billing.increase_models import FeeIncrease
from billing.models import (
    BillingSettings,
    FeeAssignment,
    FeeLine,
    FeeRun,
    FeeSchedule,
    FeeScheduleVersion,
    FeeUpload,
    LineStatus,
    RunStatus,
)
from portfolios import services as ledger
from portfolios.models import ClientAccount, TransferKind

COMPUTE_JOB = "billing.fee_run_compute"
POST_JOB = "billing.fee_run_post"
POST_CHUNK = 250
T = TypeVar("T")
TERMS = (
    "method", "tiers", "flat_annual_fee", "minimum_annual_fee", "maximum_annual_fee", "frequency", "timing",
    "valuation", "period_basis", "proration",
)  # fmt: skip


def _batched(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class Refused(ValidationError):
    """An action refused on ``subject``: ``audited_refusals`` records it after the service's own
    transaction rolled back, so the entry stays (pages and the API keep their transaction)."""

    def __init__(self, subject: Any, field: str, message: str) -> None:
        super().__init__({field: message})
        self.subject = subject


def _refuse(obj: Any, field: str, message: str) -> Refused:
    return Refused(obj, field, message)


def audited_refusals(func: Callable[..., T]) -> Callable[..., T]:
    """Around a transactional service: a refusal leaves an audit entry on its subject."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return func(*args, **kwargs)
        except Refused as refused:
            if refused.subject is not None and refused.subject.pk:
                audit.record(
                    action=AuditAction.UPDATE, obj=refused.subject, changes={"refused": " ".join(refused.messages)}
                )
            raise

    return wrapper


def _tiers(raw: Any) -> list[dict[str, str | None]]:
    """Bands as stored: decimal strings, the last open-ended (null)."""
    if not isinstance(raw, list):
        raise ValidationError({"tiers": "Bands are a list of {up_to, annual_rate_pct}."})
    out = []
    for index, tier in enumerate(raw):
        try:
            up_to = tier.get("up_to")
            rate = Decimal(str(tier["annual_rate_pct"]))
            bound = None if up_to in (None, "") else Decimal(str(up_to))
        except (AttributeError, KeyError, InvalidOperation, TypeError):
            raise ValidationError({"tiers": f"Band {index + 1}: give an upper bound (or none) and a rate."}) from None
        if not rate.is_finite() or (bound is not None and not bound.is_finite()):
            raise ValidationError({"tiers": f"Band {index + 1}: not a number."})
        out.append({"up_to": None if bound is None else f"{bound:f}", "annual_rate_pct": f"{rate:f}"})
    return out


def _check_terms(version: FeeScheduleVersion) -> None:
    """The terms as the calculator reads them: bands, fees and method together."""
    try:
        fees.check_schedule(runs._schedule_of(version))
    except fees.FeeInputError as error:
        mapped: dict[str, list[str]] = {}
        for path, message in error.errors.items():
            name = path.removeprefix("schedule.")
            if name.startswith("tiers["):
                index = int(name[6 : name.index("]")])
                mapped.setdefault("tiers", []).append(f"Band {index + 1}: {message}")
            else:
                mapped.setdefault(name if name in TERMS else "method", []).append(message)
        raise ValidationError(mapped) from None


def _settings() -> BillingSettings:
    found = BillingSettings.objects.select_for_update().first()
    if found is None:
        found = BillingSettings()
        found.full_clean()
        found.save()
    return found


@transaction.atomic
def settings_update(*, actor: Any, four_eyes: bool, change_alert_pct: Decimal) -> BillingSettings:
    current = _settings()
    current.four_eyes, current.change_alert_pct = four_eyes, change_alert_pct
    current.full_clean()
    current.save()
    return current


@transaction.atomic
def schedule_create(
    *, actor: Any, name: str, description: str = "", is_default: bool = False, effective_from: date, **terms: Any
) -> FeeSchedule:
    """A schedule with its first version."""
    schedule = FeeSchedule(name=(name or "").strip(), description=(description or "").strip(), created_by=actor)
    schedule.full_clean()
    if FeeSchedule.objects.filter(name=schedule.name).exists():
        raise ValidationError({"name": f"A schedule named {schedule.name} exists already."})
    schedule.save()
    version_add(actor=actor, schedule=schedule, effective_from=effective_from, **terms)
    if is_default:
        schedule_make_default(actor=actor, schedule=schedule)
    return schedule


def last_posted_day(schedule: FeeSchedule) -> date | None:
    """The end of the latest period a posted run billed on this schedule."""
    return (
        FeeLine.objects.filter(version__schedule=schedule, posted_amount__isnull=False)
        .order_by("-run__period_end")
        .values_list("run__period_end", flat=True)
        .first()
    )


@audited_refusals
@transaction.atomic
def version_add(
    *, actor: Any, schedule: FeeSchedule, effective_from: date, note: str = "", **terms: Any
) -> FeeScheduleVersion:
    """New terms from ``effective_from`` on. Refused on or before the end of a period already
    posted on this schedule (what was billed stays what the schedule said then)."""
    unknown = set(terms) - set(TERMS)
    if unknown:
        raise ValidationError({"method": f"Unknown terms: {', '.join(sorted(unknown))}."})
    version = FeeScheduleVersion(schedule=schedule, effective_from=effective_from, note=(note or "").strip(),
                                 created_by=actor)  # fmt: skip
    for name, value in terms.items():
        setattr(version, name, _tiers(value) if name == "tiers" else value)
    if version.method == "flat":
        version.tiers = []
    version.full_clean(exclude=["schedule"])
    _check_terms(version)
    posted = last_posted_day(schedule)
    if effective_from is not None and posted is not None and effective_from <= posted:
        raise _refuse(
            schedule, "effective_from",
            f"Fees up to {formats.day(posted)} are already posted on this schedule; a change can take effect from "
            "the day after, at the earliest.",
        )  # fmt: skip
    if FeeScheduleVersion.objects.filter(schedule=schedule, effective_from=effective_from).exists():
        raise ValidationError(
            {"effective_from": f"This schedule already has a version from {formats.day(effective_from)}."}
        )
    version.save()
    return version


@transaction.atomic
def schedule_make_default(*, actor: Any, schedule: FeeSchedule) -> list[FeeIncrease]:
    """Make ``schedule`` the firm's default from today: it bills every account without a schedule
    of its own or of its household. A client whose fee the change raises is asked first
    (``billing.increases``), as for any assignment, and billed on the old terms until approving;
    clients who had no default have no old terms to keep. Returns the increases found."""
    previous = FeeSchedule.objects.select_for_update().filter(is_default=True).exclude(pk=schedule.pk).first()
    if previous is None:
        schedule.is_default = True
        schedule.save(update_fields=["is_default"])
        return []
    billed = set(ClientAccount.objects.filter(is_master=False).values_list("pk", flat=True))
    with increases.assignments_changing(account_ids=billed, actor=actor) as found:
        previous.is_default = False
        previous.save(update_fields=["is_default"])
        schedule.is_default = True
        schedule.save(update_fields=["is_default"])
    return found


@transaction.atomic
def assign(
    *,
    actor: Any,
    schedule: FeeSchedule | None,
    accounts: list[ClientAccount] | tuple[()] = (),
    households: list[Any] | tuple[()] = (),
    householding: bool = True,
    payer: ClientAccount | None = None,
    excluded: bool = False,
    fee_cap_pct: Decimal | None = None,
) -> int:
    """Put ``schedule`` on each of ``accounts`` and ``households`` (replacing what they had); the
    household options apply to households, ``excluded`` and the cap to accounts. Returns how many."""
    if not accounts and not households:
        raise ValidationError({"accounts": "Choose at least one account or household."})
    if schedule is None and not excluded and not fee_cap_pct and not households:
        raise ValidationError({"schedule": "Choose a schedule (or mark the accounts not billed)."})
    if payer is not None:
        if len(households) != 1 or accounts:
            raise ValidationError({"payer": "A paying account is set on one household at a time."})
        if payer.household_id != households[0].pk:
            raise ValidationError({"payer": f"The account {payer.number} is not in the household {households[0]}."})
        if payer.is_master:
            raise ValidationError({"payer": "The firm's master account does not pay client fees."})
    if any(account.is_master for account in accounts):
        raise ValidationError({"accounts": "The firm's master account is not billed."})
    account_terms = {"schedule": schedule, "excluded": excluded, "fee_cap_pct": fee_cap_pct, "updated_by": actor}
    household_terms = {"schedule": schedule, "householding": householding, "payer": payer, "updated_by": actor}
    if len(accounts) + len(households) > 1:
        return _assign_many(actor, list(accounts), list(households), account_terms, household_terms)
    for account in accounts:  # one: saved as any model, its increases found by the model's signals
        _assignment_row(FeeAssignment.objects.filter(account=account).first() or FeeAssignment(account=account),
                        account_terms).save()  # fmt: skip
    for household in households:
        row = FeeAssignment.objects.filter(household=household).first() or FeeAssignment(household=household)
        _assignment_row(row, household_terms).save()
    return 1


def _assignment_row(row: FeeAssignment, terms: dict[str, Any]) -> FeeAssignment:
    """``row`` with ``terms`` set and checked (the one check of an assignment, single or bulk)."""
    for name, value in terms.items():
        setattr(row, name, value)
    row.full_clean()
    return row


def _assign_many(
    actor: Any, accounts: list[ClientAccount], households: list[Any], account_terms: dict[str, Any],
    household_terms: dict[str, Any],
) -> int:  # fmt: skip
    """``assign`` for many accounts or households: the terms checked once per kind on a row like
    the others (they differ only by their target, which the caller loaded), every row written by
    one audited statement per kind and action, and the terms before and the increases after read
    once for all the accounts concerned (``increases.assignments_changing``; bulk writes send no
    model signals). 6,118 households took 2 minutes one row at a time (each save read the terms
    before and after for its household); see docs/billing.md for the figures."""
    accounts = list({a.pk: a for a in accounts}.values())
    households = list({h.pk: h for h in households}.values())
    own = {a.account_id: a for a in FeeAssignment.objects.filter(account_id__in=[a.pk for a in accounts])}
    theirs = {a.household_id: a for a in FeeAssignment.objects.filter(household_id__in=[h.pk for h in households])}
    for target, found, terms in (("account", own, account_terms), ("household", theirs, household_terms)):
        targets = accounts if target == "account" else households
        if targets:  # the check of one row stands for all: the same terms, targets that exist
            sample = found.get(targets[0].pk) or FeeAssignment(**{target: targets[0]})
            _assignment_row(sample, terms)
    ids = increases.accounts_of(account_ids=[a.pk for a in accounts], household_ids=[h.pk for h in households])
    now = timezone.now()
    with increases.assignments_changing(account_ids=ids, actor=actor):
        for target, found, terms, targets in (("account", own, account_terms, accounts),
                                              ("household", theirs, household_terms, households)):  # fmt: skip
            values = {f"{name}_id" if name in ("schedule", "payer", "updated_by") else name: value
                      for name, value in terms.items()}  # fmt: skip
            values = {name: getattr(value, "pk", value) for name, value in values.items()}
            changed = [found[t.pk].pk for t in targets if t.pk in found]
            new = [t.pk for t in targets if t.pk not in found]
            why = bulk.Audit(reason=f"Fee schedule assigned to {len(targets)} {target}s",
                             details={"schedule": values["schedule_id"]})  # fmt: skip
            columns = {name: bulk.Same(value) for name, value in values.items()}
            bulk.update(FeeAssignment, changed, {**columns, "updated_at": bulk.Same(now)}, audit=why)
            bulk.insert(FeeAssignment, len(new), {**columns, f"{target}_id": new, "updated_at": bulk.Same(now)},
                        audit=why)  # fmt: skip
    return len(accounts) + len(households)


@transaction.atomic
def assignment_remove(*, actor: Any, assignment: FeeAssignment) -> None:
    assignment.delete()


# --- Runs ----------------------------------------------------------------------------------------


def _start(actor: Any, run: FeeRun, kind: str, total: int, phase: str) -> Job:
    job = jobs.job_create(actor=actor, kind=kind, total=total, phase=phase)
    run.job = job
    run.save(update_fields=["job"])
    return job


def uploaded(run: FeeRun) -> bool:
    """Whether the run's lines are an uploaded file's fees (never computed over)."""
    return FeeUpload.objects.filter(run=run).exists()


def _open_runs_of(start: date, end: date) -> Any:
    return FeeRun.objects.filter(period_start=start, period_end=end, status__in=[RunStatus.APPROVED,
                                                                                   RunStatus.POSTING])  # fmt: skip


@transaction.atomic
def run_create(
    *, actor: Any, period_start: date, period_end: date, account_numbers: list[str] | None = None, note: str = ""
) -> FeeRun:
    """A run of ``period_start`` to ``period_end`` for every open account (or those numbered),
    computed by a worker. Nothing is posted until it is approved and posted."""
    numbers = sorted({n.strip() for n in account_numbers or [] if n.strip()})
    if period_end < period_start:
        raise ValidationError({"period_end": "The period ends before it starts."})
    if (period_end - period_start).days + 1 > 366:
        raise ValidationError({"period_end": "A fee period lasts at most a year."})
    if numbers:
        known = set(ClientAccount.objects.filter(number__in=numbers, is_master=False).values_list("number", flat=True))
        missing = [n for n in numbers if n not in known]
        if missing:
            raise ValidationError({"account_numbers": f"No such account: {', '.join(missing[:10])}."})
    run = FeeRun(period_start=period_start, period_end=period_end, account_numbers=numbers, prepared_by=actor,
                 note=note)  # fmt: skip
    run.full_clean()
    run.save()
    _start(actor, run, COMPUTE_JOB, 0, "Computing fees")
    return run


@audited_refusals
@transaction.atomic
def run_recompute(*, actor: Any, run: FeeRun) -> FeeRun:
    """Compute the run again (after a schedule or assignment was corrected). Only a preview."""
    run = FeeRun.objects.select_for_update().get(pk=run.pk)
    if run.status != RunStatus.PREVIEW:
        raise _refuse(
            run, "run", f"{run.reference} is {run.get_status_display().lower()}; only a preview is recomputed."
        )
    if run.job is not None and run.job.active:
        raise _refuse(run, "run", f"{run.reference} is being computed; wait for it to finish.")
    if uploaded(run):
        raise _refuse(run, "run", f"{run.reference} holds the fees of an uploaded file; computing it would replace "
                      "them. Discard it and upload a corrected file instead.")  # fmt: skip
    run.prepared_by = actor
    run.save(update_fields=["prepared_by"])
    _start(actor, run, COMPUTE_JOB, 0, "Computing fees")
    return run


def compute(background: Job, progress: Progress) -> Outcome:
    """The compute job (one transaction): the run's lines replaced by a fresh plan."""
    run = FeeRun.objects.select_for_update().get(job=background)
    if run.status != RunStatus.PREVIEW:
        return Outcome.failure(f"{run.reference} is {run.get_status_display().lower()}; nothing was computed.")
    if uploaded(run):
        return Outcome.failure(f"{run.reference} holds the fees of an uploaded file; nothing was computed.")
    progress.update(0, phase="Valuing accounts and computing fees")
    result = runs.plan(run)
    progress.update(0, total=len(result.lines), phase="Storing fee lines")
    FeeLine.objects.filter(run=run).delete()
    audit = bulk.Audit(reason=f"{run.reference}: fee lines computed", details={"run": run.pk})
    for done, chunk in enumerate(_batched(result.lines, 2000), start=1):
        # Column by column (Django's bulk_create prepared each of 20,000 lines in Python: 13 s).
        bulk.insert(FeeLine, len(chunk), {
            "run_id": bulk.Same(run.pk), "account_id": [p.account_id for p in chunk],
            "payer_id": [p.payer_id for p in chunk], "household_id": [p.household_id for p in chunk],
            "version_id": [p.version.pk if p.version else None for p in chunk], "status": [p.status for p in chunk],
            "currency": [p.currency for p in chunk], "value": [p.value for p in chunk],
            "billable_from": [p.billable_from for p in chunk], "billable_to": [p.billable_to for p in chunk],
            "annual_fee": [p.annual_fee for p in chunk], "period_fee": [p.period_fee for p in chunk],
            "previously_billed": [p.previously_billed for p in chunk], "to_post": [p.to_post for p in chunk],
            "explanation": [p.explanation[:20_000] for p in chunk], "details": [p.details for p in chunk],
        }, audit=audit)  # fmt: skip
        progress.update(min(done * 2000, len(result.lines)))
    run.line_count = len(result.lines)
    run.total_fee, run.total_to_post = result.total_fee, result.total_to_post
    run.audit = [f.as_dict() for f in result.findings]
    run.computed_at = timezone.now()
    run.save(update_fields=["line_count", "total_fee", "total_to_post", "audit", "computed_at"])
    return Outcome()


@audited_refusals
@transaction.atomic
def run_approve(*, actor: Any, run: FeeRun) -> FeeRun:
    """Approve a computed preview for posting (four eyes: not by its preparer, if the firm asks)."""
    run = FeeRun.objects.select_for_update().get(pk=run.pk)
    if run.status != RunStatus.PREVIEW:
        raise _refuse(run, "run", f"{run.reference} is {run.get_status_display().lower()}; only a preview is approved.")
    if run.computed_at is None or (run.job is not None and run.job.active):
        raise _refuse(run, "run", f"{run.reference} is still being computed.")
    if runs.settings_of().four_eyes and run.prepared_by_id == getattr(actor, "pk", None):
        raise _refuse(
            run, "run", "Your firm asks for four eyes: a run is approved by someone other than who prepared it."
        )
    other = _open_runs_of(run.period_start, run.period_end).exclude(pk=run.pk).first()
    if other is not None:
        raise _refuse(run, "run", f"{other.reference} of the same period is approved and not yet posted: post or "
                      "discard it first.")  # fmt: skip
    run.status, run.approved_by, run.approved_at = RunStatus.APPROVED, actor, timezone.now()
    try:
        with transaction.atomic():
            run.save(update_fields=["status", "approved_by", "approved_at"])
    except IntegrityError:
        raise ValidationError({"run": "Another run of the same period was approved at the same moment."}) from None
    return run


@audited_refusals
@transaction.atomic
def run_post(*, actor: Any, run: FeeRun) -> FeeRun:
    """Post an approved run: a worker debits each client and credits the master account."""
    run = FeeRun.objects.select_for_update().get(pk=run.pk)
    if run.status in (RunStatus.POSTING, RunStatus.POSTED):
        raise _refuse(run, "run", f"{run.reference} is {run.get_status_display().lower()} already; it posts once.")
    if run.status != RunStatus.APPROVED:
        raise _refuse(run, "run", f"{run.reference} is {run.get_status_display().lower()}; approve it first.")
    to_post = run.lines.filter(status__in=[LineStatus.BILLED, LineStatus.NO_CASH], posted_amount__isnull=True).count()
    run.status, run.posted_by = RunStatus.POSTING, actor
    run.save(update_fields=["status", "posted_by"])
    _start(actor, run, POST_JOB, to_post, "Posting fees")
    return run


@audited_refusals
@transaction.atomic
def run_discard(*, actor: Any, run: FeeRun) -> FeeRun:
    run = FeeRun.objects.select_for_update().get(pk=run.pk)
    if run.status not in (RunStatus.PREVIEW, RunStatus.APPROVED):
        raise _refuse(run, "run", f"{run.reference} is {run.get_status_display().lower()}; it cannot be discarded.")
    if run.job is not None and run.job.active:
        raise _refuse(run, "run", f"{run.reference} is being computed; wait for it to finish.")
    run.status = RunStatus.DISCARDED
    run.save(update_fields=["status"])
    return run


def _memo(run: FeeRun, line: FeeLine) -> str:
    period = f"{run.period_start.isoformat()} to {run.period_end.isoformat()}"
    whose = f" for {line.account.number}" if line.payer_id else ""
    return f"Advisory fee {period}{whose} ({run.reference})"


def post(background: Job, progress: Progress) -> Outcome:
    """The post job (commits chunk by chunk; resumable): each line's difference against what was
    already billed for its account and period, posted once, under the lock of every run of the
    period, so that a re-run of the period never posts beside it."""
    run = FeeRun.objects.get(job=background)
    pending = list(
        run.lines.filter(status__in=[LineStatus.BILLED, LineStatus.NO_CASH], posted_amount__isnull=True)
        .order_by("id")
        .values_list("id", flat=True)
    )
    done = background.total - len(pending) if background.total >= len(pending) else 0
    progress.update(done, total=done + len(pending), phase="Posting fees")
    today = timezone.localdate()
    for chunk in _batched(pending, POST_CHUNK):
        with transaction.atomic():
            locked = {r.pk: r for r in FeeRun.objects.select_for_update().filter(
                period_start=run.period_start, period_end=run.period_end).order_by("pk")}  # fmt: skip
            current = locked[run.pk]
            if current.status != RunStatus.POSTING:
                return Outcome.failure(
                    f"{run.reference} is {current.get_status_display().lower()}; nothing more posted."
                )
            lines = list(
                FeeLine.objects.filter(pk__in=chunk, posted_amount__isnull=True).select_related("account", "payer")
            )
            before = dict(
                FeeLine.objects.filter(
                    account_id__in=[ln.account_id for ln in lines], posted_amount__isnull=False,
                    run__period_start=run.period_start, run__period_end=run.period_end,
                )
                .exclude(run=run)
                .values_list("account_id")
                .annotate(total=Sum("posted_amount"))
                .order_by()
            )  # fmt: skip
            _post_lines(background, current, lines, before, today)
            columns = ("status", "previously_billed", "to_post", "posted_amount", "transfer_id", "explanation")
            audit = bulk.Audit(reason=f"{run.reference}: fee lines posted", details={"run": run.pk})
            bulk.update(FeeLine, [ln.pk for ln in lines], {c: [getattr(ln, c) for ln in lines] for c in columns},
                        audit=audit)  # fmt: skip
        done += len(chunk)
        progress.update(done)
    with transaction.atomic():
        current = FeeRun.objects.select_for_update().get(pk=run.pk)
        if current.status != RunStatus.POSTING:
            return Outcome.failure(f"{run.reference} is {current.get_status_display().lower()}; nothing more posted.")
        totals = current.lines.filter(posted_amount__isnull=False).aggregate(total=Sum("posted_amount"))
        current.status, current.posted_at = RunStatus.POSTED, timezone.now()
        current.total_to_post = totals["total"] or Decimal(0)
        current.save(update_fields=["status", "posted_at", "total_to_post"])
    held = run.lines.filter(status=LineStatus.NO_CASH).count()
    if held:
        return Outcome(message=f"{held} accounts did not have the cash for their fee; they were not debited.")
    return Outcome()


def _post_lines(background: Job, run: FeeRun, lines: list[FeeLine], before: dict[int, Decimal], today: date) -> None:
    """Post each line's difference against what was already billed (``before``), in one bulk call
    for the fees and one for the refunds (``ledger.transfers_bulk`` posts each as ``fee_charge`` or
    ``fee_refund`` would alone, with the key ``billing.run<run>.account<account>``); a refused
    debit holds the line back as "Not enough cash"."""
    orders: dict[str, list[tuple[FeeLine, ledger.TransferOrder]]] = {TransferKind.FEE: [], TransferKind.FEE_REFUND: []}
    master = None
    for line in lines:
        amount = line.period_fee - before.get(line.account_id, Decimal(0))
        line.previously_billed, line.to_post = before.get(line.account_id, Decimal(0)), amount
        if amount == 0:
            line.status, line.posted_amount = LineStatus.BILLED, Decimal(0)
            continue
        master = master or ledger.master_account()
        payer = line.payer or line.account
        debit, credit = (payer, master) if amount > 0 else (master, payer)
        key = f"billing.run{run.pk}.account{line.account_id}"
        order = ledger.TransferOrder(debit, credit, abs(amount), line.currency, key, _memo(run, line))
        orders[TransferKind.FEE if amount > 0 else TransferKind.FEE_REFUND].append((line, order))
    for kind, pairs in orders.items():
        if not pairs:
            continue
        results = ledger.transfers_bulk(actor=background.created_by, kind=kind, trade_date=today,
                                        orders=[order for _, order in pairs])  # fmt: skip
        for (line, _), result in zip(pairs, results, strict=True):
            if isinstance(result, ValidationError):
                if line.status != LineStatus.NO_CASH:
                    line.explanation += f" Not posted: {' '.join(result.messages)}"
                line.status = LineStatus.NO_CASH
            else:
                line.transfer, line.status, line.posted_amount = result, LineStatus.BILLED, line.to_post
