"""factory_boy factories. Firm-owned objects take their firm from the current ``firm_scope``,
and every related object they create belongs to that same firm."""

from __future__ import annotations

from typing import Any

import factory

from accounts import services as account_services
from accounts.models import Firm, User
from accounts.rights import Role
from crm import services as crm_services
from crm.models import Contact, ContactStatus, Household, HouseholdMember


class FirmFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Firm

    name = factory.Sequence(lambda n: f"Test Firm {n}")
    slug = factory.Sequence(lambda n: f"firm-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    """Users are created through the service, so role presets become access grants."""

    class Meta:
        model = User

    firm = factory.SubFactory(FirmFactory)
    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")
    role = Role.ADVISOR
    password = "correct horse battery staple"

    @classmethod
    def _create(cls, model_class: type[User], *args: Any, **kwargs: Any) -> User:
        return account_services.user_create(**kwargs)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"contact{n}@example.test")
    status = ContactStatus.ACTIVE

    @classmethod
    def _create(cls, model_class: type[Contact], *args: Any, **kwargs: Any) -> Contact:
        # Through the service, so search keys and status dates are written as in the product.
        return crm_services.contact_create(actor=None, **kwargs)


class HouseholdFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Household
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Household {n}")
    head = factory.SubFactory(ContactFactory)

    @factory.post_generation
    def with_head_as_member(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            HouseholdMember.objects.create(household=self, contact=self.head)
