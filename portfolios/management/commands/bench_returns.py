"""Time the daily-value jobs of a firm for ``make bench`` (scenarios ``returns_full_recompute`` and
``returns_one_day``). Prints one JSON line: the seconds the job took and the account-days written.

``full`` recomputes every account of the firm and commits. ``one_day`` first takes the last stored
day off every account's series (not timed), then times the nightly ``update_new_days`` that adds it
back: the work of one new day of prices for the whole firm.
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from accounts.models import Firm
from advisorportal.tenancy.context import firm_scope, require_firm_id
from portfolios import performance
from portfolios.models import DailySeries


class Command(BaseCommand):
    help = "Time a full recompute or a one-day update of a firm's daily values (for the benchmark)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("firm", help="slug of the firm")
        parser.add_argument("mode", choices=["full", "one_day"])

    def handle(self, *args: Any, **options: Any) -> None:
        firm = Firm.objects.filter(slug=options["firm"]).first()
        if firm is None:
            raise CommandError(f"No firm with the slug {options['firm']!r}.")
        with firm_scope(firm):
            if options["mode"] == "one_day":
                with transaction.atomic():
                    _drop_last_day()
                started = time.perf_counter()
                result = performance.update_new_days()
            else:
                started = time.perf_counter()
                result = performance.recompute_full()
            seconds = time.perf_counter() - started
        self.stdout.write(json.dumps({"seconds": round(seconds, 3), "accounts": result.accounts, "rows": result.rows}))


def _drop_last_day() -> None:
    """Shorten each account's latest month row by its last day (dropping rows left empty)."""
    table = DailySeries._meta.db_table
    firm_id = require_firm_id()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH latest AS (
                SELECT DISTINCT ON (account_id) id FROM {table} WHERE firm_id = %s ORDER BY account_id, month DESC
            )
            UPDATE {table} s SET nav = s.nav[1:cardinality(s.nav) - 1],
                net_flow = s.net_flow[1:cardinality(s.net_flow) - 1],
                return_index = s.return_index[1:cardinality(s.return_index) - 1]
            FROM latest WHERE s.firm_id = %s AND s.id = latest.id
            """,  # noqa: S608 - model metadata
            [firm_id, firm_id],
        )
        cursor.execute(f"DELETE FROM {table} WHERE firm_id = %s AND cardinality(nav) = 0", [firm_id])  # noqa: S608
