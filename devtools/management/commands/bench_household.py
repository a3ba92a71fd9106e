"""A household of ten accounts with five years of history, for ``make bench``'s
``household_performance`` (never in production).

    manage.py bench_household harbor

Prints ``{"household": <id>, "accounts": 10, ...}`` as JSON. The first run opens ten USD accounts
for one new client in a new household, each with a deposit five years back, buys of the firm's
most-priced securities, monthly contributions, a withdrawal every half year and a sale a year,
all through the portfolios services (as far back as the prices go, at most five years), then
computes their daily values; later runs find it and
add nothing (nothing else of the demo firm changes).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Count, Min

from accounts.models import Firm
from advisorportal.tenancy.context import firm_scope
from crm import services as crm_services
from crm.models import Household
from portfolios import performance, services
from portfolios.models import Security, SecurityPrice

NAME = "Bench household (ten accounts)"
ACCOUNTS = 10
YEARS = 5


def _business(day: date) -> date:
    rolled: date = np.busday_offset(np.datetime64(day, "D"), 0, roll="forward").astype(date)
    return rolled


class Command(BaseCommand):
    help = "Make (once) a ten-account household with five years of daily values in a demo firm (for the bench)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("firm")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("bench_household never runs with production settings.")
        firm = Firm.objects.get(slug=options["firm"])
        with firm_scope(firm):
            household = Household.objects.filter(name=NAME).first()
            made = household is None
            if household is None:
                household = self._make()
            self.stdout.write(json.dumps({"household": household.pk, "accounts": ACCOUNTS, "made": made}))

    def _make(self) -> Household:
        end = performance.latest_price_date()
        if end is None:
            raise CommandError("No prices are loaded: run seed_demo first.")
        # Five years back, or as far as the prices go (the small bench scale has two years).
        first_price = SecurityPrice.objects.aggregate(first=Min("date"))["first"]
        start = _business(max(date(end.year - YEARS, end.month, 1) - timedelta(days=10), first_price))
        securities = list(
            SecurityPrice.objects.filter(date__lte=start, security__currency="USD")
            .values("security_id")
            .annotate(first=Min("date"), days=Count("pk"))
            .order_by("-days", "security_id")
            .values_list("security_id", flat=True)[: ACCOUNTS * 2]
        )
        if len(securities) < 2:
            raise CommandError(f"Fewer than two USD securities are priced from {start}: seed a longer history.")
        prices = {
            (p.security_id, p.date): p.close
            for p in SecurityPrice.objects.filter(security_id__in=securities, date__gte=start, date__lte=end)
        }
        by_security = {pk: sorted(d for s, d in prices if s == pk) for pk in securities}
        loaded = Security.objects.in_bulk(securities)
        with transaction.atomic():
            client = crm_services.contact_create(
                actor=None, first_name="Bench", last_name="Household", email="bench.household@example.test"
            )
            household = crm_services.household_create(actor=None, name=NAME, head=client, members=[client])
            ids = []
            for index in range(ACCOUNTS):
                account = services.account_open(
                    actor=None, number=f"BENCHHH{index:02d}", title=f"Bench household {index + 1}",
                    account_type="individual", owners=[client], household=household, inception_date=start,
                )  # fmt: skip
                ids.append(account.pk)
                self._history(account, [securities[(2 * index + k) % len(securities)] for k in (0, 1)],
                              by_security, prices, loaded, start, end, index)  # fmt: skip
        performance.recompute_full(account_ids=ids, end=end)
        return household

    def _history(
        self, account: Any, picks: list[int], days: dict[int, list[date]], prices: dict[tuple[int, date], Decimal],
        securities: dict[int, Security], start: date, end: date, index: int,
    ) -> None:  # fmt: skip
        def record(kind: str, day: date, **kwargs: Any) -> None:
            services.transaction_record(actor=None, account=account, kind=kind, trade_date=day, **kwargs)

        def price_on(security: int, day: date) -> tuple[date, Decimal] | None:
            later = [d for d in days[security] if d >= day]
            return (later[0], prices[(security, later[0])]) if later else None

        record("deposit", start, amount=Decimal(100_000 + 10_000 * index))
        held: dict[int, Decimal] = {}
        for security in picks:
            found = price_on(security, start)
            if found is None:
                continue
            day, close = found
            quantity = (Decimal(40_000) / close).quantize(Decimal(1))
            record("buy", day, security=securities[security], quantity=quantity, price=close)
            held[security] = quantity
        month = start
        for step in range(1, YEARS * 12):
            month = _business(date(start.year + (start.month - 1 + step) // 12, (start.month - 1 + step) % 12 + 1, 5))
            if month > end:
                break
            record("deposit", month, amount=Decimal(1000 + 100 * index))
            if step % 6 == 3:
                record("withdrawal", month, amount=Decimal(2500))
            if step % 12 == 7 and held:
                security = picks[0]
                found = price_on(security, month)
                if found is not None and held.get(security, Decimal(0)) > 10:
                    day, close = found
                    sold = (held[security] / 10).quantize(Decimal(1))
                    record("sell", day, security=securities[security], quantity=sold, price=close)
                    held[security] -= sold
