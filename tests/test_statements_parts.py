"""A report definition's run in parts (``statements.run`` plans, ``statements.run.part`` makes and
mails; ``advisorportal.jobs.parts``): a recipient's statements stay in one part and one email; the
run's job shows the parts' summed progress and finishes once, done, or failed naming the part;
parts that run side by side, and a real worker killed mid-part (SIGKILL) whose part the sweeper
queues again, make every statement once and mail each client once (``OutgoingEmail`` rows)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import AuditEntry, User
from accounts.rights import Role
from advisorportal.jobs import services as job_services
from advisorportal.jobs.models import Job
from advisorportal.mail.models import OutgoingEmail
from advisorportal.tenancy.context import firm_scope
from crm.documents.models import Document
from reports.statements import delivery, services
from reports.statements.models import Delivery, ReportDefinition, Statement
from tests.concurrency import run_concurrently
from tests.conftest import Persona
from tests.factories import FirmFactory, UserFactory
from tests.test_jobs_worker import _with_database, queue  # noqa: F401 - a fixture
from tests.test_reports_statements import build_book

BASE_DIR = Path(__file__).resolve().parent.parent
APRIL = date(2025, 4, 1)
LEASE = 5  # the workers' JOB_LEASE_SECONDS (the smallest the setting takes)
WAIT = 180.0  # seconds, for a busy 2-core machine; reached only when something is wrong
COPY_LINK = re.compile(r"/reports/statements/copy/[^\s/]+/")


def definition_for(persona: Persona, book: dict[str, Any]) -> ReportDefinition:
    """Hana's account H1000001 and her Hill household (both hers: one part, one email) and Olga's
    O2000001, an activity statement of the quarter before April 1, 2025."""
    with persona.scope():
        return services.definition_save(
            actor=persona.user, name="Quarterly in parts", period="previous_quarter",
            accounts=[book["main"], book["other"]], households=[book["household"]],
        )  # fmt: skip


def sent_to(address: str) -> list[OutgoingEmail]:
    return list(OutgoingEmail.objects.filter(template=delivery.EMAIL_TEMPLATE, to=address))


def finishes(job: Job) -> int:
    """Audit entries recording the job leaving "running" for an end: one, when it finished once."""
    entries = AuditEntry.objects.filter(object_type="jobs.job", object_id=str(job.pk))
    return sum(1 for e in entries if (e.changes.get("status") or [None])[0] == "running"
               and e.changes["status"][1] in ("done", "failed", "cancelled"))  # fmt: skip


@pytest.fixture
def one_recipient_a_part(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "PART_MOST", 1)
    monkeypatch.setattr(delivery, "PART_LEAST", 1)


def test_each_recipients_statements_are_one_part_and_one_email_and_the_run_shows_the_parts_progress(
    alice: Persona, django_capture_on_commit_callbacks: Any, one_recipient_a_part: None
) -> None:
    book = build_book(alice)
    definition = definition_for(alice, book)
    with alice.scope(), django_capture_on_commit_callbacks(execute=True):
        run = delivery.run_start(actor=alice.user, definition=definition, on=APRIL)
    with alice.scope():
        parent = Job.objects.get(pk=run.job_id)
        pieces = list(Job.objects.filter(parent=parent).order_by("pk"))
        hana, olga = book["hana"].pk, book["olga"].pk
        assert [p.payload["targets"] for p in pieces] == [
            [["account", book["main"].pk, hana], ["household", book["household"].pk, hana]],
            [["account", book["other"].pk, olga]],
        ]
        assert [(p.kind, p.status, p.total) for p in pieces] == [("statements.run.part", "done", 3),
                                                                  ("statements.run.part", "done", 2)]  # fmt: skip
        assert (parent.status, parent.done, parent.total) == ("done", 5, 5)
        assert parent.error == "3 statements made, 2 clients emailed." and finishes(parent) == 1
        assert Statement.objects.filter(run=run).exclude(content_hash="").count() == 3
        [to_hana], [to_olga] = sent_to("hana@example.test"), sent_to("olga@example.test")
        assert len(set(COPY_LINK.findall(to_hana.text_body))) == 2  # her account's and her household's
        assert len(set(COPY_LINK.findall(to_olga.text_body))) == 1
    page = alice.client().get(f"/reports/statements/definitions/{definition.pk}/").content.decode()
    assert "3 statements made, 2 clients emailed." in page and 'data-job-status="done"' in page

    # Run now again for the quarter: everything is made and mailed, so no part is needed and nobody is mailed.
    with alice.scope(), django_capture_on_commit_callbacks(execute=True):
        again = delivery.run_start(actor=alice.user, definition=definition, on=APRIL)
    with alice.scope():
        assert again.pk == run.pk and again.job_id != parent.pk
        assert Job.objects.get(pk=again.job_id).status == "done" and not Job.objects.filter(parent_id=again.job_id)
        assert Statement.objects.filter(run=run).count() == 3 and OutgoingEmail.objects.count() == 2


def test_a_failed_part_fails_the_run_with_its_message(alice: Persona, one_recipient_a_part: None) -> None:
    book = build_book(alice)
    definition = definition_for(alice, book)
    with alice.scope():  # in the test's transaction nothing is sent to a worker: the test runs each job
        run = delivery.run_start(actor=alice.user, definition=definition, on=APRIL)
        assert job_services.job_execute(job_id=run.job_id) == "running"  # the plan: two parts
        first, second = Job.objects.filter(parent_id=run.job_id).order_by("pk")
        assert job_services.job_execute(job_id=second.pk) == "done"  # Olga's
        User.objects.filter(pk=alice.user.pk).update(is_active=False)  # the owner leaves before Hana's part
        assert job_services.job_execute(job_id=first.pk) == "failed"
        parent = Job.objects.get(pk=run.job_id)
        assert parent.status == "failed" and parent.error == (
            "Part 1 of 2 failed: Alice Able no longer may: This needs the Activity Statements right. Nothing was made."
        )
        assert finishes(parent) == 1
        assert Statement.objects.filter(run=run).count() == 1 and len(sent_to("olga@example.test")) == 1
        assert not sent_to("hana@example.test")


# --- Real concurrency and a killed worker ------------------------------------------------------------


@pytest.fixture
def delta(committed_db: None) -> Persona:
    firm = FirmFactory(name="Delta Wealth", slug="delta-parts")
    return Persona(UserFactory(firm=firm, email="dora@delta.test", full_name="Dora Dee", role=Role.PRIMARY), firm)


@pytest.mark.usefixtures("queue", "one_recipient_a_part")
def test_parts_that_run_side_by_side_make_each_statement_once_and_finish_the_run_once(delta: Persona) -> None:
    book = build_book(delta)
    definition = definition_for(delta, book)
    with firm_scope(delta.firm):
        run = delivery.run_start(actor=delta.user, definition=definition, on=APRIL)  # queued: no worker reads it
        assert job_services.job_execute(job_id=run.job_id) == "running"
        pieces = list(Job.objects.filter(parent_id=run.job_id).order_by("pk"))

    def work(index: int) -> str:
        with firm_scope(delta.firm):
            return job_services.job_execute(job_id=pieces[index].pk)

    assert run_concurrently(2, work) == ["done", "done"]
    with firm_scope(delta.firm):
        parent = Job.objects.get(pk=run.job_id)
        assert (parent.status, parent.done, parent.error) == ("done", 5, "3 statements made, 2 clients emailed.")
        assert finishes(parent) == 1 and Statement.objects.filter(run=run).count() == 3
        assert len(sent_to("hana@example.test")) == 1 and len(sent_to("olga@example.test")) == 1


@pytest.fixture
def start_worker(
    queue: str,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """``celery worker -c 2`` (prefork, as deployed) on the test's queue, with the app of
    ``tests.statements_worker`` (parts of one recipient; ``stall_after``: stall after that account's
    statement)."""
    database = connection.settings_dict["NAME"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "advisorportal.settings",
        "APP_ENV": "test",
        "APP_VAR_DIR": str(tmp_path),  # its documents and mail files
        "DATABASE_URL": _with_database(os.environ["DATABASE_URL"], database),
        "DATABASE_OWNER_URL": _with_database(os.environ["DATABASE_OWNER_URL"], database),
        "CELERY_QUEUE": queue,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "JOB_LEASE_SECONDS": str(LEASE),
        "MAIL_RATE_PER_MINUTE": "0",
        "PYTHONUNBUFFERED": "1",
    }
    started: list[subprocess.Popen[bytes]] = []

    def start(stall_after: str = "") -> subprocess.Popen[bytes]:
        log = (tmp_path / f"worker-{len(started)}.log").open("wb")
        worker = subprocess.Popen(
            [str(Path(sys.executable).parent / "celery"), "-A", "tests.statements_worker", "worker", "-c", "2",
             "-Q", queue, "-l", "warning", "--without-heartbeat", "--without-mingle", "--without-gossip"],
            env={**env, "STATEMENTS_STALL_AFTER": stall_after}, cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)


def _wait_for(what: str, check: Callable[[], Any], worker: subprocess.Popen[bytes] | None = None) -> Any:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        assert worker is None or worker.poll() is None, f"the worker exited ({worker.returncode}) before {what}"
        time.sleep(0.2)
    raise AssertionError(f"no {what} within {WAIT} s")


def test_a_worker_killed_mid_part_its_part_queued_again_makes_each_statement_once_and_mails_each_once(
    delta: Persona, start_worker: Any
) -> None:
    book = build_book(delta)
    definition = definition_for(delta, book)
    main = book["main"]
    with firm_scope(delta.firm):
        run = delivery.run_start(actor=delta.user, definition=definition, on=APRIL)  # to the test's queue
        job_id = run.job_id

        def parts_of(status: str) -> int:
            return Job.objects.filter(parent_id=job_id, status=status).count()

        # The first worker plans the run; its two processes take a part each. Hana's stalls right
        # after H1000001's statement committed, before her household's; Olga's finishes.
        first = start_worker(stall_after=main.number)
        kept = _wait_for("H1000001's statement", lambda: Statement.objects.filter(run=run, account=main)
                         .exclude(content_hash="").first(), first)  # fmt: skip
        _wait_for("Olga's part to finish", lambda: parts_of("done") == 1, first)
        os.killpg(first.pid, signal.SIGKILL)  # the worker and its processes, without warning
        first.wait(10)

        [stalled] = Job.objects.filter(parent_id=job_id, status="running")
        assert stalled.payload["targets"][0][1] == main.pk and stalled.attempts == 1
        assert Job.objects.get(pk=job_id).waiting_for_parts  # the run waits; no worker holds it
        assert Statement.objects.filter(run=run).count() == 2  # H1000001 and Olga's: each committed alone
        assert [d.contact_id for d in Delivery.objects.all()] == [book["olga"].pk]  # Hana not mailed yet

        # Its lease runs out; the sweeper (beat's task body) queues the part again, a new worker carries on.
        _wait_for("the part's lease to run out", lambda: Job.objects.get(pk=stalled.pk).lease_expires_at
                  < timezone.now())  # fmt: skip
        assert job_services.jobs_sweep()["requeued"] == 1
        second = start_worker()
        parent = _wait_for("the run to finish", lambda: (j := Job.objects.get(pk=job_id)).finished and j, second)

        assert (parent.status, parent.error) == ("done", "3 statements made, 2 clients emailed."), parent.error
        assert finishes(parent) == 1 and Job.objects.get(pk=stalled.pk).attempts == 2
        statements = Statement.objects.filter(run=run)
        assert statements.count() == 3 and statements.filter(account=main).get().pk == kept.pk  # made once
        assert Document.objects.filter(contact=book["hana"]).count() == 2  # one PDF each, none twice
        assert Document.objects.filter(contact=book["olga"]).count() == 1
        [to_hana], [_] = sent_to("hana@example.test"), sent_to("olga@example.test")  # one email each
        assert len(set(COPY_LINK.findall(to_hana.text_body))) == 2
        assert Delivery.objects.count() == 2
