"""Individual email in a real browser: from a contact's record, start from a message template,
preview it with the contact's merge fields, send it (a real Celery worker hands it to the file
backend), follow it on the email's page and in the contact's Agenda tab; at desktop and phone width."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import E2EServer
from tests.browser.test_shell import log_in

pytestmark = pytest.mark.xdist_group("browser")


def test_email_a_contact_from_a_template(page: Page, e2e_server: E2EServer, screenshot_dir: Path) -> None:
    log_in(page, (u := e2e_server.user("harbor", "owner")), e2e_server.backup_code(u))
    page.goto("/contacts/?sort=name")
    page.locator("#results tbody tr").first.locator("a").first.click()
    page.get_by_role("button", name="Email", exact=True).click()
    expect(page).to_have_url(re.compile(r"/contacts/\d+/email/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Email \S"))
    to = page.locator("main strong").first.inner_text()
    address = to[to.index("<") + 1 : to.index(">")]

    # Start from a template: subject and message are filled in, merge fields still unresolved.
    page.get_by_label("Start from a template").select_option(label="Annual review invitation (Service)")
    page.get_by_role("button", name="Use template").click()
    expect(page.get_by_label("Subject")).to_have_value("Your annual review, {{ contact.first_name }}")

    # A merge field the contact lacks is refused by name and nothing is sent.
    page.get_by_label("Message").fill("Dear {{ contact.frist_name }}, let us meet.")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("alert")).to_contain_text("contact.frist_name")

    # The preview shows the contact's own name in place of the merge field.
    page.get_by_label("Message").fill("Dear {{ contact.first_name }},\n\nLet us meet for your annual review.")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator(".email-preview")
    expect(preview).to_contain_text("Let us meet for your annual review.")
    expect(preview).not_to_contain_text("{{")
    page.screenshot(path=screenshot_dir / "email-compose.png", full_page=True)

    page.get_by_role("button", name="Send").click()
    expect(page).to_have_url(re.compile(r"/agenda/emails/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Your annual review,")
    text = e2e_server.wait_for_mail(address)
    assert "Let us meet for your annual review." in text
    page.reload()
    expect(page.locator(".email-record")).to_contain_text("Sent")
    page.screenshot(path=screenshot_dir / "email-detail.png", full_page=True)

    # The contact's Agenda tab lists it under Emails.
    page.get_by_role("link", name=re.compile("agenda$")).click()
    emails = page.locator("#emails")
    expect(emails).to_contain_text("Your annual review,")
    page.screenshot(path=screenshot_dir / "contact-agenda-tab.png", full_page=True)
    page.set_viewport_size({"width": 360, "height": 800})
    page.reload()
    expect(emails).to_be_visible()
    page.screenshot(path=screenshot_dir / "contact-agenda-tab-phone.png", full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the agenda tab scrolls sideways at 360 px ({width} px)"
    page.goto("/agenda/emails/")
    expect(page.get_by_role("heading", name="Emails")).to_be_visible()
    page.screenshot(path=screenshot_dir / "emails-phone.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/agenda/message-templates/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Message templates")
    page.screenshot(path=screenshot_dir / "message-templates.png", full_page=True)
