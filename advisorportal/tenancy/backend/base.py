"""PostgreSQL backend that hands the current firm to row-level security, per transaction.

Before the first statement of every transaction (and again whenever the firm in scope changes
inside one) it runs ``set_config('app.firm_id', <firm>, true)``, a transaction-local setting
that PostgreSQL forgets at COMMIT or ROLLBACK, so a pooled or persistent connection never carries
one firm's scope into another request. A statement outside any transaction (autocommit) with a
firm in scope is wrapped in its own short transaction for the same reason. With no firm in scope
the setting is empty and every firm-owned table reads as empty.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.backends.postgresql import base

from advisorportal.tenancy.constraints import RLS_SETTING
from advisorportal.tenancy.context import current_firm_id

_SET_FIRM = f"SELECT set_config('{RLS_SETTING}', %s, true)"
_UNKNOWN = object()
# Django's own savepoint statements must run even in an aborted transaction, where nothing else may.
_TRANSACTION_CONTROL = ("SAVEPOINT", "ROLLBACK", "RELEASE")


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rls_value: object = _UNKNOWN
        self.execute_wrappers.insert(0, self._apply_firm_scope)

    def _apply_firm_scope(self, execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        if sql.startswith(_TRANSACTION_CONTROL):
            return execute(sql, params, many, context)
        firm_id = current_firm_id()
        value = "" if firm_id is None else str(firm_id)
        if self.in_atomic_block or not self.get_autocommit():
            if self._rls_value != value:
                # On the connection, not the statement's cursor: that may be a server-side cursor
                # (``QuerySet.iterator()``), whose query runs only when fetched, so a set_config
                # sent through it would never run and the query would see no firm's rows.
                self.connection.execute(_SET_FIRM, [value])
                self._rls_value = value
            return execute(sql, params, many, context)
        if firm_id is None:
            return execute(sql, params, many, context)
        with transaction.atomic(using=self.alias):
            return self._apply_firm_scope(execute, sql, params, many, context)

    # Any end of a transaction, or rollback to a savepoint, discards the local setting.
    def _commit(self) -> None:
        self._rls_value = _UNKNOWN
        super()._commit()  # type: ignore[misc]

    def _rollback(self) -> None:
        self._rls_value = _UNKNOWN
        super()._rollback()  # type: ignore[misc]

    def _savepoint_rollback(self, sid: str) -> None:
        self._rls_value = _UNKNOWN
        super()._savepoint_rollback(sid)  # type: ignore[misc]

    def _set_autocommit(self, autocommit: bool) -> None:
        self._rls_value = _UNKNOWN
        super()._set_autocommit(autocommit)  # type: ignore[misc]

    def connect(self) -> None:
        self._rls_value = _UNKNOWN
        super().connect()
