"""The dashboard's Recent activity (accounts opened and closed, imports, profile changes of the
last ten days, within the user's scope, sortable by column) and Notifications panels, and the
panel fragment route that re-sorts one panel."""

from __future__ import annotations

from typing import Any

import pytest

from accounts import services as account_services
from accounts.models import AccountScope
from accounts.rights import Right, Role
from advisorportal.notifications import services as notification_services
from advisorportal.request_context import set_actor
from advisorportal.shell.activity import recent_activity
from crm import services as crm_services
from portfolios.models import AccountStatus
from tests.conftest import Persona, dashboard_html
from tests.factories import ContactFactory, UserFactory
from tests.factories_portfolios import ClientAccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(firm_a: Any, alice: Persona) -> dict[str, Any]:
    with alice.scope():
        inside = ContactFactory(first_name="Ina", last_name="Inside")
        outside = ContactFactory(first_name="Otto", last_name="Outside")
        group = crm_services.group_create(actor=alice.user, name="Dana's clients")
        crm_services.group_add_members(actor=alice.user, group=group, contacts=[inside])
        crm_services.contact_update(actor=alice.user, contact=inside, occupation="Astronomer")
        crm_services.contact_update(actor=alice.user, contact=outside, occupation="Sailor")
        opened = ClientAccountFactory(number="U7000001", title="Ina individual", owners=[inside])
        closed = ClientAccountFactory(number="U7000002", title="Otto joint", owners=[outside])
        set_actor(alice.user.pk)
        closed.status = AccountStatus.CLOSED
        closed.save()
        set_actor(None)
        dana = UserFactory(firm=firm_a, email="dana@alpha.test", full_name="Dana Diaz", role=Role.STAFF,
                           rights=frozenset({Right.CRM}))  # fmt: skip
        account_services.account_scope_set(
            actor=alice.user, user=dana, scope=AccountScope.SELECTED, group_ids=frozenset({group.pk})
        )
    return {"dana": Persona(dana, firm_a), "inside": inside, "opened": opened, "closed": closed}


def test_recent_activity_names_what_happened_newest_first(alice: Persona, book: dict[str, Any]) -> None:
    with alice.scope():
        rows = recent_activity(user=alice.user)
    lines = [(row.title, row.number, row.what) for row in rows]
    assert ("Ina individual", "U7000001", "Account opened") in lines
    assert ("Otto joint", "U7000002", "Account closed") in lines
    assert ("Ina Inside", "", "Profile changed: Occupation") in lines
    assert ("Otto Outside", "", "Profile changed: Occupation") in lines
    assert [row.at for row in rows] == sorted((row.at for row in rows), reverse=True)
    closing = next(row for row in rows if row.what == "Account closed")
    assert closing.user == "Alice Able" and closing.url == f"/accounts/{book['closed'].pk}/"


def test_recent_activity_sorts_by_any_column(alice: Persona, book: dict[str, Any]) -> None:
    with alice.scope():
        titles = [row.title for row in recent_activity(user=alice.user, sort="title")]
        numbers = [row.number for row in recent_activity(user=alice.user, sort="-number")]
        fallback = recent_activity(user=alice.user, sort="nonsense")
    assert titles == sorted(titles)
    assert numbers == sorted(numbers, reverse=True)
    assert [row.at for row in fallback] == sorted((row.at for row in fallback), reverse=True)


def test_a_scoped_user_sees_only_activity_within_their_scope_and_rights(book: dict[str, Any]) -> None:
    dana = book["dana"]
    with dana.scope():
        rows = recent_activity(user=dana.user)
    # CRM only, one group: the profile change of its contact; no account lines at all.
    assert [(row.title, row.what) for row in rows] == [("Ina Inside", "Profile changed: Occupation")]


def test_the_panel_fragment_resorts_and_refuses_a_panel_the_user_may_not_see(
    alice: Persona, book: dict[str, Any]
) -> None:
    answer = alice.client().get("/dashboard/panels/activity/?activity_sort=title", HTTP_HX_REQUEST="true")
    assert answer.status_code == 200
    body = answer.content.decode()
    assert 'aria-sort="ascending"' in body and "?activity_sort=-title" in body
    assert body.index("Ina Inside") < body.index("Otto joint")
    # Dana has no Account Information: the accounts panel is not hers; unknown panels are 404 too.
    dana = book["dana"].client()
    assert dana.get("/dashboard/panels/assets/").status_code == 404
    assert dana.get("/dashboard/panels/nothing/").status_code == 404
    assert "Otto" not in dana.get("/dashboard/panels/activity/").content.decode()


def test_the_notifications_panel_shows_only_the_users_own(alice: Persona, bob: Persona, book: dict[str, Any]) -> None:
    with alice.scope():
        notification_services.notify(recipient=alice.user, category="imports", title="Your import finished")
        notification_services.notify(recipient=bob.user, category="imports", title="Bob's import finished")
    body = alice.client().get("/dashboard/panels/notifications/").content.decode()
    assert "Your import finished" in body and "Bob&#x27;s import" not in body and "Bob's import" not in body
    assert "1<span" in body  # one unread
    page = dashboard_html(alice.client())
    assert 'data-panel="notifications"' in page and 'data-panel="activity"' in page
