"""Time the daily-value jobs of a firm for ``make bench`` (scenarios ``returns_full_recompute`` and
``returns_one_day``). Prints one JSON line: the seconds the job took and the account-days written.

``full`` recomputes every account of the firm and commits. ``one_day`` first takes the last stored
day off every account's series and state (``performance.forget_last_day``, timed apart as
``prepare_seconds``), then times the nightly ``update_new_days`` that adds it back: the work of one
new day of prices for the whole firm. ``correction`` records one back-dated buy, four years before
the last day, in the account with the most transactions (a 5-year history) and times
``performance.correct_series`` that recomputes it; all of it is rolled back, so the bench firm is
left as it was.

Before timing, the tables the jobs rewrite are vacuumed (not timed): a recompute leaves each
replaced row behind as a dead tuple, which autovacuum clears in production; on a bench server
running without autovacuum they would pile up from run to run and slow every later run.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections, transaction
from django.db.models import Count

from accounts.models import Firm
from advisorportal.tenancy.context import firm_scope
from portfolios import performance, services
from portfolios.models import ClientAccount, DailySeries, Position, SeriesState, Transaction


class Command(BaseCommand):
    help = "Time a full recompute or a one-day update of a firm's daily values (for the benchmark)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("firm", help="slug of the firm")
        parser.add_argument("mode", choices=["full", "one_day", "correction"])

    def handle(self, *args: Any, **options: Any) -> None:
        firm = Firm.objects.filter(slug=options["firm"]).first()
        if firm is None:
            raise CommandError(f"No firm with the slug {options['firm']!r}.")
        _vacuum()
        with firm_scope(firm):
            if options["mode"] == "correction":
                self.stdout.write(json.dumps(_time_correction()))
                return
            if options["mode"] == "one_day":
                started = time.perf_counter()
                performance.forget_last_day()
                prepared = time.perf_counter() - started
                started = time.perf_counter()
                result = performance.update_new_days()
            else:
                prepared = 0.0
                started = time.perf_counter()
                result = performance.recompute_full()
            seconds = time.perf_counter() - started
        figures: dict[str, Any] = {"seconds": round(seconds, 3), "accounts": result.accounts, "rows": result.rows}
        figures["steps"] = {name: round(value, 3) for name, value in result.seconds.items()}
        if options["mode"] == "one_day":
            figures["prepare_seconds"] = round(prepared, 3)
        self.stdout.write(json.dumps(figures))


def _time_correction() -> dict[str, Any]:
    with transaction.atomic():
        counts = Transaction.objects.values("account_id").annotate(n=Count("id")).order_by("-n")
        busiest = counts.values_list("account_id", "n")[:1][0]
        account = ClientAccount.objects.get(pk=busiest[0])
        assert account.nav_date is not None
        held = Position.objects.filter(account=account, quantity__gt=0).select_related("security").first()
        day = account.nav_date - timedelta(days=4 * 365)
        if held is not None:
            services.transaction_record(
                actor=None, account=account, kind="deposit", trade_date=day, amount=Decimal(1000)
            )
            services.transaction_record(
                actor=None, account=account, kind="buy", trade_date=day, security=held.security,
                quantity=Decimal(1), price=Decimal(10),
            )  # fmt: skip
        else:
            services.transaction_record(actor=None, account=account, kind="deposit", trade_date=day, amount=Decimal(1))
        started = time.perf_counter()
        result = performance.correct_series()
        seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    return {"seconds": round(seconds, 3), "accounts": result.corrected, "rows": result.rows,
            "transactions": busiest[1], "steps": {}}  # fmt: skip


def _vacuum() -> None:
    with connections["owner"].cursor() as cursor:
        for model in (DailySeries, SeriesState, ClientAccount):
            cursor.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")
