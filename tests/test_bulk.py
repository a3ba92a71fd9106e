"""``copy_insert`` writes what ``bulk_create`` would, under the same row-level security."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, ProgrammingError, transaction

from advisorportal.bulk import Audit, copy_insert
from crm.models import Contact
from tests.conftest import Persona

pytestmark = pytest.mark.django_db


def test_copy_insert_stores_every_kind_of_field_and_sets_primary_keys(alice: Persona) -> None:
    with alice.scope():
        contacts = [
            Contact(firm=alice.firm, first_name="Zoë", last_name="O'Brien, \\ \t tab", email="zoe@example.com",
                    date_of_birth=date(1980, 2, 29), net_worth=Decimal("1234567.89"), tags=["esg", "a,b"],
                    investment_objectives=["growth"], notes="line one\nline two"),
            Contact(firm=alice.firm, first_name="Null", last_name="Fields"),
        ]  # fmt: skip
        copy_insert(contacts, audit=Audit("Test contacts"))
        assert all(c.pk for c in contacts) and contacts[0].pk != contacts[1].pk
        stored = Contact.objects.get(pk=contacts[0].pk)
        assert (stored.first_name, stored.last_name, stored.notes) == (
            "Zoë",
            "O'Brien, \\ \t tab",
            "line one\nline two",
        )
        assert stored.date_of_birth == date(1980, 2, 29) and stored.net_worth == Decimal("1234567.89")
        assert stored.tags == ["esg", "a,b"] and stored.investment_objectives == ["growth"]
        assert stored.created_at is not None  # auto_now_add filled as on save()
        empty = Contact.objects.get(pk=contacts[1].pk)
        assert empty.date_of_birth is None and empty.net_worth is None and empty.tags == []


def test_copy_insert_cannot_write_into_another_firm(alice: Persona, charlie: Persona) -> None:
    with alice.scope():
        before = Contact.objects.count()
        with pytest.raises((ProgrammingError, IntegrityError)), transaction.atomic():
            copy_insert([Contact(firm=charlie.firm, first_name="Sneaky", last_name="Row")], audit=Audit("Sneaky"))
        assert Contact.objects.count() == before
    with charlie.scope():
        assert not Contact.objects.filter(first_name="Sneaky").exists()
