"""Bulk upload of advisor-calculated fees (issue #18, point 6).

A file (CSV, or the first sheet of an Excel workbook) with one row per account and period:
``account``, ``period_start``, ``period_end`` (YYYY-MM-DD), ``amount`` (the period's fee in the
account's currency, at most 2 decimals), ``description`` (optional), ``currency`` (optional: the
account's, if given). The jobs kit reads it (size and content checks, CSV and Excel decoding, issues
by row and column); every row is checked before anything is made, so a file with one bad row makes
nothing (and leaves an audit entry naming its problems).

- **Dry run**: what would be posted, row by row: what earlier runs already billed the account for
  the period, the difference that would post, and an account whose cash would not cover it.
- **Posting** follows the fee runs' rules because it *is* a fee run: the file becomes a ``FeeRun``
  of its period (``FeeUpload.run``), one ``FeeLine`` per row with the row's amount as the period
  fee and the difference against what posted runs billed as ``to_post``; it is then approved (four
  eyes) and posted by ``billing.services.run_approve`` and ``run_post``: once per account and period
  (the key ``billing.run<run>.account<account>``), never into overdraft (held back, "Not enough
  cash"). A file uploaded twice posts the difference, nothing. A row whose account a posted run of
  an overlapping other period already billed is refused.
- One period per file (a fee run is one period): a row of another period is refused, naming it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts import audit
from accounts.models import AuditAction
from advisorportal import formats
from advisorportal.jobs import excel
from advisorportal.jobs.issues import FILE, Issue, stored
from advisorportal.jobs.uploads import FileRefused, decode_text, delimiter, read_upload, rows, sniff
from advisorportal.text import text_errors
from billing import selectors
from billing.increase_models import FeeUpload
from billing.models import FeeLine, FeeRun, LineStatus, RunStatus
from portfolios.models import CashHold, LedgerPosting

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
COLUMNS = ("account", "period_start", "period_end", "amount", "description", "currency")
REQUIRED = ("account", "period_start", "period_end", "amount")
ALIASES = {
    "account_number": "account",
    "number": "account",
    "fee": "amount",
    "from": "period_start",
    "to": "period_end",
    "memo": "description",
}
ZERO = Decimal(0)
CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999999999.99")


@dataclass
class Row:
    row: int
    account: str
    account_id: int = 0
    household_id: int | None = None
    currency: str = ""
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    amount: Decimal = ZERO
    description: str = ""
    previously_billed: Decimal = ZERO
    to_post: Decimal = ZERO
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "account": self.account,
            "currency": self.currency,
            "period_start": self.period_start.isoformat() if self.period_start else None,
            "period_end": self.period_end.isoformat() if self.period_end else None,
            "amount": f"{self.amount:.2f}",
            "description": self.description,
            "previously_billed": f"{self.previously_billed:.2f}",
            "to_post": f"{self.to_post:.2f}",
            "note": self.note,
        }


@dataclass
class Checked:
    """What a file says and what is wrong with it (``ok``: nothing)."""

    file_name: str
    sha256: str = ""
    rows: list[Row] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    period: tuple[dt.date, dt.date] | None = None

    @property
    def ok(self) -> bool:
        return bool(self.rows) and not any(i.level == "error" for i in self.issues)

    @property
    def total(self) -> Decimal:
        return sum((r.amount for r in self.rows), ZERO)

    @property
    def to_post(self) -> Decimal:
        return sum((r.to_post for r in self.rows), ZERO)

    def messages(self) -> list[str]:
        """Each issue as one sentence naming its row and column."""
        out = []
        for issue in sorted(self.issues, key=lambda i: (i.row, i.column)):
            where = "The file" if issue.row == FILE else f"Row {issue.row}"
            out.append(f"{where}{f', column {issue.column}' if issue.column else ''}: {issue.message}")
        return out


# --- Reading --------------------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    """An Excel cell as the text a CSV export would hold (dates ISO, whole numbers without .0)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else format(value, ".15g")
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else " ".join(str(value).splitlines())


def _table(data: bytes, issues: list[Issue]) -> list[tuple[int, list[str]]] | None:
    """(file row, cells) of every row, the header first; None (and issues) if the file is refused."""
    sniffed = sniff(data[:4096])
    try:
        if sniffed.kind == "zip":
            sheet = excel.read_sheet(data)
            header = [_cell(v).strip() for v in (sheet.rows[0] if sheet.rows else [])]
            for letters, row, formula in sheet.formulas[:100]:
                index = excel.column_index(letters)
                column = header[index] if index < len(header) and header[index] else letters
                issues.append(
                    Issue(row, column, f"The cell holds a formula ({formula[:40]}); enter its value instead.")
                )
            if sheet.merged:
                issues.append(Issue(FILE, "", f"Merged cells {', '.join(sheet.merged[:5])}: unmerge them."))
            if issues:
                return None
            return [(number, [_cell(v) for v in values]) for number, values in enumerate(sheet.rows, start=1)]
        if sniffed.kind != "text":
            issues.append(Issue(FILE, "", f"The file is {sniffed.label}, not a CSV or Excel file."))
            return None
        text = decode_text(data)
    except FileRefused as refused:
        issues.append(Issue(FILE, "", str(refused)))
        return None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter(text), strict=True)
    try:
        first = next(reader, None)
        if first is None:
            issues.append(Issue(FILE, "", "The file is empty."))
            return None
        return [(1, first), *rows(reader)]
    except csv.Error as error:
        issues.append(Issue(reader.line_num, "", f"This row is not valid CSV ({error})."))
        return None


def _header(cells: list[str], issues: list[Issue]) -> dict[str, int]:
    names: dict[str, int] = {}
    for index, raw in enumerate(cells):
        name = raw.strip().strip('"').lower().replace(" ", "_")
        name = ALIASES.get(name, name)
        if not name:
            continue
        if name not in COLUMNS:
            issues.append(Issue(1, raw.strip(), f"Unknown column; the columns are {', '.join(COLUMNS)}."))
        elif name in names:
            issues.append(Issue(1, raw.strip(), "This column appears twice."))
        else:
            names[name] = index
    for name in REQUIRED:
        if name not in names:
            issues.append(Issue(1, name, "This column is missing."))
    return names


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def parse(data: bytes | UploadedFile, file_name: str) -> Checked:
    """The file's rows, each checked on its own (no database)."""
    checked = Checked(file_name=file_name)
    try:
        upload = read_upload(data, limit=MAX_BYTES)
    except FileRefused as refused:
        checked.issues.append(Issue(FILE, "", str(refused)))
        return checked
    checked.sha256 = upload.sha256
    table = _table(upload.data, checked.issues)
    if table is None:
        return checked
    columns = _header(table[0][1], checked.issues)
    if checked.issues:
        return checked
    body = [(n, cells) for n, cells in table[1:] if any(c.strip() for c in cells)]
    if len(body) > MAX_ROWS:
        checked.issues.append(Issue(FILE, "", f"The file has {len(body):,} rows; the limit is {MAX_ROWS:,}."))
        return checked
    if not body:
        checked.issues.append(Issue(FILE, "", "The file has a header and no rows."))
        return checked
    for number, cells in body:

        def cell(name: str, cells: list[str] = cells) -> str:
            index = columns.get(name)
            return cells[index].strip() if index is not None and index < len(cells) else ""

        row = Row(
            row=number, account=cell("account"), description=cell("description"), currency=cell("currency").upper()
        )
        if not row.account:
            checked.issues.append(Issue(number, "account", "Give the account number."))
        for name in ("period_start", "period_end"):
            value = _date(cell(name))
            if value is None:
                checked.issues.append(Issue(number, name, f"Not a date as YYYY-MM-DD: {cell(name)[:20]!r}."))
            setattr(row, name, value)
        if row.period_start and row.period_end and row.period_end < row.period_start:
            checked.issues.append(Issue(number, "period_end", "The period ends before it starts."))
        elif row.period_start and row.period_end and (row.period_end - row.period_start).days + 1 > 366:
            checked.issues.append(Issue(number, "period_end", "A fee period lasts at most a year."))
        try:
            amount = Decimal(cell("amount").replace(",", ""))
            if not amount.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            checked.issues.append(Issue(number, "amount", f"Not an amount: {cell('amount')[:20]!r}."))
        else:
            if amount < 0:
                checked.issues.append(
                    Issue(number, "amount", "A fee is not negative (a refund is a credit adjustment).")
                )
            elif amount != amount.quantize(CENT):
                checked.issues.append(Issue(number, "amount", "At most 2 decimals."))
            elif amount > MAX_AMOUNT:
                checked.issues.append(Issue(number, "amount", "Too large."))
            row.amount = amount
        if len(row.description) > 300:
            checked.issues.append(Issue(number, "description", "At most 300 characters."))
        for problem in text_errors(row.description):
            checked.issues.append(Issue(number, "description", problem))
        checked.rows.append(row)
    return checked


# --- Checking against the book ----------------------------------------------------------------------------------


def check(*, user: Any, data: bytes | UploadedFile, file_name: str) -> Checked:
    """``parse``, then each row against the accounts in the user's Fee Administration scope and what
    posted fee runs already billed (reads only)."""
    checked = parse(data, file_name)
    if not checked.rows or any(i.row == FILE or i.row == 1 for i in checked.issues):
        return checked
    periods = [(r.period_start, r.period_end) for r in checked.rows if r.period_start and r.period_end]
    if periods:
        first = periods[0]
        checked.period = (first[0], first[1])
        words = f"{first[0].isoformat()} to {first[1].isoformat()}"
        for row in checked.rows:
            if row.period_start and row.period_end and (row.period_start, row.period_end) != first:
                checked.issues.append(
                    Issue(
                        row.row,
                        "period_start",
                        f"Every row of a file bills one period (the first row's, {words}): upload one file per period.",
                    )
                )
    found, _ = selectors.accounts_numbered(user=user, numbers=list(dict.fromkeys(r.account for r in checked.rows)))
    accounts = {a.number: a for a in found}
    seen: dict[str, int] = {}
    for row in checked.rows:
        account = accounts.get(row.account)
        if not row.account:
            continue
        if account is None:
            checked.issues.append(Issue(row.row, "account", f"No such account: {row.account[:40]}."))
            continue
        if row.account in seen:
            checked.issues.append(
                Issue(
                    row.row,
                    "account",
                    f"{row.account} is billed on row {seen[row.account]} already: one row per account and period.",
                )
            )
            continue
        seen[row.account] = row.row
        row.account_id, row.household_id = account.pk, account.household_id
        if row.currency and row.currency != account.base_currency:
            checked.issues.append(Issue(row.row, "currency", f"{row.account} is billed in {account.base_currency}."))
        row.currency = account.base_currency
    if checked.period is None:
        return checked
    _against_posted(checked)
    return checked


def _against_posted(checked: Checked) -> None:
    """What posted runs already billed each account: the same period (the row posts the difference),
    an overlapping other period (refused: those days were billed), and whether its cash covers it."""
    assert checked.period is not None
    start, end = checked.period
    ids = [r.account_id for r in checked.rows if r.account_id]
    posted = FeeLine.objects.filter(account_id__in=ids, posted_amount__isnull=False)
    same = dict(
        posted.filter(run__period_start=start, run__period_end=end)
        .values_list("account_id")
        .annotate(total=Sum("posted_amount"))
        .order_by()
    )
    overlapping = dict(
        posted.filter(run__period_start__lte=end, run__period_end__gte=start)
        .exclude(run__period_start=start, run__period_end=end)
        .values_list("account_id", "run_id")
        .order_by()
    )
    owed: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for row in checked.rows:
        if not row.account_id:
            continue
        if row.account_id in overlapping:
            checked.issues.append(
                Issue(
                    row.row,
                    "period_start",
                    f"{row.account} was already billed for days of this "
                    f"period by FEE-{overlapping[row.account_id]}, a run of another period.",
                )
            )
            continue
        row.previously_billed = same.get(row.account_id, ZERO)
        row.to_post = row.amount - row.previously_billed
        if row.previously_billed:
            row.note = (
                f"Already billed {formats.amount(row.previously_billed)} for this period: "
                f"posts the difference, {formats.amount(row.to_post)}."
            )
        if row.to_post > 0:
            owed[(row.account_id, row.currency)] += row.to_post
    cash = _sums(LedgerPosting.objects.filter(account_id__in=ids, ledger_account="cash"))
    held = _sums(CashHold.objects.filter(account_id__in=ids, released_at__isnull=True))
    for row in checked.rows:
        key = (row.account_id, row.currency)
        if row.account_id and key in owed and cash.get(key, ZERO) - held.get(key, ZERO) < owed[key]:
            row.note = (row.note + " " if row.note else "") + "Not enough cash: held back at posting, never overdrawn."
            checked.issues.append(
                Issue(
                    row.row,
                    "amount",
                    f"{row.account}'s cash does not cover {formats.amount(row.to_post)}: it will be held back.",
                    "conflict",
                )
            )


def _sums(rows_: Any) -> dict[tuple[int, str], Decimal]:
    grouped = rows_.values_list("account_id", "currency").annotate(total=Sum("amount")).order_by()
    return {(pk, currency): total for pk, currency, total in grouped}


# --- Making the run ---------------------------------------------------------------------------------------------


@transaction.atomic
def upload_create(*, actor: Any, data: bytes | UploadedFile, file_name: str) -> tuple[FeeUpload, Checked]:
    """Check the file and, if every row is right, make its fee run (a preview, computed: approve it
    and post it on its page). A refused file is kept as an upload with its issues and no run (its
    audit entry names them). Returns the upload and what was checked."""
    checked = check(user=actor, data=data, file_name=file_name)
    upload = FeeUpload(
        file_name=(file_name or "upload.csv")[:255],
        sha256=checked.sha256,
        created_by=actor,
        row_count=len(checked.rows),
        total=checked.total if checked.ok else ZERO,
        issues=stored(checked.issues),
    )
    if checked.period is not None:
        upload.period_start, upload.period_end = checked.period
    if not checked.ok:
        upload.full_clean()
        upload.save()
        audit.record(action=AuditAction.UPDATE, obj=upload, changes={"refused": checked.messages()[:50]})
        return upload, checked
    assert checked.period is not None
    start, end = checked.period
    run = FeeRun(
        period_start=start,
        period_end=end,
        account_numbers=sorted(r.account for r in checked.rows),
        prepared_by=actor,
        status=RunStatus.PREVIEW,
    )
    run.full_clean()
    run.save()
    short = {i.row for i in checked.issues if i.level == "conflict"}
    lines = []
    for row in checked.rows:
        steps = [
            f"Advisor-calculated fee from the uploaded file {upload.file_name}, row {row.row}"
            + (f": {row.description}" if row.description else "")
            + "."
        ]
        if row.note:
            steps.append(row.note)
        lines.append(
            FeeLine(
                run=run,
                account_id=row.account_id,
                household_id=row.household_id,
                currency=row.currency,
                status=LineStatus.NO_CASH if row.row in short else LineStatus.BILLED,
                billable_from=start,
                billable_to=end,
                period_fee=row.amount,
                previously_billed=row.previously_billed,
                to_post=row.to_post,
                explanation=" ".join(steps)[:20_000],
                details={"source": "upload", "file": upload.file_name, "row": row.row, "description": row.description},
            )
        )
    FeeLine.objects.bulk_create(lines)
    findings = []
    if short:
        numbers = [r.account for r in checked.rows if r.row in short]
        findings.append(
            {
                "code": "no_cash",
                "level": "error",
                "count": len(numbers),
                "accounts": numbers[:20],
                "message": "Accounts whose cash does not cover the fee (held back, never overdrawn).",
            }
        )
    billed = [r for r in checked.rows if r.row not in short]
    run.line_count = len(lines)
    run.total_fee = sum((r.amount for r in billed), ZERO)
    run.total_to_post = sum((r.to_post for r in billed), ZERO)
    run.audit, run.computed_at = findings, timezone.now()
    run.save(update_fields=["line_count", "total_fee", "total_to_post", "audit", "computed_at"])
    upload.run = run
    upload.full_clean()
    upload.save()
    return upload, checked


def uploads(*, user: Any) -> Any:
    """The firm's uploads, newest first (each names its run; the run's lines are scoped on its page)."""
    return FeeUpload.objects.select_related("run", "created_by").order_by("-created_at", "-id")
