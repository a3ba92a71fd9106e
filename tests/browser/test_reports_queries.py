"""Client data queries, the firm's and a group's performance and ESG preferences in a real browser
(issue #19): an advisor runs the TWR query from the Reports index, sees a refusal and the table
with its CSV link, runs an account query (just past the second factor), opens the firm's
performance, and records a contact's ESG ranking (a repeated rank refused first). At desktop and
phone widths. Screenshots: var/screenshots (queries-*.png, esg-*.png)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import E2EServer
from tests.browser.test_shell import log_in

pytestmark = pytest.mark.xdist_group("browser")


def fits(page: Page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("width", [1280, 360])
def test_queries_firm_performance_and_esg(page: Page, e2e_server: E2EServer, screenshot_dir: Path, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    advisor = e2e_server.user("harbor", "advisor")
    log_in(page, advisor, e2e_server.backup_code(advisor))

    page.goto("/reports/")
    page.get_by_role("link", name="Client data queries").first.click()
    page.get_by_role("link", name="Accounts by time-weighted return").click()
    page.get_by_label("Period").select_option("ITD")
    page.get_by_label("TWR above (%)").fill("10")
    page.get_by_label("TWR below (%)").fill("5")
    page.get_by_role("button", name="Run the query").click()
    expect(page.get_by_role("alert").first).to_contain_text("Nothing was queried")
    expect(page.get_by_text("make the 'above' figure lower")).to_be_visible()
    page.get_by_label("TWR below (%)").fill("")
    page.get_by_label("TWR above (%)").fill("-100")
    page.get_by_role("button", name="Run the query").click()
    expect(page.get_by_role("heading", level=2).first).to_contain_text("account")
    expect(page.get_by_role("link", name="as CSV")).to_be_visible()
    expect(page.locator("table.query-table tbody tr").first).to_be_visible()
    fits(page, width)
    page.screenshot(path=screenshot_dir / f"queries-twr-{width}.png", full_page=True)

    page.goto("/reports/queries/accounts/")
    page.get_by_label("Traditional IRA").check()
    page.get_by_role("button", name="Run the query").click()
    expect(page.get_by_role("heading", level=2).first).to_contain_text("account")
    fits(page, width)
    page.screenshot(path=screenshot_dir / f"queries-accounts-{width}.png", full_page=True)

    page.goto("/reports/")
    page.get_by_role("link", name="Performance of the firm").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Performance: ")
    expect(page.get_by_text("Every account you may see")).to_be_visible()
    expect(page.get_by_role("table", name="Time-weighted, money-weighted and Modified Dietz returns")).to_contain_text(
        "Since inception"
    )
    fits(page, width)
    page.screenshot(path=screenshot_dir / f"queries-firm-performance-{width}.png", full_page=True)

    # From a demo contact's own page, as in the planning walk.
    page.goto("/reports/planning/")
    scores = page.get_by_role("region", name="Recent risk scores")
    name = scores.get_by_role("row").nth(1).get_by_role("link").first.inner_text()
    scores.get_by_role("link", name=name).first.click()
    page.get_by_role("link", name=f"← {name}").click()
    page.get_by_role("button", name="ESG preferences").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("ESG impact preferences: ")
    page.get_by_label("Climate change").select_option("1")
    page.get_by_label("Clean water").select_option("1")
    page.get_by_role("button", name="Record").click()
    expect(page.get_by_text("Clean water has rank 1, as Climate change has")).to_be_visible()
    page.get_by_label("Clean water").select_option("2")
    page.get_by_label("No weapons").select_option("3")
    page.get_by_role("button", name="Record").click()
    expect(page.get_by_text("The impact preferences were recorded.")).to_be_visible()
    expect(page.locator("ol.esg-ranking")).to_contain_text("Climate change")
    fits(page, width)
    page.screenshot(path=screenshot_dir / f"esg-contact-{width}.png", full_page=True)
