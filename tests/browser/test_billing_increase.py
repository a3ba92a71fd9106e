"""A client approves a fee increase from the emailed link, in a real browser (issue #18, point 5
and "Done when"): a fee administrator makes a schedule on two clients' accounts and raises it
(new terms from a date, on the schedule's page), sees both increases awaiting the clients on Fee
billing → Fee increases, and the first client, in a browser of their own, opens the emailed link
(read in the development outbox), gets a one-time code, reads the terms and approves. The advisor
sees it approved with the agreement on the client's documents, and the next preview bills the new
terms for that client and the old ones for the other. The other client's link expires; the
advisor sends a new one and that client declines it. A used or expired link gets the one clear
page. The client's approval page and the advisor's increases page at desktop and phone width.

Screenshots go to var/screenshots (billing-increase-*.png)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.browser.conftest import E2EServer, _with_database
from tests.browser.test_funding import (  # the approval page's refusal counter, reset per test
    _approval_page_refusals_forgotten,  # noqa: F401
    _e2e_database,
    ask_for_code,
    money,
    newest_email,
    no_sideways_scroll,
    one_time_code,
)
from tests.browser.test_shell import log_in

pytestmark = pytest.mark.xdist_group("browser")

FIRM = "Harbor Wealth Partners"
NOT_USABLE = "This link cannot be used"


def _owner_sql(query: str, params: list[object]) -> list[tuple[object, ...]]:
    """A read (or, for the expiry, a write) in the browser server's database inside Harbor's
    row-level security scope, as the owner role: the test's own setup and cross-checks."""
    import os

    url = _with_database(os.environ["DATABASE_OWNER_URL"], _e2e_database())
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT set_config('app.firm_id', id::text, false) FROM accounts_firm WHERE name = %s", [FIRM])
        cursor = conn.execute(query, params)
        return cursor.fetchall() if cursor.description else []


def two_clients() -> list[tuple[str, str, str]]:
    """Two open accounts of two clients with an email on record, on no fee schedule yet:
    (account number, the primary owner's name, their email)."""
    rows = _owner_sql(
        """SELECT DISTINCT ON (c.id) a.number, trim(c.first_name || ' ' || c.last_name), c.email
             FROM portfolios_clientaccount a
             JOIN portfolios_accountowner o ON o.account_id = a.id AND o.role = 'primary'
             JOIN crm_contact c ON c.id = o.contact_id
            WHERE NOT a.is_master AND a.status <> 'closed' AND a.nav > 1000 AND c.email <> ''
              AND NOT EXISTS (SELECT 1 FROM billing_feeassignment f WHERE f.account_id = a.id
                              OR f.household_id = a.household_id)
              AND NOT EXISTS (SELECT 1 FROM portfolios_accountowner p WHERE p.account_id = a.id AND p.id <> o.id)
            ORDER BY c.id, a.number""",
        [],
    )
    assert len(rows) >= 2, "the demo firm has clients with email addresses"
    return [(str(n), str(name), str(email)) for n, name, email in rows[-2:]]


def last_quarter() -> tuple[date, date]:
    today = date.today()
    first = date(today.year, 1 + 3 * ((today.month - 1) // 3), 1)
    end = first - timedelta(days=1)
    return date(end.year, end.month - 2, 1), end


def increase_row(page: Page, number: str) -> Locator:
    return page.locator("main table tbody tr", has_text=number)


def approval_email(mail: Page, address: str) -> str:
    """The newest approval email to ``address`` in the outbox: its link."""
    newest_email(mail, address)
    expect(mail.get_by_role("heading", level=1)).to_contain_text("Please review: Fee change")
    link = mail.locator("main a[href*='/approve/']").first.get_attribute("href")
    assert link, "no approval link in the email"
    return link


def quarterly_fee(value: Decimal, pct: str) -> Decimal:
    return (value * Decimal(pct) / 100 / 4).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def preview(page: Page, numbers: list[str]) -> dict[str, tuple[Decimal, Decimal, str]]:
    """A preview of last quarter for ``numbers`` computed by the worker: each line's value, fee and
    "Why"."""
    start, end = last_quarter()
    page.goto("/billing/runs/")
    page.get_by_label("Period from").fill(start.isoformat())
    page.get_by_label("Period to").fill(end.isoformat())
    page.get_by_label("Only these accounts").fill("\n".join(numbers))
    page.get_by_role("button", name="Compute a preview").click()
    expect(page.get_by_role("heading", name="Pre-bill audit")).to_be_visible(timeout=60_000)
    lines = page.get_by_role("region", name="Fee lines")
    found = {}
    for number in numbers:
        row = lines.locator("tbody tr", has=page.get_by_role("link", name=number, exact=True))
        expect(row).to_have_count(1)
        row.locator("details.line-why summary").click()
        cells = row.locator("td")
        found[number] = (
            money(cells.nth(2).inner_text()),
            money(cells.nth(3).inner_text()),
            row.locator("details.line-why p").inner_text(),
        )
    return found


@pytest.fixture
def person(new_context: Callable[..., BrowserContext]) -> Callable[..., Page]:
    def open_page(width: int = 1280, height: int = 800) -> Page:
        return new_context(viewport={"width": width, "height": height}).new_page()

    return open_page


def test_a_client_approves_a_fee_increase_from_the_emailed_link(
    page: Page, e2e_server: E2EServer, person: Callable[..., Page], screenshot_dir: Path
) -> None:
    (olga_number, olga, olga_email), (hugo_number, hugo, hugo_email) = two_clients()
    owner = e2e_server.user("harbor", "owner")
    log_in(page, owner, e2e_server.backup_code(owner))
    start, _ = last_quarter()

    # The fee administrator makes a schedule at 1 % on the two accounts...
    name = f"Increase test {uuid.uuid4().hex[:6]}"
    page.goto("/billing/schedules/new/")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Effective from").fill("2020-01-01")
    page.get_by_label("Method").select_option("tiered")
    page.get_by_label("Band 1: annual rate %").fill("1.00")
    page.get_by_label("Valuation").select_option("period_end")
    page.get_by_role("button", name="Create schedule").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    page.get_by_text("Assign to accounts or households").click()
    page.get_by_label("Account numbers").fill(f"{olga_number} {hugo_number}")
    page.get_by_label("These accounts", exact=True).check()
    page.get_by_role("button", name="Assign").click()
    expect(page.get_by_role("status").filter(has_text=f"{name} assigned to 2 accounts.")).to_be_visible()
    # ... four eyes off (a one-person demo firm previews and approves its own runs) ...
    schedule_url = page.url
    page.goto("/billing/settings/")
    page.get_by_label("Four eyes: a run is approved by someone other than who prepared it").uncheck()
    page.get_by_role("button", name="Save settings").click()

    # ... and raises it to 1.5 % from the start of last quarter: both clients are asked.
    page.goto(schedule_url)
    page.get_by_text("New terms from a date").click()
    terms = page.get_by_role("form", name="New terms")
    terms.get_by_label("Effective from").fill(start.isoformat())
    terms.get_by_label("Method").select_option("tiered")
    terms.get_by_label("Band 1: annual rate %").fill("1.50")
    terms.get_by_label("Valuation").select_option("period_end")
    terms.get_by_role("button", name="Save the new terms").click()
    expect(page.locator("main")).to_contain_text("1.5 % a year")

    page.get_by_role("navigation", name="Fee billing").get_by_role("link", name="Fee increases").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Fee increases")
    for number, client in ((olga_number, olga), (hugo_number, hugo)):
        row = increase_row(page, number)
        expect(row).to_have_count(1)
        expect(row).to_contain_text(client)
        expect(row).to_contain_text("Awaiting the client")
        expect(row).to_contain_text(name)
        expect(row.get_by_role("button", name=re.compile("^Resend"))).to_be_visible()
    olga_reference = increase_row(page, olga_number).locator("td").first.inner_text().split()[0]
    hugo_reference = increase_row(page, hugo_number).locator("td").first.inner_text().split()[0]
    assert re.fullmatch(r"FI-\d+", olga_reference), olga_reference
    no_sideways_scroll(page, 1280)
    page.screenshot(path=screenshot_dir / "billing-increase-pending-1280.png", full_page=True)

    # Until they answer, the preview bills the old terms and says why.
    before = preview(page, [olga_number, hugo_number])
    for number, reference in ((olga_number, olga_reference), (hugo_number, hugo_reference)):
        value, fee, why = before[number]
        assert fee == quarterly_fee(value, "1.00"), (number, value, fee, why)
        assert f"The fee increase {reference}" in why and "waits for the client's approval" in why, why

    # The first client: the email in the outbox, the link in a browser with no staff session.
    client = person()
    mail = client.context.new_page()
    link = approval_email(mail, olga_email)
    expect(mail.locator("pre.outbox-text")).to_contain_text(olga_reference)
    mail.screenshot(path=screenshot_dir / "billing-increase-email-1280.png", full_page=True)
    client.goto(link)
    expect(client.get_by_role("heading", level=1)).to_contain_text("Fee change")
    details = client.locator("table.approval-details")
    expect(details).to_contain_text(olga_reference)
    expect(details).to_contain_text(f"{name}: tiered, 1 %")
    expect(details).to_contain_text(f"{name}: tiered, 1.5 %")
    expect(client.locator("header.client-brand")).to_contain_text(FIRM)
    shown = details.inner_text().replace(olga_reference, "")
    assert olga_number not in shown, "the account number is shown in clear"
    assert not [c for c in client.context.cookies() if c["name"] == "sessionid"]
    no_sideways_scroll(client, 1280)
    client.screenshot(path=screenshot_dir / "billing-increase-approval-1280.png", full_page=True)

    ask_for_code(client)
    code = one_time_code(mail, olga_email, screenshot_dir, "billing-increase-code-email-1280.png")
    client.get_by_label("One-time code").fill(code)
    client.get_by_role("button", name="Approve the new fees").click()
    expect(client.get_by_role("heading", level=1)).to_have_text("Thank you")
    expect(client.get_by_role("status")).to_contain_text("You approved the fee change. It takes effect from")
    client.screenshot(path=screenshot_dir / "billing-increase-approved-1280.png", full_page=True)

    # The used link again: the one clear page, naming nothing.
    client.goto(link)
    expect(client.get_by_role("heading", level=1)).to_have_text(NOT_USABLE)
    expect(client.locator("main")).to_contain_text("contact your advisor and ask for a new email")
    expect(client.locator("main")).not_to_contain_text(olga_reference)
    client.screenshot(path=screenshot_dir / "billing-increase-used-link-1280.png", full_page=True)

    # The advisor: approved, the agreement on the client's documents.
    page.goto("/billing/increases/")
    row = increase_row(page, olga_number)
    expect(row).to_contain_text("Approved by the client")
    expect(row).to_contain_text("Approved by the client from the emailed link with a one-time code")
    expect(row.get_by_role("button", name=re.compile("^Resend"))).to_have_count(0)
    row.get_by_role("link", name="Agreement on the client's documents").click()
    expect(page.locator("main")).to_contain_text(f"Fee agreement {olga_reference}.pdf")
    page.screenshot(path=screenshot_dir / "billing-increase-agreement-documents-1280.png", full_page=True)

    # The second client's link expires unused: refused; the advisor sends a new one; declined.
    hugo_link = approval_email(mail, hugo_email)
    _owner_sql(
        "UPDATE links_link SET expires_at = now() - interval '1 minute' "
        "WHERE purpose = 'billing.fee_increase' AND subject_id = %s AND used_at IS NULL",
        [hugo_reference.removeprefix("FI-")],
    )
    phone = person(360, 740)
    phone.goto(hugo_link)
    expect(phone.get_by_role("heading", level=1)).to_have_text(NOT_USABLE)
    expect(phone.locator("main")).not_to_contain_text(hugo_reference)
    no_sideways_scroll(phone, 360)
    phone.screenshot(path=screenshot_dir / "billing-increase-expired-link-360.png", full_page=True)

    page.goto("/billing/increases/")
    increase_row(page, hugo_number).get_by_role("button", name=re.compile("^Resend")).click()
    expect(page.get_by_role("status").filter(has_text=f"{hugo_reference}: a new email was sent to")).to_be_visible()
    new_link = approval_email(mail, hugo_email)
    assert new_link != hugo_link
    phone.goto(new_link)
    expect(phone.get_by_role("heading", level=1)).to_contain_text("Fee change")
    expect(phone.locator("table.approval-details")).to_contain_text(hugo_reference)
    no_sideways_scroll(phone, 360)
    sizes = phone.locator("table.approval-details :is(th, td)").evaluate_all(
        "cells => cells.map(c => [parseFloat(getComputedStyle(c).fontSize), c.getBoundingClientRect().right])"
    )
    assert sizes and all(size >= 14 and right <= 360 for size, right in sizes), sizes
    phone.screenshot(path=screenshot_dir / "billing-increase-approval-360.png", full_page=True)
    ask_for_code(phone)
    code = one_time_code(mail, hugo_email, screenshot_dir, "billing-increase-code-email-2.png")
    phone.get_by_label("One-time code").fill(code)
    phone.get_by_label("Comment (optional)").fill("I would rather keep my current fee")
    phone.get_by_role("button", name="Decline").click()
    expect(phone.get_by_role("status")).to_contain_text("You declined the fee change. Your fees stay as they were")
    no_sideways_scroll(phone, 360)
    phone.screenshot(path=screenshot_dir / "billing-increase-declined-360.png", full_page=True)

    page.goto("/billing/increases/")
    row = increase_row(page, hugo_number)
    expect(row).to_contain_text("Declined by the client")
    expect(row).to_contain_text("I would rather keep my current fee")
    page.screenshot(path=screenshot_dir / "billing-increase-answered-1280.png", full_page=True)
    page.set_viewport_size({"width": 360, "height": 800})
    no_sideways_scroll(page, 360)
    page.screenshot(path=screenshot_dir / "billing-increase-answered-360.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})

    # The next preview: the new terms for the client who approved, the old for the one who declined.
    after = preview(page, [olga_number, hugo_number])
    value, fee, why = after[olga_number]
    assert fee == quarterly_fee(value, "1.50"), (value, fee, why)
    assert "waits for" not in why
    value, fee, why = after[hugo_number]
    assert fee == quarterly_fee(value, "1.00"), (value, fee, why)
    assert f"The fee increase {hugo_reference}" in why and "was declined by the client" in why, why
    page.screenshot(path=screenshot_dir / "billing-increase-preview-after-1280.png", full_page=True)
