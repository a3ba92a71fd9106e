"""A bulk update's audit entry under real concurrency: it names exactly the rows it changed."""

from __future__ import annotations

import pytest

from accounts.models import AuditEntry
from accounts.rights import Right
from advisorportal.tenancy.context import firm_scope
from crm.models import Contact
from tests.concurrency import run_concurrently
from tests.factories import ContactFactory, FirmFactory, UserFactory


@pytest.mark.usefixtures("committed_db")
def test_concurrent_conditional_updates_record_only_the_one_that_changed() -> None:
    """Eight transactions set the same still-empty field at once: one changes the row, and only
    its entry names it (the others find nothing left to change and record nothing)."""
    firm = FirmFactory(name="Delta Partners", slug="delta")
    UserFactory(firm=firm, email="dan@delta.test", rights=frozenset({Right.CRM}))
    with firm_scope(firm):
        contact = ContactFactory(occupation="")

    def work(index: int) -> int:
        with firm_scope(firm):
            return Contact.objects.filter(pk=contact.pk, occupation="").update(occupation=f"Job {index}")

    results = run_concurrently(8, work)
    assert sorted(results) == [0] * 7 + [1], results  # type: ignore[type-var]
    with firm_scope(firm):
        [entry] = AuditEntry.objects.filter(object_type="crm.contact", object_id=str(contact.pk), action="update")
        assert entry.changes["occupation"] == [None, Contact.objects.get(pk=contact.pk).occupation]
