"""The product shell in a real browser: sign-in, white-branding, navigation by rights, firm
isolation, the contact list and a phone-sized screen. Each test follows what a person does and
checks what they see."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import E2EServer

pytestmark = pytest.mark.xdist_group("browser")

ALL_SECTIONS = [
    "Dashboard", "Contacts", "Agenda", "Calendar", "Accounts", "Funding", "Onboarding", "Billing", "Reports",
    "Settings",
]  # fmt: skip
HARBOR_PRIMARY = "rgb(31, 78, 121)"  # #1f4e79
SUMMIT_PRIMARY = "rgb(46, 94, 78)"  # #2e5e4e
LOGIN_ERROR = "That email and password do not match an active account."


def log_in(page: Page, user: dict[str, Any], code: str) -> None:
    """Password, then the second factor (a code from the app, or a backup code)."""
    page.goto("/login/")
    page.get_by_label("Email").fill(user["email"])
    page.get_by_label("Password").fill(user["password"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Two-factor verification")).to_be_visible()
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()


def main_nav_sections(page: Page) -> list[str]:
    return [text.strip() for text in page.locator("header ul.main-nav a").all_inner_texts()]


def header_background(page: Page) -> str:
    return str(page.locator("header.app-header").evaluate("el => getComputedStyle(el).backgroundColor"))


def test_owner_signs_in_sees_branded_shell_and_signs_out(page: Page, e2e_server: E2EServer) -> None:
    owner = e2e_server.user("harbor", "owner")
    log_in(page, owner, e2e_server.totp_code(owner))  # the authenticator-app path, once per user

    header = page.get_by_role("banner")
    expect(header).to_contain_text("Harbor Wealth Partners")
    expect(page).to_have_title(re.compile("Harbor Wealth Partners"))
    assert main_nav_sections(page) == ALL_SECTIONS
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard", exact=True)
    ).to_have_attribute("aria-current", "page")
    # White-branding: the firm's stylesheet is linked, served, and colours the header.
    expect(page.locator('link[rel="stylesheet"][href="/brand/harbor.css"]')).to_have_count(1)
    brand_css = page.request.get("/brand/harbor.css")
    assert brand_css.status == 200
    assert "#1f4e79" in brand_css.text()
    assert header_background(page) == HARBOR_PRIMARY

    header.get_by_role("button", name="Sign out").click()
    # Signing out lands on the sign-in page (the firm's own, /login/harbor/, since it exists).
    expect(page).to_have_url(re.compile(r"/login/(harbor/)?$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_role("banner")).to_have_count(0)

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def test_firm_sign_in_page_wears_the_firm_brand(page: Page, e2e_server: E2EServer) -> None:
    missing = page.goto("/login/no-such-firm/")
    assert missing is not None
    assert missing.status == 404

    response = page.goto("/login/summit/")
    assert response is not None
    assert response.status == 200
    card = page.locator("article.login-card")
    expect(card.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(card).to_contain_text("Summit Ridge Advisors")
    expect(page).to_have_title(re.compile("Summit Ridge Advisors"))
    border = card.evaluate("el => getComputedStyle(el).borderTopColor")
    assert border == SUMMIT_PRIMARY, "the sign-in card should wear Summit's colour from /brand/summit.css"

    advisor = e2e_server.user("summit", "advisor")
    page.get_by_label("Email").fill(advisor["email"])
    page.get_by_label("Password").fill(advisor["password"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Two-factor verification")).to_be_visible()
    page.get_by_label("Code").fill(e2e_server.totp_code(advisor))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    expect(page.get_by_role("banner")).to_contain_text("Summit Ridge Advisors")
    assert header_background(page) == SUMMIT_PRIMARY


def test_wrong_password_shows_error_and_stays_on_login(page: Page, e2e_server: E2EServer) -> None:
    owner = e2e_server.user("harbor", "owner")
    page.goto("/login/")
    page.get_by_label("Email").fill(owner["email"])
    page.get_by_label("Password").fill(owner["password"] + "-wrong")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_have_text(LOGIN_ERROR)
    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.get_by_label("Email")).to_have_value(owner["email"])
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.get_by_role("banner")).to_have_count(0)


def test_assistant_sees_only_crm_navigation_and_is_refused_billing(page: Page, e2e_server: E2EServer) -> None:
    log_in(page, (u := e2e_server.user("harbor", "assistant")), e2e_server.backup_code(u))

    sections = main_nav_sections(page)
    assert "Contacts" in sections
    assert "Billing" not in sections
    assert "Funding" not in sections
    assert not {"Accounts", "Onboarding", "Reports"} & set(sections), sections
    # The dashboard still shows the CRM panel she may see.
    expect(page.get_by_role("heading", name="Contacts", level=2)).to_be_visible()

    response = page.goto("/billing/")
    assert response is not None
    assert response.status == 403


def test_other_firm_cannot_open_a_contact(
    page: Page, e2e_server: E2EServer, new_context: Callable[..., BrowserContext]
) -> None:
    log_in(page, (u := e2e_server.user("harbor", "owner")), e2e_server.backup_code(u))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Contacts").click()
    expect(page.get_by_role("heading", name="Contacts", level=1)).to_be_visible()
    page.locator("table tbody tr").first.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/contacts/\d+/$"))
    contact_path = "/" + page.url.split("/", 3)[3]
    contact_name = page.get_by_role("heading", level=1).inner_text().strip()
    first, _, last = contact_name.partition(" ")
    assert first and last

    charlie = new_context(viewport={"width": 1280, "height": 800}).new_page()
    log_in(charlie, (u := e2e_server.user("summit", "owner")), e2e_server.backup_code(u))
    expect(charlie.get_by_role("banner")).to_contain_text("Summit Ridge Advisors")
    # The same layout wears Summit's colour: the brand stylesheet, not app.css's default, paints the header.
    assert header_background(charlie) == SUMMIT_PRIMARY

    response = charlie.goto(contact_path)
    assert response is not None
    assert response.status == 404
    expect(charlie.locator("body")).not_to_contain_text(contact_name)
    expect(charlie.locator("body")).not_to_contain_text(last)

    charlie.goto("/contacts/")
    expect(charlie.get_by_role("heading", name="Contacts", level=1)).to_be_visible()
    expect(charlie.locator("table tbody")).not_to_contain_text(f"{last}, {first}")


def test_contact_list_fits_one_page_and_filters_by_status(page: Page, e2e_server: E2EServer) -> None:
    log_in(page, (u := e2e_server.user("harbor", "owner")), e2e_server.backup_code(u))
    page.goto("/contacts/")

    rows = page.locator("table tbody tr")
    # 40 seeded contacts (other browser tests may have imported more), 50 per page.
    stats = page.get_by_role("navigation", name="Statistics: filter by status").locator("strong")
    total = int(stats.first.inner_text())  # "All": every contact in the user's scope
    assert total >= 40
    expect(rows).to_have_count(min(total, 50))
    pager = page.get_by_role("navigation", name="Pages")
    expect(pager.get_by_role("link", name="First page")).to_be_visible()
    expect(pager.get_by_role("link", name="Next page")).to_have_count(1 if total > 50 else 0)

    # Pick a status that has contacts, follow its filter link, and see only contacts in that status.
    filters = page.get_by_role("navigation", name="Statistics: filter by status").get_by_role("link")
    chosen = None
    for index in range(1, filters.count()):  # index 0 is "All"
        link = filters.nth(index)
        count = int(link.locator("strong").inner_text())
        if 0 < count < min(total, 50):
            chosen = (link, count, link.inner_text().replace(str(count), "", 1).strip())
            break
    assert chosen is not None, "the demo data should have contacts in more than one status"
    link, count, label = chosen
    link.click()
    expect(page).to_have_url(re.compile(r"\?status=\w+$"))
    expect(rows).to_have_count(count)
    # Columns: select, name, type, account number, status.
    statuses = {text.strip() for text in rows.locator("td:nth-child(5)").all_inner_texts()}
    assert statuses == {label}
    current = page.get_by_role("navigation", name="Statistics: filter by status").locator('a[aria-current="true"]')
    expect(current).to_have_count(1)
    expect(current).to_contain_text(label)
    expect(page.get_by_role("navigation", name="Pages").get_by_role("link", name="Next page")).to_have_count(0)


def test_phone_viewport_shows_navigation_without_horizontal_scroll(
    e2e_server: E2EServer, new_context: Callable[..., BrowserContext], screenshot_dir: Path
) -> None:
    phone = new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = phone.new_page()
    log_in(page, (u := e2e_server.user("harbor", "owner")), e2e_server.backup_code(u))

    nav = page.get_by_role("navigation", name="Main")
    expect(nav).to_be_visible()
    menu = nav.get_by_role("button", name="Menu")
    # On a phone the sections fold behind a menu button, so the page starts near the top.
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(nav.get_by_role("link", name="Contacts", exact=True)).to_be_hidden()
    page.screenshot(path=screenshot_dir / "dashboard-phone.png", full_page=True)
    header_height = page.evaluate("document.querySelector('.app-header').getBoundingClientRect().height")
    assert header_height < 120, f"the folded header is {header_height}px tall"
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    for section in ALL_SECTIONS:
        expect(nav.get_by_role("link", name=section, exact=True)).to_be_visible()
    expect(page.get_by_role("banner").get_by_role("button", name="Sign out")).to_be_visible()
    page.screenshot(path=screenshot_dir / "dashboard-phone-menu.png", full_page=True)
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 390 + 1, f"page is {scroll_width}px wide on a 390px screen"


def test_screenshots_of_login_and_dashboard(page: Page, e2e_server: E2EServer, screenshot_dir: Path) -> None:
    page.goto("/login/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.screenshot(path=screenshot_dir / "login.png", full_page=True)
    page.goto("/login/harbor/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.screenshot(path=screenshot_dir / "login-harbor.png", full_page=True)

    log_in(page, (u := e2e_server.user("harbor", "owner")), e2e_server.backup_code(u))
    expect(page.get_by_role("heading", name="Recently added")).to_be_visible()
    page.screenshot(path=screenshot_dir / "dashboard.png", full_page=True)
    assert (screenshot_dir / "login.png").stat().st_size > 0
    assert (screenshot_dir / "dashboard.png").stat().st_size > 0


def test_invite_set_password_enrol_and_sign_in_with_a_code(
    page: Page, e2e_server: E2EServer, new_context: Callable[..., BrowserContext]
) -> None:
    officer = e2e_server.user("harbor", "owner")
    log_in(page, officer, e2e_server.backup_code(officer))
    page.goto("/settings/users/")
    page.get_by_label("Email").fill("newcomer@harbor.example")
    page.get_by_label("Full name").fill("Nia Newcomer")
    page.get_by_label("Role").select_option("security_officer")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Invitation sent to newcomer@harbor.example.")).to_be_visible()

    mail = e2e_server.wait_for_mail("newcomer@harbor.example")  # sent by the Celery worker
    link = re.search(r"http://127\.0\.0\.1:\d+/invite/\S+/", mail)
    assert link is not None, mail

    newcomer = new_context().new_page()
    newcomer.goto(link.group())
    newcomer.get_by_label("New password", exact=True).fill("harbour lights at dawn 9")
    newcomer.get_by_label("New password confirmation").fill("harbour lights at dawn 9")
    newcomer.get_by_role("button", name="Set password").click()
    expect(newcomer.get_by_text("Your password is set.")).to_be_visible()

    newcomer.get_by_label("Email").fill("newcomer@harbor.example")
    newcomer.get_by_label("Password").fill("harbour lights at dawn 9")
    newcomer.get_by_role("button", name="Sign in").click()
    # A security officer must enrol before anything else.
    expect(newcomer.get_by_role("heading", name="Set up two-factor authentication")).to_be_visible()
    secret = newcomer.locator("code.secret").inner_text()
    newcomer.get_by_label("Code from the app").fill(totp_for(secret))
    newcomer.get_by_role("button", name="Turn on two-factor authentication").click()
    expect(newcomer.get_by_role("heading", name="Two-factor authentication is on")).to_be_visible()
    assert newcomer.locator("ul.backup-codes li").count() == 10
    newcomer.get_by_role("button", name="Continue").click()
    expect(newcomer.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()

    newcomer.get_by_role("banner").get_by_role("button", name="Sign out").click()
    later = new_context().new_page()
    log_in(later, {"email": "newcomer@harbor.example", "password": "harbour lights at dawn 9"}, totp_for(secret, 1))
    expect(later.get_by_role("banner")).to_contain_text("Nia Newcomer")


def totp_for(secret: str, steps_ahead: int = 0) -> str:
    """The authenticator app's code (``steps_ahead`` 30-second steps later: a used code is refused)."""
    from django_otp.oath import totp

    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return f"{totp(key, drift=steps_ahead):06d}"
