"""Positions CSV: what a custodian says each account holds on a date.

Columns: ``account, symbol, quantity, cost_basis, currency, as_of`` (see docs/imports.md).
"""

from __future__ import annotations

from advisorportal.jobs.uploads import CsvText
from portfolios.custodian.parsers.base import CsvFormat, ParseResult, PositionRow, RowErrors, read_csv

FORMAT = CsvFormat("positions", required=("account", "symbol", "quantity", "cost_basis", "currency", "as_of"))
COLUMNS = {name: name for name in FORMAT.columns}


def parse(text: CsvText) -> ParseResult:
    result = ParseResult()
    for row, cells in read_csv(text, FORMAT, result):
        check = RowErrors(row, result.issues)
        account = check.text(cells["account"], "account", required=True, max_length=32).upper()
        symbol = check.text(cells["symbol"], "symbol", required=True, max_length=32).upper()
        quantity = check.decimal(cells["quantity"], "quantity")
        cost_basis = check.decimal(cells["cost_basis"], "cost_basis")
        currency = check.currency(cells["currency"], "currency")
        as_of = check.iso_date(cells["as_of"], "as_of")
        if check.failed or quantity is None or cost_basis is None or as_of is None:
            continue
        result.operations.append(
            PositionRow(row, account, symbol, quantity, cost_basis, currency, as_of, columns=COLUMNS)
        )
    return result
