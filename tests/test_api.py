"""The API: token and session auth, scoping, keyset pagination, the error shape, outsiders."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import ApiToken
from crm.models import Contact
from tests.conftest import Persona
from tests.factories import ContactFactory, HouseholdFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alpha_contacts(alice: Persona) -> list[Contact]:
    with alice.scope():
        return ContactFactory.create_batch(5)


def test_list_shows_only_the_callers_firm(alice: Persona, charlie: Persona, alpha_contacts: list[Contact]) -> None:
    with charlie.scope():
        ContactFactory(last_name="Outsider")
    response = alice.api().get("/api/v1/contacts/")
    assert response.status_code == 200
    assert {row["id"] for row in response.json()["results"]} == {c.pk for c in alpha_contacts}


def test_outsider_gets_404_identical_to_missing(
    alice: Persona, charlie: Persona, alpha_contacts: list[Contact]
) -> None:
    client = charlie.api()
    foreign = client.get(f"/api/v1/contacts/{alpha_contacts[0].pk}/")
    missing = client.get("/api/v1/contacts/999999999/")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json() == {"error": {"code": "not_found", "message": "Not found."}}


def test_outsider_cannot_see_households(alice: Persona, charlie: Persona) -> None:
    with alice.scope():
        household = HouseholdFactory()
    client = charlie.api()
    assert client.get(f"/api/v1/households/{household.pk}/").status_code == 404
    assert client.get("/api/v1/households/").json()["results"] == []
    assert alice.api().get(f"/api/v1/households/{household.pk}/").json()["member_count"] == 1


def test_keyset_pagination_walks_every_row_once(alice: Persona, alpha_contacts: list[Contact]) -> None:
    client = alice.api()
    seen: list[int] = []
    url: str | None = "/api/v1/contacts/?page_size=2"
    for _ in range(10):
        if url is None:
            break
        body = client.get(url).json()
        assert "count" not in body  # no COUNT(*) on large tables
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert sorted(seen) == sorted(c.pk for c in alpha_contacts) and len(seen) == len(set(seen))


def test_list_query_count_is_constant_in_page_size(alice: Persona, alpha_contacts: list[Contact]) -> None:
    client = alice.api()
    client.get("/api/v1/me/")  # the token's first use records last_used_at once
    with alice.scope():
        ContactFactory.create_batch(40)
    counts = []
    for size in (1, 40):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/api/v1/contacts/?page_size={size}").status_code == 200
        counts.append(len(ctx))
    assert counts[0] == counts[1] <= 6


def test_create_validates_and_names_the_field(alice: Persona) -> None:
    client = alice.api()
    response = client.post("/api/v1/contacts/", {"first_name": "Ann", "last_name": "Lee", "email": "not-an-email"})
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "invalid" and "email" in body["fields"]
    with alice.scope():
        assert not Contact.objects.filter(first_name="Ann").exists()


def test_create_prospect_with_only_a_name(alice: Persona) -> None:
    response = alice.api().post("/api/v1/contacts/", {"first_name": "Ann", "last_name": "Lee"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "prospect"
    with alice.scope():
        assert Contact.objects.get(pk=response.json()["id"]).firm_id == alice.firm.pk


def test_firm_cannot_be_chosen_by_the_client(alice: Persona, charlie: Persona) -> None:
    response = alice.api().post(
        "/api/v1/contacts/", {"first_name": "A", "last_name": "B", "firm": charlie.firm.pk}, format="json"
    )
    assert response.status_code == 201
    with alice.scope():
        assert Contact.objects.get(pk=response.json()["id"]).firm_id == alice.firm.pk


def test_missing_right_is_403(bob: Persona, alice: Persona) -> None:
    # Bob has CRM only: the identity endpoint works, nothing else is granted beyond CRM.
    assert bob.api().get("/api/v1/me/").json()["rights"] == ["crm"]
    assert bob.api().get("/api/v1/contacts/").status_code == 200


def test_no_credentials_is_401_in_the_error_shape(db: None) -> None:
    response = APIClient().get("/api/v1/contacts/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("case", ["garbage", "wrong secret", "revoked", "expired", "disabled user"])
def test_bad_tokens_are_refused(alice: Persona, case: str) -> None:
    token, raw = account_services.api_token_create(user=alice.user, name="t")
    if case == "garbage":
        raw = "not-a-token"
    elif case == "wrong secret":
        raw = raw[:-4] + "AAAA"
    elif case == "revoked":
        ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    elif case == "expired":
        ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    else:
        with alice.scope():
            type(alice.user).objects.filter(pk=alice.user.pk).update(is_active=False)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    response = client.get("/api/v1/contacts/")
    assert response.status_code == 401
    assert response.json()["error"]["message"] in {"Invalid or expired token.", "Invalid token header."}


def test_token_is_stored_hashed_and_records_use(alice: Persona) -> None:
    token, raw = account_services.api_token_create(user=alice.user, name="t")
    assert raw.split("_", 2)[2] not in token.digest
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    assert client.get("/api/v1/me/").json()["email"] == "alice@alpha.test"
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_session_auth_works_for_the_api(alice: Persona) -> None:
    client = APIClient()
    client.force_login(alice.user)
    assert client.get("/api/v1/me/").status_code == 403  # the session's second factor is still owed
    alice.pass_two_factor(client)
    assert client.get("/api/v1/me/").json()["firm"] == "alpha"


def test_openapi_schema_describes_the_api(db: None) -> None:
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/contacts/" in paths and "/api/v1/contacts/{id}/" in paths and "/api/v1/me/" in paths


def test_interactive_docs_load_without_a_cdn(client: object) -> None:
    response = client.get("/api/docs/")  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert b"cdn" not in response.content.lower()
