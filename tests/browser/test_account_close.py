"""Closing a client account in a real browser (issue #18: prepaid fees refunded on termination): the
owner opens an account, a day in the future is refused with its message and nothing closes, then
the account is closed after a confirmation and its page says since when — at desktop and phone
widths. Screenshots go to var/screenshots (account-close-*.png)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import E2EServer
from tests.browser.test_shell import log_in

pytestmark = pytest.mark.xdist_group("browser")


@pytest.mark.parametrize("width", [1280, 360])
def test_an_account_is_closed_after_a_confirmation_and_a_future_day_is_refused(
    page: Page, e2e_server: E2EServer, screenshot_dir: Path, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    owner = e2e_server.user("harbor", "owner")
    log_in(page, owner, e2e_server.backup_code(owner))
    page.goto("/accounts/?status=open")
    links = page.locator("#account-results tbody tr td:first-child a")
    # Far down the first page (other browser tests use the first accounts), one per width.
    link = links.nth(12 if width == 1280 else 14)
    number = link.inner_text().strip()
    link.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(number)

    section = page.get_by_role("region", name="Close the account")
    section.get_by_text(f"Close {number}…").click()
    section.get_by_label("Last day open").fill((date.today() + timedelta(days=3)).isoformat())
    section.get_by_role("button", name="Close the account").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("It cannot be reopened here")
    dialog.get_by_role("button", name="Close the account").click()
    expect(page.get_by_role("alert").first).to_contain_text(
        "The account was not closed: Last day open: The closing day is in the future"
    )
    expect(page.locator(".tag").first).to_have_text("Open")

    section = page.get_by_role("region", name="Close the account")
    section.get_by_text(f"Close {number}…").click()
    section.get_by_label("Last day open").fill(date.today().isoformat())
    section.get_by_role("button", name="Close the account").click()
    page.get_by_role("dialog").get_by_role("button", name="Close the account").click()
    expect(page.get_by_text(f"Closed {number} on")).to_be_visible()
    expect(page.locator(".tag").first).to_have_text("Closed")
    expect(page.get_by_role("region", name="Close the account")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=screenshot_dir / f"account-close-{width}.png", full_page=False)
