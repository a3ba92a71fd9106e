"""Account pages and API: rights, outsiders, search and filters, keyset pages, query counts."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from portfolios import performance, services
from portfolios.models import ClientAccount, Security
from tests.conftest import Persona
from tests.factories import HouseholdFactory
from tests.factories_portfolios import ClientAccountFactory, SecurityFactory, SecurityPriceFactory
from tests.test_pages import login

pytestmark = pytest.mark.django_db
D = Decimal
TODAY = date.today()


def sql_count(ctx: CaptureQueriesContext) -> int:
    return sum(1 for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE")))


@pytest.fixture
def acme(db: None) -> Security:
    security = SecurityFactory(symbol="ACME", name="Acme Rockets")
    SecurityPriceFactory(security=security, date=TODAY - timedelta(days=2), close=D(100))
    SecurityPriceFactory(security=security, date=TODAY - timedelta(days=1), close=D(110))
    return security


@pytest.fixture
def funded(alice: Persona, acme: Security) -> ClientAccount:
    """Alice's account: deposit 5000, buy 10 ACME @ 100, an old fee outside the 90-day window."""
    with alice.scope():
        account = ClientAccountFactory(number="U5550001", title="Zebediah Rollover")
        record = services.transaction_record
        record(actor=None, account=account, kind="deposit", trade_date=TODAY - timedelta(days=200), amount=D(5000))
        record(actor=None, account=account, kind="fee", trade_date=TODAY - timedelta(days=120), amount=D(25),
               description="Old advisory fee")  # fmt: skip
        record(actor=None, account=account, kind="buy", trade_date=TODAY - timedelta(days=2), security=acme,
               quantity=D(10), price=D(100), description="Rocket purchase")  # fmt: skip
        performance.recompute_full(end=TODAY - timedelta(days=1))
        return account


# --- Pages ------------------------------------------------------------------------------------------


def test_account_pages_open_for_alice(alice: Persona, funded: ClientAccount) -> None:
    client = login(alice)
    listing = client.get("/accounts/")
    assert listing.status_code == 200
    assert b"U5550001" in listing.content and b"Zebediah Rollover" in listing.content
    detail = client.get(f"/accounts/{funded.pk}/")
    assert detail.status_code == 200
    page = detail.content.decode()
    assert "ACME" in page and "Rocket purchase" in page
    assert "Old advisory fee" not in page  # older than the 90-day default
    assert "3,975.00" in page  # cash from the ledger: 5000 - 25 - 1000
    assert "<polyline" in page and detail.context["chart"].last.nav == D("5075.00")  # 3975 cash + 10 x 110
    summary = detail.context["summary"]
    assert summary.cash == {"USD": D("3975.0000")}
    assert summary.positions[0].market_value == D("1100.00") and summary.positions[0].unrealized_gain == D(100)


def test_old_transactions_appear_when_dates_are_chosen(alice: Persona, funded: ClientAccount) -> None:
    client = login(alice)
    since = (TODAY - timedelta(days=365)).isoformat()
    page = client.get(f"/accounts/{funded.pk}/?date_from={since}").content.decode()
    assert "Old advisory fee" in page
    only_fees = client.get(f"/accounts/{funded.pk}/?date_from={since}&kind=fee").content.decode()
    assert "Old advisory fee" in only_fees and "Rocket purchase" not in only_fees
    by_text = client.get(f"/accounts/{funded.pk}/?date_from={since}&text=rocket").content.decode()
    assert "Rocket purchase" in by_text and "Old advisory fee" not in by_text
    by_symbol = client.get(f"/accounts/{funded.pk}/?text=acme").content.decode()
    assert "Rocket purchase" in by_symbol


def test_bad_filters_show_an_error_not_a_500(alice: Persona, funded: ClientAccount) -> None:
    client = login(alice)
    response = client.get(f"/accounts/{funded.pk}/?date_from=yesterday&date_to=2020-01-01&kind=teleport")
    assert response.status_code == 200
    assert "Enter a valid date." in response.content.decode()
    assert client.get("/accounts/?after=%%%garbage&household=x&status=nope").status_code == 200
    reversed_dates = client.get(f"/accounts/{funded.pk}/?date_from=2025-02-01&date_to=2025-01-01")
    assert "The end date is before the start date." in reversed_dates.content.decode()


def test_bob_without_the_right_gets_403(bob: Persona, alice: Persona, funded: ClientAccount) -> None:
    client = login(bob)
    assert client.get("/accounts/").status_code == 403
    assert client.get(f"/accounts/{funded.pk}/").status_code == 403


def test_charlie_gets_404_for_alices_account(charlie: Persona, funded: ClientAccount) -> None:
    client = login(charlie)
    assert client.get(f"/accounts/{funded.pk}/").status_code == 404
    assert client.get("/accounts/999999999/").status_code == 404
    assert b"Zebediah" not in client.get("/accounts/").content
    assert b"Zebediah" not in client.get("/accounts/?q=zeb").content


def test_search_by_number_or_title_prefix(alice: Persona) -> None:
    with alice.scope():
        ClientAccountFactory(number="U100", title="Smith Family Trust")
        ClientAccountFactory(number="U200", title="smithson IRA")
        ClientAccountFactory(number="X300", title="Jones Joint")
    client = login(alice)

    def numbers(query: str) -> list[str]:
        return [a.number for a in client.get(f"/accounts/?{query}").context["page"].rows]

    assert numbers("q=smith") == ["U100", "U200"]
    assert numbers("q=SMITHS") == ["U200"]
    assert numbers("q=u1") == ["U100"]
    assert numbers("q=x") == ["X300"]
    assert numbers("q=%25") == []  # LIKE wildcards mean nothing here
    assert numbers("q=Smith&account_type=joint") == []


def test_filters_by_type_status_and_household(alice: Persona) -> None:
    with alice.scope():
        household = HouseholdFactory()
        ClientAccountFactory(number="A1", account_type="roth_ira", household=household)
        ClientAccountFactory(number="A2", account_type="trust", status="closed")
    client = login(alice)
    rows = client.get("/accounts/?account_type=roth_ira").context["page"].rows
    assert [a.number for a in rows] == ["A1"]
    assert [a.number for a in client.get("/accounts/?status=closed").context["page"].rows] == ["A2"]
    assert [a.number for a in client.get(f"/accounts/?household={household.pk}").context["page"].rows] == ["A1"]


def test_account_list_pages_by_keyset(alice: Persona) -> None:
    with alice.scope():
        ClientAccountFactory.create_batch(55)
    client = login(alice)
    first = client.get("/accounts/?status=open")
    cursor = first.context["page"].next_cursor
    assert cursor
    second = client.get(f"/accounts/?status=open&after={cursor}")
    seen = [a.pk for a in first.context["page"].rows] + [a.pk for a in second.context["page"].rows]
    assert len(seen) == len(set(seen)) == 55
    assert b"status=open&amp;after=" in first.content  # the pager keeps the filters


def test_account_list_query_count_is_constant_in_page_size(alice: Persona, acme: Security) -> None:
    client = login(alice)
    counts = []
    for extra in (1, 30):
        with alice.scope():
            for account in ClientAccountFactory.create_batch(extra, household=HouseholdFactory()):
                services.transaction_record(
                    actor=None, account=account, kind="deposit", trade_date=TODAY - timedelta(days=3), amount=D(10)
                )
            performance.recompute_full(end=TODAY - timedelta(days=1))
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/accounts/")
        assert response.status_code == 200
        counts.append(sql_count(ctx))
    assert counts[0] == counts[1] <= 6


def test_account_detail_query_count_does_not_grow_with_positions(alice: Persona, funded: ClientAccount) -> None:
    client = login(alice)
    with CaptureQueriesContext(connection) as ctx:
        client.get(f"/accounts/{funded.pk}/")
    few = sql_count(ctx)
    with alice.scope():
        services.transaction_record(actor=None, account=funded, kind="deposit", trade_date=TODAY, amount=D(9000))
        for n in range(5):
            security = SecurityFactory(symbol=f"MORE{n}")
            SecurityPriceFactory(security=security, date=TODAY, close=D(10))
            services.transaction_record(
                actor=None, account=funded, kind="buy", trade_date=TODAY, security=security, quantity=D(1), price=D(10)
            )
    with CaptureQueriesContext(connection) as ctx:
        client.get(f"/accounts/{funded.pk}/")
    assert sql_count(ctx) == few <= 11  # 4 of the session and rights, 7 of the page


# --- API --------------------------------------------------------------------------------------------


def test_api_lists_and_retrieves_accounts(alice: Persona, charlie: Persona, funded: ClientAccount) -> None:
    with charlie.scope():
        ClientAccountFactory(number="C1")
    client = alice.api()
    body = client.get("/api/v1/accounts/").json()
    assert [row["number"] for row in body["results"]] == ["U5550001"]
    assert body["results"][0]["nav"] is not None
    detail = client.get(f"/api/v1/accounts/{funded.pk}/").json()
    assert detail["account"]["number"] == "U5550001" and detail["owners"][0]["role"] == "primary"
    assert detail["cash"] == [{"currency": "USD", "amount": "3975.0000"}]
    assert detail["positions"][0]["symbol"] == "ACME" and detail["positions"][0]["market_value"] == "1100.00"
    assert detail["nav"] == "5075.00" and detail["history"][-1]["nav"] == "5075.00"
    assert client.get("/api/v1/accounts/?q=zeb").json()["results"][0]["id"] == funded.pk


def test_api_transactions_default_to_90_days_and_filter(alice: Persona, funded: ClientAccount) -> None:
    client = alice.api()
    url = f"/api/v1/accounts/{funded.pk}/transactions/"
    assert [row["kind"] for row in client.get(url).json()["results"]] == ["buy"]
    since = (TODAY - timedelta(days=365)).isoformat()
    assert [row["kind"] for row in client.get(f"{url}?date_from={since}").json()["results"]] == [
        "buy",
        "fee",
        "deposit",
    ]
    assert [row["kind"] for row in client.get(f"{url}?date_from={since}&kind=fee").json()["results"]] == ["fee"]
    paged = client.get(f"{url}?date_from={since}&page_size=2").json()
    assert len(paged["results"]) == 2 and paged["next"]
    assert [row["kind"] for row in client.get(paged["next"]).json()["results"]] == ["deposit"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("date_from=nope", "date_from"),
        ("kind=teleport", "kind"),
        ("date_from=2025-02-01&date_to=2025-01-01", "date_to"),
    ],
)
def test_api_bad_filters_name_the_field(alice: Persona, funded: ClientAccount, query: str, field: str) -> None:
    response = alice.api().get(f"/api/v1/accounts/{funded.pk}/transactions/?{query}")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_api_outsider_gets_404_and_bob_403(bob: Persona, charlie: Persona, funded: ClientAccount) -> None:
    outsider = charlie.api()
    for url in (f"/api/v1/accounts/{funded.pk}/", f"/api/v1/accounts/{funded.pk}/transactions/"):
        assert outsider.get(url).status_code == 404, url
        assert bob.api().get(url).status_code == 403, url
    assert outsider.get("/api/v1/accounts/").json()["results"] == []
    assert bob.api().get("/api/v1/accounts/").status_code == 403
    assert APIClient().get("/api/v1/accounts/").status_code == 401


def test_api_account_list_query_count_is_constant(alice: Persona) -> None:
    client = alice.api()
    client.get("/api/v1/me/")  # the token's first use records last_used_at once
    counts = []
    for extra in (1, 40):
        with alice.scope():
            ClientAccountFactory.create_batch(extra, household=HouseholdFactory())
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/api/v1/accounts/?page_size=50").status_code == 200
        counts.append(sql_count(ctx))
    assert counts[0] == counts[1] <= 6


def test_openapi_schema_describes_account_endpoints(db: None) -> None:
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    paths = response.json()["paths"]
    assert {"/api/v1/accounts/", "/api/v1/accounts/{id}/", "/api/v1/accounts/{account_pk}/transactions/"} <= set(paths)
