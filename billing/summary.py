"""The firm's summary of a fee run, one row per fee line, as CSV (streamed) and Excel.

Amounts are plain decimals in the line's currency (no thousands separators, so a spreadsheet reads
them as numbers), text goes through ``crm.contact_io.exports.csv_safe`` (no formula runs in a
spreadsheet), and the valuation window's dates follow the reader's date format, passed in by the
view (a streamed body is written after the request's format was reset). The Excel workbook is
written in openpyxl's write-only mode to a temporary file, amounts as number cells."""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import WriteOnlyCell

from advisorportal import formats
from billing.models import FeeLine, FeeRun, Valuation
from crm.contact_io.exports import csv_safe, printable
from crm.models import Household

HEADER = [
    "Account", "Household", "Schedule", "Currency", "Value", "Valuation", "Valued from", "Valued to", "Period fee",
    "Previously billed", "Posted", "Debited from", "Status",
]  # fmt: skip


class _Echo:
    def write(self, value: str) -> str:
        return value


def _lines(run: FeeRun) -> Any:
    return (
        FeeLine.objects.filter(run=run)
        .select_related("account", "payer", "version__schedule")
        .order_by("account__number", "id")
    )


def _households(run: FeeRun) -> dict[int, str]:
    ids = FeeLine.objects.filter(run=run, household__isnull=False).values_list("household_id", flat=True).distinct()
    return dict(Household.objects.filter(pk__in=list(ids)).values_list("pk", "name"))


def rows(run: FeeRun) -> Iterator[list[Any]]:
    """Each line as cells: text, ``Decimal`` amounts (None when nothing was posted) and dates."""
    names = _households(run)
    for line in _lines(run).iterator(chunk_size=2000):
        valued = line.details.get("valuation") or {}
        method = valued.get("method", "")
        low, high = valued.get("from"), valued.get("to")
        yield [
            line.account.number,
            names.get(line.household_id, "") if line.household_id else "",
            line.version.schedule.name if line.version else "",
            line.currency,
            line.value,
            Valuation(method).label if method in Valuation.values else "",
            date.fromisoformat(low) if low else "",
            date.fromisoformat(high) if high else "",
            line.period_fee,
            line.previously_billed,
            line.posted_amount,
            (line.payer or line.account).number if line.posted_amount else "",
            line.get_status_display(),
        ]


def _text(value: Any, currency: str, date_format: str) -> str:
    if isinstance(value, Decimal):
        return f"{value:.{formats.minor_units(currency)}f}"
    if isinstance(value, date):
        return formats.day(value, date_format)
    return csv_safe(value)


def csv_lines(run: FeeRun, *, date_format: str) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(HEADER)  # a BOM, so Excel reads UTF-8
    for cells in rows(run):
        yield writer.writerow([_text(v, cells[3], date_format) for v in cells])


def workbook(run: FeeRun, *, date_format: str) -> Any:
    """A temporary file holding the workbook: amounts as number cells with two decimals, dates as
    date cells shown in ``date_format``."""
    style = formats.date_style(date_format)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(run.reference)
    ws.append(HEADER)
    for cells in rows(run):
        out: list[Any] = []
        for value in cells:
            if isinstance(value, Decimal | date):
                cell = WriteOnlyCell(ws, value=value)
                cell.number_format = style.excel_date if isinstance(value, date) else "#,##0.00"
                out.append(cell)
            else:
                out.append(csv_safe(printable(value)) if isinstance(value, str) else value)
        ws.append(out)
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - handed to FileResponse, which closes it
    wb.save(handle)
    handle.seek(0)
    return handle


def filename(run: FeeRun, extension: str) -> str:
    return f"fee-run-{run.pk}-{run.period_start.isoformat()}-{run.period_end.isoformat()}.{extension}"
