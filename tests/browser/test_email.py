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


def test_email_a_group_then_follow_the_email_in_the_outbox(
    page: Page, e2e_server: E2EServer, screenshot_dir: Path
) -> None:
    """A marketing bulk email to a group, confirmed, sent by the worker with a progress bar; the
    development outbox shows one of the emails, whose unsubscribe link works."""
    log_in(page, (u := e2e_server.user("harbor", "owner")), e2e_server.backup_code(u))
    page.goto("/agenda/bulk-emails/")
    page.get_by_role("button", name="Email contacts").click()
    page.get_by_label("Group").select_option(index=1)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Recipients")).to_be_visible()
    page.get_by_label("Message template").select_option(label="Quarterly market update (Marketing)")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="Preview for the first recipient")).to_be_visible()
    page.screenshot(path=screenshot_dir / "bulk-email-new.png", full_page=True)
    send = page.get_by_role("button", name=re.compile(r"^Send to \d+ contacts?$"))
    count = int(re.findall(r"\d+", send.inner_text())[0])
    send.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Send to {count} contact")
    dialog.get_by_role("button", name="Send").click()
    expect(page).to_have_url(re.compile(r"/agenda/bulk-emails/\d+/$"))
    expect(page.locator("#sent-count")).to_have_text(str(count), timeout=60_000)
    expect(page.get_by_role("status").filter(has_text="Every email was handed")).to_be_visible()
    page.screenshot(path=screenshot_dir / "bulk-email-done.png", full_page=True)

    # The development outbox lists them; one opens with its unsubscribe link, which works.
    page.get_by_role("link", name="Outbox (development)").click()
    page.get_by_label("Search recipients or subject").fill("Markets this quarter")
    page.get_by_role("button", name="Search").click()
    rows = page.locator(".outbox-table tbody tr")
    expect(rows.first).to_be_visible()
    assert rows.count() >= count
    page.screenshot(path=screenshot_dir / "outbox.png", full_page=True)
    rows.first.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Markets this quarter")
    page.screenshot(path=screenshot_dir / "outbox-email.png", full_page=True)
    page.locator('main a[href*="/mail/unsubscribe/"]').first.click()
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.locator("main")).to_contain_text("will no longer receive marketing emails")
