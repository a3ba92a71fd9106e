"""Password change and reset: validated, non-revealing, and ending other sessions."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from tests.conftest import Persona

pytestmark = pytest.mark.django_db

NEW = "a much longer passphrase 77"


def test_change_needs_the_old_password_and_ends_other_sessions(alice: Persona) -> None:
    other = alice.client()
    client = alice.client()
    wrong = client.post("/settings/password/", {"old_password": "nope", "new_password1": NEW, "new_password2": NEW})
    assert wrong.status_code == 200 and b"incorrectly" in wrong.content
    weak = client.post(
        "/settings/password/", {"old_password": alice.password, "new_password1": "123", "new_password2": "123"}
    )
    assert weak.status_code == 200 and b"too short" in weak.content
    ok = client.post(
        "/settings/password/", {"old_password": alice.password, "new_password1": NEW, "new_password2": NEW}
    )
    assert ok.status_code == 302
    assert client.get("/contacts/").status_code == 200
    assert other.get("/contacts/").status_code == 302


def test_reset_answers_the_same_for_unknown_addresses(alice: Persona) -> None:
    known = Client().post("/password-reset/", {"email": alice.user.email.upper()})
    unknown = Client().post("/password-reset/", {"email": "nobody@alpha.test"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == "/password-reset/sent/"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [alice.user.email]


def test_reset_link_sets_a_password_once(alice: Persona) -> None:
    Client().post("/password-reset/", {"email": alice.user.email})
    path = re.search(r"https?://[^/]+(/password-reset/\S+/)", mail.outbox[0].body).group(1)  # type: ignore[union-attr]
    visitor = Client()
    page = visitor.get(path, follow=True)
    form_url = page.redirect_chain[-1][0]
    assert visitor.post(form_url, {"new_password1": NEW, "new_password2": NEW}).status_code == 302
    assert Client().post("/login/", {"username": alice.user.email, "password": NEW}).status_code == 302
    assert b"cannot be used" in Client().get(path, follow=True).content
