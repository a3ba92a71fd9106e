"""Parsers of custodian files, without the database: rows, issues by row and column, detection."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from advisorportal.jobs.issues import Issue
from portfolios.custodian import parsers
from portfolios.custodian.parsers import flex
from portfolios.custodian.parsers.base import NavRow, PositionRow, TransactionRow
from portfolios.custodian.views import spreadsheet_safe

FIXTURES = Path(__file__).parent / "fixtures" / "imports"
HEADER = "account,trade_date,settle_date,type,symbol,quantity,price,amount,currency,description,external_id\n"


def errors(result: parsers.ParseResult) -> set[tuple[int, str]]:
    return {(i.row, i.column) for i in result.issues if i.level == "error"}


def test_transactions_csv_rows_and_derived_ids_are_stable() -> None:
    kind, result = parsers.parse((FIXTURES / "transactions.csv").read_bytes(), "")
    assert kind == "transactions_csv" and result.ok and result.rows == 4
    _, buy, dividend, fee = result.operations
    assert isinstance(buy, TransactionRow) and buy.row == 3 and buy.kind == "buy" and buy.quantity == Decimal(10)
    assert buy.external_id == "CUST-0002" and buy.settle_date == date(2025, 2, 5)
    assert isinstance(dividend, TransactionRow) and dividend.external_id.startswith("csv:")
    assert isinstance(fee, TransactionRow) and fee.description == '=HYPERLINK("http://evil.example","click")'
    # The same row elsewhere in another file derives the same id.
    moved = (
        HEADER
        + "U1234567,2025-02-03,2025-02-03,deposit,,,,1.00,USD,x,\n"
        + ((FIXTURES / "transactions.csv").read_text().splitlines()[3] + "\n")
    )
    _, again = parsers.parse(moved.encode(), "transactions_csv")
    assert again.operations[1].external_id == dividend.external_id  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("account,trade_date,amount\n", (1, "type")),  # missing required column
        ("account,trade_date,type,colour\n", (1, "colour")),  # unknown column
        ("account,trade_date,type,type\n", (1, "type")),  # repeated column
    ],
)
def test_wrong_or_missing_columns_are_reported_on_the_header(header: str, expected: tuple[int, str]) -> None:
    _, result = parsers.parse((header + "U1,2025-01-02,deposit\n").encode(), "transactions_csv")
    assert expected in errors(result) and not result.operations


def test_bad_dates_and_numbers_name_row_and_column() -> None:
    text = HEADER + (
        "U1,2025-13-01,,deposit,,,,100,USD,,\n"  # row 2: month 13
        "U1,02/03/2025,,deposit,,,,100,USD,,\n"  # row 3: not ISO
        "U1,2025-01-02,,deposit,,,,1e5,USD,,\n"  # row 4: exponent
        'U1,2025-01-02,,deposit,,,,"1,000",USD,,\n'  # row 5: thousands separator
        "U1,2025-01-02,,deposit,,,,NaN,USD,,\n"  # row 6
        "U1,2025-01-02,,buy,AAPL,-3,10,,USD,,\n"  # row 7: negative quantity
        "U1,2025-01-02,,buy,AAPL,1.1234567,10,,USD,,\n"  # row 8: 7 decimals
        "U1,2025-01-02,,deposit,,,,100,US,,\n"  # row 9: currency
        "U1,2025-01-02,2025-01-01,deposit,,,,100,USD,,\n"  # row 10: settles before trade
        "U1,2025-01-02,,teleport,,,,100,USD,,\n"  # row 11: unknown type
        "U1,2025-01-02,,buy,,,,,USD,,\n"  # row 12: buy without symbol, quantity, price
    )
    _, result = parsers.parse(text.encode(), "transactions_csv")
    assert errors(result) == {
        (2, "trade_date"),
        (3, "trade_date"),
        (4, "amount"),
        (5, "amount"),
        (6, "amount"),
        (7, "quantity"),
        (8, "quantity"),
        (9, "currency"),
        (10, "settle_date"),
        (11, "type"),
        (12, "symbol"),
        (12, "quantity"),
        (12, "price"),
    }
    assert result.operations == []


def test_flex_statement_sections() -> None:
    kind, result = parsers.parse((FIXTURES / "flex_statement.xml").read_bytes(), "")
    assert kind == "broker_xml" and result.ok
    ops = result.operations
    trades = [o for o in ops if isinstance(o, TransactionRow) and o.kind in {"buy", "sell"}]
    cash = [o for o in ops if isinstance(o, TransactionRow) and o.kind not in {"buy", "sell"}]
    assert [(t.kind, t.symbol, t.quantity, t.amount, t.external_id) for t in trades] == [
        ("buy", "AAPL", Decimal(100), Decimal(15026), "ibkr:trade:1001"),
        ("buy", "MSFT", Decimal(10), Decimal(4001), "ibkr:trade:1003"),
        ("sell", "AAPL", Decimal(40), Decimal(6399), "ibkr:trade:1002"),  # yyyy-MM-dd;HH:mm:ss dates too
    ]
    assert trades[2].trade_date == date(2025, 1, 28) and trades[0].row == 11  # the element's line
    assert [(c.kind, c.amount) for c in cash] == [
        ("deposit", Decimal(50000)),
        ("dividend", Decimal(15)),
        ("fee", Decimal("2.25")),  # withholding tax
        ("interest", Decimal("3.10")),
        ("fee", Decimal(10)),
    ]
    positions = [o for o in ops if isinstance(o, PositionRow)]
    assert [(p.symbol, p.quantity, p.cost_basis) for p in positions] == [
        ("AAPL", Decimal(60), Decimal("9015.60")),
        ("MSFT", Decimal(10), Decimal(4001)),
    ]
    navs = [o for o in ops if isinstance(o, NavRow)]
    assert {(n.date, n.total) for n in navs} == {(date(2025, 1, 31), Decimal("51377.85"))}
    assert any(i.level == "info" and "summary" in i.message for i in result.issues)  # summary rows skipped


def test_flex_bad_attributes_name_line_and_attribute() -> None:
    xml = (
        '<FlexQueryResponse><FlexStatements count="1"><FlexStatement accountId="U1" toDate="20250131">\n'
        "<Trades>\n"
        '<Trade symbol="AAPL" buySell="BUY" quantity="x" tradePrice="1" currency="USD" tradeDate="20251399"/>\n'
        '<Trade symbol="AAPL" buySell="BUY (Ca.)" quantity="1" tradePrice="1" currency="USD" tradeDate="20250102"/>\n'
        "</Trades><CashTransactions>\n"
        '<CashTransaction type="Lottery Win" amount="5" currency="USD" dateTime="20250102"/>\n'
        "</CashTransactions></FlexStatement></FlexStatements></FlexQueryResponse>"
    )
    _, result = parsers.parse(xml.encode(), "broker_xml")
    assert errors(result) == {(3, "quantity"), (3, "tradeDate"), (4, "buySell"), (6, "type")}


@pytest.mark.parametrize(
    "payload",
    [
        # Billion laughs: entity expansion.
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
        b"<FlexQueryResponse>&lol2;</FlexQueryResponse>",
        # External entity.
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><FlexQueryResponse>&x;'
        b"</FlexQueryResponse>",
    ],
)
def test_flex_refuses_dtds_and_entities(payload: bytes) -> None:
    result = flex.parse(payload.decode())
    assert len(result.issues) == 1 and result.issues[0].row == 0 and "refused" in result.issues[0].message
    assert not result.operations


def test_malformed_xml_reports_the_line() -> None:
    result = flex.parse("<FlexQueryResponse>\n<FlexStatements>\n<oops></FlexStatements>")
    assert result.issues[0].row == 3 and "not well-formed" in result.issues[0].message


@pytest.mark.parametrize(
    ("content", "kind", "message"),
    [
        (b"", "", "The file is empty."),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "transactions_csv", "a PNG image"),
        ((FIXTURES / "flex_statement.xml").read_bytes(), "transactions_csv", "looks like a broker statement"),
        (b"<html><body>hi</body></html>", "", "not an Interactive Brokers Flex statement"),
        ((FIXTURES / "prices.csv").read_bytes(), "positions_csv", "looks like a prices CSV"),
        ((FIXTURES / "latin1.csv").read_bytes(), "", "not UTF-8"),
        (b"just some words\nand more", "", "could not be recognised"),
    ],
)
def test_wrong_kind_of_file(content: bytes, kind: str, message: str) -> None:
    _, result = parsers.parse(content, kind)
    assert not result.ok and not result.operations
    assert result.issues[0].row == 0 and message in result.issues[0].message


def test_spreadsheet_safe_report_cells() -> None:
    assert spreadsheet_safe("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert spreadsheet_safe("+1") == "'+1" and spreadsheet_safe("@SUM") == "'@SUM"
    assert spreadsheet_safe("Unknown account") == "Unknown account"


def test_issue_as_dict() -> None:
    assert Issue(3, "amount", "bad").as_dict() == {"row": 3, "column": "amount", "message": "bad", "level": "error"}


def _workbook(rows: list[list[object]], edit: object = None) -> bytes:
    import io

    from openpyxl import Workbook

    wb = Workbook()
    sheet = wb.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    if callable(edit):
        edit(sheet)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_an_excel_workbook_reads_as_the_same_rows_as_its_csv() -> None:
    header = HEADER.strip().split(",")
    rows = [
        ["U1", date(2025, 2, 3), date(2025, 2, 3), "deposit", "", "", "", 25000, "USD", "Wire\nfrom client", "X1"],
        ["U1", date(2025, 2, 4), "2025-02-06", "buy", "AAPL", 10, 228.5, "", "USD", "", "X2"],
        [],  # a blank row is skipped and keeps the rows after it numbered as in the sheet
        ["U1", "2025-02-05", "", "fee", "", "", "", 0.1 + 0.2, "USD", "", "X3"],
    ]
    kind, result = parsers.parse(_workbook([header, *rows]), "")
    assert kind == "transactions_csv" and result.ok, result.issues
    deposit, buy, fee = result.operations
    assert isinstance(deposit, TransactionRow) and deposit.trade_date == date(2025, 2, 3)
    assert deposit.amount == Decimal(25000) and deposit.description == "Wire from client"
    assert isinstance(buy, TransactionRow) and (buy.row, buy.quantity, buy.price) == (3, 10, Decimal("228.5"))
    assert isinstance(fee, TransactionRow) and (fee.row, fee.amount) == (5, Decimal("0.3"))


def test_an_excel_workbook_with_formulas_or_merged_cells_is_refused() -> None:
    header = ["account", "trade_date", "type", "amount", "currency"]
    data = [header, ["U1", "2025-02-03", "deposit", "=1+1", "USD"], ["U1", "2025-02-03", "deposit", 5, "USD"]]
    _, result = parsers.parse(_workbook(data), "transactions_csv")
    assert errors(result) == {(2, "amount")} and "formula" in result.issues[0].message
    _, result = parsers.parse(_workbook(data[:1] + data[2:], lambda s: s.merge_cells("A2:B2")), "")
    assert "Merged cells A2:B2" in result.issues[0].message and not result.operations
    _, result = parsers.parse(b"PK\x03\x04 not a workbook", "")
    assert "not a valid .xlsx" in result.issues[0].message
