"""The one place that answers "may this user do X?" and "on which client accounts?".

Views, API endpoints, selectors and background jobs ask here; nothing else decides access.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, Q, QuerySet

from accounts.models import AccountScope, GrantAccount, GrantGroup, GrantHousehold
from accounts.rights import Right
from accounts.selectors import user_grants
from crm.models import GroupMember, HouseholdMember

M = TypeVar("M", bound=Model)


def has_right(user: Any, right: Right) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return right in user_grants(user=user)


def _selected(user: Any, right: Right) -> tuple[bool, int | None]:
    """(allowed at all, the grant id when its scope is a selection; None for every client)."""
    grant = user_grants(user=user).get(right) if getattr(user, "is_authenticated", False) else None
    if grant is None:
        return False, None
    grant_id, scope = grant
    return True, (None if scope == AccountScope.ALL else grant_id)


def scope_accounts(accounts: QuerySet[M], *, user: Any, right: Right, account_field: str = "pk") -> QuerySet[M]:
    """Only the rows whose client account lies in the user's scope for ``right``.

    ``account_field`` names the account on the rows (``"pk"`` for accounts themselves). Without the
    right, nothing. With a selected scope: the chosen accounts, every account of the chosen
    households and every account owned by a contact of the chosen groups, as subqueries of the
    same SQL statement (no extra round trip).
    """
    from portfolios.models import AccountOwner

    allowed, grant_id = _selected(user, right)
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


def scope_contacts(
    contacts: QuerySet[M], *, user: Any, right: Right = Right.CRM, contact_field: str = "pk"
) -> QuerySet[M]:
    """Only the rows whose contact lies in the user's scope for ``right``: with a selected scope,
    the contacts of the chosen groups and households and the owners of the chosen accounts (and of
    the chosen households' accounts)."""
    from portfolios.models import AccountOwner, ClientAccount

    allowed, grant_id = _selected(user, right)
    if not allowed:
        return contacts.none()
    if grant_id is None:
        return contacts
    groups = GrantGroup.objects.filter(grant_id=grant_id).values("group_id")
    households = GrantHousehold.objects.filter(grant_id=grant_id).values("household_id")
    accounts = ClientAccount.objects.filter(
        Q(pk__in=GrantAccount.objects.filter(grant_id=grant_id).values("account_id")) | Q(household_id__in=households)
    )
    return contacts.filter(
        Q(**{f"{contact_field}__in": GroupMember.objects.filter(group_id__in=groups).values("contact_id")})
        | Q(
            **{f"{contact_field}__in": HouseholdMember.objects.filter(household_id__in=households).values("contact_id")}
        )
        | Q(
            **{
                f"{contact_field}__in": AccountOwner.objects.filter(account__in=accounts.values("pk")).values(
                    "contact_id"
                )
            }
        )
    )
