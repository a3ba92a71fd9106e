"""Readers of contacts files. Each turns bytes into rows of raw cells keyed by contact field, or
file-level problems naming the row and column; none of them touches the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from advisorportal.jobs.uploads import FileRefused, sniff

MAX_ROWS = 100_000
MAX_FILE_BYTES = 50 * 1024 * 1024  # an upload (xlsx, csv)
MAX_VCARD_BYTES = 5 * 1024 * 1024


@dataclass
class ParsedRow:
    row: int  # the file's row (header = 1), or the card's number in a vCard file
    cells: dict[str, Any]
    picture: tuple[bytes, str] | None = None
    notes: list[str] = field(default_factory=list)  # what the reader left out or guessed


@dataclass
class ParsedFile:
    rows: list[ParsedRow] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)  # {"row", "column", "message"}
    headers: list[str] = field(default_factory=list)  # CSV: the header row as read
    # When a reader gives the cells by column (one list per field, aligned with ``rows``, "" or None
    # for an empty cell), the rows' own ``cells`` are empty.
    columns: dict[str, list[Any]] = field(default_factory=dict)

    def problem(self, message: str, *, row: int = 0, column: str = "") -> None:
        self.problems.append({"row": row, "column": column, "message": message})

    @property
    def ok(self) -> bool:
        return not self.problems


def detect_kind(name: str, head: bytes) -> str:
    """``xlsx``, ``csv`` or ``vcard`` from the content (the name only breaks a tie for text files)."""
    sniffed = sniff(head)
    if sniffed.kind == "zip":
        return "xlsx"  # the reader checks it is a workbook
    if sniffed.kind != "text":
        raise FileRefused(f"This file is {sniffed.label}, not a spreadsheet (.xlsx), CSV or vCard file.")
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").upper()
    if text.startswith(b"BEGIN:VCARD"):
        return "vcard"
    if name.lower().endswith((".vcf", ".vcard")):
        return "vcard"
    return "csv"
