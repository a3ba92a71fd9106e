"""The tenancy layers, each tested on its own: a failure of one layer must be caught by the next."""

from __future__ import annotations

import pytest
from celery import shared_task
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.utils import ProgrammingError

from advisorportal.tenancy.context import FirmScopeError, current_firm_id, firm_scope, firm_task
from crm.models import Contact, Household, HouseholdMember
from tests.conftest import Persona
from tests.factories import ContactFactory, HouseholdFactory

pytestmark = pytest.mark.django_db


def _raw_count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        return cursor.fetchone()[0]


@pytest.fixture
def two_firms_of_contacts(alice: Persona, charlie: Persona) -> tuple[list[Contact], list[Contact]]:
    with alice.scope():
        a = ContactFactory.create_batch(3)
    with charlie.scope():
        b = ContactFactory.create_batch(2)
    return a, b


def test_manager_fails_closed_without_a_firm(two_firms_of_contacts: object) -> None:
    assert current_firm_id() is None
    with pytest.raises(FirmScopeError):
        list(Contact.objects.all())
    with pytest.raises(FirmScopeError):
        Contact(first_name="No", last_name="Firm").save()


def test_manager_returns_only_the_current_firm(alice: Persona, charlie: Persona, two_firms_of_contacts: tuple) -> None:
    a, b = two_firms_of_contacts
    with alice.scope():
        assert set(Contact.objects.values_list("pk", flat=True)) == {c.pk for c in a}
        assert not Contact.objects.filter(pk=b[0].pk).exists()
    with charlie.scope():
        assert Contact.objects.count() == 2


def test_rls_hides_other_firms_even_when_the_orm_is_bypassed(alice: Persona, two_firms_of_contacts: tuple) -> None:
    _, b = two_firms_of_contacts
    with alice.scope():
        assert Contact.objects.unscoped().count() == 3  # the escape hatch still meets RLS
        assert _raw_count("crm_contact") == 3
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM crm_contact WHERE id = %s", [b[0].pk])
            assert cursor.fetchall() == []
            cursor.execute("UPDATE crm_contact SET last_name = 'x' WHERE id = %s", [b[0].pk])
            assert cursor.rowcount == 0
            cursor.execute("DELETE FROM crm_contact WHERE id = %s", [b[0].pk])
            assert cursor.rowcount == 0


def test_rls_shows_nothing_without_a_firm(two_firms_of_contacts: tuple) -> None:
    assert _raw_count("crm_contact") == 0


def test_rls_refuses_writing_a_row_for_another_firm(alice: Persona, charlie: Persona) -> None:
    with (
        alice.scope(),
        pytest.raises(ProgrammingError, match="row-level security"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO crm_contact (firm_id, kind, status, first_name, last_name, email, phone, created_at,"
            " updated_at) VALUES (%s, 'individual', 'prospect', 'Eve', 'Intruder', '', '', now(), now())",
            [charlie.firm.pk],
        )


def test_database_refuses_a_link_to_another_firms_row(alice: Persona, charlie: Persona) -> None:
    with charlie.scope():
        foreign = ContactFactory()
    with alice.scope():
        household = HouseholdFactory()
        # Even with RLS satisfied (row in Alice's firm) the composite key refuses the foreign contact.
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO crm_householdmember (firm_id, household_id, contact_id) VALUES (%s, %s, %s)",
                [alice.firm.pk, household.pk, foreign.pk],
            )
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_model_validation_names_the_cross_firm_field(alice: Persona, charlie: Persona) -> None:
    with charlie.scope():
        foreign = ContactFactory()
    with alice.scope():
        household = HouseholdFactory()
        member = HouseholdMember(household=household, contact=foreign)
        with pytest.raises(ValidationError) as error:
            member.full_clean()
    assert "contact" in error.value.message_dict


def test_scope_changes_inside_one_transaction_are_applied(
    alice: Persona, charlie: Persona, two_firms_of_contacts: tuple
) -> None:
    with transaction.atomic():
        with alice.scope():
            assert _raw_count("crm_contact") == 3
        with charlie.scope():
            assert _raw_count("crm_contact") == 2
        assert _raw_count("crm_contact") == 0


def test_savepoint_rollback_does_not_lose_the_scope(alice: Persona, two_firms_of_contacts: tuple) -> None:
    with alice.scope(), transaction.atomic():
        try:
            with transaction.atomic():
                assert _raw_count("crm_contact") == 3
                raise RuntimeError
        except RuntimeError:
            pass
        assert _raw_count("crm_contact") == 3


def test_firm_owned_rows_get_the_scope_firm(alice: Persona) -> None:
    with alice.scope():
        contact = ContactFactory()
        household = HouseholdFactory(head=contact)
    assert contact.firm_id == household.firm_id == alice.firm.pk
    assert Household.objects.unscoped().filter(pk=household.pk).count() == 0  # no scope: RLS shows nothing


@shared_task
@firm_task
def count_contacts(firm_id: int) -> int:
    return Contact.objects.count()


def test_task_refuses_to_run_without_a_firm() -> None:
    with pytest.raises(FirmScopeError, match="without a firm_id"):
        count_contacts.apply(args=[None], throw=True)


def test_task_runs_in_its_firm(alice: Persona, two_firms_of_contacts: tuple) -> None:
    assert count_contacts.apply(args=[alice.firm.pk], throw=True).get() == 3
    assert current_firm_id() is None


def test_firm_scope_rejects_garbage() -> None:
    with pytest.raises(FirmScopeError), firm_scope("1"):
        pass
