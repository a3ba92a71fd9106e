"""Interactive Brokers activity statements: the "Flex Query" XML export.

``FlexQueryResponse/FlexStatements/FlexStatement`` (``accountId``, ``fromDate``, ``toDate``) holds
sections whose data elements carry everything in attributes:

- ``Trades/Trade``: ``buySell`` BUY/SELL, ``quantity`` (negative for sales), ``tradePrice``,
  ``netCash`` (proceeds with the commission; negative for purchases), ``tradeDate``,
  ``settleDateTarget``, ``tradeID``/``transactionID``.
- ``CashTransactions/CashTransaction``: ``type`` (Deposits/Withdrawals, Dividends, Withholding Tax,
  Broker Interest Received/Paid, Other Fees…), signed ``amount``, ``dateTime``, ``transactionID``.
- ``OpenPositions/OpenPosition``: ``position``, ``costBasisMoney``, ``reportDate``.
- NAV: ``EquitySummaryInBase/EquitySummaryByReportDateInBase`` (``reportDate``, ``total``) and
  ``ChangeInNAV`` (``toDate``, ``endingValue``).

Dates come as ``yyyyMMdd`` (the default) or ``yyyy-MM-dd``, date-times with ``;`` (default), ``,``,
space or ``T`` before the time. Parsed with defusedxml's SAX reader: no DTD, no entities, no
external references; the locator gives the line of each element, which is the "row" of a report.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from xml.sax import SAXParseException
from xml.sax.handler import ContentHandler

from defusedxml import DefusedXmlException
from defusedxml.sax import parseString

from advisorportal.jobs.issues import FILE, Issue
from portfolios.custodian.parsers.base import NavRow, ParseResult, PositionRow, RowErrors, TransactionRow

# Cash transaction types -> (kind if the amount is positive, kind if negative); None: not supported.
CASH_TYPES: dict[str, tuple[str | None, str | None]] = {
    "Deposits/Withdrawals": ("deposit", "withdrawal"),
    "Deposits & Withdrawals": ("deposit", "withdrawal"),
    "Dividends": ("dividend", "fee"),
    "Payment In Lieu Of Dividends": ("dividend", "fee"),
    "Withholding Tax": ("dividend", "fee"),  # a positive line refunds tax withheld on a dividend
    "Broker Interest Received": ("interest", "fee"),
    "Bond Interest Received": ("interest", "fee"),
    "Broker Interest Paid": (None, "fee"),
    "Bond Interest Paid": (None, "fee"),
    "Other Fees": (None, "fee"),
    "Broker Fees": (None, "fee"),
    "Commission Adjustments": (None, "fee"),
    "Advisor Fees": (None, "fee"),
}
TRADE_ASSET_CATEGORIES = frozenset({"", "STK", "ETF", "FUND", "BOND"})
DETAIL_LEVELS = frozenset({"", "EXECUTION", "DETAIL"})
OPEN_POSITION_LEVELS = frozenset({"", "SUMMARY"})
SECTIONS = {
    "Trade",
    "CashTransaction",
    "OpenPosition",
    "EquitySummaryByReportDateInBase",
    "ChangeInNAV",
}


class _Collector(ContentHandler):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str], int]] = []
        self.root = ""

    def startElement(self, name: str, attrs: Any) -> None:
        locator = getattr(self, "_locator", None)  # set by the SAX reader before the first element
        line = locator.getLineNumber() if locator is not None else 0
        if not self.root:
            self.root = name
        if name in SECTIONS or name == "FlexStatement":
            self.elements.append((name, dict(attrs.items()), line))


def parse_flex_date(value: str) -> date:
    """``yyyyMMdd`` or ``yyyy-MM-dd``, optionally followed by a time after ``;``, ``,``, space or ``T``."""
    raw = value.strip()
    for separator in (";", ",", " ", "T"):
        if separator in raw:
            raw = raw.split(separator, 1)[0]
            break
    if len(raw) == 8 and raw.isdigit():
        return datetime.strptime(raw, "%Y%m%d").date()
    if len(raw) == 10:
        return date.fromisoformat(raw)
    raise ValueError(value)


class _Row(RowErrors):
    """Row checks with the Flex formats of dates and numbers."""

    def flex_date(self, value: str | None, column: str, *, required: bool = True) -> date | None:
        raw = (value or "").strip()
        if not raw:
            if required:
                self.add(column, "This value is required.")
            return None
        try:
            return parse_flex_date(raw)
        except ValueError:
            self.add(column, f"{raw[:40]!r} is not a date (expected yyyyMMdd or yyyy-MM-dd).")
            return None

    def flex_number(self, value: str | None, column: str, *, required: bool = True) -> Decimal | None:
        return self.decimal((value or "").replace(",", ""), column, required=required, signed=True)


def _external_id(prefix: str, *parts: object) -> str:
    return f"{prefix}:" + hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:40]


def parse(text: str) -> ParseResult:
    result = ParseResult()
    collector = _Collector()
    try:
        parseString(text.encode("utf-8"), collector, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as error:
        result.issues.append(Issue(FILE, "", f"The XML uses a feature that is refused for safety ({error})."))
        return result
    except SAXParseException as error:
        line = error.getLineNumber() or 0
        result.issues.append(Issue(line, "", f"The XML is not well-formed: {error.getMessage()}."))
        return result
    if collector.root != "FlexQueryResponse":
        message = "This is not a Flex statement: the root element is not FlexQueryResponse."
        result.issues.append(Issue(FILE, "", message))
        return result
    statement_account, statement_to = "", None
    statements = summaries = 0
    for name, attrs, line in collector.elements:
        check = _Row(line, result.issues)
        if name == "FlexStatement":
            statements += 1
            statement_account = check.text(attrs.get("accountId"), "accountId", required=True, max_length=32).upper()
            check.flex_date(attrs.get("fromDate"), "fromDate", required=False)
            statement_to = check.flex_date(attrs.get("toDate"), "toDate", required=False)
            continue
        result.rows += 1
        account = check.text(attrs.get("accountId") or statement_account, "accountId", required=True, max_length=32)
        account = account.upper()
        level = (attrs.get("levelOfDetail") or "").upper()
        if name == "Trade":
            if level not in DETAIL_LEVELS:
                result.rows -= 1
                summaries += 1
                continue
            _trade(check, attrs, account, result)
        elif name == "CashTransaction":
            if level not in DETAIL_LEVELS:
                result.rows -= 1
                summaries += 1
                continue
            _cash(check, attrs, account, result)
        elif name == "OpenPosition":
            if level not in OPEN_POSITION_LEVELS:
                result.rows -= 1
                summaries += 1
                continue
            _position(check, attrs, account, statement_to, result)
        elif name == "EquitySummaryByReportDateInBase":
            day = check.flex_date(attrs.get("reportDate"), "reportDate")
            total = check.flex_number(attrs.get("total"), "total")
            currency = check.currency(attrs.get("currency"), "currency", required=False)
            if not check.failed and day is not None and total is not None:
                result.operations.append(NavRow(line, account, day, total, currency, columns=_NAV_COLUMNS))
        elif name == "ChangeInNAV":
            day = check.flex_date(attrs.get("toDate"), "toDate", required=False) or statement_to
            total = check.flex_number(attrs.get("endingValue"), "endingValue")
            currency = check.currency(attrs.get("currency"), "currency", required=False)
            if day is None and not check.failed:
                check.add("toDate", "The statement gives no date for this NAV.")
            if not check.failed and day is not None and total is not None:
                result.operations.append(NavRow(line, account, day, total, currency, columns=_CHANGE_COLUMNS))
    if statements == 0:
        result.issues.append(Issue(FILE, "", "The file holds no FlexStatement."))
    if summaries:
        result.issues.append(
            Issue(FILE, "levelOfDetail", f"{summaries} summary or lot rows were skipped (details are used).", "info")
        )
    return result


_TRADE_COLUMNS = {
    "account": "accountId",
    "kind": "buySell",
    "trade_date": "tradeDate",
    "settle_date": "settleDateTarget",
    "symbol": "symbol",
    "quantity": "quantity",
    "price": "tradePrice",
    "amount": "netCash",
    "currency": "currency",
    "external_id": "tradeID",
}
_CASH_COLUMNS = {
    "account": "accountId",
    "kind": "type",
    "trade_date": "dateTime",
    "settle_date": "settleDate",
    "symbol": "symbol",
    "amount": "amount",
    "currency": "currency",
    "external_id": "transactionID",
}
_POSITION_COLUMNS = {
    "account": "accountId",
    "symbol": "symbol",
    "quantity": "position",
    "cost_basis": "costBasisMoney",
    "currency": "currency",
    "as_of": "reportDate",
}
_NAV_COLUMNS = {"account": "accountId", "date": "reportDate", "total": "total"}
_CHANGE_COLUMNS = {"account": "accountId", "date": "toDate", "total": "endingValue"}


def _trade(check: _Row, attrs: dict[str, str], account: str, result: ParseResult) -> None:
    category = (attrs.get("assetCategory") or "").upper()
    if category not in TRADE_ASSET_CATEGORIES:
        check.add("assetCategory", f"Trades of asset category {category!r} are not supported (stocks, funds, bonds).")
    side = (attrs.get("buySell") or "").strip().upper()
    if side not in {"BUY", "SELL"}:
        message = (
            "Cancelled trades (BUY (Ca.)/SELL (Ca.)) are not supported; correct the trade in the account."
            if "(CA.)" in side
            else f"{side[:20]!r} is not BUY or SELL."
        )
        check.add("buySell", message)
    symbol = check.text(attrs.get("symbol"), "symbol", required=True, max_length=32).upper()
    quantity = check.flex_number(attrs.get("quantity"), "quantity")
    price = check.flex_number(attrs.get("tradePrice"), "tradePrice")
    net_cash = check.flex_number(attrs.get("netCash"), "netCash", required=False)
    currency = check.currency(attrs.get("currency"), "currency")
    trade_date = check.flex_date(attrs.get("tradeDate") or attrs.get("dateTime"), "tradeDate")
    settle_date = check.flex_date(attrs.get("settleDateTarget"), "settleDateTarget", required=False)
    description = check.text(attrs.get("description"), "description")
    if quantity is not None and quantity == 0:
        check.add("quantity", "The quantity is zero.")
    if price is not None and price <= 0:
        check.add("tradePrice", "The price must be greater than zero.")
    if check.failed or trade_date is None or quantity is None:
        return
    kind = "buy" if side == "BUY" else "sell"
    if (kind == "buy") != (quantity > 0):
        check.add("quantity", f"A {side} has a {'negative' if kind == 'buy' else 'positive'} quantity.")
        return
    amount = abs(net_cash) if net_cash else None
    if net_cash and ((kind == "buy") != (net_cash < 0)):
        check.add("netCash", f"The net cash of a {side} has the wrong sign.")
        return
    trade_id = (attrs.get("tradeID") or attrs.get("transactionID") or "").strip()
    external_id = f"ibkr:trade:{trade_id}"[:100] if trade_id else ""
    if not external_id:
        external_id = _external_id("xml", account, kind, trade_date, symbol, quantity, price, net_cash)
    result.operations.append(
        TransactionRow(
            row=check.row,
            account=account,
            kind=kind,
            trade_date=trade_date,
            settle_date=settle_date,
            symbol=symbol,
            quantity=abs(quantity),
            price=price,
            amount=amount,
            currency=currency,
            description=description or f"{side.title()} {abs(quantity).normalize():f} {symbol}",
            external_id=external_id,
            columns=_TRADE_COLUMNS,
        )
    )


def _cash(check: _Row, attrs: dict[str, str], account: str, result: ParseResult) -> None:
    cash_type = (attrs.get("type") or "").strip()
    amount = check.flex_number(attrs.get("amount"), "amount")
    currency = check.currency(attrs.get("currency"), "currency")
    day = check.flex_date(attrs.get("dateTime") or attrs.get("reportDate"), "dateTime")
    settle_date = check.flex_date(attrs.get("settleDate"), "settleDate", required=False)
    description = check.text(attrs.get("description"), "description")
    symbol = check.text(attrs.get("symbol"), "symbol", max_length=32).upper()
    kinds = CASH_TYPES.get(cash_type)
    if kinds is None:
        check.add("type", f"Cash transactions of type {cash_type[:60]!r} are not supported.")
    if amount is not None and amount == 0:
        check.add("amount", "The amount is zero.")
    if check.failed or amount is None or day is None or kinds is None:
        return
    kind = kinds[0] if amount > 0 else kinds[1]
    if kind is None:
        check.add("amount", f"A positive {cash_type} (a refund) is not supported; record it by hand.")
        return
    if settle_date is not None and settle_date < day:
        settle_date = day
    transaction_id = (attrs.get("transactionID") or "").strip()
    external_id = f"ibkr:cash:{transaction_id}"[:100] if transaction_id else ""
    if not external_id:
        external_id = _external_id("xml", account, cash_type, day, symbol, amount, currency, description)
    text = description or cash_type
    if symbol and symbol not in text:
        text = f"{symbol} {text}"
    result.operations.append(
        TransactionRow(
            row=check.row,
            account=account,
            kind=kind,
            trade_date=day,
            settle_date=settle_date,
            symbol="",  # cash moves no position; the symbol stays in the description
            quantity=None,
            price=None,
            amount=abs(amount),
            currency=currency,
            description=text[:300],
            external_id=external_id,
            columns=_CASH_COLUMNS,
        )
    )


def _position(check: _Row, attrs: dict[str, str], account: str, statement_to: date | None, result: ParseResult) -> None:
    symbol = check.text(attrs.get("symbol"), "symbol", required=True, max_length=32).upper()
    quantity = check.flex_number(attrs.get("position"), "position")
    cost_basis = check.flex_number(attrs.get("costBasisMoney"), "costBasisMoney", required=False)
    currency = check.currency(attrs.get("currency"), "currency")
    as_of = check.flex_date(attrs.get("reportDate"), "reportDate", required=statement_to is None) or statement_to
    if quantity is not None and quantity < 0:
        check.add("position", "Short positions are not supported.")
    if cost_basis is not None and cost_basis < 0:
        check.add("costBasisMoney", "Must not be negative.")
    if check.failed or quantity is None or as_of is None:
        return
    result.operations.append(
        PositionRow(
            check.row,
            account,
            symbol,
            quantity,
            cost_basis or Decimal(0),
            currency,
            as_of,
            columns=_POSITION_COLUMNS,
        )
    )
