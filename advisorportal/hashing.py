"""Content fingerprints: one canonical JSON and one SHA-256 for everything that must recognise
"the same content" later — what an emailed link approves (``advisorportal.links``), the payload
an idempotency key was first used with (``advisorportal.idempotency``), a rendered PDF
(``advisorportal.pdf.content_hash``).

The canonical form is JSON with sorted keys, no whitespace and UTF-8 text, so the same values
give the same bytes whatever the order they were built in. Values are taken as they are, not
normalised: ``Decimal("10.0")`` and ``Decimal("10.00")`` differ, as "10.0" and "10.00" differ in
a request body. Types JSON has no notation for are spelled as text (``Decimal``, dates, times,
UUIDs); anything else is refused rather than guessed at through ``str()``.
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import json
import uuid
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, datetime.date | datetime.datetime | datetime.time):
        return value.isoformat()
    if isinstance(value, tuple | set | frozenset):
        return sorted(value, key=repr) if not isinstance(value, tuple) else list(value)
    raise TypeError(f"{type(value).__name__} has no canonical JSON form; pass its fields instead.")


def canonical_json(value: Any) -> bytes:
    """``value`` as canonical JSON bytes (sorted keys, no whitespace, UTF-8)."""
    return json.dumps(
        value, default=_default, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data`` as 64 lowercase hex digits."""
    return hashlib.sha256(data).hexdigest()


def fingerprint(value: Any) -> str:
    """The SHA-256 of ``value``'s canonical JSON: equal for equal content, whatever the key order."""
    return sha256_hex(canonical_json(value))
