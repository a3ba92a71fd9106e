"""Contribution by position over a period (issue #19, point 1): each position's gain (price change
plus dividends) over the subject's Modified Dietz capital, hand-computed; the lines add up to the
Modified Dietz return net of fees; top and bottom; the page and the API; bad input; scope."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from portfolios import performance as daily_values
from portfolios import services
from portfolios.models import ClientAccount
from reports import selectors
from reports.allocation import PositionContribution
from tests.conftest import Persona
from tests.factories import HouseholdFactory
from tests.factories_portfolios import ClientAccountFactory, SecurityFactory, SecurityPriceFactory

pytestmark = pytest.mark.django_db
D = Decimal
MON, TUE, WED, THU = date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 5), date(2025, 3, 6)
API = "/api/v1/reports/performance/"
TEN = D("1e-10")


def record(account: ClientAccount, kind: str, day: date, **kwargs: Any) -> None:
    services.transaction_record(actor=None, account=account, kind=kind, trade_date=day, **kwargs)


@pytest.fixture
def book(alice: Persona) -> dict[str, Any]:
    """Mon: 10,000 deposited; 50 ACME and 20 BETA bought at 100 (cash 3,000). Tue: a dividend of 30
    on ACME. Wed: 2,000 deposited; 10 ACME bought at 106, 10 BETA sold at 90. Thu: a fee of 20.
    Closes: ACME 100, 104, 106, 110; BETA 100, 95, 90, 92.

    Thu: ACME 60 x 110 = 6,600, BETA 10 x 92 = 920, cash 3,000 + 30 + 2,000 - 1,060 + 900 - 20 =
    4,850: 12,370. Since inception (from Monday's close, CD = 3 days): gain 12,370 - 10,000 - 2,000
    = 370; the 2,000 of Wednesday (day 2) weighs 1/3, so the capital is 10,000 + 2,000 / 3.

    - ACME: 6,600 - 5,000 + 30 (dividend) - 1,060 (bought) = 570 (50 x 10 + 10 x 4 + 30).
    - BETA: 920 - 2,000 + 900 (sold) = -180 (10 x -10 + 10 x -8).
    - Fees -20; interest 0; the rest 370 - 570 + 180 + 20 = 0."""
    acme = SecurityFactory(symbol="ACME", name="Acme Corp.")
    beta = SecurityFactory(symbol="BETA", name="Beta Inc.")
    for security, closes in ((acme, ("100", "104", "106", "110")), (beta, ("100", "95", "90", "92"))):
        for day, close in zip((MON, TUE, WED, THU), closes, strict=True):
            SecurityPriceFactory(security=security, date=day, close=D(close))
    with alice.scope():
        ClientAccountFactory(number="M1", is_master=True)
        household = HouseholdFactory(name="Able household")
        account = ClientAccountFactory(number="A1", household=household)
        record(account, "deposit", MON, amount=D(10000))
        record(account, "buy", MON, security=acme, quantity=D(50), price=D(100))
        record(account, "buy", MON, security=beta, quantity=D(20), price=D(100))
        record(account, "dividend", TUE, security=acme, amount=D(30))
        record(account, "deposit", WED, amount=D(2000))
        record(account, "buy", WED, security=acme, quantity=D(10), price=D(106))
        record(account, "sell", WED, security=beta, quantity=D(10), price=D(90))
        services.fee_charge(actor=None, account=account, amount="20", currency="USD", trade_date=THU,
                            idempotency_key="f1")  # fmt: skip
        daily_values.recompute_full(end=THU)
    return {"account": account, "household": household, "acme": acme, "beta": beta}


CAPITAL = D(10000) + D(2000) / 3


def share(gain: int | str) -> str:
    return str((D(gain) / CAPITAL).quantize(TEN))


def test_each_positions_gain_over_the_capital_adds_up_to_the_modified_dietz_return(
    alice: Persona, book: dict[str, Any]
) -> None:
    body = alice.api().get(API, {"account": book["account"].pk, "contribution": "ITD"}).json()
    c = body["contribution"]
    assert (c["period"], c["start"], c["end"]) == ("ITD", "2025-03-03", "2025-03-06")
    assert (c["capital"], c["total_gain"]) == ("10666.67", "370.00")
    rows = {p["symbol"]: p for p in c["positions"]}
    assert [p["symbol"] for p in c["positions"]] == ["ACME", "BETA"]  # highest first
    acme, beta = rows["ACME"], rows["BETA"]
    assert (acme["start_value"], acme["end_value"], acme["net_bought"], acme["income"], acme["gain"]) == (
        "5000.00", "6600.00", "1060.00", "30.00", "570.00",
    )  # fmt: skip
    assert (beta["start_value"], beta["end_value"], beta["net_bought"], beta["income"], beta["gain"]) == (
        "2000.00", "920.00", "-900.00", "0.00", "-180.00",
    )  # fmt: skip
    assert acme["contribution"] == share(570) == "0.0534375000"
    assert beta["contribution"] == share(-180) == "-0.0168750000"
    others = {p["name"]: p for p in c["others"]}
    assert others["Fees"]["gain"] == "-20.00" and others["Fees"]["contribution"] == share(-20)
    assert others["Interest on cash"]["gain"] == "0.00"
    assert others["Cash: exchange-rate changes and rounding"]["gain"] == "0.00"
    # The lines add up to the total, which is the period's Modified Dietz return net of fees.
    assert c["total"] == share(370) == "0.0346875000"
    itd = next(p for p in body["periods"] if p["code"] == "ITD")
    assert itd["net"]["modified_dietz"] == c["total"]
    parts = [D(p["contribution"]) for p in [*c["positions"], *c["others"]]]
    assert abs(sum(parts) - D(c["total"])) <= 5 * TEN
    assert [p["symbol"] for p in c["top"]] == ["ACME", "BETA"] and c["bottom"] == []
    assert "Modified Dietz capital" in c["method"]


def test_the_default_period_and_a_custom_range(alice: Persona, book: dict[str, Any]) -> None:
    """Default: year to date (here from Friday Feb 28, before the first value: the account's first
    close, as since inception). A custom range from Wednesday is measured from Tuesday's close
    (ACME 50 x 104 = 5,200, BETA 20 x 95 = 1,900, cash 3,030: 10,130): ACME 5,200 → 6,600 after
    buying 1,060: gain 340; BETA 1,900 → 920 after selling 900: gain -80; the fee -20; in all
    12,370 - 10,130 - 2,000 = 240. The 2,000 of Wednesday (day 1 of 2) weighs 1/2: capital 11,130."""
    body = alice.api().get(API, {"account": book["account"].pk}).json()
    assert (body["contribution"]["period"], body["contribution"]["total"]) == ("YTD", "0.0346875000")
    custom = alice.api().get(API, {"account": book["account"].pk, "start": "2025-03-05"}).json()["contribution"]
    assert (custom["period"], custom["start"], custom["end"]) == ("CUSTOM", "2025-03-04", "2025-03-06")
    rows = {p["symbol"]: p for p in custom["positions"]}
    assert (rows["ACME"]["gain"], rows["BETA"]["gain"]) == ("340.00", "-80.00")
    assert (custom["capital"], custom["total_gain"]) == ("11130.00", "240.00")
    assert rows["ACME"]["contribution"] == str((D(340) / D(11130)).quantize(TEN))
    assert custom["total"] == str((D(240) / D(11130)).quantize(TEN))


def test_household_contribution_and_top_bottom_service(alice: Persona, book: dict[str, Any]) -> None:
    with alice.scope():
        subject = selectors.performance_household(user=alice.user, pk=book["household"].pk)
        page = selectors.performance(subject=subject, day=date.isoformat, contribution="ITD")
    c = page.contribution
    assert c is not None and c.total == D("0.0346875000")
    top: list[PositionContribution] = c.top
    assert [p.symbol for p in top] == ["ACME", "BETA"]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"contribution": "10Y"}, "contribution", "is not a valid choice"),
        ({"contribution": "CUSTOM"}, "start", "Choose a start (and end) for a contribution over a custom range."),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    alice: Persona, book: dict[str, Any], query: dict[str, str], field: str, message: str
) -> None:
    response = alice.api().get(API, {"account": book["account"].pk, **query})
    assert response.status_code == 400, response.content
    assert message in " ".join(response.json()["error"]["fields"][field])
    page = alice.client().get(f"/reports/performance/account/{book['account'].pk}/", query)
    assert page.status_code == 400
    assert "Contribution by position" not in page.content.decode()


def test_a_period_longer_than_the_history_says_so(alice: Persona, book: dict[str, Any]) -> None:
    body = alice.api().get(API, {"account": book["account"].pk, "contribution": "3Y"}).json()
    assert body["contribution"] is None
    assert body["contribution_undefined"] == "3 years: The history begins on 2025-03-03: shorter than 3 years."


def test_the_page_states_the_method_and_shows_top_and_bottom(alice: Persona, book: dict[str, Any]) -> None:
    html = alice.client().get(f"/reports/performance/account/{book['account'].pk}/", {"contribution": "ITD"})
    text = html.content.decode()
    for expected in ("Contribution by position: since inception, Mar 3, 2025 to Mar 6, 2025",
                     "they do not split the time-weighted return", "Top contributors", "Bottom contributors",
                     "ACME · Acme Corp.: +5.34 % (570.00 USD)", "+3.47 %", "Fees"):  # fmt: skip
        assert expected in text, expected
    assert "<script" not in text.split("<main", 1)[-1]


def test_outsiders_get_404(alice: Persona, charlie: Persona, book: dict[str, Any]) -> None:
    assert charlie.api().get(API, {"account": book["account"].pk, "contribution": "ITD"}).status_code == 404
    assert charlie.client().get(f"/reports/performance/account/{book['account'].pk}/").status_code == 404
