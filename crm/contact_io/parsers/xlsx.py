"""The Excel template: writing it (openpyxl), and reading a filled-in copy through the jobs kit's
safe reader (``advisorportal.jobs.excel``: archive checked for ZIP bombs, cells by calamine).
Formulas are refused, not evaluated, and merged cells refused too.
"""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from advisorportal.jobs import excel
from crm.contact_io.fields import COLUMNS, REQUIRED
from crm.contact_io.parsers import MAX_ROWS, ParsedFile, ParsedRow

SHEET = "Contacts"
TEMPLATE_ROWS = MAX_ROWS + 1  # header and data rows covered by the validation lists

EXAMPLES: list[dict[str, Any]] = [
    {
        "kind": "Individual", "status": "Prospect", "salutation": "Ms", "first_name": "Ada", "last_name": "Lovelace",
        "email": "ada@example.com", "phone": "+1 212 555 0100", "date_of_birth": "1980-12-10",
        "res_street": "12 Harbor St", "res_city": "Boston", "res_state": "MA", "res_postal_code": "02108",
        "res_country": "US", "mailing_same": "Yes", "tax_id_type": "SSN", "tax_id": "123-45-6789",
        "risk_tolerance": "Balanced", "investment_objectives": "Growth, Income", "tags": "newsletter, esg",
        "priority": "High", "marketing_source": "Client referral",
    },
    {
        "kind": "Entity (trust, company…)", "status": "Active client", "last_name": "Lovelace Family Trust",
        "email": "trust@example.com", "tax_id_type": "EIN", "tax_id": "12-3456789", "res_country": "US",
        "priority": "Normal",
    },
]  # fmt: skip


# --- The template -------------------------------------------------------------------------------


def template_workbook() -> bytes:
    """The template: a "Contacts" sheet with one column per field and a validation list on every
    choice column, a "Guidance" sheet (meaning, format, allowed values) and an "Example" sheet."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = SHEET
    lists = wb.create_sheet("Lists")
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    lists_used = 0
    for index, column in enumerate(COLUMNS, start=1):
        cell = ws.cell(row=1, column=index, value=column.label)
        cell.font, cell.fill = bold, fill
        letter = get_column_letter(index)
        ws.column_dimensions[letter].width = max(12, min(len(column.label) + 4, 40))
        if column.kind == "date":
            ws.column_dimensions[letter].number_format = "yyyy-mm-dd"
        if column.kind == "tax_id" or column.field in ("phone", "mobile_phone", "work_phone", "res_postal_code"):
            ws.column_dimensions[letter].number_format = "@"  # text: keep leading zeros
        if column.kind in ("choice", "bool"):
            values = [label for _, label in column.choices] if column.kind == "choice" else ["Yes", "No"]
            lists_used += 1
            list_col = get_column_letter(lists_used)
            for r, label in enumerate(values, start=1):
                lists[f"{list_col}{r}"] = label
            validation = DataValidation(
                type="list",
                formula1=f"Lists!${list_col}$1:${list_col}${len(values)}",
                allow_blank=True,
                showErrorMessage=True,
                errorTitle=column.label,
                error=f"Choose one of: {', '.join(values)}",
            )
            validation.add(f"{letter}2:{letter}{TEMPLATE_ROWS}")
            ws.add_data_validation(validation)
    ws.freeze_panes = "A2"
    lists.sheet_state = "hidden"

    guidance = wb.create_sheet("Guidance")
    guidance.append(["Column", "Meaning", "Format", "Allowed values", "Required"])
    for cell in guidance[1]:
        cell.font = bold
    for column in COLUMNS:
        guidance.append([
            column.label, column.meaning, column.kind, column.allowed,
            "Yes" if column.field == "last_name" else ("For individuals" if column.field in REQUIRED else ""),
        ])  # fmt: skip
    guidance.append([])
    guidance.append([f"Fill in the {SHEET} sheet, one contact per row, at most {MAX_ROWS:,} rows. Keep the header "
                     "row as it is (every column must stay; empty cells are fine). Write values, not formulas; "
                     "do not merge cells. Rows are matched to existing contacts by email, tax id or account "
                     "number and update them instead of creating duplicates."])  # fmt: skip
    for letter, width in zip("ABCDE", (28, 70, 10, 60, 16), strict=True):
        guidance.column_dimensions[letter].width = width

    example = wb.create_sheet("Example")
    example.append([c.label for c in COLUMNS])
    for cell in example[1]:
        cell.font = bold
    for row in EXAMPLES:
        example.append([row.get(c.field, "") for c in COLUMNS])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# --- Reading ------------------------------------------------------------------------------------


def read_workbook(data: bytes) -> ParsedFile:
    """The Contacts sheet's rows (``advisorportal.jobs.excel``: checked archive, calamine). Formulas
    and merged cells are refused, naming the cell."""
    sheet = excel.read_sheet(data, SHEET, missing_hint="Download the template and fill in its Contacts sheet.")
    result = ParsedFile()
    if sheet.merged:
        for ref in sheet.merged[:20]:
            result.problem(f"Merged cells {ref}: unmerge them (one value per cell).", column=ref.split(":")[0])
        return result
    rows = sheet.rows
    # ``to_python(skip_empty_area=False)`` starts at A1 whatever the first used cell.
    header = rows[0] if rows else []
    fields = _header_fields(header, result)
    for letters, row, formula in sheet.formulas:
        column = excel.column_index(letters)
        field = fields[column] if column < len(fields) else None
        if row > 1 and field is None:
            continue  # an unread column
        result.problem(
            f"The cell holds a formula ({formula[:40]}); enter its value instead.",
            row=row,
            column=_label(field) if field else f"{letters}",
        )
    if not result.ok:
        return result
    body: list[list[Any]] = rows[1:]
    kept = [index for index, values in enumerate(body) if values.count("") != len(values)]  # not empty
    if len(kept) > MAX_ROWS:
        result.problem(f"The sheet has more than {MAX_ROWS:,} data rows; split the file.")
        return result
    # By column: the planner reads a file column by column, and a transposition costs far less
    # than a dict per row.
    every = len(kept) == len(body)
    by_column = list(zip(*body, strict=True)) if body else []
    for index, field in enumerate(fields):
        if field is None:
            continue
        cells = list(by_column[index]) if every else [by_column[index][i] for i in kept]
        if cells.count("") == len(cells):
            continue  # an empty column
        if float in {type(v) for v in cells}:  # calamine gives every number as a float
            cells = [int(v) if type(v) is float and v.is_integer() else v for v in cells]
        result.columns[field] = cells
    result.rows = [ParsedRow(row=index + 2, cells={}) for index in kept]
    return result


def _label(field: str) -> str:
    from crm.contact_io.fields import BY_FIELD

    return BY_FIELD[field].label


def _header_fields(header: list[Any], result: ParsedFile) -> list[str | None]:
    from crm.contact_io.fields import BY_LABEL

    fields: list[str | None] = []
    seen: set[str] = set()
    for index, value in enumerate(header, start=1):
        text = str(value).strip() if value is not None else ""
        if not text:
            fields.append(None)
            continue
        column = BY_LABEL.get(text.casefold())
        letter = get_column_letter(index)
        if column is None:
            result.problem(f'Column {letter} "{text}" is not a template column; remove it.', row=1, column=letter)
            fields.append(None)
        elif column.field in seen:
            result.problem(f'Column {letter} "{text}" appears twice.', row=1, column=letter)
            fields.append(None)
        else:
            seen.add(column.field)
            fields.append(column.field)
    missing = [c.label for c in COLUMNS if c.field not in seen]
    if missing:
        result.problem(
            f"This is not the contacts template: columns missing: {', '.join(missing)}. "
            "Download the template and keep its header row.",
            row=1,
        )
    return fields
