"""Sessions: list, revoke, sign out everywhere, idle and absolute timeouts, new-device notices."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.models import UserSession
from tests.conftest import Persona

pytestmark = pytest.mark.django_db


def sign_in(persona: Persona, agent: str = "Firefox/140", device: str | None = None) -> Client:
    client = Client(HTTP_USER_AGENT=agent)
    if device:
        client.cookies["ap_device"] = device
    response = client.post("/login/", {"username": persona.user.email, "password": persona.password})
    assert response.status_code == 302
    return persona.pass_two_factor(client)


def test_session_key_changes_at_sign_in(alice: Persona) -> None:
    client = Client()
    client.get("/login/")
    before = client.cookies.get("sessionid")
    client.post("/login/", {"username": alice.user.email, "password": alice.password})
    assert client.cookies["sessionid"].value != (before.value if before else None)


def test_sessions_are_listed_and_another_can_be_ended(alice: Persona) -> None:
    laptop = sign_in(alice, "Laptop/1")
    phone = sign_in(alice, "Phone/2")
    page = laptop.get("/settings/").content.decode()
    assert "Laptop/1" in page and "Phone/2" in page and "This browser" in page
    other = UserSession.objects.get(user=alice.user, user_agent="Phone/2")
    assert laptop.post(f"/settings/sessions/{other.pk}/end/").status_code == 302
    response = phone.get("/contacts/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert laptop.get("/contacts/").status_code == 200


def test_sign_out_everywhere_else(alice: Persona) -> None:
    keep = sign_in(alice, "A")
    others = [sign_in(alice, "B"), sign_in(alice, "C")]
    keep.post("/settings/sessions/end-others/")
    assert all(c.get("/").status_code == 302 for c in others)
    assert keep.get("/").status_code == 200


def test_someone_elses_session_cannot_be_ended(alice: Persona, bob: Persona) -> None:
    sign_in(bob, "Bob's")
    bobs = UserSession.objects.get(user=bob.user)
    assert sign_in(alice).post(f"/settings/sessions/{bobs.pk}/end/").status_code == 404
    assert UserSession.objects.get(pk=bobs.pk).ended_at is None


def test_ending_a_session_needs_post(alice: Persona) -> None:
    client = sign_in(alice)
    record = UserSession.objects.get(user=alice.user)
    assert client.get(f"/settings/sessions/{record.pk}/end/").status_code == 405


@pytest.mark.parametrize(("field", "age", "message"), [
    ("last_seen_at", timedelta(minutes=31), "inactivity"),
    ("created_at", timedelta(hours=13), "time limit"),
])  # fmt: skip
def test_idle_and_absolute_timeouts(alice: Persona, field: str, age: timedelta, message: str) -> None:
    client = sign_in(alice)
    UserSession.objects.filter(user=alice.user).update(**{field: timezone.now() - age})
    response = client.get("/contacts/", follow=True)
    assert response.redirect_chain[0][0].startswith("/login/")
    assert message in response.content.decode()
    assert UserSession.objects.get(user=alice.user).end_reason in {"idle", "expired"}


def test_firm_sets_the_idle_limit(alice: Persona) -> None:
    alice.firm.session_idle_minutes = 120
    alice.firm.save()
    client = sign_in(alice)
    UserSession.objects.filter(user=alice.user).update(last_seen_at=timezone.now() - timedelta(minutes=31))
    assert client.get("/contacts/").status_code == 200


def test_activity_keeps_the_session_fresh_in_one_statement_a_minute_at_most(alice: Persona) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = sign_in(alice)
    long_ago = timezone.now() - timedelta(minutes=20)
    UserSession.objects.filter(user=alice.user).update(last_seen_at=long_ago)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/contacts/").status_code == 200
    assert sum("accounts_usersession" in q["sql"] for q in ctx.captured_queries) == 1
    seen = UserSession.objects.get(user=alice.user).last_seen_at
    assert seen > long_ago + timedelta(minutes=19)
    assert client.get("/contacts/").status_code == 200  # within the minute: left as it is
    assert UserSession.objects.get(user=alice.user).last_seen_at == seen


def test_new_browser_gets_a_notice_a_known_one_does_not(
    alice: Persona, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        first = sign_in(alice)
    assert len(mail.outbox) == 1
    assert "new sign-in" in mail.outbox[0].subject and "Alpha Advisors" in mail.outbox[0].subject
    assert mail.outbox[0].to == [alice.user.email]
    device = first.cookies["ap_device"].value
    with django_capture_on_commit_callbacks(execute=True):
        sign_in(alice, device=device)
    assert len(mail.outbox) == 1
