"""Bulk SQL for applying an import: many rows per statement, the values by COPY.

The per-row columns go by COPY into a temporary table (``stage``), then ``insert`` is one
``INSERT … SELECT … FROM`` it, a column that is the same for every row sent once (``Same``), and
``update`` one ``UPDATE … FROM`` it ``WHERE id = u.c0``. Row-level security applies to both as
to any statement of the application role, and every constraint is checked; the firm is also named
in the ``UPDATE`` (defence in depth). Values are staged as text and cast by PostgreSQL to the
column's type (``date_in``, ``numeric_in``, array input are fast), except ids and binary columns,
which are staged as their own types. Django's ``bulk_create``/``bulk_update`` render one placeholder per value (~70
columns x 5,000 rows per statement) and prepare every value in Python, which was most of the old
apply's time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.db import connection, models

from advisorportal.tenancy.context import require_firm_id


@dataclass(frozen=True)
class Same:
    """One value for every row of an ``insert``."""

    value: Any


def _fields(model: type[models.Model]) -> dict[str, models.Field[Any, Any]]:
    return {f.attname: f for f in model._meta.concrete_fields if not f.generated}


def _db_type(field: models.Field[Any, Any]) -> str:
    db_type = field.db_type(connection)
    assert db_type is not None
    return db_type


def _native(field: models.Field[Any, Any]) -> bool:
    """Sent as its own array type (ids, binary), not as text."""
    return isinstance(field, models.BinaryField) or _db_type(field) == "bigint"


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
    if isinstance(value, dt.date | Decimal | int | float):
        return str(value) if not isinstance(value, dt.date) else value.isoformat()
    return str(value)


def column_values(field: models.Field[Any, Any], values: Sequence[Any]) -> list[Any]:
    """``values`` (JSON or Python form) as sent for ``field``'s column."""
    if isinstance(field, models.BinaryField):
        return [None if v is None else bytes(v) for v in values]
    if _db_type(field) == "bigint":
        return [None if v is None else int(v) for v in values]
    if isinstance(field, models.JSONField):
        return [None if v is None else json.dumps(v) for v in values]
    if isinstance(field, ArrayField):
        return [None if v is None else _text(list(v)) for v in values]
    if set(map(type, values)) <= {str, type(None)}:  # most columns: nothing to convert
        return list(values)
    return [v if v is None or type(v) is str else _text(v) for v in values]


def _scalar(field: models.Field[Any, Any], value: Any) -> Any:
    return column_values(field, [value])[0]


def _stage_type(field: models.Field[Any, Any]) -> str:
    return _db_type(field) if _native(field) else "text"


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
NULL = "\\N"


def copy_texts(values: list[Any]) -> list[str]:
    """One staged column (as ``column_values`` gives it) in COPY's text format: ``\\N`` for NULL,
    backslash, tab and line breaks escaped (only when the column holds any), ids as digits, binary
    as ``\\x`` hex. Whole columns at a time, mostly in C (``str.join``, ``in``, ``translate``):
    psycopg's ``write_row`` takes a Python call and a dumper per value."""
    kinds = set(map(type, values))
    if kinds <= {str, type(None)}:
        texts: list[str] = values if type(None) not in kinds else [NULL if v is None else v for v in values]
        joined = "".join(texts)
        if "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined:
            texts = [NULL if v is None else v.translate(_COPY_ESCAPES) for v in values]
        return texts
    if kinds <= {int, type(None)}:
        return [NULL if v is None else str(v) for v in values]
    if kinds <= {bytes, type(None)}:
        return [NULL if v is None else "\\\\x" + v.hex() for v in values]
    raise TypeError(f"cannot stage {kinds}")


def stage(cursor: Any, types: list[str], columns: list[list[Any]]) -> str:
    """A temporary table (dropped at COMMIT) holding ``columns`` as ``c0, c1, …``, filled by one COPY
    in text format, built a column at a time (``copy_texts``); binding arrays instead formats every
    element in Python (a regex per string: seconds per 100k rows). COPY can't write a table under
    row-level security; a temporary table has none, and what is moved from it is checked as any
    INSERT."""
    signature = hashlib.md5(",".join(types).encode(), usedforsecurity=False).hexdigest()[:12]
    table = f"contact_io_stage_{signature}"
    definition = ", ".join(f"c{i} {t}" for i, t in enumerate(types))
    cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {table} ({definition}) ON COMMIT DROP")
    cursor.execute(f"TRUNCATE {table}")
    names = ", ".join(f"c{i}" for i in range(len(types)))
    texts = [copy_texts(column) for column in columns]
    with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for start in range(0, len(texts[0]) if texts else 0, 20_000):
            part = [column[start : start + 20_000] for column in texts]
            copy.write("".join([line + "\n" for line in map("\t".join, zip(*part, strict=True))]))
    return table


def next_ids(model: type[models.Model], count: int) -> list[int]:
    """``count`` ids drawn from the table's sequence, in order (one array, not a row per id). The
    sequence is looked up once: ``nextval(pg_get_serial_sequence(…))`` looks it up per row (0.5 s
    per 100,000 ids)."""
    if not count:
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [model._meta.db_table, model._meta.pk.column])
        sequence = cursor.fetchone()[0]
        cursor.execute("SELECT array_agg(nextval(%s::regclass)) FROM generate_series(1, %s)", [sequence, count])
        row = cursor.fetchone()
        return list(row[0]) if row else []


def insert(model: type[models.Model], count: int, columns: dict[str, list[Any] | Same]) -> None:
    """Insert ``count`` rows; a column not named gets its field's default."""
    if not count:
        return
    fields = _fields(model)
    unknown = set(columns) - set(fields)
    assert not unknown, unknown
    names: list[str] = []
    selects: list[str] = []
    params: list[Any] = []
    types: list[str] = []
    staged: list[list[Any]] = []
    for attname, field in fields.items():
        given = columns.get(attname, Same(field.get_default()))
        names.append(connection.ops.quote_name(field.column))
        cast = _db_type(field)
        if isinstance(given, Same):
            selects.append(f"%s::{cast}")
            params.append(_scalar(field, given.value))
            continue
        assert len(given) == count, (attname, len(given), count)
        alias = f"c{len(types)}"
        types.append(_stage_type(field))
        staged.append(column_values(field, given))
        selects.append(alias if _native(field) else f"{alias}::{cast}")
    with connection.cursor() as cursor:
        table = stage(cursor, types, staged)
        cursor.execute(
            f"INSERT INTO {model._meta.db_table} ({', '.join(names)}) "  # noqa: S608 - model metadata only
            f"SELECT {', '.join(selects)} FROM {table}",
            params,
        )


def update(model: type[models.Model], ids: Sequence[int], columns: dict[str, list[Any] | Same]) -> None:
    """Set the given columns of the rows ``ids`` (of the current firm), one value per row."""
    if not ids:
        return
    fields = _fields(model)
    sets: list[str] = []
    params: list[Any] = []
    types = ["bigint"]
    staged: list[list[Any]] = [list(ids)]
    for attname, given in columns.items():
        field = fields[attname]
        column = connection.ops.quote_name(field.column)
        if isinstance(given, Same):
            sets.append(f"{column} = %s::{_db_type(field)}")
            params.append(_scalar(field, given.value))
            continue
        alias = f"c{len(types)}"
        types.append(_stage_type(field))
        staged.append(column_values(field, given))
        sets.append(f"{column} = u.{alias}" + ("" if _native(field) else f"::{_db_type(field)}"))
    with connection.cursor() as cursor:
        table = stage(cursor, types, staged)
        cursor.execute(
            f"UPDATE {model._meta.db_table} AS t SET {', '.join(sets)} "  # noqa: S608 - model metadata only
            f"FROM {table} AS u WHERE t.id = u.c0 AND t.firm_id = %s",
            [*params, require_firm_id()],
        )
