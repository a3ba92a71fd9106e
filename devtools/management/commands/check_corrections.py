"""Apply a batch of random corrections and late rows to a firm, include them, and prove that the
stored daily values equal a full recompute (``performance.series_problems``, what
``check_portfolios`` runs). All in one transaction, rolled back unless ``--commit``:

    python manage.py check_corrections harbor 200

The batch: back-dated deposits, dividends and fees on random accounts and days of their history,
back-dated paired postings (fees into the master account, internal transfers between two
accounts), reversals of random earlier transactions, and revised closes of random securities on
computed days. Prints one JSON line: what was applied, the seconds of ``correct_series`` and of the check,
and the problems found (none expected).
"""

from __future__ import annotations

import json
import random
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.models import Firm
from advisorportal.tenancy.context import firm_scope
from portfolios import performance, services
from portfolios.models import ClientAccount, SecurityPrice, Transaction


class Command(BaseCommand):
    help = "Apply random corrections and late rows, include them, and check the daily values against a recompute."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("firm", help="slug of the firm")
        parser.add_argument("count", type=int, help="how many corrections and late rows")
        parser.add_argument("--seed", type=int, default=15)
        parser.add_argument("--commit", action="store_true", help="keep the batch (default: roll it back)")

    def handle(self, *args: Any, **options: Any) -> None:
        firm = Firm.objects.filter(slug=options["firm"]).first()
        if firm is None:
            raise CommandError(f"No firm with the slug {options['firm']!r}.")
        rng = random.Random(options["seed"])
        with firm_scope(firm), transaction.atomic():
            accounts = list(ClientAccount.objects.filter(nav_date__isnull=False).values_list("pk", flat=True))
            if not accounts:
                raise CommandError("The firm has no daily values yet.")
            applied = {"back_dated": 0, "paired": 0, "reversals": 0, "revised_closes": 0, "refused": 0}
            master = ClientAccount.objects.filter(is_master=True).first()
            for number in range(options["count"]):
                choice = rng.random()
                try:
                    if choice < 0.15:
                        first, second = (ClientAccount.objects.get(pk=pk) for pk in rng.sample(accounts, 2))
                        assert first.nav_date is not None
                        day = max(first.inception_date, second.inception_date) + timedelta(days=rng.randrange(1, 60))
                        amount = Decimal(rng.randrange(100, 100000)) / 100
                        key = f"check_corrections-{options['seed']}-{number}"
                        if master is not None and master.pk not in (first.pk, second.pk) and rng.random() < 0.5:
                            services.fee_charge(
                                actor=None, account=first, amount=amount, currency=first.base_currency,
                                trade_date=day, idempotency_key=key,
                            )  # fmt: skip
                        else:
                            services.internal_transfer(
                                actor=None, from_account=first, to_account=second, amount=amount,
                                currency=first.base_currency, trade_date=day, idempotency_key=key,
                            )  # fmt: skip
                        applied["paired"] += 1
                    elif choice < 0.5:
                        account = ClientAccount.objects.get(pk=rng.choice(accounts))
                        assert account.nav_date is not None
                        day = account.inception_date + timedelta(
                            days=rng.randrange(max(1, (account.nav_date - account.inception_date).days))
                        )
                        kind = rng.choice(["deposit", "dividend", "fee"])
                        amount = Decimal(rng.randrange(100, 100000)) / 100
                        services.transaction_record(
                            actor=None, account=account, kind=kind, trade_date=day, amount=amount,
                            description="check_corrections",
                        )  # fmt: skip
                        applied["back_dated"] += 1
                    elif choice < 0.8:
                        target = (
                            Transaction.objects.filter(account_id=rng.choice(accounts), reverses__isnull=True)
                            .order_by("?")
                            .first()
                        )
                        if target is None:
                            continue
                        with transaction.atomic():
                            services.transaction_reverse(actor=None, transaction=target)
                        applied["reversals"] += 1
                    else:
                        price = SecurityPrice.objects.order_by("?").first()
                        if price is None:
                            continue
                        price.close = (price.close * Decimal("1.01")).quantize(Decimal("0.000001"))
                        price.save(update_fields=["close"])
                        applied["revised_closes"] += 1
                except ValidationError:
                    applied["refused"] += 1  # e.g. a reversal that would overdraw: nothing changed
            started = time.perf_counter()
            result = performance.correct_series()
            correct_seconds = time.perf_counter() - started
            started = time.perf_counter()
            problems = performance.series_problems()
            check_seconds = time.perf_counter() - started
            if not options["commit"]:
                transaction.set_rollback(True)
        figures = {
            **applied,
            "accounts_recomputed": result.corrected,
            "correct_seconds": round(correct_seconds, 3),
            "check_seconds": round(check_seconds, 3),
            "problems": problems,
        }
        self.stdout.write(json.dumps(figures))
        if problems:
            raise CommandError(f"{len(problems)} accounts differ from a full recompute.")
