"""Every write of CRM data."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from crm.models import Contact, Household, HouseholdMember


@transaction.atomic
def contact_create(*, actor: Any, first_name: str, last_name: str, **fields: Any) -> Contact:
    contact = Contact(first_name=first_name, last_name=last_name, **fields)
    contact.full_clean()
    contact.save()
    return contact


@transaction.atomic
def household_create(*, actor: Any, name: str, head: Contact, members: list[Contact] = ()) -> Household:  # type: ignore[assignment]
    household = Household(name=name, head=head)
    household.full_clean()
    household.save()
    for contact in {head, *members}:
        member = HouseholdMember(household=household, contact=contact)
        member.full_clean()
        member.save()
    return household
