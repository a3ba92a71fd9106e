"""Stored values of model rows as JSON and back, for the merge snapshot.

Binary values (tax id ciphertext, pictures) become base64 strings, dates ISO strings, decimals
strings; ``load`` turns them back with each field's own ``to_python``.
"""

from __future__ import annotations

import base64
import datetime
import decimal
from typing import Any

from django.db import models

from crm.models import Contact

# What one choice on the compare page covers: the tax id travels as its sealed parts, the picture
# with its type, the advisor as the user id.
CHOICE_ATTNAMES: dict[str, tuple[str, ...]] = {
    "tax_id": ("tax_id_type", "tax_id_encrypted", "tax_id_digest", "tax_id_last4"),
    "picture": ("picture", "picture_type"),
    "advisor": ("advisor_id",),
}


def attnames(choice: str) -> tuple[str, ...]:
    return CHOICE_ATTNAMES.get(choice, (choice,))


def dump_value(value: Any) -> Any:
    if isinstance(value, bytes | memoryview | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [dump_value(v) for v in value]
    return value


def stored_fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    return [f for f in model._meta.concrete_fields if not getattr(f, "generated", False)]


def dump_row(instance: models.Model) -> dict[str, Any]:
    """Every stored column of ``instance`` (generated columns left out: the database computes them)."""
    return {f.attname: dump_value(getattr(instance, f.attname)) for f in stored_fields(type(instance))}


def load_row(model: type[models.Model], row: dict[str, Any]) -> dict[str, Any]:
    """``dump_row``'s output as keyword arguments for ``model(**…)``."""
    by_attname = {f.attname: f for f in stored_fields(model)}
    return {name: _load(by_attname[name], value) for name, value in row.items() if name in by_attname}


def _load(field: models.Field[Any, Any], value: Any) -> Any:
    if value is None:
        return None
    if isinstance(field, models.BinaryField):
        return base64.b64decode(value)
    if isinstance(field, models.ForeignKey):
        return value
    return field.to_python(value)


def choice_values(contact: Contact, choice: str) -> dict[str, Any]:
    """The stored values one choice covers on ``contact``, JSON-ready."""
    return {name: dump_value(getattr(contact, name)) for name in attnames(choice)}


def comparable(contact: Contact, choice: str) -> Any:
    """A value to tell whether two contacts differ in ``choice`` (the tax id by its digest)."""
    if choice == "tax_id":
        return (contact.tax_id_digest, contact.tax_id_type)
    if choice == "picture":
        return base64.b64encode(bytes(contact.picture)).decode() if contact.picture else ""
    value = dump_value(getattr(contact, attnames(choice)[0]))
    return tuple(value) if isinstance(value, list) else value


def is_empty(value: Any) -> bool:
    return value in (None, "", (), [], ("", ""))
