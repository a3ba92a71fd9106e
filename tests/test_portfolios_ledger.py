"""The cash ledger and positions: balanced entries, append-only books, reversals, the
available-cash rule, idempotent recording, rounding, and reconciliation with transactions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.db.utils import ProgrammingError
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisorportal import formats
from portfolios import accounting, selectors, services
from portfolios.models import (
    AccountType,
    ClientAccount,
    LedgerEntry,
    LedgerPosting,
    Position,
    Security,
    Transaction,
)
from tests.conftest import Persona
from tests.factories import ContactFactory
from tests.factories_portfolios import ClientAccountFactory, SecurityFactory

pytestmark = pytest.mark.django_db
D = Decimal
DAY = date(2025, 3, 3)


def deposit(account: ClientAccount, amount: str, currency: str = "USD", **kwargs: object) -> Transaction:
    return services.transaction_record(
        actor=None, account=account, kind="deposit", trade_date=DAY, amount=D(amount), currency=currency, **kwargs
    )


def counts() -> tuple[int, int, int, int]:
    return (
        Transaction.objects.count(),
        LedgerEntry.objects.count(),
        LedgerPosting.objects.count(),
        Position.objects.count(),
    )


@pytest.fixture
def account(alice: Persona) -> ClientAccount:
    with alice.scope():
        return ClientAccountFactory()


@pytest.fixture
def acme(db: None) -> Security:
    return SecurityFactory(symbol="ACME", currency="USD")


def test_account_open_validates_and_records_owners(alice: Persona) -> None:
    with alice.scope():
        ann, bo = ContactFactory(), ContactFactory()
        account = services.account_open(
            actor=alice.user, number=" u123 ", title="Ann & Bo", account_type=AccountType.JOINT, owners=[ann, bo]
        )
        assert account.number == "U123"
        assert list(account.owners.order_by("account_ownerships__id")) == [ann, bo]
        with pytest.raises(ValidationError) as duplicate:
            services.account_open(actor=alice.user, number="U123", title="x", account_type="individual", owners=[ann])
        assert "Client account with this Firm and Number already exists." in str(duplicate.value)
        with pytest.raises(ValidationError) as bad:
            services.account_open(
                actor=alice.user, number="U9", title="x", account_type="nope", owners=[ann], base_currency="usd"
            )
        assert {"account_type", "base_currency"} <= set(bad.value.message_dict)
        with pytest.raises(ValidationError) as no_owner:
            services.account_open(actor=alice.user, number="U10", title="x", account_type="individual", owners=[])
        assert "owners" in no_owner.value.message_dict


def test_only_one_master_account_per_firm(alice: Persona, charlie: Persona) -> None:
    for persona in (alice, charlie):
        with persona.scope():
            services.account_open(
                actor=None, number="M1", title="Master", account_type="master", owners=[], is_master=True
            )
    with alice.scope(), pytest.raises(ValidationError):
        services.account_open(
            actor=None, number="M2", title="Master 2", account_type="master", owners=[], is_master=True
        )


def test_owners_must_belong_to_the_firm(alice: Persona, charlie: Persona) -> None:
    with charlie.scope():
        outsider = ContactFactory()
    with alice.scope(), pytest.raises(ValidationError) as error:
        services.account_open(actor=None, number="U1", title="x", account_type="individual", owners=[outsider])
    assert "contact" in error.value.message_dict


def test_deposit_posts_a_balanced_entry(account: ClientAccount, alice: Persona) -> None:
    with alice.scope():
        tx = deposit(account, "1000.005")  # rounds half up to the cent
        assert tx.amount == D("1000.01")
        postings = list(LedgerPosting.objects.filter(entry__transaction=tx).values_list("ledger_account", "amount"))
        assert sorted(postings) == [("cash", D("1000.01")), ("external", D("-1000.01"))]
        assert selectors.cash_balances(account=account) == {"USD": D("1000.01")}


def test_buy_and_sell_track_average_cost_and_realized_gain(
    account: ClientAccount, alice: Persona, acme: Security
) -> None:
    with alice.scope():
        deposit(account, "10000")
        record = services.transaction_record
        record(actor=None, account=account, kind="buy", trade_date=DAY, security=acme, quantity=D(10), price=D(100))
        record(actor=None, account=account, kind="buy", trade_date=DAY, security=acme, quantity=D(20), price=D(130))
        sale = record(
            actor=None, account=account, kind="sell", trade_date=DAY, security=acme, quantity=D(15), price=D(150)
        )
        # Average cost 3600 / 30 = 120; 15 sold at 150: cost relieved 1800, gain 450.
        assert (sale.quantity, sale.amount, sale.cost_change, sale.realized_gain) == (-15, 2250, -1800, 450)
        position = Position.objects.get(account=account, security=acme)
        assert (position.quantity, position.cost_basis, position.realized_gain) == (15, 1800, 450)
        assert selectors.cash_balances(account=account) == {"USD": D("8650")}
        assert selectors.reconciliation_problems() == []


def test_selling_more_than_held_is_refused(account: ClientAccount, alice: Persona, acme: Security) -> None:
    with alice.scope():
        deposit(account, "1000")
        with pytest.raises(ValidationError) as error:
            services.transaction_record(
                actor=None, account=account, kind="sell", trade_date=DAY, security=acme, quantity=D(1), price=D(10)
            )
        assert "quantity" in error.value.message_dict


def test_withdrawal_beyond_available_cash_is_refused_and_writes_nothing(account: ClientAccount, alice: Persona) -> None:
    with alice.scope():
        deposit(account, "100")
        before = counts()
        with pytest.raises(ValidationError) as error:
            services.transaction_record(
                actor=None, account=account, kind="withdrawal", trade_date=DAY, amount=D("100.01")
            )
        assert error.value.message_dict == {"amount": ["100.01 USD is more than the available cash of 100.00 USD."]}
        assert counts() == before
        services.transaction_record(actor=None, account=account, kind="withdrawal", trade_date=DAY, amount=D("100"))
        assert selectors.cash_balances(account=account) == {"USD": D(0)}


def test_cash_is_per_currency(account: ClientAccount, alice: Persona) -> None:
    with alice.scope():
        deposit(account, "500", currency="EUR")
        with pytest.raises(ValidationError):
            services.transaction_record(actor=None, account=account, kind="withdrawal", trade_date=DAY, amount=D(1))
        services.transaction_record(
            actor=None, account=account, kind="withdrawal", trade_date=DAY, amount=D(1), currency="EUR"
        )
        assert selectors.cash_balances(account=account) == {"EUR": D(499)}


def test_recording_locks_the_account_row(account: ClientAccount, alice: Persona) -> None:
    with alice.scope(), CaptureQueriesContext(connection) as ctx:
        deposit(account, "1")
    assert any("FOR UPDATE" in q["sql"] for q in ctx.captured_queries)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "deposit", "amount": D(0)}, "amount"),
        ({"kind": "deposit", "amount": D(-5)}, "amount"),
        ({"kind": "deposit"}, "amount"),
        ({"kind": "deposit", "amount": D(5), "currency": "usd"}, "currency"),
        ({"kind": "deposit", "amount": D(5), "quantity": D(1)}, "quantity"),
        ({"kind": "teleport", "amount": D(5)}, "kind"),
        ({"kind": "buy", "quantity": D(1), "price": D(1)}, "security"),
        ({"kind": "fee", "amount": D("0.001")}, "amount"),
    ],
    ids=[
        "zero",
        "negative",
        "missing",
        "lower-case currency",
        "quantity on cash",
        "unknown kind",
        "no security",
        "rounds to zero",
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(
    account: ClientAccount, alice: Persona, kwargs: dict[str, object], field: str
) -> None:
    with alice.scope():
        deposit(account, "100")
        before = counts()
        with pytest.raises(ValidationError) as error:
            services.transaction_record(actor=None, account=account, trade_date=DAY, **kwargs)  # type: ignore[arg-type]
        assert field in error.value.message_dict
        assert counts() == before


def test_same_external_id_returns_the_first_transaction(account: ClientAccount, alice: Persona) -> None:
    with alice.scope():
        first = deposit(account, "250", external_id="CUST-1")
        again = deposit(account, "250.00", external_id="CUST-1", description="words are not figures")
        assert again.pk == first.pk and again.amount == D(250)
        assert Transaction.objects.filter(account=account).count() == 1
        other = ClientAccountFactory()
        assert deposit(other, "1", external_id="CUST-1").pk != first.pk  # unique per account


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"amount": D("999")}, "amount 250, not 999"),
        ({"currency": "EUR"}, "currency USD, not EUR"),
        ({"trade_date": date(2025, 3, 4)}, "trade date 2025-03-03, not 2025-03-04"),
        ({"settle_date": date(2025, 3, 5)}, "settle date 2025-03-03, not 2025-03-05"),
        ({"kind": "dividend"}, "type deposit, not dividend"),
    ],
    ids=["amount", "currency", "trade date", "settle date", "kind"],
)
def test_same_external_id_with_other_figures_is_refused(
    account: ClientAccount, alice: Persona, change: dict[str, object], named: str
) -> None:
    """Defect 8: a retry with another amount used to return the first transaction as success."""
    with alice.scope():
        deposit(account, "250", external_id="CUST-1")
        before = counts()
        arguments: dict[str, object] = {"kind": "deposit", "trade_date": DAY, "amount": D(250), "currency": "USD"}
        with pytest.raises(ValidationError) as error:
            services.transaction_record(actor=None, account=account, external_id="CUST-1", **{**arguments, **change})  # type: ignore[arg-type]
        assert list(error.value.message_dict) == ["external_id"]
        assert named in error.value.message_dict["external_id"][0]
        assert error.value.error_dict["external_id"][0].code == "idempotency_key_reused"
        assert counts() == before
        assert selectors.cash_balances(account=account) == {"USD": D(250)}


def test_reversal_restores_cash_and_position_and_cannot_repeat(
    account: ClientAccount, alice: Persona, acme: Security
) -> None:
    with alice.scope():
        deposit(account, "1000")
        buy = services.transaction_record(
            actor=None, account=account, kind="buy", trade_date=DAY, security=acme, quantity=D(3), price=D("33.333")
        )
        assert buy.amount == D("-100.00")
        reversal = services.transaction_reverse(actor=alice.user, transaction=buy)
        assert reversal.reverses_id == buy.pk and reversal.amount == D(100)
        assert selectors.cash_balances(account=account) == {"USD": D(1000)}
        assert Position.objects.get(account=account, security=acme).quantity == 0
        entry = LedgerEntry.objects.get(transaction=reversal)
        assert entry.reverses == LedgerEntry.objects.get(transaction=buy) and entry.created_by == alice.user
        with pytest.raises(ValidationError, match="already been reversed"):
            services.transaction_reverse(actor=None, transaction=buy)
        with pytest.raises(ValidationError, match="cannot be reversed"):
            services.transaction_reverse(actor=None, transaction=reversal)
        assert selectors.reconciliation_problems() == []


def test_reversing_a_spent_deposit_is_refused(account: ClientAccount, alice: Persona) -> None:
    with alice.scope():
        money_in = deposit(account, "100")
        services.transaction_record(actor=None, account=account, kind="withdrawal", trade_date=DAY, amount=D(60))
        with pytest.raises(ValidationError) as error:
            services.transaction_reverse(actor=None, transaction=money_in)
        assert "transaction" in error.value.message_dict


@pytest.mark.parametrize(
    ("second_currency", "second_amount"),
    [("USD", -9), ("EUR", -10)],  # unbalanced; balanced in total but not per currency
)
def test_the_database_refuses_an_unbalanced_entry(
    account: ClientAccount, alice: Persona, second_currency: str, second_amount: int
) -> None:
    with alice.scope():
        entry = LedgerEntry.objects.create(account=account, memo="bad")
        legs = [("cash", "USD", 10), ("external", second_currency, second_amount)]
        with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic():
            LedgerPosting.objects.bulk_create(
                LedgerPosting(
                    firm_id=account.firm_id,
                    entry=entry,
                    account=account,
                    ledger_account=ledger_account,
                    currency=currency,
                    amount=amount,
                )
                for ledger_account, currency, amount in legs
            )


@pytest.mark.parametrize("table", ["portfolios_ledgerposting", "portfolios_ledgerentry", "portfolios_transaction"])
@pytest.mark.parametrize(
    "statement", ["UPDATE {table} SET firm_id = firm_id", "DELETE FROM {table}", "TRUNCATE {table}"]
)
def test_the_books_are_append_only_for_the_application_role(
    account: ClientAccount, alice: Persona, table: str, statement: str
) -> None:
    with alice.scope():
        deposit(account, "10")
        with (
            pytest.raises(ProgrammingError, match="permission denied"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement.format(table=table))
        assert LedgerPosting.objects.count() == 2


def test_rounding_rules() -> None:
    assert formats.round_money(D("0.125"), "USD") == D("0.13")
    assert formats.round_money(D("-0.125"), "USD") == D("-0.13")
    assert formats.round_money(D("1234.5"), "JPY") == D("1235")
    assert formats.round_money(D("1.2345"), "KWD") == D("1.235")
    assert accounting.round_quantity(D("0.0000005")) == D("0.000001")


# --- Property: any sequence of operations keeps the books balanced and reconciled -------------------

amounts = st.decimals(min_value=D("0.01"), max_value=D("50000"), places=2)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("deposit"), st.sampled_from(["USD", "EUR"]), amounts),
        st.tuples(st.just("withdrawal"), st.sampled_from(["USD", "EUR"]), amounts),
        st.tuples(st.just("fee"), st.just("USD"), amounts),
        st.tuples(st.just("dividend"), st.just("USD"), amounts),
        st.tuples(
            st.sampled_from(["buy", "sell"]),
            st.sampled_from([0, 1]),
            st.decimals(min_value=D("0.001"), max_value=D("500"), places=3),
            st.decimals(min_value=D("0.0001"), max_value=D("900"), places=4),
        ),
        st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=30)),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_property_books_balance_and_reconcile(alice: Persona, ops: list[tuple]) -> None:
    securities = [SecurityFactory(symbol="PUSD", currency="USD"), SecurityFactory(symbol="PEUR", currency="EUR")]
    with alice.scope(), transaction.atomic():
        account = ClientAccountFactory()
        recorded: list[Transaction] = []
        for op in ops:
            before = counts()
            try:
                if op[0] in {"buy", "sell"}:
                    _, index, quantity, price = op
                    tx = services.transaction_record(
                        actor=None, account=account, kind=op[0], trade_date=DAY,
                        security=securities[index], quantity=quantity, price=price,
                    )  # fmt: skip
                elif op[0] == "reverse":
                    if not recorded:
                        continue
                    tx = services.transaction_reverse(actor=None, transaction=recorded[op[1] % len(recorded)])
                else:
                    kind, currency, amount = op
                    tx = services.transaction_record(
                        actor=None, account=account, kind=kind, trade_date=DAY, amount=amount, currency=currency
                    )
                recorded.append(tx)
            except ValidationError:
                assert counts() == before  # a refused operation changes nothing
        cash = selectors.cash_balances(account=account)
        for currency in ("USD", "EUR"):
            total = sum((t.amount for t in Transaction.objects.filter(account=account, currency=currency)), start=D(0))
            assert cash.get(currency, D(0)) == total
            assert cash.get(currency, D(0)) >= 0  # a cash account never overdraws
        for entry_totals in (
            LedgerPosting.objects.filter(account=account).values("entry_id", "currency").annotate(t=Sum("amount"))
        ):
            assert entry_totals["t"] == 0
        for position in Position.objects.filter(account=account):
            assert position.quantity >= 0
        assert selectors.reconciliation_problems() == []
        transaction.set_rollback(True)


def test_check_command_proves_the_books_and_catches_a_drifted_position(
    account: ClientAccount, alice: Persona, acme: Security
) -> None:
    with alice.scope():
        deposit(account, "1000")
        services.transaction_record(
            actor=None, account=account, kind="buy", trade_date=DAY, security=acme, quantity=D(2), price=D(10)
        )
    out = StringIO()
    call_command("check_portfolios", "alpha", stdout=out)
    assert "reconcile" in out.getvalue()
    with alice.scope():
        Position.objects.filter(account=account).update(quantity=D(3))
    with pytest.raises(CommandError, match="do not reconcile"):
        call_command("check_portfolios", "alpha", stdout=StringIO())
    with pytest.raises(CommandError, match="No firm"):
        call_command("check_portfolios", "nope", stdout=StringIO())
