"""Real Celery workers killed mid-job (SIGKILL, without warning), issue #14 point 6: nothing the job
did is kept and the job stays "running" only until its lease runs out.

- The whole worker (as when its machine or supervisor dies): the sweeper queues the job again and a
  new worker runs it to the end. About 15 s: two worker start-ups and two runs.
- A prefork pool's child (as when the kernel's OOM killer picks it): the worker's main process
  lives on with a new child, the job ends failed with the kit's message and a Retry button, and a
  retry runs it to the end on the same worker. About 12 s: one start-up, a lease, two runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.utils import timezone

from advisorportal.celery import app
from advisorportal.jobs import services
from advisorportal.jobs.models import Job, JobStatus
from advisorportal.jobs.tasks import run_job
from advisorportal.tenancy.context import firm_scope
from tests.factories import FirmFactory
from tests.jobs_worker import MARKER, SLOW, STEPS

BASE_DIR = Path(__file__).resolve().parent.parent
LEASE = 5  # the workers' JOB_LEASE_SECONDS (the smallest the setting takes)
WAIT = 120.0  # seconds, for a busy 2-core machine; reached only when something is wrong


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


@pytest.fixture
def queue() -> Iterator[str]:
    """A queue of this test's own (no other worker on this Redis takes its tasks), and tasks sent to
    the broker instead of run in the test's process."""
    name = f"jobs-test-{uuid.uuid4().hex[:8]}"
    eager, default_queue = app.conf.task_always_eager, app.conf.task_default_queue
    app.conf.task_always_eager, app.conf.task_default_queue = False, name
    try:
        yield name
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = eager, default_queue
        with app.connection_for_write() as conn:  # what the killed worker left unacknowledged
            conn.default_channel.client.delete(name)


@pytest.fixture
def start_worker(queue: str, tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    database = connection.settings_dict["NAME"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "advisorportal.settings",
        "APP_ENV": "test",
        "DATABASE_URL": _with_database(os.environ["DATABASE_URL"], database),
        "DATABASE_OWNER_URL": _with_database(os.environ["DATABASE_OWNER_URL"], database),
        "CELERY_QUEUE": queue,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "JOB_LEASE_SECONDS": str(LEASE),
        "PYTHONUNBUFFERED": "1",
    }
    started: list[subprocess.Popen[bytes]] = []

    def start(*pool: str) -> subprocess.Popen[bytes]:
        """A worker on the test's queue; ``pool`` its pool options (default: solo, the job runs in the
        worker's one process)."""
        log = (tmp_path / f"worker-{len(started)}.log").open("wb")
        worker = subprocess.Popen(
            [str(Path(sys.executable).parent / "celery"), "-A", "tests.jobs_worker", "worker",
             *(pool or ("-P", "solo")), "-Q", queue, "-l", "warning",
             "--without-heartbeat", "--without-mingle", "--without-gossip"],
            env=env, cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)


def _wait_for(what: str, check: Callable[[], Any], worker: subprocess.Popen[bytes] | None = None) -> Any:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        assert worker is None or worker.poll() is None, f"the worker exited ({worker.returncode}) before {what}"
        time.sleep(0.1)
    raise AssertionError(f"no {what} within {WAIT} s")


@pytest.mark.usefixtures("committed_db")
def test_a_job_whose_worker_is_killed_is_run_again_from_the_start(start_worker: Any) -> None:
    firm = FirmFactory(slug="worker-kill")
    with firm_scope(firm):
        job = Job.objects.create(kind=SLOW)

        def current() -> Job:
            return Job.objects.get(pk=job.pk)

        first = start_worker()
        run_job.delay(firm.pk, job.pk)
        _wait_for("progress from the first worker", lambda: current().done >= 3, first)
        os.killpg(first.pid, signal.SIGKILL)  # the worker and anything it started, without warning
        first.wait(10)

        stopped = current()
        assert stopped.status == JobStatus.RUNNING and stopped.attempts == 1 and 3 <= stopped.done < STEPS
        assert not Job.objects.filter(kind=MARKER).exists()  # its transaction died with it

        _wait_for("the lease to run out", lambda: current().lease_expires_at < timezone.now())
        assert services.jobs_sweep()["requeued"] == 1  # the beat task's body; sends the job again
        assert current().status == JobStatus.QUEUED

        second = start_worker()
        finished = _wait_for("the second worker to finish", lambda: current().finished and current(), second)
        assert (finished.status, finished.attempts, finished.done) == (JobStatus.DONE, 2, STEPS)
        assert Job.objects.filter(kind=MARKER).count() == 1  # the second attempt's only


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``, from Linux's /proc."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # it ended meanwhile
        # "pid (name) state ppid ...": the name may hold spaces and parentheses.
        if int(text.rsplit(")", 1)[1].split()[1]) == pid:
            children.append(int(text.split(" ", 1)[0]))
    return children


@pytest.mark.usefixtures("committed_db")
def test_a_job_whose_prefork_child_is_killed_fails_with_a_retry_and_keeps_nothing(
    start_worker: Any, settings: Any
) -> None:
    settings.JOB_MAX_ATTEMPTS = 1  # the sweeper (run here) fails the job at once rather than queue it again
    firm = FirmFactory(slug="child-kill")
    with firm_scope(firm):
        job = Job.objects.create(kind=SLOW)

        def current() -> Job:
            return Job.objects.get(pk=job.pk)

        worker = start_worker("-P", "prefork", "--concurrency=1")
        run_job.delay(firm.pk, job.pk)
        _wait_for("progress from the worker's child", lambda: current().done >= 3, worker)
        [child] = _children(worker.pid)  # concurrency 1: the one process of the pool runs the job
        os.kill(child, signal.SIGKILL)
        _wait_for("the main process to start a new child", lambda: set(_children(worker.pid)) - {child}, worker)

        stopped = current()
        assert stopped.status == JobStatus.RUNNING and stopped.attempts == 1 and 3 <= stopped.done < STEPS
        assert not Job.objects.filter(kind=MARKER).exists()  # its transaction died with the child

        # The main process hands the message back (acks_late, reject_on_worker_lost); a child that gets
        # it again leaves the job alone, which is running for all anyone can tell until its lease runs out.
        _wait_for("the lease to run out", lambda: current().lease_expires_at < timezone.now(), worker)
        assert services.jobs_sweep()["failed"] == 1  # the beat task's body
        failed = current()
        assert (failed.status, failed.error, failed.retryable) == (JobStatus.FAILED, services.WORKER_STOPPED, True)
        assert failed.finished_at is not None and failed.lease_expires_at is None
        panel = render_to_string("jobs/_progress.html", {"job": failed, "retry_url": "/retry/"})
        assert "The worker stopped while this job was running; nothing was applied." in panel
        assert ">Retry</button>" in panel
        assert not Job.objects.filter(kind=MARKER).exists()

        services.job_retry(actor=None, job=failed)  # what the Retry button posts to
        finished = _wait_for("the retry to finish", lambda: current().finished and current(), worker)
        assert (finished.status, finished.attempts, finished.done) == (JobStatus.DONE, 1, STEPS)
        assert Job.objects.filter(kind=MARKER).count() == 1  # the retry's only
        assert worker.poll() is None  # the main process lived through it all
