"""Time a contacts import end to end (upload + parse + validate + apply) on a firm, then roll it
back so the database is left as it was. Prints one JSON line. Used by ``make bench``
(scenario ``contacts_import_100k``) and for measuring by hand:

End to end is what a user waits for from the upload to the applied import: the upload, the
preview (parse, validate, match, store the plan) and the apply as the Celery task runs it,
including the foreign-key checks PostgreSQL defers to COMMIT (``SET CONSTRAINTS ALL IMMEDIATE``
runs them inside the timing; a rolled-back transaction would otherwise never pay for them). Not
counted: generating the file, Django's start-up and the task's queueing.

    manage.py bench_contact_import harbor 10000
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from accounts.models import Firm, User
from advisorportal.tenancy.context import firm_scope


class _RollBack(Exception):
    pass


class Command(BaseCommand):
    help = "Time a template import of N generated rows on a firm (rolled back afterwards)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("firm")
        parser.add_argument("rows", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        from advisorportal.jobs import services as job_services
        from crm.contact_io import selectors, services
        from devtools.demo.contact_sample import sample_workbook

        # As the Celery worker runs it in production: with DEBUG on, Django would also render
        # every statement with its parameters as SQL text for ``connection.queries`` (arrays of
        # 10,000 values per column: seconds per import that no deployment pays).
        settings.DEBUG = False
        firm = Firm.objects.filter(slug=options["firm"]).first()
        if firm is None:
            raise CommandError(f"No firm {options['firm']!r}.")
        started = time.perf_counter()
        data = sample_workbook(options["rows"], seed=int(time.time()), prefix="import")
        figures: dict[str, Any] = {"rows": options["rows"], "generate_seconds": round(time.perf_counter() - started, 2)}
        with firm_scope(firm):
            user = User.objects.filter(firm=firm, is_active=True).order_by("id").first()
            try:
                with transaction.atomic():
                    t0 = time.perf_counter()
                    job = services.import_upload(actor=user, file_name="bench.xlsx", data=data)
                    job = services.import_preview(actor=user, job=job)
                    t1 = time.perf_counter()
                    if job.rejected_count or job.report:
                        raise CommandError(f"rows rejected: {job.report[:3]}")
                    job = services.import_request_apply(actor=user, job=job)
                    # What the Celery task runs (its queueing, after commit, never happens here).
                    assert job.apply_job_id is not None
                    job_services.job_execute(job_id=job.apply_job_id)
                    job = selectors.import_get(user=user, pk=job.pk)
                    t_applied = time.perf_counter()
                    with connection.cursor() as cursor:
                        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the checks COMMIT would run
                    t2 = time.perf_counter()
                    figures.update(
                        status=job.status, error=job.error, created=job.created_count,
                        preview_seconds=round(t1 - t0, 2), apply_seconds=round(t2 - t1, 2),
                        deferred_checks_seconds=round(t2 - t_applied, 2),
                        seconds=round(t2 - t0, 2),
                    )  # fmt: skip
                    raise _RollBack
            except _RollBack:
                pass
        self.stdout.write(json.dumps(figures))
