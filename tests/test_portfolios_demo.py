"""The demo generator builds reconciled, deterministic portfolios owned by the firm's contacts."""

from __future__ import annotations

from datetime import date

import pytest

from portfolios import selectors
from portfolios.demo import seed_portfolios
from portfolios.models import AccountOwner, ClientAccount, DailySeries, Position, SecurityPrice, Transaction
from tests.conftest import Persona
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
END = date(2025, 6, 30)


def fingerprint() -> list[tuple]:
    return list(
        Transaction.objects.order_by("account__number", "id").values_list(
            "account__number", "trade_date", "kind", "security__symbol", "quantity", "amount"
        )
    )


def test_demo_portfolios_reconcile_and_are_reproducible(alice: Persona, charlie: Persona) -> None:
    with alice.scope():
        ContactFactory.create_batch(6)
        assert seed_portfolios(firm=alice.firm, accounts=8, years=1, seed=7, end=END) == 9
        assert ClientAccount.objects.count() == 9 and ClientAccount.objects.filter(is_master=True).count() == 1
        assert AccountOwner.objects.count() == 8
        assert Transaction.objects.count() > 8 * 10
        assert Position.objects.exists() and DailySeries.objects.exists()
        assert selectors.reconciliation_problems() == []
        for account in ClientAccount.objects.exclude(is_master=True):
            assert all(amount >= 0 for amount in selectors.cash_balances(account=account).values())
        first = fingerprint()
        assert seed_portfolios(firm=alice.firm, accounts=8, years=1, seed=7, end=END) == 0  # already seeded
    prices = SecurityPrice.objects.count()
    with charlie.scope():
        ContactFactory.create_batch(6)
        seed_portfolios(firm=charlie.firm, accounts=8, years=1, seed=7, end=END)
        assert fingerprint() == first  # same seed, same activity
    assert SecurityPrice.objects.count() == prices  # shared quotes are created once


def test_demo_without_contacts_creates_only_the_master_account(alice: Persona) -> None:
    with alice.scope():
        assert seed_portfolios(firm=alice.firm, accounts=5, years=1, seed=1, end=END) == 1
        assert list(ClientAccount.objects.values_list("is_master", flat=True)) == [True]
