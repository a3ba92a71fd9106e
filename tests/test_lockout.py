"""Sign-in lockout by email and address together, a higher limit per address alone, and the
proxy setting checked against the traffic (issue #14, point 5)."""

from __future__ import annotations

import logging

import pytest
from axes.models import AccessAttempt
from django.test import Client, override_settings

from advisorportal import client_address
from tests.conftest import Persona

pytestmark = pytest.mark.django_db

OFFICE = "203.0.113.50"


def attempt(email: str, password: str, ip: str = OFFICE, **headers: str) -> int:
    return Client(REMOTE_ADDR=ip, **headers).post("/login/", {"username": email, "password": password}).status_code


@override_settings(AXES_FAILURE_LIMIT=10, LOGIN_ADDRESS_FAILURE_LIMIT=100)
def test_one_firms_failures_do_not_lock_out_another_firms_user_at_the_same_address(
    alice: Persona, charlie: Persona
) -> None:
    """The probe's reproduction: 10 failures for a firm A user, then firm B's user from the same address."""
    statuses = [attempt(alice.user.email, "wrong") for _ in range(10)]
    assert statuses[-1] == 429  # alice is locked out from this address
    assert attempt(charlie.user.email, charlie.password) == 302
    assert attempt(alice.user.email, alice.password) == 429
    assert attempt(alice.user.email, alice.password, ip="198.51.100.8") == 302  # her own office is not locked


@override_settings(AXES_FAILURE_LIMIT=3, LOGIN_ADDRESS_FAILURE_LIMIT=6)
def test_an_address_guessing_across_many_emails_is_locked_out_at_the_higher_limit(charlie: Persona) -> None:
    statuses = [attempt(f"guess{n}@x.test", "wrong") for n in range(6)]
    assert statuses == [200, 200, 200, 200, 200, 429]  # no email reached 3; the address reached 6
    assert attempt(charlie.user.email, charlie.password) == 429
    assert attempt(charlie.user.email, charlie.password, ip="198.51.100.9") == 302


@pytest.fixture
def fresh_report(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_address, "_problem", None)


@override_settings(TRUSTED_PROXY_COUNT=0)
def test_forwarded_requests_with_no_proxy_counted_are_reported_once_and_on_health(
    fresh_report: None, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client(REMOTE_ADDR="10.0.0.2")
    assert client.get("/health").json()["proxy"] == "ok"
    with caplog.at_level(logging.ERROR, logger="advisorportal.client_address"):
        client.get("/login/", HTTP_X_FORWARDED_FOR="198.51.100.20")
        client.get("/login/", HTTP_X_FORWARDED_FOR="198.51.100.21")
    errors = [r for r in caplog.records if r.name == "advisorportal.client_address"]
    assert len(errors) == 1 and "TRUSTED_PROXY_COUNT is 0" in errors[0].getMessage()
    health = client.get("/health").json()
    assert "TRUSTED_PROXY_COUNT is 0" in health["proxy"] and health["status"] == "ok"


@override_settings(TRUSTED_PROXY_COUNT=2)
def test_fewer_forwarded_hops_than_counted_are_reported(fresh_report: None) -> None:
    Client(REMOTE_ADDR="10.0.0.2").get("/login/", HTTP_X_FORWARDED_FOR="198.51.100.20")
    assert "through 1 proxies" in Client().get("/health").json()["proxy"]


@override_settings(TRUSTED_PROXY_COUNT=1, AXES_FAILURE_LIMIT=3)
def test_behind_a_counted_proxy_each_client_has_its_own_address(
    fresh_report: None, alice: Persona, bob: Persona
) -> None:
    proxy = {"ip": "10.0.0.2"}
    for _ in range(3):  # the left entry is the client's own claim and is not believed
        attempt(alice.user.email, "wrong", **proxy, HTTP_X_FORWARDED_FOR="1.1.1.1, 198.51.100.30")
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.30"}
    assert attempt(alice.user.email, alice.password, **proxy, HTTP_X_FORWARDED_FOR="198.51.100.30") == 429
    assert attempt(alice.user.email, alice.password, **proxy, HTTP_X_FORWARDED_FOR="198.51.100.31") == 302
    assert client_address.proxy_problem() is None
