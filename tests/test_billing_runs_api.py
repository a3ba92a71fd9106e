"""Fee billing through the API: a schedule, its assignment to a household, a run previewed,
approved by a second person, posted once; bad input, refusals (audited) and other firms."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from accounts.models import AuditEntry
from advisorportal.jobs import services as job_services
from billing.models import FeeRun
from portfolios import performance
from portfolios.models import AccountTransfer
from tests.conftest import Persona
from tests.factories import HouseholdFactory, UserFactory
from tests.factories_portfolios import ClientAccountFactory
from tests.test_api_schema_conformance import _check
from tests.test_billing_runs import Q1, deposit, new_account

pytestmark = pytest.mark.django_db
SCHEDULE = {
    "name": "Family office", "effective_from": "2024-01-01", "method": "tiered",
    "tiers": [{"up_to": "1000000.00", "annual_rate_pct": "1.00"}, {"up_to": None, "annual_rate_pct": "0.50"}],
    "frequency": "quarterly", "timing": "arrears", "valuation": "period_end",
}  # fmt: skip


def post(client: Any, url: str, body: dict[str, Any] | None = None, key: str | None = "new") -> Any:
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": uuid.uuid4().hex if key == "new" else key}
    return client.post(url, body or {}, format="json", **headers)


def test_schedule_assignment_and_a_run_posted_once(alice: Persona, charlie: Persona) -> None:
    api = alice.api()
    with alice.scope():
        ClientAccountFactory(number="MASTER", is_master=True)
        household = HouseholdFactory(name="The Lees")
        big, small = new_account(household=household), new_account(household=household)
        deposit(big, "900000")
        deposit(small, "300000")
        checker = Persona(UserFactory(firm=alice.firm, email="checker@alpha.test", full_name="Chris Checker"),
                          alice.firm)  # fmt: skip
        performance.recompute_full(end=Q1[1])

    created = post(api, "/api/v1/billing/schedules/", SCHEDULE)
    assert created.status_code == 201, created.content
    _check(alice, created, "/api/v1/billing/schedules/", "post")
    schedule = created.json()
    assert schedule["versions"][0]["method"] == "tiered" and schedule["versions"][0]["tiers"][1]["up_to"] is None

    assigned = post(api, "/api/v1/billing/assignments/", {"schedule": schedule["id"], "households": [household.pk],
                                                          "householding": True, "payer": big.number})  # fmt: skip
    assert assigned.status_code == 201, assigned.content
    assert assigned.json()[0]["household"] == household.pk

    started = post(api, "/api/v1/billing/runs/", {"period_start": "2025-01-01", "period_end": "2025-03-31"})
    assert started.status_code == 202, started.content
    run = started.json()
    assert run["status"] == "preview" and run["job_status"] == "queued"
    with alice.scope():
        assert job_services.job_execute(job_id=FeeRun.objects.get(pk=run["id"]).job_id) == "done"
    detail = api.get(f"/api/v1/billing/runs/{run['id']}/").json()
    assert (detail["total_fee"], detail["line_count"], detail["job_status"]) == ("2750.00", 2, "done")
    lines = api.get(f"/api/v1/billing/runs/{run['id']}/lines/")
    assert lines.status_code == 200
    _check(alice, lines, "/api/v1/billing/runs/{id}/lines/", "get")
    by_account = {row["account"]: row for row in lines.json()["results"]}
    assert by_account[big.number]["period_fee"] == "2062.50" and by_account[small.number]["payer"] == big.number
    assert "combined value of 1,200,000.00" in by_account[small.number]["explanation"]

    refused = post(api, f"/api/v1/billing/runs/{run['id']}/approve/")
    assert refused.status_code == 400 and "four eyes" in refused.json()["error"]["fields"]["run"][0]
    with alice.scope():
        assert AuditEntry.objects.filter(object_type="billing.feerun", object_id=str(run["id"]),
                                         changes__has_key="refused").exists()  # fmt: skip
    approved = post(checker.api(), f"/api/v1/billing/runs/{run['id']}/approve/")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    posting = post(checker.api(), f"/api/v1/billing/runs/{run['id']}/post/")
    assert posting.status_code == 202 and posting.json()["status"] == "posting"
    with alice.scope():
        assert job_services.job_execute(job_id=FeeRun.objects.get(pk=run["id"]).job_id) == "done"
        assert AccountTransfer.objects.filter(debit_account=big).count() == 2  # it pays for both
        assert not AccountTransfer.objects.filter(debit_account=small).exists()
    again = post(checker.api(), f"/api/v1/billing/runs/{run['id']}/post/")
    assert again.status_code == 400 and "posts once" in again.json()["error"]["fields"]["run"][0]

    outsider = charlie.api()
    for url in (f"/api/v1/billing/runs/{run['id']}/", f"/api/v1/billing/runs/{run['id']}/lines/",
                f"/api/v1/billing/schedules/{schedule['id']}/"):  # fmt: skip
        assert outsider.get(url).status_code == 404
    assert post(outsider, f"/api/v1/billing/runs/{run['id']}/approve/").status_code == 404
    assert post(outsider, "/api/v1/billing/assignments/", {"schedule": None, "households": [household.pk],
                                                          "excluded": True}).status_code == 404  # fmt: skip


def test_bad_input_names_the_field_and_saves_nothing(alice: Persona) -> None:
    api = alice.api()
    bad = post(api, "/api/v1/billing/schedules/", {**SCHEDULE, "tiers": [
        {"up_to": "500000", "annual_rate_pct": "1"}, {"up_to": "400000", "annual_rate_pct": "0.8"},
        {"up_to": None, "annual_rate_pct": "0.5"}]})  # fmt: skip
    assert bad.status_code == 400 and "Band 2: Bands must rise" in bad.json()["error"]["fields"]["tiers"][0]
    assert post(api, "/api/v1/billing/schedules/", {**SCHEDULE, "method": "ladder"}).status_code == 400
    assert post(api, "/api/v1/billing/schedules/", {**SCHEDULE, "colour": "red"}).status_code == 400
    assert post(api, "/api/v1/billing/schedules/", SCHEDULE, key=None).status_code == 400
    assert api.get("/api/v1/billing/schedules/").json()["results"] == []
    unknown = post(api, "/api/v1/billing/assignments/", {"schedule": None, "accounts": ["NOPE"], "excluded": True})
    assert unknown.status_code == 400 and "NOPE" in unknown.json()["error"]["fields"]["accounts"][0]
    backwards = post(api, "/api/v1/billing/runs/", {"period_start": "2025-03-31", "period_end": "2025-01-01"})
    assert backwards.status_code == 400 and "period_end" in backwards.json()["error"]["fields"]
    with alice.scope():
        assert not FeeRun.objects.exists()


def test_without_the_right(bob: Persona) -> None:
    assert bob.api().get("/api/v1/billing/runs/").status_code == 403
