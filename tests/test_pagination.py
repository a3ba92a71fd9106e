"""Keyset pagination: every row once, in order, in either direction, whatever the cursor."""

from __future__ import annotations

import pytest

from advisorportal.tenancy.pagination import encode_cursor, keyset_page
from crm.models import Contact
from tests.conftest import Persona
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("keys", [("last_name", "first_name", "id"), ("-last_name", "-first_name", "-id"), ("id",)])
def test_walks_every_row_once_in_order(alice: Persona, keys: tuple[str, ...]) -> None:
    with alice.scope():
        for last in ("Ng", "Ng", "Ng", "Abe", "Zola", "Ng"):
            ContactFactory(last_name=last, first_name="Sam")
        expected = list(Contact.objects.order_by(*keys).values_list("pk", flat=True))
        seen: list[int] = []
        cursor = ""
        for _ in range(10):  # bounded: a cursor that fails to advance must fail the test, not hang it
            page = keyset_page(Contact.objects.all(), keys=keys, after=cursor, size=2)
            seen += [c.pk for c in page.rows]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    assert seen == expected


@pytest.mark.parametrize("cursor", ["%%%", "bm90IGpzb24", "WzEsMl0", "WyJhIiwiYiIsIngiXQ"])
def test_malformed_cursor_restarts_at_the_first_page(alice: Persona, cursor: str) -> None:
    with alice.scope():
        ContactFactory.create_batch(3)
        first = keyset_page(Contact.objects.all(), keys=("last_name", "first_name", "id"), size=10)
        again = keyset_page(Contact.objects.all(), keys=("last_name", "first_name", "id"), after=cursor, size=10)
    assert [c.pk for c in again.rows] == [c.pk for c in first.rows]


def test_mixed_directions_are_refused(alice: Persona) -> None:
    with alice.scope(), pytest.raises(ValueError, match="one direction"):
        keyset_page(Contact.objects.all(), keys=("last_name", "-id"), size=2)


def test_a_cursor_cannot_reach_another_firm(alice: Persona, charlie: Persona) -> None:
    with charlie.scope():
        theirs = ContactFactory(last_name="Aardvark")
        cursor = encode_cursor(theirs, ("last_name", "first_name", "id"))
    with alice.scope():
        mine = ContactFactory(last_name="Zed")
        page = keyset_page(Contact.objects.all(), keys=("last_name", "first_name", "id"), after=cursor, size=10)
    assert [c.pk for c in page.rows] == [mine.pk]


def test_api_lists_contacts_in_name_order_with_links(alice: Persona) -> None:
    with alice.scope():
        for last in ("Young", "Adams", "Miller"):
            ContactFactory(last_name=last)
    body = alice.api().get("/api/v1/contacts/?page_size=2").json()
    assert [r["last_name"] for r in body["results"]] == ["Adams", "Miller"]
    assert body["first"].endswith("/api/v1/contacts/?page_size=2")
    rest = alice.api().get(body["next"]).json()
    assert [r["last_name"] for r in rest["results"]] == ["Young"] and rest["next"] is None
