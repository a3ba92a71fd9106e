"""Background jobs of portfolio data: thin, idempotent, scoped to one firm."""

from __future__ import annotations

from datetime import date

from celery import shared_task

from accounts.models import Firm
from advisorportal.tenancy.context import firm_task
from portfolios import aum, performance


@shared_task(acks_late=True)
@firm_task
def daily_values_recompute(firm_id: int, account_ids: list[int] | None = None) -> int:
    """Recompute every daily value of the firm (or of ``account_ids``); returns the days written."""
    return performance.recompute_full(account_ids=account_ids).rows


@shared_task(acks_late=True)
@firm_task
def daily_values_update(firm_id: int) -> int:
    """Add the new days of every account of the firm (the nightly job); a rerun adds nothing."""
    return performance.update_new_days().rows


@shared_task(acks_late=True)
@firm_task
def daily_values_correct(firm_id: int) -> int:
    """Recompute the accounts whose transactions or market data changed on or before their last
    computed day (queued after such a change commits); returns the accounts recomputed."""
    return performance.correct_series().corrected


@shared_task(acks_late=True)
@firm_task
def aum_refresh(firm_id: int, start: str | None = None) -> int:
    """Rewrite the firm's AUM sums (``AumDay``) from ``start`` (ISO date; None: all) after a
    daily-values run; a rerun writes the same rows. Returns the rows written."""
    return aum.refresh(start=date.fromisoformat(start) if start else None)


@shared_task(acks_late=True)
def daily_values_nightly() -> int:
    """Celery beat, after the day's prices: one ``daily_values_update`` per firm, so each firm runs
    in its own scope (and a failing firm does not hold up the others). Returns the firms queued.
    Firms are identity data (not firm-owned), so listing them needs no scope."""
    firm_ids = list(Firm.objects.order_by("pk").values_list("pk", flat=True))
    for firm_id in firm_ids:
        daily_values_update.delay(firm_id)
    return len(firm_ids)
