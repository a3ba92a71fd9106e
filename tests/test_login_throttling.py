"""Sign-in throttling: per account and client address, without revealing whether an email exists
(the per-address limit and cross-firm cases: tests/test_lockout.py)."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from tests.conftest import Persona

pytestmark = pytest.mark.django_db


def attempt(email: str, password: str, ip: str = "203.0.113.7") -> int:
    return Client(REMOTE_ADDR=ip).post("/login/", {"username": email, "password": password}).status_code


@override_settings(AXES_FAILURE_LIMIT=3)
def test_account_is_locked_after_repeated_failures_even_with_the_right_password(alice: Persona) -> None:
    for _ in range(3):
        attempt(alice.user.email.upper(), "wrong", ip="198.51.100.1")  # case does not evade the count
    assert attempt(alice.user.email, alice.password, ip="198.51.100.1") == 429


@override_settings(AXES_FAILURE_LIMIT=3)
def test_unknown_and_known_emails_lock_the_same_way(alice: Persona) -> None:
    for email in (alice.user.email, "nobody@alpha.test"):
        statuses = [attempt(email, "wrong", ip="192.0.2.1") for _ in range(4)]
        assert statuses == [200, 200, 429, 429], email


@override_settings(AXES_FAILURE_LIMIT=3, LOGIN_ADDRESS_FAILURE_LIMIT=3)
def test_one_address_is_locked_across_accounts(alice: Persona, bob: Persona) -> None:
    for email in ("a@x.test", "b@x.test", "c@x.test"):
        attempt(email, "wrong", ip="203.0.113.50")
    assert attempt(bob.user.email, bob.password, ip="203.0.113.50") == 429
    assert attempt(bob.user.email, bob.password, ip="203.0.113.51") == 302


@override_settings(AXES_FAILURE_LIMIT=3)
def test_success_resets_the_count(alice: Persona) -> None:
    attempt(alice.user.email, "wrong")
    attempt(alice.user.email, "wrong")
    assert attempt(alice.user.email, alice.password) == 302
    attempt(alice.user.email, "wrong")
    attempt(alice.user.email, "wrong")
    assert attempt(alice.user.email, alice.password) == 302


def test_lockout_page_says_what_happened(alice: Persona) -> None:
    with override_settings(AXES_FAILURE_LIMIT=3):
        for _ in range(3):
            attempt(alice.user.email, "wrong")
        page = Client(REMOTE_ADDR="203.0.113.7").post("/login/", {"username": alice.user.email, "password": "x"})
    assert page.status_code == 429 and b"Too many sign-in attempts" in page.content


def test_settings_shows_the_users_own_sign_in_history(alice: Persona, bob: Persona) -> None:
    attempt(alice.user.email, "wrong", ip="198.51.100.23")
    attempt(bob.user.email, bob.password, ip="198.51.100.77")
    client = Client(REMOTE_ADDR="198.51.100.24", HTTP_USER_AGENT="Safari/18")
    client.post("/login/", {"username": alice.user.email, "password": alice.password})
    page = alice.pass_two_factor(client).get("/settings/").content.decode()
    assert "198.51.100.23" in page and "Failed" in page and "198.51.100.24" in page and "Safari/18" in page
    assert "198.51.100.77" not in page
