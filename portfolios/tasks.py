"""Background jobs of portfolio data: thin, idempotent, scoped to one firm."""

from __future__ import annotations

from celery import shared_task

from advisorportal.tenancy.context import firm_task
from portfolios import performance


@shared_task(acks_late=True)
@firm_task
def daily_values_recompute(firm_id: int, account_ids: list[int] | None = None) -> int:
    """Recompute every daily value of the firm (or of ``account_ids``); returns the rows written."""
    return performance.recompute_full(account_ids=account_ids).rows


@shared_task(acks_late=True)
@firm_task
def daily_values_update(firm_id: int) -> int:
    """Add the new days of every account of the firm (the nightly job); a rerun adds nothing."""
    return performance.update_new_days().rows
