"""Notifications (advisorportal/notifications): notify, read/unread, archive, outsiders."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from advisorportal.notifications import selectors, services
from advisorportal.notifications.models import Notification
from tests.conftest import Persona


@pytest.mark.django_db
def test_notify_and_unread_count(alice: Persona, bob: Persona) -> None:
    with alice.scope():
        first = services.notify(
            recipient=bob.user, category="agenda.task_assigned", title="Call Cora", url="/contacts/1/"
        )
        services.notify(recipient=bob.user, category="imports.finished", title="Import finished")
        assert selectors.unread_count(user=bob.user) == 2
        assert selectors.unread_count(user=alice.user) == 0
        assert services.notifications_mark_read(user=bob.user, ids=[first.pk]) == 1
        assert selectors.unread_count(user=bob.user) == 1
        assert services.notifications_mark_read(user=bob.user, ids=[first.pk], read=False) == 1
        assert services.notifications_mark_read(user=bob.user) == 2
        assert services.notifications_archive(user=bob.user, ids=[first.pk]) == 1
        assert [n.pk for n in selectors.notifications_for(user=bob.user, archived=True)] == [first.pk]
        assert first.pk not in [n.pk for n in selectors.notifications_for(user=bob.user)]
        # Alice cannot mark Bob's.
        assert services.notifications_archive(user=alice.user, ids=[first.pk], archived=False) == 0


@pytest.mark.django_db
def test_notify_refuses_bad_input(alice: Persona, charlie: Persona) -> None:
    with alice.scope():
        with pytest.raises(ValidationError, match="not a user of this firm"):
            services.notify(recipient=charlie.user, category="x", title="Leak")
        with pytest.raises(ValidationError, match="our pages"):
            services.notify(recipient=alice.user, category="x", title="Phish", url="https://evil.example/")
        with pytest.raises(ValidationError, match="our pages"):
            services.notify(recipient=alice.user, category="x", title="Phish", url="//evil.example/")
        with pytest.raises(ValidationError):
            services.notify(recipient=alice.user, category="", title="")
        assert not Notification.objects.exists()


@pytest.mark.django_db
def test_outsider_sees_none(alice: Persona, charlie: Persona) -> None:
    with alice.scope():
        services.notify(recipient=alice.user, category="x", title="Mine")
    with charlie.scope():
        assert not Notification.objects.exists()
        assert selectors.unread_count(user=alice.user) == 0


@pytest.mark.django_db
def test_notify_drops_a_notification_about_a_contact_outside_the_recipients_scope(
    alice: Persona, bob: Persona, firm_a: Any
) -> None:
    from accounts import services as account_services
    from accounts.models import AccountScope
    from crm import services as crm_services
    from tests.factories import ContactFactory

    with alice.scope():
        inside, outside = ContactFactory(last_name="Inside"), ContactFactory(last_name="Outside")
        group = crm_services.group_create(actor=alice.user, name="Bob's")
        crm_services.group_add_members(actor=alice.user, group=group, contacts=[inside])
        account_services.account_scope_set(
            actor=alice.user, user=bob.user, scope=AccountScope.SELECTED, group_ids=frozenset({group.pk})
        )
        assert services.notify(recipient=bob.user, category="x", title="In", contact_id=inside.pk) is not None
        assert services.notify(recipient=bob.user, category="x", title="Out", contact_id=outside.pk) is None
        assert services.notify(recipient=alice.user, category="x", title="Out", contact_id=outside.pk) is not None
        assert list(Notification.objects.filter(recipient=bob.user).values_list("title", flat=True)) == ["In"]


@pytest.mark.django_db
def test_a_key_tells_a_recipient_once(alice: Persona, bob: Persona) -> None:
    with alice.scope():
        assert services.notify(recipient=bob.user, category="x", title="Due", key="task:1:2026-12-06") is not None
        assert services.notify(recipient=bob.user, category="x", title="Due", key="task:1:2026-12-06") is None
        # Another recipient, or another key, is told.
        assert services.notify(recipient=alice.user, category="x", title="Due", key="task:1:2026-12-06") is not None
        assert services.notify(recipient=bob.user, category="x", title="Due", key="task:1:2026-12-07") is not None
        assert Notification.objects.count() == 3
