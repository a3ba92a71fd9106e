"""seed_demo honours the demo data contract of PRODUCT.md."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Max

from accounts.models import ApiToken, Firm, User
from accounts.rights import Right
from accounts.selectors import user_rights
from accounts.services import api_token_authenticate
from advisorportal.mail.models import MessageTemplate, OutgoingEmail
from advisorportal.tenancy.context import firm_scope
from crm.models import Contact, Household
from portfolios.models import ClientAccount

pytestmark = pytest.mark.django_db


def test_seed_demo_builds_both_firms_and_writes_credentials(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    call_command("seed_demo", contacts=30, accounts=0, credentials=str(path), stdout=StringIO())
    creds = json.loads(path.read_text())
    assert set(creds["firms"]) == {"harbor", "summit"}
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    for slug, firm_creds in creds["firms"].items():
        firm = Firm.objects.get(slug=slug)
        emails = [u["email"] for u in firm_creds["users"]]
        assert emails == [f"owner@{slug}.example", f"advisor@{slug}.example", f"assistant@{slug}.example"]
        with firm_scope(firm):
            for entry in firm_creds["users"]:
                user = User.objects.get(email=entry["email"])
                assert user.check_password(entry["password"])
                token = api_token_authenticate(entry["api_token"])
                assert token is not None and token.user == user
            assert Contact.objects.count() == 30
            assert Household.objects.exists()
            owner, advisor, assistant = (User.objects.get(email=e) for e in emails)
            assert user_rights(user=owner) == frozenset(Right)
            assert Right.USER_MANAGEMENT not in user_rights(user=advisor)
            assert Right.CRM in user_rights(user=advisor)
            assert user_rights(user=assistant) == frozenset({Right.CRM})
            assert MessageTemplate.objects.filter(category="marketing").count() == 2
            assert MessageTemplate.objects.filter(category="service").count() == 3
            sent = OutgoingEmail.objects.filter(contact_id__isnull=False)
            assert sent.filter(sent_by=advisor).count() == 3 and sent.filter(sent_by=assistant).exists()
            assert not sent.filter(subject__contains="{{").exists()


def test_seed_demo_is_rerunnable_and_renews_credentials(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    call_command("seed_demo", contacts=10, accounts=0, credentials=str(path), stdout=StringIO())
    first = json.loads(path.read_text())
    call_command("seed_demo", contacts=10, accounts=0, credentials=str(path), stdout=StringIO())
    second = json.loads(path.read_text())
    assert first["firms"]["harbor"]["users"][0]["password"] != second["firms"]["harbor"]["users"][0]["password"]
    assert api_token_authenticate(first["firms"]["harbor"]["users"][0]["api_token"]) is None
    assert ApiToken.objects.filter(name="demo").count() == 6
    with firm_scope(Firm.objects.get(slug="harbor")):
        assert Contact.objects.count() == 10


def test_seed_demo_is_reproducible(tmp_path: Path) -> None:
    call_command(
        "seed_demo", contacts=20, accounts=0, firms="harbor", credentials=str(tmp_path / "c.json"), stdout=StringIO()
    )
    with firm_scope(Firm.objects.get(slug="harbor")):
        first = list(Contact.objects.order_by("id").values_list("first_name", "last_name", "status"))
    call_command(
        "seed_demo",
        contacts=20,
        accounts=0,
        firms="harbor",
        reset=True,
        credentials=str(tmp_path / "c.json"),
        stdout=StringIO(),
    )
    with firm_scope(Firm.objects.get(slug="harbor")):
        second = list(Contact.objects.order_by("id").values_list("first_name", "last_name", "status"))
    assert first == second


def test_seed_demo_builds_client_accounts_that_reconcile(tmp_path: Path) -> None:
    from portfolios.models import ClientAccount
    from portfolios.selectors import reconciliation_problems

    call_command(
        "seed_demo", contacts=40, accounts=5, firms="summit", credentials=str(tmp_path / "c.json"), stdout=StringIO()
    )
    with firm_scope(Firm.objects.get(slug="summit")):
        assert ClientAccount.objects.filter(is_master=False).count() == 5
        assert reconciliation_problems() == []


def _billing_counts() -> dict[str, int]:
    from billing.models import FeeAssignment, FeeIncrease, FeeLine, FeeRun, FeeSchedule, FeeScheduleVersion, FeeUpload
    from portfolios.models import AccountTransfer

    models = (FeeSchedule, FeeScheduleVersion, FeeAssignment, FeeRun, FeeLine, FeeIncrease, FeeUpload, AccountTransfer)
    counts = {model.__name__: model.objects.count() for model in models}
    counts["increase emails"] = OutgoingEmail.objects.filter(template="billing.fee_increase").count()
    return counts


def _posted_once(run: Any) -> None:
    """Each billed line of ``run`` posted its fee once: one transfer per line, from the client (or
    its household's payer) to the master account, and in the ledger the clients' cash fell by what
    the master's rose."""
    from billing.models import LineStatus
    from portfolios.models import AccountTransfer, LedgerPosting

    master = ClientAccount.objects.get(is_master=True)
    lines = list(run.lines.filter(status=LineStatus.BILLED))
    assert lines and all(ln.posted_amount == ln.period_fee == ln.to_post and ln.previously_billed == 0 for ln in lines)
    moved = [ln for ln in lines if ln.posted_amount]
    transfers = list(AccountTransfer.objects.filter(idempotency_key__startswith=f"billing.run{run.pk}.account"))
    assert sorted(t.pk for t in transfers) == sorted(ln.transfer_id for ln in moved)
    assert len({t.idempotency_key for t in transfers}) == len(transfers)
    by_id = {t.pk: t for t in transfers}
    for ln in moved:
        transfer = by_id[ln.transfer_id]
        assert transfer.debit_account_id == (ln.payer_id or ln.account_id) and transfer.credit_account_id == master.pk
        assert transfer.amount == ln.posted_amount and transfer.currency == ln.currency
    assert not run.lines.exclude(status=LineStatus.BILLED).filter(posted_amount__isnull=False).exists()

    def cash(transactions: list[int], account: Any = None) -> dict[str, Decimal]:
        rows = LedgerPosting.objects.filter(entry__transaction_id__in=transactions, ledger_account="cash")
        rows = rows.filter(account=account) if account is not None else rows.exclude(account=master)
        out: dict[str, Decimal] = defaultdict(Decimal)
        for currency, amount in rows.values_list("currency", "amount"):
            out[currency] += amount
        return dict(out)

    posted: dict[str, Decimal] = defaultdict(Decimal)
    for ln in moved:
        posted[ln.currency] += ln.posted_amount
    assert cash([t.credit_transaction_id for t in transfers], master) == dict(posted)
    assert cash([t.debit_transaction_id for t in transfers]) == {c: -a for c, a in posted.items()}
    assert run.total_to_post == sum(posted.values())


def _check_billing() -> None:
    """Issue #18, point 8: schedules of every kind, their assignments, a posted run of the last full
    quarter (each client debited once, the master account credited as much), a posted monthly run,
    a previewed run of the current quarter, one fee increase waiting for its client with its email,
    and an uploaded file's run in preview."""
    from advisorportal.links.models import Link
    from billing.models import (
        FeeAssignment,
        FeeIncrease,
        FeeRun,
        FeeSchedule,
        FeeScheduleVersion,
        FeeUpload,
        IncreaseStatus,
        RunStatus,
    )
    from devtools.demo.billing import last_full, month_of, quarter_of

    versions = FeeScheduleVersion.objects.all()
    assert {v.method for v in versions} == {"tiered", "breakpoint", "flat"}
    assert {v.timing for v in versions} == {"advance", "arrears"}
    assert {"quarterly", "monthly"} <= {v.frequency for v in versions}
    assert {v.valuation for v in versions} == {"period_end", "average_daily", "month_end_average"}
    assert {v.proration for v in versions} == {"actual/actual", "actual/365", "period_fraction"}
    assert {v.period_basis for v in versions} == {"frequency", "days"}
    assert versions.filter(minimum_annual_fee__gt=0).exists()
    assert versions.filter(maximum_annual_fee__gt=0).exists()
    assert versions.filter(exclusions__cash=True).exists()
    assert versions.filter(flow_threshold_amount__gt=0).exists()
    assert FeeSchedule.objects.filter(is_default=True).count() == 1

    assignments = FeeAssignment.objects.all()
    together = assignments.filter(household__isnull=False, householding=True)
    assert together.count() == 2 and together.filter(payer__isnull=False).count() == 1
    paid = together.get(payer__isnull=False)
    assert paid.payer is not None and paid.payer.household_id == paid.household_id
    assert together.filter(exclusions__has_key="symbols").exists()
    own = assignments.filter(account__isnull=False)
    assert own.filter(schedule__isnull=False, fee_cap_pct__gt=0).count() == 2
    assert own.filter(excluded=True).count() == 1
    assert assignments.count() <= 10  # few: the firm's default bills every other account

    latest = ClientAccount.objects.aggregate(day=Max("nav_date"))["day"]
    quarter = last_full(quarter_of, latest)
    current = quarter_of(quarter[1] + timedelta(days=1))
    posted = FeeRun.objects.get(period_start=quarter[0], period_end=quarter[1])
    assert posted.status == RunStatus.POSTED and posted.approved_by_id != posted.prepared_by_id
    _posted_once(posted)
    assert posted.lines.filter(payer__isnull=False).exists()
    assert posted.lines.filter(details__has_key="cap").exists()
    assert posted.lines.filter(status="excluded").count() == 1
    month = last_full(month_of, latest)
    monthly = FeeRun.objects.get(period_start=month[0], period_end=month[1])
    assert monthly.status == RunStatus.POSTED and monthly.line_count == 2
    _posted_once(monthly)

    upload = FeeUpload.objects.get()
    assert upload.run is not None and upload.run.status == RunStatus.PREVIEW and upload.run.line_count == 3
    preview = FeeRun.objects.filter(period_start=current[0], period_end=current[1]).exclude(pk=upload.run.pk).get()
    assert preview.status == RunStatus.PREVIEW and preview.computed_at is not None and preview.line_count
    assert not preview.lines.filter(posted_amount__isnull=False).exists()

    increase = FeeIncrease.objects.get()
    assert increase.status == IncreaseStatus.PENDING and increase.new_annual_fee > increase.old_annual_fee
    assert increase.effective_from == current[1] + timedelta(days=1)
    assert increase.email is not None and increase.email.template == "billing.fee_increase"
    assert increase.email.to == increase.recipient_email != ""
    assert Link.objects.filter(subject_id=str(increase.pk), used_at=None, revoked_at=None).exists()


def test_seed_demo_makes_funding_requests_and_billing_once(tmp_path: Path) -> None:
    """Funding requests in every state and each firm's billing (``_check_billing``); a second
    seed_demo adds nothing. (One test: the two builds of both firms are the slow part.)"""
    from advisorportal.links.models import Link
    from billing.models import FeeRun, FeeSchedule, RunStatus
    from devtools.demo.billing import delete_billing, seed_billing
    from funding.models import FundingRequest, Status

    call_command("seed_demo", contacts=120, accounts=30, credentials=str(tmp_path / "c.json"), stdout=StringIO())
    billed: dict[str, dict[str, int]] = {}
    for slug in ("harbor", "summit"):
        with firm_scope(Firm.objects.get(slug=slug)):
            _check_billing()
            billed[slug] = _billing_counts()
    call_command("seed_demo", contacts=120, accounts=30, credentials=str(tmp_path / "c.json"), stdout=StringIO())
    for slug in ("harbor", "summit"):
        firm = Firm.objects.get(slug=slug)
        with firm_scope(firm):
            states = set(FundingRequest.objects.values_list("status", flat=True))
            assert states == set(Status.values), (slug, states)
            assert FundingRequest.objects.count() == 10
            waiting = FundingRequest.objects.get(status=Status.AWAITING_CLIENT)
            assert Link.objects.filter(subject_id=str(waiting.pk), used_at=None, revoked_at=None).exists()
            assert _billing_counts() == billed[slug]
            assert seed_billing(firm=firm) == 0

    # What ``seed_demo --reset`` needs before the accounts and households go: the billing rows
    # (and no fee increase found, nor mailed, on the way out); the firm is then billed afresh.
    firm = Firm.objects.get(slug="summit")
    with firm_scope(firm):
        emails = OutgoingEmail.objects.count()
        delete_billing()
        assert not FeeSchedule.objects.exists() and not FeeRun.objects.exists()
        assert OutgoingEmail.objects.count() == emails
        assert seed_billing(firm=firm, log=lambda _: None) == 4
        assert FeeRun.objects.filter(status=RunStatus.POSTED).count() == 2
        _check_billing()
