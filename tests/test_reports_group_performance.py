"""Performance of a CRM group and of the whole firm (issue #19, point 1): the summed values' daily
growth equals the household's value-weighted linking (the same book measured as a household, a
group and the firm gives the same figures), fees net and gross, the firm as the user's scope
(stored sums for a user who sees every account, summed on the fly for a scoped one), pages, and
the outsiders: a private group of another user and another firm's group are 404, Bob is 403."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from accounts import services as account_services
from accounts.models import AccountScope
from accounts.rights import Role
from crm import services as crm_services
from portfolios import aum, services
from portfolios import performance as daily_values
from portfolios.models import ClientAccount
from tests.conftest import Persona
from tests.factories import ContactFactory, HouseholdFactory, UserFactory
from tests.factories_portfolios import ClientAccountFactory, SecurityFactory, SecurityPriceFactory

pytestmark = pytest.mark.django_db
D = Decimal
MON, TUE, WED, THU = date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 5), date(2025, 3, 6)
API = "/api/v1/reports/performance/"


def record(account: ClientAccount, kind: str, day: date, **kwargs: Any) -> None:
    services.transaction_record(actor=None, account=account, kind=kind, trade_date=day, **kwargs)


def measured(persona: Persona, **query: Any) -> dict[str, Any]:
    response = persona.api().get(API, query)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def figures(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(p["code"], p["start"], p["start_value"], p["end_value"], p["flows"], p["fees"], p["net"], p["gross"])
            for p in body["periods"]]  # fmt: skip


@pytest.fixture
def book(alice: Persona) -> dict[str, Any]:
    """A: 1,000 in FALL (flat Tue, -10 % Wed, +5 % Thu), a fee of 10 on Thu. B: 1,000 cash, 1,000 more
    on Tue. Both in household H and, by their owners, in group G. C (EUR) is in G too; D is in neither."""
    fall = SecurityFactory(symbol="FALL")
    for day, close in {MON: "100", TUE: "100", WED: "90", THU: "94.5"}.items():
        SecurityPriceFactory(security=fall, date=day, close=D(close))
    with alice.scope():
        owners = [ContactFactory(last_name=name) for name in ("Able", "Baker", "Cole", "Dunn")]
        household = HouseholdFactory(name="H")
        a = ClientAccountFactory(number="A1", household=household, owners=[owners[0]])
        b = ClientAccountFactory(number="B1", household=household, owners=[owners[1]])
        c = ClientAccountFactory(number="C1", base_currency="EUR", owners=[owners[2]])
        d = ClientAccountFactory(number="D1", owners=[owners[3]], base_currency="EUR")
        ClientAccountFactory(number="M1", is_master=True, account_type="master")
        group = crm_services.group_create(actor=alice.user, name="G")
        crm_services.group_add_members(actor=alice.user, group=group, contacts=owners[:3])
        record(a, "deposit", MON, amount=D(1000))
        record(a, "buy", MON, security=fall, quantity=D(10), price=D(100))
        record(b, "deposit", MON, amount=D(1000))
        record(b, "deposit", TUE, amount=D(1000))
        record(c, "deposit", MON, amount=D(500), currency="EUR")
        record(d, "deposit", MON, amount=D(500), currency="EUR")
        services.fee_charge(actor=None, account=b, amount="10", currency="USD", trade_date=THU, idempotency_key="f")
        daily_values.recompute_full(end=THU)
        aum.refresh()
    return {"household": household, "group": group, "a": a, "b": b, "c": c}


def test_a_group_measures_as_the_household_of_the_same_accounts(alice: Persona, book: dict[str, Any]) -> None:
    group = measured(alice, group=book["group"].pk)
    household = measured(alice, household=book["household"].pk)
    assert (group["kind"], group["name"], group["currency"]) == ("group", "G", "USD")
    assert [a["number"] for a in group["accounts"]] == ["A1", "B1"] and group["account_count"] == 2
    assert [a["number"] for a in group["left_out"]] == ["C1"] and group["left_out_count"] == 1
    assert figures(group) == figures(household)
    itd = next(p for p in group["periods"] if p["code"] == "ITD")
    assert (itd["fees"], itd["net"]["twr"] != itd["gross"]["twr"]) == ("-10.00", True)
    assert D(itd["net"]["twr"]) < D(itd["gross"]["twr"])


def test_the_firm_is_the_users_scope(alice: Persona, book: dict[str, Any]) -> None:
    """For Alice (every account) the firm's USD accounts are A1, B1 and the master account (no
    value): the household's figures, from the stored sums. Erin sees only A1: the firm for her is
    A1's figures, summed on the fly."""
    firm = measured(alice, firm="true")
    assert (firm["kind"], firm["currency"], firm["account_count"]) == ("firm", "USD", 3)
    assert firm["left_out_count"] == 2
    # The master account's fee income of 10 on Thursday is an external flow into the firm's accounts:
    # it adds to the value and the flows, not to the returns.
    household = measured(alice, household=book["household"].pk)
    assert [(p["code"], p["net"] and p["net"]["twr"], p["gross"] and p["gross"]["twr"]) for p in firm["periods"]] == [
        (p["code"], p["net"] and p["net"]["twr"], p["gross"] and p["gross"]["twr"]) for p in household["periods"]
    ]
    itd, same = (next(p for p in body["periods"] if p["code"] == "ITD") for body in (firm, household))
    assert D(itd["flows"]) - D(same["flows"]) == D(10) == D(itd["end_value"]) - D(same["end_value"])
    with alice.scope():
        analyst = UserFactory(firm=alice.firm, email="erin@alpha.test", role=Role.ADVISOR)
        account_services.account_scope_set(
            actor=alice.user, user=analyst, scope=AccountScope.SELECTED, account_ids=frozenset({book["a"].pk})
        )
    erin = Persona(analyst, alice.firm)
    mine = measured(erin, firm="true")
    assert mine["account_count"] == 1 and [a["number"] for a in mine["accounts"]] == ["A1"]
    assert figures(mine) == figures(measured(erin, account=book["a"].pk))
    # Erin's scope holds none of the group's accounts but A1: the group is A1 for her.
    assert figures(measured(erin, group=book["group"].pk)) == figures(mine)


def test_the_pages_show_group_and_firm(alice: Persona, book: dict[str, Any]) -> None:
    client = alice.client()
    page = client.get(f"/reports/performance/group/{book['group'].pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Performance: G" in html and "The group's members' accounts: 2 in USD" in html
    assert "Time-weighted" in html and "Modified Dietz" in html
    firm = client.get("/reports/performance/firm/", {"start": "2025-03-04", "end": "2025-03-06"})
    assert firm.status_code == 200 and "Every account you may see: 3 in USD" in firm.content.decode()
    bad = client.get("/reports/performance/firm/", {"start": "2031-01-01"})
    assert bad.status_code == 400 and "in the future" in bad.content.decode()
    index = client.get("/reports/").content.decode()
    assert "/reports/performance/firm/" in index and f"/reports/performance/group/{book['group'].pk}/" in index


def test_outsiders_private_groups_and_rights(
    alice: Persona, bob: Persona, charlie: Persona, book: dict[str, Any]
) -> None:
    with alice.scope():
        other = UserFactory(firm=alice.firm, email="olga@alpha.test", role=Role.ADVISOR)
        private = crm_services.group_create(actor=other, name="Olga's", is_private=True)
        crm_services.group_add_members(actor=other, group=private, contacts=[book["a"].owners.first()])
        empty = crm_services.group_create(actor=alice.user, name="Empty")
    for pk in (private.pk, empty.pk, 999_999):
        assert alice.api().get(API, {"group": pk}).status_code == 404, pk
        assert alice.client().get(f"/reports/performance/group/{pk}/").status_code == 404, pk
    assert charlie.api().get(API, {"group": book["group"].pk}).status_code == 404
    assert charlie.client().get(f"/reports/performance/group/{book['group'].pk}/").status_code == 404
    # Charlie's firm has no accounts: its firm view says there are no values yet, nothing of firm A.
    theirs = measured(charlie, firm="true")
    assert theirs["periods"] == [] and theirs["accounts"] == [] and theirs["account_count"] == 0
    assert bob.api().get(API, {"firm": "true"}).status_code == 403
    assert bob.client().get("/reports/performance/firm/").status_code == 403
    assert bob.client().get(f"/reports/performance/group/{book['group'].pk}/").status_code == 403
    both = alice.api().get(API, {"group": book["group"].pk, "firm": "true"})
    assert both.status_code == 400 and "Give exactly one of" in both.json()["error"]["fields"]["account"][0]
