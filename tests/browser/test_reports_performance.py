"""Performance reports of issue #19 in a real browser: an advisor opens a demo household's report
from its page, reads TWR, MWR and Modified Dietz side by side with the reason they differ and the
growth chart, picks a custom range and is told when it starts in the future, then opens one of
its accounts' reports. At desktop and phone widths. Screenshots: var/screenshots (performance-*.png)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import E2EServer
from tests.browser.test_shell import log_in

pytestmark = pytest.mark.xdist_group("browser")

# The household with the most assets (the households list's links and their figures, read in the page).
RICHEST_HOUSEHOLD = """() => {
  const rows = [...document.querySelectorAll("tbody tr")].filter(r => r.cells.length === 5);
  const value = r => Number(r.cells[4].textContent.replace(/[^0-9.]/g, "")) || 0;
  const best = rows.filter(r => Number(r.cells[3].textContent) > 0).sort((a, b) => value(b) - value(a))[0];
  return best ? best.querySelector("a").getAttribute("href") : null;
}"""


@pytest.mark.parametrize("width", [1280, 360])
def test_household_and_account_performance(page: Page, e2e_server: E2EServer, screenshot_dir: Path, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    advisor = e2e_server.user("harbor", "advisor")
    log_in(page, advisor, e2e_server.backup_code(advisor))
    page.goto("/contacts/households/")
    household = page.evaluate(RICHEST_HOUSEHOLD)
    assert household, "the demo firm has a household with accounts"
    page.goto(household)
    page.get_by_role("link", name="Performance report").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Performance: ")
    table = page.get_by_role("table", name="Time-weighted, money-weighted and Modified Dietz returns")
    for name in ("Time-weighted", "Money-weighted (XIRR)", "Modified Dietz", "Year to date", "Since inception"):
        expect(table).to_contain_text(name)
    expect(page.get_by_role("region", name="Why the time- and money-weighted returns differ")).to_contain_text(
        "time-weighted return"
    )
    expect(page.get_by_role("region", name="How these figures are measured")).to_contain_text(
        "(CD \N{MINUS SIGN} D) ÷ CD"
    )
    chart = page.locator(".growth-chart svg")
    expect(chart).to_be_visible()
    bands = chart.locator("rect.chart-hover")
    band = bands.nth(bands.count() // 2)
    assert "value" in (band.locator("title").text_content() or "")
    band.hover()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=screenshot_dir / f"performance-household-{width}.png", full_page=True)

    # A custom range: from three months ago to a month ago.
    page.get_by_label("From", exact=True).fill((date.today() - timedelta(days=90)).isoformat())
    page.get_by_label("To", exact=True).fill((date.today() - timedelta(days=30)).isoformat())
    page.get_by_role("button", name="Show").click()
    expect(table.get_by_role("rowheader", name="Custom range")).to_be_visible()
    expect(page.get_by_role("heading", level=2, name="Growth of 10,000")).to_contain_text(" to ")
    page.screenshot(path=screenshot_dir / f"performance-custom-{width}.png", full_page=True)

    # A start in the future is refused on its field, nothing measured.
    page.get_by_label("From", exact=True).fill((date.today() + timedelta(days=30)).isoformat())
    page.get_by_label("To", exact=True).fill("")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("alert").first).to_contain_text("Nothing was measured")
    expect(page.locator("small.form-error")).to_contain_text("is in the future")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=screenshot_dir / f"performance-refused-{width}.png", full_page=True)

    # One of its accounts.
    page.get_by_role("link", name="Standard periods").click()
    page.locator(".perf-subject a").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Performance: ")
    expect(page.locator(".perf-subject")).to_contain_text("Account in")
    expect(page.get_by_role("table", name="Time-weighted, money-weighted and Modified Dietz returns")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=screenshot_dir / f"performance-account-{width}.png", full_page=True)
