"""The dashboard's AUM panel: the firm's stored sums (``AumDay``) equal the accounts' own daily
values added up, a selected scope sums only its accounts (computed on the fly), the year-to-date
return chains the summed values' daily returns, and the panel and the master account balance
show only with Activity Statements or PortfolioAnalyst."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from accounts import services as account_services
from accounts.models import AccountScope
from accounts.rights import Right, Role
from portfolios import aum, performance, services
from portfolios.models import AumDay, ClientAccount
from tests.conftest import Persona, dashboard_html
from tests.factories import UserFactory
from tests.factories_portfolios import ClientAccountFactory, SecurityFactory, SecurityPriceFactory

pytestmark = pytest.mark.django_db
D = Decimal
DEC29, DEC30, DEC31, JAN1, JAN2 = (
    date(2025, 12, 29),
    date(2025, 12, 30),
    date(2025, 12, 31),
    date(2026, 1, 1),
    date(2026, 1, 2),
)


def record(account: ClientAccount, kind: str, day: date, **kwargs: object) -> None:
    services.transaction_record(actor=None, account=account, kind=kind, trade_date=day, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def book(firm_a: Any, alice: Persona, django_capture_on_commit_callbacks: Any) -> dict[str, Any]:
    """A: 1,000 deposited and 10 ACME bought at 100 on Dec 29; ACME 110 on Jan 1, 121 on Jan 2.
    B: 500 cash deposited on Dec 31, 100 withdrawn on Jan 2. Summed: 1000, 1000, 1500, 1600, 1610."""
    acme = SecurityFactory(symbol="ACME")
    for day, close in ((DEC29, "100"), (DEC30, "100"), (DEC31, "100"), (JAN1, "110"), (JAN2, "121")):
        SecurityPriceFactory(security=acme, date=day, close=D(close))
    with alice.scope():
        a = ClientAccountFactory(base_currency="USD", is_master=True, title="Master of Alpha")
        b = ClientAccountFactory(base_currency="USD")
        record(a, "deposit", DEC29, amount=D(1000))
        record(a, "buy", DEC29, security=acme, quantity=D(10), price=D(100))
        record(b, "deposit", DEC31, amount=D(500))
        record(b, "withdrawal", JAN2, amount=D(100))
        with django_capture_on_commit_callbacks(execute=True) as queued:
            performance.recompute_full(end=JAN2)
        assert queued, "the recompute queues the AUM refresh after commit"
        rights = frozenset({Right.CRM, Right.ACCOUNT_INFORMATION, Right.PORTFOLIO_ANALYST})
        dana = UserFactory(firm=firm_a, email="dana@alpha.test", role=Role.STAFF, rights=rights)
        account_services.account_scope_set(
            actor=alice.user, user=dana, scope=AccountScope.SELECTED, account_ids=frozenset({a.pk})
        )
    return {"a": a, "b": b, "dana": Persona(dana, firm_a)}


def test_the_stored_sums_are_the_accounts_values_added_up(alice: Persona, book: dict[str, Any]) -> None:
    with alice.scope():
        stored = {(r.currency, r.date): (r.nav, r.net_flow) for r in AumDay.objects.all()}
        expected: dict[tuple[str, date], list[float]] = defaultdict(lambda: [0.0, 0.0])
        for account in (book["a"], book["b"]):
            for v in performance.value_history(account=account):
                expected[("USD", v.date)][0] += float(v.nav)
                expected[("USD", v.date)][1] += float(v.net_flow)
        assert stored == {key: (nav, flow) for key, (nav, flow) in expected.items()}
        assert [stored[("USD", d)][0] for d in (DEC29, DEC30, DEC31, JAN1, JAN2)] == [1000, 1000, 1500, 1600, 1610]
        # A refresh from a day rewrites only from there, to the same values.
        assert aum.refresh(start=JAN1) == 2
        assert {(r.currency, r.date): (r.nav, r.net_flow) for r in AumDay.objects.all()} == stored


def test_year_to_date_chains_the_summed_daily_returns(alice: Persona, book: dict[str, Any]) -> None:
    with alice.scope():
        history = aum.history(user=alice.user, right=Right.ACTIVITY_STATEMENTS, today=JAN2)
    assert history is not None
    # Jan 1: 1600 / 1500; Jan 2: (1610 + 100) / 1600; together 1.14.
    assert history.ytd_return == D("0.140000")
    assert [(p.date, p.nav) for p in history.points][-2:] == [(JAN1, D("1600.00")), (JAN2, D("1610.00"))]
    chart = aum.chart(history)
    assert chart is not None and chart.bands[-1].point.date == JAN2 and chart.high == D("1610.00")


def test_a_selected_scope_sums_only_its_accounts(book: dict[str, Any]) -> None:
    dana = book["dana"]
    with dana.scope():
        history = aum.history(user=dana.user, right=Right.PORTFOLIO_ANALYST, today=JAN2)
        assert history is not None
        assert [p.nav for p in history.points] == [D("1000.00"), D("1000.00"), D("1000.00"), D("1100.00"), D("1210.00")]
        assert history.ytd_return == D("0.210000")
        # Without the right's grant: nothing.
        assert aum.history(user=dana.user, right=Right.ACTIVITY_STATEMENTS, today=JAN2) is None


def test_the_panels_need_activity_statements_or_portfolioanalyst(
    alice: Persona, bob: Persona, charlie: Persona, book: dict[str, Any]
) -> None:
    page = dashboard_html(alice.client())
    assert 'data-panel="aum"' in page and 'data-panel="master"' in page
    assert "1,610 USD" in page  # the latest sum
    assert "Master of Alpha" in page
    dana_page = dashboard_html(book["dana"].client())
    assert 'data-panel="aum"' in dana_page and "1,210 USD" in dana_page and "1,610" not in dana_page
    bob_page = dashboard_html(bob.client())  # CRM only
    assert 'data-panel="aum"' not in bob_page and 'data-panel="master"' not in bob_page
    charlie_page = dashboard_html(charlie.client())  # another firm: none of it
    assert "Master of Alpha" not in charlie_page and "1,610" not in charlie_page
