"""The session key changes when the second factor is verified (at sign-in and at enrolment): a key
known from before that step gives no access afterwards. The data and the session list follow."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import two_factor
from accounts.models import UserSession
from tests.conftest import Persona
from tests.test_two_factor import code_for, password_login

pytestmark = pytest.mark.django_db


def with_key(key: str) -> Client:
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = key
    return client


def assert_rekeyed(persona: Persona, client: Client, old_key: str) -> None:
    new_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert new_key != old_key
    assert client.session[two_factor.VERIFIED_AT]  # the session's data came along
    assert client.get("/settings/").status_code == 200
    assert UserSession.objects.filter(session_key=new_key, user=persona.user, ended_at__isnull=True).exists()
    assert not UserSession.objects.filter(session_key=old_key).exists()
    stale = with_key(old_key).get("/settings/")
    assert stale.status_code == 302 and stale["Location"].startswith("/login/")


def test_verifying_the_second_factor_at_sign_in_gives_a_new_session_key(alice: Persona) -> None:
    two_factor.enrol_with_secret(alice.user, b"0123456789abcdefghij")
    device = TOTPDevice.objects.get(user=alice.user)
    client = password_login(alice)
    old_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.post("/login/verify/", {"code": code_for(device)}).status_code == 302
    assert_rekeyed(alice, client, old_key)


def test_enrolling_gives_a_new_session_key(alice: Persona) -> None:
    client = password_login(alice)
    old_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    client.get("/settings/two-factor/")
    device = TOTPDevice.objects.get(user=alice.user, confirmed=False)
    assert client.post("/settings/two-factor/", {"code": code_for(device)}).status_code == 200
    assert_rekeyed(alice, client, old_key)
