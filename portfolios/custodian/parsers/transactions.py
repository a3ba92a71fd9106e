"""Transactions CSV: one business event per row, as the custodian reports it.

Columns (see docs/imports.md): ``account, trade_date, type`` are required; ``settle_date, symbol,
quantity, price, amount, currency, description, external_id`` are optional columns. Quantities and
amounts are positive; the type decides the direction. A row without an ``external_id`` gets one
derived from its content, so the same row imported again is recognised.
"""

from __future__ import annotations

import hashlib

from advisorportal.jobs.uploads import CsvText
from portfolios.custodian.parsers.base import CsvFormat, ParseResult, RowErrors, TransactionRow, read_csv

FORMAT = CsvFormat(
    "transactions",
    required=("account", "trade_date", "type"),
    optional=("settle_date", "symbol", "quantity", "price", "amount", "currency", "description", "external_id"),
)
COLUMNS = {name: name for name in FORMAT.columns} | {"kind": "type"}

SECURITY_TYPES = frozenset({"buy", "sell", "position_transfer_in", "position_transfer_out"})
TRADE_TYPES = frozenset({"buy", "sell"})
CASH_TYPES = frozenset({"dividend", "interest", "fee", "deposit", "withdrawal", "transfer_in", "transfer_out"})
TYPES = SECURITY_TYPES | CASH_TYPES


def derived_external_id(row: TransactionRow) -> str:
    """A stable id from what the row says (not from where it is in the file)."""
    parts = [
        row.account,
        row.kind,
        row.trade_date.isoformat(),
        row.settle_date.isoformat() if row.settle_date else "",
        row.symbol,
        *(f"{v.normalize():f}" if v is not None else "" for v in (row.quantity, row.price, row.amount)),
        row.currency,
        row.description,
    ]
    return "csv:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def parse(text: CsvText) -> ParseResult:
    result = ParseResult()
    for row, cells in read_csv(text, FORMAT, result):
        check = RowErrors(row, result.issues)
        account = check.text(cells.get("account"), "account", required=True, max_length=32).upper()
        kind = check.text(cells.get("type"), "type", required=True).lower()
        if kind and kind not in TYPES:
            check.add("type", f"Unknown type {kind!r}; use one of: {', '.join(sorted(TYPES))}.")
        trade_date = check.iso_date(cells.get("trade_date"), "trade_date")
        settle_date = check.iso_date(cells.get("settle_date"), "settle_date", required=False)
        symbol = check.text(cells.get("symbol"), "symbol", max_length=32).upper()
        quantity = check.decimal(cells.get("quantity"), "quantity", required=False, positive=True)
        price = check.decimal(cells.get("price"), "price", required=False, positive=True)
        amount = check.decimal(cells.get("amount"), "amount", required=False, positive=True)
        currency = check.currency(cells.get("currency"), "currency", required=False)
        description = check.text(cells.get("description"), "description")
        external_id = check.text(cells.get("external_id"), "external_id", max_length=100)
        if kind in SECURITY_TYPES:
            if not symbol and not check.has("symbol"):
                check.add("symbol", f"A {kind} needs a symbol.")
            if quantity is None and not check.has("quantity"):
                check.add("quantity", f"A {kind} needs a quantity.")
            if kind in TRADE_TYPES and price is None and amount is None and not check.has("price", "amount"):
                check.add("price", f"A {kind} needs a price or an amount.")
        elif kind in CASH_TYPES:
            if amount is None and not check.has("amount"):
                check.add("amount", f"A {kind} needs an amount.")
            if quantity is not None:
                check.add("quantity", f"A {kind} moves no securities; leave the quantity empty.")
        if settle_date and trade_date and settle_date < trade_date:
            check.add("settle_date", "The settlement date is before the trade date.")
        if check.failed or trade_date is None:
            continue
        operation = TransactionRow(
            row=row,
            account=account,
            kind=kind,
            trade_date=trade_date,
            settle_date=settle_date,
            symbol=symbol,
            quantity=quantity,
            price=price,
            amount=amount,
            currency=currency,
            description=description,
            external_id=external_id,
            columns=COLUMNS,
        )
        if not external_id:
            operation = TransactionRow(**{**operation.__dict__, "external_id": derived_external_id(operation)})
        result.operations.append(operation)
    return result
