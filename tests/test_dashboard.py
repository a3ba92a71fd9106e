"""The dashboard's panel registry: each panel shows only with its right, inside the user's scope,
and the home page's query count does not grow with the data."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import services as account_services
from accounts.models import AccountScope
from accounts.rights import Right, Role
from advisorportal.shell.panels import Panel, panels_for, registered
from crm import services as crm_services
from crm.agenda import services as agenda_services
from tests.conftest import Persona, dashboard_html
from tests.factories import ContactFactory, UserFactory

pytestmark = pytest.mark.django_db

DUE = dt.date.today() + dt.timedelta(days=3)


@pytest.fixture
def book(firm_a: Any, alice: Persona) -> dict[str, Any]:
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
        for contact, word in ((inside, "Insider"), (outside, "Outsider")):
            agenda_services.note_create(actor=alice.user, contact=contact, body=f"{word} note")
            agenda_services.task_create(actor=alice.user, title=f"{word} task", assignee=dana, contact=contact,
                                        due_date=DUE)  # fmt: skip
    return {"dana": Persona(dana, firm_a), "inside": inside, "outside": outside}


def test_every_panel_needs_a_right_and_renders_for_the_primary_user(alice: Persona, book: dict[str, Any]) -> None:
    page = dashboard_html(alice.client())
    for panel in registered():
        # Only the user's own notifications need no right.
        assert panel.rights or panel.any_of or panel.key == "notifications", panel.key
        assert f'data-panel="{panel.key}"' in page
    assert "Insider note" in page and "Outsider note" in page


def test_the_group_scoped_assistant_sees_only_its_groups_work(book: dict[str, Any]) -> None:
    page = dashboard_html(book["dana"].client())
    assert "Insider task" in page and "Insider note" in page
    assert "Outsider" not in page
    # Without Account Information, the accounts panel is not shown at all.
    assert 'data-panel="assets"' not in page


def test_a_user_without_crm_sees_no_crm_panel(firm_a: Any, alice: Persona, book: dict[str, Any]) -> None:
    with alice.scope():
        viewer = UserFactory(firm=firm_a, email="ivy@alpha.test", full_name="Ivy Info", role=Role.STAFF,
                             rights=frozenset({Right.ACCOUNT_INFORMATION}))  # fmt: skip
        assert [p.key for p in panels_for(viewer)] == ["activity", "notifications", "assets"]
    page = dashboard_html(Persona(viewer, firm_a).client())
    assert 'data-panel="assets"' in page and 'data-panel="notes"' not in page and "Insider" not in page


def test_another_firms_user_sees_none_of_this_firms_items(charlie: Persona, book: dict[str, Any]) -> None:
    page = dashboard_html(charlie.client())
    assert "Insider" not in page and "Outsider" not in page


def test_a_panel_key_registers_once() -> None:
    from advisorportal.shell import panels

    existing = registered()[0]
    with pytest.raises(ValueError, match="already registered"):
        panels.register(Panel(existing.key, "Other", "x.html", lambda user: {}, (Right.CRM,)))


def test_the_home_page_query_count_does_not_grow_with_the_data(alice: Persona, book: dict[str, Any]) -> None:
    """The page and each panel's own request: the same number of queries with more data."""
    client = alice.client()
    dashboard_html(client)
    connection.queries_log.clear()  # a full log (maxlen 9000) would make every capture look empty
    with CaptureQueriesContext(connection) as before:
        before_html = dashboard_html(client)
    with alice.scope():
        for n in range(15):
            contact = ContactFactory(first_name=f"More{n}", last_name="Clients")
            agenda_services.note_create(actor=alice.user, contact=contact, body=f"Note {n}")
            agenda_services.task_create(actor=alice.user, title=f"Task {n}", contact=contact, due_date=DUE)
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as after:
        after_html = dashboard_html(client)
    assert "More14" in after_html and "More14" not in before_html  # the panels did read the new data
    assert 0 < len(after) == len(before), [q["sql"] for q in after.captured_queries]


def test_the_home_page_loads_each_panel_by_its_own_request(alice: Persona, book: dict[str, Any]) -> None:
    """The page itself reads no panel's data: a placeholder per panel, loaded by htmx, a 200 with
    the panel's fragment, and the panel's query parameters passed on."""
    client = alice.client()
    page = client.get("/?activity_sort=title").content.decode()
    assert 'hx-get="/dashboard/panels/pending/"' in page and 'hx-trigger="load"' in page
    assert 'hx-get="/dashboard/panels/activity/?activity_sort=title"' in page
    assert "Insider" not in page and "Loading…" in page
    fragment = client.get("/dashboard/panels/pending/")
    assert fragment.status_code == 200 and b"<html" not in fragment.content


# --- Pending items -------------------------------------------------------------------------------


@pytest.fixture
def test_kind() -> Any:
    """A kind registered only for the test, as a later capability would register its own."""
    from advisorportal.shell import pending

    def items(user: Any, *, q: str, status: str, limit: int | None) -> list[pending.PendingItem]:
        item = pending.PendingItem(
            kind="test", kind_label="Test item", date=dt.date.today(), title="Test Trust", number="U7000001",
            subject="Approve the test", status="Awaiting client", waits_on="The client", due=None,
        )  # fmt: skip
        return [item] if (not q or q in item.number) and status in ("", "waiting") else []

    kind = pending.register(pending.ItemKind("test", "Test items", items, (Right.CRM,), (("waiting", "Waiting"),)))
    yield kind
    pending.unregister("test")


def test_pending_items_page_lists_every_kind_with_filters(book: dict[str, Any], test_kind: Any) -> None:
    client = book["dana"].client()
    page = client.get("/pending/").content.decode()
    assert "Insider task" in page and "Approve the test" in page and "Outsider" not in page
    page = client.get("/pending/", {"kind": "test"}).content.decode()
    assert "Approve the test" in page and "Insider task" not in page
    page = client.get("/pending/", {"q": "U7000001"}).content.decode()
    assert "Approve the test" in page and "Insider task" not in page
    page = client.get("/pending/", {"status": "overdue"}).content.decode()
    assert "Nothing is waiting on you that matches these filters" in page
    # Unknown filter values are ignored, not errors.
    assert client.get("/pending/", {"kind": "nope", "status": "nope", "page": "x"}).status_code == 200


def test_pending_items_need_the_kinds_right(firm_a: Any, alice: Persona, book: dict[str, Any], test_kind: Any) -> None:
    with alice.scope():
        viewer = UserFactory(firm=firm_a, email="ivy@alpha.test", full_name="Ivy Info", role=Role.STAFF,
                             rights=frozenset({Right.ACCOUNT_INFORMATION}))  # fmt: skip
    page = Persona(viewer, firm_a).client().get("/pending/").content.decode()
    assert "Approve the test" not in page and "Insider" not in page


def test_the_dashboard_panel_shows_pending_items(book: dict[str, Any], test_kind: Any) -> None:
    page = dashboard_html(book["dana"].client())
    assert 'data-panel="pending"' in page and "Approve the test" in page and "All pending items" in page
