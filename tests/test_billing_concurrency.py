"""Fee posting with real concurrency and a killed worker (committed rows, threads with their own
connections, a process killed by SIGKILL): whatever happens, each account is debited its fee once
and the master account credited the sum, never more."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from accounts.rights import Role
from advisorportal.celery import app
from advisorportal.jobs import services as job_services
from advisorportal.jobs.models import Job, JobStatus
from advisorportal.jobs.progress import Progress
from advisorportal.tenancy.context import firm_scope
from billing import services
from billing.models import FeeLine, FeeRun, LineStatus, RunStatus
from portfolios import performance, selectors
from portfolios import services as ledger
from portfolios.models import AccountTransfer, ClientAccount
from tests.concurrency import run_concurrently
from tests.factories import FirmFactory, UserFactory
from tests.factories_portfolios import ClientAccountFactory
from tests.test_jobs_worker import _with_database

D = Decimal
BASE_DIR = Path(__file__).resolve().parent.parent
Q1 = (date(2025, 1, 1), date(2025, 3, 31))
FLAT = {"method": "flat", "flat_annual_fee": "4000.00", "valuation": "period_end"}  # 1,000.00 a quarter


@dataclass
class Book:
    firm: Any
    preparer: Any
    checker: Any
    master: ClientAccount
    accounts: list[ClientAccount] = field(default_factory=list)

    def scope(self) -> Any:
        return firm_scope(self.firm)


@pytest.fixture
def book(committed_db: None) -> Book:
    """A firm with a master account and five accounts of 5,000.00 on a flat 4,000.00 a year."""
    firm = FirmFactory(name="Echo Advisers", slug=f"echo-{uuid.uuid4().hex[:6]}")
    with firm_scope(firm):
        preparer = UserFactory(firm=firm, email="pat@echo.test", role=Role.PRIMARY)
        checker = UserFactory(firm=firm, email="cat@echo.test", role=Role.PRIMARY)
        found = Book(firm, preparer, checker, ClientAccountFactory(number="MASTER", is_master=True))
        for _ in range(5):
            account = ClientAccountFactory(inception_date=Q1[0])
            ledger.transaction_record(actor=None, account=account, kind="deposit", trade_date=Q1[0], amount=D(5000))
            found.accounts.append(account)
        services.schedule_create(actor=preparer, name="Flat", is_default=True, effective_from=date(2024, 1, 1), **FLAT)
        performance.recompute_full(end=Q1[1])
    return found


def approved(book: Book) -> FeeRun:
    """A computed and approved run of the quarter (its compute job run here if no worker ran it)."""
    with book.scope():
        run = services.run_create(actor=book.preparer, period_start=Q1[0], period_end=Q1[1])
        assert job_services.job_execute(job_id=run.job_id) == "done"
        run.refresh_from_db()
        assert run.computed_at is not None and run.line_count == 5
        return services.run_approve(actor=book.checker, run=run)


@pytest.fixture
def unsent() -> Iterator[None]:
    """Jobs go to a queue no worker reads, instead of running in the test's process."""
    eager, default_queue = app.conf.task_always_eager, app.conf.task_default_queue
    name = f"billing-test-{uuid.uuid4().hex[:8]}"
    app.conf.task_always_eager, app.conf.task_default_queue = False, name
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = eager, default_queue
        with app.connection_for_write() as conn:
            conn.default_channel.client.delete(name)


def billed_once(book: Book, *, fee: str = "1000.00") -> None:
    with book.scope():
        for account in book.accounts:
            debits = AccountTransfer.objects.filter(debit_account=account, kind="fee")
            assert [t.amount for t in debits] == [D(fee)], account.number
            assert selectors.cash_balances(account=account) == {"USD": D(5000) - D(fee)}
        assert selectors.cash_balances(account=book.master) == {"USD": D(fee) * len(book.accounts)}


def test_a_worker_killed_mid_posting_is_resumed_and_bills_each_account_once(book: Book, unsent: None) -> None:
    run = approved(book)
    with book.scope():
        run = services.run_post(actor=book.preparer, run=run)
    database = connection.settings_dict["NAME"]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "advisorportal.settings", "APP_ENV": "test"}
    for name in ("DATABASE_URL", "DATABASE_OWNER_URL"):
        env[name] = _with_database(os.environ[name], database)
    done = subprocess.run(
        [sys.executable, "-m", "tests.billing_kill", str(book.firm.pk), str(run.job_id)],
        cwd=BASE_DIR, env=env, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    output = done.stdout.decode() + done.stderr.decode()
    assert done.returncode == -9 and "posted 4" in output and "not killed" not in output, output
    with book.scope():
        # The first chunk (two fees) committed; the second died with its transaction.
        assert FeeLine.objects.filter(run=run, posted_amount__isnull=False).count() == 2
        assert AccountTransfer.objects.count() == 2
        assert Job.objects.get(pk=run.job_id).status == JobStatus.RUNNING  # until its lease runs out
        Job.objects.filter(pk=run.job_id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    app.conf.task_always_eager = True  # the sweeper's new message runs the job here, to the end
    with book.scope():
        assert job_services.jobs_sweep_firm()["requeued"] == 1
        run.refresh_from_db()
        assert run.status == RunStatus.POSTED and Job.objects.get(pk=run.job_id).status == JobStatus.DONE
        assert AccountTransfer.objects.count() == 5
    billed_once(book)


def test_two_attempts_of_one_post_job_at_once_bill_each_account_once(book: Book, unsent: None) -> None:
    """A worker whose lease ran out while it still posts, and the one the sweeper gave the job to,
    post side by side: every chunk locks the period's runs and posts only lines still unposted."""
    run = approved(book)
    with book.scope():
        run = services.run_post(actor=book.preparer, run=run)
        lease = timezone.now() + timedelta(minutes=5)
        claimed = Job.objects.filter(pk=run.job_id).update(status=JobStatus.RUNNING, claim=uuid.uuid4(),
                                                           lease_expires_at=lease)  # fmt: skip
        assert claimed == 1
    services.POST_CHUNK, chunk = 1, services.POST_CHUNK

    def work(index: int) -> Any:
        with firm_scope(book.firm):
            job = Job.objects.get(pk=run.job_id)
            progress = Progress(job)
            try:
                return services.post(job, progress)
            finally:
                progress.close()  # its own connection, as the runner closes it

    try:
        results = run_concurrently(2, work)
    finally:
        services.POST_CHUNK = chunk
    assert not any(isinstance(r, BaseException) for r in results), results
    with book.scope():
        run.refresh_from_db()
        assert run.status == RunStatus.POSTED
        assert FeeLine.objects.filter(run=run, status=LineStatus.BILLED, posted_amount=D(1000)).count() == 5
    billed_once(book)


def test_two_runs_of_one_period_approved_at_once_one_wins(book: Book) -> None:
    with book.scope():
        runs = [services.run_create(actor=book.preparer, period_start=Q1[0], period_end=Q1[1]) for _ in range(2)]

    def work(index: int) -> Any:
        with firm_scope(book.firm):
            return services.run_approve(actor=book.checker, run=runs[index])

    results = run_concurrently(2, work)
    assert sum(isinstance(r, FeeRun) for r in results) == 1, results
    [refused] = [r for r in results if isinstance(r, ValidationError)]
    assert "same period" in " ".join(refused.messages)
    with book.scope():
        assert FeeRun.objects.filter(status=RunStatus.APPROVED).count() == 1


def test_a_fee_and_a_withdrawal_at_once_never_overdraw(book: Book) -> None:
    """5,000.00 of cash, a 4,000.00 withdrawal and the quarter's fee posted at the same moment:
    the bulk posting and the lone withdrawal lock the account in one order, so the second reads
    the first's result; the account never goes below zero."""
    account = book.accounts[0]
    run = approved(book)

    def work(index: int) -> Any:
        with firm_scope(book.firm):
            if index == 0:
                return ledger.transaction_record(actor=None, account=account, kind="withdrawal",
                                                 trade_date=Q1[1], amount=D(4500))  # fmt: skip
            return services.run_post(actor=book.preparer, run=run)  # the post job runs when this commits

    results = run_concurrently(2, work)
    with book.scope():
        run.refresh_from_db()
        assert run.status == RunStatus.POSTED
        cash = selectors.cash_balances(account=account)["USD"]
        withdrew = not isinstance(results[0], BaseException)
        fee_line = FeeLine.objects.get(run=run, account=account)
        # Exactly one of the two fits in 5,000.00: either the fee or the withdrawal was refused.
        assert withdrew != (fee_line.status == LineStatus.BILLED), (results, fee_line.status)
        assert cash >= 0 and cash in (D(500), D(4000))
