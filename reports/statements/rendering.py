"""A statement's stored figures as a PDF (the floor's one renderer), a CSV and an Excel workbook.

The three are drawn from the same ``figures`` (``reports.statements.figures``): the PDF shows
amounts with thousands separators and rates as percentages to two places, the CSV and the
workbook the same amounts as plain decimals and rates as fractions to ten places (a spreadsheet
reads them as numbers). Charts are SVG drawn here and handed to WeasyPrint as ``data:`` URIs (the
renderer fetches nothing else). Text cells go through ``csv_safe`` (no formula runs in a
spreadsheet).
"""

from __future__ import annotations

import base64
import csv
import io
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from html import escape
from typing import Any

from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell.cell import WriteOnlyCell

from advisorportal import formats
from advisorportal.pdf import Branding, render_pdf
from crm.contact_io.exports import csv_safe, printable
from reports.statements.models import Kind, Section

SECTION_TITLES = dict(Section.choices)


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    header: list[str]
    rows: list[list[Any]]  # str, Decimal (amount or rate), date, or None


def _d(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def _day(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def tables(figures: dict[str, Any], sections: list[str]) -> list[Table]:
    """The statement's sections as tables, in the order of ``sections`` (the chart has none)."""
    currency = figures["currency"]
    out: list[Table] = []
    for section in sections:
        if section == Section.SUMMARY:
            s = figures["summary"]
            out.append(Table("summary", "Balances", ["Line", f"Amount ({currency})"], [
                ["Opening value", _d(s["opening"])],
                ["Deposits and withdrawals (net)", _d(s["flows"])],
                ["Fees (less refunds)", _d(s["fees"])],
                ["Investment result, net of fees", _d(s["gain"])],
                ["Closing value", _d(s["closing"])],
                ["of which: income (dividends and interest)", _d(s["income"])],
                ["of which: cash at the end", _d(s["cash"])],
            ]))  # fmt: skip
        elif section == Section.PERFORMANCE:
            out.append(Table(
                "performance", "Performance",
                ["Period", "From close of", "To", "Time-weighted (net)", "Time-weighted, annualised",
                 "Money-weighted (net)", "Money-weighted, annualised", "Modified Dietz (net)", "Time-weighted (gross)",
                 f"Benchmark {figures['benchmark']}".strip(), "Not measured because"],
                [[p["label"], _day(p["base"]), _day(p["end"]), _d(p["twr"]), _d(p["twr_annualised"]), _d(p["mwr"]),
                  _d(p["mwr_annualised"]), _d(p["modified_dietz"]), _d(p["gross_twr"]), _d(p["benchmark"]),
                  p["undefined"]] for p in figures["performance"]],
            ))  # fmt: skip
        elif section == Section.ALLOCATION:
            rows = [[a["asset_class"], _d(a["value"]), _d(a["weight"])] for a in figures["allocation"]]
            out.append(Table("allocation", "Allocation", ["Asset class", f"Value ({currency})", "Weight"], rows))
        elif section == Section.POSITIONS:
            rows = [[p["account"], p["symbol"], p["name"], p["asset_class"], _d(p["quantity"]), _d(p["price"]),
                     _day(p["price_date"]), p["currency"], _d(p["value"]), _d(p["cost"]), _d(p["unrealized"]),
                     _d(p["value_base"])] for p in figures["positions"]]  # fmt: skip
            rows += [["", "Cash", c["currency"], "Cash", None, None, None, c["currency"], _d(c["value"]), None, None,
                      _d(c["value_base"])] for c in figures["cash"]]  # fmt: skip
            out.append(Table("positions", "Positions", [
                "Account", "Symbol", "Name", "Asset class", "Quantity", "Price", "Price date", "Currency",
                "Market value", "Cost", "Unrealized gain", f"Market value ({currency})",
            ], rows))  # fmt: skip
        elif section in (Section.TRANSACTIONS, Section.FEES):
            key = "transactions" if section == Section.TRANSACTIONS else "fees"
            out.append(Table(key, SECTION_TITLES[section], [
                "Trade date", "Account", "Kind", "Symbol", "Description", "Quantity", "Price", "Amount", "Currency",
            ], [[_day(t["date"]), t["account"], t["kind"], t["symbol"], t["description"], _d(t["quantity"]),
                 _d(t["price"]), _d(t["amount"]), t["currency"]] for t in figures[key]]))  # fmt: skip
    return out


# --- PDF ----------------------------------------------------------------------------------------------


def _data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def growth_svg(chart: dict[str, Any], brand: Branding, date_format: str) -> str:
    """The growth of 10,000 (time-weighted, net) beside the benchmark, as a data URI: the line, the
    10,000 baseline, and the first and last values and dates written at the ends."""
    width, height, left, bottom = 600, 200, 72, 18  # the reports' chart is 600 x 200; labels around it
    first, last = formats.amount(chart["first"]), formats.amount(chart["last"])
    start, end = formats.day(_day(chart["first_date"]), date_format), formats.day(_day(chart["last_date"]), date_format)
    bench = (
        f'<polyline points="{chart["benchmark_points"]}" fill="none" stroke="#6b7280" stroke-width="1.5" '
        'stroke-dasharray="4 3"/>'
        if chart["benchmark_points"]
        else ""
    )
    font = 'font-family="DejaVu Sans" font-size="11" fill="#444"'
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width + left} {height + bottom}" '
        f'width="{width + left}" height="{height + bottom}">'
        f'<rect width="{width + left}" height="{height + bottom}" fill="#ffffff"/>'
        f'<text x="{left - 6}" y="{chart["baseline_y"] + 4}" text-anchor="end" {font}>{escape(first)}</text>'
        f'<text x="{left}" y="{height + bottom - 3}" {font}>{escape(start)}</text>'
        f'<text x="{width + left}" y="{height + bottom - 3}" text-anchor="end" {font}>{escape(end)}: '
        f"{escape(last)}</text>"
        f'<g transform="translate({left},0)">'
        f'<line x1="0" x2="{width}" y1="{chart["baseline_y"]}" y2="{chart["baseline_y"]}" stroke="#d1d5db"/>'
        f"{bench}"
        f'<polyline points="{chart["points"]}" fill="none" stroke="{brand.primary}" stroke-width="2"/>'
        "</g></svg>"
    )
    return _data_uri(svg)


def allocation_svg(allocation: list[dict[str, Any]], brand: Branding) -> str:
    """One horizontal bar per asset class, its weight written beside it."""
    row, width = 26, 600
    height = max(row * len(allocation), row)
    bars = []
    for i, a in enumerate(allocation):
        weight = float(a["weight"])
        y = i * row
        bars.append(
            f'<text x="0" y="{y + 17}" font-size="12" font-family="DejaVu Sans">{escape(a["asset_class"])}</text>'
            f'<rect x="150" y="{y + 4}" width="{max(weight * 380, 1):.1f}" height="16" '
            f'fill="{brand.primary if i % 2 == 0 else brand.accent}"/>'
            f'<text x="{150 + weight * 380 + 6:.1f}" y="{y + 17}" font-size="12" font-family="DejaVu Sans">'
            f"{weight * 100:.1f}%</text>"
        )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
        + "".join(bars)
        + "</svg>"
    )
    return _data_uri(svg)


def render(
    *, statement: Any, figures: dict[str, Any], sections: list[str], brand: Branding, disclosures: str,
    recipient: dict[str, Any], date_format: str,
) -> bytes:  # fmt: skip
    """The statement's PDF. A performance report has a cover page and a table of contents."""
    chart = figures.get("chart")
    growth_uri = growth_svg(chart, brand, date_format) if chart and Section.CHART in sections else ""
    allocation_uri = allocation_svg(figures["allocation"], brand) if figures["allocation"] else ""
    shown = [s for s in sections if (s != Section.CHART or growth_uri) and (s != Section.ALLOCATION or allocation_uri)]
    context = {
        "statement": statement,
        "figures": figures,
        "sections": shown,
        "toc": [(s, SECTION_TITLES[s]) for s in shown],
        "cover": statement.kind == Kind.PERFORMANCE,
        "start": _day(figures["period"]["start"]),
        "end": _day(figures["period"]["end"]),
        "base": _day(figures["period"]["base"]),
        "as_of": _day(figures["period"]["as_of"]),
        "growth_uri": growth_uri,
        "chart": chart,
        "chart_first": _day(chart["first_date"]) if chart else None,
        "chart_last": _day(chart["last_date"]) if chart else None,
        "allocation_uri": allocation_uri if Section.ALLOCATION in sections else "",
        "positions": [{**p, "price_date": _day(p["price_date"])} for p in figures["positions"]],
        "transactions": [{**t, "date": _day(t["date"])} for t in figures["transactions"]],
        "fees": [{**t, "date": _day(t["date"])} for t in figures["fees"]],
        "performance": [{**p, "base": _day(p["base"]), "end": _day(p["end"])} for p in figures["performance"]],
        "disclosures": disclosures,
        "recipient": recipient,
        "issued": timezone.localdate(),
    }
    return render_pdf(
        template="statements/statement_pdf.html",
        stylesheet="statements/statement_pdf.css",
        context=context,
        branding=brand,
        title=statement.title,
        date_format=date_format,
    )


# --- CSV and Excel ----------------------------------------------------------------------------------------


def _text(value: Any, date_format: str) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return formats.day(value, date_format)
    if value is None:
        return ""
    return csv_safe(value)


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_text(figures: dict[str, Any], sections: list[str], *, title: str, date_format: str) -> str:
    """Every section as a block: its title, its header, its rows, a blank line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([csv_safe(title)])
    period = figures["period"]
    writer.writerow(["Period", _text(_day(period["start"]), date_format), _text(_day(period["end"]), date_format),
                     "Currency", figures["currency"]])  # fmt: skip
    writer.writerow([])
    for table in tables(figures, sections):
        writer.writerow([table.title])
        writer.writerow(table.header)
        for row in table.rows:
            writer.writerow([_text(v, date_format) for v in row])
        writer.writerow([])
    return "\ufeff" + buffer.getvalue()  # a BOM, so Excel reads UTF-8


def csv_lines(figures: dict[str, Any], sections: list[str], *, title: str, date_format: str) -> Iterator[str]:
    yield csv_text(figures, sections, title=title, date_format=date_format)


def workbook(figures: dict[str, Any], sections: list[str], *, date_format: str) -> Any:
    """A temporary file holding one sheet per section: amounts and rates as number cells, dates as
    date cells in ``date_format``."""
    style = formats.date_style(date_format)
    wb = Workbook(write_only=True)
    for table in tables(figures, sections):
        ws = wb.create_sheet(table.title[:31])
        ws.append(table.header)
        for row in table.rows:
            cells: list[Any] = []
            for value in row:
                if isinstance(value, date):
                    cell = WriteOnlyCell(ws, value=value)
                    cell.number_format = style.excel_date
                    cells.append(cell)
                elif isinstance(value, Decimal):
                    cells.append(WriteOnlyCell(ws, value=value))
                else:
                    cells.append(csv_safe(printable(value)) if isinstance(value, str) else value)
            ws.append(cells)
    if not wb.worksheets:
        wb.create_sheet("Statement")
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - handed to FileResponse, which closes it
    wb.save(handle)
    handle.seek(0)
    return handle
