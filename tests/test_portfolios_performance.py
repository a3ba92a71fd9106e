"""Daily NAV and the time-weighted return index against hand-computed cases."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from portfolios import performance, selectors, services
from portfolios.models import ClientAccount, DailySeries, Position, Security, SeriesState
from tests.conftest import Persona
from tests.factories_portfolios import ClientAccountFactory, FxRateFactory, SecurityFactory, SecurityPriceFactory

pytestmark = pytest.mark.django_db
D = Decimal
MON, TUE, WED, THU = date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 5), date(2025, 3, 6)


def values(account: ClientAccount) -> list[tuple[date, Decimal, Decimal, Decimal]]:
    return [(v.date, v.nav, v.net_flow, v.return_index) for v in performance.value_history(account=account)]


def prices(security: Security, closes: dict[date, str]) -> None:
    for day, close in closes.items():
        SecurityPriceFactory(security=security, date=day, close=D(close))


def record(account: ClientAccount, kind: str, day: date, **kwargs: object) -> None:
    services.transaction_record(actor=None, account=account, kind=kind, trade_date=day, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def acme(db: None) -> Security:
    security = SecurityFactory(symbol="ACME")
    prices(security, {MON: "100", TUE: "110", WED: "121"})
    return security


def test_twr_excludes_a_deposit_made_mid_way(alice: Persona, acme: Security) -> None:
    """Mon: deposit 1000, buy 10 @ 100. Tue: price 110 (+10 %). Wed: price 121 (+10 %) and a
    second deposit of 1000. NAV goes 1000 → 1100 → 2210, yet each day earned exactly 10 %:
    r_Wed = (2210 - 1000) / 1100 - 1 = 0.10, so the index is 1, 1.1, 1.21 (not 2.21)."""
    with alice.scope():
        account = ClientAccountFactory()
        record(account, "deposit", MON, amount=D(1000))
        record(account, "buy", MON, security=acme, quantity=D(10), price=D(100))
        record(account, "deposit", WED, amount=D(1000))
        result = performance.recompute_full(end=WED)
        assert (result.accounts, result.rows) == (1, 3)
        assert values(account) == [
            (MON, D("1000.00"), D("1000.00"), D("1.0000000000")),
            (TUE, D("1100.00"), D("0.00"), D("1.1000000000")),
            (WED, D("2210.00"), D("1000.00"), D("1.2100000000")),
        ]


def test_a_withdrawal_is_a_negative_flow_and_cash_earns_nothing(alice: Persona, acme: Security) -> None:
    """Mon: deposit 2000, buy 10 @ 100 (cash 1000). Tue: withdraw 500; NAV = 1100 + 500 = 1600;
    r = (1600 - (-500)) / 2000 - 1 = 0.05 (the shares' +100 on 2000)."""
    with alice.scope():
        account = ClientAccountFactory()
        record(account, "deposit", MON, amount=D(2000))
        record(account, "buy", MON, security=acme, quantity=D(10), price=D(100))
        record(account, "withdrawal", TUE, amount=D(500))
        performance.recompute_full(end=TUE)
        assert values(account)[1] == (TUE, D("1600.00"), D("-500.00"), D("1.0500000000"))


def test_foreign_holdings_and_cash_convert_to_the_base_currency(alice: Persona) -> None:
    """Base USD. Mon: deposit 1000 EUR at 1.10 USD (flow 1100 USD), buy 5 EURO @ 100 EUR.
    Tue: EURO at 120, EUR at 1.20: NAV = (5 * 120 + 500) * 1.2 = 1320; r = 1320 / 1100 - 1 = 0.2."""
    euro = SecurityFactory(symbol="EURO", currency="EUR")
    prices(euro, {MON: "100", TUE: "120"})
    FxRateFactory(currency="EUR", date=MON, rate_to_usd=D("1.10"))
    FxRateFactory(currency="EUR", date=TUE, rate_to_usd=D("1.20"))
    with alice.scope():
        account = ClientAccountFactory(base_currency="USD")
        record(account, "deposit", MON, amount=D(1000), currency="EUR")
        record(account, "buy", MON, security=euro, quantity=D(5), price=D(100))
        performance.recompute_full(end=TUE)
        assert values(account) == [
            (MON, D("1100.00"), D("1100.00"), D("1.0000000000")),
            (TUE, D("1320.00"), D("0.00"), D("1.2000000000")),
        ]


def test_prices_carry_forward_and_weekend_activity_counts_on_monday(alice: Persona, acme: Security) -> None:
    saturday = date(2025, 3, 1)
    with alice.scope():
        account = ClientAccountFactory()
        record(account, "deposit", saturday, amount=D(1000))
        record(account, "buy", saturday, security=acme, quantity=D(10), price=D(100))
        performance.recompute_full(end=THU)  # no price on Thursday: Wednesday's 121 carries
        rows = values(account)
        assert [r[0] for r in rows] == [MON, TUE, WED, THU]
        assert rows[0][2] == D("1000.00") and rows[-1][1] == D("1210.00")
        assert rows[-1][3] == D("1.2100000000")


def test_incremental_update_matches_the_full_recompute(alice: Persona, acme: Security) -> None:
    with alice.scope():
        account = ClientAccountFactory()
        record(account, "deposit", MON, amount=D(1000))
        record(account, "buy", MON, security=acme, quantity=D(10), price=D(100))
        record(account, "deposit", WED, amount=D(1000))
        performance.recompute_full(end=TUE)
        assert len(values(account)) == 2
        added = performance.update_new_days(end=WED)
        assert added.rows == 1
        incremental = values(account)
        assert performance.update_new_days(end=WED).rows == 0  # idempotent
        performance.recompute_full(end=WED)
        assert values(account) == incremental


def test_accounts_without_activity_get_no_values(alice: Persona, charlie: Persona, acme: Security) -> None:
    with charlie.scope():
        theirs = ClientAccountFactory()
        record(theirs, "deposit", MON, amount=D(5))
    with alice.scope():
        ClientAccountFactory()
        assert performance.recompute_full(end=WED).rows == 0
    with charlie.scope():
        assert performance.recompute_full(end=WED).rows == 3
        assert [len(s.nav) for s in DailySeries.objects.all()] == [3]


def test_contract_functions_and_denormalised_columns(alice: Persona, acme: Security) -> None:
    """value_history / latest_values read what the recompute stored; the account row carries the
    last day (Wed: NAV 2210, day gain 2210 - 1100 - 1000 deposited = 110, return +10 %)."""
    with alice.scope():
        account = ClientAccountFactory()
        empty = ClientAccountFactory()
        record(account, "deposit", MON, amount=D(1000))
        record(account, "buy", MON, security=acme, quantity=D(10), price=D(100))
        record(account, "deposit", WED, amount=D(1000))
        performance.recompute_full(end=TUE)
        account.refresh_from_db()
        assert (account.nav, account.nav_date, account.day_change) == (D("1100.00"), TUE, D("100.00"))
        performance.update_new_days(end=WED)
        history = performance.value_history(account=account)
        assert [(v.date, v.nav, v.net_flow, v.return_index) for v in history] == [
            (MON, D("1000.00"), D("1000.00"), D("1.0000000000")),
            (TUE, D("1100.00"), D("0.00"), D("1.1000000000")),
            (WED, D("2210.00"), D("1000.00"), D("1.2100000000")),
        ]
        assert [v.date for v in performance.value_history(account=account, start=TUE, end=TUE)] == [TUE]
        latest = performance.latest_values(account_ids=[account.pk, empty.pk])
        assert list(latest) == [account.pk]
        assert latest[account.pk] == performance.LatestValue(
            date=WED, nav=D("2210.00"), day_change=D("110.00"), day_return=D("0.1000000000")
        )
        account.refresh_from_db()
        assert (account.nav, account.nav_date, account.day_change) == (D("2210.00"), WED, D("110.00"))
        assert performance.benchmark_history(symbol="NOPE") == []


def _quarter_end_books() -> tuple[ClientAccount, ClientAccount, ClientAccount]:
    """Three accounts from March into April 2025 (a quarter end): one USD with EUR cash and a EUR
    stock, one EUR-based, one that starts late; with a deposit on a Saturday (counts on Monday)."""
    stock = SecurityFactory(symbol="WAVE")
    euro = SecurityFactory(symbol="EWAVE", currency="EUR")
    for i, day in enumerate(performance.business_days(date(2025, 3, 3), date(2025, 4, 15)).tolist()):
        SecurityPriceFactory(security=stock, date=day, close=D(100 + (i * 7) % 11 - 5) + D("0.0125"))
        SecurityPriceFactory(security=euro, date=day, close=D(50 + (i * 3) % 7))
        FxRateFactory(currency="EUR", date=day, rate_to_usd=D("1.05") + D(i % 4) / 100)
    usd = ClientAccountFactory()
    eur = ClientAccountFactory(base_currency="EUR")
    late = ClientAccountFactory()
    record(usd, "deposit", date(2025, 3, 3), amount=D(10000))
    record(usd, "buy", date(2025, 3, 4), security=stock, quantity=D(50), price=D(100))
    record(usd, "deposit", date(2025, 3, 3), amount=D(2000), currency="EUR")
    record(usd, "buy", date(2025, 3, 4), security=euro, quantity=D(20), price=D(50))
    record(eur, "deposit", date(2025, 3, 3), amount=D(5000), currency="EUR")
    record(eur, "buy", date(2025, 3, 5), security=euro, quantity=D(40), price=D(50))
    record(usd, "withdrawal", date(2025, 3, 31), amount=D(1000))
    record(usd, "sell", date(2025, 4, 1), security=stock, quantity=D("12.5"), price=D(101))
    record(eur, "deposit", date(2025, 3, 29), amount=D(300), currency="EUR")  # a Saturday
    record(late, "deposit", date(2025, 4, 2), amount=D(700))
    return usd, eur, late


def stored(accounts: tuple[ClientAccount, ...]) -> dict[str, object]:
    """Everything a run stores for ``accounts``: daily values, latest values, quarter rows, states."""
    ids = [a.pk for a in accounts]
    return {
        "values": {a.pk: values(a) for a in accounts},
        "latest": performance.latest_values(account_ids=ids),
        "rows": sorted(DailySeries.objects.values_list("account_id", "quarter", "first_date")),
        "states": sorted(
            SeriesState.objects.values_list(
                "account_id", "as_of", "nav", "return_index", "security_ids", "quantities", "currencies", "cash"
            )
        ),
    }


def test_new_days_across_a_quarter_end_equal_a_full_recompute(alice: Persona) -> None:
    """The nightly path, run day by day over a quarter end and then over several days at once,
    stores exactly what a full recompute does (values, latest values, quarter rows and states); a
    back-dated account that starts later joins in the update; Saturday's deposit counts on Monday."""
    with alice.scope():
        accounts = _quarter_end_books()
        usd, eur, late = accounts
        performance.recompute_full(end=date(2025, 3, 26))
        for day in performance.business_days(date(2025, 3, 27), date(2025, 4, 4)).tolist():
            performance.update_new_days(end=day)
        performance.update_new_days(end=date(2025, 4, 13))  # a Sunday: up to Friday the 11th
        performance.update_new_days(end=date(2025, 4, 15))  # several days at once
        incremental = stored(accounts)
        performance.recompute_full(end=date(2025, 4, 15))
        assert stored(accounts) == incremental
        assert len(incremental["values"][usd.pk]) == 32 and incremental["values"][late.pk][0][0] == date(2025, 4, 2)
        assert incremental["values"][eur.pk][0][1] == D("5000.00")  # EUR base: no conversion
        monday = {v[0]: v for v in incremental["values"][eur.pk]}[date(2025, 3, 31)]
        assert monday[2] == D("300.00")  # Saturday's deposit is Monday's flow
        assert [q for a, q, _ in incremental["rows"] if a == usd.pk] == [date(2025, 1, 1), date(2025, 4, 1)]
        performance.recompute_full(end=date(2025, 3, 26))  # back to March: April's rows and ``late`` go
        earlier = stored(accounts)
        assert [q for _, q, _ in earlier["rows"]] == [date(2025, 1, 1)] * 2
        assert earlier["values"][late.pk] == [] and earlier["values"][usd.pk][-1][0] == date(2025, 3, 26)
        assert {s[1] for s in earlier["states"]} == {date(2025, 3, 26)}


def test_the_state_holds_the_books_at_its_day(alice: Persona) -> None:
    """The stored state is the books at the last computed day, in exact integer units: the
    positions and the ledger's cash once every transaction is in."""
    with alice.scope():
        usd, eur, _ = _quarter_end_books()
        performance.recompute_full(end=date(2025, 4, 15))
        state = SeriesState.objects.get(account=usd)
        assert state.as_of == date(2025, 4, 15)
        positions = {p.security_id: p.quantity for p in Position.objects.filter(account=usd)}
        assert dict(zip(state.security_ids, state.quantities, strict=True)) == {
            s: int(q * 1_000_000) for s, q in positions.items()
        }
        assert dict(zip(state.currencies, state.cash, strict=True)) == {
            c: int(v * 10_000) for c, v in selectors.cash_balances(account=usd).items() if v
        }
        assert state.nav == float(usd.__class__.objects.get(pk=usd.pk).nav)
        performance.recompute_full(end=date(2025, 3, 28))  # before the Saturday deposit of ``eur``
        eur_state = SeriesState.objects.get(account=eur)
        assert dict(zip(eur_state.currencies, eur_state.cash, strict=True)) == {"EUR": 3000 * 10_000}


def test_forgetting_the_last_day_and_adding_it_back_changes_nothing(alice: Persona) -> None:
    """``forget_last_day`` takes the last day off (values, quarter row, state, latest values), also
    across a quarter start and for an account whose only day it was; the nightly path adds the
    days back exactly as they were."""
    with alice.scope():
        accounts = _quarter_end_books()
        usd, _, late = accounts
        performance.recompute_full(end=date(2025, 4, 2))
        before = stored(accounts)
        assert performance.forget_last_day() == 3
        assert [v[0] for v in values(usd)][-1] == date(2025, 4, 1)
        assert not SeriesState.objects.filter(account=late).exists() and values(late) == []
        late.refresh_from_db()
        assert late.nav is None
        performance.forget_last_day()  # April 1st: the last element of the April row
        assert [q for a, q, _ in stored(accounts)["rows"] if a == usd.pk] == [date(2025, 1, 1)]
        usd_state = SeriesState.objects.get(account=usd)
        assert usd_state.as_of == date(2025, 3, 31) and usd_state.nav == float(values(usd)[-1][1])
        assert performance.latest_values(account_ids=[usd.pk])[usd.pk].date == date(2025, 3, 31)
        performance.update_new_days(end=date(2025, 4, 2))
        assert stored(accounts) == before


def test_nightly_beat_job_updates_every_firm_in_its_own_scope(alice: Persona, charlie: Persona, acme: Security) -> None:
    """The beat entry fans out one firm-scoped update per firm (run eagerly here): each firm's
    accounts gain the new day (Wednesday, the last price), and a rerun adds nothing."""
    from django.conf import settings

    from portfolios.tasks import daily_values_nightly

    entry = settings.CELERY_BEAT_SCHEDULE["portfolio-daily-values"]
    assert entry["task"] == daily_values_nightly.name
    accounts = {}
    for persona in (alice, charlie):
        with persona.scope():
            account = ClientAccountFactory()
            record(account, "deposit", MON, amount=D(1000))
            record(account, "buy", MON, security=acme, quantity=D(10), price=D(100))
            performance.recompute_full(end=TUE)
            accounts[persona.firm.pk] = account
    assert daily_values_nightly.apply(throw=True).get() >= 2
    for persona in (alice, charlie):
        with persona.scope():
            account = accounts[persona.firm.pk]
            assert [v.date for v in performance.value_history(account=account)] == [MON, TUE, WED]
            account.refresh_from_db()
            assert (account.nav_date, account.nav) == (WED, D("1210.00"))
    daily_values_nightly.apply(throw=True)
    with alice.scope():
        assert len(performance.value_history(account=accounts[alice.firm.pk])) == 3
