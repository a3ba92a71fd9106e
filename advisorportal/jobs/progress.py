"""The one writer of a running job's progress, which is also its heartbeat and its cancel check.

A job's work runs in one long transaction, and anything it writes there stays invisible to
other requests until COMMIT. Progress is therefore written through a second database connection
that commits each small UPDATE at once; the firm is set on that connection like on any other
(the tenancy backend sets it per transaction), so row-level security holds there too. Not the
cache: Redis may be down while PostgreSQL is not, and the lease must live with the job.

Each write renews the lease, names the claim it holds (a worker whose job was taken from it
writes nothing and learns it: ``JobLost``) and reads whether someone asked to cancel
(``JobCancelled``); both exceptions leave the job's transaction to roll back. Writes come at most
every ``WRITE_INTERVAL`` seconds (a phase change is always written).

A part's write (``advisorportal.jobs.parts``) first writes its parent's ``done``, the sum of its
parts' with this one's new count: the parent's row first, as every path of the kit locks it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from advisorportal.jobs.models import Job, JobStatus

logger = logging.getLogger(__name__)

WRITE_INTERVAL = 0.5  # seconds between progress writes


class JobCancelled(Exception):
    """Someone asked to cancel the job: roll back its work."""


class JobLost(Exception):
    """The job is no longer this worker's (its lease ran out and it was queued again or failed)."""


def lease_seconds() -> int:
    return int(settings.JOB_LEASE_SECONDS)


_TABLE = Job._meta.db_table
# Table name from the model; values are parameters.
_RENEW = (
    f"UPDATE {_TABLE} SET done = %s, total = %s, phase = %s, heartbeat_at = now(), "  # noqa: S608
    "lease_expires_at = now() + make_interval(secs => %s) "
    "WHERE id = %s AND status = %s AND claim = %s RETURNING cancel_requested_at IS NOT NULL"
)
_VISIBLE = f"SELECT 1 FROM {_TABLE} WHERE id = %s"  # noqa: S608
_PARENT = (
    f"UPDATE {_TABLE} SET done = (SELECT COALESCE(SUM(CASE WHEN id = %s THEN %s ELSE done END), 0) "  # noqa: S608
    f"FROM {_TABLE} WHERE parent_id = %s), heartbeat_at = now() "
    "WHERE id = %s AND status = %s AND lease_expires_at IS NULL"
)


class Progress:
    """Created by the runner for the attempt it claimed; the job's ``run`` calls ``update``."""

    def __init__(self, job: Job) -> None:
        self.job_id = job.pk
        self.parent_id = job.parent_id
        self.claim = job.claim
        self.done, self.total, self.phase = job.done, job.total, job.phase
        self._connection: Any = None
        self._last_write: float | None = None
        self._closed = False
        # Set when the job's row is not visible to other connections: the job runs inside a
        # transaction that has not committed the job yet (a test, or a command running a job
        # inline). Nobody else can see it then, so there is nothing to write.
        self._unseen = False

    def update(
        self, done: int | None = None, *, total: int | None = None, phase: str | None = None, force: bool = False
    ) -> None:
        """Record how far the job got; raises ``JobCancelled`` or ``JobLost`` (let them propagate)."""
        if self._closed:
            raise RuntimeError("Progress written after the job's result: the runner's last write has the row.")
        new_phase = phase is not None and phase[:60] != self.phase
        if done is not None:
            self.done = max(0, int(done))
        if total is not None:
            self.total = max(0, int(total))
        if phase is not None:
            self.phase = phase[:60]
        if self._unseen:
            return
        now = time.monotonic()
        if not (force or new_phase or self._last_write is None or now - self._last_write >= WRITE_INTERVAL):
            return
        self._last_write = now
        self._write()

    def _write(self) -> None:
        try:
            if self._connection is None:
                self._connection = connections.create_connection(DEFAULT_DB_ALIAS)
                self._connection.set_autocommit(False)  # a transaction per write: the firm is set for RLS
            done = min(self.done, self.total) if self.total else self.done
            with self._connection.cursor() as cursor:
                if self.parent_id is not None:
                    cursor.execute(_PARENT, [self.job_id, done, self.parent_id, self.parent_id, JobStatus.RUNNING])
                cursor.execute(
                    _RENEW,
                    [done, self.total, self.phase, lease_seconds(), self.job_id, JobStatus.RUNNING, self.claim],
                )  # fmt: skip
                row = cursor.fetchone()
                visible = row is not None
                if row is None:
                    cursor.execute(_VISIBLE, [self.job_id])
                    visible = cursor.fetchone() is not None
            self._connection.commit()
        except DatabaseError:
            # Best effort: the job goes on. If writes keep failing its lease runs out, and the
            # attempt's own final write then finds the job taken and rolls back.
            logger.warning("Could not record the progress of job %s", self.job_id, exc_info=True)
            self._disconnect()
            return
        if row is None:
            if visible:
                raise JobLost(f"Job {self.job_id} is no longer held by this worker.")
            self._unseen = True
            self._disconnect()
        elif row[0]:
            raise JobCancelled(f"Job {self.job_id} was cancelled.")

    def close(self) -> None:
        """No more writes: the runner's final UPDATE of the job row follows, on the job's connection."""
        self._closed = True
        self._disconnect()

    def _disconnect(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None
