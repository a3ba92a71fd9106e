"""Fee runs end to end on real daily values and the real ledger: each of the SEC's 2021 risk
alert's fee errors is a case here (wrong schedule, double billing, tiers, householding, valuation,
new accounts not prorated), with the pre-bill audit, four eyes, re-runs and the bad input."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AuditEntry
from advisorportal.jobs import services as job_services
from billing import services
from billing.models import FeeLine, FeeRun, FeeSchedule, LineStatus, RunStatus
from portfolios import performance, selectors
from portfolios import services as ledger
from portfolios.models import AccountStatus, AccountTransfer, ClientAccount
from tests.conftest import Persona
from tests.factories import HouseholdFactory, UserFactory
from tests.factories_portfolios import ClientAccountFactory

pytestmark = pytest.mark.django_db
D = Decimal
Q1 = (date(2025, 1, 1), date(2025, 3, 31))
TIERED = [{"up_to": "1000000", "annual_rate_pct": "1.00"}, {"up_to": None, "annual_rate_pct": "0.50"}]


def deposit(account: ClientAccount, amount: str, day: date = Q1[0]) -> None:
    ledger.transaction_record(actor=None, account=account, kind="deposit", trade_date=day, amount=D(amount))


def schedule(
    actor: Any, name: str = "Standard", *, tiers: list[dict[str, Any]] | None = None, **terms: Any
) -> FeeSchedule:
    terms.setdefault("method", "tiered")
    terms.setdefault("valuation", "period_end")
    if terms["method"] != "flat":
        terms.setdefault("tiers", tiers or TIERED)
    return services.schedule_create(actor=actor, name=name, effective_from=date(2024, 1, 1), **terms)


@pytest.fixture
def books(alice: Persona) -> dict[str, Any]:
    """A master account and a second fee administrator (four eyes)."""
    with alice.scope():
        master = ClientAccountFactory(number="MASTER", is_master=True)
        checker = UserFactory(firm=alice.firm, email="checker@alpha.test", full_name="Chris Checker")
    return {"master": master, "checker": checker}


def computed(alice: Persona, **kwargs: Any) -> FeeRun:
    performance.recompute_full(end=Q1[1])
    run = services.run_create(actor=alice.user, period_start=Q1[0], period_end=Q1[1], **kwargs)
    assert job_services.job_execute(job_id=run.job_id) == "done"
    run.refresh_from_db()
    return run


def posted(run: FeeRun, alice: Persona, checker: Any) -> FeeRun:
    services.run_approve(actor=checker, run=run)
    run = services.run_post(actor=alice.user, run=run)
    assert job_services.job_execute(job_id=run.job_id) == "done"
    run.refresh_from_db()
    return run


def new_account(**kwargs: Any) -> ClientAccount:
    """An account open since the quarter began (so it is billed for the whole quarter)."""
    kwargs.setdefault("inception_date", Q1[0])
    return ClientAccountFactory(**kwargs)


def line(run: FeeRun, account: ClientAccount) -> FeeLine:
    return FeeLine.objects.get(run=run, account=account)


def fees_of(account: ClientAccount) -> Decimal:
    return -sum((t.amount for t in AccountTransfer.objects.filter(debit_account=account)), D(0)) + sum(
        (t.amount for t in AccountTransfer.objects.filter(credit_account=account)), D(0)
    )


def test_a_quarter_in_arrears_is_previewed_approved_and_posted_once(alice: Persona, books: dict[str, Any]) -> None:
    """1,200,000 at the quarter's end, tiered 1 % to 1,000,000 and 0.5 % above: 10,000 + 1,000 =
    11,000 a year, 2,750 a quarter — debited from the client and credited to the master account,
    once, with the explanation on the line."""
    with alice.scope():
        schedule(alice.user, is_default=True)
        account = new_account()
        deposit(account, "1200000")
        run = computed(alice)
        assert (run.line_count, run.total_fee, run.total_to_post) == (1, D("2750.00"), D("2750.00"))
        fee = line(run, account)
        assert (fee.status, fee.value, fee.annual_fee, fee.period_fee) == ("billed", D("1200000.00"), D("11000.00"),
                                                                           D("2750.00"))  # fmt: skip
        assert "the firm's default schedule" in fee.explanation and "Tiered" in fee.explanation
        assert "1,000,000.00 from 0.00 to under 1,000,000.00 at 1 % = 10,000.00" in fee.explanation
        assert fee.details["lines"][1] == {"from": "1000000", "to": None, "annual_rate_pct": "0.50",
                                           "base": "200000.00", "annual_fee": "1000.00"}  # fmt: skip
        assert not AccountTransfer.objects.exists()  # a preview posts nothing

        run = posted(run, alice, books["checker"])
        assert run.status == RunStatus.POSTED
        fee = line(run, account)
        assert fee.posted_amount == D("2750.00") and fee.transfer is not None
        assert fees_of(account) == D("-2750.00") and fees_of(books["master"]) == D("2750.00")
        assert selectors.cash_balances(account=account) == {"USD": D("1197250.0000")}
        assert selectors.cash_balances(account=books["master"]) == {"USD": D("2750.0000")}

        with pytest.raises(ValidationError, match="posted already"):
            services.run_post(actor=alice.user, run=run)
        assert AccountTransfer.objects.count() == 1
        refusals = AuditEntry.objects.filter(
            object_type="billing.feerun", object_id=str(run.pk), changes__has_key="refused"
        )
        assert any("posts once" in entry.changes["refused"] for entry in refusals)


def test_the_post_job_run_twice_posts_once(alice: Persona, books: dict[str, Any]) -> None:
    """A message delivered twice, or a retry after a worker died: the lines already posted are
    skipped and the idempotency key would refuse a second debit."""
    with alice.scope():
        schedule(alice.user, is_default=True)
        account = new_account()
        deposit(account, "400000")
        run = computed(alice)
        services.run_approve(actor=books["checker"], run=run)
        run = services.run_post(actor=alice.user, run=run)
        assert job_services.job_execute(job_id=run.job_id) == "done"
        # The job replayed by hand: queued again as the sweeper would.
        from advisorportal.jobs.models import Job

        Job.objects.filter(pk=run.job_id).update(status="queued")
        job_services.job_execute(job_id=run.job_id)
        assert AccountTransfer.objects.count() == 1
        assert fees_of(account) == D("-1000.00")


def test_a_corrected_schedule_rerun_posts_only_the_difference(alice: Persona, books: dict[str, Any]) -> None:
    """Billed on the wrong rate, corrected (a new version from the period's start cannot be made
    once posted, so the account gets the right schedule), re-run: the refund of the difference."""
    with alice.scope():
        schedule(alice.user, is_default=True)
        right = schedule(alice.user, "Discounted", tiers=[{"up_to": None, "annual_rate_pct": "0.80"}])
        account = new_account()
        deposit(account, "500000")
        first = posted(computed(alice), alice, books["checker"])
        assert line(first, account).posted_amount == D("1250.00")

        services.assign(actor=alice.user, schedule=right, accounts=[account])
        again = computed(alice)
        fee = line(again, account)
        assert (fee.period_fee, fee.previously_billed, fee.to_post) == (D("1000.00"), D("1250.00"), D("-250.00"))
        assert "Already billed for this period: 1,250.00" in fee.explanation
        again = posted(again, alice, books["checker"])
        assert fees_of(account) == D("-1000.00") and fees_of(books["master"]) == D("1000.00")

        third = posted(computed(alice), alice, books["checker"])  # nothing left to correct: nothing moves
        assert line(third, account).posted_amount == D("0.00")
        assert AccountTransfer.objects.count() == 2


def test_wrong_schedule_the_accounts_own_beats_the_households_beats_the_default(alice: Persona) -> None:
    with alice.scope():
        schedule(alice.user, "Default", is_default=True, tiers=[{"up_to": None, "annual_rate_pct": "1.00"}])
        family = schedule(alice.user, "Family", tiers=[{"up_to": None, "annual_rate_pct": "0.80"}])
        special = schedule(alice.user, "Special", tiers=[{"up_to": None, "annual_rate_pct": "0.40"}])
        household = HouseholdFactory()
        own, member, alone = (new_account(household=household), new_account(household=household),
                              new_account())  # fmt: skip
        for account in (own, member, alone):
            deposit(account, "100000")
        services.assign(actor=alice.user, schedule=family, households=[household], householding=False)
        services.assign(actor=alice.user, schedule=special, accounts=[own])
        run = computed(alice)
        assert [line(run, a).period_fee for a in (own, member, alone)] == [D("100.00"), D("200.00"), D("250.00")]
        assert (
            "Schedule Special" in line(run, own).explanation and "its own fee assignment" in line(run, own).explanation
        )
        assert "its household's fee assignment" in line(run, member).explanation


def test_householding_bands_on_the_combined_value_shared_pro_rata(alice: Persona) -> None:
    """900,000 + 300,000 together: 10,000 + 1,000 = 11,000 a year (alone they would pay 9,000 +
    3,000 = 12,000), shared 3:1: 2,062.50 and 687.50 a quarter."""
    with alice.scope():
        family = schedule(alice.user, "Family")
        household = HouseholdFactory()
        big, small = new_account(household=household), new_account(household=household)
        deposit(big, "900000")
        deposit(small, "300000")
        services.assign(actor=alice.user, schedule=family, households=[household], householding=True, payer=big)
        run = computed(alice)
        assert (line(run, big).period_fee, line(run, small).period_fee) == (D("2062.50"), D("687.50"))
        assert line(run, small).payer_id == big.pk and line(run, big).payer_id is None
        assert "combined value of 1,200,000.00" in line(run, small).explanation


def test_valuation_average_daily_balance_against_period_end(alice: Persona) -> None:
    """100,000 from Jan 1 and another 100,000 on Mar 3: the period-end value is 200,000, the
    average daily balance 100,000 × 64/64 days + 100,000 × 21/64 of the quarter's 64 business days."""
    with alice.scope():
        schedule(alice.user, "End", tiers=[{"up_to": None, "annual_rate_pct": "1.00"}])
        average = schedule(alice.user, "Average", valuation="average_daily",
                           tiers=[{"up_to": None, "annual_rate_pct": "1.00"}])  # fmt: skip
        end_account, average_account = new_account(inception_date=Q1[0]), new_account(inception_date=Q1[0])
        for account in (end_account, average_account):
            deposit(account, "100000", Q1[0])
            deposit(account, "100000", date(2025, 3, 3))
        services.assign(actor=alice.user, schedule=FeeSchedule.objects.get(name="End"), accounts=[end_account])
        services.assign(actor=alice.user, schedule=average, accounts=[average_account])
        run = computed(alice)
        days = 64  # business days of Q1 2025
        after = 21  # Mar 3 to Mar 31
        expected = (D(100000) * days + D(100000) * after) / days
        assert line(run, end_account).value == D("200000.00")
        assert line(run, average_account).value == expected.quantize(D("0.01"))
        assert f"the average of {days} daily values" in line(run, average_account).explanation


def test_a_new_account_is_prorated_from_its_inception(alice: Persona) -> None:
    """Opened Mar 1: 31 of 90 days, actual/365: 10,000 × 31 / 365 = 849.32."""
    with alice.scope():
        schedule(alice.user, is_default=True, tiers=[{"up_to": None, "annual_rate_pct": "1.00"}])
        account = new_account(inception_date=date(2025, 3, 1))
        deposit(account, "1000000", date(2025, 3, 3))
        run = computed(alice)
        fee = line(run, account)
        assert (fee.billable_from, fee.period_fee) == (date(2025, 3, 1), D("849.32"))
        assert "31 of the period's 90 days" in fee.explanation


def test_breakpoint_and_minimum_and_cap_say_so_on_the_line(alice: Persona) -> None:
    with alice.scope():
        breakpoint_ = schedule(alice.user, "Breakpoint", method="breakpoint", minimum_annual_fee=D("2000"))
        small, capped = new_account(), new_account()
        deposit(small, "50000")
        deposit(capped, "1500000")
        services.assign(actor=alice.user, schedule=breakpoint_, accounts=[small])
        services.assign(actor=alice.user, schedule=breakpoint_, accounts=[capped], fee_cap_pct=D("0.40"))
        run = computed(alice)
        assert line(run, small).period_fee == D("500.00")  # 500 a year raised to the 2,000 minimum
        assert "raised to the minimum annual fee of 2,000.00" in line(run, small).explanation
        # breakpoint 0.5 % on 1,500,000 = 7,500 a year, 1,875 a quarter; the cap 0.4 %: 1,500
        assert line(run, capped).period_fee == D("1500.00")
        assert "Capped" in line(run, capped).explanation and line(run, capped).details["cap"]["before"] == "1875.00"


def test_the_audit_finds_missing_schedules_short_cash_and_holds_them_back(
    alice: Persona, books: dict[str, Any]
) -> None:
    with alice.scope():
        later = services.schedule_create(actor=alice.user, name="Next year", effective_from=date(2026, 1, 1),
                                         method="flat", flat_annual_fee=D("4000"))  # fmt: skip
        unscheduled, not_yet, poor = new_account(), new_account(), new_account()
        deposit(poor, "500")
        services.assign(actor=alice.user, schedule=later, accounts=[not_yet])
        flat = schedule(alice.user, "Flat", method="flat", flat_annual_fee=D("4000"))
        services.assign(actor=alice.user, schedule=flat, accounts=[poor])
        run = computed(alice)
        codes = {f["code"]: f for f in run.audit}
        assert codes["no_schedule"]["accounts"] == [unscheduled.number]
        assert codes["not_effective"]["accounts"] == [not_yet.number]
        assert codes["no_cash"]["accounts"] == [poor.number]
        assert line(run, poor).status == LineStatus.NO_CASH and run.total_fee == D(0)
        run = posted(run, alice, books["checker"])
        assert line(run, poor).status == LineStatus.NO_CASH and line(run, poor).posted_amount is None
        assert not AccountTransfer.objects.exists()  # never into overdraft
        assert "Not enough cash" in line(run, poor).explanation


def test_four_eyes_and_one_approved_run_per_period(alice: Persona, books: dict[str, Any]) -> None:
    with alice.scope():
        schedule(alice.user, is_default=True)
        deposit(new_account(), "100000")
        run = computed(alice)
        with pytest.raises(ValidationError, match="four eyes"):
            services.run_approve(actor=alice.user, run=run)
        services.run_approve(actor=books["checker"], run=run)
        other = computed(alice)
        with pytest.raises(ValidationError, match="approved and not yet posted"):
            services.run_approve(actor=books["checker"], run=other)
        with pytest.raises(ValidationError, match="only a preview is recomputed"):
            services.run_recompute(actor=alice.user, run=run)


def test_a_schedule_change_before_a_posted_period_is_refused(alice: Persona, books: dict[str, Any]) -> None:
    with alice.scope():
        standard = schedule(alice.user, is_default=True)
        deposit(new_account(), "100000")
        posted(computed(alice), alice, books["checker"])
        with pytest.raises(ValidationError, match="already posted"):
            services.version_add(actor=alice.user, schedule=standard, effective_from=date(2025, 3, 1),
                                 method="tiered", tiers=TIERED)  # fmt: skip
        version = services.version_add(actor=alice.user, schedule=standard, effective_from=date(2025, 4, 1),
                                       method="flat", flat_annual_fee=D("1000"))  # fmt: skip
        assert version.tiers == []


def test_an_overlapping_period_is_not_billed_twice(alice: Persona, books: dict[str, Any]) -> None:
    with alice.scope():
        schedule(alice.user, is_default=True)
        monthly = schedule(alice.user, "Monthly", frequency="monthly")
        account = new_account()
        deposit(account, "100000")
        posted(computed(alice), alice, books["checker"])
        services.assign(actor=alice.user, schedule=monthly, accounts=[account])
        run = services.run_create(actor=alice.user, period_start=date(2025, 3, 1), period_end=Q1[1])
        job_services.job_execute(job_id=run.job_id)
        assert line(run, account).status == LineStatus.OVERLAP
        quarterly_in_month = FeeRun.objects.get(pk=run.pk)
        assert quarterly_in_month.total_fee == D(0)


def test_bad_schedules_name_the_band(alice: Persona) -> None:
    with alice.scope():
        with pytest.raises(ValidationError) as error:
            services.schedule_create(actor=alice.user, name="Bad", effective_from=date(2025, 1, 1), method="tiered",
                                     tiers=[{"up_to": "500000", "annual_rate_pct": "1"},
                                            {"up_to": "400000", "annual_rate_pct": "0.8"},
                                            {"up_to": None, "annual_rate_pct": "0.5"}])  # fmt: skip
        assert "Band 2: Bands must rise" in str(error.value.message_dict["tiers"])
        assert not FeeSchedule.objects.exists()


def test_a_chosen_account_that_is_closed_is_named_by_the_audit(alice: Persona, books: dict[str, Any]) -> None:
    with alice.scope():
        schedule(alice.user, is_default=True)
        open_one, closed, later = new_account(), new_account(), new_account(inception_date=date(2025, 6, 1))
        for account in (open_one, closed, later):
            deposit(account, "100000", account.inception_date)
        ClientAccount.objects.filter(pk=closed.pk).update(status=AccountStatus.CLOSED)
        run = computed(alice, account_numbers=[open_one.number, closed.number, later.number])
        assert run.line_count == 1
        [finding] = [f for f in run.audit if f["code"] == "not_open"]
        assert finding["level"] == "warning" and sorted(finding["accounts"]) == sorted([closed.number, later.number])
