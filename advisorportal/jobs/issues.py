"""What a job found wrong in its input, by file row and column."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

FILE = 0  # the "row" of a problem with the file as a whole
LEVELS = ("error", "conflict", "info")
LIMIT = 1000  # issues kept with a job (counts kept by the pipeline cover all of them)


@dataclass(frozen=True)
class Issue:
    """``row`` is the file's row (CSV: the header is row 1; XML: the line), ``FILE`` for the file as
    a whole; ``column`` the column (or attribute) as the file names it, blank for a whole row."""

    row: int
    column: str
    message: str
    level: str = "error"

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message, "level": self.level}


def stored(issues: Iterable[Issue], limit: int = LIMIT) -> list[dict[str, Any]]:
    """The issues in file order, at most ``limit`` of them and a line saying how many more there are."""
    ordered = sorted(issues, key=lambda issue: (issue.row, issue.column))
    kept = [issue.as_dict() for issue in ordered[:limit]]
    if len(ordered) > limit:
        kept.append(Issue(FILE, "", f"{len(ordered) - limit:,} more problems are not listed.", "info").as_dict())
    return kept
