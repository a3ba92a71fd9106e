"""Allocation at a period's end (issue #19, point 1): by asset class, sector, region and currency,
cash its own line, Unclassified where a security has no sector or region, hand-computed; the page
and the API; a past end; scope (another firm, another user's scope: 404)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from accounts import services as account_services
from accounts.models import AccountScope
from accounts.rights import Role
from portfolios import aum, services
from portfolios import performance as daily_values
from portfolios.models import ClientAccount, Security
from reports import allocation, selectors
from tests.conftest import Persona
from tests.factories import HouseholdFactory, UserFactory
from tests.factories_portfolios import ClientAccountFactory, FxRateFactory, SecurityFactory, SecurityPriceFactory

pytestmark = pytest.mark.django_db
D = Decimal
MON, TUE, WED = date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 5)
API = "/api/v1/reports/performance/"


def record(account: ClientAccount, kind: str, day: date, **kwargs: Any) -> None:
    services.transaction_record(actor=None, account=account, kind=kind, trade_date=day, **kwargs)


def _prices(security: Security, closes: dict[date, str]) -> None:
    for day, close in closes.items():
        SecurityPriceFactory(security=security, date=day, close=D(close))


@pytest.fixture
def book(alice: Persona) -> dict[str, Any]:
    """A household of two USD accounts, valued on Wednesday:

    - A: 8,000 USD and 2,000 EUR deposited; 50 ACME (equity, Technology, North America, USD) bought
      at 100, now 110: 5,500; 40 EURB (fixed income, no sector, Europe, EUR) bought at 50 EUR, still
      50 EUR, with the euro at 1.25 USD on Wednesday (1.20 on Monday): 40 x 50 x 1.25 = 2,500;
      cash 3,000 USD (the euros all spent).
    - B: 2,000 deposited; 10 NOSECT (a fund with no sector and no region) bought at 100, still 100:
      1,000; cash 1,000.

    Total 13,000: equity 5,500, cash 4,000, fixed income 2,500, fund 1,000."""
    acme = SecurityFactory(symbol="ACME", asset_class="equity", sector="Technology", region="North America")
    eurb = SecurityFactory(symbol="EURB", asset_class="fixed_income", currency="EUR", sector="", region="Europe")
    nosect = SecurityFactory(symbol="NOSECT", asset_class="fund", sector="", region="")
    _prices(acme, {MON: "100", TUE: "104", WED: "110"})
    _prices(eurb, {MON: "50", WED: "50"})
    _prices(nosect, {MON: "100", WED: "100"})
    FxRateFactory(currency="EUR", date=MON, rate_to_usd=D("1.20"))
    FxRateFactory(currency="EUR", date=WED, rate_to_usd=D("1.25"))
    with alice.scope():
        household = HouseholdFactory(name="Able household")
        a = ClientAccountFactory(number="A1", household=household)
        b = ClientAccountFactory(number="B1", household=household)
        record(a, "deposit", MON, amount=D(8000))
        record(a, "deposit", MON, amount=D(2000), currency="EUR")
        record(a, "buy", MON, security=acme, quantity=D(50), price=D(100))
        record(a, "buy", MON, security=eurb, quantity=D(40), price=D(50))
        record(b, "deposit", MON, amount=D(2000))
        record(b, "buy", MON, security=nosect, quantity=D(10), price=D(100))
        daily_values.recompute_full(end=WED)
        aum.refresh()  # the firm's stored sums (done after commit by a task in production)
    return {"household": household, "a": a, "b": b}


def lines(breakdown: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(x["label"], x["value"], x["weight"]) for x in breakdown["lines"]]


def test_allocation_by_class_sector_region_and_currency(alice: Persona, book: dict[str, Any]) -> None:
    body = alice.api().get(API, {"household": book["household"].pk}).json()
    result = body["allocation"]
    assert (result["as_of"], result["currency"], result["total"]) == ("2025-03-05", "USD", "13000.00")
    # The total is the household's value at the same close.
    assert next(p for p in body["periods"] if p["code"] == "ITD")["end_value"] == "13000.00"
    by = {b["key"]: b for b in result["breakdowns"]}
    w = lambda value: str((D(value) / D(13000)).quantize(D("1e-10")))  # noqa: E731
    assert lines(by["asset_class"]) == [
        ("Equity", "5500.00", w("5500")),
        ("Fixed income", "2500.00", w("2500")),
        ("Fund / ETF", "1000.00", w("1000")),
        ("Cash", "4000.00", w("4000")),
    ]
    assert lines(by["sector"]) == [
        ("Technology", "5500.00", w("5500")),
        ("Unclassified", "3500.00", w("3500")),
        ("Cash", "4000.00", w("4000")),
    ]
    assert lines(by["region"]) == [
        ("North America", "5500.00", w("5500")),
        ("Europe", "2500.00", w("2500")),
        ("Unclassified", "1000.00", w("1000")),
        ("Cash", "4000.00", w("4000")),
    ]
    # By currency the cash counts in the currency it is held in (the euros were all spent).
    assert lines(by["currency"]) == [("USD", "10500.00", w("10500")), ("EUR", "2500.00", w("2500"))]
    assert [x["cash_value"] for x in by["currency"]["lines"]] == ["4000.00", "0.00"]
    assert [x["cash"] for x in by["asset_class"]["lines"]] == [False, False, False, True]
    for breakdown in by.values():
        assert sum(D(x["weight"]) for x in breakdown["lines"]) == pytest.approx(D(1), abs=D("1e-9"))
    assert result["notes"] == []


def test_allocation_at_a_past_end_uses_that_days_holdings_and_prices(alice: Persona, book: dict[str, Any]) -> None:
    """As of Tuesday: ACME at 104 (5,200), EURB at Monday's 50 EUR and rate 1.20 carried (2,400),
    NOSECT 1,000, cash 4,000: 12,600. A sale on Wednesday is not in Tuesday's holdings."""
    with alice.scope():
        acme = Security.objects.get(symbol="ACME")
        record(book["a"], "sell", WED, security=acme, quantity=D(50), price=D(110))
        daily_values.recompute_full(end=WED)
        subject = selectors.performance_household(user=alice.user, pk=book["household"].pk)
        on_tuesday = allocation.allocation(subject=subject, as_of=TUE)
        on_wednesday = allocation.allocation(subject=subject, as_of=WED)
    assert on_tuesday.total == D("12600.00")
    classes = {line.label: line.value for line in on_tuesday.breakdowns[0].lines}
    assert classes == {"Equity": D("5200.00"), "Fixed income": D("2400.00"), "Fund / ETF": D("1000.00"),
                       "Cash": D("4000.00")}  # fmt: skip
    assert {line.label: line.value for line in on_wednesday.breakdowns[0].lines} == {
        "Cash": D("9500.00"), "Fixed income": D("2500.00"), "Fund / ETF": D("1000.00"),
    }  # fmt: skip
    body = alice.api().get(API, {"household": book["household"].pk, "end": "2025-03-04"}).json()
    assert body["allocation"]["as_of"] == "2025-03-04" and body["allocation"]["total"] == "12600.00"


def test_one_account_a_group_and_the_firm(alice: Persona, book: dict[str, Any]) -> None:
    account = alice.api().get(API, {"account": book["b"].pk}).json()["allocation"]
    assert account["total"] == "2000.00"
    assert lines(account["breakdowns"][1]) == [("Unclassified", "1000.00", "0.5000000000"),
                                               ("Cash", "1000.00", "0.5000000000")]  # fmt: skip
    firm = alice.api().get(API, {"firm": "true"}).json()["allocation"]
    assert firm["total"] == "13000.00"


def test_the_page_shows_the_tables_and_an_accessible_chart_without_script(alice: Persona, book: dict[str, Any]) -> None:
    html = alice.client().get(f"/reports/performance/household/{book['household'].pk}/").content.decode()
    for text in ("Allocation at the close of Mar 5, 2025", "By asset class", "By sector", "By region",
                 "By currency", "Unclassified", "of which cash 4,000.00 USD", "42.31 %",
                 'role="img" aria-label="Asset class: Equity 42.31 %'):  # fmt: skip
        assert text in html, text
    assert "<script" not in html.split("<main", 1)[-1]
    assert " style=" not in html.split("<main", 1)[-1]


def test_out_of_scope_and_other_firm_get_404(alice: Persona, charlie: Persona, book: dict[str, Any]) -> None:
    for query in ({"account": book["a"].pk}, {"household": book["household"].pk}):
        assert charlie.api().get(API, query).status_code == 404
    with alice.scope():
        analyst = UserFactory(firm=alice.firm, email="erin@alpha.test", role=Role.ADVISOR)
        account_services.account_scope_set(
            actor=alice.user, user=analyst, scope=AccountScope.SELECTED, account_ids=frozenset({book["b"].pk})
        )
    erin = Persona(analyst, alice.firm)
    assert erin.api().get(API, {"account": book["a"].pk}).status_code == 404
    assert erin.client().get(f"/reports/performance/account/{book['a'].pk}/").status_code == 404
    # The household, as Erin sees it, is B alone; the firm likewise.
    assert erin.api().get(API, {"household": book["household"].pk}).json()["allocation"]["total"] == "2000.00"
    assert erin.api().get(API, {"firm": "true"}).json()["allocation"]["total"] == "2000.00"
