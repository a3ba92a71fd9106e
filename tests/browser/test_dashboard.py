"""The dashboard in a real browser: the owner's panels at desktop and phone widths, and the
group-scoped assistant's dashboard with only its rights' panels and its group's items."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import E2EServer
from tests.browser.test_shell import log_in

pytestmark = pytest.mark.xdist_group("browser")


def test_owner_dashboard_at_desktop_and_phone(page: Page, e2e_server: E2EServer, screenshot_dir: Path) -> None:
    log_in(page, (u := e2e_server.user("harbor", "owner")), e2e_server.backup_code(u))
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/")
    expect(page.locator(".panel-loading")).to_have_count(0)  # every panel has loaded
    expect(page.get_by_role("link", name="All pending items")).to_be_visible()
    for heading in ("Pending items", "Today's calendar", "Client accounts", "Workflows", "Notes", "Documents"):
        expect(page.get_by_role("heading", name=heading, level=2)).to_be_visible()
    page.screenshot(path=screenshot_dir / "dashboard-1280.png", full_page=True)
    page.set_viewport_size({"width": 360, "height": 800})
    page.goto("/")
    expect(page.locator(".panel-loading")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=screenshot_dir / "dashboard-360.png", full_page=True)
    page.get_by_role("link", name="All pending items").click()
    expect(page.get_by_role("heading", name="Pending items", level=1)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=screenshot_dir / "pending-360.png", full_page=True)


def test_assistant_dashboard_shows_only_its_rights_panels(page: Page, e2e_server: E2EServer) -> None:
    log_in(page, (u := e2e_server.user("harbor", "assistant")), e2e_server.backup_code(u))
    page.goto("/")
    expect(page.locator(".panel-loading")).to_have_count(0)
    expect(page.get_by_role("heading", name="Pending items", level=2)).to_be_visible()
    expect(page.locator('[data-panel="assets"]')).to_have_count(0)
