"""What every parser shares: the rows it produces, value checks, reading a CSV format's rows.

A parser never touches the database. It turns the file into operations (``TransactionRow``,
``PositionRow``, ``PriceRow``, ``NavRow``) carrying the file row they came from, or into issues
naming the file row and column (``advisorportal.jobs.issues.Issue``). ``services`` then checks the
operations against what is stored and applies them. Decoding and the delimiter are the jobs
kit's (``advisorportal.jobs.uploads``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from advisorportal.jobs.issues import FILE, Issue
from advisorportal.jobs.uploads import CsvText, rows

MAX_MAGNITUDE = Decimal("1e13")  # the largest figure the 20-digit, 6-place columns take with room to spare
MAX_TEXT = 300


@dataclass(frozen=True)
class TransactionRow:
    """One transaction with positive magnitudes (the kind gives the sign, as in ``transaction_record``)."""

    row: int
    account: str
    kind: str
    trade_date: date
    settle_date: date | None
    symbol: str
    quantity: Decimal | None
    price: Decimal | None
    amount: Decimal | None
    currency: str
    description: str
    external_id: str
    columns: dict[str, str] = field(default_factory=dict, compare=False)  # our field -> the file's column name


@dataclass(frozen=True)
class PositionRow:
    row: int
    account: str
    symbol: str
    quantity: Decimal
    cost_basis: Decimal
    currency: str
    as_of: date
    columns: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class PriceRow:
    row: int
    symbol: str
    date: date
    close: Decimal
    columns: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class NavRow:
    """The net asset value a broker statement reports (checked, never stored)."""

    row: int
    account: str
    date: date
    total: Decimal
    currency: str
    columns: dict[str, str] = field(default_factory=dict, compare=False)


Operation = TransactionRow | PositionRow | PriceRow | NavRow


@dataclass
class ParseResult:
    operations: list[Operation] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    rows: int = 0  # data rows (or elements) read

    @property
    def ok(self) -> bool:
        return not any(issue.level == "error" for issue in self.issues)


class RowErrors:
    """Collects the problems of one row so that every bad cell is reported, not just the first."""

    def __init__(self, row: int, issues: list[Issue]) -> None:
        self.row = row
        self.issues = issues
        self.failed = False
        self.columns: set[str] = set()

    def add(self, column: str, message: str) -> None:
        self.failed = True
        self.columns.add(column)
        self.issues.append(Issue(self.row, column, message))

    def has(self, *columns: str) -> bool:
        """Whether a problem was already reported in one of ``columns`` of this row."""
        return bool(self.columns.intersection(columns))

    def text(self, value: str | None, column: str, *, required: bool = False, max_length: int = MAX_TEXT) -> str:
        value = (value or "").strip()
        if required and not value:
            self.add(column, "This value is required.")
        elif len(value) > max_length:
            self.add(column, f"At most {max_length} characters (this one has {len(value)}).")
            return ""
        return value

    def decimal(
        self, value: str | None, column: str, *, required: bool = True, positive: bool = False, signed: bool = False
    ) -> Decimal | None:
        """A plain decimal number with a dot (no thousands separators, no exponent, no NaN)."""
        raw = (value or "").strip()
        if not raw:
            if required:
                self.add(column, "This value is required.")
            return None
        try:
            number = Decimal(raw)
        except InvalidOperation:
            self.add(column, f"{_show(raw)} is not a number (write it like 1234.56).")
            return None
        if not number.is_finite() or "e" in raw.lower():
            self.add(column, f"{_show(raw)} is not a number (write it like 1234.56).")
            return None
        if abs(number) >= MAX_MAGNITUDE:
            self.add(column, f"{_show(raw)} is too large.")
            return None
        if positive and number <= 0:
            self.add(column, "Must be greater than zero.")
            return None
        if not signed and not positive and number < 0:
            self.add(column, "Must not be negative.")
            return None
        if number.as_tuple().exponent < -6:  # type: ignore[operator]
            self.add(column, "At most 6 decimal places.")
            return None
        return number

    def iso_date(self, value: str | None, column: str, *, required: bool = True) -> date | None:
        raw = (value or "").strip()
        if not raw:
            if required:
                self.add(column, "This value is required.")
            return None
        try:
            if len(raw) != 10:
                raise ValueError
            return date.fromisoformat(raw)
        except ValueError:
            self.add(column, f"{_show(raw)} is not a date (write it as YYYY-MM-DD).")
            return None

    def currency(self, value: str | None, column: str, *, required: bool = True) -> str:
        raw = (value or "").strip().upper()
        if not raw:
            if required:
                self.add(column, "This value is required.")
            return ""
        if len(raw) != 3 or not raw.isascii() or not raw.isalpha():
            self.add(column, f"{_show(raw)} is not a three-letter currency code (e.g. USD).")
            return ""
        return raw


def _show(value: str, limit: int = 40) -> str:
    """A cell quoted for a message, shortened."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


@dataclass(frozen=True)
class CsvFormat:
    name: str
    required: Sequence[str]
    optional: Sequence[str] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.required, *self.optional)


def _normalise_header(name: str) -> str:
    return name.strip().lower().replace(" ", "_")


def read_csv(text: CsvText, fmt: CsvFormat, result: ParseResult) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a CSV file as ``(file row, {column: cell})``, after checking the header.

    The header is row 1; a quoted cell spanning lines counts as the row it starts on. Wrong,
    missing, repeated or unknown columns are file-level problems reported on row 1; then no row is read.
    """
    reader = text.reader(strict=True)
    try:
        header = next(reader)
    except StopIteration:
        result.issues.append(Issue(FILE, "", f"The file is empty: expected a {fmt.name} CSV with a header row."))
        return
    except csv.Error as error:
        result.issues.append(Issue(1, "", f"The header row is not valid CSV: {error}."))
        return
    names = [_normalise_header(name) for name in header]
    problems: list[Issue] = []
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(Issue(1, name, f"The column {name!r} appears more than once."))
    for name in names:
        if name not in fmt.columns:
            shown = _show(name) if name else "(empty)"
            problems.append(Issue(1, name, f"Unknown column {shown}; a {fmt.name} file has: {', '.join(fmt.columns)}."))
    for name in fmt.required:
        if name not in names:
            problems.append(Issue(1, name, f"The required column {name!r} is missing."))
    if problems:
        result.issues.extend(problems)
        return
    lines = rows(reader)
    while True:
        start = reader.line_num + 1
        try:
            row_number, cells = next(lines)
        except StopIteration:
            return
        except csv.Error as error:
            result.issues.append(Issue(start, "", f"This row is not valid CSV: {error}."))
            return
        if not any(cell.strip() for cell in cells):
            continue  # blank lines are ignored
        result.rows += 1
        if len(cells) != len(names):
            result.issues.append(
                Issue(row_number, "", f"This row has {len(cells)} cells; the header has {len(names)} columns.")
            )
            continue
        yield row_number, dict(zip(names, cells, strict=True))
