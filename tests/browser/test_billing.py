"""The fee calculator in a real browser (issue #18, point 7): a fee administrator opens it from
Fee billing, types a householded tiered schedule, reads the fee band by band and why, then a
wrong band gets its message on the field. At desktop and phone widths.

Screenshots go to var/screenshots (billing-*.png)."""

from __future__ import annotations

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
