"""Introspects the live test database: every firm-owned table must obey tenancy layers 1, 3 and 4.

This test is what keeps every later model honest; it needs no edit when a model is added.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection

from advisorportal.tenancy.models import FirmOwnedModel, FirmScopedManager

# Tables that carry firm_id but are deliberately not firm-owned, with the reason.
IDENTITY_TABLES = {
    "accounts_user": "authentication finds a user by email before any firm is known",
}

pytestmark = pytest.mark.django_db


def _firm_owned_tables() -> set[str]:
    return {m._meta.db_table for m in apps.get_models() if issubclass(m, FirmOwnedModel)}


def _derived_index_tables() -> set[str]:
    """Firm-owned tables that are an index of another (``derived_index``): RLS, but no firm_uniq."""
    return {m._meta.db_table for m in apps.get_models() if issubclass(m, FirmOwnedModel) and m.derived_index}


def _query(sql: str, params: list[object] | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall()


def test_there_are_firm_owned_tables_to_check() -> None:
    assert len(_firm_owned_tables()) >= 4


def test_every_table_with_firm_id_is_a_firm_owned_model() -> None:
    with_firm_id = {t for (t,) in _query(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'firm_id'"
    )}  # fmt: skip
    assert with_firm_id - set(IDENTITY_TABLES) == _firm_owned_tables()


@pytest.mark.parametrize("table", sorted(_firm_owned_tables()))
def test_firm_id_is_not_null(table: str) -> None:
    (nullable,) = _query(
        "SELECT is_nullable FROM information_schema.columns WHERE table_name = %s AND column_name = 'firm_id'", [table]
    )[0]
    assert nullable == "NO"


@pytest.mark.parametrize("table", sorted(_firm_owned_tables()))
def test_row_level_security_is_enabled_forced_and_on_the_firm(table: str) -> None:
    enabled, forced = _query(
        "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = %s::regclass", [table]
    )[0]
    assert enabled and forced, f"{table}: RLS enabled={enabled} forced={forced}"
    policies = _query("SELECT cmd, qual, with_check FROM pg_policies WHERE tablename = %s", [table])
    assert policies, f"{table} has no policy"
    for cmd, qual, with_check in policies:
        assert cmd == "ALL"
        assert "current_setting('app.firm_id'" in qual and "firm_id =" in qual
        assert with_check is not None and "current_setting('app.firm_id'" in with_check


@pytest.mark.parametrize("table", sorted(_firm_owned_tables()))
def test_unique_constraints_and_indexes_start_with_firm_id(table: str) -> None:
    rows = _query(
        """
        SELECT i.relname, a.attname
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]
        WHERE x.indrelid = %s::regclass AND x.indisunique AND NOT x.indisprimary
        """,
        [table],
    )
    if table not in _derived_index_tables():
        assert any(name.startswith("firm_uniq_") for name, _ in rows), f"{table} lacks UNIQUE (firm_id, id)"
    offenders = [name for name, first in rows if first != "firm_id"]
    assert not offenders, f"{table}: unique constraints not led by firm_id: {offenders}"


def _foreign_keys(table: str) -> list[tuple[str, list[str], str, list[str]]]:
    rows = _query(
        """
        SELECT c.conname, c.confrelid::regclass::text,
               ARRAY(SELECT attname FROM unnest(c.conkey) WITH ORDINALITY k(n, o)
                     JOIN pg_attribute ON attrelid = c.conrelid AND attnum = k.n ORDER BY k.o),
               ARRAY(SELECT attname FROM unnest(c.confkey) WITH ORDINALITY k(n, o)
                     JOIN pg_attribute ON attrelid = c.confrelid AND attnum = k.n ORDER BY k.o)
        FROM pg_constraint c WHERE c.contype = 'f' AND c.conrelid = %s::regclass
        """,
        [table],
    )
    return [(name, list(cols), target, list(tcols)) for name, target, cols, tcols in rows]


@pytest.mark.parametrize("table", sorted(_firm_owned_tables()))
def test_links_between_firm_owned_tables_are_same_firm(table: str) -> None:
    firm_owned = _firm_owned_tables()
    fks = _foreign_keys(table)
    composite = {
        (tuple(cols), target) for _, cols, target, tcols in fks if cols[0] == "firm_id" and tcols == ["firm_id", "id"]
    }
    for name, cols, target, _ in fks:
        if target in firm_owned and len(cols) == 1:
            assert (("firm_id", cols[0]), target) in composite, (
                f"{table}.{cols[0]} → {target} ({name}) is not same-firm"
            )


def test_no_other_table_points_at_firm_owned_data() -> None:
    """An auto-created many-to-many table, say, would link firms' rows without a firm_id."""
    firm_owned = _firm_owned_tables()
    tables = {t for (t,) in _query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    for table in sorted(tables - firm_owned):
        for name, _, target, _ in _foreign_keys(table):
            assert target not in firm_owned, f"{table} ({name}) references firm-owned {target} without being firm-owned"


def test_application_role_cannot_bypass_row_level_security() -> None:
    role, superuser, bypass, createrole = _query(
        "SELECT rolname, rolsuper, rolbypassrls, rolcreaterole FROM pg_roles WHERE rolname = current_user"
    )[0]
    assert not superuser and not bypass and not createrole
    owned = _query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tableowner = %s", [role])
    assert owned == [], f"the application role owns tables: {owned}"


@pytest.mark.parametrize("model", [m for m in apps.get_models() if issubclass(m, FirmOwnedModel)], ids=str)
def test_firm_owned_models_fail_closed_by_default(model: type) -> None:
    assert isinstance(model._default_manager, FirmScopedManager)
    assert isinstance(model._base_manager, FirmScopedManager), f"{model}: Meta must inherit FirmOwnedModel.Meta"


def test_derived_index_tables_are_few_and_referenced_by_nothing() -> None:
    """A derived index (search keys) gives up UNIQUE (firm_id, id) and its foreign keys; it must
    stay a leaf nothing points at, and each one is a deliberate, listed choice."""
    derived = _derived_index_tables()
    assert derived == {"crm_contactsearchkey"}
    referencing = _query(
        "SELECT conname FROM pg_constraint WHERE contype = 'f' AND confrelid = ANY(%s::regclass[])", [sorted(derived)]
    )
    assert referencing == []
