"""Streamed downloads read the database after the view has returned (and after the request's
transaction has committed). These tests read every streamed body through the real request path,
with no test transaction around it, as a browser or an API client would."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from accounts import audit
from accounts.rights import Role
from tests.concurrency import committed_db  # noqa: F401 - the fixture
from tests.conftest import Persona
from tests.factories import ContactFactory, FirmFactory, UserFactory

# No test transaction: what the tests write is committed, as on a real server.
pytestmark = pytest.mark.usefixtures("committed_db")


def _body(response: object) -> list[list[str]]:
    assert response.status_code == 200, getattr(response, "content", b"")[:500]  # type: ignore[attr-defined]
    assert response.streaming  # type: ignore[attr-defined]
    text = b"".join(response.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    return list(csv.reader(io.StringIO(text)))


def _persona(slug: str) -> Persona:
    firm = FirmFactory(name=slug.title(), slug=slug)
    return Persona(UserFactory(firm=firm, email=f"owner@{slug}.test", role=Role.PRIMARY), firm)


@pytest.fixture
def alice() -> Persona:
    return _persona("stream-a")


@pytest.fixture
def charlie() -> Persona:
    return _persona("stream-b")


@pytest.fixture
def book(alice: Persona, charlie: Persona) -> None:
    with alice.scope():
        for i in range(7):
            ContactFactory(first_name=f"Ann{i}", last_name="Alpha", status="application_started")
    with charlie.scope():
        ContactFactory(first_name="Outsider", last_name="Beta", status="application_started")


@pytest.mark.parametrize("name", ["contact_io:export-summary", "contact_io:export-tasks"])
def test_contact_csv_pages_stream_every_row(alice: Persona, book: None, name: str) -> None:
    rows = _body(alice.client().get(reverse(name)))
    assert len(rows) == 1 + 7
    assert not any("Outsider" in ",".join(row) for row in rows)


@pytest.mark.parametrize("kind", ["summary", "tasks"])
def test_contact_csv_api_streams_every_row(alice: Persona, book: None, kind: str) -> None:
    rows = _body(alice.api().get(f"/api/v1/contact-exports/{kind}/"))
    assert len(rows) == 1 + 7


def test_audit_csv_streams_every_entry(alice: Persona, book: None) -> None:
    with alice.scope():
        for i in range(5):
            audit.record_read(what=f"test read {i}", details={})
    rows = _body(alice.client().get(reverse("accounts:audit-csv")))
    assert sum(1 for row in rows if any("test read" in cell for cell in row)) == 5
