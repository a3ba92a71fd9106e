"""The Celery app of ``test_jobs_worker.py``'s worker subprocess: the product's app, plus one job
kind that works slowly (a step every 20 ms, a progress write each) and writes a marker row first,
so the test can kill the worker mid-job and see what committed."""

from __future__ import annotations

import time
from typing import Any

from advisorportal.celery import app
from advisorportal.jobs.kinds import JobKind, register

SLOW = "test.worker.slow"
MARKER = "test.marker"
STEPS = 200


def slow(job: Any, progress: Any) -> None:
    from advisorportal.jobs.models import Job

    Job.objects.create(kind=MARKER, status="done")  # rolled back unless the job finishes
    for step in range(1, STEPS + 1):
        progress.update(step, total=STEPS, force=True)
        time.sleep(0.02)


register(JobKind(SLOW, run=slow, label="Slow test job"))

__all__ = ["app"]
