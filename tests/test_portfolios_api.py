"""Account API at full size: sort orders, bad input, summary figures, positions, daily values,
realized P&L; the account scope and outsiders on every account page and endpoint."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import AccountScope
from accounts.rights import Role
from portfolios import performance, services
from portfolios.models import ClientAccount, Security
from tests.conftest import Persona
from tests.factories import HouseholdFactory, UserFactory
from tests.factories_portfolios import ClientAccountFactory, SecurityFactory, SecurityPriceFactory
from tests.test_portfolios_pages import sql_count

pytestmark = pytest.mark.django_db
D = Decimal


def _anchor(day: date) -> date:
    """The latest day up to ``day`` whose two previous days are business days, so the fixtures'
    prices and trades of "yesterday" and "the day before" fall on business days at weekends too."""
    while (day - timedelta(days=1)).weekday() >= 5 or (day - timedelta(days=2)).weekday() >= 5:
        day -= timedelta(days=1)
    return day


TODAY = _anchor(date.today())


@pytest.fixture
def acme(db: None) -> Security:
    security = SecurityFactory(symbol="ACME", name="Acme Rockets")
    SecurityPriceFactory(security=security, date=TODAY - timedelta(days=60), close=D(100))
    SecurityPriceFactory(security=security, date=TODAY - timedelta(days=1), close=D(110))
    return security


@pytest.fixture
def book(alice: Persona, acme: Security) -> dict[str, ClientAccount]:
    """Alice's firm: a household account and a chosen account (in Dora's scope), a hidden one with
    trades and daily values, and one with no NAV yet."""
    start = TODAY - timedelta(days=60)
    with alice.scope():
        family = HouseholdFactory(name="Quinn household")
        accounts = {
            "household": ClientAccountFactory(number="U7000001", title="Quinn Joint", household=family),
            "chosen": ClientAccountFactory(number="U7000002", title="Chosen Trust"),
            "hidden": ClientAccountFactory(number="U7000003", title="Hidden Roth", inception_date=start),
            "new": ClientAccountFactory(number="U7000004", title="Quinn New", household=family),
        }
        record = services.transaction_record
        for name, cash in (("household", 500), ("chosen", 2000), ("hidden", 9000)):
            record(actor=None, account=accounts[name], kind="deposit", trade_date=start, amount=D(cash))
        hidden = accounts["hidden"]
        record(actor=None, account=hidden, kind="buy", trade_date=start, security=acme, quantity=D(20), price=D(100))
        record(actor=None, account=hidden, kind="sell", trade_date=TODAY - timedelta(days=2), security=acme,
               quantity=D(5), price=D(110))  # fmt: skip
        performance.recompute_full(end=TODAY - timedelta(days=1))
        for account in accounts.values():
            account.refresh_from_db()
    return accounts


@pytest.fixture
def dora(alice: Persona, book: dict[str, ClientAccount]) -> Persona:
    """An advisor of firm A whose scope is the Quinn household and the chosen account."""
    user = UserFactory(firm=alice.firm, email="dora@alpha.test", full_name="Dora Scoped", role=Role.ADVISOR)
    account_services.account_scope_set(
        actor=alice.user,
        user=user,
        scope=AccountScope.SELECTED,
        account_ids=frozenset({book["chosen"].pk}),
        household_ids=frozenset({book["household"].household_id}),
    )
    return Persona(user, alice.firm)


def numbers(response: object) -> list[str]:
    return [row["number"] for row in response.json()["results"]]  # type: ignore[attr-defined]


# --- Sorting and bad input -------------------------------------------------------------------------


def test_api_sorts_by_nav_with_accounts_without_nav_last(alice: Persona, book: dict[str, ClientAccount]) -> None:
    client = alice.api()
    assert numbers(client.get("/api/v1/accounts/?ordering=nav")) == ["U7000001", "U7000002", "U7000003", "U7000004"]
    # Descending, two a page: the boundary of the second page falls between NAVs and no NAV.
    first = client.get("/api/v1/accounts/?ordering=-nav&page_size=3").json()
    assert [r["number"] for r in first["results"]] == ["U7000003", "U7000002", "U7000001"]
    assert numbers(client.get(first["next"])) == ["U7000004"]
    assert numbers(client.get("/api/v1/accounts/?ordering=-inception"))[0] == "U7000003"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("ordering=secret_column", "ordering"),
        ("ordering=--nav", "ordering"),
        ("account_type=spaceship", "account_type"),
        ("status=asleep", "status"),
        ("household=abc", "household"),
        ("owner=-4", "owner"),
        ("q=" + "x" * 101, "q"),
    ],
)
def test_api_bad_list_parameters_are_400_naming_the_parameter(
    alice: Persona, book: dict[str, ClientAccount], query: str, field: str
) -> None:
    response = alice.api().get(f"/api/v1/accounts/?{query}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and list(error["fields"]) == [field]


def test_api_bad_ordering_lists_the_choices(alice: Persona, book: dict[str, ClientAccount]) -> None:
    message = alice.api().get("/api/v1/accounts/?ordering=id").json()["error"]["fields"]["ordering"][0]
    assert "not a valid choice" in message


def test_api_list_query_count_is_constant_in_page_size(alice: Persona) -> None:
    client = alice.api()
    client.get("/api/v1/me/")  # the token's first use records last_used_at once
    counts = []
    for extra in (2, 80):
        with alice.scope():
            for index, account in enumerate(ClientAccountFactory.create_batch(extra, household=HouseholdFactory())):
                if index % 2:
                    ClientAccount.objects.filter(pk=account.pk).update(nav=D(index), nav_date=TODAY)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/api/v1/accounts/?ordering=nav&page_size=60").status_code == 200
        counts.append(sql_count(ctx))
    # Both pages cross from accounts with a NAV to those without, still in one query.
    assert counts[0] == counts[1] <= 6


# --- One account --------------------------------------------------------------------------------------


def test_api_account_summary(alice: Persona, book: dict[str, ClientAccount]) -> None:
    hidden = book["hidden"]
    body = alice.api().get(f"/api/v1/accounts/{hidden.pk}/").json()
    # Cash 9000 - 2000 + 550 = 7550; 15 ACME at 110 = 1650.
    assert body["currency"] == "USD" and body["nav"] == "9200.00" and body["nav_date"]
    assert body["nav"] == str(hidden.nav.quantize(D("0.01")))
    assert body["cash"] == [{"currency": "USD", "amount": "7550.00"}]
    assert body["unrealized_pnl"] == [{"currency": "USD", "amount": "150.00"}]  # 15 x (110 - 100)
    realized = body["realized_pnl"]
    assert [r["inception"] for r in realized] == ["50.00"] and realized[0]["currency"] == "USD"
    assert body["day_change"] is not None and body["as_of"] == date.today().isoformat()


def test_api_positions(alice: Persona, book: dict[str, ClientAccount]) -> None:
    rows = alice.api().get(f"/api/v1/accounts/{book['hidden'].pk}/positions/").json()
    assert rows == [
        {
            "symbol": "ACME",
            "name": "Acme Rockets",
            "asset_class": "Equity",
            "currency": "USD",
            "quantity": "15.000000",
            "cost_basis": "1500.0000",
            "realized_gain": "50.0000",
            "price": "110.000000",
            "price_date": (TODAY - timedelta(days=1)).isoformat(),
            "market_value": "1650.00",
            "unrealized_gain": "150.00",
        }
    ]


def test_api_daily_values_with_a_date_range(alice: Persona, book: dict[str, ClientAccount]) -> None:
    url = f"/api/v1/accounts/{book['hidden'].pk}/values/"
    client = alice.api()
    everything = client.get(url).json()
    assert everything["currency"] == "USD" and len(everything["values"]) > 30
    assert everything["values"][0]["return_index"] == "1.0000000000" and everything["values"][0]["nav"] == "9000.00"
    since = (TODAY - timedelta(days=10)).isoformat()
    until = (TODAY - timedelta(days=5)).isoformat()
    window = client.get(f"{url}?date_from={since}&date_to={until}").json()
    assert window["date_from"] == since and 1 <= len(window["values"]) <= 6
    assert all(since <= v["date"] <= until for v in window["values"])
    bad = client.get(f"{url}?date_from={until}&date_to={since}")
    assert bad.status_code == 400 and "date_to" in bad.json()["error"]["fields"]
    assert client.get(f"{url}?date_from=soon").json()["error"]["fields"]["date_from"]


def test_api_realized_pnl_by_period(alice: Persona, book: dict[str, ClientAccount]) -> None:
    url = f"/api/v1/accounts/{book['hidden'].pk}/realized-pnl/"
    client = alice.api()
    today = client.get(url).json()
    assert today["as_of"] == date.today().isoformat()
    assert today["periods"] == [{"currency": "USD", "month": today["periods"][0]["month"], "quarter": ANY,
                                 "year": ANY, "inception": "50.00"}]  # fmt: skip
    before_the_sale = client.get(f"{url}?as_of={(TODAY - timedelta(days=3)).isoformat()}").json()
    assert before_the_sale["periods"] == []
    assert client.get(f"{url}?as_of=2026-13-01").status_code == 400


class _Any:
    def __eq__(self, other: object) -> bool:
        return True


ANY = _Any()


def test_openapi_schema_describes_the_new_endpoints(db: None) -> None:
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    paths = response.json()["paths"]
    for path in ("positions", "values", "realized-pnl"):
        assert f"/api/v1/accounts/{{id}}/{path}/" in paths
    parameters = {p["name"] for p in paths["/api/v1/accounts/"]["get"]["parameters"]}
    assert {"ordering", "q", "account_type", "status", "household", "owner", "cursor", "page_size"} <= parameters


# --- Scope and outsiders ------------------------------------------------------------------------------


def account_urls(pk: int) -> list[str]:
    return [
        f"/accounts/{pk}/",
        f"/accounts/{pk}/?period=All",
        f"/api/v1/accounts/{pk}/",
        f"/api/v1/accounts/{pk}/positions/",
        f"/api/v1/accounts/{pk}/values/",
        f"/api/v1/accounts/{pk}/realized-pnl/",
        f"/api/v1/accounts/{pk}/transactions/",
    ]


@pytest.mark.parametrize("ordering", ["number", "-title", "type", "-status", "nav", "-nav", "inception"])
def test_scoped_user_sees_only_scope_in_every_order(
    dora: Persona, book: dict[str, ClientAccount], ordering: str
) -> None:
    in_scope = {"U7000001", "U7000002", "U7000004"}
    page = dora.client().get(f"/accounts/?ordering={ordering}")
    assert {a.number for a in page.context["page"].rows} == in_scope
    assert "U7000003" not in page.content.decode()
    assert set(numbers(dora.api().get(f"/api/v1/accounts/?ordering={ordering}"))) == in_scope
    searched = dora.api().get(f"/api/v1/accounts/?q=hidden&ordering={ordering}")
    assert numbers(searched) == []
    assert numbers(dora.api().get(f"/api/v1/accounts/?q=quinn&ordering={ordering}")) in (
        ["U7000001", "U7000004"],
        ["U7000004", "U7000001"],
    )


def test_scoped_user_gets_404_for_an_account_outside_scope(dora: Persona, book: dict[str, ClientAccount]) -> None:
    client, api = dora.client(), dora.api()
    for url in account_urls(book["hidden"].pk):
        getter = client if url.startswith("/accounts/") else api
        assert getter.get(url).status_code == 404, url
        if url.startswith("/accounts/"):
            partial = client.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="nav-chart")
            assert partial.status_code == 404, url
    for url in account_urls(book["chosen"].pk):
        getter = client if url.startswith("/accounts/") else api
        assert getter.get(url).status_code == 200, url
    # Filters do not reach around the scope: the hidden account's owner and its filter.
    with dora.scope():
        owner = book["hidden"].accountowner_set.get().contact_id
    assert numbers(api.get(f"/api/v1/accounts/?owner={owner}")) == []
    with dora.scope():
        owner_name = str(book["hidden"].accountowner_set.get().contact)
    page = client.get(f"/accounts/?owner={owner}").content.decode()
    assert owner_name not in page and f"Owner: {owner}" not in page and "Owner: unknown" in page


def test_outsider_gets_404_on_every_account_endpoint(charlie: Persona, book: dict[str, ClientAccount]) -> None:
    client, api = charlie.client(), charlie.api()
    for account in book.values():
        for url in account_urls(account.pk):
            getter = client if url.startswith("/accounts/") else api
            assert getter.get(url).status_code == 404, url
    assert numbers(api.get("/api/v1/accounts/?ordering=-nav")) == []
    assert numbers(api.get("/api/v1/accounts/?q=U7")) == []
    household = book["household"].household_id
    assert numbers(api.get(f"/api/v1/accounts/?household={household}")) == []
    listing = client.get(f"/accounts/?household={household}&ordering=nav").content.decode()
    assert "U70000" not in listing and "Quinn" not in listing


def test_user_without_the_right_gets_403(bob: Persona, book: dict[str, ClientAccount]) -> None:
    client, api = bob.client(), bob.api()
    for url in account_urls(book["chosen"].pk):
        getter = client if url.startswith("/accounts/") else api
        assert getter.get(url).status_code == 403, url
    assert client.get("/accounts/?ordering=nav").status_code == 403
    assert APIClient().get(f"/api/v1/accounts/{book['chosen'].pk}/positions/").status_code == 401
