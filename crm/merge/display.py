"""How a contact's fields read to a person (compare page and client information PDF)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models

from advisorportal.formats import day
from crm.crypto import format_tax_id, open_tax_id
from crm.models import Contact

EMPTY = "—"


def _model_field(name: str) -> models.Field[Any, Any]:
    field = Contact._meta.get_field(name)
    assert isinstance(field, models.Field), name  # the merge compares concrete fields only
    return field


def field_label(name: str) -> str:
    if name == "tax_id":
        return "Tax id"
    if name == "picture":
        return "Picture"
    label = str(_model_field(name).verbose_name)
    return label[:1].upper() + label[1:]


def display_value(contact: Contact, name: str, *, full_tax_id: bool = False) -> str:
    """``name`` of ``contact`` as text: choice labels, dates, amounts, the tax id masked (or whole)."""
    if name == "tax_id":
        if not contact.tax_id_encrypted:
            return EMPTY
        if full_tax_id:
            return format_tax_id(open_tax_id(contact.tax_id_encrypted), contact.tax_id_type)
        return contact.tax_id_masked
    if name == "picture":
        return f"Picture ({len(bytes(contact.picture)) // 1024 + 1} KB)" if contact.picture else EMPTY
    if name == "advisor":
        return contact.advisor.full_name if contact.advisor else EMPTY
    model_field = _model_field(name)
    value = getattr(contact, name)
    if value in (None, "", []):
        return EMPTY
    choices = getattr(getattr(model_field, "base_field", None), "choices", None) or model_field.choices
    if isinstance(value, list):
        labels = dict(choices or [])
        return ", ".join(str(labels.get(v, v)) for v in value)
    if choices:
        return str(dict(choices).get(value, value))
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(model_field, models.DateField):
        return day(value)
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return str(value)
