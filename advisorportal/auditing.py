"""Audit entries that the floor's kits write (a link issued, consumed, refused, revoked, expired)
without importing the audit trail, which belongs to identity (``accounts/audit.py``), the layer
above the floor.

``accounts`` registers its ``record`` here when Django starts (``AccountsConfig.ready``). With
none registered, ``record`` raises: an event that must be audited never passes silently. The
entry is written in the caller's transaction, like every other audit entry, and takes actor,
address, user agent and request id from ``advisorportal.request_context``. Bulk writes have their
own entry point here, ``record_bulk``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from django.core.exceptions import ImproperlyConfigured
from django.db import models

if TYPE_CHECKING:
    from advisorportal.bulk import BulkChange

# The audit trail's action codes that the floor uses (accounts.models.AuditAction).
CREATE = "create"
UPDATE = "update"
READ = "read"


class Recorder(Protocol):
    def __call__(
        self,
        *,
        action: str,
        obj: models.Model | None = None,
        object_type: str = "",
        object_id: str = "",
        object_repr: str = "",
        changes: dict[str, Any] | None = None,
        actor_id: int | None = None,
    ) -> Any: ...


BulkRecorder = Callable[["BulkChange"], object]
_recorder: list[Recorder] = []
_bulk_recorder: list[BulkRecorder] = []


def register_recorders(*, single: Recorder, bulk: BulkRecorder) -> None:
    """Set the functions that write audit entries: one entry about one object, and one entry about
    one bulk statement (``advisorportal.bulk``). ``accounts`` registers both, once."""
    _recorder[:] = [single]
    _bulk_recorder[:] = [bulk]


def record(
    *,
    action: str,
    obj: models.Model,
    object_repr: str,
    changes: dict[str, Any] | None = None,
    actor_id: int | None = None,
) -> None:
    """Append one audit entry about ``obj`` (firm-owned, in the current firm's scope)."""
    if not _recorder:
        raise ImproperlyConfigured("No audit recorder is registered (accounts registers it when Django starts).")
    _recorder[0](action=action, obj=obj, object_repr=object_repr, changes=changes or {}, actor_id=actor_id)


def record_bulk(change: BulkChange) -> None:
    """Append the entry of one bulk statement (see ``advisorportal.bulk.record``)."""
    if not _bulk_recorder:
        raise ImproperlyConfigured("No audit recorder is registered (accounts registers it when Django starts).")
    _bulk_recorder[0](change)
