"""The calendar in a real browser: create an event by clicking a day, edit it, find it in the week
and day views, at desktop and phone widths; the private feed fetched over HTTP and parsed."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import icalendar
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import E2EServer
from tests.browser.test_shell import log_in

pytestmark = pytest.mark.xdist_group("browser")


@pytest.mark.parametrize("width", [1280, 360])
def test_create_by_clicking_a_day_edit_and_see_it_in_week_and_day_views(
    browser: Browser, e2e_server: E2EServer, screenshot_dir: Path, width: int
) -> None:
    context = browser.new_context(base_url=e2e_server.base_url, viewport={"width": width, "height": 900})
    page: Page = context.new_page()
    advisor = e2e_server.user("harbor", "advisor")
    log_in(page, advisor, e2e_server.backup_code(advisor))
    page.goto("/calendar/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(str(date.today().year))
    # A day without events (the demo's events depend on today's date; a click there would open one).
    cell = page.locator("td[data-add]:not(.other-month):not(:has(ul)):not(:has(.cal-more))").first
    day = re.search(r"date=([0-9-]+)", cell.get_attribute("data-add") or "")
    assert day is not None
    cell.click(position={"x": 5, "y": 60})  # the empty part of the day
    expect(page.get_by_role("heading", name="New event")).to_be_visible()
    expect(page.get_by_label("Starts on")).to_have_value(day[1])
    title = f"Browser review {width}"
    page.get_by_label("Title").fill(title)
    page.get_by_label("Location").fill("Office")
    page.get_by_role("button", name="Add event").click()
    expect(page.get_by_text(f"Added “{title}”.")).to_be_visible()
    page.get_by_role("link", name=re.compile(title)).first.click()
    expect(page.get_by_role("heading", name=f"Edit “{title}”")).to_be_visible()
    page.get_by_label("Title").fill(f"{title} (moved)")
    page.locator("input[name=start_time]").fill("14:00")
    page.locator("input[name=end_time]").fill("15:00")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text(f"Saved “{title} (moved)”.")).to_be_visible()
    page.goto(f"/calendar/week/{day[1]}/")
    link = page.get_by_role("link", name=re.compile(re.escape(f"{title} (moved)")))
    expect(link).to_be_visible()
    expect(link).to_contain_text("2:00 PM")
    page.screenshot(path=screenshot_dir / f"calendar-week-{width}.png", full_page=True)
    page.goto(f"/calendar/day/{day[1]}/")
    expect(page.get_by_role("link", name=re.compile(re.escape(f"{title} (moved)")))).to_be_visible()
    page.screenshot(path=screenshot_dir / f"calendar-day-{width}.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
    # Keyboard: the slot's + link is focusable and opens the form.
    add = page.get_by_role("link", name=re.compile(r"New event on .* at 9:00 AM")).first
    add.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="New event")).to_be_visible()
    expect(page.locator("input[name=start_time]")).to_have_value("09:00")
    context.close()


def test_feed_address_is_fetched_over_http_and_parses(page: Page, e2e_server: E2EServer) -> None:
    advisor = e2e_server.user("summit", "advisor")
    log_in(page, advisor, e2e_server.backup_code(advisor))
    page.goto("/calendar/settings/")
    page.get_by_role("button", name=re.compile("Make")).click()
    url = page.locator("#feed-url").inner_text().strip()
    assert url.startswith(e2e_server.base_url) and url.endswith(".ics")
    answer = page.context.request.get(url)  # the phone's request: cookies do not matter to it
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(answer.body())
    assert len(calendar.walk("VEVENT")) > 3  # the demo's events
    page.get_by_role("button", name="Stop my address").click()
    assert page.context.request.get(url).status == 404
