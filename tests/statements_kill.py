"""Run by ``test_reports_schedule``: run a statement run's job in this process as a worker does (its
plan, then its parts) and die by SIGKILL right after the first client's delivery committed (its
email queued), before the others (a worker killed mid-part). Usage:
``python -m tests.statements_kill <firm id> <job id>``."""

from __future__ import annotations

import os
import signal
import sys

import django


def main() -> None:
    django.setup()
    from advisorportal.jobs import services as jobs
    from advisorportal.jobs.models import Job
    from advisorportal.tenancy.context import firm_scope
    from reports.statements import delivery

    real = delivery.deliver

    def deliver_then_die(**kwargs: object) -> str:
        outcome = real(**kwargs)  # type: ignore[arg-type]
        print("delivered", outcome, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        return outcome

    delivery.deliver = deliver_then_die  # type: ignore[assignment]
    firm_id, job_id = int(sys.argv[1]), int(sys.argv[2])
    with firm_scope(firm_id):
        jobs.job_execute(job_id=job_id)  # the plan: its parts are sent to a queue no worker reads
        for part_id in Job.objects.filter(parent_id=job_id).order_by("pk").values_list("pk", flat=True):
            jobs.job_execute(job_id=part_id)
    print("not killed", flush=True)


if __name__ == "__main__":
    main()
