"""Statements and report definitions of issue #19 in a real browser: an advisor makes a household's
activity statement (the worker makes it while the page shows its progress) and downloads it, then
saves a quarterly report definition, runs it now and sees its run and deliveries. At desktop and
phone widths. Screenshots: var/screenshots (statements-*.png)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import E2EServer
from tests.browser.test_shell import log_in

pytestmark = pytest.mark.xdist_group("browser")


@pytest.mark.parametrize("width", [1280, 360])
def test_make_a_statement_and_run_a_report_definition(
    page: Page, e2e_server: E2EServer, screenshot_dir: Path, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    advisor = e2e_server.user("harbor", "advisor")
    log_in(page, advisor, e2e_server.backup_code(advisor))
    page.goto("/reports/")
    page.get_by_role("link", name="Statements", exact=True).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Statements")
    household = page.get_by_label("Household")
    first = household.locator("option").nth(1).get_attribute("value")
    assert first, "the demo firm has a household in the advisor's scope"
    household.select_option(first)
    page.get_by_label("From", exact=True).fill((date.today() - timedelta(days=90)).isoformat())
    page.get_by_label("To", exact=True).fill((date.today() - timedelta(days=30)).isoformat())
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=screenshot_dir / f"statements-form-{width}.png", full_page=True)
    page.get_by_role("button", name="Make the statement").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Activity statement")
    download_link = page.get_by_role("button", name="Download the PDF")
    expect(download_link).to_be_visible(timeout=60_000)  # the worker made it; the panel refreshed itself
    with page.expect_download() as download:
        download_link.click()
    assert download.value.suggested_filename.endswith(".pdf")
    expect(page.get_by_text("SHA-256 of the PDF")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=screenshot_dir / f"statements-made-{width}.png", full_page=True)

    page.goto("/reports/statements/definitions/")
    page.get_by_label("Name").fill(f"Quarterly statements {width}")
    page.get_by_label("Households").select_option(first)
    page.get_by_label("Schedule").select_option("quarterly")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Quarterly statements {width}")
    expect(page.get_by_text("Quarterly: next on")).to_be_visible()
    page.get_by_role("button", name="Run now").click()
    runs = page.locator("#definition-runs")
    expect(runs).to_contain_text("Done", timeout=90_000)
    page.reload()
    expect(page.get_by_role("region", name="Deliveries")).to_contain_text(re.compile("Emailed to|Not sent"))
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=screenshot_dir / f"statements-definition-{width}.png", full_page=True)
