"""Merging duplicates in a real browser: find them, compare, choose a value, merge, undo."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import E2EServer
from tests.browser.test_shell import log_in

pytestmark = pytest.mark.xdist_group("browser")


def create_contact(page: Page, **fields: str) -> int:
    """Through the API with the browser's session (and its CSRF token), as a script on the page would."""
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post("/api/v1/contacts/", data=fields, headers={"X-CSRFToken": token})
    assert response.status == 201, response.text()
    return int(response.json()["id"])


def test_find_compare_merge_and_undo(page: Page, e2e_server: E2EServer, screenshot_dir: Path) -> None:
    owner = e2e_server.user("harbor", "owner")
    log_in(page, owner, e2e_server.backup_code(owner))
    page.goto("/contacts/")  # sets the CSRF cookie
    first = create_contact(page, first_name="Merle", last_name="Dupont", email="merle.dupont@e2e.test",
                           occupation="Architect")  # fmt: skip
    second = create_contact(page, first_name="Merle", last_name="Dupont", email="Merle.Dupont@E2E.test",
                            mobile_phone="+1 617 555 0142", occupation="Engineer")  # fmt: skip

    page.goto("/contacts/merge/")
    expect(page.get_by_role("heading", name="Possible duplicates", level=1)).to_be_visible()
    cluster = page.locator("article.duplicate-cluster").filter(has_text="Same email: merle.dupont@e2e.test")
    expect(cluster).to_have_count(1)
    cluster.get_by_role("button", name=re.compile("^Compare Merle Dupont")).click()

    expect(page.get_by_role("heading", name="Compare and merge")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"ids={first}.*{second}|ids={first}%2C{second}"))
    # The kept contact's occupation is the default; take the other's instead.
    page.get_by_role("radio", name="Engineer").check()
    page.screenshot(path=str(screenshot_dir / "contact-merge-compare.png"), full_page=True)
    page.get_by_role("button", name="Merge into the contact kept").click()
    # A merge asks first: the dialog says what happens; Cancel keeps the page as it is.
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Merge these contacts?")
    page.screenshot(path=str(screenshot_dir / "contact-merge-confirm.png"), full_page=True)
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_role("heading", name="Compare and merge")).to_be_visible()
    page.get_by_role("button", name="Merge into the contact kept").click()
    page.get_by_role("dialog").get_by_role("button", name="Merge contacts").click()

    expect(page.get_by_role("heading", name="Merge into Merle Dupont")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Merged Merle Dupont into Merle Dupont")
    assert page.request.get(f"/contacts/{second}/").status == 404
    kept = page.request.get(f"/api/v1/contacts/{first}/").json()
    assert (kept["occupation"], kept["mobile_phone"]) == ("Engineer", "+1 617 555 0142")

    page.get_by_role("button", name="Undo this merge").click()
    page.get_by_role("dialog").get_by_role("button", name="Undo merge").click()
    expect(page.get_by_role("status")).to_contain_text("Merge undone: Merle Dupont restored.")
    expect(page.get_by_role("button", name="Undo this merge")).to_have_count(0)
    page.screenshot(path=str(screenshot_dir / "contact-merge-undone.png"), full_page=True)
    restored = page.request.get(f"/api/v1/contacts/{second}/").json()
    assert (restored["email"], restored["occupation"]) == ("Merle.Dupont@E2E.test", "Engineer")
    assert page.request.get(f"/api/v1/contacts/{first}/").json()["occupation"] == "Architect"
