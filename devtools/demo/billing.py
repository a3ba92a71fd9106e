"""Demo fee billing (issue #18, point 8). Each firm gets:

- **Schedules of every kind**: the firm's default ("Standard tiered": tiered, quarterly in arrears,
  average daily balance, a minimum; the template for new accounts), "Family breakpoint"
  (breakpoint, in advance, average of month-ends, by days actual/actual, a maximum, cash left
  out), "Monthly tiered" (monthly, period end, by days with the period fraction, large flows
  prorated), "Flat retainer" and "Planning retainer" (flat fees).
- **Assignments**: two households billed together (one with a payer account that pays for the
  others, one with a security left out), a few accounts on schedules of their own (two with a fee
  cap), one account marked not billed; every other account is billed on the firm's default.
- **Runs**: the last full quarter posted (previewed by the advisor, approved and posted by the
  primary user: four eyes), the last full month posted for the monthly accounts, and the current
  quarter previewed and left for a person to approve.
- A **fee increase** waiting for its client (a new version of the planning retainer from the
  next quarter; its approval email is in the development outbox), and a small **uploaded** file of
  advisor-calculated fees (a CSV made here, through ``billing.upload``), left in preview.

Everything goes through the billing services, so the rows are exactly what the pages make; the
runs' jobs run in this process (``jobs.job_execute``, what the worker runs; a worker later finds
them done). It is one transaction: a firm has all of it or none of it, and a firm that has any fee
schedule or run already is left as it is. Only a handful of assignments are written (each save
looks for fee increases), so a firm of 20,000 accounts costs its three runs over every account.

Call inside the firm's scope, after the portfolios and the funding data:

    seed_billing(firm=firm, log=self.stdout.write)
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, Max, Min

from accounts.models import Firm, User
from advisorportal.jobs import services as jobs
from billing import exclusion_services, services, upload
from billing.models import FeeRun, FeeSchedule, RunStatus
from crm.models import Household
from portfolios import selectors as book
from portfolios.models import AccountOwner, AccountStatus, ClientAccount, OwnerRole, Position

MIN_ACCOUNTS = 10  # a smaller demo firm (tests) gets no billing data
UPLOADED_FEES = (Decimal("250.00"), Decimal("375.00"), Decimal("500.00"))

STANDARD: dict[str, Any] = {
    "name": "Standard tiered",
    "description": "The firm's template for new accounts: every account without a schedule of its own is billed "
    "on it, quarterly in arrears on its average daily balance.",
    "method": "tiered",
    "tiers": [
        {"up_to": "1000000", "annual_rate_pct": "1.00"},
        {"up_to": "5000000", "annual_rate_pct": "0.80"},
        {"up_to": None, "annual_rate_pct": "0.60"},
    ],
    "minimum_annual_fee": Decimal("1000.00"),
    "frequency": "quarterly",
    "timing": "arrears",
    "valuation": "average_daily",
    "period_basis": "frequency",
    "proration": "actual/365",
}
FAMILY: dict[str, Any] = {
    "name": "Family breakpoint",
    "description": "For households billed together, in advance on the quarter before; cash is not billed.",
    "method": "breakpoint",
    "tiers": [
        {"up_to": "500000", "annual_rate_pct": "1.25"},
        {"up_to": "2000000", "annual_rate_pct": "1.00"},
        {"up_to": None, "annual_rate_pct": "0.75"},
    ],
    "maximum_annual_fee": Decimal("40000.00"),
    "frequency": "quarterly",
    "timing": "advance",
    "valuation": "month_end_average",
    "period_basis": "days",
    "proration": "actual/actual",
    "exclusions": {"cash": True},
}
MONTHLY: dict[str, Any] = {
    "name": "Monthly tiered",
    "description": "Billed monthly in arrears on the value at the month's end; deposits and withdrawals above "
    "25,000 are prorated by their days in the account.",
    "method": "tiered",
    "tiers": [
        {"up_to": "250000", "annual_rate_pct": "1.10"},
        {"up_to": "1000000", "annual_rate_pct": "0.90"},
        {"up_to": None, "annual_rate_pct": "0.70"},
    ],
    "frequency": "monthly",
    "timing": "arrears",
    "valuation": "period_end",
    "period_basis": "days",
    "proration": "period_fraction",
    "flow_threshold_amount": Decimal("25000.00"),
}
RETAINER: dict[str, Any] = {
    "name": "Flat retainer",
    "description": "A flat fee, billed quarterly in advance, whatever the value.",
    "method": "flat",
    "flat_annual_fee": Decimal("2400.00"),
    "frequency": "quarterly",
    "timing": "advance",
    "valuation": "period_end",
    "period_basis": "frequency",
    "proration": "actual/365",
}
PLANNING: dict[str, Any] = {
    "name": "Planning retainer",
    "description": "A flat planning fee, billed quarterly in arrears.",
    "method": "flat",
    "flat_annual_fee": Decimal("1200.00"),
    "frequency": "quarterly",
    "timing": "arrears",
    "valuation": "period_end",
    "period_basis": "frequency",
    "proration": "actual/365",
}
PLANNING_RAISED = Decimal("1500.00")
SCHEDULES = (STANDARD, FAMILY, MONTHLY, RETAINER, PLANNING)


# --- Periods ------------------------------------------------------------------------------------


def quarter_of(day: date) -> tuple[date, date]:
    start = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return start, _month_after(start, 3) - timedelta(days=1)


def month_of(day: date) -> tuple[date, date]:
    start = day.replace(day=1)
    return start, _month_after(start, 1) - timedelta(days=1)


def _month_after(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def last_full(period_of: Callable[[date], tuple[date, date]], latest: date) -> tuple[date, date]:
    """The last period (quarter or month) that ends on or before ``latest``."""
    start, end = period_of(latest)
    return (start, end) if end <= latest else period_of(start - timedelta(days=1))


# --- The firm's billing ---------------------------------------------------------------------------


def seed_billing(*, firm: Firm, log: Callable[[str], object] = print) -> int:
    """The demo billing of ``firm`` (in its scope); returns the fee runs made (0: nothing done)."""
    if FeeSchedule.objects.exists() or FeeRun.objects.exists():
        return 0
    users = {u.email.split("@")[0]: u for u in User.objects.filter(email__endswith=f"@{firm.slug}.example")}
    owner, advisor = users.get("owner"), users.get("advisor")
    clients = ClientAccount.objects.filter(is_master=False).exclude(status=AccountStatus.CLOSED)
    dates = clients.aggregate(latest=Max("nav_date"), first=Min("inception_date"))
    if (
        owner is None
        or advisor is None
        or clients.count() < MIN_ACCOUNTS
        or dates["latest"] is None
        or not ClientAccount.objects.filter(is_master=True).exists()
    ):
        return 0
    started = time.perf_counter()
    with transaction.atomic():
        made = _seed(firm, owner, advisor, clients, dates["latest"], dates["first"], log)
    log(f"{firm.name}: billing seeded in {time.perf_counter() - started:.1f} s")
    return made


def _seed(
    firm: Firm, owner: User, advisor: User, clients: Any, latest: date, first: date, log: Callable[[str], object]
) -> int:
    since = date(first.year, 1, 1)
    made = {
        terms["name"]: exclusion_services.schedule_create(actor=owner, effective_from=since, **terms)
        for terms in SCHEDULES
    }
    standard, family, monthly, retainer, planning = (made[t["name"]] for t in SCHEDULES)
    households = list(
        Household.objects.filter(
            pk__in=clients.filter(household__isnull=False)
            .values("household")
            .annotate(n=Count("id"))
            .filter(n__gte=2)
            .order_by("household")
            .values("household")[:2]
        ).order_by("pk")
    )
    pool = list(clients.filter(household__isnull=True, nav__gt=0).order_by("number")[:200])
    picked = _pick(pool)

    # Accounts of their own first, then households, then the default: an assignment made while
    # the account had no schedule asks nobody (the one fee increase below is on purpose).
    assigned = []
    if (account := picked.get("retainer")) is not None:
        exclusion_services.assign(actor=owner, schedule=retainer, accounts=[account], fee_cap_pct=Decimal("1.00"))
        assigned.append(f"{account.number} flat retainer capped at 1 % a year")
    if (account := picked.get("monthly_capped")) is not None:
        exclusion_services.assign(actor=owner, schedule=monthly, accounts=[account], fee_cap_pct=Decimal("0.90"))
        assigned.append(f"{account.number} monthly capped at 0.9 % a year")
    if (account := picked.get("monthly")) is not None:
        exclusion_services.assign(actor=owner, schedule=monthly, accounts=[account])
        assigned.append(f"{account.number} monthly")
    if (account := picked.get("planning")) is not None:
        exclusion_services.assign(actor=owner, schedule=planning, accounts=[account])
        assigned.append(f"{account.number} planning retainer")
    if (account := picked.get("excluded")) is not None:
        exclusion_services.assign(actor=owner, schedule=None, accounts=[account], excluded=True)
        assigned.append(f"{account.number} not billed")
    if households:
        payer = _richest(list(clients.filter(household=households[0])))
        exclusion_services.assign(
            actor=owner, schedule=family, households=[households[0]], householding=True, payer=payer
        )
        assigned.append(f"{households[0]} billed together, {payer.number} paying")
    if len(households) > 1:
        symbol = _held_symbol(households[1])
        exclusion_services.assign(
            actor=owner, schedule=standard, households=[households[1]], householding=True,
            exclusions={"symbols": [symbol]},
        )  # fmt: skip
        assigned.append(f"{households[1]} billed together without {symbol}")
    services.schedule_make_default(actor=owner, schedule=standard)
    log(f"{firm.name}: {len(SCHEDULES)} fee schedules ({standard} the default); " + "; ".join(assigned))

    quarter = last_full(quarter_of, latest)
    current = quarter_of(quarter[1] + timedelta(days=1))
    runs = [_run(quarter, preparer=advisor, approver=owner)]
    monthly_numbers = [a.number for key in ("monthly_capped", "monthly") if (a := picked.get(key)) is not None]
    if monthly_numbers:
        runs.append(_run(last_full(month_of, latest), preparer=advisor, approver=owner, numbers=monthly_numbers))
    runs.append(_run(current, preparer=advisor))
    for run in runs:
        log(
            f"{firm.name}: {run.reference} {run.period_start} to {run.period_end} {run.get_status_display().lower()}, "
            f"{run.line_count} lines, fees {run.total_fee}"
        )

    uploaded = picked.get("upload", [])
    if uploaded:
        runs.append(_upload(advisor, uploaded, current))
        log(f"{firm.name}: {runs[-1].reference} from an uploaded file of {len(uploaded)} advisor-calculated fees")

    if picked.get("planning") is not None:
        following = quarter_of(current[1] + timedelta(days=1))[0]
        terms = {k: v for k, v in PLANNING.items() if k not in ("name", "description")}
        terms["flat_annual_fee"] = PLANNING_RAISED
        exclusion_services.version_add(
            actor=owner, schedule=planning, effective_from=following,
            note=f"Planning retainer from {PLANNING['flat_annual_fee']} to {PLANNING_RAISED} a year",
            **terms,
        )  # fmt: skip
        log(f"{firm.name}: {planning} raised from {following}; the client's approval email is in the outbox")
    return len(runs)


def _pick(pool: list[ClientAccount]) -> dict[str, Any]:
    """Accounts without a household for the assignments of their own and the upload: the smallest
    on the flat retainer (its cap bites), one whose owner has an email address on the planning
    retainer (its client is asked to approve the increase), then the monthly ones, the one not
    billed and three uploaded."""
    picked: dict[str, Any] = {}
    left = list(pool)
    if not left:
        return picked
    smallest = min(left, key=lambda a: (a.nav, a.number))
    picked["retainer"] = smallest
    left.remove(smallest)
    with_email = set(
        AccountOwner.objects.filter(account__in=left, role=OwnerRole.PRIMARY)
        .exclude(contact__email="")
        .values_list("account_id", flat=True)
    )
    mailable = next((a for a in left if a.pk in with_email), None)
    if mailable is not None:
        picked["planning"] = mailable
        left.remove(mailable)
    for key in ("monthly_capped", "monthly", "excluded"):
        if left:
            picked[key] = left.pop(0)
    picked["upload"] = left[: len(UPLOADED_FEES)]
    return picked


def _richest(accounts: list[ClientAccount]) -> ClientAccount:
    """The household account with the most cash available (it pays for the household)."""
    cash = book.cash_positions(pairs=[(a.pk, a.base_currency) for a in accounts])
    return max(accounts, key=lambda a: (cash[(a.pk, a.base_currency)].available, a.number))


def _held_symbol(household: Household) -> str:
    """A security the household's accounts hold (the most of them), to leave out of its value."""
    found = (
        Position.objects.filter(account__household=household, quantity__gt=0)
        .values_list("security__symbol")
        .annotate(n=Count("id"))
        .order_by("-n", "security__symbol")
        .first()
    )
    return found[0] if found else "GLD"


def _run(
    period: tuple[date, date], *, preparer: User, approver: User | None = None, numbers: list[str] | None = None
) -> FeeRun:
    """A run computed as the worker computes it; approved and posted too when ``approver`` is given."""
    run = services.run_create(actor=preparer, period_start=period[0], period_end=period[1], account_numbers=numbers)
    _execute(run)
    if approver is not None:
        services.run_approve(actor=approver, run=run)
        _execute(services.run_post(actor=approver, run=run))
    run.refresh_from_db()
    return run


def _execute(run: FeeRun) -> None:
    assert run.job_id is not None
    status = jobs.job_execute(job_id=run.job_id)
    if status != "done":
        raise RuntimeError(f"The demo fee run {run.reference} ended {status}.")


def _upload(actor: User, accounts: list[ClientAccount], period: tuple[date, date]) -> FeeRun:
    """A CSV of advisor-calculated fees for ``period``, uploaded as a person uploads it (a preview)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["account", "period_start", "period_end", "amount", "currency", "description"])
    for account, amount in zip(accounts, UPLOADED_FEES, strict=False):
        writer.writerow([account.number, period[0].isoformat(), period[1].isoformat(), f"{amount}",
                         account.base_currency, "Financial planning fee, calculated by the advisor"])  # fmt: skip
    quarter = (period[0].month - 1) // 3 + 1
    made, checked = upload.upload_create(
        actor=actor, data=text.getvalue().encode(), file_name=f"advisor-fees-{period[0].year}-q{quarter}.csv"
    )
    if made.run is None:
        raise RuntimeError("The demo fee upload was refused: " + " ".join(checked.messages()))
    assert made.run.status == RunStatus.PREVIEW
    return made.run


def delete_billing() -> None:
    """The firm's billing rows (for ``seed_demo --reset``, before its accounts and households go:
    fee lines and invoices hold on to both). The ledger's fee postings go with the portfolios."""
    from advisorportal.links.models import Link, LinkCode
    from billing.models import (
        Adjustment,
        BillingSettings,
        FeeAssignment,
        FeeIncrease,
        FeeLine,
        FeeScheduleVersion,
        FeeUpload,
        Invoice,
        InvoiceBatch,
        RecurringAdjustment,
    )

    subjects = ["billing.feeincrease", "billing.invoice"]
    LinkCode.objects.filter(link__subject_type__in=subjects).delete()
    Link.objects.filter(subject_type__in=subjects).delete()
    for model in (Invoice, InvoiceBatch, FeeIncrease, FeeUpload, FeeLine, FeeRun, Adjustment, RecurringAdjustment):
        model.objects.all().delete()
    # Without a default, removing an assignment leaves its accounts on no schedule: no dearer terms
    # for the fee-increase signals to find (and mail to the clients) on the way out.
    FeeSchedule.objects.filter(is_default=True).update(is_default=False)
    for terms in (FeeAssignment, FeeScheduleVersion, FeeSchedule, BillingSettings):
        terms.objects.all().delete()
