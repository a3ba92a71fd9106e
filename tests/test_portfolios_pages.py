"""Account pages and API: rights, outsiders, search and filters, keyset pages, query counts."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from portfolios import performance, selectors, services
from portfolios.models import Benchmark, BenchmarkValue, ClientAccount, Security
from tests.conftest import Persona
from tests.factories import ContactFactory, HouseholdFactory
from tests.factories_portfolios import ClientAccountFactory, SecurityFactory, SecurityPriceFactory
from tests.test_pages import login

pytestmark = pytest.mark.django_db
D = Decimal


def _anchor(day: date) -> date:
    """The latest day up to ``day`` whose two previous days are business days, so the fixtures'
    prices and trades of "yesterday" and "the day before" fall on business days at weekends too."""
    while (day - timedelta(days=1)).weekday() >= 5 or (day - timedelta(days=2)).weekday() >= 5:
        day -= timedelta(days=1)
    return day


TODAY = _anchor(date.today())


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
    assert "3,975.00 USD" in page  # cash from the ledger: 5000 - 25 - 1000
    assert "<polyline" in page and detail.context["chart"].last.nav == D("5075.00")  # 3975 cash + 10 x 110
    assert "5,075.00 USD" in page  # net liquidation value, from the account's latest value
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
    # 5 of the session and rights; the account, owners, cash, positions, realized P&L, benchmarks,
    # daily values, benchmark levels and transactions; the returns by period (values, benchmark
    # levels), the valuation gaps (1) and a pending correction (1); cash pending settlement and
    # held (2) and the open holds (1).
    assert sql_count(ctx) == few <= 19


# --- API --------------------------------------------------------------------------------------------


def test_api_lists_and_retrieves_accounts(alice: Persona, charlie: Persona, funded: ClientAccount) -> None:
    with charlie.scope():
        ClientAccountFactory(number="C1")
    client = alice.api()
    body = client.get("/api/v1/accounts/").json()
    assert [row["number"] for row in body["results"]] == ["U5550001"]
    assert body["results"][0]["nav"] == "5075.00" and body["results"][0]["nav_date"]
    detail = client.get(f"/api/v1/accounts/{funded.pk}/").json()
    assert detail["account"]["number"] == "U5550001" and detail["owners"][0]["role"] == "primary"
    assert detail["currency"] == "USD" and detail["nav"] == "5075.00"
    assert detail["cash"] == [{"currency": "USD", "amount": "3975.00"}]
    assert detail["unrealized_pnl"] == [{"currency": "USD", "amount": "100.00"}]
    assert detail["positions"][0]["symbol"] == "ACME" and detail["positions"][0]["market_value"] == "1100.00"
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


# --- Sorting ------------------------------------------------------------------------------------------


@pytest.fixture
def sortable(alice: Persona) -> list[ClientAccount]:
    """Five accounts whose every sort key differs; two have no NAV yet."""
    with alice.scope():
        specs = [
            ("U0003", "charlie trust", "trust", "open", date(2021, 5, 1), D("300.00")),
            ("U0001", "Alpha Roth", "roth_ira", "closed", date(2023, 1, 2), None),
            ("U0005", "echo joint", "joint", "restricted", date(2020, 2, 3), D("50.00")),
            ("U0002", "Bravo Individual", "individual", "pending", date(2024, 7, 9), D("1200.00")),
            ("U0004", "delta Corporate", "corporate", "open", date(2022, 3, 4), None),
        ]
        accounts = []
        for number, title, kind, status, inception, nav in specs:
            account = ClientAccountFactory(
                number=number, title=title, account_type=kind, status=status, inception_date=inception
            )
            ClientAccount.objects.filter(pk=account.pk).update(nav=nav, nav_date=TODAY if nav else None)
            accounts.append(account)
    return accounts


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("number", ["U0001", "U0002", "U0003", "U0004", "U0005"]),
        ("-number", ["U0005", "U0004", "U0003", "U0002", "U0001"]),
        ("title", ["U0001", "U0002", "U0003", "U0004", "U0005"]),  # case-insensitive
        ("-title", ["U0005", "U0004", "U0003", "U0002", "U0001"]),
        ("type", ["U0004", "U0002", "U0005", "U0001", "U0003"]),  # corporate, individual, joint, roth_ira, trust
        ("-type", ["U0003", "U0001", "U0005", "U0002", "U0004"]),
        ("status", ["U0001", "U0003", "U0004", "U0002", "U0005"]),  # closed, open (by number), pending, restricted
        ("-status", ["U0005", "U0002", "U0004", "U0003", "U0001"]),
        ("nav", ["U0005", "U0003", "U0002", "U0001", "U0004"]),  # no NAV last
        ("-nav", ["U0002", "U0003", "U0005", "U0004", "U0001"]),  # no NAV last here too
        ("inception", ["U0005", "U0003", "U0004", "U0001", "U0002"]),
        ("-inception", ["U0002", "U0001", "U0004", "U0003", "U0005"]),
    ],
)
def test_every_sort_order_pages_through_every_account_once(
    alice: Persona, sortable: list[ClientAccount], ordering: str, expected: list[str]
) -> None:
    client = login(alice)
    assert [a.number for a in client.get(f"/accounts/?ordering={ordering}").context["page"].rows] == expected
    # Every page size puts its page boundary somewhere else, across the accounts without a NAV too.
    with alice.scope():
        for size in (1, 2, 3, 4, 5):
            seen, after = [], ""
            for _ in range(10):
                page = selectors.account_page(user=alice.user, ordering=ordering, after=after, size=size)
                seen += [a.number for a in page.rows]
                if page.next_cursor is None:
                    break
                after = page.next_cursor
            assert seen == expected, (ordering, size)


def test_sort_headers_link_both_directions_and_keep_filters(alice: Persona, sortable: list[ClientAccount]) -> None:
    client = login(alice)
    page = client.get("/accounts/?status=open&ordering=nav").content.decode()
    assert 'aria-sort="ascending"' in page
    assert "status=open&amp;ordering=-nav" in page  # a second click on the sorted column: descending
    assert "status=open&amp;ordering=inception" in page
    descending = client.get("/accounts/?ordering=-nav").content.decode()
    assert 'aria-sort="descending"' in descending and "ordering=nav" in descending
    paged = client.get("/accounts/?ordering=-nav&status=open")
    assert [a.number for a in paged.context["page"].rows] == ["U0003", "U0004"]


def test_a_bad_sort_order_is_named_and_the_list_stays_in_number_order(
    alice: Persona, sortable: list[ClientAccount]
) -> None:
    client = login(alice)
    response = client.get("/accounts/?ordering=password")
    assert response.status_code == 200
    assert "Sort order: Select a valid choice." in response.content.decode()
    assert [a.number for a in response.context["page"].rows][:2] == ["U0001", "U0002"]
    with alice.scope(), pytest.raises(selectors.BadOrdering, match="Unknown ordering 'nav; drop'"):
        selectors.account_page(user=alice.user, ordering="nav; drop")


def test_a_cursor_of_another_sort_order_starts_again(alice: Persona, sortable: list[ClientAccount]) -> None:
    with alice.scope():
        by_date = selectors.account_page(user=alice.user, ordering="inception", size=2).next_cursor
        assert by_date
        restart = selectors.account_page(user=alice.user, ordering="nav", after=by_date, size=2)
    assert [a.number for a in restart.rows] == ["U0005", "U0003"]


@pytest.mark.parametrize("ordering", ["number", "-title", "type", "-status", "nav", "-nav", "inception"])
def test_query_count_is_constant_in_page_size_for_every_order(alice: Persona, ordering: str) -> None:
    client = login(alice)
    counts = []
    for extra in (2, 60):  # 60: a full page of 50 whose boundary lies among accounts without a NAV
        with alice.scope():
            for index, account in enumerate(ClientAccountFactory.create_batch(extra, household=HouseholdFactory())):
                if index % 2:
                    ClientAccount.objects.filter(pk=account.pk).update(nav=D(index), nav_date=TODAY)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(f"/accounts/?ordering={ordering}")
        assert response.status_code == 200 and response.context["page"].rows
        counts.append(sql_count(ctx))
    assert counts[0] == counts[1] <= 6


def test_filter_by_owner_and_household_is_named(alice: Persona) -> None:
    with alice.scope():
        owner = ContactFactory(first_name="Olga", last_name="Owner")
        household = HouseholdFactory(name="Ortega family")
        ClientAccountFactory(number="O1", owners=[owner])
        ClientAccountFactory(number="O2", owners=[ContactFactory(), owner], household=household)
        ClientAccountFactory(number="O3", household=household)
    client = login(alice)
    by_owner = client.get(f"/accounts/?owner={owner.pk}")
    assert [a.number for a in by_owner.context["page"].rows] == ["O1", "O2"]
    assert "Owner: Olga Owner" in by_owner.content.decode()
    by_household = client.get(f"/accounts/?household={household.pk}&ordering=-number")
    assert [a.number for a in by_household.context["page"].rows] == ["O3", "O2"]
    assert "Household: Ortega family" in by_household.content.decode()
    assert client.get("/accounts/?owner=999999999").context["page"].rows == []


def test_htmx_search_returns_only_the_results(alice: Persona, sortable: list[ClientAccount]) -> None:
    client = login(alice)
    response = client.get("/accounts/?q=ech", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="account-results")
    body = response.content.decode()
    assert body.startswith('<div id="account-results"') and "<html" not in body
    assert [a.number for a in response.context["page"].rows] == ["U0005"]


# --- Account detail -------------------------------------------------------------------------------------


def test_realized_pnl_by_period(alice: Persona, acme: Security) -> None:
    as_of = date(2026, 5, 20)
    with alice.scope():
        account = ClientAccountFactory(number="R1", inception_date=date(2024, 1, 2))
        record = services.transaction_record
        record(actor=None, account=account, kind="deposit", trade_date=date(2024, 1, 2), amount=D(10000))
        record(actor=None, account=account, kind="buy", trade_date=date(2024, 1, 3), security=acme, quantity=D(40),
               price=D(100))  # fmt: skip
        sales = [(date(2025, 6, 1), D(110)), (date(2026, 2, 10), D(120)), (date(2026, 4, 15), D(90)),
                 (date(2026, 5, 5), D(130)), (date(2026, 5, 25), D(150))]  # fmt: skip
        for day, price in sales:  # each sells 5 at cost 100: gains 50, 100, -50, 150, (after as_of) 250
            record(actor=None, account=account, kind="sell", trade_date=day, security=acme, quantity=D(5), price=price)
        rows = selectors.realized_by_period(account=account, as_of=as_of)
    assert rows == [
        selectors.RealizedPnl(
            currency="USD", month=D("150.0000"), quarter=D("100.0000"), year=D("200.0000"), inception=D("250.0000")
        )
    ]


def test_period_starts() -> None:
    assert selectors.period_starts(date(2026, 8, 31)) == {
        "month": date(2026, 8, 1),
        "quarter": date(2026, 7, 1),
        "year": date(2026, 1, 1),
    }
    assert selectors.chart_start("1M", date(2026, 3, 31)) == date(2026, 2, 28)
    assert selectors.chart_start("3M", date(2026, 5, 31)) == date(2026, 2, 28)
    assert selectors.chart_start("1Y", date(2024, 2, 29)) == date(2023, 2, 28)
    assert selectors.chart_start("YTD", date(2026, 3, 2)) == date(2025, 12, 31)
    assert selectors.chart_start("All", date(2026, 3, 2)) is None


@pytest.fixture
def history(alice: Persona, acme: Security) -> ClientAccount:
    """An account with about 14 months of daily values and a benchmark over the same days."""
    start = TODAY - timedelta(days=430)
    with alice.scope():
        account = ClientAccountFactory(number="H1", inception_date=start)
        services.transaction_record(actor=None, account=account, kind="deposit", trade_date=start, amount=D(1000))
        performance.recompute_full(end=TODAY)
    Benchmark.objects.create(symbol="AAA-FLAT", name="A flat index", currency="USD")  # sorts first, not preferred
    benchmark = Benchmark.objects.create(symbol="SPX", name="S&P 500", currency="USD")
    day, level = start, D(4000)
    while day <= TODAY:
        BenchmarkValue.objects.create(benchmark=benchmark, date=day, level=level)
        day, level = day + timedelta(days=1), level + 1
    return account


def test_chart_periods_and_benchmark_line(alice: Persona, history: ClientAccount) -> None:
    client = login(alice)
    year = client.get(f"/accounts/{history.pk}/")
    window = year.context["window"]
    assert window.period == "1Y" and window.values[0].date >= window.values[-1].date - timedelta(days=366)
    assert window.benchmark[0][1] == window.values[0].nav == D("1000.00")  # rebased to the first NAV
    assert 'class="chart-benchmark"' in year.content.decode()
    assert window.period_return == 0 and window.benchmark_return and window.benchmark_return > 0
    month = client.get(f"/accounts/{history.pk}/?period=1M").context["window"]
    assert month.values[0].date >= month.values[-1].date - timedelta(days=31) and len(month.values) < len(window.values)
    everything = client.get(f"/accounts/{history.pk}/?period=All").context["window"]
    assert everything.values[0].date <= TODAY - timedelta(days=428)
    ytd = client.get(f"/accounts/{history.pk}/?period=YTD").context["window"]
    assert ytd.values[0].date >= date(TODAY.year - 1, 12, 31)
    bad = client.get(f"/accounts/{history.pk}/?period=forever&benchmark=NOPE")
    assert bad.status_code == 200 and bad.context["window"].period == "1Y"
    assert bad.context["window"].benchmark_symbol == "SPX"  # the preferred default
    other = client.get(f"/accounts/{history.pk}/?period=3M&benchmark=AAA-FLAT").context["window"]
    assert other.benchmark_symbol == "AAA-FLAT" and other.benchmark == []  # no levels: no line
    assert other.benchmark_choices == ["AAA-FLAT", "SPX"]


def test_chart_without_benchmark_data_has_no_benchmark_line(alice: Persona, funded: ClientAccount) -> None:
    page = login(alice).get(f"/accounts/{funded.pk}/").content.decode()
    assert "<polyline" in page and "chart-benchmark" not in page


def test_chart_draws_at_most_one_point_per_unit(alice: Persona, history: ClientAccount) -> None:
    from portfolios.views import CHART_MAX_POINTS, nav_chart

    with alice.scope():
        window = selectors.value_window(account=history, period="All")
    chart = nav_chart(window)
    assert chart is not None and len(chart.points.split()) <= CHART_MAX_POINTS
    assert chart.points.split()[0].startswith("0.0,") and chart.points.split()[-1].startswith("600.0,")


def test_htmx_chart_and_transactions_render_only_their_part(alice: Persona, history: ClientAccount) -> None:
    client = login(alice)
    with CaptureQueriesContext(connection) as ctx:
        chart = client.get(f"/accounts/{history.pk}/?period=3M", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="nav-chart")
    body = chart.content.decode()
    assert body.startswith('<div id="nav-chart"') and "Realized P&amp;L" not in body and "<polyline" in body
    assert sql_count(ctx) <= 5 + 4  # the account, the benchmarks, the values and the benchmark's levels
    txs = client.get(f"/accounts/{history.pk}/?kind=fee", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="transactions")
    assert txs.content.decode().startswith('<div id="transactions"') and "No transactions" in txs.content.decode()


def test_detail_shows_realized_pnl_and_day_change(alice: Persona, funded: ClientAccount, acme: Security) -> None:
    with alice.scope():
        services.transaction_record(
            actor=None, account=funded, kind="sell", trade_date=TODAY, security=acme, quantity=D(4), price=D(110)
        )
        ClientAccount.objects.filter(pk=funded.pk).update(day_change=D("-12.34"), day_return=D("-0.0025"))
    response = login(alice).get(f"/accounts/{funded.pk}/")
    page = response.content.decode()
    assert "-12.34 USD" in page and "-0.25 %" in page and "Year to date" in page
    gain = D("40.0000")  # (110 - 100) x 4, this month, quarter, year and since inception
    assert response.context["summary"].realized == [selectors.RealizedPnl("USD", gain, gain, gain, gain)]
