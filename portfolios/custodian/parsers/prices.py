"""Prices CSV: closing prices of securities (global reference data; see docs/imports.md for who may).

Columns: ``symbol, date, close``.
"""

from __future__ import annotations

from advisorportal.jobs.uploads import CsvText
from portfolios.custodian.parsers.base import CsvFormat, ParseResult, PriceRow, RowErrors, read_csv

FORMAT = CsvFormat("prices", required=("symbol", "date", "close"))
COLUMNS = {name: name for name in FORMAT.columns}


def parse(text: CsvText) -> ParseResult:
    result = ParseResult()
    for row, cells in read_csv(text, FORMAT, result):
        check = RowErrors(row, result.issues)
        symbol = check.text(cells["symbol"], "symbol", required=True, max_length=32).upper()
        day = check.iso_date(cells["date"], "date")
        close = check.decimal(cells["close"], "close", positive=True)
        if check.failed or day is None or close is None:
            continue
        result.operations.append(PriceRow(row, symbol, day, close, columns=COLUMNS))
    return result
