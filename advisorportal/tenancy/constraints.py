"""Layers 3 and 4 of tenancy expressed as model constraints, so migrations carry them.

``advisorportal.tenancy.apps.TenancyConfig.ready`` adds these to every firm-owned model; nobody
writes them by hand. Both are executed after the tables of a migration exist (deferred SQL).
"""

from __future__ import annotations

import hashlib
from typing import Any, cast

from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.models import ForeignKey, Model
from django.db.models.constraints import BaseConstraint

RLS_SETTING = "app.firm_id"
RLS_PREDICATE = f"firm_id = NULLIF(current_setting('{RLS_SETTING}', true), '')::bigint"


def constraint_name(prefix: str, *parts: str) -> str:
    """A constraint name within PostgreSQL's 63 characters, stable for the same parts."""
    raw = "_".join((prefix, *parts))
    if len(raw) <= 63:
        return raw
    digest = hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()[:8]
    return f"{raw[:54]}_{digest}"


def _ensure_firm_unique_sql(table: str, schema_editor: BaseDatabaseSchemaEditor) -> str:
    """Idempotent ``UNIQUE (firm_id, id)`` on ``table``: whichever of a parent's own constraint and
    a child's composite foreign key a migration runs first, the other finds it in place."""
    name = constraint_name("firm_uniq", table)
    q = schema_editor.quote_name
    # Identifiers come from model metadata and are quoted; nothing here is user input.
    exists = f"SELECT 1 FROM pg_constraint WHERE conname = '{name}' AND conrelid = '{q(table)}'::regclass"  # noqa: S608
    add = f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(name)} UNIQUE (firm_id, id)"
    return f"DO $$ BEGIN IF NOT EXISTS ({exists}) THEN {add}; END IF; END $$"


class _DeferredConstraint(BaseConstraint):
    """A constraint whose SQL runs after CREATE TABLE, and that the ORM does not validate."""

    def constraint_sql(self, model: type[Model] | None, schema_editor: BaseDatabaseSchemaEditor | None) -> None:  # type: ignore[override]
        assert model is not None and schema_editor is not None
        schema_editor.deferred_sql.append(self.create_sql(model, schema_editor))
        return None

    def validate(self, *args: Any, **kwargs: Any) -> None:
        # Enforced by PostgreSQL; the same-firm rule is also checked in FirmOwnedModel.clean().
        return None

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.deconstruct() == other.deconstruct()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self.deconstruct())


class FirmIdUnique(_DeferredConstraint):
    """``UNIQUE (firm_id, id)``: what every same-firm foreign key to this table references."""

    def create_sql(self, model: type[Model] | None, schema_editor: BaseDatabaseSchemaEditor | None) -> str:
        assert model is not None and schema_editor is not None
        return _ensure_firm_unique_sql(model._meta.db_table, schema_editor)

    def remove_sql(self, model: type[Model] | None, schema_editor: BaseDatabaseSchemaEditor | None) -> str:
        assert model is not None and schema_editor is not None
        q = schema_editor.quote_name
        return f"ALTER TABLE {q(model._meta.db_table)} DROP CONSTRAINT IF EXISTS {q(self.name)}"

    def deconstruct(self) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
        return ("advisorportal.tenancy.constraints.FirmIdUnique", (), {"name": self.name})


class FirmRowLevelSecurity(_DeferredConstraint):
    """ENABLE and FORCE row-level security with a policy on the current firm."""

    def create_sql(self, model: type[Model] | None, schema_editor: BaseDatabaseSchemaEditor | None) -> str:
        assert model is not None and schema_editor is not None
        table = schema_editor.quote_name(model._meta.db_table)
        policy = schema_editor.quote_name(self.name)
        return (
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY; "
            f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY; "
            f"CREATE POLICY {policy} ON {table} USING ({RLS_PREDICATE}) WITH CHECK ({RLS_PREDICATE})"
        )

    def remove_sql(self, model: type[Model] | None, schema_editor: BaseDatabaseSchemaEditor | None) -> str:
        assert model is not None and schema_editor is not None
        table = schema_editor.quote_name(model._meta.db_table)
        return (
            f"DROP POLICY IF EXISTS {schema_editor.quote_name(self.name)} ON {table}; "
            f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY; "
            f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY"
        )

    def deconstruct(self) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
        return ("advisorportal.tenancy.constraints.FirmRowLevelSecurity", (), {"name": self.name})


class SameFirmForeignKey(_DeferredConstraint):
    """``FOREIGN KEY (firm_id, <field>_id) REFERENCES <target> (firm_id, id)``.

    With ``UNIQUE (firm_id, id)`` on the target, the database itself refuses a row that points at
    another firm's row. Deferrable like Django's own foreign keys, so deletion order is free.
    """

    def __init__(self, *, field: str, name: str, **kwargs: Any) -> None:
        self.field = field
        super().__init__(name=name, **kwargs)

    def create_sql(self, model: type[Model] | None, schema_editor: BaseDatabaseSchemaEditor | None) -> str:
        assert model is not None and schema_editor is not None
        field = cast("ForeignKey[Any, Any]", model._meta.get_field(self.field))
        target = field.related_model._meta  # type: ignore[union-attr]
        q = schema_editor.quote_name
        return (
            _ensure_firm_unique_sql(target.db_table, schema_editor) + "; "
            f"ALTER TABLE {q(model._meta.db_table)} ADD CONSTRAINT {q(self.name)} "
            f"FOREIGN KEY ({q('firm_id')}, {q(field.column)}) "
            f"REFERENCES {q(target.db_table)} ({q('firm_id')}, {q(target.pk.column)}) "
            "DEFERRABLE INITIALLY DEFERRED"
        )

    def remove_sql(self, model: type[Model] | None, schema_editor: BaseDatabaseSchemaEditor | None) -> str:
        assert model is not None and schema_editor is not None
        q = schema_editor.quote_name
        return f"ALTER TABLE {q(model._meta.db_table)} DROP CONSTRAINT IF EXISTS {q(self.name)}"

    def deconstruct(self) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
        return ("advisorportal.tenancy.constraints.SameFirmForeignKey", (), {"field": self.field, "name": self.name})
