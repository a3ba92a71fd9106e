"""The jobs kit: claim, progress seen from other connections, cancel, lease expiry and the sweeper,
retry; the upload checks and decoders; the progress bar partial.

Tests marked ``committed_db`` run with no test transaction: the job runs in a thread with its own
database connection, as on a worker, while the test reads from another, as a page would.
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import threading
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.template.loader import render_to_string
from django.utils import timezone

from advisorportal.jobs import excel, kinds, services, uploads
from advisorportal.jobs.issues import Issue
from advisorportal.jobs.kinds import JobKind, Outcome
from advisorportal.jobs.models import Job, JobStatus
from advisorportal.jobs.progress import JobLost, Progress
from advisorportal.tenancy.context import firm_scope
from tests.concurrency import run_concurrently
from tests.factories import FirmFactory

KIND = "test.kit"
MARKER = "test.marker"  # a row a test job writes in its transaction, to see whether it committed
_runs: dict[str, Callable[[Job, Progress], Outcome | None]] = {}


def _run(job: Job, progress: Progress) -> Outcome | None:
    return _runs["run"](job, progress)


kinds.register(JobKind(KIND, run=_run, label="Test job"))

WAIT = 30  # seconds a thread waits for the other side before the test fails (never reached when it works)


@pytest.fixture
def behaviour() -> Iterator[dict[str, Callable[[Job, Progress], Outcome | None]]]:
    _runs.clear()
    yield _runs
    _runs.clear()


def _marker() -> Job:
    return Job.objects.create(kind=MARKER, status=JobStatus.DONE)


def _job(**fields: Any) -> Job:
    return Job.objects.create(kind=KIND, **fields)


def _reload(job: Job) -> Job:
    return Job.objects.get(pk=job.pk)


class Worker(threading.Thread):
    """``job_execute`` in a thread of its own (its own database connection), in the firm's scope."""

    def __init__(self, firm: Any, job_id: int) -> None:
        super().__init__(daemon=True)
        self.firm, self.job_id = firm, job_id
        self.result: str | BaseException = "not run"

    def run(self) -> None:
        try:
            with firm_scope(self.firm):
                self.result = services.job_execute(job_id=self.job_id)
        except BaseException as error:  # noqa: BLE001 - handed to the test
            self.result = error
        finally:
            connection.close()

    def finish(self) -> str | BaseException:
        self.join(WAIT)
        assert not self.is_alive(), "the job did not finish"
        return self.result


@pytest.fixture
def firm(committed_db: None) -> Any:
    return FirmFactory(slug="jobs-kit")


# --- Claim ------------------------------------------------------------------------------------------


def test_two_workers_handed_the_same_job_run_it_once(firm: Any, behaviour: dict[str, Any]) -> None:
    ran: list[int] = []

    def run(job: Job, progress: Progress) -> None:
        ran.append(job.attempts)
        _marker()

    behaviour["run"] = run
    with firm_scope(firm):
        job = _job()

    def work(index: int) -> str:
        with firm_scope(firm):
            return services.job_execute(job_id=job.pk)

    results = run_concurrently(2, work)
    assert ran == [1], results
    assert sorted(str(r) for r in results) in (["done", "done"], ["done", "running"])
    with firm_scope(firm):
        job = _reload(job)
        assert (job.status, job.attempts, job.lease_expires_at) == (JobStatus.DONE, 1, None)
        assert Job.objects.filter(kind=MARKER).count() == 1


def test_only_a_queued_job_is_claimed(alice: Any) -> None:
    with alice.scope():
        for status in (JobStatus.RUNNING, JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED):
            job = _job(status=status)
            assert services.job_execute(job_id=job.pk) == status
            assert _reload(job).attempts == 0


# --- Progress seen from another connection ----------------------------------------------------------


def test_progress_is_seen_by_other_connections_while_the_job_transaction_is_open(
    firm: Any, behaviour: dict[str, Any]
) -> None:
    written, seen = threading.Event(), threading.Event()

    def run(job: Job, progress: Progress) -> None:
        _marker()
        progress.update(3, total=10, phase="Counting")
        written.set()
        assert seen.wait(WAIT)

    behaviour["run"] = run
    with firm_scope(firm):
        job = _job(total=10)
        before = timezone.now()
        worker = Worker(firm, job.pk)
        worker.start()
        assert written.wait(WAIT)
        try:
            running = _reload(job)
            assert (running.status, running.done, running.total, running.phase) == ("running", 3, 10, "Counting")
            assert running.percent == 30 and running.attempts == 1
            assert running.heartbeat_at is not None and running.heartbeat_at >= before - dt.timedelta(seconds=5)
            assert running.lease_expires_at is not None and running.lease_expires_at > running.heartbeat_at
            assert not Job.objects.filter(kind=MARKER).exists()  # the job's own writes: not committed yet
        finally:
            seen.set()
        assert worker.finish() == "done"
        done = _reload(job)
        assert (done.status, done.done, done.percent, done.phase) == ("done", 10, 100, "")
        assert Job.objects.filter(kind=MARKER).count() == 1


def test_progress_inside_an_uncommitted_job_writes_nothing_and_fails_nothing(
    alice: Any, behaviour: dict[str, Any]
) -> None:
    """A job run inside an outer transaction (a test, a command) is invisible to the writer's own
    connection: it stops writing and the job goes on."""

    def run(job: Job, progress: Progress) -> None:
        for done in range(5):
            progress.update(done, total=5, force=True)

    behaviour["run"] = run
    with alice.scope():
        job = _job()
        assert services.job_execute(job_id=job.pk) == "done"


# --- Cancel ----------------------------------------------------------------------------------------


def test_cancel_is_seen_at_the_next_progress_write_and_the_work_rolls_back(
    firm: Any, behaviour: dict[str, Any]
) -> None:
    started, asked = threading.Event(), threading.Event()

    def run(job: Job, progress: Progress) -> None:
        _marker()
        progress.update(1, total=3)
        started.set()
        assert asked.wait(WAIT)
        progress.update(2, force=True)  # raises: cancelled
        raise AssertionError("the cancel was not seen")

    behaviour["run"] = run
    with firm_scope(firm):
        job = _job()
        worker = Worker(firm, job.pk)
        worker.start()
        assert started.wait(WAIT)
        try:
            asking = services.job_cancel(actor=None, job=job)
            assert asking.status == JobStatus.RUNNING and asking.cancelling
        finally:
            asked.set()
        assert worker.finish() == JobStatus.CANCELLED
        job = _reload(job)
        assert (job.status, job.error, job.retryable) == (JobStatus.CANCELLED, services.CANCELLED, True)
        assert not Job.objects.filter(kind=MARKER).exists()
        with pytest.raises(Exception, match="cannot be cancelled"):
            services.job_cancel(actor=None, job=job)


def test_a_queued_job_cancelled_never_runs(alice: Any, behaviour: dict[str, Any]) -> None:
    behaviour["run"] = lambda job, progress: pytest.fail("a cancelled job ran")
    with alice.scope():
        job = services.job_cancel(actor=None, job=_job())
        assert (job.status, job.error) == (JobStatus.CANCELLED, services.CANCELLED_BEFORE_START)
        assert services.job_execute(job_id=job.pk) == JobStatus.CANCELLED


# --- Failures, leases, the sweeper, retry ------------------------------------------------------------


def test_a_run_that_raises_fails_the_job_and_keeps_nothing(alice: Any, behaviour: dict[str, Any]) -> None:
    def run(job: Job, progress: Progress) -> None:
        _marker()
        raise RuntimeError("boom")

    behaviour["run"] = run
    with alice.scope():
        job = _job()
        assert services.job_execute(job_id=job.pk) == JobStatus.FAILED
        job = _reload(job)
        assert job.error == services.UNEXPECTED.format(id=job.pk) and "boom" not in job.error and job.retryable
        assert not Job.objects.filter(kind=MARKER).exists()


def test_a_failed_outcome_commits_with_its_issues(alice: Any, behaviour: dict[str, Any]) -> None:
    def run(job: Job, progress: Progress) -> Outcome:
        _marker()  # what the run wrote is kept with a failed outcome (the pipeline's counts)
        return Outcome.failure("2 problems", [Issue(3, "amount", "Not a number."), Issue(0, "", "Empty.")])

    behaviour["run"] = run
    with alice.scope():
        job = _job()
        assert services.job_execute(job_id=job.pk) == JobStatus.FAILED
        job = _reload(job)
        assert (job.error, job.retryable) == ("2 problems", False)
        assert [(i["row"], i["column"], i["level"]) for i in job.issues] == [(0, "", "error"), (3, "amount", "error")]
        assert Job.objects.filter(kind=MARKER).exists()
        with pytest.raises(Exception, match="can be run again"):
            services.job_retry(actor=None, job=job)


def _expire(job: Job) -> None:
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - dt.timedelta(seconds=1))


def test_a_dead_workers_job_is_queued_again_then_failed_after_the_last_attempt(
    alice: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """The worker is simulated dead: a claimed job whose lease ran out (the real thing:
    ``test_jobs_worker.py``)."""
    settings.JOB_MAX_ATTEMPTS = 2
    with alice.scope():
        job = _job()
        claimed = services._claim(job.pk)
        assert claimed is not None and claimed.attempts == 1
        with django_capture_on_commit_callbacks(execute=False) as sent:
            assert services.jobs_sweep_firm()["requeued"] == 0  # the lease still runs: nothing happens
        assert _reload(job).status == JobStatus.RUNNING and not sent

        _expire(job)
        with django_capture_on_commit_callbacks(execute=False) as sent:
            assert services.jobs_sweep_firm()["requeued"] == 1
        job = _reload(job)
        assert (job.status, job.attempts, job.lease_expires_at) == (JobStatus.QUEUED, 1, None) and len(sent) == 1

        assert services._claim(job.pk) is not None  # the second attempt: its worker dies too
        _expire(job)
        with django_capture_on_commit_callbacks(execute=False) as sent:
            assert services.jobs_sweep_firm()["failed"] == 1
        job = _reload(job)
        assert (job.status, job.attempts, job.retryable) == (JobStatus.FAILED, 2, True) and not sent
        assert job.error == "The worker stopped while this job was running; nothing was applied. Retry."

        with django_capture_on_commit_callbacks(execute=False) as sent:
            again = services.job_retry(actor=alice.user, job=job)
        assert (again.status, again.attempts, again.error, len(sent)) == (JobStatus.QUEUED, 0, "", 1)
        from accounts.models import AuditEntry

        trail = AuditEntry.objects.filter(object_type="jobs.job", object_id=str(job.pk)).order_by("id")
        assert [e.changes["status"] for e in trail] == [
            ["queued", "running"], ["running", "queued"], ["queued", "running"], ["running", "failed"],
            ["failed", "queued"],
        ]  # fmt: skip
        assert trail.last().actor_id == alice.user.pk  # type: ignore[union-attr]  # the retry: a person's


def test_the_sweeper_visits_every_firm(alice: Any, charlie: Any, django_capture_on_commit_callbacks: Any) -> None:
    jobs = []
    for persona in (alice, charlie):
        with persona.scope():
            job = _job()
            services._claim(job.pk)
            _expire(job)
            jobs.append((persona, job))
    with django_capture_on_commit_callbacks(execute=False) as sent:
        totals = services.jobs_sweep()
    assert totals["requeued"] == 2 and len(sent) == 2
    for persona, job in jobs:
        with persona.scope():
            assert _reload(job).status == JobStatus.QUEUED


def test_a_cancelled_job_whose_worker_died_ends_cancelled(alice: Any) -> None:
    with alice.scope():
        job = _job()
        services._claim(job.pk)
        services.job_cancel(actor=None, job=job)
        _expire(job)
        assert services.jobs_sweep_firm()["cancelled"] == 1
        assert _reload(job).status == JobStatus.CANCELLED


def test_a_queued_job_whose_message_was_lost_is_sent_again(
    alice: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with alice.scope():
        fresh = _job()
        lost = _job(queued_at=timezone.now() - dt.timedelta(seconds=settings.JOB_LEASE_SECONDS + 5))
        with django_capture_on_commit_callbacks(execute=False) as sent:
            assert services.jobs_sweep_firm()["resent"] == 1
        assert len(sent) == 1 and _reload(lost).queued_at > lost.queued_at
        assert _reload(fresh).queued_at == fresh.queued_at
        with django_capture_on_commit_callbacks(execute=False) as sent:
            assert services.jobs_sweep_firm()["resent"] == 0  # once per lease, not once per sweep


def test_a_worker_whose_job_was_taken_from_it_commits_nothing(firm: Any, behaviour: dict[str, Any]) -> None:
    """A slow worker (not dead) whose lease ran out: the job is queued again and claimed by another
    worker; the first one's next write finds the job gone and its work rolls back."""
    started, taken = threading.Event(), threading.Event()
    attempts: list[int] = []

    def run(job: Job, progress: Progress) -> None:
        attempts.append(job.attempts)
        _marker()
        if job.attempts == 1:
            progress.update(1, total=2)
            started.set()
            assert taken.wait(WAIT)
            progress.update(2, force=True)  # raises: lost

    behaviour["run"] = run
    with firm_scope(firm):
        job = _job()
        slow = Worker(firm, job.pk)
        slow.start()
        assert started.wait(WAIT)
        try:
            _expire(job)
            assert services.jobs_sweep_firm()["requeued"] == 1  # sends the task: eager, runs attempt 2 here
            assert _reload(job).status == JobStatus.DONE
        finally:
            taken.set()
        assert slow.finish() == JobStatus.DONE  # attempt 1 ended without writing anything
        job = _reload(job)
        assert (job.status, job.attempts, attempts) == (JobStatus.DONE, 2, [1, 2])
        assert Job.objects.filter(kind=MARKER).count() == 1  # attempt 2's only


def test_the_result_of_an_attempt_that_lost_its_job_is_refused(alice: Any) -> None:
    with alice.scope():
        job = _job()
        first = services._claim(job.pk)
        assert first is not None
        _expire(job)
        services.jobs_sweep_firm()
        assert services._claim(job.pk) is not None  # attempt 2 holds it now
        with pytest.raises(JobLost):
            services._finish(first, Outcome(), Progress(first))


# --- Upload checks and decoders ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"PK\x03\x04rest", "zip"),
        (b"%PDF-1.7", "pdf"),
        (b"\x89PNG\r\n\x1a\n", "png"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1", "ole"),
        (b"\x1f\x8b\x08", "gzip"),
        (b"name,email\nA,a@x\n", "text"),
        (codecs.BOM_UTF16_LE + "a,b".encode("utf-16-le"), "text"),
        (b"ab\x00cd", "binary"),
    ],
)
def test_files_are_told_apart_by_their_content(head: bytes, kind: str) -> None:
    assert uploads.sniff(head).kind == kind


def test_size_limit_counts_the_bytes_read_not_the_declared_size() -> None:
    upload = SimpleUploadedFile("a.csv", b"x" * 2000)
    upload.size = 10  # a client that lies about the size
    with pytest.raises(uploads.FileRefused, match="the limit is 1,000 bytes"):
        uploads.read_upload(upload, limit=1000)
    with pytest.raises(uploads.FileRefused, match="The file is empty"):
        uploads.read_upload(b"  \n", limit=1000)
    assert uploads.read_upload(b"abc", limit=1000).sha256.startswith("ba7816bf")
    assert uploads.size_label(50 * 2**20) == "50 MB" and uploads.size_label(1536 * 1024) == "1.5 MB"


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ("Jürgen,Müller\n".encode(), "Jürgen,Müller\n"),
        (codecs.BOM_UTF8 + "Jürgen\n".encode(), "Jürgen\n"),
        (codecs.BOM_UTF16_LE + "Jürgen\n".encode("utf-16-le"), "Jürgen\n"),
        (codecs.BOM_UTF16_BE + "Jürgen\n".encode("utf-16-be"), "Jürgen\n"),
    ],
)
def test_text_is_utf8_or_utf16_with_its_mark(data: bytes, text: str) -> None:
    assert uploads.decode_text(data) == text


def test_other_encodings_are_refused_naming_the_row() -> None:
    with pytest.raises(uploads.FileRefused, match=r"Row 3: this file is not UTF-8 text \(byte 0xfc"):
        uploads.decode_text("a\nb\nMüller\n".encode("latin-1"))
    with pytest.raises(uploads.FileRefused, match="NUL bytes"):
        uploads.decode_text(b"a,b\n\x00\n")


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("a,b,c\n1;2,3\n", ","),
        ("a;b;c\n1,5;2;3\n", ";"),
        ("a\tb\n1\t2\n", "\t"),
        ('"last, first";email\nx;y\n', ";"),  # a comma inside quotes is no delimiter
        ("only\n1\n", ","),
    ],
)
def test_the_delimiter_is_the_one_the_header_uses(text: str, delimiter: str) -> None:
    assert uploads.delimiter(text) == delimiter
    assert uploads.decode_csv(text.encode()).delimiter == delimiter


def test_csv_rows_carry_the_line_they_start_on() -> None:
    reader = uploads.CsvText('h1,h2\na,"multi\nline"\nb,c\n', ",").reader()
    next(reader)
    assert list(uploads.rows(reader)) == [(2, ["a", "multi\nline"]), (4, ["b", "c"])]


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_excel_reader_refuses_bombs_archives_and_lying_directories() -> None:
    bomb = _zip({"[Content_Types].xml": b"<Types/>", "xl/worksheets/sheet1.xml": b"\0" * (50 * 2**20)})
    with pytest.raises(uploads.FileRefused, match="ZIP bomb"):
        excel.check_archive(bomb)
    with pytest.raises(uploads.FileRefused, match="ZIP archive but not an Excel"):
        excel.check_archive(_zip({"hello.txt": b"hi"}))
    with pytest.raises(uploads.FileRefused, match="damaged"):
        excel.check_archive(b"PK\x03\x04 not really a zip")
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["a", "b"])  # type: ignore[union-attr]
    wb.active.append([1, "=1+1"])  # type: ignore[union-attr]
    out = io.BytesIO()
    wb.save(out)
    sheet = excel.read_sheet(out.getvalue())
    assert sheet.rows[0] == ["a", "b"] and sheet.formulas == [("B", 2, "=1+1")]
    with pytest.raises(uploads.FileRefused, match='no sheet named "Other"'):
        excel.read_sheet(out.getvalue(), "Other")
    # A damaged member behind an intact directory: refused, not a 500.
    damaged = bytearray(out.getvalue())
    start = damaged.find(b"xl/worksheets/sheet1.xml") + len("xl/worksheets/sheet1.xml")
    damaged[start : start + 40] = b"\0" * 40
    with pytest.raises(uploads.FileRefused):
        excel.read_sheet(bytes(damaged))


# --- The progress bar partial -----------------------------------------------------------------------


def _partial(job: Job) -> str:
    return render_to_string(
        "jobs/_progress.html",
        {"job": job, "panel": "panel", "poll_url": "/poll/", "bar_id": "bar", "unit": "rows",
         "cancel_url": "/cancel/", "retry_url": "/retry/"},
    )  # fmt: skip


def test_progress_partial_is_an_accessible_bar_that_polls_while_the_job_runs() -> None:
    running = _partial(Job(status=JobStatus.RUNNING, done=40, total=200, phase="Applying"))
    assert 'role="progressbar"' in running and 'aria-valuenow="20"' in running and 'value="20"' in running
    assert 'aria-valuemin="0"' in running and 'aria-valuemax="100"' in running and 'for="bar"' in running
    assert "Applying: 40 of 200 rows (20%)" in running
    assert 'hx-get="/poll/"' in running and 'hx-trigger="every 1s"' in running and 'hx-target="#panel"' in running
    assert ">Cancel</button>" in running and "Retry" not in running
    assert "<script" not in running and "style=" not in running

    queued = _partial(Job(status=JobStatus.QUEUED))
    assert "aria-valuenow" not in queued and "Waiting for a worker" in queued and "every 1s" in queued

    failed = _partial(Job(status=JobStatus.FAILED, error=services.WORKER_STOPPED, retryable=True, total=9, done=3))
    assert "every 1s" not in failed and 'role="alert"' in failed and "The worker stopped" in failed
    assert ">Retry</button>" in failed and "Cancel" not in failed

    done = _partial(Job(status=JobStatus.DONE, total=9, done=9))
    assert 'aria-valuenow="100"' in done and "every 1s" not in done and "<button" not in done
