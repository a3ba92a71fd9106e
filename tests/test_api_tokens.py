"""Personal API tokens: created with a subset of rights (shown once), expiring, revocable, audited."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts import two_factor
from accounts.models import ApiToken, AuditEntry
from accounts.rights import Right
from accounts.services import api_token_create
from tests.conftest import Persona

pytestmark = pytest.mark.django_db


def with_token(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


def test_create_in_the_browser_shows_it_once_and_stores_a_digest(alice: Persona) -> None:
    client = alice.client()
    page = client.post(
        "/settings/api-tokens/", {"name": "Reports", "expires_in_days": 30, "rights": ["crm", "portfolio_analyst"]}
    )
    raw = re.search(rb"ap_[0-9a-f]{10}_[A-Za-z0-9_-]+", page.content).group().decode()  # type: ignore[union-attr]
    token = ApiToken.objects.get(user=alice.user, name="Reports")
    assert token.rights == ["crm", "portfolio_analyst"] and raw.split("_", 2)[2] not in token.digest
    listed = client.get("/settings/api-tokens/").content
    assert raw.encode() not in listed
    assert b'<span class="tag">PortfolioAnalyst</span>' in listed and b">portfolio_analyst<" not in listed
    assert with_token(raw).get("/api/v1/contacts/").status_code == 200
    with alice.scope():
        assert AuditEntry.objects.filter(object_type="accounts.apitoken", action="create").exists()


def test_creating_needs_a_fresh_second_factor(alice: Persona) -> None:
    client = alice.client()
    session = client.session
    session[two_factor.VERIFIED_AT] = time.time() - 3600
    session.save()
    response = client.post("/settings/api-tokens/", {"name": "Late", "expires_in_days": 30, "rights": ["crm"]})
    assert response.status_code == 302 and "step_up=1" in response["Location"]
    assert not ApiToken.objects.filter(name="Late").exists()


def test_a_token_can_do_only_what_it_carries(alice: Persona) -> None:
    _, raw = api_token_create(user=alice.user, name="CRM only", rights=frozenset({Right.CRM}))
    client = with_token(raw)
    assert client.get("/api/v1/contacts/").status_code == 200
    denied = client.get("/api/v1/audit/")
    assert denied.status_code == 403 and "does not carry" in denied.json()["error"]["message"]


def test_a_token_loses_rights_its_user_loses(bob: Persona) -> None:
    _, raw = api_token_create(user=bob.user, name="t")
    with bob.scope():
        bob.user.grants.all().delete()
    bob.user._grants_cache = None  # type: ignore[attr-defined]
    assert with_token(raw).get("/api/v1/contacts/").status_code == 403


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "", "expires_in_days": 30, "rights": ["crm"]}, "name"),
        ({"name": "x", "expires_in_days": 0, "rights": ["crm"]}, "expires_in_days"),
        ({"name": "x", "expires_in_days": 400, "rights": ["crm"]}, "expires_in_days"),
        ({"name": "x", "expires_in_days": 30, "rights": ["user_management"]}, "rights"),
    ],
)
def test_bad_input_names_the_field_and_creates_nothing(bob: Persona, data: dict[str, object], field: str) -> None:
    response = bob.client().post("/settings/api-tokens/", data)
    assert response.status_code == 200 and field in response.context["form"].errors
    assert not ApiToken.objects.filter(user=bob.user).exists()


def test_api_create_needs_a_session_and_returns_the_token_once(alice: Persona) -> None:
    assert alice.api().post("/api/v1/tokens/", {"name": "x"}, format="json").status_code == 403
    session = APIClient()
    session.force_login(alice.user)
    alice.pass_two_factor(session)
    created = session.post("/api/v1/tokens/", {"name": "Script", "rights": ["crm"]}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert body["token"].startswith("ap_") and body["rights"] == ["crm"]
    listed = session.get("/api/v1/tokens/").json()["results"]
    assert {t["name"] for t in listed} >= {"Script"} and all("token" not in t for t in listed)
    bad = session.post("/api/v1/tokens/", {"name": "x", "rights": ["user_management", "nope"]}, format="json")
    assert bad.status_code == 400 and "rights" in bad.json()["error"]["fields"]


def test_revoke_in_browser_and_api(alice: Persona, charlie: Persona) -> None:
    token, raw = api_token_create(user=alice.user, name="t")
    assert charlie.api().delete(f"/api/v1/tokens/{token.pk}/").status_code == 404
    assert charlie.client().post(f"/settings/api-tokens/{token.pk}/revoke/").status_code == 404
    assert with_token(raw).get("/api/v1/me/").status_code == 200
    assert alice.client().post(f"/settings/api-tokens/{token.pk}/revoke/").status_code == 302
    assert with_token(raw).get("/api/v1/me/").status_code == 401
    other, _ = api_token_create(user=alice.user, name="u")
    assert alice.api().delete(f"/api/v1/tokens/{other.pk}/").status_code == 204
    assert ApiToken.objects.get(pk=other.pk).revoked_at is not None


def test_a_token_request_is_its_token_users_even_with_another_session(
    alice: Persona, charlie: Persona, django_assert_max_num_queries: Any
) -> None:
    """A request naming a token is authenticated by the token alone: a browser session cookie of
    another user (here of another firm) sent along is not read, and does not widen or change the
    scope; the API page costs the token (with its user's firm), the user (loaded under row-level
    security in that firm), the grants and the page query."""
    from crm.models import Contact

    with charlie.scope():
        Contact.objects.create(first_name="Only", last_name="Charlie")
    client = charlie.api()
    client.cookies = alice.client().cookies  # alice's verified browser session of firm A
    client.get("/api/v1/contacts/")  # the token's first use also records it (once a minute)
    with django_assert_max_num_queries(6):  # savepoint, token, user, grants, page, release
        response = client.get("/api/v1/contacts/")
    assert [row["last_name"] for row in response.json()["results"]] == ["Charlie"]
    with_session_only = alice.client().get("/api/v1/contacts/")
    assert with_session_only.status_code == 200
    assert "Charlie" not in with_session_only.content.decode()


def test_a_bad_token_is_refused_even_with_a_signed_in_session(alice: Persona) -> None:
    """A wrong or malformed token never falls back to the browser session that comes with it."""
    client = alice.client()  # alice's verified browser session
    for header in ("Token ap_nope_nothing", "Bearer ap_nope_nothing", "Token", "Token a b"):
        response = client.get("/api/v1/contacts/", HTTP_AUTHORIZATION=header)
        assert response.status_code == 401, header
        assert "results" not in response.json()
    assert client.get("/api/v1/contacts/").status_code == 200
