"""A short end-to-end check that CI also runs against the embedded PostgreSQL and Redis."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from tests.conftest import Persona
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def test_app_runs_as_restricted_role_with_rls(alice: Persona, charlie: Persona) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False, False)
    with alice.scope():
        ContactFactory(last_name="Smoketest")
    client = Client()
    client.post("/login/", {"username": charlie.user.email, "password": charlie.password})
    charlie.pass_two_factor(client)
    page = client.get("/contacts/")
    assert page.status_code == 200 and b"Smoketest" not in page.content
    assert client.get("/health").json()["redis"] == "ok"
