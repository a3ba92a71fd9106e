"""Fee billing's pages: schedules, assignments and a run from preview to posted, as a fee
administrator clicks through them (bad input changes nothing; other firms and rights are refused)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from accounts import services as account_services
from accounts.models import AccountScope, Role
from advisorportal.jobs import services as job_services
from billing.models import FeeAssignment, FeeRun, FeeSchedule, RunStatus
from portfolios import performance
from portfolios.models import AccountTransfer
from tests.conftest import Persona
from tests.factories import HouseholdFactory, UserFactory
from tests.factories_portfolios import ClientAccountFactory
from tests.test_billing_runs import Q1, deposit, new_account

pytestmark = pytest.mark.django_db
D = Decimal


def schedule_post(**changes: Any) -> dict[str, Any]:
    data = {"name": "Standard", "description": "", "effective_from": "2024-01-01", "method": "tiered",
            "band_1_up_to": "1,000,000", "band_1_rate": "1.00", "band_2_up_to": "", "band_2_rate": "0.50",
            "frequency": "quarterly", "timing": "arrears", "valuation": "period_end", "period_basis": "frequency",
            "proration": "actual/365", "is_default": "on"}  # fmt: skip
    data.update(changes)
    return data


def test_a_schedule_made_assigned_and_run_through_the_pages(alice: Persona) -> None:
    web = alice.client()
    with alice.scope():
        ClientAccountFactory(number="MASTER", is_master=True)
        household = HouseholdFactory(name="The Lees")
        first, second = new_account(household=household), new_account(household=household)
        deposit(first, "900000")
        deposit(second, "300000")
        checker = UserFactory(firm=alice.firm, email="checker@alpha.test", full_name="Chris Checker")
    response = web.post(reverse("billing:schedule-new"), schedule_post())
    assert response.status_code == 302, response.content.decode()[:3000]
    with alice.scope():
        schedule = FeeSchedule.objects.get()
        assert schedule.is_default and schedule.versions.get().tiers[0] == {
            "up_to": "1000000",
            "annual_rate_pct": "1.00",
        }
    page = web.get(reverse("billing:schedule", args=[schedule.pk])).content.decode()
    assert "Tiered" in page and "From 0.00 to under 1,000,000.00: 1 % a year" in page and "firm default" in page

    response = web.post(reverse("billing:schedule-assign", args=[schedule.pk]),
                        {"accounts": f"{first.number}", "target": "households", "householding": "on"})  # fmt: skip
    assert response.status_code == 302
    with alice.scope():
        assert FeeAssignment.objects.get().household == household
    assert "Billed together" in web.get(reverse("billing:schedule", args=[schedule.pk])).content.decode()

    with alice.scope():
        performance.recompute_full(end=Q1[1])
    response = web.post(reverse("billing:runs"), {"period_start": "2025-01-01", "period_end": "2025-03-31"})
    assert response.status_code == 302
    with alice.scope():
        run = FeeRun.objects.get()
        computing = web.get(reverse("billing:run", args=[run.pk])).content.decode()
        assert "run-progress-bar" in computing
        assert job_services.job_execute(job_id=run.job_id) == "done"
    page = web.get(reverse("billing:run", args=[run.pk])).content.decode()
    assert "2,062.50" in page and "687.50" in page and "combined value of 1,200,000.00" in page
    assert "four eyes" in page and f'action="/billing/runs/{run.pk}/approve/"' not in page

    checker_web = Persona(checker, alice.firm).client()
    assert checker_web.post(reverse("billing:run-approve", args=[run.pk])).status_code == 302
    assert checker_web.post(reverse("billing:run-post", args=[run.pk])).status_code == 302
    with alice.scope():
        run.refresh_from_db()
        assert run.status == RunStatus.POSTING
        assert job_services.job_execute(job_id=run.job_id) == "done"
        assert AccountTransfer.objects.count() == 2
    again = checker_web.post(reverse("billing:run-post", args=[run.pk]), follow=True).content.decode()
    assert "posts once" in again
    with alice.scope():
        assert AccountTransfer.objects.count() == 2


def test_bad_bands_and_unknown_accounts_change_nothing(alice: Persona) -> None:
    web = alice.client()
    response = web.post(reverse("billing:schedule-new"), schedule_post(band_2_up_to="500000"))
    assert response.status_code == 400
    assert "The last band must be open-ended" in response.content.decode()
    response = web.post(reverse("billing:schedule-new"), schedule_post(band_2_up_to="900,000", band_3_rate="0.2"))
    assert "Bands must rise" in response.content.decode()
    with alice.scope():
        assert not FeeSchedule.objects.exists()
    web.post(reverse("billing:schedule-new"), schedule_post())
    with alice.scope():
        schedule = FeeSchedule.objects.get()
    response = web.post(reverse("billing:schedule-assign", args=[schedule.pk]), {"accounts": "NOPE1 NOPE2",
                                                                                "target": "accounts"})  # fmt: skip
    assert response.status_code == 400 and "No such account: NOPE1, NOPE2" in response.content.decode()
    response = web.post(reverse("billing:runs"), {"period_start": "2025-03-31", "period_end": "2025-01-01"})
    assert response.status_code == 400 and "The period ends before it starts" in response.content.decode()
    with alice.scope():
        assert not FeeAssignment.objects.exists() and not FeeRun.objects.exists()


def test_other_firms_and_users_without_the_right(alice: Persona, bob: Persona, charlie: Persona) -> None:
    web = alice.client()
    web.post(reverse("billing:schedule-new"), schedule_post())
    with alice.scope():
        schedule = FeeSchedule.objects.get()
        run = FeeRun.objects.create(period_start=date(2025, 1, 1), period_end=date(2025, 3, 31), prepared_by=alice.user)
    for name, args in (("billing:schedule", [schedule.pk]), ("billing:run", [run.pk])):
        assert charlie.client().get(reverse(name, args=args)).status_code == 404
        assert bob.client().get(reverse(name, args=args)).status_code == 403
    assert charlie.client().post(reverse("billing:run-approve", args=[run.pk])).status_code == 404
    assert bob.client().get(reverse("billing:runs")).status_code == 403


def test_a_fee_administrator_of_a_selection_sees_only_runs_of_their_accounts(alice: Persona) -> None:
    """A run's totals and audit cover all its accounts: a user whose scope is a selection reads
    only the runs of chosen accounts all inside it, in the pages and the API."""
    with alice.scope():
        mine, other = new_account(), new_account()
        admin = UserFactory(firm=alice.firm, email="erin@alpha.test", role=Role.ADVISOR)
        account_services.account_scope_set(
            actor=alice.user, user=admin, scope=AccountScope.SELECTED, account_ids=frozenset({mine.pk})
        )
        whole = FeeRun.objects.create(period_start=Q1[0], period_end=Q1[1], prepared_by=alice.user)
        both = FeeRun.objects.create(period_start=Q1[0], period_end=Q1[1], prepared_by=alice.user,
                                     account_numbers=sorted([mine.number, other.number]))  # fmt: skip
        own = FeeRun.objects.create(period_start=Q1[0], period_end=Q1[1], prepared_by=alice.user,
                                    account_numbers=[mine.number])  # fmt: skip
    erin = Persona(admin, alice.firm)
    web = erin.client()
    for run in (whole, both):
        assert web.get(reverse("billing:run", args=[run.pk])).status_code == 404
        assert erin.api().get(f"/api/v1/billing/runs/{run.pk}/").status_code == 404
    assert web.get(reverse("billing:run", args=[own.pk])).status_code == 200
    listed = web.get(reverse("billing:runs")).content.decode()
    assert own.reference in listed and whole.reference not in listed and both.reference not in listed
    assert [r["id"] for r in erin.api().get("/api/v1/billing/runs/").json()["results"]] == [own.pk]
    # Alice, for every client, sees all three.
    assert len(alice.api().get("/api/v1/billing/runs/").json()["results"]) == 3


def test_the_schedules_list_shows_the_terms_in_effect_today_and_when_new_ones_start(alice: Persona) -> None:
    from django.utils import timezone

    from billing import services

    today = timezone.localdate()
    with alice.scope():
        terms = {"method": "tiered", "valuation": "period_end"}
        schedule = services.schedule_create(actor=alice.user, name="Standard", effective_from=date(2024, 1, 1),
                                            tiers=[{"up_to": None, "annual_rate_pct": "1.00"}], **terms)  # fmt: skip
        later = date(today.year + 1, 1, 1)
        services.version_add(actor=alice.user, schedule=schedule, effective_from=later,
                             tiers=[{"up_to": None, "annual_rate_pct": "1.40"}], **terms)  # fmt: skip
        upcoming = services.schedule_create(actor=alice.user, name="Next year", effective_from=later,
                                            tiers=[{"up_to": None, "annual_rate_pct": "0.90"}], **terms)  # fmt: skip
    page = alice.client().get(reverse("billing:schedules")).content.decode()
    cells = [row.split("</tr>")[0] for row in page.split("<tr>") if "data-label=" in row]
    rows = {row.split("</a>")[0].rsplit(">", 1)[1]: row for row in cells}
    standard, next_year = rows["Standard"], rows[upcoming.name]
    assert "1 %" in standard and "1.4 %" not in standard and "(from Jan 1, 2024)" in standard
    assert f"New terms from Jan 1, {later.year}" in standard
    assert "0.9 %" in next_year and "New terms" not in next_year
