"""The API's rate limits, kept in Redis through the ``best_effort`` cache.

While Redis is unavailable they let requests through (fail open): they protect capacity against
a runaway script, not secrets. Token secrets are too long to guess and sign-in throttling is
django-axes in PostgreSQL, which keeps counting. Failing closed would turn a Redis outage into an
API outage, and waiting on Redis would hang every call (issue #14)."""

from __future__ import annotations

from typing import cast

from django.core.cache import BaseCache, caches
from django.utils.connection import ConnectionProxy
from rest_framework import throttling

# Looked up on each use, as DRF's own default: each thread has its cache connections.
_cache = cast(BaseCache, ConnectionProxy(caches, "best_effort"))


class AnonRateThrottle(throttling.AnonRateThrottle):
    cache = _cache


class UserRateThrottle(throttling.UserRateThrottle):
    cache = _cache
