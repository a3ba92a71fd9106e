"""The kinds of job, each registered once (in its app's ``AppConfig.ready``) with the function that
runs it. The runner (``services.job_execute``) calls ``run(job, progress)`` inside ONE database
transaction and marks the job done in that same transaction, so a job's work and its "done" are
committed together or not at all.

A kind registered with ``atomic=False`` (bulk email: what was handed to the mail server cannot be
rolled back) commits its own work step by step instead. Its ``run`` must then be resumable: after a
worker stops, a cancel or a failure, the job may run again (the sweeper, Retry) and must carry on
from what is committed, never redo it. The kit's messages then do not say "nothing was applied".

A run may also hand its work to **parts** (``advisorportal.jobs.parts``): it returns
``parts.split(...)`` and the job waits, running, while each part runs as a job of its own; it
finishes when the last part does."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from advisorportal.jobs.issues import Issue

if TYPE_CHECKING:
    from advisorportal.jobs.models import Job
    from advisorportal.jobs.progress import Progress


@dataclass(frozen=True)
class Part:
    """One part of a job's work: what it works on (JSON, the part job's ``payload``) and how many
    steps it counts (its share of the parent's progress bar)."""

    payload: dict[str, Any]
    total: int = 0


@dataclass(frozen=True)
class Outcome:
    """How a run ended, when it returned normally: done (with notes, perhaps), or failed with a
    message and the issues found. Either way what the run wrote is committed; a run that must leave
    nothing behind returns a failure only after rolling its own writes back (or writes none)."""

    failed: bool = False
    message: str = ""
    issues: Sequence[Issue] = ()
    retryable: bool = False
    # Work handed to part jobs of ``part_kind`` (``parts.split``): the job then waits for them.
    parts: Sequence[Part] = ()
    part_kind: str = ""

    @classmethod
    def failure(cls, message: str, issues: Sequence[Issue] = (), *, retryable: bool = False) -> Outcome:
        return cls(failed=True, message=message, issues=issues, retryable=retryable)


Run = Callable[["Job", "Progress"], "Outcome | None"]
Summary = Callable[["Job"], str]


@dataclass(frozen=True)
class JobKind:
    name: str
    run: Run
    label: str  # for people: "Contact import"
    atomic: bool = True  # False: ``run`` commits step by step and resumes (see the module's doc)
    # A job that splits into parts: its note once every part finished well (default: none).
    summary: Summary | None = None


_KINDS: dict[str, JobKind] = {}


def register(kind: JobKind) -> None:
    """Register ``kind`` (again: the same name replaces it, as a reloaded app would)."""
    if len(kind.name) > 40:
        raise ValueError(f"Job kind names have at most 40 characters: {kind.name!r}.")
    _KINDS[kind.name] = kind


def get(name: str) -> JobKind:
    try:
        return _KINDS[name]
    except KeyError:
        raise LookupError(f"No job kind {name!r} is registered (is its app installed?).") from None
