"""Time statements as the worker makes them. Prints one JSON line. Used by ``make bench``
(scenarios ``statement_pdf`` and ``statement_run_1k``) and by hand:

    manage.py bench_statements harbor pdf        # one account's activity statement of the last quarter
    manage.py bench_statements harbor run 1000   # a report definition of 1,000 accounts, run as one job

``pdf``: the figures and the PDF of the last full quarter of an account with about a quarter's
usual activity (the one whose transaction count in that quarter is nearest 60, so about three
pages), five times after a warm-up (WeasyPrint's first use parses its stylesheets); nothing is
stored. Reported: the median seconds and the pages.

``run``: a new report definition (emailed: each client gets a link) of the first N accounts with
daily values, run as the Celery worker runs its job (``job_execute``): every statement computed,
rendered, kept on the client's documents, and every client's email queued (the mail service's own
worker sends it after commit; its cost is ``email_bulk_10k``'s). The definition and its statements stay, as a real run's
would. The firm's mail rate limit is lifted for the run. One job runs on one worker process (one
core); reported: its seconds, the statements and emails.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
import uuid
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Max, Q

from accounts.models import Firm, User
from advisorportal.tenancy.context import firm_scope

TARGET_TRANSACTIONS = 60


class Command(BaseCommand):
    help = "Time one statement PDF, or a statement run of N accounts, as the worker makes them."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("firm")
        parser.add_argument("mode", choices=["pdf", "run"])
        parser.add_argument("accounts", type=int, nargs="?", default=1000)

    def handle(self, *args: Any, **options: Any) -> None:
        settings.DEBUG = False  # as the worker runs: no SQL text kept for connection.queries
        firm = Firm.objects.filter(slug=options["firm"]).first()
        if firm is None:
            raise CommandError(f"No firm {options['firm']!r}.")
        with firm_scope(firm):
            owner = User.objects.filter(firm=firm, is_active=True).order_by("id").first()
            figures = self._pdf(owner) if options["mode"] == "pdf" else self._run(owner, options["accounts"])
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

    def _run(self, owner: Any, count: int) -> dict[str, Any]:
        from advisorportal.jobs import services as jobs
        from advisorportal.jobs.models import Job
        from portfolios.models import ClientAccount
        from reports.statements import delivery, services
        from reports.statements.models import Delivery, Statement

        settings.MAIL_RATE_PER_MINUTE = 0
        _, end = self._period()
        accounts = list(
            ClientAccount.objects.filter(nav_date__gte=end, inception_date__lte=end, owners__isnull=False)
            .distinct()
            .order_by("number")[:count]
        )
        with tempfile.TemporaryDirectory(prefix="bench-statements-") as mail_dir:
            settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
            settings.EMAIL_FILE_PATH = mail_dir
            definition = services.definition_save(
                actor=owner, name=f"Bench statement run {uuid.uuid4().hex[:8]}", period="previous_quarter",
                accounts=accounts, email_clients=True,
            )  # fmt: skip
            started = time.perf_counter()
            run = delivery.run_start(actor=owner, definition=definition, on=end + timedelta(days=1))
            assert run.job_id is not None
            status = jobs.job_execute(job_id=run.job_id)  # what the Celery task runs
            seconds = time.perf_counter() - started
            job = Job.objects.get(pk=run.job_id)
            made = Statement.objects.filter(run=run).exclude(content_hash="")
            pages = list(made.values_list("pages", flat=True))
        return {
            "accounts": len(accounts),
            "period": [run.period_start.isoformat(), run.period_end.isoformat()],
            "status": status,
            "note": job.error,
            "statements": len(pages),
            "pages_mean": round(sum(pages) / len(pages), 2) if pages else 0,
            "deliveries": Delivery.objects.filter(run=run, status="sent").count(),
            "emails_queued": Delivery.objects.filter(run=run, email__isnull=False).count(),
            "seconds": round(seconds, 2),
            "per_statement_seconds": round(seconds / len(pages), 3) if pages else None,
        }
