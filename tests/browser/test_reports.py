"""The calculators of issue #19 in a real browser: an advisor pastes a held-away account's
valuations and flows and reads TWR, MWR and Modified Dietz side by side with the reason they
differ, then works out an RMD. At desktop and phone widths. Screenshots: var/screenshots (reports-*.png)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import E2EServer
from tests.browser.test_shell import log_in

pytestmark = pytest.mark.xdist_group("browser")


@pytest.mark.parametrize("width", [1280, 360])
def test_held_away_returns_and_an_rmd(page: Page, e2e_server: E2EServer, screenshot_dir: Path, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    advisor = e2e_server.user("harbor", "advisor")
    log_in(page, advisor, e2e_server.backup_code(advisor))
    page.goto("/reports/")
    page.get_by_role("link", name="Held-away account").first.click()
    page.get_by_label("Valuations").fill("2025-01-01, 100000.00\n2025-07-01, 90000.00\n2025-12-31, 120000.00")
    page.get_by_label("Contributions and withdrawals").fill("2025-07-01, 50000.00")
    page.get_by_role("button", name="Calculate").click()
    result = page.get_by_role("region", name="Returns over 364 days")
    for name in ("Time-weighted", "Money-weighted", "Modified Dietz"):
        expect(result).to_contain_text(name)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=screenshot_dir / f"reports-held-away-{width}.png", full_page=True)

    page.goto("/reports/rmd/")
    page.get_by_label("Owner's birth date").fill("1951-05-01")
    page.get_by_label("Distribution year").fill("2026")
    page.get_by_label("Balance on December 31 of the year before").fill("500000.00")
    page.get_by_role("button", name="Calculate").click()
    # Age 75 in 2026: 500,000 ÷ 24.6 (Uniform Lifetime Table, 2022 and later).
    expect(page.get_by_role("heading", level=2).first).to_have_text("RMD for 2026: 20,325.20 USD")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=screenshot_dir / f"reports-rmd-{width}.png", full_page=True)
