"""Prove that a firm's books reconcile: every ledger entry balances per currency, cash equals the
sum of transaction amounts, every position equals the sum of its transactions, and the stored
daily values (series, states, latest values) equal a full recompute from the ledger."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Firm
from advisorportal.tenancy.context import firm_scope
from portfolios import performance, selectors


class Command(BaseCommand):
    help = "Check that a firm's ledger, cash and positions reconcile with its transactions."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("firm", help="slug of the firm to check")

    def handle(self, *args: Any, **options: Any) -> None:
        firm = Firm.objects.filter(slug=options["firm"]).first()
        if firm is None:
            raise CommandError(f"No firm with the slug {options['firm']!r}.")
        with firm_scope(firm):
            problems = selectors.reconciliation_problems() + performance.series_problems()
        for problem in problems:
            self.stdout.write(problem)
        if problems:
            raise CommandError(f"{firm.name}: the books do not reconcile ({len(problems)} problems shown).")
        self.stdout.write(self.style.SUCCESS(f"{firm.name}: ledger, cash, positions and daily values reconcile."))
