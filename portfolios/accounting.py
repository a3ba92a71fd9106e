"""Pure accounting rules shared by the services and the demo generator (no database here).

Rounding rules
- Cash amounts are rounded to the currency's ISO 4217 minor unit (2 places for most, 0 for JPY
  and KRW, 3 for BHD, JOD, KWD, OMR, TND) with ROUND_HALF_UP, as custodians round trade
  amounts. Columns keep 4 places so that every currency fits; nothing finer is ever stored.
- Quantities and prices keep 6 places (fractional shares, fund units, bond prices).
- A trade's cash amount is quantity * price rounded once, never per lot.
- Average cost: a sale relieves ``cost_basis * sold / held`` rounded to the minor unit; selling
  the whole position relieves exactly the remaining cost basis, so no residue is left behind.

Sign conventions: ``quantity`` is the signed change of the position, ``amount`` the signed change
of the account's cash. The ledger legs of a transaction always sum to zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from advisorportal.formats import round_money

ZERO = Decimal(0)
QUANTITY_PLACES = Decimal("0.000001")


def round_quantity(value: Decimal) -> Decimal:
    return value.quantize(QUANTITY_PLACES, rounding=ROUND_HALF_UP)


# Kinds whose cash (or positions) cross the account's boundary: excluded from returns. An internal
# transfer is an external flow of both accounts (out of one, into the other: opposite signs); fee
# income is an external flow of the firm's master account, not a return on it.
EXTERNAL_CASH_KINDS = frozenset(
    {
        "deposit",
        "withdrawal",
        "transfer_in",
        "transfer_out",
        "internal_transfer_in",
        "internal_transfer_out",
        "fee_income",
    }
)
EXTERNAL_POSITION_KINDS = frozenset({"position_transfer_in", "position_transfer_out"})
# Fees (and their refunds): not external flows of the client's account, so the net-of-fee return
# bears them; the gross-of-fee index treats them as flows (``performance``).
FEE_KINDS = frozenset({"fee", "fee_refund"})
SECURITY_KINDS = frozenset({"buy", "sell", "position_transfer_in", "position_transfer_out", "corporate_action"})
# Kinds that take cash out of the account and so may not exceed the available cash.
CASH_OUT_KINDS = frozenset({"withdrawal", "transfer_out", "internal_transfer_out", "fee", "buy"})
# Cash leaving by these may not exceed the available cash (settled cash less open holds) in any
# account; fees, and fee income paid back as a refund, only in a cash account (a margin account
# may borrow for them).
ALWAYS_COVERED_KINDS = frozenset({"withdrawal", "transfer_out", "internal_transfer_out"})

# Paired postings between two of the firm's accounts (``services.transfer_between_accounts``):
# transfer kind -> (kind of the debited side, kind of the credited side). A fee is debited from the
# client (``fee``) and credited to the master account (``fee_income``); a refund is the reverse
# flow, debited from the master account as negative fee income (its income falls) and credited to
# the client as ``fee_refund`` (a fee kind: the client's net return gets it back); an internal
# transfer goes out of one client account and into another.
TRANSFER_PAIRS: dict[str, tuple[str, str]] = {
    "fee": ("fee", "fee_income"),
    "fee_refund": ("fee_income", "fee_refund"),
    "internal_transfer": ("internal_transfer_out", "internal_transfer_in"),
}
# Kinds that exist only as one side of such a pair (never recorded alone).
PAIRED_KINDS = frozenset({"fee_income", "fee_refund", "internal_transfer_in", "internal_transfer_out"})

# The counterpart of cash for each kind (cash comes in from / goes out to this ledger account).
# Fee income and refunds post against ``fees`` too, so a fee pair nets to zero in the firm's fees.
_CASH_COUNTERPART = {
    "deposit": "external",
    "withdrawal": "external",
    "transfer_in": "external",
    "transfer_out": "external",
    "internal_transfer_in": "external",
    "internal_transfer_out": "external",
    "dividend": "income",
    "interest": "income",
    "fee": "fees",
    "fee_income": "fees",
    "fee_refund": "fees",
    "corporate_action": "corporate_actions",
}

# Sign of quantity and of amount each kind requires (+1, -1; 0: must be zero; None: signed as given).
_SIGNS: dict[str, tuple[int | None, int | None]] = {
    "buy": (1, -1),
    "sell": (-1, 1),
    "dividend": (0, 1),
    "interest": (0, 1),
    "fee": (0, -1),
    "deposit": (0, 1),
    "withdrawal": (0, -1),
    "transfer_in": (0, 1),
    "transfer_out": (0, -1),
    "position_transfer_in": (1, 0),
    "position_transfer_out": (-1, 0),
    "corporate_action": (None, None),
    "fee_income": (0, None),  # credited when a fee is charged, debited when it is refunded
    "fee_refund": (0, 1),
    "internal_transfer_in": (0, 1),
    "internal_transfer_out": (0, -1),
}


def signs(kind: str) -> tuple[int | None, int | None]:
    return _SIGNS[kind]


@dataclass(frozen=True)
class PositionState:
    quantity: Decimal = ZERO
    cost_basis: Decimal = ZERO


@dataclass(frozen=True)
class CostEffect:
    cost_change: Decimal
    realized_gain: Decimal


def cost_effect(
    *, kind: str, state: PositionState, quantity: Decimal, amount: Decimal, currency: str, transfer_cost: Decimal
) -> CostEffect:
    """How a transaction changes the cost basis of its position, and what it realizes (average cost)."""
    if kind == "buy":
        return CostEffect(cost_change=-amount, realized_gain=ZERO)
    if kind == "position_transfer_in":
        return CostEffect(cost_change=round_money(transfer_cost, currency), realized_gain=ZERO)
    if kind == "corporate_action":
        # Splits keep the cost basis; spin-offs and mergers say how much moves (signed).
        return CostEffect(cost_change=round_money(transfer_cost, currency), realized_gain=ZERO)
    if kind in {"sell", "position_transfer_out"}:
        if state.quantity <= 0:
            relieved = ZERO
        elif -quantity >= state.quantity:
            relieved = state.cost_basis
        else:
            relieved = round_money(state.cost_basis * -quantity / state.quantity, currency)
        realized = amount - relieved if kind == "sell" else ZERO
        return CostEffect(cost_change=-relieved, realized_gain=realized)
    return CostEffect(cost_change=ZERO, realized_gain=ZERO)


Leg = tuple[str, str, Decimal]  # (ledger account, currency, signed amount)


def ledger_legs(
    *, kind: str, currency: str, amount: Decimal, cost_change: Decimal, realized_gain: Decimal
) -> list[Leg]:
    """The balanced postings of one transaction, in one currency. Legs of zero are left out."""
    legs: list[Leg] = [("cash", currency, amount)]
    if kind in {"buy", "sell"}:
        legs += [("securities", currency, cost_change), ("realized", currency, -realized_gain)]
    elif kind in {"position_transfer_in", "position_transfer_out"}:
        legs += [("securities", currency, cost_change), ("external", currency, -cost_change)]
    elif kind == "corporate_action":
        legs += [("securities", currency, cost_change), ("corporate_actions", currency, -amount - cost_change)]
    else:
        legs.append((_CASH_COUNTERPART[kind], currency, -amount))
    legs = [leg for leg in legs if leg[2] != 0]
    assert sum(leg[2] for leg in legs) == 0, legs
    return legs


# What makes two records of one external id the same transaction: a retry with equal figures gets
# the first record back, any difference is refused (``services.transaction_record``) or reported
# on the row (``custodian.planning``). Description and memo are words, not figures: not compared.
COMPARED_FIELDS = ("kind", "trade_date", "settle_date", "security_id", "quantity", "price", "amount", "currency")
# Kinds whose cost basis comes from the caller (a position moved in, a corporate action).
GIVEN_COST_KINDS = frozenset({"position_transfer_in", "corporate_action"})


def _shown(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


def transaction_differences(
    stored: dict[str, Any], wanted: dict[str, Any], *, with_cost: bool = True
) -> list[tuple[str, str]]:
    """``(field, "stored, not wanted")`` for each figure in which two records of one external id
    differ (dicts with ``COMPARED_FIELDS`` and, for kinds whose cost basis the caller gives,
    ``cost_change`` unless not ``with_cost``; signed as stored). Empty: the same. The one
    comparison of ``services.transaction_record`` and of the custodian import's preview."""
    labels = {
        "kind": "type",
        "trade_date": "trade date",
        "settle_date": "settle date",
        "security_id": "security",
        "quantity": "quantity",
        "price": "price",
        "amount": "amount",
        "currency": "currency",
        "cost_change": "cost basis",
    }
    names = list(COMPARED_FIELDS)
    if with_cost and stored.get("kind") in GIVEN_COST_KINDS:
        names.append("cost_change")
    found: list[tuple[str, str]] = []
    for name in names:
        before, after = stored.get(name), wanted.get(name)
        if before != after:
            if name == "security_id":
                found.append((name, "another security"))
            else:
                found.append((name, f"{labels[name]} {_shown(before)}, not {_shown(after)}"))
    return found
