"""Bulk loading: model rows by COPY, and (for demo and bench firms) foreign keys checked once.

``copy_insert`` is safe anywhere (row-level security and every constraint apply as to an INSERT);
``foreign_keys_checked_at_end`` locks tables and is for building demo and bench databases only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import connections, transaction
from django.db.models import Model


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


def next_ids(model: type[Model], count: int, *, using: str = "default") -> list[int]:
    """``count`` ids drawn from the table's sequence, in order (one array, not a row per id)."""
    if not count:
        return []
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT array_agg(nextval(pg_get_serial_sequence(%s, %s))) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        row = cursor.fetchone()
        return list(row[0]) if row else []


def copy_insert(objs: Sequence[Model], *, using: str = "default") -> None:
    """Insert unsaved ``objs`` (all of one model) as ``bulk_create`` would, setting their primary
    keys, but by COPY into a temporary table and one ``INSERT … SELECT``. ``bulk_create`` spends
    about 2 ms a row of a wide model building and binding its SQL; this a few microseconds. No
    signals are sent and ``save()`` is not called. COPY can't write a table under row-level
    security, hence the temporary table: the INSERT is checked by RLS and constraints as usual."""
    if not objs:
        return
    meta = objs[0]._meta
    assert all(type(obj) is type(objs[0]) and obj.pk is None for obj in objs), "unsaved objects of one model"
    connection = connections[using]
    fields = [f for f in meta.concrete_fields if not f.generated]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = meta.db_table
    stage = f"copy_{table}"
    with transaction.atomic(using=using), connection.cursor() as cursor:
        for obj, pk in zip(objs, next_ids(type(objs[0]), len(objs), using=using), strict=True):
            obj.pk = pk
            obj._state.adding = False
            obj._state.db = using
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} (LIKE {table}) ON COMMIT DROP")
        cursor.execute(f"TRUNCATE {stage}")
        with cursor.cursor.copy(f"COPY {stage} ({columns}) FROM STDIN") as copy:
            for obj in objs:
                copy.write_row([f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields])
        cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage}")  # noqa: S608 - model metadata
