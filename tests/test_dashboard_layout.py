"""Add/Edit panels: each user hides, shows and reorders the panels their rights allow, on the page
and through the API; the choice persists, is the user's own, and bad input changes nothing."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from advisorportal.shell import dashboard_panels  # noqa: F401 - registers the panels
from advisorportal.shell.models import DashboardLayout
from advisorportal.shell.panels import panels_for
from tests.conftest import Persona

pytestmark = pytest.mark.django_db


def _keys(person: Persona) -> list[str]:
    with person.scope():
        return [p.key for p in panels_for(person.user)]


def _page_order(html: str) -> list[str]:
    return re.findall(r'data-panel="([^"]+)"', html)


def test_the_default_is_every_allowed_panel_in_the_registered_order(alice: Persona) -> None:
    page = alice.client().get("/").content.decode()
    assert _page_order(page) == _keys(alice)
    assert "Add/Edit panels" in page


def test_hide_and_move_on_the_page_persist(alice: Persona) -> None:
    client = alice.client()
    keys = _keys(alice)
    assert len(keys) >= 3
    first, second, third = keys[:3]
    # Move the second up, keep everything shown but the third (one post: the move saves the ticks too).
    shown = [k for k in keys if k != third]
    response = client.post("/dashboard/panels/", {"order": keys, "shown": shown, "move": f"{second}:up"})
    assert response.status_code == 302
    order = _page_order(client.get("/").content.decode())
    assert order[:2] == [second, first]
    assert third not in order
    assert len(order) == len(keys) - 1
    # The edit page keeps the hidden one, unticked, in its place.
    edit = client.get("/dashboard/panels/").content.decode()
    assert f'id="show-{third}" name="shown" value="{third}">' in edit
    assert f'id="show-{second}" name="shown" value="{second}" checked>' in edit
    # Reset forgets the arrangement.
    client.post("/dashboard/panels/", {"reset": "1"})
    assert _page_order(client.get("/").content.decode()) == keys
    assert not DashboardLayout.objects.unscoped().filter(user_id=alice.user.pk).exists()


def test_hiding_every_panel_says_how_to_get_them_back(alice: Persona) -> None:
    client = alice.client()
    keys = _keys(alice)
    client.post("/dashboard/panels/", {"order": keys})
    page = client.get("/").content.decode()
    assert _page_order(page) == []
    assert "You have hidden every panel" in page


def test_an_unknown_or_forbidden_panel_is_refused_and_nothing_changes(bob: Persona) -> None:
    person, crm_only = bob, bob.user  # CRM only: no Account Information
    client = person.client()
    keys = _keys(person)
    assert "assets" not in keys  # needs Account Information
    response = client.post("/dashboard/panels/", {"order": [*keys, "assets"], "shown": keys}, follow=True)
    assert "The panels were not saved: Unknown panel" in response.content.decode()
    assert not DashboardLayout.objects.unscoped().filter(user_id=crm_only.pk).exists()
    api = person.api()
    answer = api.put("/api/v1/dashboard/panels/", {"panels": [{"key": "assets", "shown": True}]}, format="json")
    assert answer.status_code == 400
    answer = api.put("/api/v1/dashboard/panels/", {"panels": [{"key": keys[0], "shown": True}] * 2}, format="json")
    assert answer.status_code == 400
    assert not DashboardLayout.objects.unscoped().filter(user_id=crm_only.pk).exists()


def test_the_api_reads_and_writes_the_same_arrangement(alice: Persona) -> None:
    api = alice.api()
    got = api.get("/api/v1/dashboard/panels/").json()["panels"]
    keys = [row["key"] for row in got]
    assert all(row["shown"] for row in got) and got[0]["name"]
    wanted = [keys[-1], keys[0]]
    answer = api.put(
        "/api/v1/dashboard/panels/",
        {"panels": [{"key": wanted[0], "shown": True}, {"key": wanted[1], "shown": False}]},
        format="json",
    )
    assert answer.status_code == 200
    rows = answer.json()["panels"]
    assert [r["key"] for r in rows[:2]] == wanted
    assert rows[1]["shown"] is False
    assert all(r["shown"] for r in rows[2:])  # left out: shown, in the default order
    assert _page_order(alice.client().get("/").content.decode())[0] == wanted[0]


def test_an_arrangement_is_the_users_own(alice: Persona, bob: Persona, charlie: Persona) -> None:
    keys = _keys(alice)
    alice.client().post("/dashboard/panels/", {"order": keys, "shown": keys[1:]})
    assert keys[0] in _page_order(bob.client().get("/").content.decode())
    assert keys[0] in _page_order(charlie.client().get("/").content.decode())
    assert keys[0] not in _page_order(alice.client().get("/").content.decode())


def test_anonymous_is_sent_to_sign_in() -> None:
    response = Client().get("/dashboard/panels/")
    assert response.status_code == 302 and "/login" in response["Location"]
    assert Client().get("/api/v1/dashboard/panels/").status_code in {401, 403}
