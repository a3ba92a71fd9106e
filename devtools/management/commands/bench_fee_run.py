"""Time a firm's quarterly fee run: the preview (every open account, average daily balance,
households billed together), its posting to the ledger, and one household's invoice PDF. Prints
one JSON line. Used by ``make bench`` (scenarios ``fee_run_preview``, ``fee_run_post`` and
``invoice_pdf``) and by hand:

    manage.py bench_fee_run harbor preview|post|invoice

Everything happens in one transaction that is rolled back after timing (the schedule, its
assignments, the run, its lines and every posting), so the bench firm is left as it was. The jobs
run as the Celery worker runs them (``job_execute``); the post job's chunks are savepoints here.
The period is the quarter before the last whole quarter of the firm's daily values: ``seed_demo``
posts that last quarter for its demo fees, and a run of it would measure differences against them.
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Max

from accounts.models import Firm, User
from advisorportal.tenancy.context import firm_scope

TIERS = [
    {"up_to": "250000", "annual_rate_pct": "1.25"},
    {"up_to": "1000000", "annual_rate_pct": "1.00"},
    {"up_to": "5000000", "annual_rate_pct": "0.75"},
    {"up_to": None, "annual_rate_pct": "0.50"},
]


class Rollback(Exception):
    pass


def last_quarter(before: date) -> tuple[date, date]:
    """The last calendar quarter that ends on or before ``before``."""
    end = date(before.year, 1 + 3 * ((before.month - 1) // 3), 1) - timedelta(days=1)
    if before.month in (3, 6, 9, 12) and (before + timedelta(days=1)).month != before.month:
        end = before
    start = date(end.year, end.month - 2, 1)
    return start, end


class Command(BaseCommand):
    help = "Time a quarterly fee run of a firm (preview, post, or one invoice PDF), rolled back afterwards."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("firm")
        parser.add_argument("mode", choices=["preview", "post", "invoice"])

    def handle(self, *args: Any, **options: Any) -> None:
        settings.DEBUG = False  # as the worker runs: no SQL text kept for connection.queries
        firm = Firm.objects.filter(slug=options["firm"]).first()
        if firm is None:
            raise CommandError(f"No firm {options['firm']!r}.")
        figures: dict[str, Any] = {"mode": options["mode"]}
        try:
            with firm_scope(firm), transaction.atomic():
                self._run(options["mode"], figures)
                raise Rollback
        except Rollback:
            pass
        self.stdout.write(json.dumps(figures))

    def _run(self, mode: str, figures: dict[str, Any]) -> None:
        from accounts.selectors import firm_branding
        from advisorportal.jobs import services as job_services
        from billing import invoices, services
        from billing.models import FeeLine, LineStatus
        from crm.models import Contact, Household
        from portfolios.models import ClientAccount

        users = list(User.objects.filter(is_active=True).order_by("id")[:2])
        owner = users[0]
        services.settings_update(actor=owner, four_eyes=False, change_alert_pct=services._settings().change_alert_pct)
        last_day = ClientAccount.objects.aggregate(d=Max("nav_date"))["d"]
        if last_day is None:
            raise CommandError("The firm has no daily values.")
        start, end = last_quarter(last_quarter(last_day)[0] - timedelta(days=1))  # the seed bills the last one
        schedule = services.schedule_create(
            actor=owner, name="Bench tiered (households)", is_default=True, effective_from=date(2000, 1, 1),
            method="tiered", tiers=TIERS, minimum_annual_fee="250.00", frequency="quarterly", timing="arrears",
            valuation="average_daily",
        )  # fmt: skip
        households = list(Household.objects.all())
        services.assign(actor=owner, schedule=schedule, households=households, householding=True)
        figures.update(period=f"{start.isoformat()} to {end.isoformat()}", households=len(households))

        started = time.perf_counter()
        run = services.run_create(actor=owner, period_start=start, period_end=end)
        assert run.job_id is not None
        status = job_services.job_execute(job_id=run.job_id)
        figures["preview_seconds"] = round(time.perf_counter() - started, 2)
        run.refresh_from_db()
        figures.update(preview_status=status, lines=run.line_count, total_fee=str(run.total_fee))
        if mode == "preview":
            return

        services.run_approve(actor=owner, run=run)
        started = time.perf_counter()
        run = services.run_post(actor=owner, run=run)
        assert run.job_id is not None
        status = job_services.job_execute(job_id=run.job_id)
        figures["post_seconds"] = round(time.perf_counter() - started, 2)
        run.refresh_from_db()
        posted = FeeLine.objects.filter(run=run, posted_amount__isnull=False).exclude(posted_amount=0).count()
        figures.update(post_status=status, run_status=run.status, posted=posted, total_posted=str(run.total_to_post),
                       no_cash=FeeLine.objects.filter(run=run, status=LineStatus.NO_CASH).count())  # fmt: skip
        if mode == "post":
            return

        plan = invoices.plan(run)
        unit = max(plan.units, key=lambda u: len(u.lines))
        household = Household.objects.filter(pk=unit.household_id).first()
        head = household.head_id if household is not None else unit.contact_id
        contact = Contact.objects.filter(pk=head).first()
        brand = firm_branding(firm=Firm.objects.get(pk=run.firm_id))
        name = (contact.display_name if contact else str(household))[:200]
        timings = []
        for _ in range(5):
            invoice = invoices.Invoice(
                run=run, number=f"INV-{run.pk}-1", sequence=1, household=household, contact=contact,
                recipient_name=name, recipient_email="", currency=unit.currency, total=unit.total,
                line_ids=[ln.pk for ln in unit.lines],
            )  # fmt: skip
            started = time.perf_counter()
            pdf = invoices.render_invoice(invoice=invoice, lines=unit.lines, brand=brand, date_format="us_name")
            timings.append(time.perf_counter() - started)
        figures.update(invoice_seconds=round(statistics.median(timings), 3), invoice_accounts=len(unit.lines),
                       invoice_bytes=len(pdf))  # fmt: skip
