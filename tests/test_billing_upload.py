"""Bulk upload of advisor-calculated fees (issue #18, point 6), on the real ledger: a dry run posts
nothing; bad rows are named by row and column, make nothing and leave an audit entry; a file
becomes a fee run approved and posted by the runs' own services, once per account and period even
when uploaded twice; an account whose cash does not cover its fee is held back, never overdrawn; a
posted run of an overlapping period refuses the row; the page and the API, and their outsiders."""

from __future__ import annotations

import io
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from accounts.models import AuditEntry
from advisorportal.jobs import services as job_services
from billing import services, upload
from billing.models import FeeLine, FeeRun, FeeUpload, LineStatus, RunStatus
from portfolios import services as ledger
from portfolios.models import ClientAccount, LedgerPosting
from tests.conftest import Persona
from tests.factories import ContactFactory, UserFactory
from tests.factories_portfolios import ClientAccountFactory

pytestmark = pytest.mark.django_db
D = Decimal
HEADER = "account,period_start,period_end,amount,description\n"
GOOD = HEADER + "A1000001,2025-01-01,2025-03-31,1250.00,Q1 fee\nA1000002,2025-01-01,2025-03-31,300,Q1 fee\n"


@pytest.fixture
def book(alice: Persona) -> dict[str, Any]:
    with alice.scope():
        master = ClientAccountFactory(number="MASTER", is_master=True)
        checker = UserFactory(firm=alice.firm, email="checker@alpha.test", full_name="Chris Checker")
        owner = ContactFactory(first_name="Olga", last_name="Oak", email="olga@example.test")
        first = ClientAccountFactory(number="A1000001", owners=[owner], inception_date=date(2025, 1, 1))
        second = ClientAccountFactory(number="A1000002", owners=[owner], inception_date=date(2025, 1, 1))
        poor = ClientAccountFactory(number="A1000003", owners=[owner], inception_date=date(2025, 1, 1))
        for account, amount in ((first, "50000"), (second, "20000"), (poor, "100")):
            ledger.transaction_record(actor=None, account=account, kind="deposit", trade_date=date(2025, 1, 2),
                                      amount=D(amount))  # fmt: skip
    return {"master": master, "checker": checker, "first": first, "second": second, "poor": poor}


def cash(alice: Persona, account: ClientAccount) -> Decimal:
    with alice.scope():
        rows = LedgerPosting.objects.filter(account=account, ledger_account="cash")
        return sum((p.amount for p in rows), D(0))


def approve_and_post(alice: Persona, book: dict[str, Any], run_id: int) -> FeeRun:
    with alice.scope():
        run = FeeRun.objects.get(pk=run_id)
        services.run_approve(actor=book["checker"], run=run)
        run = services.run_post(actor=alice.user, run=run)
        assert job_services.job_execute(job_id=run.job_id) == "done"  # type: ignore[arg-type]
        run.refresh_from_db()
        return run


def test_a_dry_run_shows_what_would_post_and_makes_nothing(alice: Persona, book: dict[str, Any]) -> None:
    with alice.scope():
        checked = upload.check(user=alice.user, data=GOOD.encode(), file_name="q1.csv")
        assert checked.ok and checked.period == (date(2025, 1, 1), date(2025, 3, 31))
        assert [(r.row, r.account, r.amount, r.to_post) for r in checked.rows] == [
            (2, "A1000001", D("1250.00"), D("1250.00")),
            (3, "A1000002", D("300"), D("300")),
        ]
    page = alice.client().post("/billing/uploads/", {"file": SimpleUploadedFile("q1.csv", GOOD.encode()),
                                                     "dry_run": "on"})  # fmt: skip
    assert page.status_code == 200 and "Dry run of q1.csv" in page.content.decode()
    assert "1,250.00" in page.content.decode()
    answer = alice.api().post("/api/v1/billing/uploads/", {"file": io.BytesIO(GOOD.encode()), "dry_run": "true"},
                              format="multipart")  # fmt: skip
    assert answer.status_code == 200, answer.content
    assert answer.json()["to_post"] == "1550.00" and answer.json()["run"] is None
    with alice.scope():
        assert not FeeRun.objects.exists() and not FeeUpload.objects.exists()
    assert cash(alice, book["first"]) == D("50000")


def test_bad_rows_are_named_by_row_and_column_and_nothing_is_made(alice: Persona, book: dict[str, Any]) -> None:
    bad = (HEADER + "A1000001,2025-01-01,2025-03-31,12.345,too precise\n"
           "NOPE,2025-01-01,2025-03-31,10,unknown\n"
           "A1000002,2025-01-01,31/03/2025,10,bad date\n"
           "A1000001,2025-01-01,2025-03-31,-5,negative\n")  # fmt: skip
    with alice.scope():
        made, checked = upload.upload_create(actor=alice.user, data=bad.encode(), file_name="bad.csv")
        assert made.run_id is None
        messages = checked.messages()
        assert "Row 2, column amount: At most 2 decimals." in messages
        assert "Row 3, column account: No such account: NOPE." in messages
        assert any(m.startswith("Row 4, column period_end: Not a date as YYYY-MM-DD") for m in messages)
        assert "Row 5, column amount: A fee is not negative (a refund is a credit adjustment)." in messages
        assert not FeeRun.objects.exists()
        entry = AuditEntry.objects.filter(object_type="billing.feeupload", object_id=str(made.pk)).last()
        assert entry is not None and "Row 3, column account" in str(entry.changes)
    missing = "account,amount\nA1000001,10\n"
    api = alice.api().post("/api/v1/billing/uploads/", {"file": io.BytesIO(missing.encode())}, format="multipart",
                           HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))  # fmt: skip
    assert api.status_code == 400
    assert "Row 1, column period_start: This column is missing." in api.json()["error"]["fields"]["file"]
    page = alice.client().post("/billing/uploads/", {"file": SimpleUploadedFile("x.pdf", b"%PDF-1.4 junk")})
    assert page.status_code == 400 and "not a CSV or Excel file" in page.content.decode()
    with alice.scope():
        assert not FeeRun.objects.exists() and LedgerPosting.objects.filter(account=book["master"]).count() == 0


def test_posted_once_even_when_uploaded_twice(alice: Persona, book: dict[str, Any]) -> None:
    with alice.scope():
        first, _ = upload.upload_create(actor=alice.user, data=GOOD.encode(), file_name="q1.csv")
        assert first.run_id is not None
        run = FeeRun.objects.get(pk=first.run_id)
        assert run.status == RunStatus.PREVIEW and run.total_to_post == D("1550.00")
        with pytest.raises(Exception, match="four eyes"):
            services.run_approve(actor=alice.user, run=run)  # the uploader is the preparer
    posted = approve_and_post(alice, book, first.run_id)
    assert posted.status == RunStatus.POSTED and posted.total_to_post == D("1550.00")
    assert cash(alice, book["first"]) == D("48750.00") and cash(alice, book["second"]) == D("19700.00")
    assert cash(alice, book["master"]) == D("1550.00")

    again = alice.client().post("/billing/uploads/", {"file": SimpleUploadedFile("q1.csv", GOOD.encode())})
    assert again.status_code == 302
    with alice.scope():
        second = FeeUpload.objects.exclude(pk=first.pk).get()
        assert second.run_id is not None and again["Location"] == f"/billing/runs/{second.run_id}/"
        line = FeeLine.objects.get(run_id=second.run_id, account=book["first"])
        assert line.previously_billed == D("1250.00") and line.to_post == D("0.00")
        assert "Already billed 1,250.00 for this period" in line.explanation
    approve_and_post(alice, book, second.run_id)
    assert cash(alice, book["first"]) == D("48750.00") and cash(alice, book["master"]) == D("1550.00")

    key = str(uuid.uuid4())
    api = alice.api()
    one = api.post("/api/v1/billing/uploads/", {"file": io.BytesIO(GOOD.encode())}, format="multipart",
                   HTTP_IDEMPOTENCY_KEY=key)  # fmt: skip
    replay = api.post("/api/v1/billing/uploads/", {"file": io.BytesIO(GOOD.encode())}, format="multipart",
                      HTTP_IDEMPOTENCY_KEY=key)  # fmt: skip
    assert one.status_code == 201 and replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json()["run"] == one.json()["run"]
    with alice.scope():
        assert FeeUpload.objects.count() == 3


def test_an_overdraft_is_refused_and_overlapping_days_too(alice: Persona, book: dict[str, Any]) -> None:
    file = HEADER + "A1000003,2025-01-01,2025-03-31,500.00,more than its cash\nA1000002,2025-01-01,2025-03-31,10,\n"
    with alice.scope():
        checked = upload.check(user=alice.user, data=file.encode(), file_name="poor.csv")
        assert checked.ok and "Not enough cash" in checked.rows[0].note
        made, _ = upload.upload_create(actor=alice.user, data=file.encode(), file_name="poor.csv")
        assert made.run_id is not None
    run = approve_and_post(alice, book, made.run_id)
    with alice.scope():
        line = FeeLine.objects.get(run=run, account=book["poor"])
        assert line.status == LineStatus.NO_CASH and line.posted_amount is None
    assert cash(alice, book["poor"]) == D("100") and cash(alice, book["second"]) == D("19990.00")

    monthly = HEADER + "A1000002,2025-02-01,2025-02-28,5,February\n"
    with alice.scope():
        refused, checked = upload.upload_create(actor=alice.user, data=monthly.encode(), file_name="feb.csv")
        assert refused.run_id is None
        assert any("already billed for days of this period by FEE-" in m for m in checked.messages())


def test_an_excel_file_is_read_and_a_formula_refused(alice: Persona, book: dict[str, Any]) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["account", "period_start", "period_end", "amount", "description"])
    sheet.append(["A1000001", date(2025, 1, 1), date(2025, 3, 31), 1250.5, "Q1"])
    data = io.BytesIO()
    workbook.save(data)
    with alice.scope():
        checked = upload.check(user=alice.user, data=data.getvalue(), file_name="q1.xlsx")
        assert checked.ok and checked.rows[0].amount == D("1250.5")
    sheet["D3"] = "=1+1"
    sheet["A3"] = "A1000002"
    data = io.BytesIO()
    workbook.save(data)
    with alice.scope():
        checked = upload.check(user=alice.user, data=data.getvalue(), file_name="q1.xlsx")
        assert not checked.ok and any(m.startswith("Row 3, column amount: The cell holds a formula")
                                      for m in checked.messages())  # fmt: skip


def test_outsiders(bob: Persona, charlie: Persona, book: dict[str, Any]) -> None:
    assert bob.client().get("/billing/uploads/").status_code == 403
    assert bob.api().post("/api/v1/billing/uploads/", {"file": io.BytesIO(GOOD.encode())},
                          format="multipart").status_code == 403  # fmt: skip
    # Charlie's firm has no such accounts: every row is "No such account", nothing is made.
    answer = charlie.api().post("/api/v1/billing/uploads/", {"file": io.BytesIO(GOOD.encode()), "dry_run": "true"},
                                format="multipart")  # fmt: skip
    assert answer.status_code == 400 and "No such account: A1000001." in str(answer.json()["error"]["fields"])


def test_an_uploaded_run_is_never_computed_over(alice: Persona, book: dict[str, Any]) -> None:
    """Computing an uploaded run would replace the file's fees by the schedules': refused (audited),
    in the service, the job and the page (no "Compute again" button)."""
    with alice.scope():
        made, _ = upload.upload_create(actor=alice.user, data=GOOD.encode(), file_name="q1.csv")
        run = FeeRun.objects.get(pk=made.run_id)
        with pytest.raises(Exception, match="uploaded file"):
            services.run_recompute(actor=alice.user, run=run)
        assert AuditEntry.objects.filter(object_type="billing.feerun", object_id=str(run.pk),
                                         changes__has_key="refused").exists()  # fmt: skip
        fees = sorted(FeeLine.objects.filter(run=run).values_list("period_fee", flat=True))
        assert fees == [D("300.00"), D("1250.00")]
    page = alice.client().get(f"/billing/runs/{run.pk}/").content.decode()
    assert "Compute again" not in page and "uploaded file" in page
    response = alice.api().post(f"/api/v1/billing/runs/{run.pk}/recompute/", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    assert response.status_code == 400 and "uploaded file" in response.content.decode()
