"""Which contacts a user's grant covers (layer 5's scope for the CRM, applied to querysets).

The owners of chosen accounts are in scope too; accounts live above the CRM, so that part is
asked of ``portfolios.selectors`` (the one way the CRM uses portfolios).
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, Q, QuerySet

from accounts.models import GrantGroup, GrantHousehold
from accounts.policy import grant_scope
from accounts.rights import Right
from crm.models import GroupMember, HouseholdMember
from portfolios import selectors as portfolio_selectors

M = TypeVar("M", bound=Model)


def scope_contacts(
    contacts: QuerySet[M], *, user: Any, right: Right = Right.CRM, contact_field: str = "pk"
) -> QuerySet[M]:
    """Only the rows whose contact lies in the user's scope for ``right``: with a selected scope,
    the contacts of the chosen groups and households and the owners of the chosen accounts (and of
    the chosen households' accounts)."""
    allowed, grant_id = grant_scope(user, right)
    if not allowed:
        return contacts.none()
    if grant_id is None:
        return contacts
    groups = GrantGroup.objects.filter(grant_id=grant_id).values("group_id")
    households = GrantHousehold.objects.filter(grant_id=grant_id).values("household_id")
    field = f"{contact_field}__in"
    return contacts.filter(
        Q(**{field: GroupMember.objects.filter(group_id__in=groups).values("contact_id")})
        | Q(**{field: HouseholdMember.objects.filter(household_id__in=households).values("contact_id")})
        | Q(**{field: portfolio_selectors.owners_in_grant(grant_id)})
    )
