"""Issue #13, point 3 in a real browser: the contacts and accounts filter panels, their active
filters as chips that each remove one filter, at 1280 and 360 px (screenshots in var/screenshots)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import E2EServer
from tests.browser.test_shell import log_in

pytestmark = pytest.mark.xdist_group("browser")


def _no_sideways_scroll(page: Page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_contacts_filters_by_keyboard_and_mouse_show_chips_and_remove_one(
    page: Page, e2e_server: E2EServer, screenshot_dir: Path
) -> None:
    log_in(page, (u := e2e_server.user("harbor", "owner")), e2e_server.backup_code(u))
    page.goto("/contacts/")
    search = page.get_by_role("search", name="Find contacts")

    # The panel opens from the keyboard; a multiple choice is a group of checkboxes showing its options.
    search.locator("summary", has_text="Filters").focus()
    page.keyboard.press("Enter")
    status = search.get_by_role("group", name="Status", exact=True)
    expect(status).to_be_visible()
    prospect = status.get_by_role("checkbox", name="Prospect", exact=True)
    expect(prospect).to_be_visible()
    assert status.get_by_role("checkbox").count() == 6
    prospect.focus()
    page.keyboard.press("Space")
    expect(prospect).to_be_checked()
    expect(search.get_by_role("group", name="Dates")).to_be_visible()

    # A date range: "from" and "to" on one row, each the label of its date picker.
    created = search.get_by_role("group", name="Created between")
    created.get_by_label("from").fill("2000-01-01")
    created.get_by_label("to").fill("2099-12-31")
    ends = [created.get_by_label(end).bounding_box() for end in ("from", "to")]
    assert ends[0] and ends[1] and abs(ends[0]["y"] - ends[1]["y"]) < 4  # side by side at 1280 px
    search.get_by_role("button", name="Show contacts").click()
    expect(page).to_have_url(
        re.compile(r"status=prospect.*created_after=2000-01-01|created_after=2000-01-01.*status=prospect")
    )

    # The chips, refreshed with the results (htmx), and the results they describe.
    active = page.get_by_role("list", name="Filtered by")
    expect(active.get_by_role("link", name="Remove Status: Prospect")).to_be_visible()
    expect(active.get_by_role("link", name="Remove Created between 2000-01-01 and 2099-12-31")).to_be_visible()
    expect(search.locator("#filter-count")).to_have_text(" (2 active)")
    statuses = {t.strip() for t in page.locator("#results tbody tr td:nth-child(5)").all_inner_texts()}
    assert statuses <= {"Prospect"}
    _no_sideways_scroll(page, 1280)
    page.screenshot(path=screenshot_dir / "filters-3-contacts-1280.png", full_page=True)

    # Removing one chip drops just that filter; the date range stays, in the list and in the panel.
    active.get_by_role("link", name="Remove Status: Prospect").click()
    expect(page).to_have_url(re.compile(r"created_after=2000-01-01"))
    assert "status=" not in page.url
    expect(active.get_by_role("link")).to_have_count(1)
    expect(page.get_by_role("link", name="Clear all filters")).to_be_visible()
    search.locator("summary", has_text="Filters").click()  # closed after a reload: the chips say what applies
    expect(search.get_by_role("group", name="Created between").get_by_label("from")).to_have_value("2000-01-01")
    expect(
        search.get_by_role("group", name="Status", exact=True).get_by_role("checkbox", name="Prospect")
    ).not_to_be_checked()

    page.set_viewport_size({"width": 360, "height": 800})
    _no_sideways_scroll(page, 360)
    page.screenshot(path=screenshot_dir / "filters-3-contacts-360-panel.png", full_page=True)
    search.locator("summary", has_text="Filters").click()  # closed again: the chips above the results
    _no_sideways_scroll(page, 360)
    page.screenshot(path=screenshot_dir / "filters-3-contacts-360.png", full_page=True)
    page.get_by_role("link", name="Clear all filters").click()
    expect(page.get_by_role("list", name="Filtered by")).to_have_count(0)


def test_accounts_filter_bar_shows_chips_and_a_normal_button(
    page: Page, e2e_server: E2EServer, screenshot_dir: Path
) -> None:
    log_in(page, (u := e2e_server.user("harbor", "owner")), e2e_server.backup_code(u))
    page.goto("/accounts/")
    search = page.get_by_role("search", name="Find accounts")
    button = search.get_by_role("button", name="Show accounts")
    box = button.bounding_box()
    assert box and box["height"] < 60 and box["width"] < 250  # not a giant half pill

    search.get_by_label("Status").select_option("open")  # the list follows the choice (htmx)
    expect(page).to_have_url(re.compile(r"status=open"))
    chip = page.get_by_role("list", name="Filtered by").get_by_role("link", name="Remove Status: Open")
    expect(chip).to_be_visible()
    _no_sideways_scroll(page, 1280)
    page.screenshot(path=screenshot_dir / "filters-3-accounts-1280.png", full_page=True)
    page.set_viewport_size({"width": 360, "height": 800})
    _no_sideways_scroll(page, 360)
    page.screenshot(path=screenshot_dir / "filters-3-accounts-360.png", full_page=True)
    chip.click()
    expect(page.get_by_role("list", name="Filtered by")).to_have_count(0)
    assert "status=" not in page.url
