"""The header's unread count and the message centre: grouping, filters, read/unread, archive, pages;
only the user's own and only about contacts in their scope."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import services as account_services
from accounts.models import AccountScope
from accounts.rights import Right, Role
from advisorportal.notifications import selectors, services
from advisorportal.notifications.models import Notification
from crm import services as crm_services
from tests.conftest import Persona
from tests.factories import ContactFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(firm_a: Any, alice: Persona) -> dict[str, Any]:
    """Dana sees one group's contacts; notifications for her and for Alice."""
    with alice.scope():
        inside = ContactFactory(first_name="Ina", last_name="Inside")
        outside = ContactFactory(first_name="Otto", last_name="Outside")
        group = crm_services.group_create(actor=alice.user, name="Dana's clients")
        crm_services.group_add_members(actor=alice.user, group=group, contacts=[inside])
        dana = UserFactory(firm=firm_a, email="dana@alpha.test", full_name="Dana Diaz", role=Role.STAFF,
                           rights=frozenset({Right.CRM}))  # fmt: skip
        account_services.account_scope_set(
            actor=alice.user, user=dana, scope=AccountScope.SELECTED, group_ids=frozenset({group.pk})
        )
        a1 = services.notify(recipient=alice.user, category="agenda.task", title="Call Ina", url="/agenda/",
                             contact_id=inside.pk)  # fmt: skip
        a2 = services.notify(recipient=alice.user, category="imports.finished", title="Import of clients.csv finished",
                             url="/contacts/import/")  # fmt: skip
        a3 = services.notify(recipient=alice.user, category="documents.uploaded", title="Otto's passport uploaded",
                             url="/contacts/", contact_id=outside.pk)  # fmt: skip
        d1 = services.notify(recipient=dana, category="agenda.task", title="Dana: call Ina", contact_id=inside.pk)
    return {"dana": Persona(dana, firm_a), "inside": inside, "outside": outside, "a": [a1, a2, a3], "d1": d1}


def _count(page: str) -> str:
    match = re.search(r'class="notif-header-link"[^>]*>(.*?)</a>', page, re.S)
    assert match, "no notifications link in the header"
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip()


def test_header_shows_the_unread_count(alice: Persona, book: dict[str, Any]) -> None:
    client = alice.client()
    assert _count(client.get("/").content.decode()) == "Notifications, 3 unread"
    with alice.scope():
        services.notifications_mark_read(user=alice.user, ids=[book["a"][0].pk])
    assert _count(client.get("/").content.decode()) == "Notifications, 2 unread"
    with alice.scope():
        services.notifications_mark_read(user=alice.user)
    assert _count(client.get("/").content.decode()) == "Notifications, 0 unread"


def test_header_count_is_hidden_when_signed_out(client: Any) -> None:
    page = client.get("/accounts/login/", follow=True).content.decode()
    assert "notif-header-link" not in page


def test_header_count_costs_one_query_whatever_the_count_and_none_when_cached(
    alice: Persona, book: dict[str, Any], unread_cache: None
) -> None:
    client = alice.client()
    client.get("/agenda/")
    selectors.unread_changed(user=alice.user)
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as before:
        client.get("/agenda/")
    with alice.scope():
        for n in range(20):
            services.notify(recipient=alice.user, category="general", title=f"More {n}")
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as after:
        client.get("/agenda/")
    assert 0 < len(after) == len(before)  # a notification made the count stale: counted again, once
    assert sum("notifications_notification" in q["sql"] for q in after.captured_queries) == 1
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as cached:
        client.get("/agenda/")
    assert sum("notifications_notification" in q["sql"] for q in cached.captured_queries) == 0


def test_the_scoped_user_counts_only_notifications_about_contacts_in_scope(
    alice: Persona, book: dict[str, Any]
) -> None:
    dana = book["dana"]
    with alice.scope():
        # Written before Dana's scope narrowed (or by a careless emitter): stored, but never shown.
        hidden = Notification.objects.create(
            recipient=dana.user, category="x", title="About Otto", contact_id=book["outside"].pk
        )
        assert selectors.unread_count(user=dana.user) == 1
    page = dana.client().get("/messages/").content.decode()
    assert "Dana: call Ina" in page and "About Otto" not in page
    assert _count(page) == "Notifications, 1 unread"
    # Nor can it be opened (which would mark it read): a 404, nothing changed.
    assert dana.client().get(f"/messages/{hidden.pk}/open/").status_code == 404
    with alice.scope():
        hidden.refresh_from_db()
        assert hidden.read_at is None


def test_message_centre_groups_by_contact_and_by_category(alice: Persona, book: dict[str, Any]) -> None:
    client = alice.client()
    page = client.get("/messages/").content.decode()
    assert "Ina Inside" in page and "Otto Outside" in page and "Not about a contact" in page
    assert page.index("Call Ina") < page.index("Otto&#x27;s passport") or "Otto" in page
    page = client.get("/messages/", {"group": "category"}).content.decode()
    heads = re.findall(r'<h2 id="msg-group-\d+" class="msg-group-head">([^<]+)</h2>', page)
    assert heads == ["Task or workflow step", "Document uploaded", "Import finished"] or sorted(heads) == sorted(
        ["Task or workflow step", "Document uploaded", "Import finished"]
    )
    page = client.get("/messages/", {"group": "none"}).content.decode()
    assert "msg-group-head" not in page and "Call Ina" in page
    # Unknown values are ignored.
    assert client.get("/messages/", {"group": "zzz", "page": "x", "category": "nope"}).status_code == 200


def test_message_centre_filters(alice: Persona, book: dict[str, Any]) -> None:
    client = alice.client()
    with alice.scope():
        services.notifications_mark_read(user=alice.user, ids=[book["a"][0].pk])
        services.notifications_archive(user=alice.user, ids=[book["a"][2].pk])
    page = client.get("/messages/", {"unread": "1"}).content.decode()
    assert "Import of clients.csv" in page and "Call Ina" not in page and "passport" not in page
    page = client.get("/messages/", {"category": "agenda.task"}).content.decode()
    assert "Call Ina" in page and "Import of clients.csv" not in page
    page = client.get("/messages/", {"view": "archived"}).content.decode()
    assert "passport" in page and "Call Ina" not in page
    page = client.get("/messages/", {"category": "documents.uploaded", "unread": "1"}).content.decode()
    assert "No notifications that match these filters" in page


def test_mark_read_unread_archive_and_restore(alice: Persona, book: dict[str, Any]) -> None:
    client = alice.client()
    first, second, third = (n.pk for n in book["a"])
    r = client.post("/messages/", {"item": f"read:{first}", "next": "/messages/?group=category"})
    assert r.status_code == 302 and r["Location"] == "/messages/?group=category"
    with alice.scope():
        assert selectors.unread_count(user=alice.user) == 2
    client.post("/messages/", {"item": f"unread:{first}"})
    client.post("/messages/", {"action": "read", "ids": [first, second]})
    with alice.scope():
        assert selectors.unread_count(user=alice.user) == 1
    client.post("/messages/", {"action": "archive", "ids": [third]})
    with alice.scope():
        assert Notification.objects.get(pk=third).archived_at is not None
    client.post("/messages/", {"item": f"unarchive:{third}"})
    client.post("/messages/", {"action": "read-all"})
    with alice.scope():
        assert Notification.objects.get(pk=third).archived_at is None
        assert selectors.unread_count(user=alice.user) == 0


def test_bad_posts_change_nothing(alice: Persona, book: dict[str, Any]) -> None:
    client = alice.client()
    r = client.post("/messages/", {"action": "read"}, follow=True)
    assert "Tick at least one notification first." in r.content.decode()
    r = client.post("/messages/", {"action": "delete", "ids": [book["a"][0].pk]}, follow=True)
    assert "Choose what to do" in r.content.decode()
    # An outside "next" is not followed.
    r = client.post("/messages/", {"action": "read", "ids": [book["a"][0].pk], "next": "https://evil.example/"})
    assert r["Location"] == "/messages/"
    with alice.scope():
        assert selectors.unread_count(user=alice.user) == 2


def test_another_users_notifications_are_untouchable(alice: Persona, charlie: Persona, book: dict[str, Any]) -> None:
    dana_item = book["d1"].pk
    alice.client().post("/messages/", {"action": "archive", "ids": [dana_item]})
    charlie.client().post("/messages/", {"action": "read", "ids": [dana_item]})
    with alice.scope():
        item = Notification.objects.get(pk=dana_item)
        assert item.read_at is None and item.archived_at is None
    assert alice.client().get(f"/messages/{dana_item}/open/").status_code == 404
    assert charlie.client().get(f"/messages/{dana_item}/open/").status_code == 404
    page = charlie.client().get("/messages/").content.decode()
    assert "Dana" not in page and "Ina" not in page


def test_opening_a_notification_marks_it_read_and_follows_its_link(alice: Persona, book: dict[str, Any]) -> None:
    first = book["a"][0]
    r = alice.client().get(f"/messages/{first.pk}/open/")
    assert r.status_code == 302 and r["Location"] == "/agenda/"
    with alice.scope():
        assert Notification.objects.get(pk=first.pk).read_at is not None


def test_message_centre_pages(alice: Persona, book: dict[str, Any]) -> None:
    with alice.scope():
        for n in range(30):
            services.notify(recipient=alice.user, category="general", title=f"Bulk {n:02d}")
    client = alice.client()
    page = client.get("/messages/", {"group": "none"}).content.decode()
    assert "Page 1 of 2 (33 notifications)" in page and "Bulk 29" in page and "Bulk 00" not in page
    page = client.get("/messages/", {"group": "none", "page": 2}).content.decode()
    assert "Bulk 00" in page
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as big:
        client.get("/messages/")
    assert len(big) <= 16, [q["sql"] for q in big.captured_queries]


def test_the_cached_count_follows_every_write(alice: Persona, unread_cache: None) -> None:
    with alice.scope():
        selectors.unread_changed(user=alice.user)
        before = selectors.unread_count(user=alice.user)
        first = services.notify(recipient=alice.user, category="general", title="One")
        assert first is not None and selectors.unread_count(user=alice.user) == before + 1
        services.notifications_mark_read(user=alice.user, ids=[first.pk])
        assert selectors.unread_count(user=alice.user) == before
        services.notifications_mark_read(user=alice.user, ids=[first.pk], read=False)
        assert selectors.unread_count(user=alice.user) == before + 1
        services.notifications_archive(user=alice.user, ids=[first.pk])
        assert selectors.unread_count(user=alice.user) == before
