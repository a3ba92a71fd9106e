"""Minting an API token: only from a browser session with a recent second factor (page and API),
with rights chosen one by one (at least one, none the user lacks) and an expiry no longer than the
firm's longest token lifetime, which the firm's security officers set."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import two_factor
from accounts.models import ApiToken, AuditEntry, Firm
from accounts.rights import Right, Role
from accounts.services import api_token_create
from tests.conftest import Persona
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def session(persona: Persona, *, verified_minutes_ago: float = 0) -> APIClient:
    """An API client on ``persona``'s browser session, its second factor confirmed that long ago."""
    client = APIClient()
    client.force_login(persona.user)
    persona.pass_two_factor(client)
    stored = client.session
    stored[two_factor.VERIFIED_AT] = time.time() - verified_minutes_ago * 60
    stored.save()
    return client


def mint(client: APIClient, body: dict[str, Any]) -> Any:
    return client.post("/api/v1/tokens/", body, format="json")


POLICY = {
    "two_factor_policy": "everyone",
    "session_idle_minutes": 30,
    "session_absolute_hours": 12,
    "token_max_days": 90,
}


def stale(persona: Persona) -> APIClient:
    from django.conf import settings

    return session(persona, verified_minutes_ago=settings.STEP_UP_MINUTES + 1)


@pytest.fixture
def officer(alice: Persona) -> Persona:
    user = UserFactory(firm=alice.firm, email="sam@alpha.test", full_name="Sam Secure", role=Role.SECURITY_OFFICER)
    return Persona(user, alice.firm)


# --- Step-up on every path ----------------------------------------------------------------------


def test_the_api_refuses_a_token_after_the_step_up_window(alice: Persona) -> None:
    response = mint(stale(alice), {"name": "Late", "rights": ["crm"]})
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "step_up_required" and "confirm your second factor again" in error["message"]
    assert not ApiToken.objects.filter(name="Late").exists()


def test_the_api_refuses_a_session_that_never_confirmed_a_second_factor(bob: Persona) -> None:
    Firm.objects.filter(pk=bob.firm.pk).update(two_factor_policy="officers")
    client = APIClient()
    client.force_login(bob.user)  # Bob's firm (relaxed) does not require 2FA of staff; he has none
    response = mint(client, {"name": "No 2FA", "rights": ["crm"]})
    assert response.status_code == 403 and response.json()["error"]["code"] == "step_up_required"
    assert not ApiToken.objects.filter(user=bob.user).exists()


def test_the_api_mints_within_the_step_up_window(alice: Persona) -> None:
    response = mint(session(alice, verified_minutes_ago=1), {"name": "Fresh", "rights": ["crm"]})
    assert response.status_code == 201 and response.json()["token"].startswith("ap_")


def test_the_page_asks_for_the_second_factor_again_then_mints(alice: Persona) -> None:
    client = stale(alice)
    data = {"name": "Page", "expires_in_days": 30, "rights": ["crm"]}
    refused = client.post("/settings/api-tokens/", data)
    assert refused.status_code == 302 and "step_up=1" in refused["Location"]
    assert not ApiToken.objects.filter(name="Page").exists()
    alice.pass_two_factor(client)
    created = client.post("/settings/api-tokens/", data)
    assert created.status_code == 200 and re.search(rb"ap_[0-9a-f]{10}_", created.content)


def test_a_token_cannot_mint_a_token(alice: Persona) -> None:
    response = mint(alice.api(), {"name": "Child", "rights": ["crm"]})
    assert response.status_code == 403 and "signed-in browser session" in response.json()["error"]["message"]


# --- The firm's longest token lifetime ----------------------------------------------------------


def test_firm_default_and_bounds() -> None:
    firm = Firm(name="New", slug="new")
    assert firm.token_max_days == 90
    for bad in (0, 366):
        firm.token_max_days = bad
        with pytest.raises(ValidationError) as raised:
            firm.full_clean()
        assert "token_max_days" in raised.value.message_dict


def test_the_api_caps_the_expiry_at_the_firms_limit(alice: Persona) -> None:
    client = session(alice)
    longer = mint(client, {"name": "Long", "rights": ["crm"], "expires_in_days": 91})
    assert longer.status_code == 400
    assert "at most 90 days" in longer.json()["error"]["fields"]["expires_in_days"][0]
    assert not ApiToken.objects.filter(name="Long").exists()
    longest = mint(client, {"name": "Max", "rights": ["crm"], "expires_in_days": 90})
    assert longest.status_code == 201
    default = mint(client, {"name": "Default", "rights": ["crm"]})
    assert default.status_code == 201
    for name in ("Max", "Default"):  # no expiry given: the firm's longest
        expires = ApiToken.objects.get(name=name).expires_at
        assert expires is not None and abs(expires - (timezone.now() + timedelta(days=90))) < timedelta(minutes=5)


def test_a_lower_firm_limit_holds_on_the_page_the_api_and_the_service(alice: Persona) -> None:
    Firm.objects.filter(pk=alice.firm.pk).update(token_max_days=30)
    client = alice.client()
    page = client.get("/settings/api-tokens/")
    assert b"at most <strong>30 days</strong>" in page.content
    assert page.context["form"]["expires_in_days"].initial == 30
    refused = client.post("/settings/api-tokens/", {"name": "Long", "expires_in_days": 31, "rights": ["crm"]})
    assert refused.status_code == 200
    assert "at most 30 days" in refused.context["form"].errors["expires_in_days"][0]
    api = mint(session(alice), {"name": "Long", "rights": ["crm"], "expires_in_days": 31})
    assert api.status_code == 400 and "expires_in_days" in api.json()["error"]["fields"]
    with pytest.raises(ValidationError) as raised:
        api_token_create(user=alice.user, name="Long", expires_in_days=31, rights=frozenset({Right.CRM}))
    assert "expires_in_days" in raised.value.message_dict
    assert not ApiToken.objects.filter(name="Long").exists()
    token, _ = api_token_create(user=alice.user, name="Script")  # no expiry given: the firm's longest
    assert token.expires_at is not None and token.expires_at - timezone.now() <= timedelta(days=30)


def test_another_firms_limit_does_not_apply(alice: Persona, charlie: Persona) -> None:
    Firm.objects.filter(pk=charlie.firm.pk).update(token_max_days=7)
    response = mint(session(alice), {"name": "A", "rights": ["crm"], "expires_in_days": 60})
    assert response.status_code == 201
    refused = mint(session(charlie), {"name": "C", "rights": ["crm"], "expires_in_days": 8})
    assert refused.status_code == 400 and "at most 7 days" in refused.json()["error"]["fields"]["expires_in_days"][0]


# --- Rights: none ticked, at least one, only the user's own -------------------------------------


def test_the_new_token_form_ticks_no_right(alice: Persona) -> None:
    page = alice.client().get("/settings/api-tokens/")
    assert page.status_code == 200
    boxes = re.findall(rb'<input type="checkbox" name="rights"[^>]*>', page.content)
    assert len(boxes) == len(Right) and not [box for box in boxes if b"checked" in box]


def test_a_token_without_rights_is_refused_with_a_clear_message(alice: Persona) -> None:
    page = alice.client().post("/settings/api-tokens/", {"name": "Empty", "expires_in_days": 30})
    assert page.status_code == 200
    assert "at least one access right" in page.context["form"].errors["rights"][0]
    client = session(alice)
    empty = mint(client, {"name": "Empty", "rights": []})
    assert empty.status_code == 400
    assert "at least one access right" in empty.json()["error"]["fields"]["rights"][0]
    missing = mint(client, {"name": "Empty"})  # no longer "all of mine"
    assert missing.status_code == 400 and "rights" in missing.json()["error"]["fields"]
    assert not ApiToken.objects.filter(name="Empty").exists()


def test_a_token_carries_only_rights_its_user_holds(bob: Persona) -> None:
    client = session(bob)
    response = mint(client, {"name": "More", "rights": ["crm", "funding"]})
    assert response.status_code == 400 and "rights" in response.json()["error"]["fields"]
    assert not ApiToken.objects.filter(user=bob.user).exists()


# --- The security officer sets the limit ----------------------------------------------------------


def test_the_security_officer_sets_the_limit_audited(officer: Persona, alice: Persona) -> None:
    client = officer.client()
    page = client.get("/settings/security/")
    assert page.status_code == 200 and page.context["form"]["token_max_days"].value() == 90
    data = {**POLICY, "token_max_days": 14}
    saved = client.post("/settings/security/", data)
    assert saved.status_code == 302 and saved["Location"] == "/settings/security/"
    assert Firm.objects.get(pk=alice.firm.pk).token_max_days == 14
    with alice.scope():
        entry = AuditEntry.objects.get(object_type="accounts.firm", object_id=str(alice.firm.pk))
    assert entry.changes == {"token_max_days": [90, 14]} and entry.actor_id == officer.user.pk
    assert b"at most <strong>14 days</strong>" in alice.client().get("/settings/api-tokens/").content


@pytest.mark.parametrize(
    ("field", "value"),
    [("token_max_days", 0), ("token_max_days", 366), ("session_idle_minutes", 1), ("two_factor_policy", "nobody")],
)
def test_bad_security_settings_name_the_field_and_change_nothing(officer: Persona, field: str, value: object) -> None:
    data = {**POLICY, field: value}
    response = officer.client().post("/settings/security/", data)
    assert response.status_code == 200 and field in response.context["form"].errors
    firm = Firm.objects.get(pk=officer.firm.pk)
    assert (firm.token_max_days, firm.session_idle_minutes, firm.two_factor_policy) == (90, 30, "everyone")


def test_saving_security_settings_needs_a_fresh_second_factor(officer: Persona) -> None:
    client = officer.client()
    stored = client.session
    stored[two_factor.VERIFIED_AT] = time.time() - 3600
    stored.save()
    data = {**POLICY, "token_max_days": 5}
    response = client.post("/settings/security/", data)
    assert response.status_code == 302 and "step_up=1" in response["Location"]
    assert Firm.objects.get(pk=officer.firm.pk).token_max_days == 90


def test_only_user_managers_of_the_firm_change_its_security(bob: Persona, charlie: Persona, alice: Persona) -> None:
    data = {**POLICY, "token_max_days": 3}
    assert bob.client().get("/settings/security/").status_code == 403
    assert bob.client().post("/settings/security/", data).status_code == 403
    # Charlie changes his own firm only: the page takes no firm from the request.
    assert charlie.client().post("/settings/security/", data).status_code == 302
    assert Firm.objects.get(pk=charlie.firm.pk).token_max_days == 3
    assert Firm.objects.get(pk=alice.firm.pk).token_max_days == 90
