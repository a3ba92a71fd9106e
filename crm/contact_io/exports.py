"""Exports of the contacts the user sees with the contacts page's current search and filters
(``crm.selectors.contact_list``), or of a bulk selection (``ids=1,2,3`` within that): never a row
outside the user's scope. Every export is recorded in the audit trail by the view that serves it.

- Contact summary CSV: streamed, one row per contact.
- Application tasks CSV: the contacts in the application stages with their status and what is
  pending next. Onboarding tasks are not modelled yet (the onboarding issue builds them), so
  "pending" is derived from the lifecycle stage and the profile fields still empty.
- Full client data Excel: every field, tax ids decrypted; written to a temporary file (openpyxl
  write-only mode) so 100k rows do not sit in memory.

Dates (issue #13, point 10): the contact summary CSV writes them as ISO 8601 (YYYY-MM-DD), because
it is also a file the contacts import reads back, and the import reads only unambiguous dates
(12/04/2026 is December 4 or April 12). The application tasks CSV, a worklist nobody imports, and
the Excel workbook (real date cells, with the matching number format) follow the user's date
format, passed in by the caller (``date_format``): a streamed CSV is written after the view
returned, when the request's format is no longer in use. The API passes ISO.

Every export writes what is stored, whatever it is: text is passed through ``printable`` (control
characters that spreadsheets and XML refuse dropped), so one value stored before the floor's text
check (``advisorportal.text``) or by a path that skipped it cannot fail the firm's export.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import tempfile
from collections.abc import Iterator, Mapping
from typing import Any

from django.db.models import QuerySet
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, WriteOnlyCell

from advisorportal.formats import DateStyle, date_style, day, excel_datetime
from crm.contact_io.fields import COLUMNS, TAX_ID
from crm.crypto import format_tax_id, open_tax_id
from crm.models import Contact, ContactStatus
from crm.selectors import CONTACT_ORDER, contact_list

RESERVED = {"q", "ids", "after", "sort", "cols", "page", "format"}
APPLICATION_STAGES = (
    ContactStatus.APPLICATION_STARTED,
    ContactStatus.APPLICATION_SUBMITTED,
    ContactStatus.PENDING_APPROVAL,
)
NEXT_STEP = {
    ContactStatus.APPLICATION_STARTED: "Client to complete and submit the application",
    ContactStatus.APPLICATION_SUBMITTED: "Advisor to review the submitted application",
    ContactStatus.PENDING_APPROVAL: "Approval of the new account",
}
# Profile fields an account application needs (a missing one is listed as pending).
APPLICATION_FIELDS = (
    "date_of_birth", "email", "phone", "res_street", "res_city", "res_country", "tax_id_digest",
    "employment_status", "annual_income", "net_worth", "risk_tolerance", "investment_objectives",
)  # fmt: skip


def selected_contacts(*, user: Any, query: Mapping[str, Any], request: Any = None) -> QuerySet[Contact]:
    """The contacts the contacts page shows for ``query`` (its query string), in name order."""
    q = str(query.get("q", "") or "")
    if hasattr(query, "lists"):
        filters: Any = query.copy()  # type: ignore[attr-defined]
        for key in RESERVED:
            filters.pop(key, None)
    else:
        filters = {k: v for k, v in query.items() if k not in RESERVED}
    contacts = contact_list(user=user, q=q, filters=filters or None, request=request)
    ids = str(query.get("ids", "") or "")
    if ids:
        chosen = [int(i) for i in ids.split(",") if i.strip().isdigit()]
        contacts = contacts.filter(pk__in=chosen)
    return contacts.order_by(*CONTACT_ORDER)


# Not XML characters either, though openpyxl writes them (and then cannot read its own file).
NON_CHARACTERS_RE = re.compile("[\ufffe\uffff]")


def printable(text: str) -> str:
    """``text`` without what an Excel cell cannot hold: openpyxl's list (every C0 control but tab,
    line feed and carriage return) and the non-characters U+FFFE and U+FFFF."""
    return NON_CHARACTERS_RE.sub("", ILLEGAL_CHARACTERS_RE.sub("", text))


def csv_safe(value: Any) -> str:
    """A cell as text, printable and neutralised against spreadsheet formulas (CSV injection):
    the formula check comes after dropping control characters, which could hide a leading "="."""
    text = "" if value is None else printable(str(value))
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    def write(self, value: str) -> str:
        return value


SUMMARY_HEADER = ["Id", "Name", "Type", "Status", "Email", "Phone", "Mobile phone", "Organization", "City",
                  "Country", "Risk tolerance", "Priority", "Tags", "Next review", "Created", "Updated"]  # fmt: skip


def summary_rows(contacts: QuerySet[Contact]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(SUMMARY_HEADER)  # a BOM, so Excel reads UTF-8
    for c in contacts.iterator(chunk_size=2000):
        yield writer.writerow([csv_safe(v) for v in (
            c.pk, c.display_name, c.get_kind_display(), c.get_status_display(), c.email, c.phone, c.mobile_phone,
            c.organization, c.res_city, c.res_country, c.get_risk_tolerance_display(), c.get_priority_display(),
            ", ".join(c.tags), c.next_review or "", c.created_at.date().isoformat(), c.updated_at.date().isoformat(),
        )])  # fmt: skip


TASKS_HEADER = ["Id", "Name", "Email", "Phone", "Status", "Next step", "Missing for the application", "Updated"]


def task_rows(contacts: QuerySet[Contact], *, date_format: str) -> Iterator[str]:
    """The application tasks CSV, "Updated" in ``date_format``."""
    from crm.models import Contact as ContactModel

    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(TASKS_HEADER)
    labels = {f.name: str(f.verbose_name) for f in ContactModel._meta.concrete_fields}
    labels["tax_id_digest"] = "tax id"
    for c in contacts.filter(status__in=APPLICATION_STAGES).iterator(chunk_size=2000):
        missing = [labels[name] for name in APPLICATION_FIELDS if getattr(c, name) in (None, "", [])]
        yield writer.writerow([csv_safe(v) for v in (
            c.pk, c.display_name, c.email, c.phone, c.get_status_display(), NEXT_STEP[ContactStatus(c.status)],
            "; ".join(missing), day(c.updated_at, date_format),
        )])  # fmt: skip


def _cell(value: Any, ws: Any, style: DateStyle) -> Any:
    if isinstance(value, dt.datetime):
        return _date_cell(ws, excel_datetime(value), style.excel_datetime)
    if isinstance(value, dt.date):
        return _date_cell(ws, value, style.excel_date)
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    if isinstance(value, str):
        return csv_safe(value)
    return value


def _date_cell(ws: Any, value: dt.date, number_format: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=value)
    cell.number_format = number_format
    return cell


def full_workbook(contacts: QuerySet[Contact], *, date_format: str) -> Any:
    """A temporary file holding the workbook (every contact field, tax ids in clear); dates are
    date cells shown in ``date_format``."""
    style = date_style(date_format)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Contacts")
    fields = [c for c in COLUMNS if c.kind != "account"]
    ws.append(["Id", *[c.label for c in fields], "Created", "Updated"])
    for contact in contacts.iterator(chunk_size=2000):
        row: list[Any] = [contact.pk]
        for column in fields:
            if column.field == TAX_ID:
                clear = open_tax_id(contact.tax_id_encrypted)
                row.append(format_tax_id(clear, contact.tax_id_type) if clear else "")
            elif column.choices and column.kind == "choice":
                row.append(printable(str(getattr(contact, f"get_{column.field}_display")())))
            else:
                row.append(_cell(getattr(contact, column.field), ws, style))
        row += [_cell(contact.created_at, ws, style), _cell(contact.updated_at, ws, style)]
        ws.append(row)
    out = tempfile.TemporaryFile()  # noqa: SIM115 - handed to FileResponse, which closes it
    wb.save(out)
    out.seek(0)
    return out
