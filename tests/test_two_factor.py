"""Two-factor authentication: enrolment, verification, reuse, backup codes, policy and step-up."""

from __future__ import annotations

import re
import time

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import two_factor
from accounts.models import AuditEntry, TwoFactorPolicy
from tests.conftest import Persona

pytestmark = pytest.mark.django_db


def code_for(device: TOTPDevice, offset: int = 0) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=offset):06d}"


def password_login(persona: Persona) -> Client:
    client = Client()
    response = client.post("/login/", {"username": persona.user.email, "password": persona.password})
    assert response.status_code == 302
    return client


def enrolled(persona: Persona) -> tuple[TOTPDevice, list[str]]:
    codes = two_factor.enrol_with_secret(persona.user, b"0123456789abcdefghij")
    return TOTPDevice.objects.get(user=persona.user), codes


def test_primary_user_must_enrol_before_anything_else(alice: Persona) -> None:
    client = password_login(alice)
    response = client.get("/contacts/")
    assert response.status_code == 302 and response["Location"].startswith("/settings/two-factor/?next=%2Fcontacts%2F")
    assert client.get("/api/v1/contacts/").status_code == 403  # the session API is held back too


def test_enrolment_confirms_with_a_code_and_shows_backup_codes_once(alice: Persona) -> None:
    client = password_login(alice)
    page = client.get("/settings/two-factor/")
    assert page.status_code == 200 and b"data:image/svg+xml" in page.content
    device = TOTPDevice.objects.get(user=alice.user, confirmed=False)
    wrong = client.post("/settings/two-factor/", {"code": "000000"})
    assert b"does not match" in wrong.content
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0, throttling_failure_timestamp=None)
    done = client.post("/settings/two-factor/", {"code": code_for(device), "next": "/contacts/"})
    codes = re.findall(rb"<code>([0-9a-f]{10})</code>", done.content)
    assert len(codes) == 10
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    assert client.get("/contacts/").status_code == 200
    with alice.scope():
        assert AuditEntry.objects.filter(object_id=str(alice.user.pk), changes__two_factor=["off", "on"]).exists()


def test_next_session_must_verify_and_a_code_cannot_be_reused(alice: Persona) -> None:
    device, _ = enrolled(alice)
    client = password_login(alice)
    response = client.get("/")
    assert response["Location"].startswith("/login/verify/")
    code = code_for(device)
    assert client.post("/login/verify/", {"code": "123 456"}).status_code == 200  # wrong: stays
    # django-otp slows down repeated failures; let the throttle lapse instead of sleeping in real time.
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0, throttling_failure_timestamp=None)
    assert client.post("/login/verify/", {"code": code, "next": "/contacts/"})["Location"] == "/contacts/"
    assert client.get("/contacts/").status_code == 200
    other = password_login(alice)
    replay = other.post("/login/verify/", {"code": code})
    assert replay.status_code == 200 and b"already used" in replay.content
    assert other.get("/").status_code == 302


def test_backup_code_works_once(alice: Persona) -> None:
    _, codes = enrolled(alice)
    first = password_login(alice)
    assert first.post("/login/verify/", {"code": codes[0]}).status_code == 302
    second = password_login(alice)
    assert second.post("/login/verify/", {"code": codes[0]}).status_code == 200


def test_verify_refuses_an_offsite_next(alice: Persona) -> None:
    device, _ = enrolled(alice)
    client = password_login(alice)
    response = client.post("/login/verify/", {"code": code_for(device), "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_new_firms_require_2fa_of_everyone_and_may_relax_it(bob: Persona) -> None:
    assert bob.firm.two_factor_policy == TwoFactorPolicy.EVERYONE
    assert password_login(bob).get("/contacts/")["Location"].startswith("/settings/two-factor/")
    bob.firm.two_factor_policy = TwoFactorPolicy.OFFICERS
    bob.firm.save()
    assert password_login(bob).get("/contacts/").status_code == 200


def test_api_tokens_are_not_held_back_by_the_session_step(alice: Persona) -> None:
    enrolled(alice)
    assert alice.api().get("/api/v1/contacts/").status_code == 200


def test_exports_need_a_recent_verification(alice: Persona) -> None:
    device, _ = enrolled(alice)
    client = password_login(alice)
    client.post("/login/verify/", {"code": code_for(device)})
    assert client.get("/settings/audit.csv").status_code == 200
    session = client.session
    session[two_factor.VERIFIED_AT] = time.time() - 3600
    session.save()
    stale = client.get("/settings/audit.csv")
    assert stale.status_code == 302 and "step_up=1" in stale["Location"]
    page = client.get(stale["Location"])
    assert b"Confirm it" in page.content
    assert client.post(stale["Location"], {"code": code_for(device, offset=1)}).status_code == 302
    assert client.get("/settings/audit.csv").status_code == 200


def test_layout_offers_no_navigation_until_the_second_factor(alice: Persona) -> None:
    enrolled(alice)
    client = password_login(alice)
    page = client.get("/login/verify/").content.decode()
    assert 'href="/contacts/"' not in page and "Sign out" in page


def test_backup_code_sign_ins_do_not_throttle_the_authenticator_app(alice: Persona) -> None:
    """Each backup code used to count as a failed attempt of the app's device, which then refused
    the right code for a growing while."""
    codes = two_factor.enrol_with_secret(alice.user, b"0123456789abcdefghij")
    for code in codes[:4]:
        client = Client()
        client.force_login(alice.user)
        assert client.post("/login/verify/", {"code": code}).status_code == 302
    device = TOTPDevice.objects.get(user=alice.user, confirmed=True)
    assert device.throttling_failure_count == 0
    client = Client()
    client.force_login(alice.user)
    assert client.post("/login/verify/", {"code": f"{totp(device.bin_key):06d}"}).status_code == 302
