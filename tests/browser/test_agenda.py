"""The agenda in a real browser: start a workflow on a contact, complete a step and see the next
open; create a task; add a note and pin it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import E2EServer
from tests.browser.test_shell import log_in

pytestmark = pytest.mark.xdist_group("browser")


def test_workflow_task_and_note_on_a_contact(page: Page, e2e_server: E2EServer, screenshot_dir: Path) -> None:
    log_in(page, (u := e2e_server.user("harbor", "owner")), e2e_server.backup_code(u))
    page.goto("/contacts/?sort=-name")
    page.locator("#results tbody tr").first.locator("a").first.click()
    page.get_by_role("button", name="Agenda", exact=True).click()
    expect(page).to_have_url(re.compile(r"/contacts/\d+/agenda/$"))
    contact_url = page.url

    # Start a workflow: its page opens with the first step open and the second waiting.
    workflows = page.locator("#workflows")
    workflows.get_by_label("Template").select_option(label="Annual review")
    workflows.get_by_role("button", name="Start workflow").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Annual review")
    rows = page.locator("tbody tr")
    expect(rows.nth(0).locator(".step-status")).to_have_text("Open")
    expect(rows.nth(1).locator(".step-status")).to_have_text("Waiting")
    page.screenshot(path=screenshot_dir / "agenda-workflow.png", full_page=True)
    page.get_by_role("button", name=re.compile("^Complete “Prepare the performance report”")).click()
    expect(rows.nth(0).locator(".step-status")).to_have_text("Done")
    expect(rows.nth(1).locator(".step-status")).to_have_text("Open")

    # A task on the contact.
    page.goto(contact_url)
    tasks = page.locator("#tasks")
    tasks.get_by_text("New task").click()
    tasks.get_by_label("Title").fill("Send the browser-test summary")
    tasks.get_by_label("Due").fill("2031-01-15")
    tasks.get_by_role("button", name="Add task").click()
    expect(page.locator("#tasks table")).to_contain_text("Send the browser-test summary")

    # Two notes; pinning the older one puts it first.
    notes = page.locator("#notes")
    notes.get_by_label("New note").fill("Browser note: first")
    notes.get_by_role("button", name="Add note").click()
    notes.get_by_label("New note").fill("Browser note: second")
    notes.get_by_role("button", name="Add note").click()
    first = page.locator("article.note", has_text="Browser note: first")
    first.get_by_role("button", name="Pin").click()
    expect(page.locator("article.note").first).to_contain_text("Browser note: first")
    expect(page.locator("article.note").first).to_contain_text("Pinned")
    page.screenshot(path=screenshot_dir / "agenda-contact.png", full_page=True)

    # The agenda and the contact's page at phone width.
    page.set_viewport_size({"width": 360, "height": 800})
    page.screenshot(path=screenshot_dir / "agenda-contact-phone.png", full_page=True)
    page.goto("/agenda/")
    expect(page.get_by_role("heading", name="My tasks")).to_be_visible()
    page.screenshot(path=screenshot_dir / "agenda-phone.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=screenshot_dir / "agenda.png", full_page=True)
    page.goto("/agenda/workflow-templates/")
    expect(page.get_by_role("heading", name="Workflow templates")).to_be_visible()
    page.screenshot(path=screenshot_dir / "agenda-templates.png", full_page=True)
