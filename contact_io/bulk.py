"""Bulk SQL for applying an import: many rows per statement, one array per column.

``insert`` is ``INSERT … SELECT … FROM unnest(<one array per column>)``: a column that is the same
for every row is sent once (``Same``). ``update`` is ``UPDATE … FROM unnest(…) WHERE id = u.id``.
Row-level security applies to both as to any statement of the application role, and every
constraint is checked; the firm is also named in the ``UPDATE`` (defence in depth). Values are
sent as text and cast by PostgreSQL to the column's type (``date_in``, ``numeric_in``, array input
are fast; no Python object per value), except ids and binary columns, which go as their own
array types. Django's ``bulk_create``/``bulk_update`` render one placeholder per value (~70
columns x 5,000 rows per statement) and prepare every value in Python, which was most of the old
apply's time.
"""

from __future__ import annotations

import datetime as dt
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


def next_ids(model: type[models.Model], count: int) -> list[int]:
    """``count`` ids drawn from the table's sequence, in order."""
    if not count:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, count],
        )
        return [row[0] for row in cursor.fetchall()]


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
    return [v if v is None or type(v) is str else _text(v) for v in values]


def _array(field: models.Field[Any, Any]) -> str:
    return f"%s::{_db_type(field)}[]" if _native(field) else "%s::text[]"


def _scalar(field: models.Field[Any, Any], value: Any) -> Any:
    prepared = column_values(field, [value])[0]
    return prepared


def insert(model: type[models.Model], count: int, columns: dict[str, list[Any] | Same]) -> None:
    """Insert ``count`` rows; a column not named gets its field's default."""
    if not count:
        return
    fields = _fields(model)
    unknown = set(columns) - set(fields)
    assert not unknown, unknown
    names: list[str] = []
    selects: list[str] = []
    select_params: list[Any] = []
    arrays: list[str] = []
    array_params: list[Any] = []
    for attname, field in fields.items():
        given = columns.get(attname, Same(field.get_default()))
        names.append(connection.ops.quote_name(field.column))
        cast = _db_type(field)
        if isinstance(given, Same):
            selects.append(f"%s::{cast}")
            select_params.append(_scalar(field, given.value))
            continue
        assert len(given) == count, (attname, len(given), count)
        alias = f"c{len(arrays)}"
        arrays.append(_array(field))
        array_params.append(column_values(field, given))
        selects.append(alias if _native(field) else f"{alias}::{cast}")
    aliases = ", ".join(f"c{i}" for i in range(len(arrays)))
    sql = (
        f"INSERT INTO {model._meta.db_table} ({', '.join(names)}) "  # noqa: S608 - model metadata only
        f"SELECT {', '.join(selects)} FROM unnest({', '.join(arrays)}) AS u({aliases})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, select_params + array_params)


def update(model: type[models.Model], ids: Sequence[int], columns: dict[str, list[Any] | Same]) -> None:
    """Set the given columns of the rows ``ids`` (of the current firm), one value per row."""
    if not ids:
        return
    fields = _fields(model)
    sets: list[str] = []
    set_params: list[Any] = []
    arrays = ["%s::bigint[]"]
    array_params: list[Any] = [list(ids)]
    for attname, given in columns.items():
        field = fields[attname]
        column = connection.ops.quote_name(field.column)
        if isinstance(given, Same):
            sets.append(f"{column} = %s::{_db_type(field)}")
            set_params.append(_scalar(field, given.value))
            continue
        alias = f"c{len(arrays)}"
        arrays.append(_array(field))
        array_params.append(column_values(field, given))
        sets.append(f"{column} = u.{alias}" + ("" if _native(field) else f"::{_db_type(field)}"))
    aliases = ", ".join(["id", *(f"c{i}" for i in range(1, len(arrays)))])
    table = model._meta.db_table
    sql = (
        f"UPDATE {table} AS t SET {', '.join(sets)} "  # noqa: S608 - model metadata only
        f"FROM unnest({', '.join(arrays)}) AS u({aliases}) WHERE t.id = u.id AND t.firm_id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, set_params + array_params + [require_firm_id()])
