"""Which client accounts a user's grant covers (layer 5's account scope, applied to querysets)."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, Q, QuerySet

from accounts.models import GrantAccount, GrantGroup, GrantHousehold
from accounts.policy import grant_scope
from accounts.rights import Right
from crm.models import GroupMember
from portfolios.models import AccountOwner

M = TypeVar("M", bound=Model)


def scope_accounts(accounts: QuerySet[M], *, user: Any, right: Right, account_field: str = "pk") -> QuerySet[M]:
    """Only the rows whose client account lies in the user's scope for ``right``.

    ``account_field`` names the account on the rows (``"pk"`` for accounts themselves). Without the
    right, nothing. With a selected scope: the chosen accounts, every account of the chosen
    households and every account owned by a contact of the chosen groups, as subqueries of the
    same SQL statement (no extra round trip).
    """
    allowed, grant_id = grant_scope(user, right)
    if not allowed:
        return accounts.none()
    if grant_id is None:
        return accounts
    prefix = "" if account_field == "pk" else f"{account_field}__"
    chosen = GrantAccount.objects.filter(grant_id=grant_id).values("account_id")
    households = GrantHousehold.objects.filter(grant_id=grant_id).values("household_id")
    group_members = GroupMember.objects.filter(
        group__in=GrantGroup.objects.filter(grant_id=grant_id).values("group_id")
    )
    owned_by_group = AccountOwner.objects.filter(contact__in=group_members.values("contact_id")).values("account_id")
    return accounts.filter(
        Q(**{f"{account_field}__in": chosen})
        | Q(**{f"{prefix}household_id__in": households})
        | Q(**{f"{account_field}__in": owned_by_group})
    )
