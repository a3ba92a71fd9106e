"""``seed_demo --reset`` on a firm with committed data, as on a real development database."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from accounts.models import Firm
from advisorportal.tenancy.context import firm_scope
from crm.models import Contact
from portfolios.models import ClientAccount
from tests.test_seed_demo import _check_billing


@pytest.mark.usefixtures("committed_db")
def test_seed_demo_reset_removes_a_firm_with_accounts_and_seeds_it_again(tmp_path: Path) -> None:
    """``--reset`` on a firm with a ledger, funding, billing and statements (committed, as on a real
    development database: the ledger goes on the owner connection) builds the same firm again."""
    from billing.models import FeeRun, RunStatus
    from funding.models import FundingRequest
    from reports.statements.models import Statement

    def counts() -> tuple[int, ...]:
        with firm_scope(Firm.objects.get(slug="summit")):
            return (
                Contact.objects.count(),
                ClientAccount.objects.filter(is_master=False).count(),
                FundingRequest.objects.count(),
                FeeRun.objects.filter(status=RunStatus.POSTED).count(),
                Statement.objects.count(),
            )

    seed = {"contacts": 120, "accounts": 30, "firms": "summit", "credentials": str(tmp_path / "c.json")}
    call_command("seed_demo", **seed, stdout=StringIO())
    first = counts()
    assert all(first), first
    with firm_scope(Firm.objects.get(slug="summit")):
        old_accounts = set(ClientAccount.objects.values_list("pk", flat=True))
    call_command("seed_demo", **seed, reset=True, stdout=StringIO())
    assert counts() == first
    with firm_scope(Firm.objects.get(slug="summit")):
        assert not old_accounts & set(ClientAccount.objects.values_list("pk", flat=True))
        _check_billing()
