"""Issue #13: what a new user hit in the CRM and the shell — page tests (browser tests are in
tests/browser/test_walkthrough.py)."""

from __future__ import annotations

import re

import pytest

from accounts.models import Firm, TwoFactorPolicy
from crm.models import Contact, SavedView
from tests.conftest import Persona
from tests.factories import ContactFactory


@pytest.fixture
def book(alice: Persona) -> list[Contact]:
    with alice.scope():
        return [
            ContactFactory(first_name="Jane", last_name="Smith", risk_tolerance="growth", res_city="Boston"),
            ContactFactory(first_name="José", last_name="Núñez", status="prospect", res_city="Miami"),
        ]


# --- 2: saving a view after filtering ---------------------------------------------------------------


def test_the_live_search_refreshes_the_save_view_query_and_the_export_links(alice: Persona, book: list) -> None:
    client = alice.client()
    partial = client.get("/contacts/", {"res_city": "Boston"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results")
    html = partial.content.decode()
    hidden = re.search(
        r'<input type="hidden" name="query" id="saved-view-query" value="([^"]*)" hx-swap-oob="true">', html
    )
    assert hidden is not None and hidden.group(1) == "res_city=Boston"
    assert 'id="export-links" hx-swap-oob="true"' in html
    assert "summary.csv?res_city=Boston" in html.replace("&amp;", "&")


def test_a_view_saves_with_or_without_filters_and_errors_name_the_field(alice: Persona, book: list) -> None:
    client = alice.client()
    assert client.post("/contacts/views/", {"name": "Everyone", "query": ""}).status_code == 302
    with alice.scope():
        assert SavedView.objects.get(name="Everyone").query == ""
    failed = client.post("/contacts/views/", {"name": "", "query": "res_city=Boston"}, follow=True).content.decode()
    assert "The view was not saved: View name: This field cannot be blank." in failed
    assert 'role="alert"' in failed


# --- 5: 2FA of everyone by default --------------------------------------------------------------------


def test_new_firms_require_two_factor_of_everyone(alice: Persona) -> None:
    assert Firm.objects.get(pk=alice.firm.pk).two_factor_policy == TwoFactorPolicy.EVERYONE
    assert Firm._meta.get_field("two_factor_policy").default == TwoFactorPolicy.EVERYONE


# --- 6: the invite form asks for a role ------------------------------------------------------------------


def test_the_invite_form_preselects_no_role(alice: Persona) -> None:
    html = alice.client().get("/settings/users/").content.decode()
    select = re.search(r'<select name="role"[^>]*>(.*?)</select>', html, re.S)
    assert select is not None
    assert '<option value="" selected>Choose a role</option>' in select.group(1)
    assert select.group(1).count("selected") == 1
    refused = alice.client().post(
        "/settings/users/", {"email": "new@alpha.test", "full_name": "New Person", "role": ""}
    )
    assert refused.status_code == 200 and "role" in refused.context["form"].errors


# --- 7: confirmations ------------------------------------------------------------------------------------


def test_revoke_token_asks_first(alice: Persona) -> None:
    client = alice.client()
    client.post("/settings/api-tokens/", {"name": "ci", "rights": ["crm"], "expires_in_days": 30})
    html = client.get("/settings/api-tokens/").content.decode()
    assert re.search(
        r'<form method="post" action="/settings/api-tokens/\d+/revoke/" data-confirm="Revoke the token', html
    )


# --- 11: messages ------------------------------------------------------------------------------------------


def test_success_and_error_messages_differ_in_style_and_role(alice: Persona, book: list) -> None:
    client = alice.client()
    ok = client.post("/contacts/views/", {"name": "Boston", "query": "res_city=Boston"}, follow=True).content.decode()
    assert '<p class="flash flash-success" role="status">' in ok
    bad = client.post("/contacts/views/", {"name": "", "query": ""}, follow=True).content.decode()
    assert '<p class="flash flash-error" role="alert">' in bad


# --- 15: the statistics row ----------------------------------------------------------------------------------


def test_the_statistics_row_counts_all_and_says_it_counts_the_whole_book(alice: Persona, book: list) -> None:
    html = alice.client().get("/contacts/", {"res_city": "Boston"}).content.decode()
    assert "<strong>2</strong>All" in html
    assert "These counts cover every contact you can see, whatever the search and filters" in html
