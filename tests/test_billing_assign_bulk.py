"""Assigning a schedule to many households or accounts at once (issue #18, point 1 "in bulk"):
the terms before are read once for all the accounts concerned, the assignments are written in
bulk (with their audit entries), and the increases are found once after. The outcome is the one
of assigning them one at a time: the same assignments, the same increases (who, old and new terms,
fees, recipient, one email each), the same fee-run lines.

``ASSIGN_BULK_HOUSEHOLDS=2500 pytest tests/test_billing_assign_bulk.py -k measured -s`` times a
large assignment (the default is small, so the suite stays quick); the figures are in
docs/billing.md."""

from __future__ import annotations

import os
import time
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AuditEntry
from advisorportal import bulk
from advisorportal.jobs import services as job_services
from advisorportal.jobs.models import Job
from advisorportal.mail.models import OutgoingEmail
from billing import exclusion_services, increases, services
from billing.models import FeeAssignment, FeeIncrease, FeeSchedule, IncreaseStatus
from crm.models import Contact, Household, HouseholdMember
from portfolios.models import AccountOwner, ClientAccount
from tests.conftest import Persona

pytestmark = pytest.mark.django_db
D = Decimal
SEED = bulk.Audit(reason="test book")


def rate(pct: str) -> list[dict[str, Any]]:
    return [{"up_to": None, "annual_rate_pct": pct}]


def stamped(model: type[Any], count: int, columns: dict[str, Any]) -> list[int]:
    """``bulk.insert`` with the row's creation and change times set (as ``save`` would)."""
    now = bulk.Same(timezone.now())
    for f in model._meta.concrete_fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            columns.setdefault(f.attname, now)
    return bulk.insert(model, count, columns, audit=SEED)


def make_book(count: int, *, prefix: str = "B") -> list[Household]:
    """``count`` households, each with a head (with an email) owning two accounts of 300,000 and
    100,000 USD (the accounts' current values), written in bulk so a large book is quick to make."""
    contact_ids = stamped(Contact, count, {
        "first_name": [f"Head{i}" for i in range(count)], "last_name": [f"{prefix}family{i}" for i in range(count)],
        "email": [f"head{i}@{prefix.lower()}.example.test" for i in range(count)], "status": bulk.Same("active"),
    })  # fmt: skip
    household_ids = stamped(Household, count, {
        "name": [f"{prefix} family {i}" for i in range(count)], "head_id": contact_ids,
    })  # fmt: skip
    stamped(HouseholdMember, count, {"household_id": household_ids, "contact_id": contact_ids})
    accounts = 2 * count
    account_ids = stamped(ClientAccount, accounts, {
        "number": [f"{prefix}{1_000_000 + i}" for i in range(accounts)],
        "title": [f"Account {i}" for i in range(accounts)],
        "account_type": bulk.Same("individual"), "inception_date": bulk.Same(date(2025, 1, 2)),
        "household_id": [household_ids[i // 2] for i in range(accounts)],
        "nav": [D("300000.00") if i % 2 == 0 else D("100000.00") for i in range(accounts)],
        "base_currency": bulk.Same("USD"),
    })  # fmt: skip
    stamped(AccountOwner, accounts, {
        "account_id": account_ids, "contact_id": [contact_ids[i // 2] for i in range(accounts)],
        "role": bulk.Same("primary"),
    })  # fmt: skip
    return list(Household.objects.filter(pk__in=household_ids).order_by("pk"))


@pytest.fixture
def schedules(alice: Persona) -> dict[str, FeeSchedule]:
    """The firm's default, 1 % a year, and two others: Premium (1.5 %) and Light (0.5 %)."""
    terms = {"effective_from": date(2024, 1, 1), "method": "tiered", "valuation": "period_end"}
    with alice.scope():
        return {
            "standard": services.schedule_create(
                actor=alice.user, name="Standard", tiers=rate("1.00"), is_default=True, **terms
            ),
            "premium": services.schedule_create(actor=alice.user, name="Premium", tiers=rate("1.50"), **terms),
            "light": services.schedule_create(actor=alice.user, name="Light", tiers=rate("0.50"), **terms),
        }


def outcome() -> dict[str, Any]:
    """What an assignment left, without ids that differ between two books."""
    names = dict(Household.objects.values_list("pk", "name"))
    numbers = dict(ClientAccount.objects.values_list("pk", "number"))
    found = FeeIncrease.objects.select_related("old_version__schedule", "new_version__schedule")
    return {
        "assignments": sorted(
            (
                names.get(a.household_id) or numbers[a.account_id],
                a.schedule.name if a.schedule else None,
                a.householding,
                a.excluded,
                a.fee_cap_pct,
            )
            for a in FeeAssignment.objects.select_related("schedule")
        ),
        "increases": sorted(
            (
                names.get(i.household_id) or numbers[i.account_id],
                i.kind,
                i.status,
                i.old_version.schedule.name,
                i.new_version.schedule.name,
                i.old_annual_fee,
                i.new_annual_fee,
                i.value,
                i.recipient_email,
                i.sent_at is not None,
                i.email_id is not None,
            )
            for i in found
        ),
        "emails": sorted(OutgoingEmail.objects.filter(template=increases.EMAIL_TEMPLATE).values_list("to", flat=True)),
    }


def send_queued() -> None:
    """The approval-email jobs a bulk assignment queued, run as a worker would."""
    for job in Job.objects.filter(kind=increases.SEND_JOB, status="queued"):
        assert job_services.job_execute(job_id=job.pk) == "done"


@pytest.mark.parametrize("count", [3, increases.SEND_INLINE + 5])
def test_a_bulk_assignment_leaves_what_one_at_a_time_leaves(
    alice: Persona, schedules: dict[str, FeeSchedule], count: int
) -> None:
    """The same book assigned in one call and household by household: the same assignments,
    increases and emails (the Premium move raises every household). Up to ``SEND_INLINE`` the
    emails go in the assigning transaction; past it a job sends them, and until it has the
    increases already hold the old terms."""
    with alice.scope():
        households = make_book(count)
        for household in households:
            services.assign(actor=alice.user, schedule=schedules["premium"], households=[household])
        singly = outcome()
        FeeIncrease.objects.all().delete()
        FeeAssignment.objects.all().delete()
        OutgoingEmail.objects.all().delete()
        services.assign(actor=alice.user, schedule=schedules["premium"], households=households)
        queued = Job.objects.filter(kind=increases.SEND_JOB, status="queued").count()
        assert queued == (1 if count > increases.SEND_INLINE else 0)
        if queued:
            assert FeeIncrease.objects.filter(sent_at=None, status=IncreaseStatus.PENDING).count() == count
            members = list(ClientAccount.objects.filter(household__in=households).values_list("pk", flat=True))
            assert len(increases.pending_increases(alice.firm, members, date.today())) == 2 * count
            send_queued()
        assert outcome() == singly
        assert len(singly["increases"]) == count and len(singly["emails"]) == count
        assert {i[2] for i in singly["increases"]} == {IncreaseStatus.PENDING}
        assert all(i[5] == D("4000.00") and i[6] == D("6000.00") for i in singly["increases"])
        again = job_services.job_create(actor=alice.user, kind=increases.SEND_JOB)  # a retry, or a second job
        assert job_services.job_execute(job_id=again.pk) == "done"  # finds nothing left to send
        assert OutgoingEmail.objects.filter(template=increases.EMAIL_TEMPLATE).count() == count


def test_each_account_of_a_bulk_assignment_keeps_its_own_terms(
    alice: Persona, schedules: dict[str, FeeSchedule]
) -> None:
    """Accounts assigned in one call, some moving from the default (dearer: an increase each),
    some already on Premium (no change: nothing asked again), some to Light (cheaper: nothing)."""
    with alice.scope():
        households = make_book(4, prefix="C")
        accounts = list(ClientAccount.objects.filter(household__in=households).order_by("pk"))
        services.assign(actor=alice.user, schedule=schedules["premium"], accounts=accounts[:2])
        assert FeeIncrease.objects.count() == 2
        services.assign(actor=alice.user, schedule=schedules["premium"], accounts=accounts[:6])
        assert FeeIncrease.objects.count() == 6  # the first two asked once only
        services.assign(actor=alice.user, schedule=schedules["light"], accounts=accounts[6:])
        assert FeeIncrease.objects.count() == 6
        assert sorted(FeeIncrease.objects.values_list("new_annual_fee", flat=True)) == sorted(
            [D("4500.00"), D("1500.00")] * 3
        )


def test_a_bulk_assignment_is_audited(alice: Persona, schedules: dict[str, FeeSchedule]) -> None:
    with alice.scope():
        households = make_book(5, prefix="E")
        services.assign(actor=alice.user, schedule=schedules["light"], households=households[:2])
        before = AuditEntry.objects.filter(object_type="billing.feeassignment").count()
        services.assign(actor=alice.user, schedule=schedules["premium"], households=households)
        entries = AuditEntry.objects.filter(object_type="billing.feeassignment").order_by("pk")[before:]
        actions = sorted((e.action, e.changes["rows"][1]) for e in entries)
        assert actions == [("create", 3), ("update", 2)], actions


def test_bad_input_assigns_nothing(alice: Persona, schedules: dict[str, FeeSchedule]) -> None:
    with alice.scope():
        households = make_book(2, prefix="F")
        master = ClientAccount.objects.create(number="MASTER", title="Master", account_type="individual",
                                              inception_date=date(2025, 1, 2), is_master=True)  # fmt: skip
        accounts = list(ClientAccount.objects.filter(household__in=households))
        with pytest.raises(Exception, match="master account"):
            services.assign(actor=alice.user, schedule=schedules["premium"], accounts=[*accounts, master])
        assert not FeeAssignment.objects.exists() and not FeeIncrease.objects.exists()


def test_the_query_count_does_not_grow_with_the_households(alice: Persona, schedules: dict[str, FeeSchedule]) -> None:
    """Reading the terms and writing the rows costs the same number of queries for 3 households
    as for 30 (a move that raises nobody's fee: no increase to record)."""
    with alice.scope():
        small, large = make_book(3, prefix="G"), make_book(30, prefix="H")
        counts = []
        for book in (small, large):
            with CaptureQueriesContext(connection) as queries:
                services.assign(actor=alice.user, schedule=schedules["light"], households=book)
            counts.append(len(queries))
        assert counts[0] == counts[1], counts


@pytest.mark.parametrize("path", ["services", "exclusion_services"])
def test_measured_assignment_of_many_households(alice: Persona, schedules: dict[str, FeeSchedule], path: str) -> None:
    """Timed (printed, never asserted): every household moved from the default to Premium (an
    increase and an email each), then all of them to Light (no increase)."""
    count = int(os.environ.get("ASSIGN_BULK_HOUSEHOLDS", "40"))
    assign = services.assign if path == "services" else exclusion_services.assign
    with alice.scope():
        households = make_book(count, prefix="M")
        started = time.perf_counter()
        assign(actor=alice.user, schedule=schedules["premium"], households=households)
        dearer = time.perf_counter() - started
        assert FeeIncrease.objects.count() == count
        started = time.perf_counter()
        send_queued()
        emails = time.perf_counter() - started
        assert OutgoingEmail.objects.filter(template=increases.EMAIL_TEMPLATE).count() == count
        assert not FeeIncrease.objects.filter(sent_at=None).exists()
        started = time.perf_counter()
        assign(actor=alice.user, schedule=schedules["light"], households=households)
        cheaper = time.perf_counter() - started
        assert FeeIncrease.objects.count() == count
    print(f"\n[{path}] {count} households: to a dearer schedule {dearer:.2f} s ({count} increases; their "
          f"emails sent by the job in {emails:.2f} s), to a cheaper one {cheaper:.2f} s")  # fmt: skip


def test_the_pages_say_the_emails_are_being_sent(alice: Persona, schedules: dict[str, FeeSchedule]) -> None:
    """Households assigned on the schedule's page: the message says the clients are asked and the
    emails are being sent; Fee increases shows the job's progress (its panel polls itself) until
    the worker has sent them."""
    with alice.scope():
        make_book(increases.SEND_INLINE + 1, prefix="P")
        numbers = " ".join(ClientAccount.objects.filter(number__startswith="P").values_list("number", flat=True))
    page = alice.client()
    answer = page.post(
        f"/billing/schedules/{schedules['premium'].pk}/assigning/",
        {"accounts": numbers, "target": "households", "householding": "on"},
        follow=True,
    )
    text = answer.content.decode()
    assert answer.status_code == 200
    assert f"Premium assigned to {increases.SEND_INLINE + 1} households." in text
    assert "the emails asking them are being sent" in text
    listed = page.get("/billing/increases/").content.decode()
    assert 'id="increases-sending-bar"' in listed and "Awaiting the client" in listed
    panel = page.get("/billing/increases/?panel=sending").content.decode()
    assert panel.lstrip().startswith('<div id="increases-sending">') and "Waiting for a worker" in panel
    with alice.scope():
        send_queued()
    assert 'id="increases-sending-bar"' not in page.get("/billing/increases/").content.decode()
    assert (
        page.get("/billing/increases/?panel=sending").content.decode().strip() == '<div id="increases-sending"></div>'
    )
