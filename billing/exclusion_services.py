"""The writes of exclusions and flow thresholds (``billing.exclusions`` says what they mean): a
schedule or a new version with its exclusions and flow threshold, and assignments with their
exclusions, each wrapping the schedule service it extends in one transaction (its rules and
audited refusals hold). Fee Administration; keyword-only, ``full_clean()``."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from billing import services
from billing.exclusions import clean
from billing.models import FeeAssignment, FeeLine, FeeSchedule, FeeScheduleVersion
from portfolios.models import ClientAccount

# --- Writes --------------------------------------------------------------------------------------


def _decimal_or_none(value: Any, field: str) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value).replace(",", "").strip().rstrip("%"))
    except InvalidOperation:
        raise ValidationError({field: "Type a number, e.g. 100,000.00."}) from None
    if not number.is_finite() or number < 0:
        raise ValidationError({field: "The threshold is zero or more."})
    return number


def _extras(exclusions: Any, flow_threshold_amount: Any, flow_threshold_pct: Any) -> dict[str, Any]:
    amount = _decimal_or_none(flow_threshold_amount, "flow_threshold_amount")
    pct = _decimal_or_none(flow_threshold_pct, "flow_threshold_pct")
    if amount is not None and pct is not None:
        raise ValidationError({"flow_threshold_pct": "Give the flow threshold as an amount or as a percentage of "
                               "the value, not both."})  # fmt: skip
    return {"exclusions": clean(exclusions), "flow_threshold_amount": amount, "flow_threshold_pct": pct}


def _apply(version: FeeScheduleVersion, extras: dict[str, Any]) -> FeeScheduleVersion:
    for name, value in extras.items():
        setattr(version, name, value)
    version.full_clean(exclude=["schedule"])
    version.save(update_fields=list(extras))
    return version


@transaction.atomic
def schedule_create(
    *, actor: Any, exclusions: Any = None, flow_threshold_amount: Any = None, flow_threshold_pct: Any = None,
    **fields: Any,
) -> FeeSchedule:  # fmt: skip
    """``services.schedule_create`` with its first version's exclusions and flow threshold."""
    extras = _extras(exclusions, flow_threshold_amount, flow_threshold_pct)
    schedule = services.schedule_create(actor=actor, **fields)
    _apply(schedule.versions.get(), extras)
    return schedule


@transaction.atomic
def version_add(
    *, actor: Any, schedule: FeeSchedule, exclusions: Any = None, flow_threshold_amount: Any = None,
    flow_threshold_pct: Any = None, **terms: Any,
) -> FeeScheduleVersion:  # fmt: skip
    """``services.version_add`` (its rules and audited refusals) with exclusions and a flow threshold."""
    extras = _extras(exclusions, flow_threshold_amount, flow_threshold_pct)
    return _apply(services.version_add(actor=actor, schedule=schedule, **terms), extras)


@services.audited_refusals
@transaction.atomic
def version_extras_set(
    *, actor: Any, version: FeeScheduleVersion, exclusions: Any = None, flow_threshold_amount: Any = None,
    flow_threshold_pct: Any = None,
) -> FeeScheduleVersion:  # fmt: skip
    """Change a version's exclusions and flow threshold while nothing posted was billed on it (after
    that, what was billed stays what the version said: add a new version instead)."""
    version = FeeScheduleVersion.objects.select_for_update().get(pk=version.pk)
    if FeeLine.objects.filter(version=version, posted_amount__isnull=False).exists():
        raise services.Refused(version.schedule, "version", "Fees posted on this version were billed with its "
                               "exclusions: add a new version from a date instead.")  # fmt: skip
    return _apply(version, _extras(exclusions, flow_threshold_amount, flow_threshold_pct))


@transaction.atomic
def assign(
    *, actor: Any, exclusions: Any = None, accounts: list[ClientAccount] | tuple[()] = (),
    households: list[Any] | tuple[()] = (), **fields: Any,
) -> int:  # fmt: skip
    """``services.assign`` with the exclusions of the accounts or households assigned."""
    cleaned = clean(exclusions)
    count = services.assign(actor=actor, accounts=accounts, households=households, **fields)
    rows = FeeAssignment.objects.filter(account__in=list(accounts)) | FeeAssignment.objects.filter(
        household__in=list(households)
    )
    for row in rows:
        row.exclusions, row.updated_by = cleaned, actor
        row.full_clean()
        row.save(update_fields=["exclusions", "updated_by", "updated_at"])
    return count


@transaction.atomic
def assignment_exclusions_set(*, actor: Any, assignment: FeeAssignment, exclusions: Any) -> FeeAssignment:
    """Replace an assignment's exclusions (the next run bills with them; a re-run of a posted
    period posts the difference)."""
    row = FeeAssignment.objects.select_for_update().get(pk=assignment.pk)
    row.exclusions, row.updated_by = clean(exclusions), actor
    row.full_clean()
    row.save(update_fields=["exclusions", "updated_by", "updated_at"])
    return row
