"""The Celery app of ``test_statements_parts.py``'s worker subprocesses: the product's app, with
statement runs split into parts of one recipient each, and, when ``STATEMENTS_STALL_AFTER`` names an
account number, a worker process that stalls for good right after that account's statement
committed (so the test can kill the worker mid-part, knowing what committed)."""

from __future__ import annotations

import os
import time
from typing import Any

from celery.signals import worker_process_init

from advisorportal.celery import app

STALL_SECONDS = 600


@worker_process_init.connect
def _small_parts(**_: Any) -> None:
    from reports.statements import delivery

    delivery.PART_MOST = delivery.PART_LEAST = 1  # a recipient's statements stay together all the same
    stall_after = os.environ.get("STATEMENTS_STALL_AFTER", "")
    if not stall_after:
        return
    real = delivery._make

    def make_then_stall(run: Any, definition: Any, subject: Any, *args: Any) -> Any:
        made = real(run, definition, subject, *args)
        if subject.kind == "account" and subject.accounts[0].number == stall_after:
            print(f"stalled after {stall_after}", flush=True)
            time.sleep(STALL_SECONDS)  # holding the part, renewing no lease, until the test kills us
        return made

    delivery._make = make_then_stall  # type: ignore[assignment]


__all__ = ["app"]
