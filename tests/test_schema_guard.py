"""Introspects the live test database: every firm-owned table must obey tenancy layers 1, 3 and 4,
and so must every link from firm-owned data to a user.

This test is what keeps every later model honest; it needs no edit when a model is added.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection

from advisorportal.tenancy.models import FirmOwnedModel, FirmScopedManager

USERS = "accounts_user"

# Tables that carry firm_id but are deliberately not firm-owned, with the reason.
IDENTITY_TABLES = {
    USERS: "sign-in finds a user by an email unique across firms, before any firm is known (through "
    "accounts_user_identity); otherwise it is held to the firm-owned rules, checked below",
}

# Global tables with a key to users, with the reason each stays global (no firm_id, no RLS, a plain
# key): authentication reads them before any firm is known. They hold no firm data.
GLOBAL_TABLES_LINKED_TO_USERS = {
    "accounts_apitoken": "a token is found by its prefix, and names its user, before the firm is known",
    "accounts_usersession": "read by session key on every request, before the firm is in scope",
    "otp_totp_totpdevice": "django-otp: the second factor is checked before the firm is in scope",
    "otp_static_staticdevice": "django-otp: backup codes, as the authenticator",
}

# The security-definer function that is the one way to a user before a firm is in scope.
IDENTITY_FUNCTION = "accounts_user_identity(text, bigint)"

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
def test_links_from_firm_owned_tables_to_firm_owned_tables_and_users_are_same_firm(table: str) -> None:
    within_firm = _firm_owned_tables() | {USERS}
    fks = _foreign_keys(table)
    composite = {
        (tuple(cols), target) for _, cols, target, tcols in fks if cols[0] == "firm_id" and tcols == ["firm_id", "id"]
    }
    for name, cols, target, _ in fks:
        if target in within_firm and len(cols) == 1:
            assert (("firm_id", cols[0]), target) in composite, (
                f"{table}.{cols[0]} → {target} ({name}) is not same-firm"
            )


def test_the_links_to_users_are_found_and_same_firm() -> None:
    """The check above really meets keys to users (contacts' advisors, audit actors, …)."""
    composite_to_users = {
        (table, cols[1])
        for table in _firm_owned_tables()
        for _, cols, target, tcols in _foreign_keys(table)
        if target == USERS and cols[0] == "firm_id" and tcols == ["firm_id", "id"]
    }
    expected = {
        ("crm_contact", "advisor_id"),
        ("accounts_auditentry", "actor_id"),
        ("crm_group", "owner_id"),
        ("portfolios_ledgerentry", "created_by_id"),
        ("accounts_accessgrant", "user_id"),
    }
    assert expected <= composite_to_users


def test_users_carry_unique_firm_id_and_id() -> None:
    unique_columns = _query(
        """
        SELECT ARRAY(SELECT attname FROM unnest(x.indkey) WITH ORDINALITY k(n, o)
                     JOIN pg_attribute ON attrelid = x.indrelid AND attnum = k.n ORDER BY k.o)
        FROM pg_index x WHERE x.indrelid = %s::regclass AND x.indisunique
        """,
        [USERS],
    )
    assert (["firm_id", "id"],) in [tuple(row) for row in unique_columns]


def test_users_have_row_level_security_on_the_firm_enabled_and_forced() -> None:
    enabled, forced, owner = _query(
        "SELECT relrowsecurity, relforcerowsecurity, relowner::regrole::text FROM pg_class WHERE oid = %s::regclass",
        [USERS],
    )[0]
    assert enabled and forced
    policies = {name: (cmd, roles, qual) for name, cmd, roles, qual in _query(
        "SELECT policyname, cmd, roles::text[], qual FROM pg_policies WHERE tablename = %s", [USERS]
    )}  # fmt: skip
    firm = policies.pop("firm_rls_accounts_user")
    assert firm[0] == "ALL" and firm[1] == ["public"] and "current_setting('app.firm_id'" in firm[2]
    # The one other policy lets only the owner read users: what the security-definer function runs as.
    assert policies == {"accounts_user_identity_lookup": ("SELECT", [owner], "true")}
    (member,) = _query("SELECT pg_has_role(current_user, %s, 'USAGE')", [owner])[0]
    assert not member, "the application role must not act as the owner"


def test_only_the_listed_global_tables_link_to_users() -> None:
    linking = {
        table
        for (table,) in _query(
            "SELECT DISTINCT conrelid::regclass::text FROM pg_constraint"
            " WHERE contype = 'f' AND confrelid = %s::regclass",
            [USERS],
        )
    }
    assert linking - _firm_owned_tables() == set(GLOBAL_TABLES_LINKED_TO_USERS)


def test_the_identity_function_is_narrow_pinned_and_only_for_the_application_role() -> None:
    definer, config, owner, table_owner, public_may, app_may, result = _query(
        """
        SELECT p.prosecdef, p.proconfig, p.proowner::regrole::text,
               (SELECT relowner::regrole::text FROM pg_class WHERE oid = %s::regclass),
               has_function_privilege('public', p.oid, 'EXECUTE'),
               has_function_privilege(current_user, p.oid, 'EXECUTE'),
               pg_get_function_result(p.oid)
        FROM pg_proc p WHERE p.oid = %s::regprocedure
        """,
        [USERS, IDENTITY_FUNCTION],
    )[0]
    assert definer and owner == table_owner
    assert config == ["search_path=pg_catalog, pg_temp"]
    assert not public_may and app_may
    # Only what authentication needs before the firm is known: no password hash, no name.
    assert result == "TABLE(id bigint, firm_id bigint, is_active boolean)"


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
