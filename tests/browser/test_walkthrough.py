"""Issue #13 in a real browser: what a new user hit, tried again (screenshots in var/screenshots)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import E2EServer
from tests.browser.test_shell import log_in

pytestmark = pytest.mark.xdist_group("browser")


def test_contact_form_checkbox_groups_are_fieldsets(page: Page, e2e_server: E2EServer, screenshot_dir: Path) -> None:
    """Point 8: each checkbox group is a group named by its legend, not a label over the next group."""
    log_in(page, (u := e2e_server.user("harbor", "advisor")), e2e_server.backup_code(u))
    page.goto("/contacts/new/")
    for name in ("Investment objectives", "Trading permissions"):
        group = page.get_by_role("group", name=name)
        expect(group).to_be_visible()
        assert group.get_by_role("checkbox").count() >= 2
    objectives = page.get_by_role("group", name="Investment objectives")
    objectives.get_by_role("checkbox").first.check()
    expect(objectives.get_by_role("checkbox").first).to_be_checked()
    objectives.scroll_into_view_if_needed()
    page.screenshot(path=screenshot_dir / "walkthrough-8-contact-form.png")
    page.set_viewport_size({"width": 360, "height": 800})
    page.get_by_role("group", name="Trading permissions").scroll_into_view_if_needed()
    page.screenshot(path=screenshot_dir / "walkthrough-8-contact-form-360.png")


def test_advisor_filter_and_bulk_fields_show_labels(page: Page, e2e_server: E2EServer, screenshot_dir: Path) -> None:
    """Point 9: the advisor filter offers the firm's people by name; bulk "Edit a field" lists labels."""
    log_in(page, (u := e2e_server.user("harbor", "owner")), e2e_server.backup_code(u))
    page.goto("/contacts/")
    page.get_by_text("Filters", exact=True).click()
    advisor = page.locator("select#id_advisor")
    expect(advisor).to_be_visible()
    names = advisor.locator("option").all_inner_texts()
    assert "Any advisor" in names and len(names) >= 3
    assert "Risk tolerance" in page.locator('select[name="field"] option').all_inner_texts()
    advisor.scroll_into_view_if_needed()
    page.screenshot(path=screenshot_dir / "walkthrough-9-filters.png")
    page.set_viewport_size({"width": 360, "height": 800})
    advisor.scroll_into_view_if_needed()
    page.screenshot(path=screenshot_dir / "walkthrough-9-filters-360.png")


def test_adding_a_contact_with_an_existing_email_warns(page: Page, e2e_server: E2EServer, screenshot_dir: Path) -> None:
    """Point 13: the existing contact is named and linked; "Add anyway and merge" opens the merge."""
    log_in(page, (u := e2e_server.user("harbor", "owner")), e2e_server.backup_code(u))
    page.goto("/contacts/?has_email=yes")
    page.locator("#results table tbody tr a").first.click()
    email = page.locator("a[href^='mailto:']").first.inner_text().strip()
    page.goto("/contacts/new/")
    page.get_by_label("First name", exact=True).fill("Dupli")
    page.get_by_label("Last name", exact=True).fill("Cate")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_role("button", name="Add contact").click()
    warning = page.get_by_role("alert").filter(has_text="This email already belongs")
    expect(warning).to_be_visible()
    page.screenshot(path=screenshot_dir / "walkthrough-13-duplicate-email.png")
    page.set_viewport_size({"width": 360, "height": 800})
    page.screenshot(path=screenshot_dir / "walkthrough-13-duplicate-email-360.png")
    page.set_viewport_size({"width": 1280, "height": 800})
    warning.get_by_role("button", name="Add anyway and merge").click()
    expect(page).to_have_url(re.compile(r"/contacts/merge/compare/\?ids="))


MAIN_PAGES = [
    "/", "/pending/", "/contacts/", "/contacts/?status=prospect&has_email=yes", "/contacts/new/",
    "/contacts/groups/", "/contacts/households/", "/contacts/merge/", "/contacts/import/", "/agenda/",
    "/calendar/", "/accounts/", "/funding/", "/funding/history/", "/funding/settings/", "/onboarding/",
    "/billing/", "/reports/", "/settings/", "/settings/audit/", "/settings/api-tokens/", "/settings/users/",
    "/settings/security/",
    "/agenda/emails/", "/agenda/message-templates/", "/agenda/bulk-emails/", "/agenda/bulk-emails/new/",
    "/messages/", "/dev/outbox/",
]  # fmt: skip


def _request_and_approval_pages(page: Page, timeout: float = 60) -> list[str]:
    """A funding request's page and its client's approval page (no sign-in needed): a request
    Transfer & Pay lists as awaiting its client (the demo has one), and the link of the newest
    approval email to that client in the development outbox (sent by the worker, so waited for)."""
    page.goto("/funding/")
    waiting = page.get_by_role("region", name="Waiting on someone").locator("tbody tr", has_text="Awaiting client")
    request = str(waiting.first.locator("a.ref").get_attribute("href"))
    page.goto(request)
    sent = page.get_by_role("region", name="Timeline").locator("li", has_text="Approval email sent").last
    address = re.findall(r"To (\S+@\S+)", sent.inner_text())[-1]
    emails, deadline = page.locator(".outbox-table tbody tr", has_text="Please review:"), time.monotonic() + timeout
    while True:
        page.goto(f"/dev/outbox/?q={quote(address)}")
        if emails.count():
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"no approval email to {address} in the development outbox")
        time.sleep(0.5)
    emails.first.get_by_role("link").click()
    link = urlsplit(str(page.locator("main a[href*='/approve/']").first.get_attribute("href"))).path
    page.goto(link)
    expect(page.get_by_role("button", name="Send me a code")).to_be_visible()
    return [request, link]


def _main_pages(page: Page) -> list[str]:
    """The fixed main pages, one contact's and one household's page from the demo book, a funding
    request's page and its client's approval page."""
    pages = list(MAIN_PAGES)
    pages += _request_and_approval_pages(page)
    page.goto("/contacts/")
    contact = str(page.locator("#results table tbody tr a").first.get_attribute("href"))
    pages += [contact, f"{contact}agenda/", f"{contact}email/"]
    page.goto("/contacts/households/")
    household = page.locator("main a[href^='/contacts/households/']").first
    if household.count():
        pages.append(str(household.get_attribute("href")))
    return pages


def test_no_main_page_scrolls_sideways_at_360_px(page: Page, e2e_server: E2EServer, screenshot_dir: Path) -> None:
    """Point 12: at 360 px only wide tables scroll, inside their own box; the page itself never does."""
    log_in(page, (u := e2e_server.user("harbor", "owner")), e2e_server.backup_code(u))
    pages = _main_pages(page)
    page.set_viewport_size({"width": 360, "height": 800})
    overflowing = {}
    for url in pages:
        page.goto(url)
        expect(page.locator(".panel-loading")).to_have_count(0)  # the dashboard's panels loaded
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 360:
            overflowing[url] = width
            slug = re.sub(r"\W+", "-", url).strip("-") or "dashboard"
            page.screenshot(path=screenshot_dir / f"walkthrough-12-overflow-{slug}.png", full_page=True)
    assert overflowing == {}


AXE = "/static/vendor/axe-core-4.14.1/axe.min.js"


def test_no_main_page_has_serious_accessibility_violations(page: Page, e2e_server: E2EServer) -> None:
    """axe-core (vendored) on every main page: no serious or critical violation."""
    log_in(page, (u := e2e_server.user("harbor", "owner")), e2e_server.backup_code(u))
    found = {}
    for url in _main_pages(page):
        page.goto(url)
        expect(page.locator(".panel-loading")).to_have_count(0)  # the dashboard's panels loaded
        page.add_script_tag(url=AXE)
        violations = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
        bad = [
            f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
            for v in violations
            if v["impact"] in ("serious", "critical")
        ]
        if bad:
            found[url] = bad
    assert found == {}, "\n".join(f"{k}: {v}" for k, v in found.items())


# What the group-scoped assistant (CRM only) reaches: the same checks as someone with less.
LIMITED_PAGES = ["/", "/pending/", "/contacts/", "/contacts/groups/", "/agenda/", "/calendar/", "/agenda/emails/",
                 "/agenda/bulk-emails/new/", "/messages/", "/settings/"]  # fmt: skip


def test_a_limited_users_pages_have_no_serious_accessibility_violations_or_sideways_scroll(
    page: Page, e2e_server: E2EServer
) -> None:
    log_in(page, (u := e2e_server.user("harbor", "assistant")), e2e_server.backup_code(u))
    found, overflowing = {}, {}
    for width in (1280, 360):
        page.set_viewport_size({"width": width, "height": 800})
        for url in LIMITED_PAGES:
            response = page.goto(url)
            assert response is not None and response.status == 200, url
            expect(page.locator(".panel-loading")).to_have_count(0)
            if width == 360 and (scroll := page.evaluate("document.documentElement.scrollWidth")) > 360:
                overflowing[url] = scroll
            if width == 1280:
                page.add_script_tag(url=AXE)
                violations = page.evaluate(
                    "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                )
                bad = [v["id"] for v in violations if v["impact"] in ("serious", "critical")]
                if bad:
                    found[url] = bad
    assert found == {} and overflowing == {}, (found, overflowing)


def test_sections_not_built_yet_say_so(page: Page, e2e_server: E2EServer, screenshot_dir: Path) -> None:
    """Point 4: a capability that is not built yet says so, instead of an empty state."""
    log_in(page, (u := e2e_server.user("harbor", "owner")), e2e_server.backup_code(u))
    for url in ("/onboarding/", "/billing/", "/reports/"):
        page.goto(url)
        expect(page.locator(".panel-loading")).to_have_count(0)  # the dashboard's panels loaded
        expect(page.locator("main")).to_contain_text("not built yet")
    page.screenshot(path=screenshot_dir / "walkthrough-4-not-built.png", full_page=True)
