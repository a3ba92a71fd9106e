"""Termination: when a client account closes (``portfolios.services.account_close``), what it
prepaid for the days after its closing day is refunded.

For each period that posted runs billed the account for and that ends after the closing day, a
run of that period for the account alone is prepared (in preview, computed by a worker, with a
note saying why). The plan bills a closed account only to its closing day (nothing for a period
it closed before), so the run's line is the fee for the days it was open, less what was billed:
a refund, approved and posted like any other run — four eyes, once, with its explanation. A
household billed together keeps its bands on the household's combined value. Fees billed in
arrears for periods that end after the closing day get the same treatment; a run of a period not
posted yet simply bills the account to its closing day.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Sum

from advisorportal import formats
from billing import services
from billing.models import FeeLine, FeeRun
from portfolios.models import ClientAccount


def prepaid_after(account: ClientAccount, closed_on: date) -> list[tuple[date, date, Decimal]]:
    """The periods ending after ``closed_on`` that posted runs billed ``account`` for, with the
    net amount billed (only those with something to refund), oldest first."""
    rows = (
        FeeLine.objects.filter(account=account, posted_amount__isnull=False, run__period_end__gt=closed_on)
        .values_list("run__period_start", "run__period_end")
        .annotate(total=Sum("posted_amount"))
        .order_by("run__period_start", "run__period_end")
    )
    return [(start, end, total) for start, end, total in rows if total > 0]


def refund_runs(*, account: ClientAccount, closed_on: date, actor: Any) -> list[FeeRun]:
    """The refund runs of ``account`` closed on ``closed_on`` (one per prepaid period)."""
    return [
        services.run_create(
            actor=actor,
            period_start=start,
            period_end=end,
            account_numbers=[account.number],
            note=f"Refund on closing: {account.number} closed on {formats.day(closed_on)}; "
            f"{formats.amount(total)} was billed for this period.",
        )
        for start, end, total in prepaid_after(account, closed_on)
    ]


def _closed(sender: Any, account: ClientAccount, closed_on: date, actor: Any, **kwargs: Any) -> list[str]:
    runs = refund_runs(account=account, closed_on=closed_on, actor=actor if getattr(actor, "pk", None) else None)
    return [
        f"Fee refund run {run.reference} prepared for {formats.day(run.period_start)} to "
        f"{formats.day(run.period_end)}: approve and post it in Fee billing to refund what was prepaid."
        for run in runs
    ]


def connect_signals() -> None:
    from portfolios.signals import account_closed

    account_closed.connect(_closed, dispatch_uid="billing.termination.closed")
