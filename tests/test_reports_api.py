"""The calculators' API under /api/v1/tools/ and their pages (issue #19): answers, bad input as
400 naming the field, the PortfolioAnalyst right (403 without it, 401 without a token)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.rights import Right
from tests.conftest import Persona

SPREADSHEET = [
    {"date": "2008-01-01", "amount": "-10000"},
    {"date": "2008-03-01", "amount": "2750"},
    {"date": "2008-10-30", "amount": "4250"},
    {"date": "2009-02-15", "amount": "3250"},
    {"date": "2009-04-01", "amount": "2750"},
]
HALF_WAY = {
    "valuations": [{"date": "2023-01-01", "value": "1000"}, {"date": "2023-07-01", "value": "1100"},
                   {"date": "2024-01-01", "value": "2200"}],
    "flows": [{"date": "2023-07-01", "amount": "1000"}],
}  # fmt: skip
RMD_QUERY = {"birth_date": "1951-05-01", "year": "2024", "balance": "100000.00"}


def token(persona: Persona, **kwargs: Any) -> APIClient:
    client = APIClient()
    _, raw = account_services.api_token_create(user=persona.user, name="tools", **kwargs)
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


def post(client: APIClient, path: str, body: Any) -> Any:
    return client.post(f"/api/v1/tools/{path}/", body, format="json")


def fields(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, (response.status_code, response.content)
    error = response.json()["error"]
    assert error["code"] == "invalid"
    return error["fields"]  # type: ignore[no-any-return]


# --- Answers ------------------------------------------------------------------------------------------


def test_xirr(alice: Persona) -> None:
    response = post(token(alice), "xirr", {"cashflows": SPREADSHEET})
    assert response.status_code == 200
    assert response.json() == {"rate": "0.373362533519"}


def test_xnpv(alice: Persona) -> None:
    response = post(token(alice), "xnpv", {"rate": "0.09", "cashflows": SPREADSHEET})
    assert response.status_code == 200 and response.json() == {"value": "2086.647602"}


def test_irr(alice: Persona) -> None:
    response = post(token(alice), "irr", {"cashflows": ["-70000", "12000", "15000", "18000", "21000", "26000"]})
    assert response.status_code == 200 and response.json() == {"rate": "0.0866309480365"}


def test_returns(alice: Persona) -> None:
    response = post(token(alice), "returns", HALF_WAY)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"twr", "twr_annualized", "mwr", "mwr_annualized", "modified_dietz", "days", "explanation"}
    assert body["twr"] == "0.152380952381" and body["twr_annualized"] is None and body["mwr_annualized"] is None
    assert body["days"] == 365 and isinstance(body["mwr"], str) and isinstance(body["modified_dietz"], str)
    assert "timed badly" in body["explanation"]


def test_returns_with_a_missing_valuation_has_a_null_twr_and_says_why(alice: Persona) -> None:
    body = {"valuations": [{"date": "2023-01-01", "value": "1000"}, {"date": "2024-06-01", "value": "2300"}],
            "flows": [{"date": "2023-05-05", "amount": "1000"}]}  # fmt: skip
    answer = post(token(alice), "returns", body).json()
    assert answer["twr"] is None and answer["twr_annualized"] is None
    assert answer["mwr_annualized"] is not None  # 517 days: the XIRR is annualised
    assert "no valuation on 2023-05-05" in answer["explanation"]


def test_rmd(alice: Persona) -> None:
    response = token(alice).get("/api/v1/tools/rmd/", RMD_QUERY)
    assert response.status_code == 200
    assert response.json() == {
        "age": 73, "applicable_age": "73", "required": True, "first_rmd_year": 2024,
        "first_deadline": "2025-04-01", "table": "Uniform Lifetime", "distribution_period": "26.5", "rmd": "3773.58",
    }  # fmt: skip


def test_rmd_joint_table(alice: Persona) -> None:
    query = {"birth_date": "1950-03-01", "year": "2025", "balance": "1000000", "spouse_birth_date": "1965-08-01",
             "spouse_sole_beneficiary": "true"}  # fmt: skip
    body = token(alice).get("/api/v1/tools/rmd/", query).json()
    assert (body["table"], body["distribution_period"], body["rmd"]) == ("Joint and Last Survivor", "28.3", "35335.69")


def test_rmd_before_the_first_year(alice: Persona) -> None:
    body = token(alice).get("/api/v1/tools/rmd/", {**RMD_QUERY, "year": "2023"}).json()
    assert body["required"] is False and body["rmd"] is None and body["table"] is None
    assert body["first_deadline"] == "2025-04-01"


def test_charlie_of_another_firm_calculates_too(charlie: Persona) -> None:
    """Nothing is firm data here: an outsider's calculation is their own and answers alike."""
    assert post(token(charlie), "xirr", {"cashflows": SPREADSHEET}).json() == {"rate": "0.373362533519"}


# --- Bad input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field", "fragment"),
    [
        ("xirr", {"cashflows": SPREADSHEET[:1]}, "cashflows", "at least 2"),
        ("xirr", {"cashflows": [{"date": "2024-01-01", "amount": "1"}, {"date": "2024-02-01", "amount": "2"}]},
         "cashflows", "one positive and one negative"),
        ("xirr", {"cashflows": [{"date": "2024-01-01", "amount": -1}]}, "cashflows", "not as a JSON number"),
        ("xirr", {"cashflows": [{"date": "2024-01-01", "amount": "NaN"}]}, "cashflows", "decimal number"),
        ("xirr", {"cashflows": [{"date": "2024-01-01", "amount": "Infinity"}]}, "cashflows", "decimal number"),
        ("xirr", {"cashflows": [{"date": "2024-01-01", "amount": "1e5"}]}, "cashflows", "decimal number"),
        ("xirr", {"cashflows": [{"date": "2024-02-30", "amount": "1"}]}, "cashflows", "Row 1: date"),
        ("xirr", {"cashflows": [{"date": "2024-02-01"}]}, "cashflows", "amount is required"),
        ("xirr", {"cashflows": [{"date": "2024-02-01", "amount": "1", "memo": "x"}]}, "cashflows", "memo"),
        ("xirr", {"cashflows": "nope"}, "cashflows", "list"),
        ("xirr", {"cashflows": [{"date": "2024-01-01", "amount": "1"}] * 10_001}, "cashflows", "10,000"),
        ("xirr", {}, "cashflows", "required"),
        ("xirr", {"cashflows": SPREADSHEET, "guess": "0.1"}, "guess", "not part"),
        ("xnpv", {"rate": "-1", "cashflows": SPREADSHEET}, "rate", "more than -1"),
        ("xnpv", {"rate": 0.09, "cashflows": SPREADSHEET}, "rate", "JSON number"),
        ("irr", {"cashflows": ["-1", "x"]}, "cashflows", "Amount 2"),
        ("irr", {"cashflows": ["-100", "300", "-300"]}, "cashflows", "no solution"),
        ("returns", {"valuations": HALF_WAY["valuations"][:1]}, "valuations", "at least 2"),
        ("returns", {"valuations": list(reversed(HALF_WAY["valuations"]))}, "valuations", "not after"),
        ("returns", {**HALF_WAY, "flows": [{"date": "2024-01-01", "amount": "5"}]}, "flows", "outside the period"),
        ("returns", {**HALF_WAY, "flows": [{"date": "2022-01-01", "amount": "5"}]}, "flows", "outside the period"),
    ],
)  # fmt: skip
def test_bad_input_is_a_400_naming_the_field(alice: Persona, path: str, body: Any, field: str, fragment: str) -> None:
    found = fields(post(token(alice), path, body))
    assert field in found, found
    assert fragment in " ".join(found[field]), found


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"birth_date": "1951-13-01"}, "birth_date"),
        ({"year": "20x4"}, "year"),
        ({"balance": "-5"}, "balance"),
        ({"balance": "NaN"}, "balance"),
        ({"balance": "100.001"}, "balance"),
        ({"spouse_sole_beneficiary": "true"}, "spouse_birth_date"),
        ({"spouse_sole_beneficiary": "true", "spouse_birth_date": "2030-01-01"}, "spouse_birth_date"),
    ],
)
def test_rmd_bad_input_is_a_400_naming_the_field(alice: Persona, changes: dict[str, str], field: str) -> None:
    found = fields(token(alice).get("/api/v1/tools/rmd/", {**RMD_QUERY, **changes}))
    assert field in found, found


def test_a_missing_rmd_parameter_is_named(alice: Persona) -> None:
    found = fields(token(alice).get("/api/v1/tools/rmd/", {"birth_date": "1951-05-01"}))
    assert {"year", "balance"} <= set(found)


# --- Access -------------------------------------------------------------------------------------------


def test_without_a_token_401(db: None) -> None:
    assert APIClient().post("/api/v1/tools/xirr/", {"cashflows": SPREADSHEET}, format="json").status_code == 401
    assert APIClient().get("/api/v1/tools/rmd/", RMD_QUERY).status_code == 401


@pytest.mark.parametrize("path", ["xirr", "xnpv", "irr", "returns"])
def test_without_the_right_403(bob: Persona, path: str) -> None:
    response = post(token(bob), path, {"cashflows": SPREADSHEET})
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"


def test_rmd_without_the_right_403(bob: Persona) -> None:
    assert token(bob).get("/api/v1/tools/rmd/", RMD_QUERY).status_code == 403


def test_a_token_without_portfolio_analyst_is_refused(alice: Persona) -> None:
    client = token(alice, rights=frozenset({Right.CRM}))
    response = post(client, "xirr", {"cashflows": SPREADSHEET})
    assert response.status_code == 403 and "token" in response.json()["error"]["message"]


def test_a_signed_in_session_works(alice: Persona) -> None:
    response = alice.client().post("/api/v1/tools/xirr/", {"cashflows": SPREADSHEET}, content_type="application/json")
    assert response.status_code == 200 and response.json() == {"rate": "0.373362533519"}


def test_the_schema_documents_the_tools(alice: Persona) -> None:
    schema = alice.client().get("/api/schema/?format=json").json()
    for path in ("xirr", "xnpv", "irr", "returns", "rmd"):
        assert f"/api/v1/tools/{path}/" in schema["paths"], path
    returns_post = schema["paths"]["/api/v1/tools/returns/"]["post"]
    assert "BEFORE that date" in returns_post["description"]
    assert "400" in returns_post["responses"] and "403" in returns_post["responses"]


# --- Pages --------------------------------------------------------------------------------------------


def test_index_links_the_tools_and_says_what_is_not_built(alice: Persona) -> None:
    text = alice.client().get("/reports/").content.decode()
    assert 'href="/reports/held-away/"' in text and 'href="/reports/rmd/"' in text
    assert "on the performance pages and in the API only" in text  # what statements do not show yet


def test_held_away_page_shows_the_three_returns(alice: Persona) -> None:
    client = alice.client()
    assert client.get("/reports/held-away/").status_code == 200
    page = client.post(
        "/reports/held-away/",
        {"valuations": "2023-01-01, 1000\n2023-07-01, $1,100.00\n\n2024-01-01\t2200", "flows": "2023-07-01, 1000"},
    )
    text = page.content.decode()
    assert page.status_code == 200
    assert "Time-weighted" in text and "Modified Dietz" in text and "Money-weighted" in text
    assert "+15.24 %" in text and "+13.30 %" in text
    assert "timed badly" in text and "before that date&#x27;s flows" in text


def test_held_away_page_bad_input_is_a_form_error_and_nothing_else(alice: Persona) -> None:
    client = alice.client()
    page = client.post("/reports/held-away/", {"valuations": "2023-01-01, 1000\n2023-13-01, 1100", "flows": ""})
    text = page.content.decode()
    assert page.status_code == 400 and "Line 2" in text and "form-error" in text and "Time-weighted (TWR)" not in text
    lines = {"valuations": "2023-01-01, 1000\n2023-06-01, 1100", "flows": "2023-06-01, 5"}
    page = client.post("/reports/held-away/", lines)
    assert page.status_code == 400 and "outside the period" in page.content.decode()
    page = client.post("/reports/held-away/", {"valuations": "2023-01-01, 1000\n2023-06-01, 1e9", "flows": ""})
    assert page.status_code == 400 and "not a number" in page.content.decode()


def test_rmd_page(alice: Persona) -> None:
    client = alice.client()
    assert client.get("/reports/rmd/").status_code == 200
    page = client.get("/reports/rmd/", RMD_QUERY)
    text = page.content.decode()
    assert page.status_code == 200 and "3,773.58 USD" in text and "26.5" in text and "Uniform Lifetime" in text
    bad = client.get("/reports/rmd/", {**RMD_QUERY, "spouse_sole_beneficiary": "on"})
    assert bad.status_code == 400 and "spouse" in bad.content.decode() and "form-error" in bad.content.decode()


@pytest.mark.parametrize("path", ["/reports/held-away/", "/reports/rmd/"])
def test_pages_need_the_right(bob: Persona, path: str) -> None:
    assert bob.client().get(path).status_code == 403
