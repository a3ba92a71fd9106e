"""The demo generator builds reconciled, deterministic portfolios owned by the firm's contacts."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from devtools.demo.portfolios import seed_portfolios
from portfolios import performance, selectors
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


def test_demo_benchmarks_follow_the_market(alice: Persona) -> None:
    """The demo seeds two benchmark indexes for every business day; the equity index moves with
    the equity market (positively correlated with SPY), the bond index barely moves."""
    with alice.scope():
        seed_portfolios(firm=alice.firm, accounts=1, years=1, seed=1, end=END)
    spx = performance.benchmark_history(symbol="SPX-DEMO")
    agg = performance.benchmark_history(symbol="AGG-DEMO", start=date(2025, 1, 1))
    days = [d.item() for d in performance.business_days(END.replace(year=2024), END)]
    assert [d for d, _ in spx][-len(days) + 1 :] == days[-len(days) + 1 :] and spx[-1][0] == END
    assert agg[0][0] == date(2025, 1, 1) and all(level > 0 for _, level in agg)
    spy = dict(SecurityPrice.objects.filter(security__symbol="SPY").values_list("date", "close"))
    spx_returns = np.diff(np.log([float(level) for _, level in spx]))
    spy_returns = np.diff(np.log([float(spy[day]) for day, _ in spx]))
    assert np.corrcoef(spx_returns, spy_returns)[0, 1] > 0.5
    agg_all = [float(level) for _, level in performance.benchmark_history(symbol="AGG-DEMO")]
    assert np.std(np.diff(np.log(agg_all))) < np.std(spx_returns) / 2
