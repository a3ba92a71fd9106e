"""The per-firm sending rate: a counter per firm and minute in Redis (the ``best_effort`` cache).
With Redis unavailable the limit lets mail through (fail open, logged by the cache) rather than
holding every message: short timeouts, never a hang."""

from __future__ import annotations

import time
from typing import cast

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.utils.connection import ConnectionProxy

_cache = cast(BaseCache, ConnectionProxy(caches, "best_effort"))


def wait_seconds(firm_id: int, *, now: float | None = None) -> float:
    """Take one message from the firm's allowance for this minute: 0 if it may go now, else the
    seconds until the next minute starts (the message is then not counted)."""
    limit = int(settings.MAIL_RATE_PER_MINUTE)
    if limit <= 0:
        return 0.0
    now = time.time() if now is None else now
    minute = int(now // 60)
    key = f"mail-rate:{firm_id}:{minute}"
    _cache.add(key, 0, 120)
    try:
        count = _cache.incr(key)
    except ValueError:  # the key vanished between add and incr
        return 0.0
    if count is None or count <= limit:  # None: Redis unavailable
        return 0.0
    return (minute + 1) * 60 - now


def take(firm_id: int, wanted: int, *, now: float | None = None) -> tuple[int, float]:
    """Take up to ``wanted`` messages from the firm's allowance for this minute at once (a bulk
    email's batch): how many may go now, and, when that is fewer, the seconds until the next minute
    starts. One counter with ``wait_seconds``, so single and bulk emails share the limit."""
    limit = int(settings.MAIL_RATE_PER_MINUTE)
    if limit <= 0 or wanted <= 0:
        return max(wanted, 0), 0.0
    now = time.time() if now is None else now
    minute = int(now // 60)
    key = f"mail-rate:{firm_id}:{minute}"
    _cache.add(key, 0, 120)
    try:
        count = _cache.incr(key, wanted)
    except ValueError:  # the key vanished between add and incr
        return wanted, 0.0
    if count is None:  # Redis unavailable: fail open
        return wanted, 0.0
    granted = max(0, min(wanted, limit - (count - wanted)))
    if granted < wanted:
        _cache.decr(key, wanted - granted)  # what is not sent now is not counted
    return granted, (0.0 if granted == wanted else (minute + 1) * 60 - now)
