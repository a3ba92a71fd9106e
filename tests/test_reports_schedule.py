"""Report definitions run by Celery beat and on demand (issue #19, point 3): a due definition runs
once by the beat task and mails each client once (in the outbox, with a single-use download link);
running the job again, a replayed message, concurrent deliveries and a worker killed mid-run mail
nobody twice; a client without an email address is told apart and mailed nothing; the pages and the
API of definitions, with their rights and scope."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core import mail as django_mail
from django.db import connection
from django.db.models.functions import Now
from django.test import Client

from accounts.rights import Role
from advisorportal.jobs import services as job_services
from advisorportal.jobs.models import Job
from advisorportal.mail.models import OutgoingEmail
from advisorportal.pdf import content_hash
from advisorportal.tenancy.context import firm_scope
from crm import services as crm_services
from reports.statements import delivery, services, tasks
from reports.statements.models import Delivery, ReportDefinition, ReportRun, Statement
from tests.concurrency import run_concurrently
from tests.conftest import Persona
from tests.factories import ContactFactory, FirmFactory, UserFactory
from tests.factories_portfolios import ClientAccountFactory
from tests.test_jobs_worker import _with_database, queue  # noqa: F401 - a fixture
from tests.test_reports_statements import START, build_book, pdf_text

BASE_DIR = Path(__file__).resolve().parent.parent
APRIL = date(2025, 4, 1)


@pytest.fixture(autouse=True)
def _locmem(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    django_mail.outbox = []


def quarterly(persona: Persona, **changes: Any) -> ReportDefinition:
    """The Hill household and Olga's account, an activity statement of the previous quarter, due on
    April 1, 2025 (as beat would find it on that day)."""
    with persona.scope():
        definition = services.definition_save(
            actor=persona.user, name="Quarterly statements", period="previous_quarter", frequency="quarterly",
            accounts=changes.pop("accounts", None) or [], households=changes.pop("households", None) or [],
            **changes,
        )  # fmt: skip
        ReportDefinition.objects.filter(pk=definition.pk).update(next_run_on=APRIL)
        definition.refresh_from_db()
        return definition


def sent_to(address: str) -> int:
    return OutgoingEmail.objects.filter(template=delivery.EMAIL_TEMPLATE, to=address).count()


def test_a_due_definition_runs_by_beat_and_mails_each_client_once(
    alice: Persona, django_capture_on_commit_callbacks: Any
) -> None:
    book = build_book(alice)
    definition = quarterly(alice, households=[book["household"]], accounts=[book["other"]])
    with alice.scope(), django_capture_on_commit_callbacks(execute=True):
        assert tasks.definitions_due_firm.run(alice.firm.pk) == 1  # what beat's per-firm task does
    with alice.scope():
        # It ran once, for the quarter before the day it was due (April 1), its day moved on.
        run = ReportRun.objects.get()
        assert (run.period_start, run.period_end, run.scheduled) == (date(2025, 1, 1), date(2025, 3, 31), True)
        definition.refresh_from_db()
        assert definition.next_run_on is not None and definition.next_run_on > date.today()
        assert Job.objects.get(pk=run.job_id).status == "done"
        statements = list(Statement.objects.filter(run=run).order_by("id"))
        assert len(statements) == 2 and all(s.made for s in statements)
        hill = next(s for s in statements if s.household_id)
        assert hill.period_start == START  # opened during the quarter: from its inception
        assert sorted(d.status for d in Delivery.objects.all()) == ["sent", "sent"]
    assert sorted(m.to[0] for m in django_mail.outbox) == ["hana@example.test", "olga@example.test"]
    hana = next(m for m in django_mail.outbox if m.to == ["hana@example.test"])
    assert hana.subject == "Your activity statement, Jan 1, 2025 to Mar 31, 2025" and not hana.attachments
    path = re.search(r"https?://[^/\s]+(/reports/statements/copy/[^\s]+/)", hana.body).group(1)  # type: ignore[union-attr]

    # The client's link: a GET changes nothing, the POST downloads the PDF kept, once.
    client = Client()
    assert client.get(path).status_code == 200 and client.get(path).status_code == 200
    download = client.post(path)
    assert download.status_code == 200 and content_hash(download.content) == hill.content_hash
    assert "Hill family" in pdf_text(download.content)
    assert client.post(path).status_code == 404

    # Beat again, Run now for the same quarter, the job's message replayed: nobody mailed again.
    with alice.scope(), django_capture_on_commit_callbacks(execute=True):
        tasks.definitions_due_firm.run(alice.firm.pk)
        again = delivery.run_start(actor=alice.user, definition=definition, on=APRIL)
        assert again.pk == run.pk and job_services.job_execute(job_id=again.job_id) in ("done", "running")
        Job.objects.filter(pk=again.job_id).update(status="queued")
        job_services.job_execute(job_id=again.job_id)
    assert len(django_mail.outbox) == 2
    with alice.scope():
        assert ReportRun.objects.count() == 1 and Statement.objects.count() == 2
        assert Delivery.objects.count() == 2 and sent_to("hana@example.test") == 1


def test_no_email_address_mails_nothing_says_so_and_mails_once_an_address_is_added(
    alice: Persona, django_capture_on_commit_callbacks: Any
) -> None:
    book = build_book(alice)
    with alice.scope():
        nora = ContactFactory(first_name="Nora", last_name="Nomail", email="")
        quiet = ClientAccountFactory(number="N3000001", owners=[nora], inception_date=START)
        from portfolios import performance as daily_values
        from portfolios import services as ledger

        ledger.transaction_record(actor=None, account=quiet, kind="deposit", trade_date=START, amount=10_000)
        daily_values.recompute_full(end=date(2025, 3, 31))
    definition = quarterly(alice, accounts=[quiet, book["other"]])
    with alice.scope(), django_capture_on_commit_callbacks(execute=True):
        run = delivery.run_start(actor=alice.user, definition=definition, on=APRIL)
    assert [m.to for m in django_mail.outbox] == [["olga@example.test"]]
    with alice.scope():
        refused = Delivery.objects.get(contact=nora)
        assert (
            refused.status == "no_email" and refused.message == "Not sent: Nora Nomail has no email address on record."
        )
        assert Statement.objects.filter(contact=nora).get().made  # made and kept, not mailed
        assert "1 not emailed (no email address)" in Job.objects.get(pk=run.job_id).error
    page = alice.client().get(f"/reports/statements/definitions/{definition.pk}/").content.decode()
    assert "Not sent: Nora Nomail has no email address on record." in page and "Emailed to olga@example.test" in page

    with alice.scope():
        crm_services.contact_update(actor=alice.user, contact=nora, email="nora@example.test")
    with alice.scope(), django_capture_on_commit_callbacks(execute=True):
        delivery.run_start(actor=alice.user, definition=definition, on=APRIL)
        delivery.run_start(actor=alice.user, definition=definition, on=APRIL)
    assert sorted(m.to[0] for m in django_mail.outbox) == ["nora@example.test", "olga@example.test"]
    with alice.scope():
        assert Delivery.objects.get(contact=nora).status == "sent"


def test_a_definition_through_the_pages_and_the_api(
    alice: Persona, bob: Persona, charlie: Persona, django_capture_on_commit_callbacks: Any
) -> None:
    book = build_book(alice)
    browser = alice.client()
    created = browser.post("/reports/statements/definitions/", {
        "name": "Hill quarterly", "kind": "performance", "style": "snapshot", "period": "previous_quarter",
        "households": [str(book["household"].pk)], "accounts": "", "frequency": "quarterly", "email_clients": "on",
        "active": "on",
    })  # fmt: skip
    assert created.status_code == 302, created.content.decode()[:3000]
    with alice.scope():
        definition = ReportDefinition.objects.get()
        assert definition.sections == ["summary", "performance", "chart", "allocation"]
        assert definition.next_run_on is not None and definition.next_run_on.day == 1
    refused = browser.post("/reports/statements/definitions/", {
        "name": "Hill quarterly", "kind": "activity", "style": "detailed", "period": "previous_quarter",
        "accounts": "H1000001 NOPE1", "frequency": "none",
    })  # fmt: skip
    assert refused.status_code == 400 and "No account NOPE1 in your scope." in refused.content.decode()
    duplicate = browser.post("/reports/statements/definitions/", {
        "name": "Hill quarterly", "kind": "activity", "style": "detailed", "period": "previous_quarter",
        "accounts": "H1000001", "frequency": "none",
    })  # fmt: skip
    assert duplicate.status_code == 400 and "already exists" in duplicate.content.decode()

    api = alice.api()
    body = {"name": "Olga monthly", "accounts": ["O2000001"], "period": "previous_month", "frequency": "monthly"}
    made = api.post("/api/v1/reports/definitions/", body, format="json", HTTP_IDEMPOTENCY_KEY="def-1")
    assert made.status_code == 201, made.json()
    assert made.json()["accounts"] == ["O2000001"] and made.json()["sections"][0] == "summary"
    replay = api.post("/api/v1/reports/definitions/", body, format="json", HTTP_IDEMPOTENCY_KEY="def-1")
    assert replay.json()["id"] == made.json()["id"]
    bad = api.post("/api/v1/reports/definitions/", {**body, "name": "x", "accounts": []}, format="json",
                   HTTP_IDEMPOTENCY_KEY="def-2")  # fmt: skip
    assert bad.status_code == 400 and "accounts" in bad.json()["error"]["fields"]
    with django_capture_on_commit_callbacks(execute=True):
        ran = api.post(f"/api/v1/reports/definitions/{made.json()['id']}/run/", format="json",
                       HTTP_IDEMPOTENCY_KEY="run-1")  # fmt: skip
    assert ran.status_code == 202, ran.json()
    # Last month has no daily values (they end in March 2025): the run says so and mails nobody.
    assert api.get(f"/api/v1/reports/definitions/{made.json()['id']}/deliveries/").json()["results"] == []
    with alice.scope():
        run = ReportRun.objects.get(pk=ran.json()["run"])
        assert run.refused and "No close after" in run.refused[0] and not django_mail.outbox

    assert bob.client().get("/reports/statements/definitions/").status_code == 403
    assert bob.api().get("/api/v1/reports/definitions/").status_code == 403
    for path in (f"/reports/statements/definitions/{definition.pk}/",):
        assert charlie.client().get(path).status_code == 404
        assert charlie.client().post(path + "run/").status_code == 404
    assert charlie.api().get(f"/api/v1/reports/definitions/{definition.pk}/").status_code == 404
    assert charlie.api().post(f"/api/v1/reports/definitions/{definition.pk}/run/", format="json",
                              HTTP_IDEMPOTENCY_KEY="c").status_code == 404  # fmt: skip


# --- Real concurrency and a killed worker ------------------------------------------------------------


@pytest.fixture
def delta(committed_db: None) -> Persona:
    firm = FirmFactory(name="Delta Wealth", slug="delta")
    return Persona(UserFactory(firm=firm, email="dora@delta.test", role=Role.PRIMARY), firm)


def test_concurrent_deliveries_to_one_client_mail_once(delta: Persona) -> None:
    book = build_book(delta)
    definition = quarterly(delta, accounts=[book["other"]], email_clients=False)
    with firm_scope(delta.firm):
        run = delivery.run_start(actor=delta.user, definition=definition, on=APRIL)
        assert job_services.job_execute(job_id=run.job_id) in ("done", "missing", "running")
        run.refresh_from_db()
        statements = list(Statement.objects.filter(run=run))
        assert len(statements) == 1 and statements[0].made

    def work(index: int) -> str:
        with firm_scope(delta.firm):
            return delivery.deliver(run=run, contact=book["olga"], statements=statements, actor=delta.user,
                                    date_format="iso")  # fmt: skip

    results = run_concurrently(6, work)
    assert sorted(results) == ["already"] * 5 + ["sent"], results
    with firm_scope(delta.firm):
        assert Delivery.objects.count() == 1 and sent_to("olga@example.test") == 1


@pytest.mark.usefixtures("queue")
def test_a_worker_killed_mid_run_leaves_its_work_and_the_retry_mails_nobody_twice(delta: Persona) -> None:
    book = build_book(delta)
    definition = quarterly(delta, households=[book["household"]], accounts=[book["other"]])
    with firm_scope(delta.firm):
        run = delivery.run_start(actor=delta.user, definition=definition, on=APRIL)
        job_id = run.job_id  # queued on this test's own queue, which no worker reads
        assert Job.objects.get(pk=job_id).status == "queued"
    database = connection.settings_dict["NAME"]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "advisorportal.settings_test", "APP_ENV": "test"}
    for name in ("DATABASE_URL", "DATABASE_OWNER_URL"):
        env[name] = _with_database(os.environ[name], database)
    done = subprocess.run(
        [sys.executable, "-m", "tests.statements_kill", str(delta.firm.pk), str(job_id)],
        cwd=BASE_DIR, env=env, capture_output=True, timeout=300, check=False,
    )  # fmt: skip
    output = done.stdout.decode() + done.stderr.decode()
    assert done.returncode == -9 and "delivered sent" in output and "not killed" not in output, output[-3000:]
    with firm_scope(delta.firm):
        assert Job.objects.get(pk=job_id).status == "running"  # waiting for its part
        [part] = Job.objects.filter(parent_id=job_id)  # two subjects: one part
        assert part.status == "running" and part.lease_expires_at is not None  # left holding a lease
        assert Statement.objects.filter(run=run).exclude(content_hash="").count() == 2  # both committed
        first = Delivery.objects.get()
        mailed = first.recipient_email
        assert sent_to(mailed) == 1
        # The sweeper finds the part's lease run out and queues it again; a worker carries on.
        Job.objects.filter(pk=part.pk).update(lease_expires_at=Now() - timedelta(minutes=5))
        assert job_services.jobs_sweep_firm()["requeued"] == 1
        if Job.objects.get(pk=part.pk).status == "queued":  # sent to the broker, not run inline
            job_services.job_execute(job_id=part.pk)
        assert Job.objects.get(pk=part.pk).status == "done" and Job.objects.get(pk=job_id).status == "done"
        assert Statement.objects.filter(run=run).count() == 2
        assert sorted(Delivery.objects.values_list("recipient_email", flat=True)) == [
            "hana@example.test", "olga@example.test",
        ]  # fmt: skip
        assert sent_to("hana@example.test") == 1 and sent_to("olga@example.test") == 1
