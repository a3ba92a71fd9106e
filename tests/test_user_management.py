"""Security officers run their firm's users: invite, set password once, rights, disable, reset 2FA."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from accounts import two_factor
from accounts.models import AuditEntry, User
from accounts.selectors import user_rights
from accounts.services import api_token_create
from tests.conftest import Persona

pytestmark = pytest.mark.django_db


def test_invite_set_password_once_then_sign_in(alice: Persona, django_capture_on_commit_callbacks: Any) -> None:
    officer = alice.client()
    with django_capture_on_commit_callbacks(execute=True):
        response = officer.post(
            "/settings/users/", {"email": "Dana@Alpha.test", "full_name": "Dana D", "role": "staff"}
        )
    assert response.status_code == 302
    with alice.scope():
        dana = User.objects.get(email="dana@alpha.test")
    assert not dana.has_usable_password()
    link = re.search(r"http://\S+/invite/\S+/", mail.outbox[-1].body).group()  # type: ignore[union-attr]
    path = link.split("8000", 1)[1]
    visitor = Client()
    form_page = visitor.get(path, follow=True)
    assert b"Set your password" in form_page.content
    form_url = form_page.redirect_chain[-1][0]
    weak = visitor.post(form_url, {"new_password1": "password", "new_password2": "password"})
    assert b"too common" in weak.content or b"too short" in weak.content
    done = visitor.post(
        form_url, {"new_password1": "a sturdy passphrase 42", "new_password2": "a sturdy passphrase 42"}
    )
    assert done.status_code == 302
    assert (
        Client().post("/login/", {"username": "dana@alpha.test", "password": "a sturdy passphrase 42"}).status_code
        == 302
    )
    again = Client().get(path, follow=True)
    assert b"cannot be used" in again.content  # single use
    with alice.scope():
        assert user_rights(user=dana) == frozenset({"crm"})
        assert AuditEntry.objects.filter(object_type="accounts.user", object_id=str(dana.pk), action="create").exists()


def test_invite_rejects_a_taken_address_without_saying_whose(alice: Persona, charlie: Persona) -> None:
    response = alice.client().post("/settings/users/", {"email": charlie.user.email, "full_name": "X", "role": "staff"})
    assert response.status_code == 200 and b"cannot be invited" in response.content


def test_rights_change_is_saved_and_audited(alice: Persona, bob: Persona) -> None:
    response = alice.client().post(
        f"/settings/users/{bob.user.pk}/",
        {"role": "staff", "is_active": "on", "rights": ["crm", "onboarding"], "scope": "all"},
    )
    assert response.status_code == 302
    with alice.scope():
        assert user_rights(user=User.objects.get(pk=bob.user.pk)) == frozenset({"crm", "onboarding"})
        assert AuditEntry.objects.filter(object_type="accounts.accessgrant", action="create").exists()


def test_disabling_ends_sessions_and_tokens(alice: Persona, bob: Persona) -> None:
    _, raw = api_token_create(user=bob.user, name="t")
    bobs_browser = bob.client()
    alice.client().post(f"/settings/users/{bob.user.pk}/", {"role": "staff", "rights": ["crm"], "scope": "all"})
    with bob.scope():
        assert not User.objects.get(pk=bob.user.pk).is_active
    assert bobs_browser.get("/contacts/").status_code == 302
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    assert client.get("/api/v1/me/").status_code == 401


def test_officer_cannot_lock_themselves_out(alice: Persona) -> None:
    response = alice.client().post(
        f"/settings/users/{alice.user.pk}/", {"role": "primary", "rights": ["crm"], "scope": "all"}
    )
    assert response.status_code == 200 and b"cannot disable yourself" in response.content


def test_reset_two_factor(alice: Persona, bob: Persona, charlie: Persona) -> None:
    bobs_browser = bob.client()  # enrols Bob's authenticator
    assert charlie.client().post(f"/settings/users/{bob.user.pk}/reset-two-factor/").status_code == 404
    assert two_factor.has_two_factor(bob.user)
    assert alice.client().post(f"/settings/users/{bob.user.pk}/reset-two-factor/").status_code == 302
    assert not two_factor.has_two_factor(bob.user)
    assert bobs_browser.get("/contacts/").status_code == 302


def test_staff_and_outsiders_cannot_manage_users(alice: Persona, bob: Persona, charlie: Persona) -> None:
    assert bob.client().get("/settings/users/").status_code == 403
    assert charlie.client().get(f"/settings/users/{alice.user.pk}/").status_code == 404
    assert b"alice@alpha.test" not in charlie.client().get("/settings/users/").content
