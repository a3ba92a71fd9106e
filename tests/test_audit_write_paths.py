"""No write path skips the audit trail: services, bulk imports, merges, the COPY kit, group
membership and the ORM's bulk methods each leave entries that name what changed; statements
written by hand exist only where listed below, with their reason."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from accounts.audit import MASK
from accounts.models import AuditEntry
from advisorportal import bulk
from advisorportal.bulk import Audit, Same
from crm import services as crm_services
from crm.contact_io import services as import_services
from crm.contact_io.fields import COLUMNS as IMPORT_COLUMNS
from crm.merge import services as merge_services
from crm.models import Activity, ActivityKind, Contact, ContactSearchKey, Group, GroupMember, Household
from portfolios.custodian import services as custodian_services
from portfolios.custodian.models import ImportJob
from portfolios.models import Transaction
from tests.conftest import Persona
from tests.factories import ContactFactory
from tests.factories_portfolios import ClientAccountFactory, SecurityFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


def entries(persona: Persona, object_type: str, **filters: Any) -> list[AuditEntry]:
    with persona.scope():
        return list(AuditEntry.objects.filter(object_type=object_type, **filters).order_by("id"))


def ids_of(entry: AuditEntry) -> set[int]:
    """The ids an entry names (``"3-5, 9"``, or one id as the object id)."""
    return ids_of_text(entry.changes["ids"][1] if "ids" in entry.changes else entry.object_id)


def ids_of_text(text: str) -> set[int]:
    found: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        found |= set(range(int(lo), int(hi or lo) + 1))
    return found


def test_service_writes_record_each_change(alice: Persona) -> None:
    with alice.scope():
        contact = crm_services.contact_create(actor=alice.user, first_name="Ida", last_name="Wells", status="prospect")
        crm_services.contact_update(actor=alice.user, contact=contact, status="active")
    created, updated = entries(alice, "crm.contact", object_id=str(contact.pk))
    assert created.action == "create" and created.changes["last_name"] == [None, "Wells"]
    assert updated.action == "update" and updated.changes["status"] == ["prospect", "active"]
    assert updated.changes["client_since"][0] is None and updated.changes["client_since"][1]  # the status rule


def _workbook(rows: list[dict[str, Any]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Contacts"
    ws.append([c.label for c in IMPORT_COLUMNS])
    for row in rows:
        ws.append([row.get(c.field) for c in IMPORT_COLUMNS])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_contact_import_records_every_statement_and_the_whole(
    alice: Persona, django_capture_on_commit_callbacks: Any
) -> None:
    with alice.scope():
        known = ContactFactory(first_name="Ann", last_name="Known", email="ann@example.com", occupation="Baker")
    data = _workbook([
        {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "status": "active"},
        {"first_name": "Alan", "last_name": "Turing", "email": "alan@example.com"},
        {"first_name": "Ann", "last_name": "Known", "email": "ann@example.com", "occupation": "Pilot"},
    ])  # fmt: skip
    with alice.scope():
        job = import_services.import_upload(actor=alice.user, file_name="people.xlsx", data=data)
        job = import_services.import_preview(actor=alice.user, job=job)
        assert import_services.can_apply(job) is None, job.report
        with django_capture_on_commit_callbacks(execute=True):
            import_services.import_request_apply(actor=alice.user, job=job)
        new = Contact.objects.filter(email__in=["ada@example.com", "alan@example.com"])
        created = set(new.values_list("pk", flat=True))
    assert len(created) == 2

    whole = [e for e in entries(alice, "contact_io.contactimport", object_id=str(job.pk)) if "created_ids" in e.changes]
    assert len(whole) == 1 and whole[0].changes["updated"][1] == {str(known.pk): {"occupation": ["Baker", "Pilot"]}}

    contact_entries = [e for e in entries(alice, "crm.contact") if e.changes.get("import") == [None, job.pk]]
    inserted = [e for e in contact_entries if e.action == "create"]
    assert len(inserted) == 1 and ids_of(inserted[0]) == created
    assert sorted(inserted[0].changes["last_name"][1]) == ["Lovelace", "Turing"]
    assert inserted[0].object_repr.startswith(f"Created by import #{job.pk}")
    [changed] = [e for e in contact_entries if e.action == "update"]
    assert ids_of(changed) == {known.pk} and changed.changes["occupation"] == [None, ["Pilot"]]
    [timeline] = [e for e in entries(alice, "crm.activity") if e.changes.get("import") == [None, job.pk]]
    assert timeline.action == "create" and timeline.changes["contact_id"] == [None, [known.pk]]


def test_custodian_import_records_the_job_and_what_it_stored(
    alice: Persona, django_capture_on_commit_callbacks: Any
) -> None:
    SecurityFactory(symbol="AAPL", currency="USD")
    with alice.scope():
        ClientAccountFactory(number="U1234567")
    content = (
        "account,trade_date,settle_date,type,symbol,quantity,price,amount,currency,description,external_id\n"
        "U1234567,2026-03-02,2026-03-02,deposit,,,,5000.00,USD,Wire in,T-1\n"
        "U1234567,2026-03-03,2026-03-05,buy,AAPL,10,200.00,,USD,Bought AAPL,T-2\n"
    )
    with alice.scope(), django_capture_on_commit_callbacks(execute=True):
        job = custodian_services.job_create(actor=alice.user, upload=SimpleUploadedFile("tx.csv", content.encode()))
    with alice.scope():
        job = ImportJob.objects.select_related("background_job").get(pk=job.pk)
    assert job.status == "done", job.report
    trail = entries(alice, "imports.importjob", object_id=str(job.pk))
    assert trail[0].action == "create"
    assert any(e.changes.get("created_count", [None, 0])[1] == 2 for e in trail)
    [stored] = [e for e in trail if "portfolios.transaction" in e.changes]
    with alice.scope():
        transactions = set(Transaction.objects.filter(external_id__in=["T-1", "T-2"]).values_list("pk", flat=True))
    assert len(transactions) == 2 and ids_of_text(stored.changes["portfolios.transaction"][1]) == transactions
    # The status is the background job's; the jobs kit records each of its transitions.
    [finished] = [
        e for e in entries(alice, "jobs.job", object_id=str(job.background_job_id)) if e.changes["status"][1] == "done"
    ]
    assert finished.actor_id == alice.user.pk  # the import runs as its uploader


def test_merge_records_the_survivor_the_merged_and_every_moved_row(alice: Persona) -> None:
    with alice.scope():
        jane = ContactFactory(first_name="Jane", last_name="Doe", occupation="")
        twin = ContactFactory(first_name="Jane", last_name="Doe", occupation="Engineer")
        note = Activity.objects.create(
            contact=twin, kind=ActivityKind.NOTE, summary="Called", occurred_at=twin.created_at
        )
        merge = merge_services.contacts_merge(actor=alice.user, contacts=[jane, twin], survivor_id=jane.pk)
    assert [e.action for e in entries(alice, "crm.contact", object_id=str(twin.pk))][-1] == "delete"
    survivor = [e for e in entries(alice, "crm.contact", object_id=str(jane.pk)) if e.action == "update"]
    assert survivor and survivor[-1].changes["occupation"] == ["", "Engineer"]
    [moved] = [e for e in entries(alice, "crm.activity") if e.action == "update"]
    assert ids_of(moved) == {note.pk} and moved.changes["contact_id"] == [None, jane.pk]
    assert moved.changes["contact_id before"] == [None, [twin.pk]] and "by a merge" in moved.object_repr
    assert entries(alice, "contact_merge.contactmerge", object_id=str(merge.pk), action="create")


def test_the_kit_records_each_statement_and_masks_what_the_model_masks(alice: Persona) -> None:
    with alice.scope():
        contacts = [Contact(first_name="Copy", last_name=f"Person {i}") for i in range(3)]
        bulk.copy_insert(contacts, audit=Audit("Loaded for the test"))
        ids = [c.pk for c in contacts]
        bulk.update(Contact, ids, {"occupation": ["A", "B", "C"], "tax_id_last4": Same("1234")}, audit=Audit("Fixed"))
        [inserted] = [e for e in entries(alice, "crm.contact") if e.object_repr == "Loaded for the test"]
        assert inserted.action == "create" and ids_of(inserted) == set(ids)
        assert inserted.changes["last_name"] == [None, ["Person 0", "Person 1", "Person 2"]]
        [updated] = [e for e in entries(alice, "crm.contact") if e.object_repr == "Fixed"]
        assert ids_of(updated) == set(ids) and updated.changes["occupation"] == [None, ["A", "B", "C"]]
        assert updated.changes["tax_id_last4"] == [MASK, MASK]


def test_the_kit_refuses_an_audited_write_that_does_not_say_what_to_record(alice: Persona) -> None:
    with alice.scope():
        contact = ContactFactory()
        with pytest.raises(TypeError, match="audited"):
            bulk.update(Contact, [contact.pk], {"occupation": Same("x")}, audit=None)
        with pytest.raises(TypeError, match="audited"):
            bulk.copy_insert([Contact(first_name="No", last_name="Reason")], audit=None)
        before = AuditEntry.objects.count()
        # Derived data, not audited: no reason needed, nothing recorded.
        bulk.insert(ContactSearchKey, 1, {"contact_id": [contact.pk], "key": ["zz"]}, audit=None)
        assert AuditEntry.objects.count() == before


def test_group_membership_added_and_removed_is_recorded(alice: Persona) -> None:
    with alice.scope():
        group = crm_services.group_create(actor=alice.user, name="Golfers")
        first, second = ContactFactory(), ContactFactory()
        crm_services.group_add_members(actor=alice.user, group=group, contacts=[first, second])
        memberships = set(GroupMember.objects.filter(group=group).values_list("pk", flat=True))
        crm_services.group_remove_members(actor=alice.user, group=group, contacts=[first])
    [added] = [e for e in entries(alice, "crm.groupmember") if e.action == "create"]
    assert ids_of(added) == memberships and added.object_repr == "Added to the group Golfers"
    assert added.changes["group_id"] == [None, [group.pk, group.pk]]
    assert sorted(added.changes["contact_id"][1]) == sorted([first.pk, second.pk])
    [removed] = [e for e in entries(alice, "crm.groupmember") if e.action == "delete"]
    assert removed.changes["contact_id"] == [first.pk, None] and removed.changes["group_id"] == [group.pk, None]


def test_the_orm_bulk_methods_record_one_entry_each(alice: Persona) -> None:
    with alice.scope():
        head = ContactFactory()
        households = Household.objects.bulk_create([Household(name=f"H{i}", head=head) for i in range(3)])
        for household in households:
            household.name += " family"
        assert Household.objects.bulk_update(households, ["name"], batch_size=1) == 3  # three UPDATEs, one entry
        Household.objects.filter(pk=households[0].pk).update(name="Renamed")
        with bulk.described("Tidied up"):
            Group.objects.filter(pk__in=[]).update(name="x")  # nothing changed: nothing recorded
    created, bulk_updated, updated = entries(alice, "crm.household")
    assert created.action == "create" and ids_of(created) == {h.pk for h in households}
    assert created.changes["head_id"] == [None, [head.pk] * 3]
    assert bulk_updated.action == "update"
    assert bulk_updated.changes["name"] == [None, ["H0 family", "H1 family", "H2 family"]]
    assert (updated.object_id, updated.changes["name"]) == (str(households[0].pk), [None, "Renamed"])
    assert not entries(alice, "crm.group")


def test_a_large_bulk_write_names_its_ranges_and_shared_values(alice: Persona) -> None:
    with alice.scope():
        head = ContactFactory()
        rows = [Household(name=f"H{i}", head=head) for i in range(bulk.PER_ROW_LIMIT + 1)]
        Household.objects.bulk_create(rows)
    [entry] = entries(alice, "crm.household")
    assert ids_of(entry) == {h.pk for h in rows} and entry.changes["rows"] == [None, len(rows)]
    assert entry.changes["head_id"] == [None, head.pk] and entry.changes["name"] == [None, bulk.VARIES]


# Modules of the product that write with SQL of their own (so no signal and no automatic entry),
# and why that needs no audit entry of its own. A new one must be added here, with its reason.
RAW_WRITES: dict[str, str] = {
    "advisorportal/bulk.py": "the kit itself: every insert and update records its entry",
    "accounts/sessions.py": "marks a session as seen: sessions are not firm data",
    "crm/search.py": "search keys, derived from the audited contacts",
    "portfolios/series_store.py": "daily series, states and the accounts' latest NAV: derived from the books",
    "portfolios/performance.py": "daily series: derived from the books",
    "portfolios/aum.py": "the firm's assets under management by day: summed from the accounts' daily values",
    "portfolios/custodian/services.py": "a job's progress counter",
    "advisorportal/jobs/progress.py": "a job's progress counter, written beside the job's transaction",
    "advisorportal/idempotency/services.py": "an idempotency key: the stored first answer to a request",
}
WRITE = re.compile(r"\b(INSERT\s+INTO|DELETE\s+FROM|UPDATE\s+\{?[\w.]+\}?(\s+(AS\s+)?\w+)?\s+SET)\b")
PRODUCT = ("accounts", "advisorportal", "crm", "portfolios", "funding", "billing", "reports", "onboarding")


def test_statements_written_by_hand_are_only_where_listed() -> None:
    found = set()
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            if WRITE.search(path.read_text()):
                found.add(path.relative_to(ROOT).as_posix())
    assert found - set(RAW_WRITES) == set(), "write through the kit or the ORM, or list it with a reason"
