"""Custodian imports end to end (Celery eager): what is stored, idempotency, conflicts, every class of
bad input with "nothing stored", prices as global data, scope and outsiders, pages and API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts import services as account_services
from accounts.models import AccountScope
from accounts.rights import Role
from portfolios.custodian import services
from portfolios.custodian.models import CustodianImportStatus, ImportJob
from portfolios.models import LedgerEntry, Position, SecurityPrice, Transaction
from tests.conftest import Persona
from tests.factories import UserFactory
from tests.factories_portfolios import ClientAccountFactory, SecurityFactory, SecurityPriceFactory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures" / "imports"
TX_HEADER = "account,trade_date,settle_date,type,symbol,quantity,price,amount,currency,description,external_id\n"


@pytest.fixture
def world(alice: Persona) -> dict[str, Any]:
    aapl = SecurityFactory(symbol="AAPL", currency="USD")
    msft = SecurityFactory(symbol="MSFT", currency="USD")
    with alice.scope():
        account = ClientAccountFactory(number="U1234567", title="Quinn individual")
        other = ClientAccountFactory(number="U7654321", title="Other")
    return {"aapl": aapl, "msft": msft, "account": account, "other": other}


@pytest.fixture
def upload(django_capture_on_commit_callbacks: Any) -> Callable[..., ImportJob]:
    """Upload as ``persona`` and run the task (eagerly, after commit); returns the reloaded job."""

    def run(persona: Persona, content: bytes | str, name: str = "file.csv", kind: str = "") -> ImportJob:
        data = content.encode() if isinstance(content, str) else content
        with persona.scope(), django_capture_on_commit_callbacks(execute=True):
            job = services.job_create(actor=persona.user, upload=SimpleUploadedFile(name, data), kind=kind)
        with persona.scope():
            return ImportJob.objects.select_related("background_job").get(pk=job.pk)

    return run


def stored(persona: Persona) -> tuple[Any, ...]:
    """Everything an import could write, to compare before and after."""
    with persona.scope():
        return (
            sorted(Transaction.objects.values_list("external_id", "kind", "quantity", "amount")),
            LedgerEntry.objects.count(),
            sorted(Position.objects.values_list("account_id", "security_id", "quantity", "cost_basis")),
            sorted(SecurityPrice.objects.values_list("security_id", "date", "close")),
        )


def report(job: ImportJob, level: str = "error") -> set[tuple[int, str]]:
    return {(issue["row"], issue["column"]) for issue in job.report if issue["level"] == level}


def messages(job: ImportJob) -> str:
    return " | ".join(issue["message"] for issue in job.report)


# --- Applying ---------------------------------------------------------------------------------


def test_transactions_csv_is_applied_with_ledger(alice: Persona, world: dict[str, Any], upload: Any) -> None:
    job = upload(alice, (FIXTURES / "transactions.csv").read_bytes())
    assert job.status == CustodianImportStatus.DONE, job.report
    assert (job.kind, job.created_count, job.unchanged_count, job.conflict_count) == ("transactions_csv", 4, 0, 0)
    assert job.rows_done == job.rows_total == 4 and job.percent == 100 and len(job.sha256) == 64
    with alice.scope():
        buy = Transaction.objects.get(external_id="CUST-0002")
        assert (buy.kind, buy.quantity, buy.amount, buy.settle_date) == (
            "buy",
            10,
            Decimal("-2285.00"),
            date(2025, 2, 5),
        )
        assert Position.objects.get(security=world["aapl"]).quantity == 10
        # A formula-looking cell is stored as the text it is.
        fee = Transaction.objects.get(kind="fee")
        assert fee.description == '=HYPERLINK("http://evil.example","click")' and fee.external_id.startswith("csv:")
        assert LedgerEntry.objects.count() == 4


def test_reimport_changes_nothing_and_reports_unchanged(alice: Persona, world: dict[str, Any], upload: Any) -> None:
    content = (FIXTURES / "transactions.csv").read_text()
    first = upload(alice, content)
    before = stored(alice)
    second = upload(alice, content, name="again.csv")
    assert second.status == CustodianImportStatus.DONE
    assert (second.created_count, second.unchanged_count, second.conflict_count) == (0, 4, 0)
    assert stored(alice) == before
    # The same rows in another file (another order, another name) are recognised too.
    lines = content.splitlines()
    shuffled = "\n".join([lines[0], lines[4], lines[2], lines[3], lines[1]]) + "\n"
    third = upload(alice, shuffled, name="reordered.csv")
    assert (third.status, third.created_count, third.unchanged_count) == (CustodianImportStatus.DONE, 0, 4)
    assert stored(alice) == before and first.sha256 != third.sha256


def test_conflicting_row_stores_nothing_from_the_file(alice: Persona, world: dict[str, Any], upload: Any) -> None:
    upload(alice, (FIXTURES / "transactions.csv").read_bytes())
    before = stored(alice)
    changed = TX_HEADER + (
        "U1234567,2025-03-01,,deposit,,,,10.00,USD,New money,CUST-0009\n"  # new: must not be stored
        "U1234567,2025-02-03,2025-02-03,deposit,,,,26000.00,USD,Wire from client,CUST-0001\n"  # other figure
    )
    job = upload(alice, changed)
    assert job.status == CustodianImportStatus.FAILED and job.conflict_count == 1 and job.created_count == 0
    assert report(job, "conflict") == {(3, "amount")}
    assert "25000" in messages(job) and "26000" in messages(job)
    assert stored(alice) == before


def test_a_row_refused_while_applying_rolls_back_the_whole_file(
    alice: Persona, world: dict[str, Any], upload: Any
) -> None:
    content = TX_HEADER + (
        "U1234567,2025-03-01,,deposit,,,,100.00,USD,,A1\n"
        "U1234567,2025-03-02,,withdrawal,,,,500.00,USD,,A2\n"  # more than the cash
    )
    job = upload(alice, content)
    assert job.status == CustodianImportStatus.FAILED and job.created_count == 0
    assert report(job) == {(3, "amount")} and "available cash" in messages(job)
    assert stored(alice) == stored(alice) and not Transaction.objects.unscoped().exists()


def test_flex_statement_import_and_reimport(alice: Persona, world: dict[str, Any], upload: Any) -> None:
    xml = (FIXTURES / "flex_statement.xml").read_bytes()
    job = upload(alice, xml, name="statement.xml")
    assert job.status == CustodianImportStatus.DONE, job.report
    assert job.kind == "broker_xml"
    # 3 trades + 5 cash transactions; the two open positions match what the trades left.
    assert (job.created_count, job.unchanged_count, job.conflict_count) == (8, 2, 0)
    with alice.scope():
        account = world["account"]
        assert Position.objects.get(account=account, security=world["aapl"]).quantity == 60
        assert Position.objects.get(account=account, security=world["aapl"]).cost_basis == Decimal("9015.60")
        from portfolios import selectors

        assert selectors.cash_balances(account=account) == {"USD": Decimal("37377.85")}
    # The statement's NAV is compared with ours (none computed yet): reported, not stored.
    assert any(i["level"] == "info" and "51,377.85" in i["message"] for i in job.report)
    before = stored(alice)
    again = upload(alice, xml, name="statement.xml")
    assert (again.status, again.created_count, again.unchanged_count) == (CustodianImportStatus.DONE, 0, 10)
    assert stored(alice) == before


def test_flex_positions_differing_from_holdings_are_conflicts(
    alice: Persona, world: dict[str, Any], upload: Any
) -> None:
    xml = (FIXTURES / "flex_statement.xml").read_text().replace('position="60"', 'position="61"')
    job = upload(alice, xml, name="statement.xml")
    assert job.status == CustodianImportStatus.FAILED and job.conflict_count == 1
    assert report(job, "conflict") == {(25, "position")}
    assert stored(alice)[0] == []


def test_positions_file_opens_positions_then_is_unchanged(alice: Persona, world: dict[str, Any], upload: Any) -> None:
    content = (FIXTURES / "positions.csv").read_bytes()
    job = upload(alice, content)
    assert (job.status, job.created_count) == (CustodianImportStatus.DONE, 2)
    with alice.scope():
        position = Position.objects.get(security=world["msft"])
        assert (position.quantity, position.cost_basis) == (Decimal("35.5"), Decimal("14200.25"))
        assert Transaction.objects.filter(kind="position_transfer_in").count() == 2
    before = stored(alice)
    again = upload(alice, content)
    assert (again.status, again.created_count, again.unchanged_count) == (CustodianImportStatus.DONE, 0, 2)
    differing = upload(alice, "account,symbol,quantity,cost_basis,currency,as_of\nU1234567,AAPL,100,1,USD,2025-02-28\n")
    assert differing.status == CustodianImportStatus.FAILED and report(differing, "conflict") == {(2, "quantity")}
    assert "holds 120" in messages(differing)
    assert stored(alice) == before


# --- Bad input: a report naming row and column, and nothing stored ---------------------------


@pytest.mark.parametrize(
    ("content", "kind", "expected"),
    [
        ("account,trade_date,amount\nU1234567,2025-01-02,5\n", "transactions_csv", {(1, "type")}),
        (TX_HEADER + "U0000000,2025-01-02,,deposit,,,,5,USD,,\n", "", {(2, "account")}),
        (TX_HEADER + "U1234567,2025-01-02,,buy,ZZZZ,1,1,,USD,,\n", "", {(2, "symbol")}),
        (TX_HEADER + "U1234567,2025-02-30,,deposit,,,,5,USD,,\n", "", {(2, "trade_date")}),
        (TX_HEADER + "U1234567,2025-01-02,,deposit,,,,5.5.5,USD,,\n", "", {(2, "amount")}),
        (
            TX_HEADER + "U1234567,2025-01-02,,deposit,,,,5,USD,,X1\nU1234567,2025-01-02,,deposit,,,,5,USD,,X1\n",
            "",
            {(3, "external_id")},
        ),
        (TX_HEADER + "U1234567,2025-01-02,,buy,AAPL,1,1,,EUR,,\n", "", {(2, "currency")}),
    ],
    ids=["missing-column", "unknown-account", "unknown-symbol", "bad-date", "bad-number", "duplicate", "currency"],
)
def test_bad_rows_store_nothing(
    alice: Persona, world: dict[str, Any], upload: Any, content: str, kind: str, expected: set[tuple[int, str]]
) -> None:
    before = stored(alice)
    if content.startswith(TX_HEADER):  # a good row first: it must not be stored either
        content = TX_HEADER + "U1234567,2025-01-01,,deposit,,,,50,USD,good row,G1\n" + content[len(TX_HEADER) :]
        expected = {(row + 1, column) for row, column in expected}
    job = upload(alice, content, kind=kind)
    assert job.status == CustodianImportStatus.FAILED and job.created_count == 0
    assert report(job) == expected
    assert stored(alice) == before


@pytest.mark.parametrize(
    ("content", "kind", "message"),
    [
        ((FIXTURES / "flex_statement.xml").read_bytes(), "transactions_csv", "looks like a broker statement"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "", "a PNG image"),
        (b"", "", "The file is empty."),
        ((FIXTURES / "latin1.csv").read_bytes(), "transactions_csv", "not UTF-8"),
    ],
    ids=["xml-as-csv", "png", "empty", "not-utf8"],
)
def test_wrong_kind_of_file_stores_nothing(
    alice: Persona, world: dict[str, Any], upload: Any, content: bytes, kind: str, message: str
) -> None:
    before = stored(alice)
    job = upload(alice, content, kind=kind)
    assert job.status == CustodianImportStatus.FAILED and report(job) == {(0, "")}
    assert message in messages(job)
    assert stored(alice) == before


def test_too_large_file_is_refused_unread(alice: Persona, world: dict[str, Any], upload: Any, settings: Any) -> None:
    settings.IMPORT_MAX_BYTES = 100
    job = upload(alice, (FIXTURES / "transactions.csv").read_bytes())
    assert job.status == CustodianImportStatus.FAILED and "the limit is 100 bytes" in messages(job)
    with alice.scope():
        assert bytes(ImportJob.objects.get(pk=job.pk).content) == b""
    assert stored(alice)[0] == []


def test_too_many_rows(alice: Persona, world: dict[str, Any], upload: Any, settings: Any) -> None:
    settings.IMPORT_MAX_ROWS = 2
    job = upload(alice, (FIXTURES / "transactions.csv").read_bytes())
    assert job.status == CustodianImportStatus.FAILED and "the limit is 2" in messages(job)
    assert stored(alice)[0] == []


# --- Prices: global reference data ------------------------------------------------------------


def test_firm_user_cannot_change_or_add_prices(alice: Persona, world: dict[str, Any], upload: Any) -> None:
    SecurityPriceFactory(security=world["aapl"], date=date(2025, 1, 31), close=Decimal("230"))
    before = stored(alice)
    job = upload(alice, (FIXTURES / "prices.csv").read_bytes())
    assert job.status == CustodianImportStatus.FAILED and "only platform operators" in messages(job)
    assert stored(alice) == before
    assert SecurityPrice.objects.get(security=world["aapl"]).close == Decimal("230")


def test_operator_adds_prices_but_never_replaces_one(
    alice: Persona, world: dict[str, Any], upload: Any, settings: Any
) -> None:
    settings.IMPORT_PRICE_OPERATORS = [alice.user.email.upper()]
    SecurityPriceFactory(security=world["aapl"], date=date(2025, 1, 31), close=Decimal("230"))
    job = upload(alice, (FIXTURES / "prices.csv").read_bytes())
    assert job.status == CustodianImportStatus.FAILED and report(job, "conflict") == {(2, "close")}
    assert not SecurityPrice.objects.filter(security=world["msft"]).exists()
    SecurityPrice.objects.filter(security=world["aapl"]).update(close=Decimal("236"))
    job = upload(alice, (FIXTURES / "prices.csv").read_bytes())
    assert (job.status, job.created_count, job.unchanged_count) == (CustodianImportStatus.DONE, 1, 1)
    assert SecurityPrice.objects.get(security=world["msft"]).close == Decimal("415.06")


# --- Background job and progress --------------------------------------------------------------


def test_progress_goes_through_the_kits_writer_row_by_row(
    alice: Persona, world: dict[str, Any], upload: Any, monkeypatch: Any
) -> None:
    from advisorportal.jobs.progress import Progress

    calls: list[tuple[int | None, str | None]] = []
    original = Progress.update

    def spy(self: Progress, done: int | None = None, **kwargs: Any) -> None:
        calls.append((done, kwargs.get("phase")))
        original(self, done, **kwargs)

    monkeypatch.setattr(Progress, "update", spy)
    content = TX_HEADER + "".join(f"U1234567,2025-01-{d:02d},,deposit,,,,{d},USD,,P{d}\n" for d in range(1, 8))
    job = upload(alice, content)
    assert job.status == CustodianImportStatus.DONE and job.rows_done == job.rows_total == 7 and job.percent == 100
    assert [phase for _, phase in calls if phase] == ["Validating", "Applying"]
    assert [done for done, phase in calls if phase is None and done][-7:] == [1, 2, 3, 4, 5, 6, 7]


def test_finished_job_is_not_run_again(alice: Persona, world: dict[str, Any], upload: Any) -> None:
    job = upload(alice, (FIXTURES / "transactions.csv").read_bytes())
    from advisorportal.jobs.tasks import run_job

    assert run_job(alice.firm.pk, job.background_job_id) == CustodianImportStatus.DONE
    assert stored(alice)[1] == 4


def test_task_refuses_without_firm() -> None:
    from advisorportal.jobs.tasks import run_job
    from advisorportal.tenancy.context import FirmScopeError

    with pytest.raises(FirmScopeError):
        run_job(None, 1)


# --- Scope and outsiders ----------------------------------------------------------------------


@pytest.fixture
def dora(alice: Persona, world: dict[str, Any]) -> Persona:
    """An advisor of firm A whose scope is one account (not U1234567)."""
    user = UserFactory(firm=alice.firm, email="dora@alpha.test", full_name="Dora Scoped", role=Role.ADVISOR)
    account_services.account_scope_set(
        actor=alice.user,
        user=user,
        scope=AccountScope.SELECTED,
        account_ids=frozenset({world["other"].pk}),
        household_ids=frozenset(),
    )
    return Persona(user, alice.firm)


def test_account_outside_scope_is_an_unknown_account(dora: Persona, upload: Any) -> None:
    content = TX_HEADER + "U1234567,2025-01-02,,deposit,,,,5,USD,,\nU7654321,2025-01-02,,deposit,,,,5,USD,,\n"
    job = upload(dora, content)
    assert job.status == CustodianImportStatus.FAILED
    assert [i["message"] for i in job.report] == ["Unknown account 'U1234567'."]
    assert stored(dora)[0] == []


def test_scoped_user_sees_only_own_jobs(alice: Persona, dora: Persona, upload: Any) -> None:
    mine = upload(alice, (FIXTURES / "positions.csv").read_bytes())
    assert dora.client().get(f"/imports/{mine.pk}/").status_code == 404
    assert "positions.csv" not in dora.client().get("/imports/").content.decode()
    assert alice.client().get(f"/imports/{mine.pk}/").status_code == 200


def test_bob_without_the_right_gets_403(bob: Persona, alice: Persona, world: dict[str, Any], upload: Any) -> None:
    job = upload(alice, (FIXTURES / "positions.csv").read_bytes())
    client, api = bob.client(), bob.api()
    for url in [
        "/imports/",
        f"/imports/{job.pk}/",
        f"/imports/{job.pk}/report.csv",
        "/imports/templates/prices_csv.csv",
    ]:
        assert client.get(url).status_code == 403, url
    assert client.post("/imports/", {"file": SimpleUploadedFile("a.csv", b"x")}).status_code == 403
    assert client.post(f"/imports/{job.pk}/retry/").status_code == 403
    assert api.post(f"/api/v1/imports/{job.pk}/cancel/").status_code == 403
    assert api.get("/api/v1/imports/").status_code == 403
    assert api.get(f"/api/v1/imports/{job.pk}/").status_code == 403
    assert api.post("/api/v1/imports/", {"file": SimpleUploadedFile("a.csv", b"x")}).status_code == 403


def test_charlie_gets_404_for_alices_job_everywhere(
    alice: Persona, charlie: Persona, world: dict[str, Any], upload: Any
) -> None:
    job = upload(alice, (FIXTURES / "positions.csv").read_bytes())
    client, api = charlie.client(), charlie.api()
    for url in [f"/imports/{job.pk}/", f"/imports/{job.pk}/report.csv"]:
        assert client.get(url).status_code == 404, url
    assert client.get(f"/imports/{job.pk}/", HTTP_HX_REQUEST="true").status_code == 404
    for action in ("cancel", "retry"):
        assert client.post(f"/imports/{job.pk}/{action}/").status_code == 404
        assert api.post(f"/api/v1/imports/{job.pk}/{action}/").status_code == 404
    assert api.get(f"/api/v1/imports/{job.pk}/").status_code == 404
    assert api.get("/api/v1/imports/").json()["results"] == []
    assert "positions.csv" not in client.get("/imports/").content.decode()


def test_charlie_cannot_import_into_alices_accounts(charlie: Persona, world: dict[str, Any], upload: Any) -> None:
    job = upload(charlie, TX_HEADER + "U1234567,2025-01-02,,deposit,,,,5,USD,,\n")
    assert job.status == CustodianImportStatus.FAILED and messages(job) == "Unknown account 'U1234567'."


# --- Pages and API ----------------------------------------------------------------------------


def test_upload_page_flow(alice: Persona, world: dict[str, Any], django_capture_on_commit_callbacks: Any) -> None:
    client = alice.client()
    page = client.get("/imports/")
    assert page.status_code == 200 and b'enctype="multipart/form-data"' in page.content
    assert b"csrfmiddlewaretoken" in page.content and b"Prices (CSV)" not in page.content  # not an operator
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            "/imports/", {"file": SimpleUploadedFile("tx.csv", (FIXTURES / "transactions.csv").read_bytes())}
        )
    assert response.status_code == 302
    detail_url = response["Location"]
    # Queued, the task not run yet: the panel polls itself.
    panel = client.get(detail_url, HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 1s"' in panel and "<html" not in panel and "Queued" in panel
    for callback in callbacks:
        callback()
    page_html = client.get(detail_url).content.decode()
    assert "every 1s" not in page_html and "The import is complete." in page_html
    assert 'data-count="created">4<' in page_html


def test_failed_job_page_shows_report_table_and_csv(alice: Persona, world: dict[str, Any], upload: Any) -> None:
    job = upload(alice, TX_HEADER + "U0000000,2025-01-02,,deposit,,,,5,USD,,\n")
    html = alice.client().get(f"/imports/{job.pk}/").content.decode()
    assert "Unknown account &#x27;U0000000&#x27;." in html and "<td>account</td>" in html
    response = alice.client().get(f"/imports/{job.pk}/report.csv")
    assert response["Content-Type"].startswith("text/csv") and "attachment" in response["Content-Disposition"]
    assert response.content.decode().splitlines() == [
        "row,column,level,message",
        "2,account,error,Unknown account 'U0000000'.",
    ]


def test_templates_download(alice: Persona, world: dict[str, Any]) -> None:
    response = alice.client().get("/imports/templates/transactions_csv.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response.content.decode().startswith(TX_HEADER)
    assert alice.client().get("/imports/templates/broker_xml.csv").status_code == 404


def test_upload_needs_csrf_token(alice: Persona, world: dict[str, Any]) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice.user)
    alice.pass_two_factor(client)
    response = client.post("/imports/", {"file": SimpleUploadedFile("tx.csv", b"account\n")})
    assert response.status_code == 403
    with alice.scope():
        assert not ImportJob.objects.exists()


def test_list_page_queries_are_constant(alice: Persona, world: dict[str, Any], upload: Any) -> None:
    client = alice.client()
    upload(alice, (FIXTURES / "positions.csv").read_bytes())
    client.get("/imports/")
    with CaptureQueriesContext(connection) as one:
        client.get("/imports/")
    for _ in range(4):
        upload(alice, (FIXTURES / "positions.csv").read_bytes())
    with CaptureQueriesContext(connection) as five:
        client.get("/imports/")
    assert len(one) == len(five)


def test_list_is_keyset_paginated_newest_first(alice: Persona, world: dict[str, Any], upload: Any) -> None:
    ids = [upload(alice, (FIXTURES / "positions.csv").read_bytes(), name=f"f{i}.csv").pk for i in range(3)]
    api = alice.api()
    first = api.get("/api/v1/imports/", {"page_size": 2}).json()
    assert [row["id"] for row in first["results"]] == [ids[2], ids[1]] and "report" not in first["results"][0]
    second = api.get(first["next"]).json()
    assert [row["id"] for row in second["results"]] == [ids[0]] and second["next"] is None


def test_api_upload_and_poll(alice: Persona, world: dict[str, Any], django_capture_on_commit_callbacks: Any) -> None:
    api = alice.api()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/imports/",
            {"file": SimpleUploadedFile("statement.xml", (FIXTURES / "flex_statement.xml").read_bytes())},
            format="multipart",
        )
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]
    body = api.get(f"/api/v1/imports/{job_id}/").json()
    assert body["status"] == "done" and body["kind"] == "broker_xml" and body["percent"] == 100
    assert body["created_count"] == 8 and any(issue["level"] == "info" for issue in body["report"])
    assert "content" not in body
    bad = api.post("/api/v1/imports/", {"file": SimpleUploadedFile("a.csv", b"x"), "kind": "nope"}, format="multipart")
    assert bad.status_code == 400 and bad.json()["error"]["fields"]["kind"]


def test_job_is_audited_without_its_content(alice: Persona, world: dict[str, Any], upload: Any) -> None:
    from accounts.models import AuditEntry

    job = upload(alice, (FIXTURES / "positions.csv").read_bytes())
    with alice.scope():
        entries = AuditEntry.objects.filter(object_type="imports.importjob", object_id=str(job.pk))
        assert entries.exists()
        for entry in entries:
            assert "AAPL" not in str(entry.changes)


def test_a_job_whose_worker_died_is_failed_clearly_and_retried(
    alice: Persona, world: dict[str, Any], settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """The worker is simulated dead (job claimed, lease run out): tests/test_jobs_worker.py kills a real one."""
    import datetime as dt

    from django.utils import timezone

    from advisorportal.jobs import services as jobs
    from advisorportal.jobs.models import Job

    settings.JOB_MAX_ATTEMPTS = 1
    client = alice.client()
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(
            "/imports/", {"file": SimpleUploadedFile("tx.csv", (FIXTURES / "transactions.csv").read_bytes())}
        )
    detail_url = response["Location"]
    with alice.scope():
        job = ImportJob.objects.get()
        assert jobs._claim(job.background_job_id) is not None
        Job.objects.filter(pk=job.background_job_id).update(lease_expires_at=timezone.now() - dt.timedelta(seconds=1))
        assert jobs.jobs_sweep_firm()["failed"] == 1
    page = client.get(detail_url).content.decode()
    assert "The worker stopped while this job was running; nothing was applied. Retry." in page
    assert "The import is complete" not in page and ">Retry</button>" in page and "every 1s" not in page
    assert api_status(alice, job.pk) == "failed" and stored(alice)[0] == []
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/imports/{job.pk}/retry/").status_code == 302
    assert api_status(alice, job.pk) == "done" and len(stored(alice)[0]) == 4


def api_status(persona: Persona, pk: int) -> str:
    return str(persona.api().get(f"/api/v1/imports/{pk}/").json()["status"])


def test_cancel_a_queued_import(alice: Persona, world: dict[str, Any], django_capture_on_commit_callbacks: Any) -> None:
    api = alice.api()
    with django_capture_on_commit_callbacks(execute=False):
        created = api.post(
            "/api/v1/imports/",
            {"file": SimpleUploadedFile("tx.csv", (FIXTURES / "transactions.csv").read_bytes())},
            format="multipart",
        ).json()
    assert created["status"] == "queued"
    cancelled = api.post(f"/api/v1/imports/{created['id']}/cancel/").json()
    assert cancelled["status"] == "cancelled" and "nothing was applied" in cancelled["error"]
    assert api.post(f"/api/v1/imports/{created['id']}/cancel/").status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"/api/v1/imports/{created['id']}/retry/").status_code == 202
    assert api_status(alice, created["id"]) == "done" and len(stored(alice)[0]) == 4


def test_an_excel_workbook_is_imported_like_its_csv(alice: Persona, world: dict[str, Any], upload: Any) -> None:
    from tests.test_imports_parsers import _workbook

    header = TX_HEADER.strip().split(",")
    rows = [["U1234567", date(2025, 3, 3), "", "deposit", "", "", "", 1500, "USD", "From Excel", "XL-1"]]
    job = upload(alice, _workbook([header, *rows]), name="deposits.xlsx")
    assert (job.status, job.kind, job.created_count) == (CustodianImportStatus.DONE, "transactions_csv", 1), job.report
    with alice.scope():
        assert Transaction.objects.get(external_id="XL-1").amount == Decimal("1500.00")
