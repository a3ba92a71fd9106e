"""Client data queries and account queries (issue #19, point 4): the TWR threshold against the
performance report, symbol, transaction count and RMD on small books, CSV, bad input (a clear
message, nothing else), step-up for account queries, scope and the outsiders."""

from __future__ import annotations

import csv
import io
import time
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from accounts import services as account_services
from accounts import two_factor
from accounts.models import AccountScope
from accounts.rights import Role
from portfolios import performance as daily_values
from portfolios import services
from portfolios.models import ClientAccount, Security
from tests.conftest import Persona
from tests.factories import ContactFactory, UserFactory
from tests.factories_portfolios import ClientAccountFactory, SecurityFactory, SecurityPriceFactory

pytestmark = pytest.mark.django_db
D = Decimal
MON, TUE, WED, THU = date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 5), date(2025, 3, 6)
API = "/api/v1/reports/queries/"


def record(account: ClientAccount, kind: str, day: date, **kwargs: Any) -> Any:
    return services.transaction_record(actor=None, account=account, kind=kind, trade_date=day, **kwargs)


def priced(symbol: str, closes: dict[date, str]) -> Security:
    security = SecurityFactory(symbol=symbol)
    for day, close in closes.items():
        SecurityPriceFactory(security=security, date=day, close=D(close))
    return security


@pytest.fixture
def book(alice: Persona) -> dict[str, ClientAccount]:
    """Three accounts from Monday to Thursday: UP buys ACME (+10 % on Wednesday), FLAT holds cash,
    DOWN buys DROP (-5 % on Wednesday)."""
    acme = priced("ACME", {MON: "100", TUE: "100", WED: "110", THU: "110"})
    drop = priced("DROP", {MON: "100", TUE: "100", WED: "95", THU: "95"})
    with alice.scope():
        accounts = {n: ClientAccountFactory(number=n) for n in ("UP", "FLAT", "DOWN")}
        for account in accounts.values():
            record(account, "deposit", MON, amount=D(1000))
        record(accounts["UP"], "buy", MON, security=acme, quantity=D(10), price=D(100))
        record(accounts["DOWN"], "buy", MON, security=drop, quantity=D(10), price=D(100))
        daily_values.recompute_full(end=THU)
    return accounts


def answer(persona: Persona, path: str, **query: Any) -> dict[str, Any]:
    response = persona.api().get(API + path, query)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def numbers(body: dict[str, Any]) -> list[str]:
    return [row["number"] for row in body["results"]]


def test_twr_above_below_and_between_match_the_performance_report(alice: Persona, book: dict[str, Any]) -> None:
    above = answer(alice, "performance/", period="ITD", above="0.05")
    assert numbers(above) == ["UP"] and above["count"] == 1 and not above["truncated"]
    row = above["results"][0]
    assert (row["twr"], row["start"], row["end"]) == ("0.1000000000", "2025-03-03", "2025-03-06")
    report = alice.api().get("/api/v1/reports/performance/", {"account": book["UP"].pk}).json()
    itd = next(p for p in report["periods"] if p["code"] == "ITD")
    assert itd["net"]["twr"] == row["twr"]  # the same figure as the performance report
    assert numbers(answer(alice, "performance/", period="ITD", below="-0.01")) == ["DOWN"]
    assert numbers(answer(alice, "performance/", period="ITD", above="-0.01", below="0.05")) == ["FLAT"]
    # Highest first; a custom range from Wednesday is measured from Tuesday's close.
    custom = answer(alice, "performance/", period="CUSTOM", start="2025-03-05", end="2025-03-06", above="-1")
    assert numbers(custom) == ["UP", "FLAT", "DOWN"]
    assert [D(r["twr"]) for r in custom["results"]] == [D("0.1"), D(0), D("-0.05")]
    assert custom["results"][0]["start"] == "2025-03-04"


def test_a_trailing_period_longer_than_the_history_leaves_accounts_out_and_says_so(
    alice: Persona, book: dict[str, Any]
) -> None:
    body = answer(alice, "performance/", period="1Y", above="-1")
    assert body["results"] == [] and body["notes"] == ["3 accounts without values over the whole period were left out."]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"period": "ITD"}, "above", "Give a return to be above, below, or both."),
        ({"period": "ITD", "above": "0.1", "below": "0.05"}, "below", "make the 'above' figure lower"),
        ({"period": "ITD", "above": "1e-3"}, "above", "decimal"),
        ({"period": "CUSTOM", "above": "0"}, "start", "Give the start of the custom range."),
        ({"period": "10Y", "above": "0"}, "period", "not a valid choice"),
        ({"period": "ITD", "above": "0", "colour": "red"}, "colour", "not part of this request"),
    ],
)
def test_bad_twr_input_is_a_400_naming_the_field(
    alice: Persona, book: dict[str, Any], query: dict[str, Any], field: str, message: str
) -> None:
    response = alice.api().get(API + "performance/", query)
    assert response.status_code == 400, response.content
    assert message in " ".join(response.json()["error"]["fields"][field])


def test_symbol_held_or_traded_in_the_period_and_an_unknown_symbol(alice: Persona, book: dict[str, Any]) -> None:
    held = answer(alice, "symbol/", symbol="acme", start="2025-03-04", end="2025-03-06")
    assert numbers(held) == ["UP"]
    assert (D(held["results"][0]["held_at_start"]), held["results"][0]["transactions"]) == (D(10), 0)
    traded = answer(alice, "symbol/", symbol="ACME", start="2025-03-03")
    assert traded["results"][0]["transactions"] == 1
    response = alice.api().get(API + "symbol/", {"symbol": "NOPE", "start": "2025-03-03"})
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["symbol"] == [
        "No security has the symbol 'NOPE': check the spelling (the symbol as the custodian reports it)."
    ]
    page = alice.client().get("/reports/queries/symbol/", {"symbol": "NOPE", "start": "2025-03-03"})
    assert page.status_code == 400 and "No security has the symbol" in page.content.decode()


def test_transaction_count_counts_trades_dividends_and_position_transfers_not_interest(alice: Persona) -> None:
    acme = priced("ACME", {MON: "100", TUE: "100"})
    with alice.scope():
        busy, quiet = ClientAccountFactory(number="BUSY"), ClientAccountFactory(number="QUIET")
        for account in (busy, quiet):
            record(account, "deposit", MON, amount=D(10_000))
            record(account, "buy", MON, security=acme, quantity=D(10), price=D(100))
        record(busy, "sell", TUE, security=acme, quantity=D(5), price=D(100))
        record(busy, "dividend", TUE, security=acme, amount=D(12))
        wrong = record(busy, "dividend", TUE, security=acme, amount=D(99))
        services.transaction_reverse(actor=None, transaction=wrong)  # the pair counts as none
        for _ in range(5):
            record(quiet, "interest", TUE, amount=D(1))
    body = answer(alice, "activity/", start="2025-03-03", end="2025-03-04", threshold=2)
    assert numbers(body) == ["BUSY"]
    assert {k: body["results"][0][k] for k in ("trades", "dividends", "position_transfers", "total")} == {
        "trades": 2,
        "dividends": 1,
        "position_transfers": 0,
        "total": 3,
    }
    assert answer(alice, "activity/", start="2025-03-03", end="2025-03-04", threshold=3)["results"] == []
    response = alice.api().get(API + "activity/", {"start": "2025-03-04", "end": "2025-03-03", "threshold": 1})
    assert response.status_code == 400 and "end" in response.json()["error"]["fields"]


def test_rmd_due_lists_ira_owners_with_what_is_left_to_withdraw(alice: Persona) -> None:
    """Born 1950-06-01: 75 in 2025, RMDs since 2022 (applicable age 72). 100,000.00 on 2024-12-31 over
    the Uniform Lifetime period for 75 (24.6): 4,065.04; 1,000.00 withdrawn in 2025, 3,065.04 left."""
    friday = date(2024, 12, 27)
    with alice.scope():
        owner = ContactFactory(first_name="Ruth", last_name="Ames", date_of_birth=date(1950, 6, 1))
        young = ContactFactory(first_name="Tim", last_name="Young", date_of_birth=date(1980, 1, 1))
        unknown = ContactFactory(first_name="No", last_name="Birthday", date_of_birth=None)
        ira = ClientAccountFactory(number="IRA1", account_type="traditional_ira", owners=[owner],
                                   inception_date=friday)  # fmt: skip
        roth = ClientAccountFactory(number="ROTH", account_type="roth_ira", owners=[owner], inception_date=friday)
        other = [
            ClientAccountFactory(number=n, account_type="sep_ira", owners=[c], inception_date=friday)
            for n, c in (("SEP1", young), ("SEP2", unknown))
        ]
        for account in (ira, roth, *other):
            record(account, "deposit", friday, amount=D(100_000))
        record(ira, "withdrawal", date(2025, 1, 2), amount=D(1000))
        daily_values.recompute_full(end=date(2025, 1, 3))
    body = answer(alice, "rmd/", year=2025)
    assert [(r["client"], r["number"]) for r in body["results"]] == [("Ruth Ames", "IRA1")]
    row = body["results"][0]
    assert (row["age"], row["balance"], row["distribution_period"], row["rmd"]) == (75, "100000.00", "24.6", "4065.04")
    assert (row["withdrawn"], row["remaining"], row["deadline"]) == ("1000.00", "3065.04", "2025-12-31")
    assert "1 IRA owner has no birth date on file." in body["notes"]
    response = alice.api().get(API + "rmd/", {"year": 1850})
    assert response.status_code == 400 and "year" in response.json()["error"]["fields"]


def test_the_page_shows_the_table_and_downloads_csv(alice: Persona, book: dict[str, Any]) -> None:
    client = alice.client()
    page = client.get("/reports/queries/performance/", {"period": "ITD", "above": "5"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "1 account" in text and "UP" in text and "+10.00 %" in text and "Download all 1 as CSV" in text
    download = client.get("/reports/queries/performance/", {"period": "ITD", "above": "-100", "format": "csv"})
    assert download.status_code == 200 and download["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(download.content.decode())))
    assert rows[0][:3] == ["Id", "Account", "Title"] and [r[1] for r in rows[1:]] == ["UP", "FLAT", "DOWN"]
    assert rows[3][-1] == "-0.0500000000"
    bad = client.get("/reports/queries/performance/", {"period": "ITD", "above": "9", "below": "1"})
    assert bad.status_code == 400 and "make the &#x27;above&#x27; figure lower" in bad.content.decode()
    assert client.get("/reports/queries/").status_code == 200
    assert client.get("/reports/queries/rmd/").status_code == 200


def test_account_queries_need_a_fresh_second_factor_and_a_session(alice: Persona, book: dict[str, Any]) -> None:
    with alice.scope():
        ClientAccountFactory(number="IRA9", account_type="traditional_ira", status="restricted")
    client = alice.client()
    page = client.get("/reports/queries/accounts/", {"account_type": "traditional_ira"})
    assert page.status_code == 200 and "IRA9" in page.content.decode() and "UP" not in page.content.decode()
    api = client.get(API + "accounts/", {"status": ["restricted", "pending"]})
    assert api.status_code == 200 and numbers(api.json()) == ["IRA9"]
    both = client.get(API + "accounts/", {"account_type": "individual", "currency": "USD"})
    assert numbers(both.json()) == ["DOWN", "FLAT", "UP"]
    # An API token never runs an account query.
    token = alice.api().get(API + "accounts/")
    assert token.status_code == 403 and "never with an API token" in token.json()["error"]["message"]
    # A confirmation older than the step-up window: the page asks for it again, the API refuses.
    session = client.session
    session[two_factor.VERIFIED_AT] = time.time() - 24 * 3600
    session.save()
    again = client.get("/reports/queries/accounts/", {"account_type": "traditional_ira"})
    assert again.status_code == 302 and "step_up=1" in again["Location"]
    assert client.get(API + "accounts/").status_code == 403
    bad = alice.client().get(API + "accounts/", {"account_type": "savings"})
    assert bad.status_code == 400 and "account_type" in bad.json()["error"]["fields"]


def test_scope_bob_without_the_right_and_charlie_of_another_firm(
    alice: Persona, bob: Persona, charlie: Persona, book: dict[str, Any]
) -> None:
    with alice.scope():
        analyst = UserFactory(firm=alice.firm, email="erin@alpha.test", role=Role.ADVISOR)
        account_services.account_scope_set(
            actor=alice.user, user=analyst, scope=AccountScope.SELECTED, account_ids=frozenset({book["DOWN"].pk})
        )
    erin = Persona(analyst, alice.firm)
    assert numbers(answer(erin, "performance/", period="ITD", above="-1")) == ["DOWN"]
    assert numbers(answer(erin, "symbol/", symbol="ACME", start="2025-03-03")) == []
    assert numbers(erin.client().get(API + "accounts/").json()) == ["DOWN"]
    # Charlie's firm has no accounts: another firm's are never seen.
    assert answer(charlie, "performance/", period="ITD", above="-1")["results"] == []
    assert charlie.client().get(API + "accounts/").json()["results"] == []
    # Bob (CRM only) lacks PortfolioAnalyst: 403 everywhere.
    for path in ("performance/?period=ITD&above=0", "symbol/?symbol=ACME&start=2025-03-03", "rmd/?year=2025"):
        assert bob.api().get(API + path).status_code == 403, path
    for path in ("", "performance/", "symbol/", "activity/", "rmd/", "accounts/"):
        assert bob.client().get(f"/reports/queries/{path}").status_code == 403, path
