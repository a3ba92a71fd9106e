"""The one place that answers "may this user do X?" and "on which client accounts?".

Views, API endpoints, selectors and background jobs ask here; nothing else decides access.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, Q, QuerySet

from accounts.models import AccountScope, GrantAccount, GrantHousehold
from accounts.rights import Right
from accounts.selectors import user_grants

M = TypeVar("M", bound=Model)


def has_right(user: Any, right: Right) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return right in user_grants(user=user)


def scope_accounts(accounts: QuerySet[M], *, user: Any, right: Right, account_field: str = "pk") -> QuerySet[M]:
    """Only the rows whose client account lies in the user's scope for ``right``.

    ``account_field`` names the account on the rows (``"pk"`` for accounts themselves). Without the
    right, nothing. With a selected scope: the chosen accounts plus every account of the chosen
    households, as subqueries of the same SQL statement (no extra round trip).
    """
    grant = user_grants(user=user).get(right) if getattr(user, "is_authenticated", False) else None
    if grant is None:
        return accounts.none()
    grant_id, scope = grant
    if scope == AccountScope.ALL:
        return accounts
    household_field = "household_id" if account_field == "pk" else f"{account_field}__household_id"
    chosen = GrantAccount.objects.filter(grant_id=grant_id).values("account_id")
    households = GrantHousehold.objects.filter(grant_id=grant_id).values("household_id")
    return accounts.filter(Q(**{f"{account_field}__in": chosen}) | Q(**{f"{household_field}__in": households}))
