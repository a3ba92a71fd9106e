"""``CompiledRead`` gives exactly what DRF's own ``to_representation`` gives."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.postgres.fields import ArrayField
from django.db import models
from rest_framework import serializers

from advisorportal.serializers import CompiledRead
from crm.models import Contact
from crm.serializers import ContactSerializer


def _sample(field: models.Field[Any, Any], n: int) -> Any:
    if field.choices:
        return list(dict(field.flatchoices))[n % len(field.flatchoices)]
    if isinstance(field, ArrayField):
        return [_sample(field.base_field, n), _sample(field.base_field, n + 1)]
    if isinstance(field, models.DateTimeField):
        return datetime(2024, 2, 29, 13, 5, 7, 120, tzinfo=UTC)
    if isinstance(field, models.DateField):
        return date(2020, 1, 2 + n % 20)
    if isinstance(field, models.DecimalField):
        return Decimal("1234.5") + n
    if isinstance(field, models.BooleanField):
        return n % 2 == 0
    if isinstance(field, models.IntegerField):
        return 7 + n
    if isinstance(field, models.JSONField):
        return {"n": n}
    return f"välue <{n}> & co"


def _full_contact() -> Contact:
    contact = Contact(id=41, firm_id=1)
    for n, field in enumerate(Contact._meta.concrete_fields):
        if not field.primary_key and not field.is_relation:
            setattr(contact, field.attname, _sample(field, n))
    contact.advisor_id = 9
    contact.accounts = ["U100", "U200"]  # type: ignore[attr-defined]
    contact.nav = Decimal("1050.456")  # type: ignore[attr-defined]
    return contact


def _drf(serializer: serializers.ModelSerializer[Any], instance: Any) -> dict[str, Any]:
    return dict(serializers.ModelSerializer.to_representation(serializer, instance))


@pytest.mark.parametrize("contact", [_full_contact(), Contact(id=3, firm_id=1, first_name="Ann", last_name="Lee")])
def test_compiled_read_matches_drf(contact: Contact) -> None:
    serializer = ContactSerializer()
    assert ContactSerializer.read_plan() is not None  # the fast path is taken
    fast = CompiledRead.to_representation(serializer, contact)  # type: ignore[arg-type]
    assert fast == _drf(serializer, contact)
    assert list(fast) == list(_drf(serializer, contact))  # same keys, same order


def test_missing_attributes_take_the_fields_defaults() -> None:
    contact = Contact(id=3, firm_id=1, last_name="Lee")  # no accounts/nav annotations
    serializer = ContactSerializer()
    assert CompiledRead.to_representation(serializer, contact) == _drf(serializer, contact)  # type: ignore[arg-type]
    assert serializer.to_representation(contact)["accounts"] == []


def test_a_serializer_with_a_method_field_keeps_drfs_path() -> None:
    class WithMethod(CompiledRead, serializers.ModelSerializer[Contact]):
        label = serializers.SerializerMethodField()

        class Meta:
            model = Contact
            fields = ["id", "label"]

        def get_label(self, contact: Contact) -> str:
            return f"#{contact.pk}"

    assert WithMethod.read_plan() is None
    assert WithMethod().to_representation(Contact(id=5, firm_id=1)) == {"id": 5, "label": "#5"}
