"""Time statements as the worker makes them. Prints one JSON line. Used by ``make bench``
(scenarios ``statement_pdf`` and ``statement_run_1k``) and by hand:

    manage.py bench_statements harbor pdf        # one account's activity statement of the last quarter
    manage.py bench_statements harbor run 1000   # a report definition of 1,000 accounts, run as one job

``pdf``: the figures and the PDF of the last full quarter of an account with about a quarter's
usual activity (the one whose transaction count in that quarter is nearest 60, so about three
pages), five times after a warm-up (WeasyPrint's first use parses its stylesheets); nothing is
stored. Reported: the median seconds and the pages.

``run``: a new report definition (emailed: each client gets a link) of the first N accounts with
daily values, run by a real Celery worker with ``--processes`` processes (default 2, one a core):
``celery -A advisorportal worker -c 2`` started as a subprocess on a queue of its own, against the
same database and Redis, the run queued as Run now queues it, the run's job polled until it
finishes (its parts, ``advisorportal.jobs.parts``, run side by side), the worker stopped. Every
statement is computed, rendered and kept on the client's documents, and every client's email queued
and sent by the same worker (to files in a temporary directory; the firm's mail rate limit lifted).
The definition and its statements stay, as a real run's would. Reported: the seconds from queueing
the run to its end (the worker's start-up before it), the statements, parts and emails.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Max, Q

from accounts.models import Firm, User
from advisorportal.tenancy.context import firm_scope

TARGET_TRANSACTIONS = 60
POLL_SECONDS = 0.25
WORKER_START_SECONDS = 120
WORKER_STOP_SECONDS = 30
RUN_MOST_SECONDS = 3 * 3600
MAIL_DRAIN_SECONDS = 120


class Command(BaseCommand):
    help = "Time one statement PDF, or a statement run of N accounts, as the worker makes them."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("firm")
        parser.add_argument("mode", choices=["pdf", "run"])
        parser.add_argument("accounts", type=int, nargs="?", default=1000)
        parser.add_argument("--processes", type=int, default=2, help="worker processes (celery -c); default 2")

    def handle(self, *args: Any, **options: Any) -> None:
        settings.DEBUG = False  # as the worker runs: no SQL text kept for connection.queries
        firm = Firm.objects.filter(slug=options["firm"]).first()
        if firm is None:
            raise CommandError(f"No firm {options['firm']!r}.")
        with firm_scope(firm):
            owner = User.objects.filter(firm=firm, is_active=True).order_by("id").first()
            if options["mode"] == "pdf":
                figures = self._pdf(owner)
            else:
                figures = self._run(owner, options["accounts"], options["processes"])
        self.stdout.write(json.dumps(figures))

    def _period(self) -> tuple[date, date]:
        from portfolios.models import ClientAccount

        latest = ClientAccount.objects.aggregate(day=Max("nav_date"))["day"]
        if latest is None:
            raise CommandError("No account has daily values: run the daily values first.")
        quarter_start = date(latest.year, 3 * ((latest.month - 1) // 3) + 1, 1)
        next_quarter = date(quarter_start.year + (quarter_start.month == 10), (quarter_start.month + 2) % 12 + 1, 1)
        if latest >= next_quarter - timedelta(days=1) - timedelta(days=2):  # the quarter's last business day is in
            return quarter_start, next_quarter - timedelta(days=1)
        end = quarter_start - timedelta(days=1)
        return date(end.year, 3 * ((end.month - 1) // 3) + 1, 1), end

    def _pdf(self, owner: Any) -> dict[str, Any]:
        from django.utils import timezone

        from portfolios.models import ClientAccount
        from reports.statements import figures as compute
        from reports.statements import rendering, selectors, services
        from reports.statements.models import DEFAULT_SECTIONS, Kind, Statement, Style

        start, end = self._period()
        counted = (
            ClientAccount.objects.filter(nav_date__gte=end, inception_date__lte=start)
            .annotate(n=Count("transactions", filter=Q(transactions__trade_date__range=(start, end))))
            .values_list("pk", "n")
        )
        ranked = sorted(counted, key=lambda row: (abs(row[1] - TARGET_TRANSACTIONS), row[0]))
        if not ranked:
            raise CommandError("No account has values over the last quarter.")
        account_id, transactions = ranked[0]
        subject = selectors.account_subject(user=owner, pk=account_id)
        contact = selectors.recipient(subject)
        shared = services.firmwide()
        sections = list(DEFAULT_SECTIONS[(Kind.ACTIVITY, Style.DETAILED)])
        statement = Statement(
            kind=Kind.ACTIVITY, style=Style.DETAILED, sections=sections, contact=contact, period_start=start,
            period_end=end, title=f"Bench statement {start} to {end}",
        )  # fmt: skip
        asked = compute.Request(
            subject=subject, start=start, end=end, benchmark="", today=timezone.localdate(),
            date_format=shared.date_format,
        )  # fmt: skip
        recipient = {"name": contact.display_name if contact else "", "address": []}
        timings: list[tuple[float, float]] = []
        pages = 0
        for attempt in range(6):
            began = time.perf_counter()
            figures = compute.compute(asked)
            computed = time.perf_counter()
            pdf = rendering.render(statement=statement, figures=figures, sections=sections, brand=shared.brand,
                                   disclosures=shared.disclosures, recipient=recipient,
                                   date_format=shared.date_format)  # fmt: skip
            rendered = time.perf_counter()
            pages = services.page_count(pdf)
            if attempt:  # the first one warms WeasyPrint up
                timings.append((computed - began, rendered - computed))
        return {
            "account": subject.name,
            "period": [start.isoformat(), end.isoformat()],
            "transactions": transactions,
            "pages": pages,
            "bytes": len(pdf),
            "figures_seconds": round(statistics.median(t[0] for t in timings), 3),
            "render_seconds": round(statistics.median(t[1] for t in timings), 3),
            "seconds": round(statistics.median(t[0] + t[1] for t in timings), 3),
        }

    def _run(self, owner: Any, count: int, processes: int) -> dict[str, Any]:
        from advisorportal.celery import app
        from advisorportal.jobs.models import Job
        from advisorportal.mail.models import OutgoingEmail
        from portfolios.models import ClientAccount
        from reports.statements import delivery, services
        from reports.statements.models import Delivery, Statement

        _, end = self._period()
        accounts = list(
            ClientAccount.objects.filter(nav_date__gte=end, inception_date__lte=end, owners__isnull=False)
            .distinct()
            .order_by("number")[:count]
        )
        queue = f"bench-statements-{uuid.uuid4().hex[:8]}"
        definition = services.definition_save(
            actor=owner, name=f"Bench statement run {uuid.uuid4().hex[:8]}", period="previous_quarter",
            accounts=accounts, email_clients=True,
        )  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="bench-statements-") as var_dir:
            worker = self._worker(queue, var_dir, processes)
            default_queue = app.conf.task_default_queue
            app.conf.task_default_queue = queue  # the run's job goes to this worker only
            try:
                started = time.perf_counter()
                run = delivery.run_start(actor=owner, definition=definition, on=end + timedelta(days=1))
                assert run.job_id is not None
                job = self._wait(run.job_id, worker)
                seconds = time.perf_counter() - started
                emails = OutgoingEmail.objects.filter(
                    pk__in=Delivery.objects.filter(run=run, email__isnull=False).values("email_id")
                )
                drained = time.monotonic() + MAIL_DRAIN_SECONDS  # the mail tasks queued last, before the stop
                while emails.filter(status="queued").exists() and time.monotonic() < drained:
                    time.sleep(POLL_SECONDS)
            finally:
                app.conf.task_default_queue = default_queue
                self._stop(worker, queue)
            made = Statement.objects.filter(run=run).exclude(content_hash="")
            pages = list(made.values_list("pages", flat=True))
        return {
            "accounts": len(accounts),
            "period": [run.period_start.isoformat(), run.period_end.isoformat()],
            "status": job.status,
            "note": job.error,
            "worker_processes": processes,
            "parts": Job.objects.filter(parent_id=job.pk).count(),
            "statements": len(pages),
            "pages_mean": round(sum(pages) / len(pages), 2) if pages else 0,
            "deliveries": Delivery.objects.filter(run=run, status="sent").count(),
            "emails_queued": Delivery.objects.filter(run=run, email__isnull=False).count(),
            "emails_sent": emails.filter(status="sent").count(),
            "seconds": round(seconds, 2),
            "per_statement_seconds": round(seconds / len(pages), 3) if pages else None,
        }

    def _worker(self, queue: str, var_dir: str, processes: int) -> subprocess.Popen[bytes]:
        """``celery worker -c <processes>`` on a queue of its own, against this database and Redis, as
        the product runs it (prefork), its mail written to files under ``var_dir``; returned once it is
        ready to take tasks."""
        env = {
            **os.environ,
            "CELERY_QUEUE": queue,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "DEBUG": "false",
            "MAIL_RATE_PER_MINUTE": "0",  # the firm's mail rate limit lifted for the run
            "APP_VAR_DIR": var_dir,  # mail files and the like; documents and logos stay where they are
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "DOCUMENTS_ROOT": str(settings.DOCUMENTS_ROOT),
            "PYTHONUNBUFFERED": "1",
        }
        log = Path(var_dir) / "worker.log"
        celery = Path(sys.executable).parent / "celery"
        worker = subprocess.Popen(  # noqa: S603 - our own celery, our own arguments
            [str(celery), "-A", "advisorportal", "worker", "-c", str(processes), "-Q", queue, "-l", "info",
             "-n", f"{queue}@%h", "--without-heartbeat", "--without-mingle", "--without-gossip"],
            cwd=settings.BASE_DIR, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + WORKER_START_SECONDS
        while b" ready." not in log.read_bytes():
            if worker.poll() is not None or time.monotonic() > deadline:
                self._stop(worker, queue)
                raise CommandError(f"The Celery worker did not start: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(POLL_SECONDS)
        return worker

    def _wait(self, job_id: int, worker: subprocess.Popen[bytes]) -> Any:
        from advisorportal.jobs.models import Job

        deadline = time.monotonic() + RUN_MOST_SECONDS
        while True:
            job = Job.objects.get(pk=job_id)
            if job.finished:
                return job
            if worker.poll() is not None:
                raise CommandError(f"The Celery worker stopped (exit {worker.returncode}) before the run finished.")
            if time.monotonic() > deadline:
                raise CommandError(f"The run did not finish within {RUN_MOST_SECONDS} s: {job.done} of {job.total}.")
            time.sleep(POLL_SECONDS)

    def _stop(self, worker: subprocess.Popen[bytes], queue: str) -> None:
        """A warm shutdown (SIGTERM), then SIGKILL to the worker's process group if it lingers; the
        queue (anything left in it) deleted."""
        from advisorportal.celery import app

        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(WORKER_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(WORKER_STOP_SECONDS)
        with app.connection_for_write() as conn:
            conn.default_channel.client.delete(queue)  # type: ignore[attr-defined]  # the Redis transport's
