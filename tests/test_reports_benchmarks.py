"""Blended benchmarks (issue #19, point 1): a firm's mix of stored index series by weight, kept
through its page and the API (PortfolioAnalyst; another firm's blend is a 404; weights add up to
100 %, bad input names the field and stores nothing), its levels checked against hand-computed
mixes for each rebalancing, and the blend beside the returns of an account and a household."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from accounts.models import AuditEntry
from portfolios import performance as daily_values
from portfolios import services as portfolio_services
from portfolios.models import Benchmark, BenchmarkValue
from reports.benchmarks import blend_levels
from reports.models import BlendComponent, BlendedBenchmark
from tests.conftest import Persona
from tests.factories import HouseholdFactory
from tests.factories_portfolios import ClientAccountFactory

pytestmark = pytest.mark.django_db
D = Decimal
MON, TUE, WED = date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 5)
API = "/api/v1/reports/benchmarks/"
PERFORMANCE = "/api/v1/reports/performance/"
PAGE = "/reports/benchmarks/"
SIXTY_FORTY = [{"benchmark": "EQ", "weight": "60.00"}, {"benchmark": "BD", "weight": "40"}]


@pytest.fixture
def indexes(db: None) -> None:
    """EQ: 100, 110, 99 (+10 %, then -10 %); BD: 50, 50, 55 (flat, then +10 %); Monday to Wednesday."""
    for symbol, levels in (("EQ", ("100", "110", "99")), ("BD", ("50", "50", "55"))):
        index = Benchmark.objects.create(symbol=symbol, name=f"Index {symbol}", currency="USD")
        for day, level in zip((MON, TUE, WED), levels, strict=True):
            BenchmarkValue.objects.create(benchmark=index, date=day, level=D(level))


def stored(persona: Persona) -> tuple[int, int]:
    with persona.scope():
        return BlendedBenchmark.objects.count(), BlendComponent.objects.count()


def create(persona: Persona, name: str = "Sixty forty", rebalance: str = "monthly") -> dict[str, Any]:
    response = persona.api().post(API, {"name": name, "rebalance": rebalance, "components": SIXTY_FORTY}, format="json")
    assert response.status_code == 201, response.content
    return dict(response.json())


# --- The mix, by hand ---------------------------------------------------------------------------------

# A starts a day before B; B has no level on Feb 5 (its Feb 4 level is carried forward).
A = [(date(2025, 1, 29), D(95)), (date(2025, 1, 30), D(100)), (date(2025, 1, 31), D(110)),
     (date(2025, 2, 3), D(121)), (date(2025, 2, 4), D("108.9")), (date(2025, 2, 5), D("119.79"))]  # fmt: skip
B = [(date(2025, 1, 30), D(200)), (date(2025, 1, 31), D(200)), (date(2025, 2, 3), D(180)),
     (date(2025, 2, 4), D(198))]  # fmt: skip
DAYS = [date(2025, 1, 30), date(2025, 1, 31), date(2025, 2, 3), date(2025, 2, 4), date(2025, 2, 5)]


@pytest.mark.parametrize(
    ("rebalance", "expected"),
    [
        # Every day back to 60/40: the product of 1 + the weighted daily returns.
        # Jan 31: 0.6 x 10 % + 0.4 x 0 % = +6 %; Feb 3: 0.6 x 10 % + 0.4 x -10 % = +2 %;
        # Feb 4: 0.6 x -10 % + 0.4 x 10 % = -2 %; Feb 5: 0.6 x 10 % + 0.4 x 0 % (carried) = +6 %.
        ("daily", ["100", "106", "108.12", "105.9576", "112.315056"]),
        # Back to 60/40 at the close of Jan 31 (106), then drifting through February:
        # Feb 3: 106 x (0.6 x 121/110 + 0.4 x 180/200) = 106 x 1.02; Feb 4: 106 x (0.6 x 0.99 + 0.4 x 0.99);
        # Feb 5: 106 x (0.6 x 119.79/110 + 0.4 x 198/200) = 106 x 1.0494.
        ("monthly", ["100", "106", "108.12", "104.94", "111.2364"]),
        # No quarter or year ends in the range: 100 x (0.6 x A(t)/100 + 0.4 x B(t)/200) throughout.
        ("quarterly", ["100", "106", "108.6", "104.94", "111.474"]),
        ("annually", ["100", "106", "108.6", "104.94", "111.474"]),
    ],
)
def test_the_blend_is_the_weighted_mix_rebalanced_as_it_says(rebalance: str, expected: list[str]) -> None:
    levels = blend_levels([(D("0.6"), A), (D("0.4"), B)], rebalance=rebalance)
    assert levels == [(day, D(level)) for day, level in zip(DAYS, expected, strict=True)]


def test_a_quarter_end_rebalances_a_quarterly_blend_but_not_a_yearly_one() -> None:
    """50/50; Mar 31: A +10 %, B 0 % (105). Apr 1: A +10 %, B -10 %. Quarterly: back to 50/50 at the
    close of Mar 31, so 105 x (0.5 x 1.1 + 0.5 x 0.9) = 105. Yearly: 100 x (0.5 x 1.21 + 0.5 x 0.9)."""
    a = [(date(2025, 3, 28), D(100)), (date(2025, 3, 31), D(110)), (date(2025, 4, 1), D(121))]
    b = [(date(2025, 3, 28), D(100)), (date(2025, 3, 31), D(100)), (date(2025, 4, 1), D(90))]
    half = D("0.5")
    assert blend_levels([(half, a), (half, b)], rebalance="quarterly")[-1] == (date(2025, 4, 1), D(105))
    assert blend_levels([(half, a), (half, b)], rebalance="annually")[-1] == (date(2025, 4, 1), D("105.5"))


def test_levels_are_kept_to_ten_places_half_up_and_nothing_without_levels() -> None:
    """100 x (0.5 x 103/100 + 0.5 x 301/300) = 101.666…: 101.6666666667."""
    a = [(MON, D(100)), (TUE, D(103))]
    b = [(MON, D(300)), (TUE, D(301))]
    assert blend_levels([(D("0.5"), a), (D("0.5"), b)], rebalance="daily")[-1] == (TUE, D("101.6666666667"))
    assert blend_levels([(D("0.5"), a), (D("0.5"), [])], rebalance="daily") == []
    assert blend_levels([(D("0.5"), a), (D("0.5"), [(MON, D(0)), (TUE, D(1))])], rebalance="daily") == []


# --- Kept through the API and the page ----------------------------------------------------------------


def test_create_edit_and_delete_through_the_api(alice: Persona, indexes: None) -> None:
    body = create(alice)
    assert body == {
        "id": body["id"], "name": "Sixty forty", "rebalance": "monthly",
        "components": [{"benchmark": "EQ", "weight": "60.00"}, {"benchmark": "BD", "weight": "40.00"}],
    }  # fmt: skip
    api = alice.api()
    assert api.get(API).json() == [body]
    assert api.get(f"{API}{body['id']}/").json() == body
    changed = api.put(
        f"{API}{body['id']}/",
        {"name": "Seventy thirty", "rebalance": "daily",
         "components": [{"benchmark": "BD", "weight": "30.00"}, {"benchmark": "EQ", "weight": "70.00"}]},
        format="json",
    )  # fmt: skip
    assert changed.status_code == 200, changed.content
    assert changed.json()["components"] == [{"benchmark": "EQ", "weight": "70.00"},
                                            {"benchmark": "BD", "weight": "30.00"}]  # fmt: skip
    assert (changed.json()["name"], changed.json()["rebalance"]) == ("Seventy thirty", "daily")
    assert stored(alice) == (1, 2)  # the components replaced, not added to
    with alice.scope():
        audited = set(AuditEntry.objects.values_list("object_type", "action"))
    assert any("blendedbenchmark" in kind.lower() for kind, _ in audited)
    assert api.delete(f"{API}{body['id']}/").status_code == 204
    assert api.get(f"{API}{body['id']}/").status_code == 404
    assert stored(alice) == (0, 0)


def test_create_edit_and_delete_through_the_page(alice: Persona, indexes: None) -> None:
    client = alice.client()
    assert "No blended benchmark yet." in client.get(PAGE).content.decode()
    form = {"name": "Sixty forty", "rebalance": "monthly", "index_0": "EQ", "weight_0": "60", "index_1": "BD",
            "weight_1": "40"}  # fmt: skip
    response = client.post(PAGE, form)
    assert response.status_code == 302 and response["Location"] == PAGE
    listed = client.get(PAGE).content.decode()
    assert "Sixty forty" in listed and "60.00 % EQ + 40.00 % BD" in listed
    with alice.scope():
        blend = BlendedBenchmark.objects.get()
    edit = client.get(f"{PAGE}{blend.pk}/").content.decode()
    assert 'value="Sixty forty"' in edit and 'value="60.00"' in edit
    response = client.post(f"{PAGE}{blend.pk}/", {**form, "rebalance": "quarterly", "weight_0": "55", "weight_1": "45"})
    assert response.status_code == 302
    with alice.scope():
        blend.refresh_from_db()
        weights = sorted((c.benchmark.symbol, c.weight) for c in blend.components.all())
    assert blend.rebalance == "quarterly" and weights == [("BD", D("45.00")), ("EQ", D("55.00"))]
    # Deleting asks first; the blend goes only once confirmed.
    asked = client.post(f"{PAGE}{blend.pk}/", {"action": "delete"})
    assert asked.status_code == 302 and asked["Location"] == f"{PAGE}{blend.pk}/?delete=1"
    assert "This cannot be undone." in client.get(asked["Location"]).content.decode()
    assert stored(alice) == (1, 2)
    gone = client.post(f"{PAGE}{blend.pk}/", {"action": "delete", "confirm": "yes"})
    assert gone.status_code == 302 and stored(alice) == (0, 0)
    assert client.get(f"{PAGE}{blend.pk}/").status_code == 404


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"components": [{"benchmark": "EQ", "weight": "60.00"}, {"benchmark": "BD", "weight": "30.00"}]},
         "components", "The weights add up to 90.00 %: they must add up to 100 %."),
        ({"components": [{"benchmark": "EQ", "weight": "60.00"}, {"benchmark": "BD", "weight": "40.01"}]},
         "components", "The weights add up to 100.01 %"),
        ({"components": [{"benchmark": "EQ", "weight": "60"}, {"benchmark": "NOPE", "weight": "40"}]},
         "components", "No index series has the symbol 'NOPE'."),
        ({"components": [{"benchmark": "EQ", "weight": "100"}]}, "components", "at least 2"),
        ({"components": [{"benchmark": "EQ", "weight": "50"}, {"benchmark": "EQ", "weight": "50"}]},
         "components", "Each index series may appear only once"),
        ({"components": [{"benchmark": "EQ", "weight": "100"}, {"benchmark": "BD", "weight": "0"}]},
         "components", "The weight of BD must be more than 0"),
        ({"components": [{"benchmark": "EQ", "weight": "66.667"}, {"benchmark": "BD", "weight": "33.333"}]},
         "components", "in hundredths"),
        ({"components": [{"benchmark": "EQ", "weight": 60}, {"benchmark": "BD", "weight": 40}]},
         "components", "Row 1: weight: Send it as a decimal string"),
        ({"components": [{"benchmark": "EQ", "weight": "60"}, {"symbol": "BD", "weight": "40"}]},
         "components", "Row 2: give exactly benchmark and weight."),
        ({"rebalance": "weekly"}, "rebalance", "is not a valid choice"),
        ({"name": "  "}, "name", "may not be blank"),
    ],
)  # fmt: skip
def test_bad_input_names_the_field_and_stores_nothing(
    alice: Persona, indexes: None, body: dict[str, Any], field: str, message: str
) -> None:
    full = {"name": "Mix", "rebalance": "monthly", "components": SIXTY_FORTY, **body}
    response = alice.api().post(API, full, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid" and message in " ".join(error["fields"][field])
    assert stored(alice) == (0, 0)
    # The same body cannot change a blend either: it stays as it was.
    blend = create(alice)
    again = alice.api().put(f"{API}{blend['id']}/", full, format="json")
    assert again.status_code == 400 and message in " ".join(again.json()["error"]["fields"][field])
    assert alice.api().get(f"{API}{blend['id']}/").json() == blend


def test_a_name_is_unique_in_the_firm_not_across_firms(alice: Persona, charlie: Persona, indexes: None) -> None:
    create(alice)
    response = alice.api().post(API, {"name": "Sixty forty", "components": SIXTY_FORTY}, format="json")
    assert response.status_code == 400, response.content
    assert "already has a blended benchmark of that name" in " ".join(response.json()["error"]["fields"]["name"])
    assert stored(alice) == (1, 2)
    create(charlie)  # another firm may use the same name


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"weight_1": "30"}, None, "The weights add up to 90.00 %"),
        ({"index_1": "NOPE"}, "index_1", "Select a valid choice"),
        ({"weight_1": ""}, "weight_1", "Give this index series a weight."),
        ({"index_2": "", "weight_2": "10"}, "index_2", "Choose the index series this weight is for."),
        ({"weight_0": "60.555"}, "weight_0", "no more than 2 decimal places"),
    ],
)
def test_the_page_refuses_bad_input_and_stores_nothing(
    alice: Persona, indexes: None, change: dict[str, str], field: str | None, message: str
) -> None:
    form = {"name": "Mix", "rebalance": "monthly", "index_0": "EQ", "weight_0": "60", "index_1": "BD",
            "weight_1": "40", **change}  # fmt: skip
    response = alice.client().post(PAGE, form)
    assert response.status_code == 400
    assert message in response.content.decode()
    if field is not None:
        assert message in " ".join(response.context["form"].errors[field])
    assert stored(alice) == (0, 0)


def test_rights_and_other_firms(alice: Persona, bob: Persona, charlie: Persona, indexes: None) -> None:
    blend = create(alice)
    url = f"{API}{blend['id']}/"
    # Bob has CRM only: no PortfolioAnalyst, no blends.
    assert bob.api().get(API).status_code == 403
    assert bob.api().post(API, {"name": "Mine", "components": SIXTY_FORTY}, format="json").status_code == 403
    assert bob.api().delete(url).status_code == 403
    assert bob.client().get(PAGE).status_code == 403
    # Charlie's firm: Alice's blend does not exist, whatever he does with it.
    api = charlie.api()
    assert api.get(API).json() == []
    assert api.get(url).status_code == 404
    assert api.put(url, {"name": "Taken", "components": SIXTY_FORTY}, format="json").status_code == 404
    assert api.delete(url).status_code == 404
    page = charlie.client()
    assert page.get(f"{PAGE}{blend['id']}/").status_code == 404
    assert page.post(f"{PAGE}{blend['id']}/", {"action": "delete", "confirm": "yes"}).status_code == 404
    assert "Sixty forty" not in page.get(PAGE).content.decode()
    with charlie.scope():
        own = ClientAccountFactory()
        portfolio_services.transaction_record(actor=None, account=own, kind="deposit", trade_date=MON, amount=D(10))
        daily_values.recompute_full(end=WED)
    refused = api.get(PERFORMANCE, {"account": own.pk, "blend": blend["id"]})
    assert refused.status_code == 404 and refused.json()["error"]["message"] == "No such blended benchmark."
    offered = page.get(f"/reports/performance/account/{own.pk}/", {"blend": blend["id"]})
    assert offered.status_code == 400 and "Sixty forty" not in offered.content.decode()
    assert alice.api().get(url).json() == blend  # untouched


# --- Beside the returns ---------------------------------------------------------------------------------


@pytest.fixture
def household(alice: Persona, indexes: None) -> Any:
    """A household of one account: 1,000 deposited on Monday, valued Monday to Wednesday."""
    with alice.scope():
        household = HouseholdFactory(name="Able household")
        account = ClientAccountFactory(household=household)
        portfolio_services.transaction_record(
            actor=None, account=account, kind="deposit", trade_date=MON, amount=D(1000)
        )
        daily_values.recompute_full(end=WED)
    return household, account


def period(body: dict[str, Any], code: str) -> dict[str, Any]:
    return next(p for p in [*body["periods"], body["custom"]] if p and p["code"] == code)


def test_the_blend_is_measured_beside_every_period(alice: Persona, household: Any) -> None:
    """60 % EQ + 40 % BD from Monday's close (100):

    - monthly (no month end in between): Wed 100 x (0.6 x 99/100 + 0.4 x 55/50) = 103.4: +3.4 %;
      from Tuesday's close (106 = 100 x (0.6 x 1.1 + 0.4 x 1)): 103.4 / 106 - 1 = -2.4528301887 %.
    - daily: Tue 106, Wed 106 x (0.6 x 0.9 + 0.4 x 1.1) = 103.88: +3.88 %; from Tuesday: -2 %."""
    home, account = household
    blend = create(alice)
    api = alice.api()
    for query in ({"account": account.pk}, {"household": home.pk}):
        body = api.get(PERFORMANCE, {**query, "blend": blend["id"], "benchmark": "EQ"}).json()
        assert body["blend"] == blend
        itd = period(body, "ITD")
        assert (itd["benchmark"], itd["blend"], itd["blend_annualized"]) == ("-0.0100000000", "0.0340000000", None)
        custom = period(api.get(PERFORMANCE, {**query, "blend": blend["id"], "start": "2025-03-05"}).json(), "CUSTOM")
        assert (custom["start"], custom["blend"]) == ("2025-03-04", str((D("103.4") / 106 - 1).quantize(D("1e-10"))))
        assert custom["blend"] == "-0.0245283019"
    api.put(f"{API}{blend['id']}/", {"name": "Sixty forty", "rebalance": "daily", "components": SIXTY_FORTY},
            format="json")  # fmt: skip
    body = api.get(PERFORMANCE, {"household": home.pk, "blend": blend["id"], "start": "2025-03-05"}).json()
    assert period(body, "ITD")["blend"] == "0.0388000000" and period(body, "CUSTOM")["blend"] == "-0.0200000000"
    # Without a blend, nothing is said about one.
    plain = api.get(PERFORMANCE, {"account": account.pk}).json()
    assert plain["blend"] is None and period(plain, "ITD")["blend"] is None


def test_the_pages_show_the_blend_as_a_column_and_say_how_it_is_mixed(alice: Persona, household: Any) -> None:
    home, account = household
    blend = create(alice)
    client = alice.client()
    for url in (f"/reports/performance/account/{account.pk}/", f"/reports/performance/household/{home.pk}/"):
        offered = client.get(url).content.decode()
        assert f'<option value="{blend["id"]}">Sixty forty</option>' in offered
        assert "<small>blended</small>" not in offered
        html = client.get(url, {"blend": blend["id"], "benchmark": "EQ"}).content.decode()
        assert "Sixty forty<br><small>blended</small></th>" in html
        assert 'data-label="Sixty forty">+3.40 %' in html and 'data-label="EQ">-1.00 %' in html
        assert "and the blended benchmark Sixty forty" in html
        assert "60.00 % EQ + 40.00 % BD, rebalanced monthly" in html
        assert "at the close of each month's last day with levels the mix is set back" in html
