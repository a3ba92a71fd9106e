"""One-off adjustments under real concurrency: requests with one key at the same moment, each on
its own database connection, post one credit (committed rows: ``tests.concurrency``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from accounts.rights import Right
from advisorportal.tenancy.context import firm_scope
from billing import adjustments
from billing.models import Adjustment
from portfolios import selectors as book
from portfolios import services as ledger
from portfolios.models import AccountTransfer
from tests.concurrency import run_concurrently
from tests.factories import FirmFactory, UserFactory
from tests.factories_portfolios import ClientAccountFactory


@pytest.mark.usefixtures("committed_db")
def test_concurrent_posts_of_one_key_post_once() -> None:
    firm = FirmFactory(name="Delta Advisers", slug="delta-adj")
    user = UserFactory(firm=firm, email="dee@delta.test", rights=frozenset({Right.FEE_ADMINISTRATION}))
    with firm_scope(firm):
        master = ClientAccountFactory(number="MASTER", is_master=True)
        account = ClientAccountFactory(number="D-1")
        ledger.transaction_record(actor=None, account=master, kind="deposit", trade_date=date(2025, 1, 2),
                                  amount=Decimal(1000))  # fmt: skip

    def work(index: int) -> int:
        with firm_scope(firm):
            made = adjustments.adjustment_post(actor=user, account=account, amount="40", reason="Once",
                                               idempotency_key="concurrent", trade_date=date(2025, 4, 1))  # fmt: skip
            return made.pk

    results = run_concurrently(8, work)
    assert all(isinstance(r, int) for r in results) and len(set(results)) == 1, results
    with firm_scope(firm):
        assert Adjustment.objects.count() == 1 and AccountTransfer.objects.count() == 1
        assert book.cash_balances(account=account) == {"USD": Decimal("40.0000")}
        assert book.cash_balances(account=master) == {"USD": Decimal("960.0000")}
