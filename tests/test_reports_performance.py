"""Performance of an account and a household (issue #19, point 1): hand-computed time-weighted,
money-weighted and Modified Dietz returns on small books, net and gross of fees, the benchmark,
the reason TWR and MWR differ, bad input, and the outsiders (another firm, another scope)."""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from accounts import services as account_services
from accounts.models import AccountScope
from accounts.rights import Role
from portfolios import performance as daily_values
from portfolios import returns as account_returns
from portfolios import services
from portfolios.models import Benchmark, BenchmarkValue, ClientAccount, Security
from reports import selectors
from reports.performance import PeriodPerformance
from tests.conftest import Persona
from tests.factories import HouseholdFactory, UserFactory
from tests.factories_portfolios import ClientAccountFactory, SecurityFactory, SecurityPriceFactory

pytestmark = pytest.mark.django_db
D = Decimal
MON, TUE, WED, THU = date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 5), date(2025, 3, 6)
API = "/api/v1/reports/performance/"
TEN = D("1e-10")


def q(value: float | Decimal) -> Decimal:
    return D(repr(value) if isinstance(value, float) else value).quantize(TEN)


def record(account: ClientAccount, kind: str, day: date, **kwargs: Any) -> None:
    services.transaction_record(actor=None, account=account, kind=kind, trade_date=day, **kwargs)


@pytest.fixture
def acme(db: None) -> Security:
    security = SecurityFactory(symbol="ACME")
    for day, close in {MON: "100", TUE: "100", WED: "110", THU: "110"}.items():
        SecurityPriceFactory(security=security, date=day, close=D(close))
    return security


def measured(persona: Persona, **kwargs: Any) -> Any:
    """The performance of ``account=`` or ``household=`` as the API answers it (ISO dates)."""
    response = persona.api().get(API, kwargs)
    assert response.status_code == 200, response.content
    return response.json()


def period(body: dict[str, Any], code: str) -> dict[str, Any]:
    return next(p for p in [*body["periods"], body["custom"]] if p and p["code"] == code)


def test_money_added_before_a_rise_makes_the_money_weighted_return_higher(alice: Persona, acme: Security) -> None:
    """Mon: deposit 1,000, buy 10 ACME @ 100. Tue: ACME flat; 9,000 added and 90 bought @ 100 (value
    10,000). Wed: ACME +10 % (value 11,000).

    - TWR: Tue 0 %, Wed +10 %: 10 %.
    - MWR: -1,000 Mon, -9,000 Tue, +11,000 Wed; with v the daily factor, v^2 + 9v - 11 = 0, so
      v = (-9 + sqrt(125)) / 2 and the period's return v^2 - 1 = 10 - 9v = 50.5 - 4.5 sqrt(125) = 18.847 %.
    - Modified Dietz: CD = 2 days, the 9,000 at the end of day 1 weighs 1/2:
      (11,000 - 1,000 - 9,000) / (1,000 + 4,500) = 1 / 5.5."""
    with alice.scope():
        account = ClientAccountFactory()
        record(account, "deposit", MON, amount=D(1000))
        record(account, "buy", MON, security=acme, quantity=D(10), price=D(100))
        record(account, "deposit", TUE, amount=D(9000))
        record(account, "buy", TUE, security=acme, quantity=D(90), price=D(100))
        daily_values.recompute_full(end=WED)
    body = measured(alice, account=account.pk)
    assert (body["kind"], body["currency"], body["first"], body["as_of"]) == (
        "account",
        "USD",
        "2025-03-03",
        "2025-03-05",
    )
    itd = period(body, "ITD")
    assert (itd["start"], itd["end"], itd["days"]) == ("2025-03-03", "2025-03-05", 2)
    assert (itd["start_value"], itd["flows"], itd["end_value"], itd["gain"]) == (
        "1000.00",
        "9000.00",
        "11000.00",
        "1000.00",
    )
    assert itd["net"]["twr"] == "0.1000000000"
    assert itd["net"]["mwr"] == str(q(50.5 - 4.5 * math.sqrt(125)))
    assert itd["net"]["modified_dietz"] == str(q(D(1) / D("5.5")))
    # No fees: gross is net. Two days: nothing is annualised.
    assert itd["gross"] == itd["net"]
    assert itd["net"]["twr_annualized"] is None and itd["net"]["mwr_annualized"] is None
    assert itd["timing"]["verdict"] == "well"
    text = itd["timing"]["text"]
    assert "timed well — money was added before a rise" in text
    assert (
        "The largest flow, 9,000.00 USD added on 2025-03-04: the time-weighted return was 0.00% before it "
        "(from 2025-03-03) and +10.00% after it (to 2025-03-05)."
    ) in text


def test_fees_lower_the_net_return_only(alice: Persona) -> None:
    """Mon: 1,000 deposited (cash). Tue: a fee of 10. Net: 990 / 1,000 - 1 = -1 % by all three
    measures. Gross: the fee counts as money taken out, so nothing was lost: 0 %."""
    with alice.scope():
        ClientAccountFactory(number="M1", is_master=True)
        account = ClientAccountFactory()
        record(account, "deposit", MON, amount=D(1000))
        services.fee_charge(
            actor=None, account=account, amount="10", currency="USD", trade_date=TUE, idempotency_key="f1"
        )
        daily_values.recompute_full(end=TUE)
    itd = period(measured(alice, account=account.pk), "ITD")
    assert (itd["end_value"], itd["flows"], itd["fees"]) == ("990.00", "0.00", "-10.00")
    assert itd["net"] == {"twr": "-0.0100000000", "twr_annualized": None, "mwr": "-0.0100000000",
                          "mwr_annualized": None, "modified_dietz": "-0.0100000000"}  # fmt: skip
    for key in ("twr", "mwr", "modified_dietz"):
        assert D(itd["gross"][key]) == 0


def test_the_account_twr_is_the_account_pages(alice: Persona, acme: Security) -> None:
    """Every standard period's time-weighted return, net and gross, is the one the account page shows."""
    with alice.scope():
        ClientAccountFactory(number="M1", is_master=True)
        account = ClientAccountFactory()
        record(account, "deposit", MON, amount=D(2000))
        record(account, "buy", MON, security=acme, quantity=D(10), price=D(100))
        services.fee_charge(
            actor=None, account=account, amount="25", currency="USD", trade_date=WED, idempotency_key="f"
        )
        record(account, "withdrawal", THU, amount=D(300))
        daily_values.recompute_full(end=THU)
        expected = account_returns.period_returns(account=account)
    body = measured(alice, account=account.pk)
    shown = {p.name: p for p in [*expected.periods, expected.inception]}
    for row in body["periods"]:
        page = shown[row["code"]]
        if page.net is None:
            assert row["net"] is None
            continue
        assert (D(row["net"]["twr"]), D(row["gross"]["twr"])) == (q(page.net), q(page.gross)), row["code"]


def test_a_household_weights_its_accounts_by_value_and_leaves_other_currencies_out(alice: Persona) -> None:
    """A: 1,000 in 10 FALL (flat Tue, -10 % Wed). B: 1,000 cash, 1,000 more added Tue (cash earns 0).

    - TWR: Tue: A 0 %, B 0 %. Wed: A -10 % on 1,000, B 0 % on 2,000: -100 / 3,000. So -1/30.
    - MWR: -2,000 Mon, -1,000 Tue, +2,900 Wed: 2v^2 + v - 2.9 = 0, v = (-1 + sqrt(24.2)) / 4, period
      return v^2 - 1 = (0.9 - v) / 2 = (4.6 - sqrt(24.2)) / 8 = -3.99 %: below the TWR, since money was
      added before a fall (timed badly).
    - Modified Dietz: (2,900 - 2,000 - 1,000) / (2,000 + 1,000 / 2) = -100 / 2,500.
    C, in euros, is listed as left out."""
    fall = SecurityFactory(symbol="FALL")
    for day, close in {MON: "100", TUE: "100", WED: "90"}.items():
        SecurityPriceFactory(security=fall, date=day, close=D(close))
    with alice.scope():
        household = HouseholdFactory(name="Able household")
        a = ClientAccountFactory(number="A1", household=household)
        b = ClientAccountFactory(number="B1", household=household)
        ClientAccountFactory(number="C1", household=household, base_currency="EUR")
        ClientAccountFactory(number="X1")  # not in the household
        record(a, "deposit", MON, amount=D(1000))
        record(a, "buy", MON, security=fall, quantity=D(10), price=D(100))
        record(b, "deposit", MON, amount=D(1000))
        record(b, "deposit", TUE, amount=D(1000))
        daily_values.recompute_full(end=WED)
    body = measured(alice, household=household.pk)
    assert (body["kind"], body["name"], body["currency"]) == ("household", "Able household", "USD")
    assert [x["number"] for x in body["accounts"]] == ["A1", "B1"]
    assert [(x["number"], x["base_currency"]) for x in body["left_out"]] == [("C1", "EUR")]
    itd = period(body, "ITD")
    assert (itd["start_value"], itd["flows"], itd["end_value"]) == ("2000.00", "1000.00", "2900.00")
    assert itd["net"]["twr"] == str(q(D(-1) / D(30)))
    assert itd["net"]["mwr"] == str(q((4.6 - math.sqrt(24.2)) / 8))
    assert itd["net"]["modified_dietz"] == "-0.0400000000"
    assert itd["timing"]["verdict"] == "badly"
    assert "timed badly — money was added before a fall" in itd["timing"]["text"]
    # A household of one account measures exactly as the account.
    with alice.scope():
        alone = HouseholdFactory(name="Solo")
        ClientAccount.objects.filter(pk=a.pk).update(household=alone)
    solo, account = measured(alice, household=alone.pk), measured(alice, account=a.pk)
    assert solo["periods"] == account["periods"]


def test_annualised_above_a_year_only_and_on_the_same_basis(alice: Persona) -> None:
    """10 shares bought at 100 on 2023-01-02 and worth 121 on 2024-03-01 (424 days): 21 % over the
    period, (1.21)^(365/424) - 1 a year, the same by TWR and MWR (no flows); 1 year is measured
    (from 2023-03-01: 366 days over the leap day) and not annualised; 3 and 5 years are longer than
    the history. A custom range of exactly a year is not annualised either."""
    first, last = date(2023, 1, 2), date(2024, 3, 1)
    stock = SecurityFactory(symbol="LONG")
    SecurityPriceFactory(security=stock, date=first, close=D(100))
    SecurityPriceFactory(security=stock, date=last, close=D(121))
    with alice.scope():
        account = ClientAccountFactory(inception_date=first)
        record(account, "deposit", first, amount=D(1000))
        record(account, "buy", first, security=stock, quantity=D(10), price=D(100))
        daily_values.recompute_full(end=last)
    body = measured(alice, account=account.pk)
    itd = period(body, "ITD")
    days = (last - first).days
    assert itd["days"] == days == 424
    assert itd["net"]["twr"] == "0.2100000000"
    yearly = q(1.21 ** (365 / days) - 1)
    assert abs(D(itd["net"]["twr_annualized"]) - yearly) <= TEN
    assert abs(D(itd["net"]["mwr_annualized"]) - yearly) <= TEN
    assert itd["net"]["modified_dietz"] == "0.2100000000"
    one = period(body, "1Y")
    assert one["start"] == "2023-03-01" and one["net"]["twr_annualized"] is None
    assert one["days"] == 366
    exactly = period(measured(alice, account=account.pk, start="2023-03-02", end="2024-03-01"), "CUSTOM")
    assert exactly["start"] == "2023-03-01" and exactly["net"]["twr_annualized"] is None
    three = period(body, "3Y")
    assert three["net"] is None and three["undefined"] == "The history begins on 2023-01-02: shorter than 3 years."


def test_the_benchmark_is_measured_over_the_same_days(alice: Persona, acme: Security) -> None:
    index = Benchmark.objects.create(symbol="IDX", name="An index", currency="USD")
    for day, level in {date(2025, 2, 28): "200", MON: "200", WED: "210"}.items():
        BenchmarkValue.objects.create(benchmark=index, date=day, level=D(level))
    with alice.scope():
        account = ClientAccountFactory()
        record(account, "deposit", MON, amount=D(1000))
        daily_values.recompute_full(end=WED)
    body = measured(alice, account=account.pk, benchmark="IDX")
    assert body["benchmark"] == "IDX"
    assert period(body, "ITD")["benchmark"] == "0.0500000000"
    # The custom range from Wednesday is measured from Tuesday's close (the benchmark's Monday level).
    body = measured(alice, account=account.pk, benchmark="IDX", start="2025-03-05", end="2025-03-05")
    custom = period(body, "CUSTOM")
    assert (custom["start"], custom["end"], custom["benchmark"]) == ("2025-03-04", "2025-03-05", "0.0500000000")


def test_a_start_at_zero_says_why_the_return_is_undefined(alice: Persona) -> None:
    """All 1,000 withdrawn on Tuesday, 500 deposited on Wednesday: from Tuesday's close (0) no return
    is defined, and the answer says so instead of a number."""
    with alice.scope():
        account = ClientAccountFactory()
        record(account, "deposit", MON, amount=D(1000))
        record(account, "withdrawal", TUE, amount=D(1000))
        record(account, "deposit", WED, amount=D(500))
        daily_values.recompute_full(end=THU)
    custom = period(measured(alice, account=account.pk, start="2025-03-05"), "CUSTOM")
    assert custom["net"] is None and custom["gross"] is None and custom["start_value"] == "0.00"
    assert custom["undefined"].startswith("The value at the close of 2025-03-04 is 0.00 USD: a return measured from")


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        (
            {"start": "2025-02-28"},
            "start",
            "The start, 2025-02-28, is before inception: the daily values begin on 2025-03-03",
        ),
        ({"start": "2025-03-04", "end": "2099-01-01"}, "end", "The end, 2099-01-01, is in the future"),
        ({"start": "2099-01-01"}, "start", "The start, 2099-01-01, is in the future"),
        ({"start": "2025-03-05", "end": "2025-03-04"}, "end", "The end is before the start"),
        ({"end": "2025-02-01"}, "end", "The end, 2025-02-01, is before inception"),
        ({"benchmark": "NOPE"}, "benchmark", "Unknown benchmark 'NOPE'"),
        ({"start": "2025-13-01"}, "start", "Date has wrong format"),
        ({"househld": "1"}, "househld", "This field is not part of this request."),
    ],
)
def test_bad_input_is_a_400_naming_the_field(alice: Persona, query: dict[str, str], field: str, message: str) -> None:
    with alice.scope():
        account = ClientAccountFactory()
        record(account, "deposit", MON, amount=D(1000))
        daily_values.recompute_full(end=WED)
    response = alice.api().get(API, {"account": account.pk, **query})
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert message in " ".join(error["fields"][field])
    if field == "househld":
        return  # a page's form reads only its own fields
    page = alice.client().get(f"/reports/performance/account/{account.pk}/", query)
    assert page.status_code == 400
    html = page.content.decode()
    assert "Nothing was measured: correct the fields marked below." in html and "Returns to" not in html


def test_account_or_household_exactly_one(alice: Persona) -> None:
    for query in ({}, {"account": 1, "household": 1}):
        response = alice.api().get(API, query)
        assert response.status_code == 400
        message = response.json()["error"]["fields"]["account"][0]
        assert "Give exactly one of account, household, group or firm=true" in message


def test_no_values_yet_is_said_not_an_error(alice: Persona) -> None:
    with alice.scope():
        account = ClientAccountFactory()
    body = measured(alice, account=account.pk)
    assert (body["as_of"], body["periods"], body["custom"]) == (None, [], None)
    page = alice.client().get(f"/reports/performance/account/{account.pk}/")
    assert page.status_code == 200 and "No daily values yet" in page.content.decode()


def test_the_page_shows_the_three_measures_the_reason_the_convention_and_a_chart(
    alice: Persona, acme: Security
) -> None:
    with alice.scope():
        household = HouseholdFactory(name="Able household")
        account = ClientAccountFactory(number="A1", household=household)
        record(account, "deposit", MON, amount=D(1000))
        record(account, "buy", MON, security=acme, quantity=D(10), price=D(100))
        record(account, "deposit", TUE, amount=D(9000))
        record(account, "buy", TUE, security=acme, quantity=D(90), price=D(100))
        daily_values.recompute_full(end=WED)
    client = alice.client()
    html = client.get(f"/reports/performance/account/{account.pk}/").content.decode()
    for text in ("Time-weighted", "Money-weighted (XIRR)", "Modified Dietz", "+10.00 %", "+18.85 %", "+18.18 %",
                 "money was added before a rise", "(CD \N{MINUS SIGN} D) ÷ CD", "Growth of 10,000 USD since inception",
                 'class="chart-hover"', "Mar 4, 2025: 10,000.00 (+0.00 %)"):  # fmt: skip
        assert text in html, text
    assert "<script" not in html.split("<main", 1)[-1]  # the chart's hover needs no script
    household_page = client.get(f"/reports/performance/household/{household.pk}/").content.decode()
    assert "Household of 1 account in USD" in household_page
    # The account page and the household page link here.
    assert (
        f'href="/reports/performance/account/{account.pk}/"' in client.get(f"/accounts/{account.pk}/").content.decode()
    )
    assert (
        f'href="/reports/performance/household/{household.pk}/"'
        in client.get(f"/contacts/households/{household.pk}/").content.decode()
    )


def test_charlie_of_another_firm_gets_404(alice: Persona, charlie: Persona) -> None:
    with alice.scope():
        household = HouseholdFactory()
        account = ClientAccountFactory(household=household)
        record(account, "deposit", MON, amount=D(1000))
        daily_values.recompute_full(end=TUE)
    for query in ({"account": account.pk}, {"household": household.pk}):
        response = charlie.api().get(API, query)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    client = charlie.client()
    assert client.get(f"/reports/performance/account/{account.pk}/").status_code == 404
    assert client.get(f"/reports/performance/household/{household.pk}/").status_code == 404


def test_out_of_scope_account_and_household_are_404_and_bob_has_no_right(alice: Persona, bob: Persona) -> None:
    with alice.scope():
        mine, theirs = HouseholdFactory(name="Mine"), HouseholdFactory(name="Theirs")
        seen = ClientAccountFactory(household=mine)
        unseen = ClientAccountFactory(household=theirs)
        for account in (seen, unseen):
            record(account, "deposit", MON, amount=D(1000))
        daily_values.recompute_full(end=TUE)
        analyst = UserFactory(firm=alice.firm, email="erin@alpha.test", role=Role.ADVISOR)
        account_services.account_scope_set(
            actor=alice.user, user=analyst, scope=AccountScope.SELECTED, account_ids=frozenset({seen.pk})
        )
    erin = Persona(analyst, alice.firm)
    assert measured(erin, account=seen.pk)["accounts"][0]["id"] == seen.pk
    assert measured(erin, household=mine.pk)["name"] == "Mine"
    for query in ({"account": unseen.pk}, {"household": theirs.pk}, {"household": 999_999}):
        assert erin.api().get(API, query).status_code == 404, query
    client = erin.client()
    assert client.get(f"/reports/performance/account/{unseen.pk}/").status_code == 404
    assert client.get(f"/reports/performance/household/{theirs.pk}/").status_code == 404
    # Bob (CRM only) lacks the PortfolioAnalyst right.
    assert bob.api().get(API, {"account": seen.pk}).status_code == 403
    assert bob.client().get(f"/reports/performance/account/{seen.pk}/").status_code == 403


def test_a_household_runs_to_the_last_day_every_account_has(alice: Persona) -> None:
    """An account whose values stop a day earlier does not look like money vanishing."""
    with alice.scope():
        household = HouseholdFactory()
        a = ClientAccountFactory(household=household)
        b = ClientAccountFactory(household=household)
        record(a, "deposit", MON, amount=D(1000))
        record(b, "deposit", MON, amount=D(1000))
        daily_values.recompute_full(end=WED)
        daily_values.forget_last_day(account_ids=[b.pk])
        subject = selectors.performance_household(user=alice.user, pk=household.pk)
        page = selectors.performance(subject=subject, day=date.isoformat)
    assert page.performance is not None and page.performance.as_of == TUE
    itd: PeriodPerformance = page.performance.periods[-1]
    assert (itd.code, itd.end_value, itd.net and itd.net.twr) == ("ITD", D("2000.00"), D(0))


def test_weekend_fees_count_on_the_next_business_day(alice: Persona) -> None:
    saturday = MON - timedelta(days=2)
    with alice.scope():
        ClientAccountFactory(number="M1", is_master=True)
        account = ClientAccountFactory()
        record(account, "deposit", saturday - timedelta(days=1), amount=D(1000))
        services.fee_charge(actor=None, account=account, amount="5", currency="USD", trade_date=saturday,
                            idempotency_key="w")  # fmt: skip
        daily_values.recompute_full(end=TUE)
    custom = period(measured(alice, account=account.pk, start="2025-03-03"), "CUSTOM")
    assert (custom["start"], custom["fees"]) == ("2025-02-28", "-5.00")
    assert D(custom["gross"]["twr"]) == 0 and D(custom["net"]["twr"]) == D("-0.005")
