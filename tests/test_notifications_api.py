"""/api/v1/notifications/: the caller's own only; another user's or firm's id is a 404 and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from advisorportal.notifications import services
from advisorportal.notifications.models import Notification
from tests.conftest import Persona
from tests.test_notifications_centre import book  # noqa: F401 - the shared fixture

pytestmark = pytest.mark.django_db
URL = "/api/v1/notifications/"


def test_list_filters_and_pages(alice: Persona, book: dict[str, Any]) -> None:  # noqa: F811
    api = alice.api()
    body = api.get(URL).json()
    assert [r["title"] for r in body["results"]] == [
        "Otto's passport uploaded", "Import of clients.csv finished", "Call Ina",
    ]  # fmt: skip
    first = body["results"][0]
    assert first["category_label"] == "Document uploaded" and first["read"] is False and first["archived"] is False
    assert [r["title"] for r in api.get(URL, {"category": "agenda.task"}).json()["results"]] == ["Call Ina"]
    inside = book["inside"].pk
    assert [r["title"] for r in api.get(URL, {"contact": inside}).json()["results"]] == ["Call Ina"]
    page = api.get(URL, {"page_size": 2}).json()
    assert len(page["results"]) == 2 and page["next"]
    rest = api.get(page["next"]).json()
    assert [r["title"] for r in rest["results"]] == ["Call Ina"] and rest["next"] is None
    assert api.get(URL, {"unread": "maybe"}).status_code == 400
    assert api.get(URL, {"contact": "x"}).status_code == 400


def test_unread_count_mark_read_archive_and_restore(alice: Persona, book: dict[str, Any]) -> None:  # noqa: F811
    api = alice.api()
    assert api.get(URL + "unread-count/").json() == {"unread": 3}
    one = book["a"][0].pk
    assert api.post(URL + "mark-read/", {"ids": [one]}, format="json").json() == {"changed": 1}
    assert api.get(URL + "unread-count/").json() == {"unread": 2}
    assert [r["id"] for r in api.get(URL, {"unread": "true"}).json()["results"]] == [book["a"][2].pk, book["a"][1].pk]
    assert api.post(URL + "mark-read/", {"ids": [one], "read": False}, format="json").json() == {"changed": 1}
    assert api.post(URL + "mark-read/", {"all": True}, format="json").json() == {"changed": 3}
    assert api.post(URL + "mark-read/", {}, format="json").status_code == 400
    assert api.post(URL + "mark-read/", {"all": True, "ids": [one]}, format="json").status_code == 400
    archived = api.post(f"{URL}{one}/archive/").json()
    assert archived["archived"] is True and archived["archived_at"]
    assert [r["id"] for r in api.get(URL, {"archived": "true"}).json()["results"]] == [one]
    assert one not in [r["id"] for r in api.get(URL).json()["results"]]
    assert api.post(f"{URL}{one}/unarchive/").json()["archived"] is False
    assert api.get(f"{URL}{one}/").json()["title"] == "Call Ina"


def test_another_users_and_another_firms_ids_are_404(
    alice: Persona,
    charlie: Persona,
    book: dict[str, Any],  # noqa: F811
) -> None:
    danas = book["d1"].pk
    for persona in (alice, charlie):
        api = persona.api()
        assert api.get(f"{URL}{danas}/").status_code == 404
        assert api.post(f"{URL}{danas}/archive/").status_code == 404
        assert api.post(f"{URL}{danas}/unarchive/").status_code == 404
        assert api.post(URL + "mark-read/", {"ids": [danas]}, format="json").json() == {"changed": 0}
    assert charlie.api().get(URL).json()["results"] == []
    assert charlie.api().get(URL + "unread-count/").json() == {"unread": 0}
    with alice.scope():
        row = Notification.objects.get(pk=danas)
        assert row.read_at is None and row.archived_at is None


def test_one_about_a_contact_outside_the_scope_is_404(alice: Persona, book: dict[str, Any]) -> None:  # noqa: F811
    dana = book["dana"]
    with alice.scope():
        hidden = Notification.objects.create(recipient=dana.user, category="x", title="About Otto",
                                             contact_id=book["outside"].pk)  # fmt: skip
    api = dana.api()
    assert api.get(f"{URL}{hidden.pk}/").status_code == 404
    assert [r["title"] for r in api.get(URL).json()["results"]] == ["Dana: call Ina"]
    assert api.get(URL, {"contact": book["outside"].pk}).json()["results"] == []
    assert api.get(URL + "unread-count/").json() == {"unread": 1}


def test_signed_out_is_refused(client: Any) -> None:
    assert client.get(URL).status_code in (401, 403)
    assert client.get(URL + "unread-count/").status_code in (401, 403)


def test_in_the_openapi_schema(alice: Persona) -> None:
    paths = alice.client().get("/api/schema/", {"format": "json"}).json()["paths"]
    for path in (URL, URL + "unread-count/", URL + "mark-read/", URL + "{id}/archive/", URL + "{id}/unarchive/"):
        assert "/api/v1/notifications/" in path and path in paths, path


def test_notify_for_the_api_user_shows_up(alice: Persona) -> None:
    with alice.scope():
        services.notify(recipient=alice.user, category="general", title="Hello")
    assert alice.api().get(URL).json()["results"][0]["category_label"] == "General"
