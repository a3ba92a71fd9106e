"""Issue #13, point 3: the Filters panels of the contacts and accounts lists — page tests (the
browser test is tests/browser/test_filter_panel.py)."""

from __future__ import annotations

import html as html_lib
import re
from urllib.parse import parse_qs

import pytest

from crm import filter_panel
from crm.filters import ContactFilter
from crm.models import Contact, Group, HouseholdMember
from tests.conftest import Persona
from tests.factories import ContactFactory, HouseholdFactory
from tests.factories_portfolios import ClientAccountFactory
from tests.test_pages import login


@pytest.fixture
def book(alice: Persona) -> list[Contact]:
    with alice.scope():
        return [
            ContactFactory(first_name="Jane", last_name="Smith", status="active", risk_tolerance="growth"),
            ContactFactory(first_name="José", last_name="Núñez", status="prospect"),
        ]


def chips(page: str) -> dict[str, dict[str, list[str]]]:
    """The active filters' chips: their visible text -> the query their link leads to."""
    found = {}
    for href, inner in re.findall(r'<a class="chip" href="\?([^"]*)"[^>]*>(.*?)</a>', page, re.S):
        text = html_lib.unescape(re.sub(r"<[^>]+>", "", inner.replace('<span class="sr-only">Remove </span>', "")))
        found[text.replace("\N{MULTIPLICATION SIGN}", "").strip()] = parse_qs(html_lib.unescape(href))
    return found


def clear_all(page: str) -> dict[str, list[str]]:
    match = re.search(r'<a href="\?([^"]*)" class="clear-filters">Clear all filters</a>', page)
    assert match is not None
    return parse_qs(html_lib.unescape(match.group(1)))


# --- The panel -----------------------------------------------------------------------------------------


def test_every_filter_is_in_exactly_one_group() -> None:
    placed = [name for _, names in filter_panel.GROUPS for name in names] + list(filter_panel.PER_FIRM)
    assert sorted(placed) == sorted(ContactFilter.base_filters)


def test_the_panel_groups_its_filters_in_fieldsets_with_checkbox_lists_and_ranges(alice: Persona, book: list) -> None:
    page = alice.client().get("/contacts/", {"status": "prospect", "net_worth_min": "1000"}).content.decode()
    for legend in ("Advisor and group", "Status and type", "Person", "Dates", "Employment and money",
                   "Investment profile", "Contact details and accounts"):  # fmt: skip
        assert re.search(rf'<fieldset class="filter-group">\s*<legend>{legend}</legend>', page), legend
    # A multiple choice shows its options: checkboxes in a group named by the field's label, no <select multiple>.
    assert "<select multiple" not in page and " multiple>" not in page
    status = re.search(r'<fieldset class="filter-checks">\s*<legend>Status</legend>(.*?)</fieldset>', page, re.S)
    assert status is not None
    boxes = re.findall(r'<label for="(id_status_\d+)"><input type="checkbox" name="status" value="(\w+)"', status[1])
    assert {value for _, value in boxes} == {"prospect", "application_started", "application_submitted",
                                            "pending_approval", "active", "closed"}  # fmt: skip
    assert re.search(r'<input type="checkbox" name="status" value="prospect"[^>]*checked', status[1])
    # A range is one row: "from" and "to", each a label tied to its input, no lone "-".
    worth = re.search(r'<fieldset class="filter-range">\s*<legend>Net worth</legend>(.*?)</fieldset>', page, re.S)
    assert worth is not None
    low = r'<label for="id_net_worth_0">from</label><input type="text" name="net_worth_min" value="1000"[^>]*'
    assert re.search(low + r'id="id_net_worth_0"', worth[1])
    assert re.search(r'<label for="id_net_worth_1">to</label><input type="text" name="net_worth_max"', worth[1])
    assert "</span>-<span" not in page and ">-<input" not in page
    born = re.search(r"<legend>Born between</legend>(.*?)</fieldset>", page, re.S)
    assert born is not None and 'type="date" name="date_of_birth_after"' in born[1]
    # Yes/no and single choices offer "Any", not dashes; the per-firm choices name people and groups.
    assert "---------" not in page
    assert re.search(
        r'<label for="id_group">Group\s*<select name="group" id="id_group"><option value="">Any group', page
    )
    # Rows per page sits with the submit button in the form's actions.
    actions = re.search(r'<div class="filter-actions">(.*?)</div>', page, re.S)
    assert actions is not None and 'name="size"' in actions[1] and "Show contacts</button>" in actions[1]


def test_bad_filters_are_named_by_their_label(alice: Persona, book: list) -> None:
    page = alice.client().get("/contacts/", {"net_worth_min": "lots"}).content.decode()
    alert = page.split("These filters are not valid")[1].split("</div>")[0]
    assert "<strong>Net worth</strong>" in alert and "net_worth" not in alert


# --- Active filters ------------------------------------------------------------------------------------


def test_active_filters_are_labelled_chips_each_removing_only_its_filter(alice: Persona, book: list) -> None:
    query = {
        "q": "smi",
        "size": "25",
        "status": ["active", "prospect"],
        "risk_tolerance": "growth",
        "date_of_birth_after": "1950-01-01",
        "date_of_birth_before": "1960-12-31",
        "net_worth_min": "100000",
        "has_email": "yes",
        "advisor": str(alice.user.pk),
    }
    page = alice.client().get("/contacts/", query).content.decode()
    found = chips(page)
    everything = {k: v if isinstance(v, list) else [v] for k, v in query.items()}

    def without(*keys: str, value: str | None = None) -> dict[str, list[str]]:
        left = {
            k: [x for x in v if value is not None and x != value] if k in keys else v for k, v in everything.items()
        }
        return {k: v for k, v in left.items() if v}

    assert found == {
        "Status: Active client": without("status", value="active"),
        "Status: Prospect": without("status", value="prospect"),
        "Risk tolerance: Growth": without("risk_tolerance"),
        "Born between 1950-01-01 and 1960-12-31": without("date_of_birth_after", "date_of_birth_before"),
        "Net worth: from 100000": without("net_worth_min"),
        "Has email: Yes": without("has_email"),
        f"Advisor: {alice.user.full_name}": without("advisor"),
    }
    assert clear_all(page) == {"q": ["smi"], "size": ["25"]}  # the live search and page size stay
    assert "(7 active)" in page


def test_the_chips_refresh_with_the_live_results(alice: Persona, book: list) -> None:
    partial = alice.client().get(
        "/contacts/", {"q": "n", "status": "prospect"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results"
    )
    page = partial.content.decode()
    assert page.startswith('<div id="results">')
    assert chips(page) == {"Status: Prospect": {"q": ["n"]}}
    assert '<span id="filter-count" hx-swap-oob="true"> (1 active)</span>' in page


def test_group_and_household_chips_name_them(alice: Persona, book: list) -> None:
    with alice.scope():
        household = HouseholdFactory(name="Ortega family")
        HouseholdMember.objects.create(household=household, contact=book[0])
        group = Group.objects.create(name="Golfers", owner=alice.user)
    query = {"household": household.pk, "group": group.pk, "last_contacted_before": "2026-01-31"}
    page = alice.client().get("/contacts/", query).content.decode()
    assert set(chips(page)) == {"Household: Ortega family", "Group: Golfers", "Last contacted: up to 2026-01-31"}
    assert f'<input type="hidden" name="household" value="{household.pk}">' in page


# --- Accounts ------------------------------------------------------------------------------------------


def test_account_filters_are_chips_each_removing_only_its_filter(alice: Persona) -> None:
    with alice.scope():
        household = HouseholdFactory(name="Ortega family")
        ClientAccountFactory(number="A1", account_type="roth_ira", status="open", household=household)
    client = login(alice)
    query = {"q": "A", "account_type": "roth_ira", "status": "open", "household": str(household.pk),
             "ordering": "-number"}  # fmt: skip
    page = client.get("/accounts/", query).content.decode()
    everything = {k: [v] for k, v in query.items()}
    assert chips(page) == {
        "Type: Roth IRA": {k: v for k, v in everything.items() if k != "account_type"},
        "Status: Open": {k: v for k, v in everything.items() if k != "status"},
        "Household: Ortega family": {k: v for k, v in everything.items() if k != "household"},
    }
    assert clear_all(page) == {"q": ["A"], "ordering": ["-number"]}
    # The filter bar: a <search> landmark, no Pico pill row, its button in the form's actions.
    assert '<search aria-label="Find accounts">' in page and 'role="search"' not in page
    assert re.search(r'<div class="filter-actions"><button type="submit" class="secondary">Show accounts', page)
    assert page.index('class="filter-actions"') < page.index("</search>")
    partial = client.get("/accounts/", query, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="account-results")
    assert "Type: Roth IRA" in partial.content.decode()
