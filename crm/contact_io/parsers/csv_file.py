"""CSV files, decoded by the jobs kit (encoding, delimiter), with columns mapped to contact fields
by the user (a guess from the header names first)."""

from __future__ import annotations

import csv

from advisorportal.jobs.uploads import decode_csv, rows
from crm.contact_io.fields import BY_FIELD, guess_mapping
from crm.contact_io.parsers import MAX_ROWS, ParsedFile, ParsedRow


def headers(data: bytes) -> list[str]:
    return decode_csv(data).header()


def suggested_mapping(data: bytes) -> dict[str, str]:
    return guess_mapping(headers(data))


def mapping_problems(mapping: dict[str, str], header: list[str]) -> list[str]:
    """Why a mapping cannot be used (a field chosen twice, a required field unmapped)."""
    problems: list[str] = []
    chosen: dict[str, str] = {}
    for index, field in mapping.items():
        if not field:
            continue
        if field not in BY_FIELD:
            problems.append(f"Column {index}: {field!r} is not a contact field.")
            continue
        name = header[int(index)] if index.isdigit() and int(index) < len(header) else index
        if field in chosen:
            problems.append(f'"{BY_FIELD[field].label}" is chosen for both "{chosen[field]}" and "{name}".')
        chosen[field] = name
    if "last_name" not in chosen:
        problems.append(f'Choose the column that holds "{BY_FIELD["last_name"].label}".')
    return problems


def read_csv(data: bytes, mapping: dict[str, str]) -> ParsedFile:
    result = ParsedFile()
    reader = decode_csv(data).reader()
    try:
        header = [h.strip() for h in next(reader, [])]
        result.headers = header
        for problem in mapping_problems(mapping, header):
            result.problem(problem, row=1)
        if not result.ok:
            return result
        positions = [(int(i), f) for i, f in mapping.items() if f and i.isdigit()]
        count = 0
        for row, cells in rows(reader):
            if not any(c.strip() for c in cells):
                continue
            count += 1
            if count > MAX_ROWS:
                result.rows = []
                result.problem(f"The file has more than {MAX_ROWS:,} data rows; split it.")
                return result
            if len(cells) > len(header):
                result.problem(
                    f"This row has {len(cells)} cells but the header has {len(header)} (a stray delimiter?).", row=row
                )
                continue
            values = {field: cells[i] for i, field in positions if i < len(cells) and cells[i].strip()}
            result.rows.append(ParsedRow(row=row, cells=values))
    except csv.Error as error:
        result.rows = []
        result.problem(f"The CSV is malformed: {error}.", row=reader.line_num)
    return result
