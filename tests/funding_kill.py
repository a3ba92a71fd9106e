"""Run by ``test_funding_concurrency``: complete one funding request in this process and die by
SIGKILL right after the ledger posting, before the request's status changes (as a worker killed
at the worst moment). Usage: ``python -m tests.funding_kill <firm id> <request id>``."""

from __future__ import annotations

import os
import signal
import sys

import django


def main() -> None:
    django.setup()
    from advisorportal.tenancy.context import firm_scope
    from funding import services
    from funding.models import FundingRequest
    from portfolios import services as ledger

    real = ledger.transaction_record

    def record_then_die(**kwargs: object) -> object:
        posted = real(**kwargs)  # type: ignore[arg-type]
        print("posted", posted.pk, flush=True)  # type: ignore[attr-defined]
        os.kill(os.getpid(), signal.SIGKILL)
        return posted

    ledger.transaction_record = record_then_die  # type: ignore[assignment]
    firm_id, request_id = int(sys.argv[1]), int(sys.argv[2])
    with firm_scope(firm_id):
        services.request_complete(
            actor=None, request=FundingRequest.objects.get(pk=request_id), custodian_reference="K1"
        )
    print("not killed", flush=True)


if __name__ == "__main__":
    main()
