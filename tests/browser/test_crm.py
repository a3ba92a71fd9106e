"""The contacts table and record in a real browser: search as you type, a filter, a bulk action, a
saved view, the record with a note, and a group-scoped assistant's narrower book."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import E2EServer
from tests.browser.test_shell import log_in

pytestmark = pytest.mark.xdist_group("browser")


def test_advisor_searches_filters_tags_and_saves_a_view(
    page: Page, e2e_server: E2EServer, screenshot_dir: Path
) -> None:
    log_in(page, (u := e2e_server.user("harbor", "owner")), e2e_server.backup_code(u))
    page.goto("/contacts/")
    rows = page.locator("#results table tbody tr")
    expect(rows.first).to_be_visible()
    page.screenshot(path=screenshot_dir / "contacts.png", full_page=True)

    # Search as you type: a fragment of the first row's last name narrows the table without a click.
    first_name_cell = rows.first.locator("td").nth(1).inner_text()
    last = first_name_cell.split(",")[0].strip()
    page.get_by_label(re.compile("^Search by name")).fill(last[:3])
    expect(page).to_have_url(re.compile(rf"q={re.escape(last[:3])}"))
    for name in rows.locator("td:nth-child(2)").all_inner_texts():
        assert any(w.casefold().startswith(last[:3].casefold()) for w in re.split(r"[\s,]+", name)), name

    # A filter on a field that is not a column: risk tolerance, combined with the search.
    page.locator("summary", has_text="Filters").first.click()
    page.get_by_role("group", name="Risk tolerance").get_by_role("checkbox", name="Growth").check()
    page.get_by_role("button", name="Show contacts").click()
    expect(page).to_have_url(re.compile(r"risk_tolerance=growth"))

    # Clear, select two contacts, tag them in bulk.
    page.goto("/contacts/?status=active")
    boxes = page.locator("#results tbody input[type=checkbox]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    bar = page.get_by_role("group", name="With the selected contacts")
    bar.get_by_label("Action").select_option("tag")
    bar.get_by_label("Tag").fill("browser-vip")
    bar.get_by_role("button", name="Apply").click()
    expect(page.locator(".flash, [role=status], [role=alert]").first).to_contain_text("browser-vip")

    # Save the tagged contacts as a view and open it again.
    page.goto("/contacts/?tag=browser-vip")
    expect(rows).to_have_count(2)
    page.get_by_placeholder("Name this view").fill("VIPs from the browser")
    page.get_by_role("button", name="Save view").click()
    page.goto("/contacts/")
    page.get_by_role("link", name="VIPs from the browser").click()
    expect(rows).to_have_count(2)

    # The record: add a note to the timeline.
    rows.first.get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(r"/contacts/\d+/$"))
    page.get_by_label("What happened").fill("Called about the annual review")
    page.get_by_role("button", name="Add to timeline").click()
    expect(page.locator("ol.timeline")).to_contain_text("Called about the annual review")
    page.screenshot(path=screenshot_dir / "contact-record.png", full_page=True)


def test_group_scoped_assistant_sees_only_her_group(page: Page, e2e_server: E2EServer, screenshot_dir: Path) -> None:
    log_in(page, (u := e2e_server.user("harbor", "assistant")), e2e_server.backup_code(u))
    page.goto("/contacts/")
    stats = page.get_by_role("navigation", name="Statistics: filter by status")
    total = int(stats.locator("strong").first.inner_text())  # "All": every contact in her scope
    # The demo puts every 25th active client in "Top clients", her scope: a handful, not the book.
    assert 0 < total < 10, total
    expect(page.locator("#results table tbody tr")).to_have_count(total)
    page.screenshot(path=screenshot_dir / "contacts-assistant.png", full_page=True)


def test_advisor_builds_a_household_by_searching_for_its_people(
    page: Page, e2e_server: E2EServer, screenshot_dir: Path
) -> None:
    # The advisor (the owner's ten backup codes are spent by the other browser tests).
    log_in(page, (u := e2e_server.user("harbor", "advisor")), e2e_server.backup_code(u))
    page.goto("/contacts/?status=prospect")
    names = page.locator("#results tbody td:nth-child(2) a").all_inner_texts()
    last = list(dict.fromkeys(name.split(",")[0].strip() for name in names))[:2]  # two different last names

    page.goto("/contacts/households/")
    page.get_by_label("Name", exact=True).fill("Browser family")
    page.get_by_role("searchbox", name=re.compile("^Head of household")).fill(last[0])
    head = page.locator("#head-choices input[type=radio]").first
    expect(head).to_be_visible()
    head.check()
    page.get_by_role("button", name="Create household").click()
    expect(page.get_by_role("heading", name="Browser family")).to_be_visible()

    page.get_by_role("searchbox", name=re.compile("^Add a member")).fill(last[1])
    member = page.locator("#contact-choices label").first
    expect(member).to_be_visible()
    chosen = member.inner_text().split("·")[0].strip()
    member.locator("input").check()
    page.screenshot(path=screenshot_dir / "household-picker.png", full_page=True)
    page.get_by_role("button", name="Add to the household").click()
    expect(page.locator("table tbody")).to_contain_text(chosen)
    expect(page.locator("table tbody tr")).to_have_count(2)
