"""Privileges of the application role, re-applied after every ``migrate``.

The owner role owns every table; the application role only gets data privileges, so it can
neither alter the schema, nor switch off row-level security, nor rewrite append-only tables
(models with ``append_only = True`` get SELECT and INSERT only, and a trigger that refuses UPDATE
and DELETE from anyone, the owner included). Functions a model lists in ``app_role_functions``
(the security-definer lookup authentication uses) are executable by the application role alone.
"""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.db import connections


def grant_application_role(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    if sender.label != "tenancy":
        return
    app_role = settings.DATABASES["default"]["USER"]
    connection = connections[using]
    if not app_role or connection.settings_dict["USER"] == app_role:
        return
    q = connection.ops.quote_name
    append_only = [m._meta.db_table for m in apps.get_models() if getattr(m, "append_only", False)]
    functions = sorted({f for m in apps.get_models() for f in getattr(m, "app_role_functions", ())})
    with connection.cursor() as cursor:
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {q(app_role)}")
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {q(app_role)}")
        cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {q(app_role)}")
        cursor.execute(f"REVOKE INSERT, UPDATE, DELETE ON django_migrations FROM {q(app_role)}")
        cursor.execute(
            "CREATE OR REPLACE FUNCTION refuse_change_of_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP "
            "USING ERRCODE = 'insufficient_privilege'; END $$"
        )
        for function in functions:
            cursor.execute("SELECT to_regprocedure(%s) IS NOT NULL", [function])
            if not cursor.fetchone()[0]:
                continue  # migrated back to before the function existed
            # Signatures come from model metadata, not from input.
            cursor.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
            cursor.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {q(app_role)}")
        for table in append_only:
            cursor.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {q(table)} FROM {q(app_role)}")
            cursor.execute(f"DROP TRIGGER IF EXISTS append_only ON {q(table)}")
            cursor.execute(
                f"CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON {q(table)} "
                "FOR EACH ROW EXECUTE FUNCTION refuse_change_of_append_only()"
            )
