"""factory_boy factories of portfolio data. Firm-owned objects take their firm from the current
``firm_scope``; securities, prices and FX rates are global reference data."""

from __future__ import annotations

from datetime import date
from typing import Any

import factory

from portfolios.models import AccountOwner, AccountType, ClientAccount, FxRate, Security, SecurityPrice
from tests.factories import ContactFactory


class SecurityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Security
        django_get_or_create = ("symbol",)

    symbol = factory.Sequence(lambda n: f"TST{n}")
    name = factory.LazyAttribute(lambda o: f"{o.symbol} Corp.")
    asset_class = "equity"
    currency = "USD"
    sector = "Technology"
    region = "North America"
    country = "US"


class SecurityPriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SecurityPrice

    security = factory.SubFactory(SecurityFactory)
    date = date(2025, 1, 6)
    close = 100


class FxRateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FxRate
        django_get_or_create = ("currency", "date")

    currency = "EUR"
    date = date(2025, 1, 6)
    rate_to_usd = 1


class ClientAccountFactory(factory.django.DjangoModelFactory):
    """An open individual account with one owner (a new active contact unless ``owners`` is given)."""

    class Meta:
        model = ClientAccount
        skip_postgeneration_save = True

    number = factory.Sequence(lambda n: f"U{1000000 + n}")
    title = factory.Sequence(lambda n: f"Account {n}")
    account_type = AccountType.INDIVIDUAL
    inception_date = date(2025, 1, 2)

    @factory.post_generation
    def owners(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if not create:
            return
        for index, contact in enumerate(extracted if extracted is not None else [ContactFactory()]):
            AccountOwner.objects.create(account=self, contact=contact, role="primary" if index == 0 else "joint")
