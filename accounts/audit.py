"""The audit trail: every create, update and delete of firm-owned objects, and every sensitive read.

Saves and deletes through the ORM are recorded automatically (signals on every ``FirmOwnedModel``
with ``audited = True``), in the same transaction as the change, with a before/after diff.
Bulk writes (``bulk_create``, ``bulk_update``, ``QuerySet.update``, the COPY kit of
``advisorportal.bulk``) send no signals: each statement hands its change to ``record_bulk``,
which writes one entry naming the model, the ids and the columns set (see ``advisorportal.bulk``
for why this and not triggers). Sensitive reads (exports, PDFs, account queries) call
``record_read``.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

from django.db import models
from django.db.models import DEFERRED
from django.db.models.signals import post_delete, post_save

from accounts.models import AuditAction, AuditEntry
from advisorportal import bulk, request_context
from advisorportal.tenancy.context import firm_scope
from advisorportal.tenancy.models import FirmOwnedModel

MASK = "•••"


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, datetime.date | datetime.datetime | datetime.time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def _values(instance: models.Model) -> dict[str, Any]:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def diff(instance: FirmOwnedModel, before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """``{field: [before, after]}`` for the fields that differ; masked fields show no values."""
    fields = [f.attname for f in instance._meta.concrete_fields if f.attname not in {"id", "firm_id"}]
    changes: dict[str, Any] = {}
    for name in fields:
        old = before.get(name) if before is not None else None
        new = after.get(name) if after is not None else None
        if before is not None and after is not None and (name not in before or old == new):
            continue  # unchanged, or not loaded (deferred) so unknown
        if before is None and new in (None, "", [], {}):
            continue
        masked = name in instance.audit_masked_fields or name.removesuffix("_id") in instance.audit_masked_fields
        changes[name] = [MASK, MASK] if masked else [_jsonable(old), _jsonable(new)]
    return changes


def record(
    *,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    changes: dict[str, Any] | None = None,
    actor_id: int | None = None,
) -> AuditEntry:
    """Append one entry, attributed to the current actor (or ``actor_id``), address, agent and request."""
    context = request_context.current()
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)[:200]
    return AuditEntry.objects.create(
        actor_id=actor_id or context.actor_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr[:200],
        changes=changes or {},
        ip=context.ip,
        user_agent=context.user_agent,
        request_id=context.request_id,
    )


def record_read(*, what: str, obj: models.Model | None = None, details: dict[str, Any] | None = None) -> AuditEntry:
    """A sensitive read (an export, a PDF, a query over client data)."""
    return record(
        action=AuditAction.READ,
        obj=obj,
        object_type="" if obj is not None else what,
        object_repr=what,
        changes={"details": _jsonable(details)} if details else {},
    )


def record_bulk(change: bulk.BulkChange) -> AuditEntry:
    """One entry for one bulk statement: ``ids`` as ranges, each column set as ``[None, value]``
    (masked columns without values; a list with a value per row, or "(a value per row)"), and the
    caller's details."""
    model = change.model
    masked_fields: frozenset[str] = getattr(model, "audit_masked_fields", frozenset())
    ranges = bulk.id_ranges(change.ids)
    changes: dict[str, Any] = {"rows": [None, len(change.ids)], "ids": [None, ", ".join(ranges)]}
    for name, value in change.values.items():
        if change.action == "create" and value in (None, "", [], {}):
            continue  # as for a saved object: an empty field of a new row is no news
        if name in masked_fields or name.removesuffix("_id") in masked_fields:
            changes[name] = [MASK, MASK]
        elif isinstance(value, bulk.PerRow):
            changes[name] = [None, [_jsonable(v) for v in value.values]]
        else:
            changes[name] = [None, _jsonable(value)]
    changes.update({name: [None, _jsonable(value)] for name, value in change.audit.details.items()})
    return record(
        action=change.action,
        object_type=model._meta.label_lower,
        object_id=",".join(ranges)[:64],
        object_repr=change.audit.reason,
        changes=changes,
    )


def _saved(sender: type[models.Model], instance: FirmOwnedModel, created: bool, raw: bool, **kwargs: Any) -> None:
    if raw:
        return
    loaded = None if created else getattr(instance, "_loaded_values", None)
    before = None if loaded is None else {k: v for k, v in loaded.items() if v is not DEFERRED}
    after = _values(instance)
    changes = diff(instance, before, after)
    automatic = {f.attname for f in instance._meta.concrete_fields if getattr(f, "auto_now", False)}
    if not created and before is not None and not set(changes) - automatic:
        return  # nothing but a timestamp moved
    record(action=AuditAction.CREATE if created else AuditAction.UPDATE, obj=instance, changes=changes)
    instance._loaded_values = after  # type: ignore[attr-defined]


def _deleted(sender: type[models.Model], instance: FirmOwnedModel, **kwargs: Any) -> None:
    record(action=AuditAction.DELETE, obj=instance, changes=diff(instance, _values(instance), None))


def _signed_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    with firm_scope(user.firm_id):
        record(action=AuditAction.LOGIN, object_type="accounts.user", object_id=str(user.pk),
               object_repr=user.email, actor_id=user.pk)  # fmt: skip


def _signed_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        with firm_scope(user.firm_id):
            record(action=AuditAction.LOGOUT, object_type="accounts.user", object_id=str(user.pk),
                   object_repr=user.email, actor_id=user.pk)  # fmt: skip


def connect() -> None:
    from django.apps import apps
    from django.contrib.auth.signals import user_logged_in, user_logged_out

    user_logged_in.connect(_signed_in, dispatch_uid="audit-login")
    user_logged_out.connect(_signed_out, dispatch_uid="audit-logout")

    for model in apps.get_models():
        if issubclass(model, FirmOwnedModel) and model.audited:
            uid = f"audit-{model._meta.label_lower}"
            post_save.connect(_saved, sender=model, dispatch_uid=uid + "-save")
            post_delete.connect(_deleted, sender=model, dispatch_uid=uid + "-delete")
