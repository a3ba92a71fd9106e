"""Client accounts in a real browser: the list, search as you type (htmx), sorting by a column,
an account's page and switching the NAV chart's period (htmx) — with no CSP violation on the way."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.browser.conftest import E2EServer
from tests.browser.test_shell import log_in

pytestmark = pytest.mark.xdist_group("browser")
EXTRA_SCREENSHOT_DIR = os.environ.get("ACCOUNTS_SCREENSHOT_DIR", "")


def rows(page: Page) -> list[str]:
    """The account numbers of the results table, in order."""
    return [text.strip() for text in page.locator("#account-results tbody tr td:first-child").all_inner_texts()]


def test_find_sort_and_open_an_account_then_switch_the_chart_period(
    page: Page, e2e_server: E2EServer, screenshot_dir: Path
) -> None:
    problems: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", watch)
    owner = e2e_server.user("harbor", "owner")
    log_in(page, owner, e2e_server.backup_code(owner))

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Accounts").click()
    expect(page.get_by_role("heading", name="Client accounts", level=1)).to_be_visible()
    everything = rows(page)
    assert len(everything) >= 5 and everything == sorted(everything)  # number order by default

    # Search as you type: the results are replaced in place and the address follows.
    title = page.locator("#account-results tbody tr").nth(3).locator("td").nth(1).inner_text().strip()
    prefix = title[:4]
    page.get_by_label("Number or title starts with").fill(prefix)
    expect(page).to_have_url(re.compile(r"q=" + re.escape(prefix).replace(r"\ ", r"(\+|%20)")))
    expect(page.locator("#account-results tbody tr").first).to_contain_text(re.compile(re.escape(prefix), re.I))
    found = page.locator("#account-results tbody tr td:nth-child(2)").all_inner_texts()
    assert found and all(t.strip().lower().startswith(prefix.lower()) for t in found)

    # Sort by NAV, largest first: a click sorts ascending, a second one descending.
    page.get_by_label("Number or title starts with").fill("")
    expect(page.locator("#account-results tbody tr")).to_have_count(len(everything))
    nav_header = page.locator("thead th", has=page.get_by_role("link", name="Net asset value"))
    page.get_by_role("link", name="Net asset value").click()
    expect(nav_header).to_have_attribute("aria-sort", "ascending")
    page.get_by_role("link", name="Net asset value").click()
    expect(nav_header).to_have_attribute("aria-sort", "descending")
    navs = [
        float(t.strip().replace(",", ""))
        for t in page.locator("#account-results tbody tr td:nth-child(7)").all_inner_texts()
        if t.strip() != "—"
    ]
    assert len(navs) >= 2 and navs == sorted(navs, reverse=True)
    largest = rows(page)[0]

    # Open the largest account: its summary and a one-year chart.
    page.get_by_role("link", name=largest, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(largest)
    expect(page.get_by_text("Net liquidation value")).to_be_visible()
    expect(page.get_by_role("heading", name="Realized P&L")).to_be_visible()
    periods = page.get_by_role("navigation", name="Chart period")
    expect(periods.get_by_role("button", name="1Y")).to_have_attribute("aria-current", "true")
    year_points = page.locator("#nav-chart polyline.chart-nav").get_attribute("points") or ""

    # Three months: only the chart is fetched and replaced.
    with page.expect_response(lambda r: "period=3M" in r.url and r.request.headers.get("hx-request") == "true"):
        periods.get_by_role("button", name="3M").click()
    expect(periods.get_by_role("button", name="3M")).to_have_attribute("aria-current", "true")
    expect(page.locator("#nav-chart polyline.chart-nav")).to_have_count(1)
    quarter_points = page.locator("#nav-chart polyline.chart-nav").get_attribute("points") or ""
    assert quarter_points and quarter_points != year_points
    expect(page.locator("#nav-chart figcaption")).to_contain_text("time-weighted return")
    expect(page.get_by_role("heading", name="Transactions")).to_be_visible()  # the rest of the page stays

    shot = screenshot_dir / "accounts-detail-3m.png"
    page.screenshot(path=str(shot), full_page=True)
    if EXTRA_SCREENSHOT_DIR:
        Path(EXTRA_SCREENSHOT_DIR).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(EXTRA_SCREENSHOT_DIR) / shot.name)
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems


@pytest.mark.parametrize("width", [1280, 360])
def test_place_and_release_a_hold_on_an_accounts_cash(
    page: Page, e2e_server: E2EServer, screenshot_dir: Path, width: int
) -> None:
    """The Cash section: settled, pending, held and available cash; a hold placed from the page
    lowers available cash, a hold beyond it is refused with the reason, and a release asks first."""
    page.set_viewport_size({"width": width, "height": 900})
    owner = e2e_server.user("harbor", "owner")
    log_in(page, owner, e2e_server.backup_code(owner))
    page.goto("/accounts/?ordering=-nav")
    page.locator("#account-results tbody tr td:first-child a").first.click()
    cash = page.locator("section", has=page.get_by_role("heading", name="Cash", exact=True))
    expect(cash.get_by_role("columnheader", name="Available")).to_be_visible()
    usd = cash.locator("tbody tr", has=page.get_by_role("rowheader", name="USD"))

    def available() -> float:
        return float(usd.locator("td").nth(4).inner_text().split()[0].replace(",", ""))

    before = available()
    assert before > 100, before
    reference = f"WR-{width}"
    cash.get_by_text("Place a hold").click()
    cash.get_by_label("Currency").fill("USD")
    cash.get_by_label("Amount").fill("100")
    cash.get_by_label("Reason").fill("Withdrawal awaiting approval")
    cash.get_by_label("Reference").fill(reference)
    cash.get_by_role("button", name="Place hold").click()
    expect(page.locator(".flash").first).to_contain_text(f"Placed a hold of 100.00 USD ({reference}).")
    assert round(available(), 2) == round(before - 100, 2)
    expect(cash.get_by_role("cell", name=reference, exact=True)).to_be_visible()
    page.screenshot(path=str(screenshot_dir / f"accounts-cash-hold-{width}.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    # More than what is available: refused, with the figure, and nothing placed.
    cash.get_by_text("Place a hold").click()
    cash.get_by_label("Amount").fill(f"{before * 10:.2f}")
    cash.get_by_label("Reason").fill("Too much")
    cash.get_by_label("Reference").fill(f"{reference}-big")
    cash.get_by_role("button", name="Place hold").click()
    expect(page.locator(".flash-error")).to_contain_text("The hold was not placed: Amount:")
    expect(page.locator(".flash-error")).to_contain_text("is more than the available cash of")

    # Release it: the dialog says what happens; Cancel keeps the hold.
    row = cash.locator("tbody tr", has=page.get_by_role("cell", name=reference, exact=True))
    row.get_by_label(f"Why release the hold {reference}").fill("Request withdrawn by the client")
    row.get_by_role("button", name="Release").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Release the hold {reference} of 100.00 USD?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(row).to_be_visible()
    row.get_by_role("button", name="Release").click()
    page.get_by_role("dialog").get_by_role("button", name="Release hold").click()
    expect(page.locator(".flash").first).to_contain_text(f"Released the hold {reference}")
    assert round(available(), 2) == round(before, 2)
