"""A session's user is loaded in the firm the session remembers: one query, under row-level
security, so a session whose firm does not hold its user has no user at all."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.authentication import SESSION_FIRM_KEY
from tests.conftest import Persona

pytestmark = pytest.mark.django_db


def test_sign_in_remembers_the_firm_and_the_user_is_one_query(alice: Persona) -> None:
    client = alice.client()
    assert client.session[SESSION_FIRM_KEY] == alice.firm.pk
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/settings/").status_code == 200
    sql = [q["sql"] for q in queries.captured_queries]
    assert not any("accounts_user_identity" in s for s in sql)
    assert 'FROM "accounts_user"' in sql[0]  # the session's user, the request's first query
    assert 'FROM "accounts_user"' not in sql[1]


def test_a_session_naming_another_firm_has_no_user(alice: Persona, charlie: Persona) -> None:
    client = alice.client()
    session = client.session
    session[SESSION_FIRM_KEY] = charlie.firm.pk
    session.save()
    response = client.get("/settings/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_session_from_before_the_firm_key_still_finds_its_user(alice: Persona, settings: Any) -> None:
    client = alice.client()
    session = client.session
    del session[SESSION_FIRM_KEY]
    session.save()
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/settings/").status_code == 200
    assert any("accounts_user_identity" in q["sql"] for q in queries.captured_queries)
