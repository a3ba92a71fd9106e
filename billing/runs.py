"""The computation of a fee run: which schedule bills each account, its value, its fee, and the
pre-bill audit. Reads only; ``billing.services`` stores what it returns.

For each account billed (not the master account, opened by the period's end; open, or closed on
a day inside the period — billed to that day — or after it; an account closed before the period
is listed only when a posted run billed it for the period, with no fee, so that the difference
refunds what it prepaid):

1. **Schedule**: the account's own assignment, else its household's, else the firm's default; the
   version in effect on the period's first day. An account marked "not billed" gets a line that
   says so; one without a schedule, or whose schedule has no version yet, a line saying why.
2. **Cycle**: the run's period must be one cycle of the schedule (a quarterly schedule bills 89 to
   92 days); otherwise the line is held back, never billed at the wrong fraction.
3. **Value** in the account's base currency from the stored daily values
   (``portfolios.performance.navs_between``): at the period's end, the average daily balance, or
   the average of month-ends, over the period (in arrears) or the period before (in advance),
   from the account's inception; less what the version and the assignments exclude (securities,
   asset classes, cash, part of a position), valued the same way; large flows prorated by their
   days (``billing.exclusions``).
4. **Fee**: ``billing.fees.calculate`` on the billing unit — the household when its assignment
   bills it together (bands on the combined value, shared pro rata), else the account — for the
   account's billed days (from its inception, if later than the period's start).
5. **Cap**: a fee above the account's cap (an annualised % of its value) is lowered to it.
6. **Recurring adjustments** of the account in force in the period (``RecurringAdjustment``): a
   discount (% of the fee), then a fixed credit, each a step of the line; never below zero.
7. **Already billed**: what posted runs billed for the same account and period is subtracted; the
   line posts the difference (a refund when negative). An account billed in a posted run of an
   overlapping other period is held back (it would be billed twice for those days).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
from django.db.models import Q, Sum

from advisorportal import formats
from billing import exclusions, fees
from billing.models import (
    BillingSettings,
    FeeAssignment,
    FeeLine,
    FeeRun,
    FeeSchedule,
    FeeScheduleVersion,
    LineStatus,
    PeriodBasis,
    RecurringAdjustment,
    RecurringKind,
    Timing,
    Valuation,
)
from portfolios import performance
from portfolios.models import AccountStatus, CashHold, ClientAccount, LedgerPosting

ZERO = Decimal(0)
CENT = Decimal("0.01")
# The days one cycle of each frequency may last.
CYCLE_DAYS = {"monthly": (28, 31), "quarterly": (89, 92), "semiannual": (181, 184), "annual": (365, 366)}


@dataclass
class LinePlan:
    account_id: int
    number: str
    currency: str
    status: str = LineStatus.BILLED
    household_id: int | None = None
    payer_id: int | None = None
    version: FeeScheduleVersion | None = None
    value: Decimal = ZERO
    billable_from: date | None = None
    billable_to: date | None = None
    annual_fee: Decimal = ZERO
    period_fee: Decimal = ZERO
    previously_billed: Decimal = ZERO
    to_post: Decimal = ZERO
    steps: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    cap_pct: Decimal | None = None
    exclusions: dict[str, Any] = field(default_factory=dict)

    @property
    def explanation(self) -> str:
        return " ".join(self.steps)


@dataclass
class Finding:
    """One finding of the pre-bill audit: what, how many accounts, up to 20 of their numbers."""

    code: str
    level: str  # "error": lines held back; "warning": billed, but look
    message: str
    accounts: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "level": self.level, "message": self.message, "accounts": self.accounts[:20],
                "count": len(self.accounts)}  # fmt: skip


@dataclass
class Plan:
    lines: list[LinePlan]
    findings: list[Finding]

    @property
    def total_fee(self) -> Decimal:
        return sum((p.period_fee for p in self.lines if p.status == LineStatus.BILLED), ZERO)

    @property
    def total_to_post(self) -> Decimal:
        return sum((p.to_post for p in self.lines if p.status == LineStatus.BILLED), ZERO)


def _months(start: date, end: date) -> int | None:
    """The number of whole calendar months from ``start`` to ``end``, if the period is made of them."""
    if start.day != 1 or (end + timedelta(days=1)).day != 1:
        return None
    return (end.year - start.year) * 12 + end.month - start.month + 1


def _shift_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def valuation_window(start: date, end: date, timing: str) -> tuple[date, date]:
    """The days valued: the period itself (in arrears), or the period of the same length just
    before it (in advance: whole months when the period is whole months)."""
    if timing != Timing.ADVANCE:
        return start, end
    months = _months(start, end)
    if months is not None:
        return _shift_months(start, -months), start - timedelta(days=1)
    length = (end - start).days + 1
    return start - timedelta(days=length), start - timedelta(days=1)


def value_of(days: np.ndarray, navs: np.ndarray, method: str) -> tuple[Decimal, str]:
    """The billed value of one account's NAVs in its window, and how, in words."""
    if method == Valuation.PERIOD_END:
        return _money(navs[-1]), f"the value on {formats.day(days[-1].astype(date))}"
    if method == Valuation.AVERAGE_DAILY:
        return (
            _money(float(navs.sum()) / len(navs)),
            f"the average of {len(navs)} daily values from {formats.day(days[0].astype(date))} to "
            f"{formats.day(days[-1].astype(date))}",
        )
    months = days.astype("datetime64[M]")
    last_of_month = np.append(months[1:] != months[:-1], True)
    picked = navs[last_of_month]
    return (
        _money(float(picked.sum()) / len(picked)),
        f"the average of {len(picked)} month-end values ("
        + ", ".join(formats.day(d.astype(date)) for d in days[last_of_month])
        + ")",
    )


def _money(value: float) -> Decimal:
    return Decimal(repr(float(value))).quantize(CENT, ROUND_HALF_UP)


def _schedule_of(version: FeeScheduleVersion) -> fees.Schedule:
    return fees.Schedule(
        method=version.method,
        bands=tuple(
            fees.Band(
                None if t["up_to"] in (None, "") else Decimal(str(t["up_to"])), Decimal(str(t["annual_rate_pct"]))
            )
            for t in version.tiers
        ),
        flat_annual_fee=version.flat_annual_fee,
        minimum_annual_fee=version.minimum_annual_fee,
        maximum_annual_fee=version.maximum_annual_fee,
    )


def _in_effect(versions: list[FeeScheduleVersion], day: date) -> FeeScheduleVersion | None:
    """The version in effect on ``day`` (``versions`` newest first)."""
    return next((v for v in versions if v.effective_from <= day), None)


def settings_of() -> BillingSettings:
    found = BillingSettings.objects.first()
    return found if found is not None else BillingSettings()


def plan(run: FeeRun) -> Plan:
    """Every line of ``run`` and the pre-bill audit (reads only)."""
    start, end = run.period_start, run.period_end
    # Open accounts; closed ones for the days they were open in the period, and any that posted
    # runs billed for this period (closed before it: what they prepaid is refunded).
    billed_here = FeeLine.objects.filter(
        posted_amount__isnull=False, run__period_start=start, run__period_end=end
    ).values("account_id")
    accounts = ClientAccount.objects.filter(is_master=False, inception_date__lte=end).filter(
        ~Q(status=AccountStatus.CLOSED) | Q(closed_on__gte=start) | Q(pk__in=billed_here)
    )
    chosen: set[str] | None = None
    if run.account_numbers:
        # The households of the chosen accounts come along, so that their bands are set on the
        # household's combined value as in a run of every account; only the chosen are kept.
        chosen = set(run.account_numbers)
        picked = accounts.filter(number__in=run.account_numbers)
        accounts = picked | accounts.filter(household_id__in=picked.filter(household__isnull=False).values("household"))
    rows = list(
        accounts.order_by("number").values_list(
            "pk", "number", "base_currency", "household_id", "inception_date", "closed_on"
        )
    )
    own = {a.account_id: a for a in FeeAssignment.objects.filter(account__isnull=False)}
    by_household = {a.household_id: a for a in FeeAssignment.objects.filter(household__isnull=False)}
    default = FeeSchedule.objects.filter(is_default=True).first()
    versions: dict[int, list[FeeScheduleVersion]] = defaultdict(list)
    for version in FeeScheduleVersion.objects.select_related("schedule").order_by("-effective_from"):
        versions[version.schedule_id].append(version)
    names = dict(FeeSchedule.objects.values_list("pk", "name"))
    from billing import increases  # a raise the client has not approved bills on the old terms

    held = increases.pending_increases(run.firm_id, [r[0] for r in rows], start)

    findings: dict[str, Finding] = {}

    def find(code: str, level: str, message: str, number: str) -> None:
        if chosen is None or number in chosen:
            findings.setdefault(code, Finding(code, level, message)).accounts.append(number)

    listed = {r[1] for r in rows}
    for number in run.account_numbers or []:
        if number not in listed:
            find("not_open", "warning", "Chosen accounts not billed: closed, or opened after the period.", number)

    lines: list[LinePlan] = []
    units: dict[tuple[str, int], list[LinePlan]] = defaultdict(list)
    household_schedules: dict[int, set[int]] = defaultdict(set)
    days = (end - start).days + 1
    for pk, number, currency, household_id, inception, closed_on in rows:
        line = LinePlan(account_id=pk, number=number, currency=currency, household_id=household_id)
        lines.append(line)
        mine, theirs = own.get(pk), by_household.get(household_id) if household_id else None
        line.cap_pct = mine.fee_cap_pct if mine else None
        if mine is not None and mine.excluded:
            line.status = LineStatus.EXCLUDED
            line.steps.append("Marked not billed on its fee assignment.")
            continue
        unit: tuple[str, int] = ("account", pk)
        if mine is not None and mine.schedule_id:
            schedule_id, how = mine.schedule_id, "its own fee assignment"
        elif theirs is not None and theirs.schedule_id:
            schedule_id, how = theirs.schedule_id, "its household's fee assignment"
            line.payer_id = theirs.payer_id if theirs.payer_id != pk else None
            if theirs.householding:
                unit = ("household", household_id)
        elif default is not None:
            schedule_id, how = default.pk, "the firm's default schedule"
        else:
            line.status = LineStatus.NO_SCHEDULE
            line.steps.append("No fee schedule: none assigned to the account or its household, and no firm default.")
            find("no_schedule", "error", "Accounts without a fee schedule (not billed).", number)
            continue
        if household_id and theirs is not None and theirs.householding:
            household_schedules[household_id].add(schedule_id)
        version = _in_effect(versions.get(schedule_id, []), start)
        if version is None:
            line.status = LineStatus.NOT_EFFECTIVE
            upcoming = versions.get(schedule_id)
            when = (
                f" (its first version takes effect on {formats.day(upcoming[-1].effective_from)})" if upcoming else ""
            )
            line.steps.append(f"The schedule {names[schedule_id]} is not yet in effect on {formats.day(start)}{when}.")
            find("not_effective", "error", "Accounts whose schedule is not yet in effect (not billed).", number)
            continue
        if (kept := held.get(pk)) is not None and (old := kept.instead_of(version)) is not None:
            line.steps.append(kept.why(version))
            version, schedule_id = old, old.schedule_id
        line.version = version
        line.exclusions = exclusions.merged(
            version.exclusions, mine.exclusions if mine is not None else None,
            theirs.exclusions if theirs is not None and how == "its household's fee assignment" else None,
        )  # fmt: skip
        line.steps.append(
            f"Schedule {names[schedule_id]} (version from {formats.day(version.effective_from)}, "
            f"{version.get_method_display().lower()}), from {how}."
        )
        low, high = CYCLE_DAYS[version.frequency]
        if not low <= days <= high:
            line.status = LineStatus.WRONG_PERIOD
            line.steps.append(
                f"It bills {version.get_frequency_display().lower()}, and this run's period is {days} days: "
                "bill it in a run of its own cycle."
            )
            find("wrong_period", "error", "Accounts whose schedule bills on another cycle (not billed).", number)
            continue
        line.billable_from, line.billable_to = max(start, inception), min(end, closed_on or end)
        if closed_on is not None and closed_on < line.billable_from:
            line.billable_to = None
            line.details["closed_on"] = closed_on.isoformat()
            line.steps.append(f"Closed on {formats.day(closed_on)}, before the period: no fee for it.")
            continue
        if closed_on is not None and closed_on < end:
            line.details["closed_on"] = closed_on.isoformat()
            line.steps.append(f"Closed on {formats.day(closed_on)}: billed to that day.")
        units[unit].append(line)

    household_lines: dict[int, list[LinePlan]] = defaultdict(list)
    for ln in lines:
        if ln.household_id and ln.version is not None:
            household_lines[ln.household_id].append(ln)
    for household_id, schedule_ids in household_schedules.items():
        members = household_lines.get(household_id, [])
        if len({ln.version.schedule_id for ln in members if ln.version}) > 1 or len(schedule_ids) > 1:
            for ln in members:
                find("mixed_schedules", "warning",
                     "Households billed together whose accounts have different schedules (each account with its own "
                     "schedule is billed alone).", ln.number)  # fmt: skip

    _value(units, start, end)
    for (kind, _), members in units.items():
        _fee(kind, members, start, end)
    _recurring(lines, start, end)
    _already_billed(run, lines, find)
    _audit_cash_and_change(run, lines, find)
    for line in lines:
        if line.status == LineStatus.BILLED:
            line.to_post = line.period_fee - line.previously_billed
    if chosen is not None:
        lines = [ln for ln in lines if ln.number in chosen]
    return Plan(lines, list(findings.values()))


def _value(units: dict[tuple[str, int], list[LinePlan]], start: date, end: date) -> None:
    """Each planned line's value, windows grouped so that each is one query."""
    by_window: dict[tuple[date, date], list[LinePlan]] = defaultdict(list)
    for members in units.values():
        for line in members:
            assert line.version is not None
            low, high = valuation_window(start, end, line.version.timing)
            if line.version.timing != Timing.ADVANCE and line.billable_to is not None and line.billable_to < end:
                high = line.billable_to  # closed in the period: valued while it was open
            by_window[(low, high)].append(line)
    for (low, high), members in by_window.items():
        navs = performance.navs_between(account_ids=[ln.account_id for ln in members], start=low, end=high)
        asks = [exclusions.Ask(ln.account_id, ln.currency, ln.exclusions, navs[ln.account_id][0])
                for ln in members if ln.exclusions and ln.account_id in navs]  # fmt: skip
        left_out = exclusions.excluded_series(asks)
        for line in members:
            assert line.version is not None
            found = navs.get(line.account_id)
            timing = "in advance, on the period before" if line.version.timing == Timing.ADVANCE else "in arrears"
            if found is None:
                line.value = ZERO
                words = f"no daily values from {formats.day(low)} to {formats.day(high)}"
            else:
                line.value, words = value_of(found[0], found[1], line.version.valuation)
            line.details["valuation"] = {
                "method": line.version.valuation, "from": low.isoformat(), "to": high.isoformat(),
                "days_valued": 0 if found is None else len(found[0]), "value": str(line.value),
            }  # fmt: skip
            line.steps.append(
                f"Valued {timing}: {formats.amount(line.value)} {line.currency}, {words} "
                f"({line.version.get_valuation_display().lower()})."
            )
            if line.exclusions:
                _exclude(line, found, left_out.get(line.account_id, {}))
        _prorate_flows([ln for ln in members if _has_threshold(ln)], low, high)


def _exclude(line: LinePlan, found: Any, series: dict[str, np.ndarray]) -> None:
    """Take what the line's exclusions leave out off its value, item by item, valued as the value
    was (the methods are averages or a last value: linear, so each item is valued alone)."""
    assert line.version is not None
    items = []
    if found is not None:
        for label, values in sorted(series.items()):
            amount, _ = value_of(found[0], values, line.version.valuation)
            if amount:
                items.append((label, amount))
    total = sum((a for _, a in items), ZERO)
    before = line.value
    line.value = max(before - total, ZERO)
    line.details["exclusions"] = {
        "rules": line.exclusions, "items": [{"what": label, "value": str(a)} for label, a in items],
        "total": str(total), "value_before": str(before),
    }  # fmt: skip
    what = exclusions.describe(line.exclusions)
    if not items:
        line.steps.append(f"Excluded from the value: {what}; the account held none of it, so nothing was left out.")
        return
    parts = ", ".join(f"{label} {formats.amount(a)}" for label, a in items)
    floor = " (not below zero)" if before - total < 0 else ""
    line.steps.append(
        f"Excluded from the value ({what}): {parts}, in all {formats.amount(total)} {line.currency} valued the "
        f"same way; billed value {formats.amount(line.value)} {line.currency}{floor}."
    )


def _has_threshold(line: LinePlan) -> bool:
    version = line.version
    return version is not None and (version.flow_threshold_amount is not None
                                    or version.flow_threshold_pct is not None)  # fmt: skip


def _prorate_flows(members: list[LinePlan], low: date, high: date) -> None:
    """Large flows of the period, prorated by the days they were out of (or still in) the account."""
    eligible = []
    for line in members:
        version = line.version
        assert version is not None
        if version.timing == Timing.ADVANCE:
            line.steps.append("Large flows are not prorated: the fee is billed in advance, on the value before the "
                              "period.")  # fmt: skip
        elif version.valuation != Valuation.PERIOD_END:
            line.steps.append(f"Large flows are not prorated again: the {version.get_valuation_display().lower()} "
                              "already counts each flow by its time in the account.")  # fmt: skip
        elif line.exclusions.get("cash"):
            line.steps.append("Large flows are not prorated: cash is excluded from the value, and flows are cash.")
        else:
            eligible.append(line)
    flows = exclusions.flows_between(account_ids=[ln.account_id for ln in eligible], start=low, end=high)
    for line in eligible:
        version = line.version
        assert version is not None and line.billable_from is not None and line.billable_to is not None
        if version.flow_threshold_amount is not None:
            threshold, words = version.flow_threshold_amount, f"{formats.amount(version.flow_threshold_amount)}"
        else:
            assert version.flow_threshold_pct is not None
            threshold = fees.cents(line.value * version.flow_threshold_pct / 100)
            words = f"{formats.quantity(version.flow_threshold_pct)} % of the value, {formats.amount(threshold)}"
        days = (line.billable_to - line.billable_from).days + 1
        prorated = []
        change = ZERO
        for day, amount in flows.get(line.account_id, []):
            flow = _money(amount)
            if day < line.billable_from or day > line.billable_to or abs(flow) <= threshold:
                continue
            outside = (day - line.billable_from).days
            if outside == 0:  # in (or out) for the whole billed period: nothing to prorate
                continue
            delta = fees.cents(-flow * outside / days)
            change += delta
            prorated.append({"date": day.isoformat(), "flow": str(flow), "days_out": outside if flow > 0 else None,
                             "days_in": outside if flow < 0 else None, "days": days, "change": str(delta)})  # fmt: skip
            if flow > 0:
                line.steps.append(
                    f"Large deposit of {formats.amount(flow)} on {formats.day(day)} (above the flow threshold of "
                    f"{words}): in the account {days - outside} of {days} days, so the value falls by "
                    f"{formats.amount(-delta)}."
                )
            else:
                line.steps.append(
                    f"Large withdrawal of {formats.amount(-flow)} on {formats.day(day)} (above the flow threshold of "
                    f"{words}): still in the account {outside} of {days} days, so the value rises by "
                    f"{formats.amount(delta)}."
                )
        line.details["flows"] = {"threshold": str(threshold), "prorated": prorated, "change": str(change)}
        if prorated:
            line.value = max(line.value + change, ZERO)
            line.steps.append(f"Value after prorating large flows: {formats.amount(line.value)} {line.currency}.")
        else:
            line.steps.append(f"No flow above the flow threshold of {words} in the period.")


def _recurring(lines: list[LinePlan], start: date, end: date) -> None:
    """The recurring adjustments in force in the period on each billed line: discounts (a share of
    the fee), then fixed credits, never taking the fee below zero (one query)."""
    billed = {ln.account_id: ln for ln in lines if ln.status == LineStatus.BILLED}
    if not billed:
        return
    rows = (
        RecurringAdjustment.objects.filter(account_id__in=list(billed), starts_on__lte=end)
        .exclude(ends_on__lt=start)
        .order_by("account_id", "kind", "starts_on", "id")
    )
    by_account: dict[int, list[RecurringAdjustment]] = defaultdict(list)
    for row in rows:
        by_account[row.account_id].append(row)
    for account_id, found in by_account.items():
        line = billed[account_id]
        if not line.period_fee:
            continue  # nothing to take a discount or credit off (an account closed before the period)
        before = line.period_fee
        fee, applied = before, []
        for row in sorted(found, key=lambda r: (r.kind != RecurringKind.FEE_DISCOUNT, r.starts_on, r.pk)):
            if row.kind == RecurringKind.FEE_DISCOUNT:
                assert row.pct is not None
                credit = min(fees.cents(before * row.pct / 100), fee)
                what = f"a discount of {formats.quantity(row.pct)} % of the fee"
            else:
                assert row.amount is not None
                credit = min(row.amount, fee)
                what = f"a fixed credit of {formats.amount(row.amount)} a period"
            fee -= credit
            until = f" to {formats.day(row.ends_on)}" if row.ends_on else ""
            short = "" if row.kind == RecurringKind.FEE_DISCOUNT or credit == row.amount else (
                " (limited to the fee left: a credit never pays the client)")  # fmt: skip
            line.steps.append(
                f"Recurring adjustment ({row.reason}; from {formats.day(row.starts_on)}{until}): {what}, "
                f"{formats.amount(credit)} off{short}."
            )
            applied.append({"id": row.pk, "kind": row.kind, "reason": row.reason, "credit": str(credit),
                            "pct": None if row.pct is None else str(row.pct),
                            "amount": None if row.amount is None else str(row.amount)})  # fmt: skip
        line.period_fee = fee
        line.details["adjustments"] = {"before": str(before), "applied": applied, "after": str(fee)}
        line.steps.append(f"Fee after adjustments: {formats.amount(fee)} {line.currency}.")


def _period(line: LinePlan, start: date, end: date) -> fees.Period:
    assert line.version is not None
    whole = line.billable_from == start and line.billable_to == end
    if whole and line.version.period_basis == PeriodBasis.FREQUENCY:
        return fees.Period(frequency=line.version.frequency, start=start, end=end)
    return fees.Period(
        frequency=line.version.frequency, start=start, end=end,
        billable_from=line.billable_from, billable_to=line.billable_to, proration=line.version.proration,
    )  # fmt: skip


def _fee(kind: str, members: list[LinePlan], start: date, end: date) -> None:
    """The fee of one billing unit, shared among its accounts."""
    version = members[0].version
    assert version is not None
    schedule = _schedule_of(version)
    periods = [_period(ln, start, end) for ln in members]
    together = kind == "household" and len(members) > 1
    pairs = [(ln.number, ln.value) for ln in members]
    if len(set(periods)) == 1:
        result = fees.calculate(schedule, pairs, householding=together, period=periods[0])
        period_fees = [f.period_fee for f in result.accounts]
        steps = list(result.steps)
    else:  # a household whose accounts bill different days: the annual shares, each for its days
        whole = fees.Period(frequency=version.frequency)
        result = fees.calculate(schedule, pairs, householding=together, period=whole)
        skip = f"{fees.period_factor(whole)[1]}."
        period_fees = []
        steps = [s for s in result.steps if s != skip and not s.startswith(("Shares:", "Total:"))]
        for share, period in zip(result.accounts, periods, strict=True):
            factor, words = fees.period_factor(period)
            period_fees.append(fees.cents(share.annual_fee * factor))
            steps.append(f"{share.ref}: {formats.amount(share.annual_fee)} a year; {words}.")
    for line, share, period_fee in zip(members, result.accounts, period_fees, strict=True):
        line.annual_fee, line.period_fee = share.annual_fee, period_fee
        line.steps.extend(steps)
        if together:
            line.steps.append(f"This account's share: {formats.amount(period_fee)} {line.currency} this period.")
        line.details["unit"] = "household" if together else "account"
        line.details["lines"] = [
            {"from": str(x.start), "to": None if x.end is None else str(x.end),
             "annual_rate_pct": str(x.annual_rate_pct), "base": str(x.base), "annual_fee": str(x.annual_fee)}
            for x in result.lines
        ]  # fmt: skip
        if line.cap_pct is not None:
            factor, _ = fees.period_factor(_period(line, start, end))
            cap_annual = line.value * line.cap_pct / 100
            cap = fees.cents(cap_annual * factor)
            if line.period_fee > cap:
                line.steps.append(
                    f"Capped: the fee cap of {formats.quantity(line.cap_pct)} % a year of the value allows "
                    f"{formats.amount(cap)} this period, so {formats.amount(line.period_fee)} is lowered to it."
                )
                line.details["cap"] = {"pct": str(line.cap_pct), "period_cap": str(cap), "before": str(line.period_fee)}
                line.period_fee, line.annual_fee = cap, fees.cents(cap_annual)


def _already_billed(run: FeeRun, lines: list[LinePlan], find: Any) -> None:
    """What posted runs already billed each account: for this period (subtracted) and for other,
    overlapping periods (the line is held back)."""
    ids = [ln.account_id for ln in lines if ln.status == LineStatus.BILLED]
    posted = FeeLine.objects.filter(account_id__in=ids, posted_amount__isnull=False).exclude(run=run)
    same = dict(
        posted.filter(run__period_start=run.period_start, run__period_end=run.period_end)
        .values_list("account_id")
        .annotate(total=Sum("posted_amount"))
        .order_by()
    )
    overlapping = dict(
        posted.filter(run__period_start__lte=run.period_end, run__period_end__gte=run.period_start)
        .exclude(run__period_start=run.period_start, run__period_end=run.period_end)
        .values_list("account_id", "run_id")
        .order_by()
    )
    for line in lines:
        if line.status != LineStatus.BILLED:
            continue
        if line.account_id in overlapping:
            line.status = LineStatus.OVERLAP
            line.steps.append(
                f"Already billed for days of this period by FEE-{overlapping[line.account_id]}, a run of another "
                "period: not billed again."
            )
            find("overlap", "error", "Accounts already billed for part of this period by another run (not billed).",
                 line.number)  # fmt: skip
            continue
        before = same.get(line.account_id, ZERO)
        if before:
            line.previously_billed = before
            line.steps.append(
                f"Already billed for this period: {formats.amount(before)}; this run posts the difference, "
                f"{formats.amount(line.period_fee - before)}."
            )


def _sums(rows: Any) -> dict[tuple[int, str], Decimal]:
    """The amounts of ``rows`` summed by account and currency (one GROUP BY)."""
    grouped = rows.values_list("account_id", "currency").annotate(total=Sum("amount")).order_by()
    return {(pk, currency): total for pk, currency, total in grouped.values_list("account_id", "currency", "total")}


def _audit_cash_and_change(run: FeeRun, lines: list[LinePlan], find: Any) -> None:
    """Accounts whose cash would not cover what they pay, and fees that changed by more than the
    firm's alert against the account's previous bill."""
    billed = [ln for ln in lines if ln.status == LineStatus.BILLED]
    owed: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for line in billed:
        if line.period_fee - line.previously_billed > 0:
            owed[(line.payer_id or line.account_id, line.currency)] += line.period_fee - line.previously_billed
    payers = sorted({pk for pk, _ in owed})
    postings, holds = (
        LedgerPosting.objects.filter(ledger_account="cash"),
        CashHold.objects.filter(released_at__isnull=True),
    )
    if len(payers) <= 2000:  # else one scan of the firm's cash beats probing its index for each of 20,000 accounts
        postings, holds = postings.filter(account_id__in=payers), holds.filter(account_id__in=payers)
    cash, held = _sums(postings), _sums(holds)
    short = {key for key, need in owed.items() if cash.get(key, ZERO) - held.get(key, ZERO) < need}
    for line in billed:
        if (line.payer_id or line.account_id, line.currency) in short:
            line.status = LineStatus.NO_CASH
            line.steps.append("Not enough cash to pay this fee: held back (posting tries again).")
            find("no_cash", "error", "Accounts whose cash does not cover the fee (held back, never overdrawn).",
                 line.number)  # fmt: skip

    alert = settings_of().change_alert_pct
    previous = dict(
        FeeLine.objects.filter(
            account_id__in=[ln.account_id for ln in billed], posted_amount__isnull=False,
            run__period_end__lt=run.period_start,
        )
        .order_by("account_id", "-run__period_end", "-run_id")
        .distinct("account_id")
        .values_list("account_id", "period_fee")
    )  # fmt: skip
    for line in billed:
        before = previous.get(line.account_id)
        if before and abs(line.period_fee - before) * 100 > alert * before:
            change = (line.period_fee - before) / before * 100
            line.details["previous_bill"] = str(before)
            find("changed", "warning", f"Fees that changed by more than {formats.quantity(alert)} % against the "
                 "account's previous bill.", line.number)  # fmt: skip
            line.steps.append(f"Previous bill {formats.amount(before)}: a change of {change:+.1f} %.")
