"""``portfolios.services.transfers_bulk`` posts many paired postings as ``transfer_between_accounts``
posts each alone: the same rows, checks, refusals, replays and keys (a fee run posts with it).
Each case runs both paths on mirrored accounts and compares what they wrote."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisorportal.idempotency.models import IdempotencyKey
from portfolios import selectors
from portfolios import services as ledger
from portfolios.models import AccountTransfer, ClientAccount, LedgerPosting, MarginType, Transaction
from portfolios.services import TransferOrder
from tests.conftest import Persona
from tests.factories_portfolios import ClientAccountFactory

pytestmark = pytest.mark.django_db
D = Decimal
DAY = date(2025, 3, 31)


@pytest.fixture
def master(alice: Persona) -> ClientAccount:
    with alice.scope():
        return ClientAccountFactory(number="MASTER", is_master=True)


def funded(cash: str, *, margin: bool = False) -> ClientAccount:
    account = ClientAccountFactory(margin_type=MarginType.MARGIN if margin else MarginType.CASH)
    if D(cash):
        ledger.transaction_record(
            actor=None, account=account, kind="deposit", trade_date=date(2025, 1, 2), amount=D(cash)
        )
    return account


def written(account: ClientAccount) -> dict[str, Any]:
    """What the books hold for the account, without ids and times."""
    return {
        "transactions": sorted(
            Transaction.objects.filter(account=account).values_list("kind", "amount", "description", "trade_date",
                                                                     "settle_date", "cost_change", "realized_gain")
        ),
        "postings": sorted(LedgerPosting.objects.filter(account=account).values_list("ledger_account", "amount")),
        "transfers": sorted(
            AccountTransfer.objects.filter(debit_account=account).values_list("kind", "amount", "memo", "trade_date")
        ) + sorted(AccountTransfer.objects.filter(credit_account=account).values_list("kind", "amount", "memo")),
    }  # fmt: skip


def outcome(result: Any) -> Any:
    if isinstance(result, ValidationError):
        return ("refused", result.message_dict)
    return ("posted", result.kind, result.amount, result.memo)


def one_by_one(kind: str, orders: list[TransferOrder]) -> list[Any]:
    results: list[Any] = []
    for order in orders:
        try:
            results.append(
                ledger.transfer_between_accounts(
                    actor=None,
                    debit_account=order.debit_account,
                    credit_account=order.credit_account,
                    amount=order.amount,
                    currency=order.currency,
                    kind=kind,
                    trade_date=DAY,
                    idempotency_key=order.idempotency_key,
                    memo=order.memo,
                )
            )
        except ValidationError as refused:
            results.append(refused)
    return results


def key() -> str:
    return f"test.{uuid.uuid4()}"


fees = st.lists(
    st.tuples(
        st.sampled_from(["0", "50", "1000", "2500.75"]),  # the client's cash
        st.sampled_from(["0.004", "10", "49.99", "50", "50.01", "1200"]),  # the fee
        st.booleans(),  # a margin account (may borrow for a fee)
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cases=fees)
def test_fees_in_bulk_are_the_fees_one_by_one(alice: Persona, master: ClientAccount, cases: list[Any]) -> None:
    with alice.scope():
        pairs = [(funded(cash, margin=margin), funded(cash, margin=margin)) for cash, _, margin in cases]
        alone = one_by_one("fee", [TransferOrder(a, master, fee, "USD", key(), "Q1 fee") for (a, _), (_, fee, _) in
                                   zip(pairs, cases, strict=True)])  # fmt: skip
        together = ledger.transfers_bulk(
            actor=None, kind="fee", trade_date=DAY,
            orders=[TransferOrder(b, master, fee, "USD", key(), "Q1 fee") for (_, b), (_, fee, _) in
                    zip(pairs, cases, strict=True)],
        )  # fmt: skip
        assert [outcome(r) for r in together] == [outcome(r) for r in alone]
        for a, b in pairs:
            assert written(b) == written(a)
            assert selectors.cash_balances(account=b) == selectors.cash_balances(account=a)


def test_refunds_follow_the_master_accounts_cash_order_by_order(alice: Persona, master: ClientAccount) -> None:
    """A refund debits the master account: its available cash is read once and followed, so the
    second of two 60.00 refunds from 100.00 is refused, as it is one by one."""
    with alice.scope():
        payer = funded("200")
        ledger.fee_charge(
            actor=None, account=payer, amount="100", currency="USD", trade_date=DAY, idempotency_key=key()
        )
        clients = [funded("0") for _ in range(3)]
        results = ledger.transfers_bulk(
            actor=None, kind="fee_refund", trade_date=DAY,
            orders=[TransferOrder(master, c, "60", "USD", key()) for c in clients],
        )  # fmt: skip
        assert isinstance(results[0], AccountTransfer)
        assert all(isinstance(r, ValidationError) for r in results[1:])
        assert "more than the available cash of 40.00 USD" in results[1].messages[0]
        assert selectors.cash_balances(account=master) == {"USD": D("40.0000")}
        assert selectors.cash_balances(account=clients[0]) == {"USD": D("60.0000")}
        assert written(clients[0])["transactions"][0][:3] == ("fee_refund", D("60.00"), "Fee refund from MASTER")


def test_replays_reused_keys_and_freed_keys(alice: Persona, master: ClientAccount) -> None:
    with alice.scope():
        rich, poor = funded("1000"), funded("5")
        first_key, short_key = key(), key()
        orders = [
            TransferOrder(rich, master, "100", "USD", first_key),
            TransferOrder(poor, master, "10", "USD", short_key),
        ]
        first = ledger.transfers_bulk(actor=None, kind="fee", trade_date=DAY, orders=orders)
        assert isinstance(first[0], AccountTransfer) and isinstance(first[1], ValidationError)
        # The refused order's key was freed; the posted one's holds its transfer.
        assert not IdempotencyKey.objects.filter(key=short_key).exists()
        count = AccountTransfer.objects.count()

        again = ledger.transfers_bulk(actor=None, kind="fee", trade_date=DAY, orders=orders)
        assert isinstance(again[0], AccountTransfer) and again[0].pk == first[0].pk  # replayed, not posted again
        assert AccountTransfer.objects.count() == count

        # The same key with another amount: refused as the lone path refuses it, nothing written.
        reused = ledger.transfers_bulk(actor=None, kind="fee", trade_date=DAY,
                                       orders=[TransferOrder(rich, master, "101", "USD", first_key)])  # fmt: skip
        assert isinstance(reused[0], ValidationError)
        assert reused[0].error_dict["idempotency_key"][0].code == ledger.IDEMPOTENCY_KEY_REUSED
        # A key first used alone replays in bulk (one scope for both paths).
        lone_key = key()
        lone = ledger.fee_charge(actor=None, account=rich, amount="7", currency="USD", trade_date=DAY,
                                 idempotency_key=lone_key)  # fmt: skip
        [replayed] = ledger.transfers_bulk(actor=None, kind="fee", trade_date=DAY,
                                           orders=[TransferOrder(rich, master, "7", "USD", lone_key)])  # fmt: skip
        assert isinstance(replayed, AccountTransfer) and replayed.pk == lone.pk
        assert selectors.cash_balances(account=rich) == {"USD": D("893.0000")}

        # After a deposit, the refused fee posts with the same key.
        ledger.transaction_record(actor=None, account=poor, kind="deposit", trade_date=date(2025, 1, 2), amount=D(50))
        [late] = ledger.transfers_bulk(actor=None, kind="fee", trade_date=DAY, orders=[orders[1]])
        assert isinstance(late, AccountTransfer)
        with pytest.raises(ValueError, match="its own idempotency key"):
            ledger.transfers_bulk(actor=None, kind="fee", trade_date=DAY, orders=[orders[0], orders[0]])


def test_orders_in_several_currencies_follow_each_currencys_cash(alice: Persona, master: ClientAccount) -> None:
    with alice.scope():
        account = funded("100")
        ledger.transaction_record(actor=None, account=account, kind="deposit", trade_date=date(2025, 1, 2),
                                  amount=D(50), currency="EUR")  # fmt: skip
        results = ledger.transfers_bulk(
            actor=None, kind="fee", trade_date=DAY,
            orders=[TransferOrder(account, master, "30", "USD", key()),
                    TransferOrder(account, master, "40", "EUR", key()),
                    TransferOrder(account, master, "20", "EUR", key())],
        )  # fmt: skip
        assert [type(r).__name__ for r in results] == ["AccountTransfer", "AccountTransfer", "ValidationError"]
        assert "10.00 EUR" in results[2].messages[0]  # type: ignore[union-attr]
        assert selectors.cash_balances(account=account) == {"USD": D("70.0000"), "EUR": D("10.0000")}
        assert selectors.cash_balances(account=master) == {"USD": D("30.0000"), "EUR": D("40.0000")}
