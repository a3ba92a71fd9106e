"""One parser per import format, plus the sniffer that recognises a file by its content (the jobs
kit tells binary files apart and decodes text; the first line or root element says which format).
The CSV formats may also come as an Excel workbook (.xlsx): its first sheet is read by the kit's
safe reader and handed on as the same rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from advisorportal.jobs import excel
from advisorportal.jobs.issues import FILE, Issue
from advisorportal.jobs.uploads import CsvText, FileRefused, decode_text, delimiter, sniff
from portfolios.custodian.parsers import flex, positions, prices, transactions
from portfolios.custodian.parsers.base import ParseResult

CSV_PARSERS = {
    "positions_csv": positions.parse,
    "transactions_csv": transactions.parse,
    "prices_csv": prices.parse,
}
HEADERS = {
    "positions_csv": positions.FORMAT,
    "transactions_csv": transactions.FORMAT,
    "prices_csv": prices.FORMAT,
}
LABELS = {
    "positions_csv": "positions CSV",
    "transactions_csv": "transactions CSV",
    "prices_csv": "prices CSV",
    "broker_xml": "broker statement (Flex XML)",
}


def detect(text: str) -> str | None:
    """The kind of file ``text`` looks like, from its first line or root element; None if unknown."""
    head = text.lstrip()[:2000]
    if head.startswith("<"):
        return "broker_xml" if "<FlexQueryResponse" in head or "<FlexStatements" in head else "xml"
    first_line = head.splitlines()[0] if head else ""
    names = {name.strip().strip('"').lower().replace(" ", "_") for name in first_line.split(delimiter(first_line))}
    for kind, fmt in HEADERS.items():
        if set(fmt.required) <= names and names <= set(fmt.columns):
            return kind
    return None


def _cell(value: Any) -> str:
    """A cell as the text a CSV export of it would hold: whole numbers without ".0", other numbers
    to the 15 significant digits Excel shows, dates as YYYY-MM-DD, line breaks as spaces (one sheet
    row stays one row, so rows keep their numbers)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else format(value, ".15g")
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return " ".join(str(value).splitlines()) if value is not None else ""


def _workbook_as_csv(content: bytes) -> tuple[str | None, list[Issue]]:
    """The first sheet as CSV text, or the issues that refuse it (formulas, merged cells)."""
    sheet = excel.read_sheet(content)
    header = [str(name).strip() for name in (sheet.rows[0] if sheet.rows else [])]
    issues = [Issue(FILE, "", f"Merged cells {ref}: unmerge them (one value per cell).") for ref in sheet.merged[:20]]
    for letters, row, formula in sheet.formulas[:100]:
        index = excel.column_index(letters)
        column = header[index] if index < len(header) and header[index] else letters
        issues.append(Issue(row, column, f"The cell holds a formula ({formula[:40]}); enter its value instead."))
    if issues:
        return None, issues
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for values in sheet.rows:
        writer.writerow([_cell(value) for value in values])
    return out.getvalue(), []


def parse(content: bytes, requested_kind: str) -> tuple[str, ParseResult]:
    """Recognise and parse ``content``; ``requested_kind`` blank means detect. Returns the kind used."""
    result = ParseResult()
    if not content.strip():
        result.issues.append(Issue(FILE, "", "The file is empty."))
        return requested_kind, result
    sniffed = sniff(content[:4096])
    if sniffed.kind not in ("text", "zip"):
        result.issues.append(Issue(FILE, "", f"The file is {sniffed.label}, not a CSV, Excel or XML file."))
        return requested_kind, result
    try:
        if sniffed.kind == "zip":
            text, refused = _workbook_as_csv(content)
            if text is None:
                result.issues.extend(refused)
                return requested_kind, result
        else:
            text = decode_text(content)
    except FileRefused as refused:
        result.issues.append(Issue(FILE, "", str(refused)))
        return requested_kind, result
    detected = detect(text)
    if detected == "xml":
        if requested_kind and requested_kind != "broker_xml":
            message = f"The file is XML, not a {LABELS[requested_kind]}."
        else:
            message = "The file is XML but not an Interactive Brokers Flex statement (no FlexQueryResponse)."
        result.issues.append(Issue(FILE, "", message))
        return requested_kind, result
    if requested_kind:
        if detected is not None and detected != requested_kind:
            result.issues.append(
                Issue(FILE, "", f"The file looks like a {LABELS[detected]}, not a {LABELS[requested_kind]}.")
            )
            return requested_kind, result
        kind = requested_kind
    elif detected is None:
        result.issues.append(
            Issue(
                FILE,
                "",
                "The kind of file could not be recognised from its first line: choose the kind, "
                "or use one of the documented headers.",
            )
        )
        return "", result
    else:
        kind = detected
    if kind == "broker_xml":
        return kind, flex.parse(text)
    return kind, CSV_PARSERS[kind](CsvText(text, delimiter(text)))
