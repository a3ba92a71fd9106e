"""Documents in a real browser, at desktop and phone width: upload two files at once, preview the
PDF (inline, in the browser's viewer), download, delete after confirmation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import E2EServer
from tests.browser.test_shell import log_in

pytestmark = pytest.mark.xdist_group("browser")

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
    b"\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82"
)


def _flow(page: Page, e2e_server: E2EServer, screenshot_dir: Path, width: int, suffix: str) -> None:
    log_in(page, (u := e2e_server.user("harbor", "advisor")), e2e_server.backup_code(u))
    page.goto("/contacts/")
    page.locator("#results table tbody tr").nth(3).get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(r"/contacts/\d+/$"))
    page.locator("p.actions").get_by_role("button", name="Documents", exact=True).click()
    expect(page).to_have_url(re.compile(r"/contacts/\d+/documents/$"))

    # Two files at once through the plain multiple file input.
    page.get_by_label(re.compile("^Files")).set_input_files([
        {"name": f"Signed agreement {suffix}.pdf", "mimeType": "application/pdf", "buffer": PDF},
        {"name": f"Passport {suffix}.png", "mimeType": "image/png", "buffer": PNG},
    ])  # fmt: skip
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".flash").first).to_contain_text("Uploaded 2 documents")
    table = page.locator("table tbody")
    expect(table).to_contain_text(f"Signed agreement {suffix}.pdf")
    expect(table).to_contain_text(f"Passport {suffix}.png")
    page.screenshot(path=screenshot_dir / f"documents-contact-{width}.png", full_page=True)

    # Drag and drop: dropped files land in the form's own file input (upload.js).
    dropped = page.evaluate(
        """() => {
            const form = document.querySelector("form[data-dropzone]");
            const data = new DataTransfer();
            data.items.add(new File(["%PDF-1.4"], "a.pdf", {type: "application/pdf"}));
            data.items.add(new File(["hello"], "b.txt", {type: "text/plain"}));
            form.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
            return form.querySelector('input[type="file"]').files.length;
        }"""
    )
    assert dropped == 2
    expect(page.locator(".drop-status")).to_have_text("2 chosen: a.pdf, b.txt")

    # Preview: the PDF is served inline, as a PDF, locked down.
    row = table.locator("tr", has_text=f"Signed agreement {suffix}.pdf")
    preview_href = row.get_by_role("link", name="Preview").get_attribute("href")
    assert preview_href
    response = page.request.get(preview_href)
    assert response.status == 200 and response.body() == PDF
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("inline")
    assert response.headers["x-content-type-options"] == "nosniff"

    # The document's page shows an image preview for the picture.
    table.get_by_role("link", name=f"Passport {suffix}.png").click()
    expect(page.get_by_role("img", name=f"Preview of Passport {suffix}.png")).to_be_visible()
    page.screenshot(path=screenshot_dir / f"documents-detail-{width}.png", full_page=True)
    page.go_back()

    # Download: an attachment with its name.
    with page.expect_download() as download:
        row.get_by_role("link", name="Download").click()
    assert download.value.suggested_filename == f"Signed agreement {suffix}.pdf"

    # Delete, after confirmation.
    row.get_by_role("link", name="Delete").click()
    expect(page.get_by_role("heading", name=re.compile("^Delete Signed agreement"))).to_be_visible()
    page.screenshot(path=screenshot_dir / f"documents-delete-{width}.png", full_page=True)
    page.get_by_role("button", name="Yes, delete it").click()
    expect(page.locator(".flash").first).to_contain_text(f"Deleted Signed agreement {suffix}.pdf")
    expect(page.locator("table tbody")).not_to_contain_text(f"Signed agreement {suffix}.pdf")

    # The firm's list finds the remaining one by name.
    page.goto("/contacts/documents/")
    page.get_by_label("Search by document name").fill(f"passport {suffix}")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("table tbody tr")).to_have_count(1)
    page.screenshot(path=screenshot_dir / f"documents-firm-{width}.png", full_page=True)


def test_documents_at_desktop_width(page: Page, e2e_server: E2EServer, screenshot_dir: Path) -> None:
    _flow(page, e2e_server, screenshot_dir, 1280, "desk")


def test_documents_at_phone_width(new_context: object, e2e_server: E2EServer, screenshot_dir: Path) -> None:
    context: BrowserContext = new_context(viewport={"width": 360, "height": 740}, accept_downloads=True)  # type: ignore[operator]
    _flow(context.new_page(), e2e_server, screenshot_dir, 360, "phone")
