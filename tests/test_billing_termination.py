"""Termination (the SEC's 2021 risk alert: "prepaid fees not refunded on termination"): closing an
account bills it only to its last day open and refunds what it prepaid for the days after, through
a run approved and posted like any other — once, with its explanation, on the household's bands.
Also the closing itself: its refusals, the page and the API."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts import services as account_services
from accounts.models import AccountScope, AuditEntry
from accounts.rights import Right, Role
from advisorportal.jobs import services as job_services
from billing import services
from billing.models import FeeLine, FeeRun, FeeSchedule, RunStatus
from portfolios import performance, selectors
from portfolios import services as ledger
from portfolios.models import AccountStatus, AccountTransfer, ClientAccount
from tests.conftest import Persona
from tests.factories import HouseholdFactory, UserFactory
from tests.factories_portfolios import ClientAccountFactory
from tests.test_api_schema_conformance import _check
from tests.test_billing_runs import Q1, books, computed, deposit, fees_of, line, posted, schedule

pytestmark = pytest.mark.django_db
__all__ = ["books"]  # the fixture, used by name
D = Decimal
OPENED = date(2024, 10, 1)
CLOSED = date(2025, 2, 14)  # day 45 of Q1 2025's 90


def advance(alice: Persona, **terms: Any) -> FeeSchedule:
    return schedule(alice.user, "Advance", timing="advance", is_default=True, **terms)


def client_account(**kwargs: Any) -> ClientAccount:
    kwargs.setdefault("inception_date", OPENED)
    return ClientAccountFactory(**kwargs)


def refund_run(closing: ledger.Closing) -> FeeRun:
    """The one refund run the closing prepared, computed by its job."""
    assert len(closing.notes) == 1, closing.notes
    run = FeeRun.objects.get(account_numbers=[closing.account.number])
    assert run.note.startswith(f"Refund on closing: {closing.account.number} closed on")
    assert job_services.job_execute(job_id=run.job_id) == "done"
    run.refresh_from_db()
    return run


def test_a_fee_prepaid_for_the_quarter_is_refunded_for_the_days_after_closing(
    alice: Persona, books: dict[str, Any]
) -> None:
    """In advance on 1,200,000 (the value on Dec 31): 11,000 a year, 2,750 for Q1, posted. Closed
    on Feb 14, its 45th day: the fee for Jan 1 to Feb 14 is 11,000 × 45 / 365 = 1,356.16, so
    2,750 - 1,356.16 = 1,393.84 goes back, from the master account, once."""
    with alice.scope():
        advance(alice, valuation="period_end")
        account = client_account()
        deposit(account, "1200000", OPENED)
        first = posted(computed(alice), alice, books["checker"])
        assert line(first, account).posted_amount == D("2750.00")

        closing = ledger.account_close(actor=alice.user, account=account, closed_on=CLOSED)
        assert (closing.account.status, closing.account.closed_on) == (AccountStatus.CLOSED, CLOSED)
        assert "FEE-" in closing.notes[0] and "approve and post it" in closing.notes[0]
        run = refund_run(closing)
        refund = line(run, account)
        assert (refund.billable_from, refund.billable_to) == (Q1[0], CLOSED)
        assert (refund.period_fee, refund.previously_billed, refund.to_post) == (
            D("1356.16"), D("2750.00"), D("-1393.84")
        )  # fmt: skip
        assert "Closed on Feb 14, 2025: billed to that day." in refund.explanation
        assert "45 of the period's 90 days" in refund.explanation
        assert not AccountTransfer.objects.filter(credit_account=account).exists()  # a preview moves nothing

        run = posted(run, alice, books["checker"])
        assert run.status == RunStatus.POSTED and line(run, account).posted_amount == D("-1393.84")
        assert fees_of(account) == D("-1356.16") and fees_of(books["master"]) == D("1356.16")
        assert selectors.cash_balances(account=account) == {"USD": D("1198643.8400")}

        # Asked again (another run of the quarter for it): nothing more to refund.
        again = computed(alice, account_numbers=[account.number])
        assert (line(again, account).to_post, again.total_to_post) == (D("0.00"), D("0.00"))


def test_an_account_closed_before_a_prepaid_period_gets_it_all_back(alice: Persona, books: dict[str, Any]) -> None:
    with alice.scope():
        advance(alice, valuation="period_end")
        account, other = client_account(), client_account()
        for one in (account, other):
            deposit(one, "1200000", OPENED)
        posted(computed(alice), alice, books["checker"])

        run = refund_run(ledger.account_close(actor=alice.user, account=account, closed_on=Q1[0] - timedelta(days=1)))
        assert run.line_count == 1  # the other account is not in it
        refund = line(run, account)
        assert (refund.period_fee, refund.to_post, refund.billable_to) == (D("0.00"), D("-2750.00"), None)
        assert "before the period: no fee for it" in refund.explanation
        posted(run, alice, books["checker"])
        assert fees_of(account) == D("0.00") and fees_of(other) == D("-2750.00")

        # A later run of every account bills neither the closed account nor refunds it twice.
        later = computed(alice)
        assert line(later, account).to_post == D("0.00") and line(later, other).to_post == D("0.00")


def test_in_arrears_an_account_closed_mid_quarter_is_billed_to_its_last_day_on_its_value_then(
    alice: Persona, books: dict[str, Any]
) -> None:
    """Valued at its last day open (Feb 14), not at the quarter's end, and billed 45 days; the fee
    is taken from the closed account (its last one). Closing needs no refund: nothing was billed."""
    with alice.scope():
        schedule(alice.user, is_default=True, valuation="period_end")
        account = client_account()
        deposit(account, "1200000", OPENED)
        deposit(account, "300000", date(2025, 3, 3))  # after it closed: not in its value
        closing = ledger.account_close(actor=alice.user, account=account, closed_on=CLOSED)
        assert closing.notes == [] and not FeeRun.objects.exists()
        run = posted(computed(alice), alice, books["checker"])
        fee = line(run, account)
        assert (fee.value, fee.billable_to, fee.period_fee) == (D("1200000.00"), CLOSED, D("1356.16"))
        assert fee.posted_amount == D("1356.16") and fees_of(account) == D("-1356.16")


def test_a_household_member_is_refunded_on_the_households_bands(alice: Persona, books: dict[str, Any]) -> None:
    """900,000 + 300,000 billed together: 11,000 a year, the smaller account's share 2,750 a year,
    687.50 for Q1. Closed on Feb 14: 2,750 × 45 / 365 = 339.04 billed, 348.46 refunded. (Alone,
    its bands would give 3,000 a year and a refund of 317.64.)"""
    with alice.scope():
        family = schedule(alice.user, "Family", timing="advance", valuation="period_end")
        household = HouseholdFactory()
        big, small = client_account(household=household), client_account(household=household)
        deposit(big, "900000", OPENED)
        deposit(small, "300000", OPENED)
        services.assign(actor=alice.user, schedule=family, households=[household], householding=True)
        posted(computed(alice), alice, books["checker"])

        run = refund_run(ledger.account_close(actor=alice.user, account=small, closed_on=CLOSED))
        assert run.line_count == 1 and not FeeLine.objects.filter(run=run, account=big).exists()
        refund = line(run, small)
        assert (refund.period_fee, refund.to_post) == (D("339.04"), D("-348.46"))
        assert "combined value of 1,200,000.00" in refund.explanation
        posted(run, alice, books["checker"])
        assert fees_of(small) == D("-339.04") and fees_of(big) == D("-2062.50")


def test_closing_is_refused_with_a_reason_and_changes_nothing(alice: Persona, books: dict[str, Any]) -> None:
    today = timezone.localdate()
    with alice.scope():
        account = client_account()
        deposit(account, "1000", OPENED)
        cases = [
            (books["master"], today, "master account cannot be closed"),
            (account, today + timedelta(days=1), "in the future"),
            (account, OPENED - timedelta(days=1), "cannot close before"),
            (account, None, "Enter the last day"),
        ]
        for target, day, message in cases:
            with pytest.raises(ValidationError, match=message):
                ledger.account_close(actor=alice.user, account=target, closed_on=day)
        ledger.hold_place(actor=alice.user, account=account, currency="USD", amount="10", reason="Withdrawal",
                          reference="W-1")  # fmt: skip
        with pytest.raises(ValidationError, match="held on the account"):
            ledger.account_close(actor=alice.user, account=account, closed_on=today)
        account.refresh_from_db()
        assert (account.status, account.closed_on) == (AccountStatus.OPEN, None)

        for hold in selectors.hold_list(account=account):
            ledger.hold_release(actor=alice.user, hold=hold, reason="Cancelled")
        ledger.account_close(actor=alice.user, account=account, closed_on=today)
        with pytest.raises(ValidationError, match="closed already on"):
            ledger.account_close(actor=alice.user, account=account, closed_on=today)
        entry = AuditEntry.objects.filter(object_type="portfolios.clientaccount", object_id=str(account.pk),
                                          changes__has_key="closed_on").get()  # fmt: skip
        assert entry.changes["status"] == ["open", "closed"]  # (its actor comes from the request: see the page test)
        # Closed: no more money moves through it but its fees.
        with pytest.raises(ValidationError, match="is closed"):
            ledger.internal_transfer(actor=alice.user, from_account=account, to_account=client_account(), amount="1",
                                     currency="USD", trade_date=today, idempotency_key="x-1")  # fmt: skip


def clerk(alice: Persona) -> Persona:
    """A user of the firm who reads accounts but has no Onboarding right."""
    with alice.scope():
        user = UserFactory(firm=alice.firm, email="eve@alpha.test", full_name="Eve", role=Role.STAFF,
                           rights=frozenset({Right.CRM, Right.ACCOUNT_INFORMATION}))  # fmt: skip
    return Persona(user, alice.firm)


def test_the_page_closes_an_account_after_a_confirmation_and_says_what_follows(
    alice: Persona, books: dict[str, Any]
) -> None:
    with alice.scope():
        advance(alice, valuation="period_end")
        account = client_account()
        deposit(account, "1200000", OPENED)
        posted(computed(alice), alice, books["checker"])
    page_url = f"/accounts/{account.pk}/"
    client = alice.client()
    page = client.get(page_url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="close-heading"' in html and "data-confirm=" in html and 'name="closed_on"' in html

    refused = client.post(f"/accounts/{account.pk}/close/", {"closed_on": "2999-01-01"}, follow=True)
    assert "The account was not closed: Last day open: The closing day is in the future" in refused.content.decode()
    closed = client.post(f"/accounts/{account.pk}/close/", {"closed_on": CLOSED.isoformat()}, follow=True)
    text = closed.content.decode()
    assert f"Closed {account.number} on Feb 14, 2025." in text and "Fee refund run FEE-" in text
    assert "Closed</dt><dd>Feb 14, 2025" in text and 'id="close-heading"' not in text

    # Without the Onboarding right: no form, and the action is refused.
    with alice.scope():
        other = client_account()
        entry = AuditEntry.objects.get(object_type="portfolios.clientaccount", object_id=str(account.pk),
                                       changes__has_key="closed_on")  # fmt: skip
        assert entry.actor_id == alice.user.pk
    eve = clerk(alice).client()
    assert 'id="close-heading"' not in eve.get(f"/accounts/{other.pk}/").content.decode()
    assert eve.post(f"/accounts/{other.pk}/close/", {"closed_on": CLOSED.isoformat()}).status_code == 403


def test_a_user_scoped_to_other_accounts_cannot_close_this_one(alice: Persona) -> None:
    """Onboarding right, but a scope of one other account: this one is a 404 on the page and the
    API, and the page it can read offers no closing."""
    with alice.scope():
        mine, other = client_account(), client_account()
        user = UserFactory(firm=alice.firm, email="olly@alpha.test", full_name="Olly", role=Role.STAFF,
                           rights=frozenset({Right.ACCOUNT_INFORMATION, Right.ONBOARDING}))  # fmt: skip
        account_services.account_scope_set(actor=alice.user, user=user, scope=AccountScope.SELECTED,
                                           account_ids=frozenset({mine.pk}))  # fmt: skip
    olly = Persona(user, alice.firm)
    assert olly.client().post(f"/accounts/{other.pk}/close/", {"closed_on": CLOSED.isoformat()}).status_code == 404
    api = olly.api().post(f"/api/v1/accounts/{other.pk}/close/", {"closed_on": "2025-02-14"}, format="json")
    assert api.status_code == 404
    assert 'id="close-heading"' in olly.client().get(f"/accounts/{mine.pk}/").content.decode()
    with alice.scope():
        other.refresh_from_db()
        assert (other.status, other.closed_on) == (AccountStatus.OPEN, None)


def test_the_api_closes_an_account_and_names_bad_input(alice: Persona, charlie: Persona) -> None:
    with alice.scope():
        ClientAccountFactory(number="MASTER", is_master=True)
        account = client_account()
        performance.recompute_full(end=Q1[1])
    api, url = alice.api(), f"/api/v1/accounts/{account.pk}/close/"
    bad = api.post(url, {"closed_on": "not a day"}, format="json")
    assert bad.status_code == 400 and "closed_on" in str(bad.json())
    future = api.post(url, {"closed_on": "2999-01-01"}, format="json")
    assert future.status_code == 400 and "future" in str(future.json())
    assert charlie.api().post(url, {"closed_on": "2025-02-14"}, format="json").status_code == 404
    assert clerk(alice).api().post(url, {"closed_on": "2025-02-14"}, format="json").status_code == 403

    done = api.post(url, {"closed_on": "2025-02-14"}, format="json")
    assert done.status_code == 200, done.content
    _check(alice, done, "/api/v1/accounts/{id}/close/", "post")
    assert done.json()["account"]["status"] == "closed" and done.json()["account"]["closed_on"] == "2025-02-14"
    assert done.json()["notes"] == []
    assert api.get(f"/api/v1/accounts/{account.pk}/").json()["account"]["closed_on"] == "2025-02-14"
    again = api.post(url, {"closed_on": "2025-02-14"}, format="json")
    assert again.status_code == 400 and "closed already" in str(again.json())


def test_a_second_fee_administrator_sees_the_refund_run_and_four_eyes_apply(
    alice: Persona, books: dict[str, Any]
) -> None:
    with alice.scope():
        services.settings_update(actor=alice.user, four_eyes=True, change_alert_pct=D("25"))
        advance(alice, valuation="period_end")
        account = client_account()
        deposit(account, "1200000", OPENED)
        posted(computed(alice), alice, books["checker"])
        run = refund_run(ledger.account_close(actor=alice.user, account=account, closed_on=CLOSED))
        assert run.prepared_by == alice.user
        with pytest.raises(ValidationError):
            services.run_approve(actor=alice.user, run=run)  # the one who closed it prepared it
        services.run_approve(actor=books["checker"], run=run)
        assert FeeRun.objects.get(pk=run.pk).status == RunStatus.APPROVED
