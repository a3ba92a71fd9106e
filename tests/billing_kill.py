"""Run by ``test_billing_concurrency``: run a fee run's post job in this process, in chunks of two
lines, and die by SIGKILL inside the second chunk, right after its fees were written to the
ledger and before the chunk commits (as a worker killed at the worst moment).
Usage: ``python -m tests.billing_kill <firm id> <job id>``."""

from __future__ import annotations

import os
import signal
import sys

import django


def main() -> None:
    django.setup()
    from advisorportal.jobs import services as jobs
    from advisorportal.tenancy.context import firm_scope
    from billing import services
    from portfolios import services as ledger

    services.POST_CHUNK = 2
    real = ledger.transfers_bulk
    calls = []

    def post_then_die(**kwargs: object) -> object:
        posted = real(**kwargs)  # type: ignore[arg-type]
        calls.append(len(posted))  # type: ignore[arg-type]
        print("posted", sum(calls), flush=True)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        return posted

    ledger.transfers_bulk = post_then_die  # type: ignore[assignment]
    firm_id, job_id = int(sys.argv[1]), int(sys.argv[2])
    with firm_scope(firm_id):
        jobs.job_execute(job_id=job_id)
    print("not killed", flush=True)


if __name__ == "__main__":
    main()
