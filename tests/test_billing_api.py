"""Issue #18, point 7: the fee calculator through the API (the contract's shape, bad input naming
the field, rights) and behind its page (the same answers and errors, in words)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.rights import Right, Role
from tests.conftest import Persona
from tests.factories import UserFactory
from tests.test_api_schema_conformance import _check

pytestmark = pytest.mark.django_db
URL = "/api/v1/billing/fee-calculator/"


def body(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schedule": {
            "method": "tiered",
            "tiers": [{"up_to": "1000000.00", "annual_rate_pct": "1.00"}, {"up_to": None, "annual_rate_pct": "0.75"}],
            "flat_annual_fee": None,
            "minimum_annual_fee": None,
            "maximum_annual_fee": None,
        },
        "accounts": [{"ref": "U1", "value": "900000.00"}, {"ref": "U2", "value": "350000.00"}],
        "householding": True,
        "frequency": "quarterly",
    }
    data.update(changes)
    return data


def test_the_answer_is_the_contracts_shape(alice: Persona) -> None:
    response = alice.api().post(URL, body(), format="json")
    assert response.status_code == 200, response.content
    answer = response.json()
    assert set(answer) == {"annual_fee", "period_fee", "blended_rate_pct", "accounts", "lines", "explanation"}
    assert (answer["annual_fee"], answer["period_fee"], answer["blended_rate_pct"]) == ("11875.00", "2968.75", "0.9500")
    assert answer["accounts"] == [
        {"ref": "U1", "annual_fee": "8550.00", "period_fee": "2137.50"},
        {"ref": "U2", "annual_fee": "3325.00", "period_fee": "831.25"},
    ]
    assert answer["lines"] == [
        {"from": "0.00", "to": "1000000.00", "annual_rate_pct": "1.00", "base": "1000000.00", "annual_fee": "10000.00"},
        {"from": "1000000.00", "to": None, "annual_rate_pct": "0.75", "base": "250000.00", "annual_fee": "1875.00"},
    ]
    assert "Householding" in answer["explanation"]
    _check(alice, response, URL, "post")


def test_proration_and_optional_fields(alice: Persona) -> None:
    prorated = body(
        schedule={"method": "flat", "flat_annual_fee": "1200.00"},
        accounts=[{"ref": "New", "value": "0"}],
        householding=False,
        period_start="2026-01-01",
        period_end="2026-03-31",
        billable_from="2026-03-02",
        proration="period_fraction",
    )
    response = alice.api().post(URL, prorated, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["period_fee"] == "100.00"  # 1,200 ÷ 4 × 30 ÷ 90
    assert response.json()["lines"] == [] and response.json()["blended_rate_pct"] is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"schedule": {"method": "tiered", "tiers": [{"up_to": "500", "annual_rate_pct": "1"},
                                                      {"up_to": "400", "annual_rate_pct": "1"},
                                                      {"up_to": None, "annual_rate_pct": "1"}]}},
         "schedule.tiers[1].up_to"),  # unordered
        ({"schedule": {"method": "tiered", "tiers": [{"up_to": "500", "annual_rate_pct": "1"},
                                                      {"up_to": "500", "annual_rate_pct": "1"},
                                                      {"up_to": None, "annual_rate_pct": "1"}]}},
         "schedule.tiers[1].up_to"),  # overlapping
        ({"schedule": {"method": "tiered", "tiers": [{"up_to": "500", "annual_rate_pct": "1"}]}},
         "schedule.tiers[0].up_to"),  # values above the last band would have no rate
        ({"schedule": {"method": "tiered", "tiers": [{"up_to": None, "annual_rate_pct": "-1"}]}},
         "schedule.tiers[0].annual_rate_pct"),
        ({"schedule": {"method": "percentish", "tiers": []}}, "schedule.method"),
        ({"accounts": [{"ref": "U1", "value": "-5.00"}]}, "accounts[0].value"),
        ({"accounts": [{"ref": "U1", "value": "NaN"}]}, "accounts[0].value"),
        ({"accounts": [{"ref": "U1", "value": "1.005"}]}, "accounts[0].value"),
        ({"accounts": [{"ref": "U1", "value": "1"}, {"ref": "U1", "value": "2"}]}, "accounts[1].ref"),
        ({"accounts": []}, "accounts"),
        ({"accounts": "U1 100"}, "accounts"),
        ({"frequency": "weekly"}, "frequency"),
        ({"householding": "maybe"}, "householding"),
        ({"proration": "actual/365"}, "period_start"),
        ({"period_start": "2026-01-01", "period_end": "2026-12-31"}, "period_end"),  # no quarter
        ({"billable_from": "2026-01-05"}, "proration"),
        ({"schedule": "tiered"}, "schedule"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_naming_the_field(alice: Persona, changes: dict[str, Any], field: str) -> None:
    response = alice.api().post(URL, body(**changes), format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid" and field in error["fields"], error
    assert all(isinstance(m, str) and m for m in error["fields"][field])


def test_a_body_without_the_required_fields(alice: Persona) -> None:
    response = alice.api().post(URL, {}, format="json")
    assert response.status_code == 400
    assert {"schedule", "accounts", "householding", "frequency"} <= set(response.json()["error"]["fields"])


def test_fee_administration_is_needed(alice: Persona, bob: Persona) -> None:
    assert bob.api().post(URL, body(), format="json").status_code == 403  # CRM only
    assert Persona(UserFactory(firm=alice.firm, role=Role.ADVISOR, rights=frozenset({Right.FEE_ADMINISTRATION})),
                   alice.firm).api().post(URL, body(), format="json").status_code == 200  # fmt: skip
    assert APIClient().post(URL, body(), format="json").status_code in (401, 403)


# --- The page ------------------------------------------------------------------------------------

PAGE = "/billing/fee-calculator/"
ASKED = {
    "method": "tiered", "band_1_up_to": "1,000,000", "band_1_rate": "1.00", "band_2_rate": "0.75",
    "accounts": "U1 900,000.00\nU2 350,000\n", "householding": "on", "frequency": "quarterly",
}  # fmt: skip


def test_the_page_answers_as_the_api_does(alice: Persona) -> None:
    page = alice.client().get(PAGE)
    assert page.status_code == 200 and "Calculate" in page.content.decode()
    answered = alice.client().get(PAGE, ASKED).content.decode()
    assert "11,875.00" in answered and "2,968.75" in answered and "0.9500 %" in answered
    assert "8,550.00" in answered and "3,325.00" in answered  # the shares
    assert "Householding: the 2 accounts" in answered


def test_the_page_names_the_band_and_the_line_that_is_wrong(alice: Persona) -> None:
    bad = {**ASKED, "band_2_up_to": "500", "band_2_rate": "1", "band_3_rate": "0.5", "accounts": "U1 100\n\nU2 -4"}
    answered = alice.client().get(PAGE, bad).content.decode()
    assert "Nothing was calculated" in answered
    assert "Line 3:" in answered  # the textarea's own line number, blank lines counted
    assert "11,875.00" not in answered
    unordered = alice.client().get(PAGE, {**ASKED, "band_2_up_to": "500", "band_3_rate": "0.5"}).content.decode()
    assert "Bands must rise" in unordered


def test_the_page_needs_fee_administration(bob: Persona) -> None:
    assert bob.client().get(PAGE).status_code == 403
    assert bob.client().get("/billing/").status_code == 403
