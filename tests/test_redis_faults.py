"""Redis frozen (SIGSTOP) and Redis down (killed), with PostgreSQL fine (issue #14, point 4).

Each test runs its own redis-server on a free port (never the shared one) and points both caches
at it. Signed-in pages and API calls must answer promptly: 200 where the database suffices (the
session is read from PostgreSQL, the API rate limits let the call through), otherwise the short
"try again" answer (503), never a 500 or a hang. The time bound below is a hang detector, far
above what an answer takes (the cache timeouts are half a second), not a performance assertion."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from django.conf import settings
from django.core.cache import caches
from django.test import Client, override_settings

from advisorportal import cache as cache_module
from tests.conftest import Persona

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary"),
]

HANG = 20.0  # seconds: an answer slower than this is a hang


class OwnRedis:
    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                if redis.Redis.from_url(self.url, socket_timeout=0.2).ping():
                    return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def freeze(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.kill()


@pytest.fixture
def own_redis(monkeypatch: pytest.MonkeyPatch) -> Iterator[OwnRedis]:
    server = OwnRedis()
    monkeypatch.setattr(cache_module, "_unavailable_until", {})
    pointed = {alias: {**config, "LOCATION": server.url} for alias, config in settings.CACHES.items()}
    try:
        with override_settings(CACHES=pointed):
            yield server
    finally:
        server.stop()


def timed(call: Callable[[], Any]) -> Any:
    started = time.monotonic()
    response = call()
    assert time.monotonic() - started < HANG, "the request hung"
    return response


def assert_answers_while_redis_is_unavailable(alice: Persona, browser: Client) -> None:
    page = timed(lambda: browser.get("/settings/"))
    assert page.status_code == 200, "the session comes from PostgreSQL"
    assert alice.user.email.encode() in page.content
    api = timed(lambda: browser.get("/api/v1/me/"))
    assert api.status_code == 200 and api.json()["email"] == alice.user.email
    token = timed(lambda: alice.api().get("/api/v1/me/"))
    assert token.status_code == 200, "the API rate limits let the call through"

    assert timed(lambda: browser.get("/")).status_code == 200, "the dashboard's page reads no panel"
    needs_cache = timed(lambda: browser.get("/dashboard/panels/contacts/"))  # its contact counts are cached
    assert needs_cache.status_code == 503 and b"Please try again" in needs_cache.content
    assert alice.user.email.encode() not in needs_cache.content and needs_cache["Retry-After"]
    api_needs_cache = timed(lambda: browser.get("/api/v1/contact-merges/duplicates/"))
    assert api_needs_cache.status_code == 503
    assert api_needs_cache.json()["error"]["code"] == "unavailable"


def test_with_redis_frozen_signed_in_requests_answer_promptly(own_redis: OwnRedis, alice: Persona) -> None:
    browser = alice.client()  # the session is in Redis and PostgreSQL
    assert caches[settings.SESSION_CACHE_ALIAS].get(f"django.contrib.sessions.cached_db{browser.session.session_key}")
    assert browser.get("/").status_code == 200
    own_redis.freeze()
    assert_answers_while_redis_is_unavailable(alice, browser)


def test_with_redis_down_signed_in_requests_answer_promptly(own_redis: OwnRedis, alice: Persona) -> None:
    browser = alice.client()
    assert browser.get("/").status_code == 200
    own_redis.kill()
    assert_answers_while_redis_is_unavailable(alice, browser)


def test_sessions_work_again_when_redis_is_back(own_redis: OwnRedis, alice: Persona) -> None:
    browser = alice.client()
    own_redis.freeze()
    assert timed(lambda: browser.get("/settings/")).status_code == 200
    os.kill(own_redis.process.pid, signal.SIGCONT)
    cache_module._unavailable_until.clear()  # instead of waiting REDIS_RETRY_SECONDS
    assert browser.get("/").status_code == 200
    assert browser.get("/settings/").status_code == 200
