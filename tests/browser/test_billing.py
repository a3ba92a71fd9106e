"""The fee calculator in a real browser (issue #18, point 7): a fee administrator opens it from
Fee billing, types a householded tiered schedule, reads the fee band by band and why, then a
wrong band gets its message on the field. At desktop and phone widths.

Screenshots go to var/screenshots (billing-*.png)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import E2EServer
from tests.browser.test_shell import log_in

pytestmark = pytest.mark.xdist_group("browser")


@pytest.mark.parametrize("width", [1280, 360])
def test_the_fee_calculator_explains_a_householded_tiered_fee(
    page: Page, e2e_server: E2EServer, screenshot_dir: Path, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    owner = e2e_server.user("harbor", "owner")
    log_in(page, owner, e2e_server.backup_code(owner))
    page.goto("/billing/")
    page.get_by_role("navigation", name="Fee billing").get_by_role("link", name="Fee calculator").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Fee calculator")
    page.get_by_label("Method").select_option("tiered")
    page.get_by_label("Band 1: values below").fill("1,000,000")
    page.get_by_label("Band 1: annual rate %").fill("1.00")
    page.get_by_label("Band 2: annual rate %").fill("0.75")
    page.get_by_label("Accounts and values").fill("U1234567 900,000.00\nU1234568 350,000")
    page.get_by_label("Household these accounts").check()
    page.get_by_label("Billing frequency").select_option("quarterly")
    page.get_by_role("button", name="Calculate").click()

    result = page.get_by_role("region", name="The fee")
    expect(result).to_contain_text("11,875.00")
    expect(result).to_contain_text("2,968.75")
    expect(result.get_by_role("table", name="By account")).to_contain_text("8,550.00")
    expect(result).to_contain_text("combined value of 1,250,000.00 sets the bands")
    # The form keeps what was typed, so a second question starts from the first.
    expect(page.get_by_label("Band 1: values below")).to_have_value("1,000,000")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=screenshot_dir / f"billing-fee-calculator-{width}.png", full_page=True)

    page.get_by_label("Band 2: values below").fill("500")
    page.get_by_label("Band 3: annual rate %").fill("0.50")
    page.get_by_role("button", name="Calculate").click()
    expect(page.get_by_role("alert").first).to_contain_text("Nothing was calculated")
    expect(page.locator("td", has=page.get_by_label("Band 2: values below"))).to_contain_text("Bands must rise")
    expect(page.get_by_role("region", name="The fee")).to_have_count(0)
    page.screenshot(path=screenshot_dir / f"billing-fee-calculator-error-{width}.png", full_page=True)


def _last_quarter() -> tuple[date, date]:
    today = date.today()
    first = date(today.year, 1 + 3 * ((today.month - 1) // 3), 1)
    end = first - timedelta(days=1)
    return date(end.year, end.month - 2, 1), end


def test_a_quarter_is_previewed_explained_approved_and_posted(
    page: Page, e2e_server: E2EServer, screenshot_dir: Path
) -> None:
    """Done-when of issue #18 in the browser: a fee schedule made on its page, a quarter's run of two
    accounts previewed by the worker, each fee's "Why" read, approved (four eyes turned off in the
    settings, with a confirmation), posted once, and the run page at phone width."""
    page.set_viewport_size({"width": 1280, "height": 900})
    owner = e2e_server.user("harbor", "owner")
    log_in(page, owner, e2e_server.backup_code(owner))
    page.goto("/accounts/")
    numbers = [n for n in page.locator("tbody tr td:first-child a").all_inner_texts() if not n.startswith("MA")][:2]
    assert len(numbers) == 2, "the demo firm has accounts"

    page.goto("/billing/schedules/new/")
    page.get_by_label("Name").fill("Browser tiered quarterly")
    page.get_by_label("Effective from").fill("2020-01-01")
    page.get_by_label("Method").select_option("tiered")
    page.get_by_label("Band 1: values below").fill("1,000,000")
    page.get_by_label("Band 1: annual rate %").fill("1.00")
    page.get_by_label("Band 2: annual rate %").fill("0.75")
    page.get_by_label("Valuation").select_option("period_end")
    page.get_by_role("button", name="Create schedule").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Browser tiered quarterly")
    expect(page.locator("main")).to_contain_text("From 0.00 to under 1,000,000.00: 1 % a year")

    # Assign it to the two accounts, then let the preparer approve (a one-person demo firm).
    page.get_by_text("Assign to accounts or households").click()
    page.get_by_label("Account numbers").fill(" ".join(numbers))
    page.get_by_label("These accounts", exact=True).check()
    page.get_by_role("button", name="Assign").click()
    page.goto("/billing/settings/")
    page.get_by_label("Four eyes: a run is approved by someone other than who prepared it").uncheck()
    page.get_by_role("button", name="Save settings").click()

    start, end = _last_quarter()
    page.goto("/billing/runs/")
    page.get_by_label("Period from").fill(start.isoformat())
    page.get_by_label("Period to").fill(end.isoformat())
    page.get_by_label("Only these accounts").fill("\n".join(numbers))
    page.get_by_role("button", name="Compute a preview").click()
    expect(page.get_by_role("heading", name="Pre-bill audit")).to_be_visible(timeout=60_000)
    lines = page.get_by_role("region", name="Fee lines")
    expect(lines.locator("tbody tr").first).to_be_visible()  # the open ones of the two
    why = lines.locator("details.line-why").first
    why.locator("summary").click()
    expect(why).to_contain_text("Browser tiered quarterly")
    page.screenshot(path=screenshot_dir / "billing-run-preview-1280.png", full_page=True)

    page.get_by_role("button", name="Approve").click()
    page.get_by_role("dialog").get_by_role("button", name="Approve").click()
    expect(page.locator("h1 .run-status")).to_have_text("Approved")
    page.get_by_role("button", name="Post the fees").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("This moves money.")
    dialog.get_by_role("button", name="Post the fees").click()
    page.wait_for_timeout(500)
    for _ in range(60):  # the worker posts; the page shows it once done
        page.reload()
        if page.locator("h1 .run-status").inner_text() == "Posted":
            break
        page.wait_for_timeout(500)
    expect(page.locator("h1 .run-status")).to_have_text("Posted")
    expect(page.get_by_role("region", name="Invoices")).to_be_visible()
    # The run cannot be posted again: no Post button on a posted run.
    expect(page.get_by_role("button", name="Post the fees")).to_have_count(0)
    page.screenshot(path=screenshot_dir / "billing-run-posted-1280.png", full_page=True)

    page.set_viewport_size({"width": 360, "height": 800})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=screenshot_dir / "billing-run-posted-360.png", full_page=True)
