"""Exclusions from the billed value and the proration of large flows, on real daily values: a
security, an asset class, part of a position and cash left out (valued on the valued days, by the
valuation method), flows above a threshold prorated by their days, bad input refused, bulk reads
(queries do not grow with the accounts), and the pages and API that set them."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEntry
from billing import exclusion_services, exclusions, runs, services
from billing.models import FeeAssignment, FeeRun, FeeSchedule, FeeScheduleVersion
from portfolios import performance
from portfolios import services as ledger
from portfolios.models import ClientAccount, Security
from tests.conftest import Persona
from tests.factories_portfolios import ClientAccountFactory, SecurityFactory, SecurityPriceFactory
from tests.test_billing_runs import Q1, books, computed, deposit, line, new_account, posted, schedule
from tests.test_billing_runs_api import post as api_post

pytestmark = pytest.mark.django_db
D = Decimal
__all__ = ["books"]


def security(symbol: str, asset_class: str = "equity", closes: dict[date, str] | None = None) -> Security:
    made = SecurityFactory(symbol=symbol, asset_class=asset_class)
    for day, close in (closes or {Q1[0] - timedelta(days=5): "100"}).items():
        SecurityPriceFactory(security=made, date=day, close=D(close))
    return made


def buy(
    account: ClientAccount, held: Security, quantity: str, day: date = date(2025, 1, 2), price: str = "100"
) -> None:
    ledger.transaction_record(actor=None, account=account, kind="buy", trade_date=day, security=held,
                              quantity=D(quantity), price=D(price))  # fmt: skip


def test_a_security_excluded_on_the_version_is_left_out_of_the_period_end_value(alice: Persona) -> None:
    """900,000 cash and 1,000 AAPL closing at 120 on March 31: 1,020,000, of which AAPL 120,000 is
    excluded; 900,000 at 1 % a year is 2,250 a quarter."""
    with alice.scope():
        aapl = security("AAPL", closes={date(2024, 12, 27): "100", date(2025, 3, 31): "120"})
        billing = schedule(alice.user, is_default=True)
        exclusion_services.version_extras_set(actor=alice.user, version=billing.versions.get(),
                                              exclusions={"symbols": ["AAPL"]})  # fmt: skip
        account = new_account()
        deposit(account, "1000000")
        buy(account, aapl, "1000")
        other = new_account()
        deposit(other, "500000")
        run = computed(alice)
        fee = line(run, account)
        assert fee.value == D("900000.00") and fee.period_fee == D("2250.00")
        assert fee.details["exclusions"]["items"] == [{"what": "AAPL", "value": "120000.00"}]
        assert fee.details["exclusions"]["value_before"] == "1020000.00"
        assert "Excluded from the value (AAPL): AAPL 120,000.00, in all 120,000.00 USD" in fee.explanation
        assert "billed value 900,000.00 USD" in fee.explanation
        quiet = line(run, other)
        assert quiet.value == D("500000.00") and "the account held none of it" in quiet.explanation


def test_asset_class_part_of_a_position_and_cash_excluded_on_an_assignment(alice: Persona) -> None:
    """BND (fixed income) 30,000, half of MSFT's 40,000 and the cash 30,000 left out of 100,000:
    20,000 billed."""
    with alice.scope():
        bnd, msft = security("BND", "fixed_income"), security("MSFT")
        billing = schedule(alice.user)
        account = new_account()
        deposit(account, "100000")
        buy(account, bnd, "300")
        buy(account, msft, "400")
        exclusion_services.assign(actor=alice.user, schedule=billing, accounts=[account],
                                  exclusions={"asset_classes": ["fixed_income"], "cash": True,
                                              "positions": [{"symbol": "MSFT", "pct": "50"}]})  # fmt: skip
        fee = line(computed(alice), account)
        assert fee.value == D("20000.00")
        items = {i["what"]: i["value"] for i in fee.details["exclusions"]["items"]}
        assert items == {"fixed income: BND": "30000.00", "50 % of MSFT": "20000.00", "cash": "30000.00"}
        assert "fixed income, 50 % of MSFT, cash" in fee.explanation


def test_a_holding_bought_mid_quarter_is_excluded_by_its_days_in_the_average_daily_balance(alice: Persona) -> None:
    with alice.scope():
        vti = security("VTI")
        billing = schedule(alice.user, is_default=True, valuation="average_daily")
        exclusion_services.version_extras_set(actor=alice.user, version=billing.versions.get(),
                                              exclusions={"symbols": ["VTI"]})  # fmt: skip
        account = new_account()
        deposit(account, "200000")
        buy(account, vti, "1000", day=date(2025, 2, 15))  # a Saturday: held from Monday the 17th
        run = computed(alice)
        fee = line(run, account)
        days = np.arange(np.datetime64("2025-01-01"), np.datetime64("2025-04-01"))
        business = days[np.is_busday(days)]
        held = (business >= np.datetime64("2025-02-17")).sum()
        expected = D(repr(float(100_000.0 * held / len(business)))).quantize(D("0.01"))
        assert D(fee.details["exclusions"]["total"]) == expected
        assert fee.value == D("200000.00") - expected


def test_exclusions_are_read_in_bulk_whatever_the_number_of_accounts(alice: Persona) -> None:
    with alice.scope():
        aapl = security("AAPL")
        billing = schedule(alice.user, is_default=True)
        exclusion_services.version_extras_set(actor=alice.user, version=billing.versions.get(),
                                              exclusions={"symbols": ["AAPL"], "cash": True})  # fmt: skip
        for _ in range(2):
            account = new_account()
            deposit(account, "10000")
            buy(account, aapl, "10")
        performance.recompute_full(end=Q1[1])
        run = FeeRun.objects.create(period_start=Q1[0], period_end=Q1[1])

        def queries() -> int:
            with CaptureQueriesContext(connection) as captured:
                runs.plan(run)
            return len(captured)

        few = queries()
        for _ in range(4):
            account = new_account()
            deposit(account, "10000")
            buy(account, aapl, "10")
        performance.recompute_full(end=Q1[1])
        assert queries() == few


# --- Large flows --------------------------------------------------------------------------------


def test_a_large_deposit_and_withdrawal_are_prorated_by_their_days(alice: Persona) -> None:
    """1,000,000 from January 1; 500,000 in on February 14 (out 44 of 90 days) and 200,000 out on
    March 3 (still in 61 of 90 days): 1,350,000 at the end, less 244,444.44, plus 135,555.56."""
    with alice.scope():
        schedule(alice.user, is_default=True)
        version = FeeScheduleVersion.objects.get()
        exclusion_services.version_extras_set(actor=alice.user, version=version, flow_threshold_amount="100000")
        account = new_account()
        deposit(account, "1000000")
        deposit(account, "500000", date(2025, 2, 14))
        deposit(account, "50000", date(2025, 2, 20))  # below the threshold: not prorated
        ledger.transaction_record(actor=None, account=account, kind="withdrawal", trade_date=date(2025, 3, 3),
                                  amount=D("200000"))  # fmt: skip
        fee = line(computed(alice), account)
        flows = fee.details["flows"]
        assert [(f["date"], f["change"]) for f in flows["prorated"]] == [
            ("2025-02-14", "-244444.44"), ("2025-03-03", "135555.56")]  # fmt: skip
        assert fee.value == D("1350000.00") - D("244444.44") + D("135555.56")
        assert "Large deposit of 500,000.00 on" in fee.explanation and "in the account 46 of 90 days" in fee.explanation
        assert (
            "Large withdrawal of 200,000.00" in fee.explanation and "still in the account 61 of 90" in fee.explanation
        )


def test_a_threshold_as_a_share_of_the_value_and_methods_that_already_count_days(alice: Persona) -> None:
    with alice.scope():
        pct = schedule(alice.user, "By share")
        exclusion_services.version_extras_set(actor=alice.user, version=pct.versions.get(), flow_threshold_pct="10")
        average = schedule(alice.user, "Average", valuation="average_daily")
        exclusion_services.version_extras_set(actor=alice.user, version=average.versions.get(),
                                              flow_threshold_amount="1")  # fmt: skip
        a, b = new_account(), new_account()
        for account, billing in ((a, pct), (b, average)):
            deposit(account, "100000")
            deposit(account, "50000", date(2025, 3, 3))
            services.assign(actor=alice.user, schedule=billing, accounts=[account])
        run = computed(alice)
        first = line(run, a)
        assert first.details["flows"]["threshold"] == "15000.00"  # 10 % of 150,000
        assert first.value == D("116111.11")
        assert first.details["flows"]["prorated"][0]["change"] == "-33888.89"
        second = line(run, b)
        assert "already counts each flow by its time" in second.explanation and "flows" not in second.details


# --- Bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"symbols": ["NOPE"]}, "No such security: NOPE"),
        ({"asset_classes": ["crypto"]}, "Unknown asset class: crypto"),
        ({"positions": [{"symbol": "AAPL", "pct": "0"}]}, "above 0 and at most 100"),
        ({"positions": [{"symbol": "AAPL", "pct": "150"}]}, "above 0 and at most 100"),
        ({"positions": [{"symbol": "AAPL"}]}, "give a symbol and the percentage"),
        ({"cash": "yes"}, "cash is true or false"),
        ({"sectors": ["tech"]}, "Unknown exclusions: sectors"),
    ],
)
def test_bad_exclusions_name_what_is_wrong_and_save_nothing(alice: Persona, raw: dict[str, Any], message: str) -> None:
    with alice.scope():
        security("AAPL")
        billing = schedule(alice.user)
        with pytest.raises(ValidationError) as refused:
            exclusion_services.version_add(actor=alice.user, schedule=billing, effective_from=date(2025, 1, 1),
                                           method="flat", flat_annual_fee=D(1000), exclusions=raw)  # fmt: skip
        assert message in " ".join(refused.value.message_dict["exclusions"])
        assert billing.versions.count() == 1


def test_both_thresholds_are_refused_and_a_posted_version_keeps_its_exclusions(
    alice: Persona, books: dict[str, Any]
) -> None:
    with alice.scope():
        billing = schedule(alice.user, is_default=True)
        version = billing.versions.get()
        with pytest.raises(ValidationError, match="not both"):
            exclusion_services.version_extras_set(actor=alice.user, version=version, flow_threshold_amount="1",
                                                  flow_threshold_pct="1")  # fmt: skip
        account = new_account()
        deposit(account, "100000")
        posted(computed(alice), alice, books["checker"])
        with pytest.raises(ValidationError, match="add a new version"):
            exclusion_services.version_extras_set(actor=alice.user, version=version, exclusions={"cash": True})
        version.refresh_from_db()
        assert version.exclusions == {}
        assert AuditEntry.objects.filter(object_type="billing.feeschedule", object_id=str(billing.pk),
                                         changes__has_key="refused").exists()  # fmt: skip


def test_the_clean_shape_merges_and_reads_back(alice: Persona) -> None:
    with alice.scope():
        security("AAPL")
        security("MSFT")
        cleaned = exclusions.clean({"symbols": " AAPL, AAPL ", "positions": [{"symbol": "MSFT", "pct": "25.50%"}]})
        assert cleaned == {"symbols": ["AAPL"], "positions": [{"symbol": "MSFT", "pct": "25.5"}]}
        assert exclusions.merged(cleaned, {"positions": [{"symbol": "MSFT", "pct": "40"}], "cash": True}) == {
            "symbols": ["AAPL"], "cash": True, "positions": [{"symbol": "MSFT", "pct": "40"}]}  # fmt: skip
        assert exclusions.clean({}) == {} and exclusions.describe({}) == ""


# --- Pages and API -------------------------------------------------------------------------------


def test_the_schedule_pages_save_exclusions_and_the_flow_threshold(alice: Persona) -> None:
    from tests.test_billing_pages import schedule_post

    web = alice.client()
    with alice.scope():
        security("AAPL")
        security("MSFT")
        account = new_account()
    made = web.post(reverse("billing:schedule-create"), schedule_post(
        exclude_symbols="AAPL", exclude_asset_classes=["fixed_income"], exclude_cash="on",
        exclude_positions="MSFT 50", flow_threshold_amount="250,000"))  # fmt: skip
    assert made.status_code == 302, made.content.decode()[:3000]
    with alice.scope():
        billing = FeeSchedule.objects.get()
        version = billing.versions.get()
        assert version.exclusions == {"symbols": ["AAPL"], "asset_classes": ["fixed_income"], "cash": True,
                                      "positions": [{"symbol": "MSFT", "pct": "50"}]}  # fmt: skip
        assert version.flow_threshold_amount == D("250000.00")
    page = web.get(reverse("billing:schedule", args=[billing.pk])).content.decode()
    assert "AAPL, fixed income, 50 % of MSFT, cash" in page and "Flows above 250,000.00" in page
    assert 'value="AAPL"' in page  # the new-terms form starts from the latest version's

    bad = web.post(reverse("billing:schedule-terms", args=[billing.pk]), schedule_post(
        effective_from="2025-07-01", exclude_symbols="NOPE"))  # fmt: skip
    assert bad.status_code == 400 and "No such security: NOPE" in bad.content.decode()
    newer = web.post(reverse("billing:schedule-terms", args=[billing.pk]), schedule_post(
        effective_from="2025-07-01", flow_threshold_pct="5"))  # fmt: skip
    assert newer.status_code == 302
    with alice.scope():
        latest = billing.versions.order_by("-effective_from").first()
        assert latest is not None and latest.exclusions == {} and latest.flow_threshold_pct == D("5")

    assigned = web.post(reverse("billing:schedule-assigning", args=[billing.pk]), {
        "accounts": account.number, "target": "accounts", "exclude_positions": "MSFT 25"})  # fmt: skip
    assert assigned.status_code == 302
    with alice.scope():
        assert FeeAssignment.objects.get(account=account).exclusions == {"positions": [{"symbol": "MSFT",
                                                                                        "pct": "25"}]}  # fmt: skip
    assert "excludes 25 % of MSFT" in web.get(reverse("billing:schedule", args=[billing.pk])).content.decode()


def test_the_exclusions_api(alice: Persona, bob: Persona, charlie: Persona) -> None:
    from tests.test_api_schema_conformance import _check

    api = alice.api()
    with alice.scope():
        security("AAPL")
        billing = schedule(alice.user)
        version = billing.versions.get()
        account = ClientAccountFactory(inception_date=Q1[0])
        services.assign(actor=alice.user, schedule=billing, accounts=[account])
        assignment = FeeAssignment.objects.get()
    url = f"/api/v1/billing/versions/{version.pk}/exclusions/"
    body = {"exclusions": {"symbols": ["AAPL"], "cash": True, "positions": []}, "flow_threshold_pct": "5.000000"}
    put = api.put(url, body, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert put.status_code == 200, put.content
    _check(alice, put, "/api/v1/billing/versions/{id}/exclusions/", "put")
    assert (
        put.json()["exclusions"] == {"symbols": ["AAPL"], "cash": True}
        and put.json()["flow_threshold_pct"] == "5.000000"
    )
    assert api.get(url).json() == put.json()
    shown = api.get(f"/api/v1/billing/schedules/{billing.pk}/").json()["versions"][0]  # the schedule shows them too
    assert (shown["exclusions"], shown["flow_threshold_pct"]) == ({"symbols": ["AAPL"], "cash": True}, "5.000000")
    bad = api.put(url, {"exclusions": {"symbols": ["NOPE"]}}, format="json", HTTP_IDEMPOTENCY_KEY="k2")
    assert bad.status_code == 400 and "exclusions" in bad.json()["error"]["fields"]

    aurl = f"/api/v1/billing/assignments/{assignment.pk}/exclusions/"
    set_ = api.put(aurl, {"exclusions": {"asset_classes": ["fund"]}}, format="json", HTTP_IDEMPOTENCY_KEY="k3")
    assert set_.status_code == 200 and set_.json() == {"exclusions": {"asset_classes": ["fund"]}}
    _check(alice, set_, "/api/v1/billing/assignments/{id}/exclusions/", "put")
    assert charlie.api().get(aurl).status_code == 404 and charlie.api().get(url).status_code == 404
    assert bob.api().get(aurl).status_code == 403
    assert api_post(api, "/api/v1/billing/adjustments/", {}).status_code == 400
