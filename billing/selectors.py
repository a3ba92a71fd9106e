"""Every read of fee billing, given the user: accounts and households in the user's scope for the
Fee Administration right (another firm's, or one outside the scope, is the same "not found")."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Prefetch, QuerySet
from django.utils import timezone

from accounts.policy import grant_scope
from accounts.rights import Right
from billing.models import FeeAssignment, FeeLine, FeeRun, FeeSchedule, FeeScheduleVersion
from crm.models import Household
from portfolios.models import ClientAccount
from portfolios.scope import scope_accounts

RIGHT = Right.FEE_ADMINISTRATION


def whole_firm(user: Any) -> bool:
    """Whether the user's Fee Administration scope is the whole firm."""
    allowed, grant_id = grant_scope(user, RIGHT)
    return bool(allowed) and grant_id is None


def accounts(*, user: Any) -> QuerySet[ClientAccount]:
    return scope_accounts(ClientAccount.objects.filter(is_master=False), user=user, right=RIGHT)


def accounts_numbered(*, user: Any, numbers: list[str]) -> tuple[list[ClientAccount], list[str]]:
    """The accounts of ``numbers`` in the user's scope, and the numbers not found."""
    found = {a.number: a for a in accounts(user=user).filter(number__in=numbers)}
    return [found[n] for n in numbers if n in found], [n for n in numbers if n not in found]


def households_of(*, user: Any, accounts_: list[ClientAccount]) -> list[Household]:
    """The households of ``accounts_`` whose every account is in the user's scope (billing a
    household together reaches all its accounts, so a partly visible one is not offered)."""
    ids = {a.household_id for a in accounts_ if a.household_id}
    if not ids:
        return []
    visible = dict(
        accounts(user=user).filter(household_id__in=ids).values_list("household_id").annotate(n=Count("id")).order_by()
    )
    total = dict(
        ClientAccount.objects.filter(household_id__in=ids, is_master=False)
        .values_list("household_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    whole = [pk for pk in ids if visible.get(pk) == total.get(pk)]
    return list(Household.objects.filter(pk__in=whole).order_by("name"))


def household_get(*, user: Any, pk: Any) -> Household:
    """A household all of whose accounts the user sees (else ``Household.DoesNotExist``)."""
    household = Household.objects.get(pk=pk)
    members = list(ClientAccount.objects.filter(household=household, is_master=False))
    if not members or households_of(user=user, accounts_=members) != [household]:
        raise Household.DoesNotExist
    return household


def schedules() -> list[FeeSchedule]:
    """Every schedule with its versions (newest first), the version in effect today (``current``;
    the first one while none is yet), the next one to take effect (``upcoming``, or None) and how
    many assignments use it."""
    newest_first = FeeScheduleVersion.objects.order_by("-effective_from")
    counts = dict(FeeAssignment.objects.values_list("schedule_id").annotate(n=Count("id")).order_by())
    rows = list(FeeSchedule.objects.prefetch_related(Prefetch("versions", queryset=newest_first)))
    today = timezone.localdate()
    for row in rows:
        row.assigned = counts.get(row.pk, 0)
        versions = list(row.versions.all())
        later = [v for v in versions if v.effective_from > today]
        row.current = next((v for v in versions if v.effective_from <= today), versions[-1] if versions else None)
        row.upcoming = next((v for v in reversed(later) if v is not row.current), None)
    return rows


def assignments(*, user: Any, schedule: FeeSchedule) -> QuerySet[FeeAssignment]:
    rows = FeeAssignment.objects.filter(schedule=schedule).select_related("account", "household", "payer")
    if whole_firm(user):
        return rows
    visible = accounts(user=user)
    return rows.filter(account__in=visible) | rows.filter(household__in=visible.values("household_id"))


def runs(*, user: Any) -> QuerySet[FeeRun]:
    """The fee runs the user may read. A run's totals and pre-bill audit cover all its accounts, so
    a user whose scope is a selection sees only the runs of chosen accounts all inside it."""
    found = FeeRun.objects.select_related("job", "prepared_by", "approved_by", "posted_by")
    if whole_firm(user):
        return found
    numbers = list(accounts(user=user).values_list("number", flat=True))
    return found.exclude(account_numbers=[]).filter(account_numbers__contained_by=numbers)


def run_lines(*, user: Any, run: FeeRun, status: str = "") -> QuerySet[FeeLine]:
    lines = run.lines.select_related("account", "payer", "household", "version__schedule").order_by("account__number")
    if status:
        lines = lines.filter(status=status)
    return scope_accounts(lines, user=user, right=RIGHT, account_field="account")


def account_billing(*, account: ClientAccount) -> dict[str, Any]:
    """What bills an account: its own assignment and its household's."""
    return {
        "own": FeeAssignment.objects.filter(account=account).select_related("schedule").first(),
        "household": FeeAssignment.objects.filter(household_id=account.household_id).select_related("schedule").first()
        if account.household_id
        else None,
        "default": FeeSchedule.objects.filter(is_default=True).first(),
    }
