"""Bulk writes: one COPY stager, one id allocator, and the audit record every bulk write leaves.

**Staging.** ``stage`` is the one way rows reach PostgreSQL by COPY: a temporary table (dropped at
COMMIT) filled by one COPY, in text format (``text_rows`` builds it a column at a time) or binary
(the caller's own encoder: the daily series and the demo ledger are numpy record arrays). COPY
can't write a table under row-level security; a temporary table has none, and whatever the caller
moves from it (``INSERT … SELECT``, ``UPDATE … FROM``, ``INSERT … ON CONFLICT``) is checked by the
firm's policy and every constraint like any statement of the application role. On top of it:
``insert`` (one ``INSERT … SELECT``; a column that is the same for every row is sent once,
``Same``), ``update`` (one ``UPDATE … FROM … WHERE id = …``, the firm named too) and
``copy_insert`` (unsaved model instances, as ``bulk_create`` would store them). Values are staged
as text and cast by PostgreSQL to the column's type, except ids and binary columns, which are
staged as their own types. Django's ``bulk_create``/``bulk_update`` render a placeholder and
prepare every value in Python (about 2 ms a row of a 60-column model); this costs microseconds.
``next_ids`` draws ids from a table's sequence, looked up once.

**Audit: why a helper, not triggers.** No bulk write may skip the audit trail (accounts/audit.py
records every ORM save and delete from signals, which bulk paths do not send). Two ways were
weighed: statement-level triggers on every audited table (django-pghistory, or by hand), with the
actor and request set per transaction; or one helper every bulk path goes through. The helper was
chosen: (1) the trail's entries are built in Python today (masked fields, a before/after diff,
``str(obj)``, timestamps alone are no change) and triggers would record a different thing for the
same change depending on the path; (2) audited tables are also written in bulk for derived
columns (the accounts' latest NAV, 20k rows a night) where a row per change would cost seconds
for no one to read; (3) the 100k-row contact import must stay within 30 s, and a trigger's row
per contact (with a JSON image of 60 columns) was the kind of cost the import was rebuilt to avoid.
So:

- ``insert``, ``update`` and ``copy_insert`` take ``audit`` as a required argument: an ``Audit``
  saying why (``None`` only for models that are not audited, such as search keys, and refused
  otherwise). Each statement leaves ONE entry naming the model, the ids (as ranges), the columns
  set with their value when it is the same for every row (a value per row up to
  ``PER_ROW_LIMIT`` rows) and the caller's details.
- The ORM's bulk paths on firm-owned models (``bulk_create``, ``bulk_update``,
  ``QuerySet.update``; ``tenancy.models.FirmOwnedQuerySet``) record the same entry by
  themselves, so forgetting is not possible; ``described(...)`` gives them a reason.
  ``QuerySet.delete`` sends the delete signals per row already (Django collects the rows when
  anything listens), so deletes are recorded row by row.
- Statements written by hand (``cursor.execute``) are allowed only in the modules listed, with
  their reason, in ``tests/test_audit_write_paths.py``: derived tables and columns, job progress.

The floor does not import ``accounts``: the recorder is registered by ``accounts`` in its
``AppConfig.ready`` (``advisorportal.auditing.register_recorders``, the one hook through which
the floor writes audit entries); an audited bulk write with none registered raises.

``foreign_keys_checked_at_end`` locks tables and is for building demo and bench databases only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.db import connections, models, transaction

from advisorportal import auditing
from advisorportal.tenancy.context import require_firm_id

# --- The audit record of bulk writes ---------------------------------------------------------

PER_ROW_LIMIT = 100  # up to this many rows, an entry lists the value of each row


@dataclass(frozen=True)
class Audit:
    """Why a bulk write happens, for the person reading the trail (``reason``), and anything more
    to record with it (``details``: e.g. the import or merge it belongs to)."""

    reason: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PerRow:
    """The value of a column for each row of a bulk write, in the order of its ids."""

    values: Sequence[Any]


VARIES = "(a value per row)"


@dataclass(frozen=True)
class BulkChange:
    """One bulk statement, as handed to the registered recorder."""

    action: str  # "create", "update" or "delete"
    model: type[models.Model]
    ids: Sequence[int]
    values: Mapping[str, Any]  # attname -> the value every row got, a ``PerRow`` or ``VARIES``
    audit: Audit


_described: ContextVar[Audit | None] = ContextVar("bulk_audit_described", default=None)
_recording: ContextVar[bool] = ContextVar("bulk_audit_recording", default=False)


def is_audited(model: type[models.Model]) -> bool:
    """Firm-owned models are audited unless they say otherwise (``audited = False``)."""
    return bool(getattr(model, "audited", False))


@contextmanager
def described(reason: str, **details: Any) -> Iterator[None]:
    """The reason (and details) recorded for the ORM bulk writes made inside this block."""
    token = _described.set(Audit(reason, details))
    try:
        yield
    finally:
        _described.reset(token)


@contextmanager
def recording() -> Iterator[bool]:
    """True for the outermost bulk write: the ``update`` that ``bulk_update`` runs per batch is
    part of the ``bulk_update``'s entry, not one of its own."""
    outer = not _recording.get()
    token = _recording.set(True)
    try:
        yield outer
    finally:
        _recording.reset(token)


def record(action: str, model: type[models.Model], ids: Sequence[int], values: Mapping[str, Any],
           audit: Audit | None) -> None:  # fmt: skip
    """Hand one bulk statement to the recorder (nothing for a model that is not audited, or no rows)."""
    if not is_audited(model) or not ids:
        return
    if audit is None:
        audit = _described.get() or Audit(f"{len(ids)} {model._meta.verbose_name_plural} {action}d in bulk")
    auditing.record_bulk(BulkChange(action=action, model=model, ids=list(ids), values=dict(values), audit=audit))


def _require_audit(model: type[models.Model], audit: Audit | None) -> None:
    if audit is None and is_audited(model):
        raise TypeError(f"{model._meta.label} is audited: say what this bulk write records (audit=Audit(...)).")


def id_ranges(ids: Iterable[int]) -> list[str]:
    """``[1, 2, 3, 7]`` as ``["1-3", "7"]`` (bulk inserts get consecutive ids)."""
    out: list[list[int]] = []
    for pk in sorted(ids):
        if out and out[-1][1] + 1 == pk:
            out[-1][1] = pk
        elif not out or out[-1][1] != pk:
            out.append([pk, pk])
    return [str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in out]


def _recorded_values(columns: Mapping[str, Any], count: int) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for attname, given in columns.items():
        if attname in ("id", "firm_id"):
            continue
        if isinstance(given, Same):
            values[attname] = given.value
        else:
            values[attname] = PerRow(list(given)) if count <= PER_ROW_LIMIT else VARIES
    return values


# --- Ids ---------------------------------------------------------------------------------------


def next_ids(
    model: type[models.Model], count: int, *, using: str = "default", lock_table: bool = False
) -> Sequence[int]:
    """``count`` ids drawn from the table's sequence, in order (one array, not a row per id). The
    sequence is looked up once: ``nextval(pg_get_serial_sequence(…))`` looks it up per row (0.5 s
    per 100,000 ids). With ``lock_table`` (the owner's demo loads only: the application role may not
    set a sequence) the table is locked against inserts and the sequence moved on in one step, so
    the ids are consecutive: 5 million of them cost nothing."""
    if not count:
        return []
    table = model._meta.db_table
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, model._meta.pk.column])
        sequence = cursor.fetchone()[0]
        if lock_table:
            cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
            cursor.execute("SELECT setval(%s::regclass, nextval(%s::regclass) + %s - 1)", [sequence, sequence, count])
            last = cursor.fetchone()[0]
            return range(last - count + 1, last + 1)
        cursor.execute("SELECT array_agg(nextval(%s::regclass)) FROM generate_series(1, %s)", [sequence, count])
        row = cursor.fetchone()
        return list(row[0]) if row else []


# --- The COPY stager ---------------------------------------------------------------------------

_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
_BINARY_TRAILER = b"\xff\xff"


def stage(cursor: Any, columns: Sequence[tuple[str, str]], data: Iterable[str | bytes | memoryview], *,
          binary: bool = False) -> str:  # fmt: skip
    """A temporary table of ``columns`` (name, SQL type), dropped at COMMIT, filled by one COPY of
    ``data``: chunks of COPY text rows (``text_rows``) or, with ``binary``, of binary tuples (the
    header and trailer are added here). Returns the table's name, which is the same for the same
    columns, so a shape staged twice in a transaction reuses (and first empties) its table."""
    if not cursor.db.in_atomic_block:
        raise RuntimeError("COPY staging needs a transaction: the staged table is dropped at COMMIT.")
    definition = ", ".join(f"{name} {kind}" for name, kind in columns)
    table = "bulk_stage_" + hashlib.md5(definition.encode(), usedforsecurity=False).hexdigest()[:12]
    cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {table} ({definition}) ON COMMIT DROP")
    cursor.execute(f"TRUNCATE {table}")
    names = ", ".join(name for name, _ in columns)
    with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN" + (" (FORMAT binary)" if binary else "")) as copy:
        if binary:
            copy.write(_BINARY_HEADER)
        for chunk in data:
            copy.write(chunk)
        if binary:
            copy.write(_BINARY_TRAILER)
    return table


COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
NULL = "\\N"


def copy_texts(values: list[Any]) -> list[str]:
    """One column (as ``column_values`` gives it) in COPY's text format: ``\\N`` for NULL,
    backslash, tab and line breaks escaped (only when the column holds any), ids as digits, binary
    as ``\\x`` hex. Whole columns at a time, mostly in C (``str.join``, ``in``, ``translate``):
    psycopg's ``write_row`` takes a Python call and a dumper per value."""
    kinds = set(map(type, values))
    if kinds <= {str, type(None)}:
        texts: list[str] = values if type(None) not in kinds else [NULL if v is None else v for v in values]
        joined = "".join(texts)
        if "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined:
            texts = [NULL if v is None else v.translate(COPY_ESCAPES) for v in values]
        return texts
    if kinds <= {int, type(None)}:
        return [NULL if v is None else str(v) for v in values]
    if kinds <= {bytes, type(None)}:
        return [NULL if v is None else "\\\\x" + v.hex() for v in values]
    raise TypeError(f"cannot stage {kinds}")


def text_rows(columns: list[list[Any]], *, chunk: int = 20_000) -> Iterator[str]:
    """Columns of equal length as COPY text, ``chunk`` rows at a time; binding arrays instead
    formats every element in Python (a regex per string: seconds per 100k rows)."""
    texts = [copy_texts(column) for column in columns]
    for start in range(0, len(texts[0]) if texts else 0, chunk):
        part = [column[start : start + chunk] for column in texts]
        yield "".join([line + "\n" for line in map("\t".join, zip(*part, strict=True))])


# --- Model rows: insert, update, copy_insert ---------------------------------------------------


@dataclass(frozen=True)
class Same:
    """One value for every row of an ``insert`` or ``update``."""

    value: Any


def _fields(model: type[models.Model]) -> dict[str, models.Field[Any, Any]]:
    return {f.attname: f for f in model._meta.concrete_fields if not f.generated}


def _db_type(field: models.Field[Any, Any], connection: Any) -> str:
    db_type = field.db_type(connection)
    assert db_type is not None
    return db_type


def _native(field: models.Field[Any, Any], connection: Any) -> bool:
    """Sent as its own type (ids, binary), not as text."""
    return isinstance(field, models.BinaryField) or _db_type(field, connection) == "bigint"


def _text(value: Any) -> Any:
    """A value in PostgreSQL's text input form (the cast to the column type parses it)."""
    if value is None or type(value) is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "{" + ",".join('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in value) + "}"
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal | int | float):
        return str(value)
    return str(value)


def column_values(field: models.Field[Any, Any], values: Sequence[Any], connection: Any = None) -> list[Any]:
    """``values`` (JSON or Python form) as staged for ``field``'s column."""
    connection = connection or connections["default"]
    if isinstance(field, models.BinaryField):
        return [None if v is None else bytes(v) for v in values]
    if _db_type(field, connection) == "bigint":
        return [None if v is None else int(v) for v in values]
    if isinstance(field, models.JSONField):
        return [None if v is None else json.dumps(v) for v in values]
    if isinstance(field, ArrayField):
        return [None if v is None else _text(list(v)) for v in values]
    if set(map(type, values)) <= {str, type(None)}:  # most columns: nothing to convert
        return list(values)
    return [v if v is None or type(v) is str else _text(v) for v in values]


def insert(model: type[models.Model], count: int, columns: Mapping[str, list[Any] | Same], *,
           audit: Audit | None, using: str = "default", ignore_conflicts: bool = False) -> list[int]:  # fmt: skip
    """Insert ``count`` rows; a column not named gets its field's default. Returns the new ids.
    With ``ignore_conflicts``, rows that a unique constraint already holds are left out (``ON
    CONFLICT DO NOTHING``: two writers of the same rows insert each once) and the ids returned
    are those inserted."""
    _require_audit(model, audit)
    if not count:
        return []
    connection = connections[using]
    fields = _fields(model)
    unknown = set(columns) - set(fields)
    assert not unknown, unknown
    if "firm_id" in fields and "firm_id" not in columns:  # a firm-owned row: the firm in scope, as ``save`` does
        columns = {**columns, "firm_id": Same(require_firm_id())}
    names: list[str] = []
    selects: list[str] = []
    params: list[Any] = []
    staged: list[tuple[str, str]] = []
    values: list[list[Any]] = []
    for attname, field_ in fields.items():
        if field_.primary_key and attname not in columns:
            continue  # the sequence's default
        given = columns.get(attname, Same(field_.get_default()))
        names.append(connection.ops.quote_name(field_.column))
        cast = _db_type(field_, connection)
        if isinstance(given, Same):
            selects.append(f"%s::{cast}")
            params.append(column_values(field_, [given.value], connection)[0])
            continue
        assert len(given) == count, (attname, len(given), count)
        alias = f"c{len(staged)}"
        native = _native(field_, connection)
        staged.append((alias, cast if native else "text"))
        values.append(column_values(field_, given, connection))
        selects.append(alias if native else f"{alias}::{cast}")
    given_ids = columns.get("id")
    returning = "" if isinstance(given_ids, list) or not is_audited(model) else " RETURNING id"
    if ignore_conflicts:
        assert not isinstance(given_ids, list), "ids given: the rows inserted would not be known"
        returning = " ON CONFLICT DO NOTHING RETURNING id"
    with transaction.atomic(using=using, savepoint=False), connection.cursor() as cursor:
        table = stage(cursor, staged, text_rows(values))
        cursor.execute(
            f"INSERT INTO {model._meta.db_table} ({', '.join(names)}) "  # noqa: S608 - model metadata only
            f"SELECT {', '.join(selects)} FROM {table}{returning}",
            params,
        )
        ids = list(given_ids) if isinstance(given_ids, list) else [r[0] for r in cursor.fetchall()] if returning else []
        record("create", model, ids, _recorded_values(columns, count), audit)
    return ids


def update(model: type[models.Model], ids: Sequence[int], columns: Mapping[str, list[Any] | Same], *,
           audit: Audit | None, using: str = "default") -> None:  # fmt: skip
    """Set the given columns of the rows ``ids`` (of the current firm), one value per row."""
    _require_audit(model, audit)
    if not ids:
        return
    connection = connections[using]
    fields = _fields(model)
    sets: list[str] = []
    params: list[Any] = []
    staged: list[tuple[str, str]] = [("c0", "bigint")]
    values: list[list[Any]] = [list(ids)]
    for attname, given in columns.items():
        field_ = fields[attname]
        column = connection.ops.quote_name(field_.column)
        cast = _db_type(field_, connection)
        if isinstance(given, Same):
            sets.append(f"{column} = %s::{cast}")
            params.append(column_values(field_, [given.value], connection)[0])
            continue
        alias = f"c{len(staged)}"
        native = _native(field_, connection)
        staged.append((alias, cast if native else "text"))
        values.append(column_values(field_, given, connection))
        sets.append(f"{column} = u.{alias}" + ("" if native else f"::{cast}"))
    with transaction.atomic(using=using, savepoint=False), connection.cursor() as cursor:
        table = stage(cursor, staged, text_rows(values))
        cursor.execute(
            f"UPDATE {model._meta.db_table} AS t SET {', '.join(sets)} "  # noqa: S608 - model metadata only
            f"FROM {table} AS u WHERE t.id = u.c0 AND t.firm_id = %s",
            [*params, require_firm_id()],
        )
        record("update", model, ids, _recorded_values(columns, len(ids)), audit)


def copy_insert(objs: Sequence[models.Model], *, audit: Audit | None, using: str = "default") -> None:
    """Insert unsaved ``objs`` (all of one model) as ``bulk_create`` would, setting their primary
    keys (``insert``: no signals are sent and ``save()`` is not called)."""
    if not objs:
        return
    model = type(objs[0])
    _require_audit(model, audit)
    assert all(type(obj) is model and obj.pk is None for obj in objs), "unsaved objects of one model"
    with transaction.atomic(using=using, savepoint=False):
        ids = next_ids(model, len(objs), using=using)
        for obj, pk in zip(objs, ids, strict=True):
            obj.pk = pk
            if getattr(obj, "firm_id", 0) is None:  # as ``save`` does
                obj.firm_id = require_firm_id()  # type: ignore[attr-defined]
        columns: dict[str, list[Any] | Same] = {
            f.attname: [f.pre_save(obj, True) for obj in objs] for f in _fields(model).values()
        }
        insert(model, len(objs), columns, audit=audit, using=using)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = using


# --- Demo and bench loads ----------------------------------------------------------------------


@contextmanager
def foreign_keys_checked_at_end(
    cursor: Any, models: list[type[Any]], *, log: Callable[[str], None] = lambda message: None
) -> Iterator[None]:
    """Drop the foreign keys of ``models``' tables and add them back afterwards, in the caller's
    owner transaction. PostgreSQL checks a foreign key row by row (deferred here to COMMIT, queued
    per row: about an hour for the 5 million transactions of a large demo firm); adding one back
    checks every row in one join instead. PostgreSQL takes that fast path only when row-level
    security does not apply to the owner, so for the moment of adding the keys back the tables
    involved are set to NO FORCE and then FORCE again. The same constraints come back (same names
    and definitions, validated) and DDL is transactional: on any error nothing changes, and nothing
    commits with RLS unforced."""
    tables = [m._meta.db_table for m in models]
    cursor.execute(
        "SELECT conrelid::regclass::text, confrelid::regclass::text, conname, pg_get_constraintdef(oid) "
        "FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY(%s::regclass[])",
        [tables],
    )
    keys = cursor.fetchall()
    cursor.execute("SET LOCAL lock_timeout = '30s'")
    for table, _, name, _ in keys:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    yield
    involved = sorted({k[0] for k in keys} | {k[1] for k in keys})
    cursor.execute(
        "SELECT oid::regclass::text FROM pg_class WHERE oid = ANY(%s::regclass[]) AND relforcerowsecurity", [involved]
    )
    forced = [row[0] for row in cursor.fetchall()]
    for table in forced:
        cursor.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    for table, _, name, definition in keys:
        clock = time.perf_counter()
        cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        log(f"foreign key {name} added back in {time.perf_counter() - clock:.1f} s")
    for table in forced:
        cursor.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
