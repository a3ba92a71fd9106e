"""Issue #13, points 8, 9, 12 and 13: page tests (browser tests are in tests/browser/)."""

from __future__ import annotations

import re

import pytest

from crm.models import Contact
from tests.conftest import Persona
from tests.factories import ContactFactory


@pytest.fixture
def book(alice: Persona) -> list[Contact]:
    with alice.scope():
        return [
            ContactFactory(first_name="Jane", last_name="Smith", email="jane@example.com", status="active"),
            ContactFactory(first_name="José", last_name="Núñez", status="prospect"),
        ]


# --- 8: fieldsets and legends for every checkbox or radio group --------------------------------------------


def _nested_labels(html: str) -> list[str]:
    """Labels that open inside another label (invalid HTML, and a screen reader reads one name)."""
    nested, depth = [], 0
    for m in re.finditer(r"<(/?)label\b[^>]*>", html):
        if m.group(1):
            depth = max(0, depth - 1)
        else:
            if depth:
                nested.append(html[m.start() : m.start() + 80])
            depth += 1
    return nested


def test_the_contact_form_groups_its_checkboxes_in_fieldsets(alice: Persona, book: list) -> None:
    for url in ("/contacts/new/", f"/contacts/{book[0].pk}/edit/"):
        html = alice.client().get(url).content.decode()
        assert _nested_labels(html) == []
        for legend, name in (
            ("Investment objectives", "investment_objectives"),
            ("Trading permissions", "trading_permissions"),
        ):
            group = re.search(
                rf'<fieldset class="choice-group">\s*<legend>{legend}</legend>(.*?)</fieldset>', html, re.S
            )
            assert group is not None, legend
            assert f'name="{name}"' in group.group(1)


def test_no_page_nests_labels(alice: Persona, book: list) -> None:
    client = alice.client()
    for url in ("/settings/api-tokens/", f"/settings/users/{alice.user.pk}/", "/contacts/", "/contacts/new/"):
        html = client.get(url).content.decode()
        assert _nested_labels(html) == [], url


# --- 9: labels, never internal names ----------------------------------------------------------------------


def test_bulk_edit_field_choices_are_labels(alice: Persona, book: list) -> None:
    html = alice.client().get("/contacts/").content.decode()
    select = re.search(r'<select name="field"[^>]*>(.*?)</select>', html, re.S)
    assert select is not None
    assert '<option value="risk_tolerance">Risk tolerance</option>' in select.group(1)
    assert ">risk_tolerance<" not in select.group(1) and ">prospect_account_type<" not in select.group(1)


def test_the_advisor_filter_is_a_choice_of_the_firms_people(alice: Persona, charlie: Persona, book: list) -> None:
    html = alice.client().get("/contacts/", {"advisor": alice.user.pk}).content.decode()
    assert "Advisor (user id)" not in html
    select = re.search(r'<select name="advisor" id="id_advisor">(.*?)</select>', html, re.S)
    assert select is not None
    assert f'<option value="{alice.user.pk}" selected>{alice.user.full_name}</option>' in select.group(1)
    assert f'value="{charlie.user.pk}"' not in select.group(1)  # only users of the same firm
    assert html.count('name="advisor"') == 1


def test_the_audit_trail_names_object_types_by_label(alice: Persona, book: list) -> None:
    html = alice.client().get("/settings/audit/").content.decode()
    assert '<option value="crm.contact">Contact</option>' in html
    rows = re.search(r"<tbody>(.*?)</tbody>", html, re.S)
    assert rows is not None and "crm.contact" not in rows.group(1)


def test_api_token_rights_are_labels(alice: Persona) -> None:
    client = alice.client()
    client.post("/settings/api-tokens/", {"name": "ci", "rights": ["crm"], "expires_in_days": 30})
    html = client.get("/settings/api-tokens/").content.decode()
    rows = re.search(r"<tbody>(.*?)</tbody>", html, re.S)
    assert rows is not None and "CRM" in rows.group(1)


def test_import_preview_shows_choice_labels() -> None:
    from crm.contact_io.services import _shown

    assert _shown("status", "prospect") == "Prospect"
    assert _shown("investment_objectives", ["growth", "income"]) == "Growth, Income"
    assert _shown("first_name", "Ada") == "Ada"


# --- 13: adding a contact whose email already exists ---------------------------------------------------------


def test_adding_a_contact_with_an_existing_email_warns_links_and_offers_the_merge(alice: Persona, book: list) -> None:
    client = alice.client()
    data = {"kind": "individual", "status": "prospect", "first_name": "Janet", "last_name": "Smith",
            "email": "JANE@example.com", "priority": "normal"}  # fmt: skip
    warned = client.post("/contacts/new/", data)
    html = warned.content.decode()
    assert warned.status_code == 200
    assert "This email already belongs to a contact" in html
    assert f'href="/contacts/{book[0].pk}/"' in html
    assert 'name="add_anyway"' in html
    with alice.scope():
        assert Contact.objects.filter(first_name="Janet").count() == 0  # nothing saved yet
    added = client.post("/contacts/new/", {**data, "add_anyway": "1"})
    with alice.scope():
        new = Contact.objects.get(first_name="Janet")
    assert added.status_code == 302
    assert added["Location"] == f"/contacts/merge/compare/?ids={book[0].pk},{new.pk}"


def test_a_contact_with_a_new_email_is_added_without_a_warning(alice: Persona, book: list) -> None:
    data = {"kind": "individual", "status": "prospect", "first_name": "Ann", "last_name": "Lee",
            "email": "ann@example.com", "priority": "normal"}  # fmt: skip
    assert alice.client().post("/contacts/new/", data).status_code == 302


def test_the_duplicate_warning_only_names_contacts_in_the_users_scope(charlie: Persona, book: list) -> None:
    data = {"kind": "individual", "status": "prospect", "first_name": "Jane", "last_name": "Other",
            "email": "jane@example.com", "priority": "normal"}  # fmt: skip
    assert charlie.client().post("/contacts/new/", data).status_code == 302  # another firm's contact: no warning


# --- 3 (in part): the filter panel ---------------------------------------------------------------------------


def test_date_filters_use_the_date_picker(alice: Persona, book: list) -> None:
    html = alice.client().get("/contacts/").content.decode()
    for name in ("date_of_birth_after", "date_of_birth_before", "next_review_after", "created_before"):
        assert re.search(rf'<input type="date" name="{name}"', html), name
