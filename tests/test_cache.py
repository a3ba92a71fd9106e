"""The Redis cache class (``advisorportal.cache``) against the real Redis: every operation the
product uses works through it, and it builds one ``redis.Redis`` per connection pool. It leans on
two private parts of Django's Redis client (``_get_connection_pool``, ``_client``); a Django
upgrade that changes them makes this test fail, not the site."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.core.cache import cache, caches
from django.db import connections

from advisorportal.cache import RedisCache, make_key


@pytest.fixture
def key() -> Iterator[str]:
    name = f"test-cache-{uuid.uuid4().hex}"
    yield name
    cache.delete_many([name, f"{name}-a", f"{name}-b", f"{name}-n"])


@pytest.fixture
def constructed(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Each ``redis.Redis`` built from now on."""
    built: list[Any] = []
    original = redis.Redis.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "__init__", counting)
    return built


def test_the_default_cache_is_ours() -> None:
    assert isinstance(caches["default"], RedisCache)


def test_every_operation_works_against_redis(key: str) -> None:
    assert cache.get(key) is None and cache.get(key, "default") == "default"
    cache.set(key, {"n": 1, "text": "é"}, timeout=60)
    assert cache.get(key) == {"n": 1, "text": "é"}
    assert cache.add(key, "other") is False and cache.get(key) == {"n": 1, "text": "é"}
    assert cache.touch(key, 120) is True
    cache.set_many({f"{key}-a": 1, f"{key}-b": "two"}, timeout=60)
    assert cache.get_many([f"{key}-a", f"{key}-b", f"{key}-missing"]) == {f"{key}-a": 1, f"{key}-b": "two"}
    cache.set(f"{key}-n", 5)
    assert cache.incr(f"{key}-n") == 6 and cache.decr(f"{key}-n", 2) == 4
    with pytest.raises(ValueError):
        cache.incr(f"{key}-missing")
    assert cache.delete(key) is True and cache.get(key) is None
    cache.delete_many([f"{key}-a", f"{key}-b"])
    assert cache.get_many([f"{key}-a", f"{key}-b"]) == {}
    assert cache.has_key(f"{key}-n") and not cache.has_key(key)


def test_keys_carry_the_database_name(key: str) -> None:
    cache.set(key, "x", timeout=60)
    stored = cache.make_key(key)
    assert stored == make_key(key, cache.key_prefix, cache.version)
    assert f":{connections['default'].settings_dict['NAME']}:" in stored
    raw = redis.Redis.from_url(caches["default"]._servers[0])  # type: ignore[attr-defined]
    assert raw.exists(stored) == 1
    raw.close()


def test_one_client_per_pool_is_reused(key: str, constructed: list[Any]) -> None:
    ours = caches["default"]._cache  # type: ignore[attr-defined]
    first = ours.get_client(key, write=True)
    assert ours.get_client(key) is first and ours.get_client(key, write=True) is first  # one server: one pool
    assert first.connection_pool is ours._get_connection_pool(True)
    before = len(constructed)
    for n in range(20):
        cache.set(f"{key}-n", n)
        cache.get(f"{key}-n")
        cache.incr(f"{key}-n")
        cache.get_many([key, f"{key}-n"])
        cache.delete(key)
    assert len(constructed) == before  # Django's own client would have built one per call: 100 here
