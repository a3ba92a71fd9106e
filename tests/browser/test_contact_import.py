"""Contact import in a real browser with a real Celery worker: upload a vCard file of several
cards, see the preview, apply it, watch the progress bar until done, then find the contacts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import E2EServer
from tests.browser.test_shell import log_in

pytestmark = pytest.mark.xdist_group("browser")

VCARDS = Path("/work/shared/reference/vcards/ez-vcard/gmail-list.vcf")
CARDS = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Zyxwardt;Ottilie;;;\r\nFN:Ottilie Zyxwardt\r\n"
    "EMAIL;TYPE=INTERNET:ottilie.zyxwardt@example.com\r\nTEL;TYPE=CELL:+1 617 555 0101\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:Zyxwardt;J=C3=BCrgen;;;\r\n"
    "EMAIL;PREF;INTERNET:juergen.zyxwardt@example.com\r\nEND:VCARD\r\n"
)


def test_upload_vcards_preview_apply_and_see_contacts(
    page: Page, e2e_server: E2EServer, screenshot_dir: Path, tmp_path: Path
) -> None:
    vcf = tmp_path / "friends.vcf"
    vcf.write_bytes(CARDS.encode() + (VCARDS.read_bytes() if VCARDS.exists() else b""))
    log_in(page, (u := e2e_server.user("harbor", "owner")), e2e_server.backup_code(u))
    page.goto("/contacts/import/")
    expect(page.get_by_role("heading", name="Import contacts", level=1)).to_be_visible()
    page.get_by_label("Contacts file").set_input_files(str(vcf))
    page.get_by_role("button", name="Upload and preview").click(timeout=60_000)

    expect(page).to_have_url(re.compile(r"/contacts/import/\d+/$"), timeout=60_000)
    expect(page.locator('[data-count="created"]')).to_have_text("5" if VCARDS.exists() else "2")
    expect(page.locator("table[data-class=create]")).to_contain_text("Jürgen Zyxwardt")
    page.screenshot(path=str(screenshot_dir / "contact-import-preview.png"), full_page=True)

    page.get_by_role("button", name=re.compile("^Apply")).click()
    status = page.locator("#import-status")
    expect(status).to_contain_text("Done", timeout=60_000)  # polled every second by htmx
    expect(page.locator("#import-progress")).to_have_attribute("value", "100")
    expect(status).not_to_have_attribute("hx-trigger", "every 1s")
    page.screenshot(path=str(screenshot_dir / "contact-import-done.png"), full_page=True)

    page.goto("/contacts/?q=zyxwardt")
    expect(page.get_by_text("Ottilie", exact=False).first).to_be_visible()
    expect(page.get_by_text("Jürgen", exact=False).first).to_be_visible()
