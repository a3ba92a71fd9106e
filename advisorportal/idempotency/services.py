"""Run an operation once per key: ``idempotent`` for services, ``idempotent_view`` (api.py) for DRF."""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from rest_framework import exceptions, status

from advisorportal.hashing import fingerprint
from advisorportal.idempotency.models import KEY_MAX_LENGTH, IdempotencyKey
from advisorportal.tenancy.context import require_firm_id

_KEY = re.compile(rf"[\x21-\x7e]{{1,{KEY_MAX_LENGTH}}}")  # visible ASCII, as in an HTTP header


class IdempotencyKeyInvalid(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "idempotency_key_invalid"


class IdempotencyKeyReused(exceptions.APIException):
    """The key was first used with another payload: nothing is run, the first result is kept."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"


class IdempotencyKeyInProgress(exceptions.APIException):
    """The key's first use is in this very transaction, or committed without a result."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_key_in_progress"


@dataclass
class Attempt:
    """One use of a key: ``replayed`` says whether the operation already ran (then ``body`` and
    ``status`` are its stored result); otherwise run it and ``store`` its result."""

    record: IdempotencyKey
    replayed: bool
    finished: bool = field(default=False, repr=False)

    @property
    def body(self) -> Any:
        return self.record.response_body

    @property
    def status(self) -> int | None:
        return self.record.response_status

    def store(self, body: Any, *, status: int | None = None) -> None:
        """Keep ``body`` (JSON: ids, not objects) as the result every retry gets."""
        if self.replayed or self.finished:
            raise RuntimeError("This attempt already has its result.")
        now = timezone.now()
        IdempotencyKey.objects.filter(pk=self.record.pk).update(
            response_status=status, response_body=body, completed_at=now
        )
        self.record.response_status, self.record.response_body, self.record.completed_at = status, body, now
        self.finished = True

    def discard(self) -> None:
        """Free the key: the operation did not happen (e.g. it answered with an error), and a
        retry with the same key runs it again."""
        if self.replayed or self.finished:
            raise RuntimeError("This attempt already has its result.")
        IdempotencyKey.objects.filter(pk=self.record.pk).delete()
        self.finished = True


def check_key(key: str, *, name: str = "idempotency key") -> str:
    if not _KEY.fullmatch(key):
        raise IdempotencyKeyInvalid(
            f"The {name} must be 1 to {KEY_MAX_LENGTH} visible ASCII characters (a UUID is a good choice)."
        )
    return key


@contextmanager
def idempotent(
    *, scope: str, key: str, payload: Any, actor: Any = None, name: str = "idempotency key"
) -> Iterator[Attempt]:
    """Run the block once per ``(firm, scope, key)``, in one transaction with the key.

        with idempotent(scope="funding.withdrawal_create", key=key, payload=data, actor=user) as attempt:
            if attempt.replayed:
                return FundingRequest.objects.get(pk=attempt.body["id"])
            request = ...  # the side effect
            attempt.store({"id": request.pk})

    The first use inserts the key (``INSERT … ON CONFLICT DO NOTHING``) in the block's
    transaction; a concurrent use of the same key waits on that row until the first commits
    (then it replays the stored result) or rolls back (then it runs the block itself), so the
    block runs exactly once. The same key with another ``payload`` (compared by the SHA-256 of its
    canonical JSON) raises ``IdempotencyKeyReused`` and runs nothing; ``name`` says how the key
    was given, for that message. The block must ``store`` or ``discard``; an exception rolls back
    the key with everything else, so a retry runs again.
    """
    check_key(key, name=name)
    digest = fingerprint(payload)
    with transaction.atomic():
        row_id = _insert(scope=scope, key=key, digest=digest, actor_id=getattr(actor, "pk", None))
        if row_id is None:
            first = IdempotencyKey.objects.get(scope=scope, key=key)
            if not hmac.compare_digest(first.fingerprint, digest):
                raise IdempotencyKeyReused(
                    f"The {name} {key!r} was already used with a different request. "
                    "Send a new key for a new request, or the same request to get its first result."
                )
            if first.completed_at is None:
                raise IdempotencyKeyInProgress(f"The request with the {name} {key!r} is still being processed.")
            yield Attempt(first, replayed=True)
            return
        record = IdempotencyKey(pk=row_id, scope=scope, key=key, fingerprint=digest, firm_id=require_firm_id())
        attempt = Attempt(record, replayed=False)
        yield attempt
        if not attempt.finished:
            raise RuntimeError(f"{scope}: an idempotent operation must store() its result or discard() the key.")


def _insert(*, scope: str, key: str, digest: str, actor_id: int | None) -> int | None:
    """The new key's id, or None if the firm already has ``(scope, key)`` (waiting, as the unique
    index does, for a transaction that is inserting the same key to end)."""
    table = connection.ops.quote_name(IdempotencyKey._meta.db_table)
    # The table name comes from model metadata and is quoted; every value is a parameter.
    sql = (
        f'INSERT INTO {table} ("firm_id", "scope", "key", "fingerprint", "created_by_id", "created_at") '  # noqa: S608
        "VALUES (%s, %s, %s, %s, %s, statement_timestamp()) "
        'ON CONFLICT ("firm_id", "scope", "key") DO NOTHING RETURNING "id"'
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [require_firm_id(), scope, key, digest, actor_id])
        row = cursor.fetchone()
    return None if row is None else int(row[0])


# --- Many keys at once ----------------------------------------------------------------------------


@dataclass
class Claim:
    """One key of ``claim_many``: new (run its operation, then ``store_many`` or ``discard_many``),
    ``replayed`` (``body`` is its first result) or ``refused`` (what ``idempotent`` would raise)."""

    key: str
    replayed: bool = False
    body: Any = None
    refused: exceptions.APIException | None = None


def claim_many(
    *, scope: str, payloads: dict[str, Any], actor: Any = None, name: str = "idempotency key"
) -> dict[str, Claim]:
    """``idempotent`` for many keys in the caller's transaction, in two statements however many
    keys (a fee run's chunk of 250 fees): each new key is inserted (``ON CONFLICT DO NOTHING``, so
    a concurrent writer of the same key waits, as with one key), each key already stored is
    compared by its payload's fingerprint. The caller runs the new ones and stores their results
    (``store_many``) or frees the keys of those that did not happen (``discard_many``)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("claim_many runs in the caller's transaction.")
    claims: dict[str, Claim] = {}
    digests: dict[str, str] = {}
    for key, payload in payloads.items():
        try:
            check_key(key, name=name)
        except IdempotencyKeyInvalid as invalid:
            claims[key] = Claim(key, refused=invalid)
            continue
        digests[key] = fingerprint(payload)
    if not digests:
        return claims
    table = connection.ops.quote_name(IdempotencyKey._meta.db_table)
    # The table name comes from model metadata and is quoted; every value is a parameter.
    sql = (
        f'INSERT INTO {table} ("firm_id", "scope", "key", "fingerprint", "created_by_id", "created_at") '  # noqa: S608
        "SELECT %s, %s, u.k, u.f, %s, statement_timestamp() FROM unnest(%s::text[], %s::text[]) AS u(k, f) "
        'ON CONFLICT ("firm_id", "scope", "key") DO NOTHING RETURNING "key"'
    )
    keys = list(digests)
    with connection.cursor() as cursor:
        cursor.execute(sql, [require_firm_id(), scope, getattr(actor, "pk", None), keys, [digests[k] for k in keys]])
        inserted = {row[0] for row in cursor.fetchall()}
    for key in inserted:
        claims[key] = Claim(key)
    for first in IdempotencyKey.objects.filter(scope=scope, key__in=[k for k in keys if k not in inserted]):
        if not hmac.compare_digest(first.fingerprint, digests[first.key]):
            claims[first.key] = Claim(first.key, refused=IdempotencyKeyReused(
                f"The {name} {first.key!r} was already used with a different request. "
                "Send a new key for a new request, or the same request to get its first result."
            ))  # fmt: skip
        elif first.completed_at is None:
            claims[first.key] = Claim(first.key, refused=IdempotencyKeyInProgress(
                f"The request with the {name} {first.key!r} is still being processed."
            ))  # fmt: skip
        else:
            claims[first.key] = Claim(first.key, replayed=True, body=first.response_body)
    return claims


def store_many(*, scope: str, bodies: dict[str, Any]) -> None:
    """Keep each new key's result (JSON: ids, not objects), in one statement."""
    if not bodies:
        return
    table = connection.ops.quote_name(IdempotencyKey._meta.db_table)
    sql = (
        f"UPDATE {table} AS t SET response_body = u.b::jsonb, completed_at = statement_timestamp() "  # noqa: S608
        "FROM unnest(%s::text[], %s::text[]) AS u(k, b) "
        "WHERE t.firm_id = %s AND t.scope = %s AND t.key = u.k AND t.completed_at IS NULL"
    )
    keys = list(bodies)
    encoded = [json.dumps(bodies[k], cls=DjangoJSONEncoder) for k in keys]
    with connection.cursor() as cursor:
        cursor.execute(sql, [keys, encoded, require_firm_id(), scope])
        if cursor.rowcount != len(keys):
            raise RuntimeError(f"{scope}: {len(keys) - cursor.rowcount} keys were not claimed by this transaction.")


def discard_many(*, scope: str, keys: list[str]) -> None:
    """Free keys whose operation did not happen, so that a retry runs it."""
    if keys:
        IdempotencyKey.objects.filter(scope=scope, key__in=keys, completed_at__isnull=True).delete()
