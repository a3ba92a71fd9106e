"""Cache keys carry the database name, so deployments (and parallel test databases) that share a
Redis never read each other's entries, even where their firms have the same ids.

Redis can stall or go away while PostgreSQL is fine. Every connection has short connect and read
timeouts (settings ``REDIS_TIMEOUT_SECONDS``), and after a failure the process treats Redis as
unavailable for ``REDIS_RETRY_SECONDS`` instead of waiting on it again for every call. What a
failure means depends on the cache:

* ``OPTIONS["IGNORE_EXCEPTIONS"]`` (like django-redis's): the error is logged and the call answers
  as a miss (reads give the default, writes are dropped). For the ``sessions`` alias (their rows
  are in PostgreSQL: ``cached_db`` reads the database on a miss) and the API rate limits (which
  then let requests through, see ``advisorportal.throttling``).
* otherwise the error is raised (at once while Redis is marked unavailable) and the request
  answers 503 (``advisorportal.unavailable``). The default cache is that kind: its users keep
  generation counters next to cached values, and a silently dropped bump would serve stale counts
  after Redis comes back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import redis
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.db import connections

logger = logging.getLogger(__name__)

REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)

# Servers (by their URLs) that failed, and until when (time.monotonic()) they are not tried.
_unavailable_until: dict[tuple[str, ...], float] = {}


def make_key(key: str, key_prefix: str, version: int) -> str:
    database = connections["default"].settings_dict["NAME"]
    return f"{key_prefix}:{database}:{version}:{key}"


class _RedisClientReused(RedisCacheClient):
    """Django's client builds a new ``redis.Redis`` for every cache call (its constructor fills a
    table of ~170 response callbacks: about 0.2 ms, five times per page). A ``Redis`` over a
    connection pool is safe to share, so one is kept per pool."""

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        # Both are private to Django's client and missing from its type stubs.
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        clients: dict[int, Any] = self.__dict__.setdefault("_reused", {})
        client = clients.get(id(pool))
        if client is None:
            client = clients[id(pool)] = self._client(connection_pool=pool)  # type: ignore[attr-defined]
        return client


def _guarded(name: str, miss: Callable[..., Any]) -> Callable[..., Any]:
    def method(self: RedisCache, *args: Any, **kwargs: Any) -> Any:
        servers = tuple(self._servers)  # type: ignore[attr-defined]  # Django's, missing from its stubs
        if time.monotonic() < _unavailable_until.get(servers, 0.0):
            if self.ignore_exceptions:
                return miss(*args, **kwargs)
            raise redis.exceptions.ConnectionError("Redis is unavailable (retried after a pause)")
        try:
            return getattr(DjangoRedisCache, name)(self, *args, **kwargs)
        except REDIS_ERRORS as error:
            if servers not in _unavailable_until or time.monotonic() >= _unavailable_until[servers]:
                logger.warning("Redis cache unavailable (%s); %s", error,
                               "answering as a miss" if self.ignore_exceptions else "refusing")  # fmt: skip
            _unavailable_until[servers] = time.monotonic() + self.retry_seconds
            if self.ignore_exceptions:
                return miss(*args, **kwargs)
            raise

    method.__name__ = name
    return method


def _default(key: Any, default: Any = None, *args: Any, **kwargs: Any) -> Any:
    return default


class RedisCache(DjangoRedisCache):
    """Django's Redis cache with its clients reused (see ``_RedisClientReused``), short timeouts
    and the failure rules above."""

    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        options = dict(params.get("OPTIONS", {}))
        self.ignore_exceptions = bool(options.pop("IGNORE_EXCEPTIONS", False))
        self.retry_seconds = float(options.pop("RETRY_SECONDS", 5.0))
        super().__init__(server, {**params, "OPTIONS": options})
        self._class = _RedisClientReused

    get = _guarded("get", _default)
    get_many = _guarded("get_many", lambda *args, **kwargs: {})
    has_key = _guarded("has_key", lambda *args, **kwargs: False)
    set = _guarded("set", lambda *args, **kwargs: None)
    add = _guarded("add", lambda *args, **kwargs: False)
    touch = _guarded("touch", lambda *args, **kwargs: False)
    set_many = _guarded("set_many", lambda *args, **kwargs: [])
    delete = _guarded("delete", lambda *args, **kwargs: False)
    delete_many = _guarded("delete_many", lambda *args, **kwargs: None)
    incr = _guarded("incr", lambda *args, **kwargs: None)
    clear = _guarded("clear", lambda *args, **kwargs: False)
