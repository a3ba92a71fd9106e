"""Money movement in a real browser (issue #17, "Done when"): an advisor requests a withdrawal to a
client's saved bank instruction, the client approves it from the emailed link with a one-time code
(both emails read in the development outbox, the client in a browser of their own), another
Funding Authorizer authorizes it, it is marked completed with the custodian's reference, and the
account's ledger and available cash show it exactly once. Then the approval page at phone width
and the one answer of a used link.

Screenshots go to ``$FUNDING_SCREENSHOTS`` (default: var/screenshots/funding).
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote, urlsplit

import psycopg
import pytest
import redis
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import SCREENSHOT_DIR, E2EServer, _with_database
from tests.browser.test_shell import log_in

pytestmark = pytest.mark.xdist_group("browser")

MAIL_TIMEOUT = 60.0  # seconds: a real Celery worker sends the emails, on a busy machine
FIRM = "Harbor Wealth Partners"
CODE_NOT_VALID = "That code is not right, or it has expired."
NOT_USABLE = "This link cannot be used"


@pytest.fixture(scope="module")
def shots() -> Path:
    path = Path(os.environ.get("FUNDING_SCREENSHOTS") or SCREENSHOT_DIR / "funding")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _e2e_database() -> str:
    """The browser server's database (named as tests/browser/conftest.py names it)."""
    base = urlsplit(os.environ["DATABASE_OWNER_URL"]).path.lstrip("/")
    return f"{base}_e2e_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


@pytest.fixture(autouse=True)
def _approval_page_refusals_forgotten(e2e_server: E2EServer) -> None:
    """The approval page answers 429 past twenty bad tokens or wrong codes from one address in a
    quarter of an hour, and every browser test comes from 127.0.0.1: start each test at zero, as
    tests/conftest.py does for the test client (the server's cache key: advisorportal.cache)."""
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        client.delete(f"ap:{_e2e_database()}:1:links:refusals:127.0.0.1")
    finally:
        client.close()


def ledger_rows_with_external_id(reference: str) -> int:
    """Transaction rows whose external id is ``reference``, in the browser server's database
    (a cross-check of what the pages show; read as the owner role inside the firm's RLS scope)."""
    url = _with_database(os.environ["DATABASE_OWNER_URL"], _e2e_database())
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT set_config('app.firm_id', id::text, false) FROM accounts_firm WHERE name = %s", [FIRM])
        row = conn.execute("SELECT count(*) FROM portfolios_transaction WHERE external_id = %s", [reference]).fetchone()
    assert row is not None
    return int(row[0])


def money(text: str) -> Decimal:
    """``12,345.67 USD`` or ``-317.42`` as a Decimal."""
    found = re.search(r"-?[\d,]+(?:\.\d+)?", text)
    assert found, f"no amount in {text!r}"
    return Decimal(found.group(0).replace(",", ""))


def no_sideways_scroll(page: Page, width: int) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url} scrolls sideways at {width} px ({scroll} px wide)"


def newest_email(page: Page, query: str, *, timeout: float = MAIL_TIMEOUT) -> None:
    """Open the newest email in the development outbox whose recipients or subject contain
    ``query``, reloading the search until the worker has sent one."""
    deadline = time.monotonic() + timeout
    rows = page.locator(".outbox-table tbody tr")
    while True:
        page.goto(f"/dev/outbox/?q={quote(query)}")
        if rows.count():
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"no email matching {query!r} in the outbox within {timeout:.0f} s")
        time.sleep(0.5)
    rows.first.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def cash_on_transfer_pay(page: Page, number: str) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    """The account's cash on Transfer & Pay (found by its number): settled, on hold and available
    per currency, read from its rows (the first row names the account for all of them)."""
    page.goto("/funding/")
    page.get_by_label("Number or title starts with").fill(number)
    page.get_by_role("button", name="Find", exact=True).click()
    accounts = page.get_by_role("region", name="Client accounts").locator("table tbody")
    expect(accounts.locator("th", has_text=number).first).to_be_visible()
    rows = accounts.evaluate(
        """(body, number) => {
            const named = r => r.cells[0].tagName === "TH" && r.cells[0].firstChild.textContent.trim() === number;
            const first = [...body.rows].find(named);
            const span = first.cells[0].rowSpan || 1;
            const rows = [...body.rows].slice(first.sectionRowIndex, first.sectionRowIndex + span);
            return rows.map(r => [...r.cells].filter(c => c.tagName === "TD").slice(0, 4).map(c => c.innerText));
        }""",
        number,
    )
    return {
        currency.strip(): (money(settled), money(held), money(available)) for currency, settled, held, available in rows
    }


def a_withdrawal_account(page: Page) -> str:
    """An account whose client has had withdrawals to a saved bank instruction: the newest
    withdrawal's account in the transaction history (the demo's are to saved instructions)."""
    page.goto("/funding/history/")
    page.get_by_label("Type").select_option(label="Withdrawal")
    page.get_by_role("button", name="Show").click()
    first = page.locator("main table tbody tr").first
    expect(first).to_contain_text("Withdrawal")
    return first.locator("td").nth(5).inner_text().strip()


def request_withdrawal(page: Page, number: str, amount: str, note: str, shots: Path, prefix: str) -> str:
    """From the account's row on Transfer & Pay, a withdrawal to the client's saved bank
    instruction, saved as a draft; returns the draft's reference (FR-…)."""
    cash_on_transfer_pay(page, number)
    page.get_by_role("link", name=f"Withdraw from {number}", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New withdrawal")
    bank = page.get_by_label("To the bank account")
    options = bank.locator("option").all_inner_texts()
    assert len(options) >= 2, f"no saved bank instruction for {number}: {options}"
    bank.select_option(index=1)
    assert re.search(r"•+\s?\d{4}", options[1]), f"the bank account is not shown masked: {options[1]!r}"
    page.get_by_label("Amount").fill(amount)
    expect(page.get_by_label("Currency")).to_have_value("USD")
    page.get_by_label("ACH").check()
    page.get_by_label("Note").fill(note)
    page.screenshot(path=shots / f"{prefix}-new-withdrawal.png", full_page=True)
    page.get_by_role("button", name="Save as draft").click()
    expect(page).to_have_url(re.compile(r"/funding/requests/\d+/$"))
    expect(page.get_by_role("status").filter(has_text="Saved as a draft")).to_be_visible()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text(f"Withdrawal of {amount} USD")
    expect(heading).to_contain_text("Draft")
    facts = page.get_by_role("region", name="The request")
    reference = facts.locator("dt", has_text=re.compile(r"^Request$")).locator("+ dd").inner_text().strip()
    assert re.fullmatch(r"FR-\S+", reference), reference
    return reference


def send(page: Page, client: str) -> None:
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("status").filter(has_text=f"Sent: {client} gets an email to approve it.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Awaiting client")
    expect(page.get_by_role("region", name="The request")).to_contain_text("An emailed link is waiting for the client.")


def fact(page: Page, label: str) -> str:
    facts = page.get_by_role("region", name="The request")
    return facts.locator("dt", has_text=re.compile(f"^{re.escape(label)}$")).locator("+ dd").inner_text().strip()


def approval_link(mail: Page, amount: str) -> tuple[str, str]:
    """The approval email for ``amount`` in the outbox: (the link, the client's address)."""
    newest_email(mail, f"Please review: Withdrawal of {amount} USD")
    expect(mail.get_by_role("heading", level=1)).to_have_text(f"Please review: Withdrawal of {amount} USD")
    to = mail.locator("dl.outbox-facts dt", has_text=re.compile("^To$")).locator("+ dd").inner_text()
    address = re.findall(r"[\w.+-]+@[\w.-]+", to)[0]
    link = mail.locator("main a[href*='/approve/']").first.get_attribute("href")
    assert link, "no approval link in the email"
    return link, address


def one_time_code(mail: Page, address: str, shots: Path, name: str) -> str:
    """The newest code email to ``address``, read in the outbox."""
    deadline = time.monotonic() + MAIL_TIMEOUT
    while True:
        newest_email(mail, address)
        subject = mail.get_by_role("heading", level=1).inner_text()
        if subject.startswith("Your code:"):
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"no code email to {address} within {MAIL_TIMEOUT:.0f} s (newest: {subject!r})")
        time.sleep(0.5)
    mail.screenshot(path=shots / name, full_page=True)
    text = mail.locator("pre.outbox-text").inner_text()
    code = re.search(r"\b(\d{6})\b", text)
    assert code, text
    return code.group(1)


def ask_for_code(client: Page) -> None:
    client.get_by_role("button", name="Send me a code").click()
    expect(client).to_have_url(re.compile(r"/approve/[^/]+/\?sent=1$"))
    expect(client.locator("main")).to_contain_text("We sent a six-digit code by email to")


@pytest.fixture
def person(new_context: Callable[..., BrowserContext]) -> Iterator[Callable[..., Page]]:
    """A page in a browser context of its own (another person, another device)."""

    def open_page(width: int = 1280, height: int = 800) -> Page:
        return new_context(viewport={"width": width, "height": height}).new_page()

    yield open_page


def test_a_withdrawal_from_request_to_the_ledger_exactly_once(
    page: Page, e2e_server: E2EServer, person: Callable[..., Page], shots: Path
) -> None:
    advisor = e2e_server.user("harbor", "advisor")
    log_in(page, advisor, e2e_server.backup_code(advisor))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Funding", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Transfer & Pay")
    page.screenshot(path=shots / "1-01-transfer-pay.png", full_page=True)

    number = a_withdrawal_account(page)
    page.screenshot(path=shots / "1-02-history-withdrawals.png", full_page=True)
    _, held_before, available_before = cash_on_transfer_pay(page, number)["USD"]
    amount = f"{100 + uuid.uuid4().int % 800}.{uuid.uuid4().int % 90 + 10}"  # an amount of this run only
    assert available_before > Decimal(amount)

    # The draft's page: the program's answer and why, and what the advisor may do with it.
    reference = request_withdrawal(page, number, amount, "Browser test: school books", shots, "1-03")
    client = fact(page, "Client").split(" · ")[0]
    decision = page.get_by_role("article").filter(has=page.get_by_role("heading", name="Who approves it, and why"))
    expect(decision).to_contain_text(f"Under Streamlined Plus, {client} approves it from the emailed link")
    expect(decision).to_contain_text("One Funding Authorizer who did not request it.")
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()
    page.screenshot(path=shots / "1-04-draft.png", full_page=True)

    send(page, client)
    actions = page.get_by_role("region", name="What you can do")
    expect(actions).to_contain_text("the client approves it from the emailed link")
    expect(page.get_by_role("region", name="Cash hold")).to_contain_text(f"{amount} USD held on {number}")
    page.screenshot(path=shots / "1-05-awaiting-client.png", full_page=True)

    # The client: the approval email in the outbox, the link in a browser with no staff session.
    client_page = person()
    mail = client_page.context.new_page()  # the client's mailbox, in another tab
    link, address = approval_link(mail, amount)
    expect(mail.locator("pre.outbox-text")).to_contain_text(reference)
    html_part = mail.frame_locator("iframe.outbox-frame").locator("body")
    expect(html_part).to_contain_text(f"{amount} USD")
    expect(html_part.get_by_role("link", name="Review the request")).to_be_visible()
    mail.screenshot(path=shots / "1-06-outbox-approval-email.png", full_page=True)
    client_page.goto(link)
    expect(client_page.get_by_role("heading", level=1)).to_have_text(f"Withdrawal of {amount} USD")
    details = client_page.locator("table.approval-details")
    expect(details.locator("tr", has_text="Amount")).to_contain_text(f"{amount} USD")
    bank_row = details.locator("tr", has=client_page.locator("th", has_text=re.compile("^Bank account$")))
    expect(bank_row).to_contain_text(re.compile(r"checking •+\s?\d{4}, routing •+\s?\d{4}, USD"))
    shown = details.inner_text().replace(reference, "")
    assert not re.search(r"\d{5,}", shown), f"a bank or account number is shown in clear: {shown}"
    expect(details).to_contain_text(reference)
    expect(client_page.locator("header.client-brand")).to_contain_text(FIRM)
    expect(client_page.get_by_role("button", name="Sign out")).to_have_count(0)
    assert not [c for c in client_page.context.cookies() if c["name"] == "sessionid"]
    client_page.screenshot(path=shots / "1-07-approval-page.png", full_page=True)

    ask_for_code(client_page)
    client_page.screenshot(path=shots / "1-08-approval-code-sent.png", full_page=True)
    code = one_time_code(mail, address, shots, "1-09-outbox-code-email.png")

    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    client_page.get_by_label("One-time code").fill(wrong)
    client_page.get_by_role("button", name="Approve").click()
    expect(client_page.get_by_role("alert")).to_contain_text(CODE_NOT_VALID)
    expect(client_page.get_by_role("heading", level=1)).to_have_text(f"Withdrawal of {amount} USD")
    client_page.screenshot(path=shots / "1-10-approval-wrong-code.png", full_page=True)
    client_page.get_by_label("One-time code").fill(code)
    client_page.get_by_role("button", name="Approve").click()
    expect(client_page.get_by_role("heading", level=1)).to_have_text("Thank you")
    expect(client_page.get_by_role("status")).to_have_text(
        f"You approved the withdrawal {reference}. Your advisor will let you know when it is done."
    )
    client_page.screenshot(path=shots / "1-11-approval-done.png", full_page=True)

    # The requester may not authorize it, and is told why.
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Awaiting authorizer")
    expect(page.get_by_role("button", name="Authorize")).to_have_count(0)
    expect(page.get_by_role("region", name="What you can do")).to_contain_text(
        "You requested this, so another Funding Authorizer authorizes or rejects it (maker-checker)."
    )
    assert fact(page, "Client approval").startswith("Approved by the client from the emailed link")
    page.screenshot(path=shots / "1-12-requester-cannot-authorize.png", full_page=True)

    # Another Funding Authorizer finds it waiting on Transfer & Pay, authorizes and completes it.
    authorizer_page = person()
    owner = e2e_server.user("harbor", "owner")
    log_in(authorizer_page, owner, e2e_server.backup_code(owner))
    authorizer_page.goto("/funding/")
    waiting = authorizer_page.get_by_role("region", name="Waiting on someone").locator("tbody tr", has_text=reference)
    expect(waiting).to_contain_text("Awaiting authorizer")
    waiting.get_by_role("link", name=reference).click()
    expect(authorizer_page.get_by_role("heading", level=1)).to_contain_text("Awaiting authorizer")
    authorizer_page.screenshot(path=shots / "1-13-authorizer.png", full_page=True)
    authorizer_page.get_by_role("button", name="Authorize").click()
    expect(
        authorizer_page.get_by_role("status").filter(has_text="Authorized: it goes to the custodian")
    ).to_be_visible()
    expect(authorizer_page.get_by_role("heading", level=1)).to_contain_text("Submitted")
    authorizer_page.screenshot(path=shots / "1-14-submitted.png", full_page=True)

    custodian_reference = f"ACH-{uuid.uuid4().hex[:8].upper()}"
    authorizer_page.get_by_label("Custodian's reference").fill(custodian_reference)
    expect(authorizer_page.get_by_label("Completed on")).not_to_have_value("")
    authorizer_page.get_by_role("button", name="Mark completed").click()
    expect(authorizer_page.get_by_role("status").filter(has_text="Marked completed.")).to_be_visible()
    expect(authorizer_page.get_by_role("heading", level=1)).to_contain_text("Completed")
    assert fact(authorizer_page, "Custodian's reference") == custodian_reference
    expect(authorizer_page.get_by_role("region", name="Cash hold")).to_contain_text("released")
    authorizer_page.screenshot(path=shots / "1-15-completed.png", full_page=True)

    # The ledger: one withdrawal under the reference; the available cash fell by the amount, once.
    authorizer_page.get_by_role("region", name="The request").get_by_role("link", name=number, exact=True).click()
    expect(authorizer_page.get_by_role("heading", level=1)).to_contain_text(number)
    authorizer_page.get_by_label("Type").select_option(label="Withdrawal")
    authorizer_page.get_by_role("button", name="Filter").click()
    ledger = authorizer_page.locator("#transactions tbody tr", has_text=reference)
    expect(ledger).to_have_count(1)
    expect(ledger.locator("td").nth(1)).to_have_text("Withdrawal")
    assert money(ledger.locator("td").nth(5).inner_text()) == -Decimal(amount)
    cash = authorizer_page.get_by_role("region", name="Cash")
    usd = cash.locator("table").first.locator("tbody tr", has=authorizer_page.locator("th", has_text="USD"))
    assert money(usd.locator("td").nth(4).inner_text()) == available_before - Decimal(amount)
    expect(cash.locator("table").nth(1)).not_to_contain_text(reference)  # no hold left for it
    authorizer_page.screenshot(path=shots / "1-16-account-ledger.png", full_page=True)
    assert ledger_rows_with_external_id(reference) == 1

    _, held_after, available_after = cash_on_transfer_pay(page, number)["USD"]
    assert (held_after, available_after) == (held_before, available_before - Decimal(amount))
    page.screenshot(path=shots / "1-17-transfer-pay-after.png", full_page=True)
    page.goto(f"/funding/history/?q={quote(reference)}")
    row = page.locator("main table tbody tr", has_text=reference)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Completed")
    page.screenshot(path=shots / "1-18-history-completed.png", full_page=True)
    page.get_by_role("navigation", name="Funding").get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.screenshot(path=shots / "1-19-settings.png", full_page=True)


def test_the_approval_page_on_a_phone_and_a_used_link(
    page: Page, e2e_server: E2EServer, person: Callable[..., Page], shots: Path
) -> None:
    advisor = e2e_server.user("harbor", "advisor")
    log_in(page, advisor, e2e_server.backup_code(advisor))
    number = a_withdrawal_account(page)
    amount = f"{100 + uuid.uuid4().int % 800}.{uuid.uuid4().int % 90 + 10}"
    reference = request_withdrawal(page, number, amount, "Browser test on a phone", shots, "2-01")
    send(page, fact(page, "Client").split(" · ")[0])
    page.set_viewport_size({"width": 360, "height": 800})
    no_sideways_scroll(page, 360)
    page.screenshot(path=shots / "2-02-request-360.png", full_page=True)

    phone = person(360, 740)
    mail = phone.context.new_page()
    link, address = approval_link(mail, amount)
    phone.goto(link)
    expect(phone.get_by_role("heading", level=1)).to_have_text(f"Withdrawal of {amount} USD")
    expect(phone.locator("table.approval-details")).to_contain_text(reference)
    no_sideways_scroll(phone, 360)
    phone.screenshot(path=shots / "2-03-approval-360.png", full_page=True)
    # Readable: the details' text is not shrunk below 14 px, and no cell runs past the screen.
    sizes = phone.locator("table.approval-details :is(th, td)").evaluate_all(
        "cells => cells.map(c => [parseFloat(getComputedStyle(c).fontSize), c.getBoundingClientRect().right])"
    )
    assert sizes and all(size >= 14 and right <= 360 for size, right in sizes), sizes

    ask_for_code(phone)
    code = one_time_code(mail, address, shots, "2-04-outbox-code-email-360.png")
    no_sideways_scroll(phone, 360)
    for name in ("Approve", "Decline"):
        box = phone.get_by_role("button", name=name).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360 and box["height"] >= 40, (name, box)
    phone.get_by_label("One-time code").fill(code)
    phone.get_by_label("Comment (optional)").fill("Not this one, thank you")
    phone.screenshot(path=shots / "2-05-approval-code-360.png", full_page=True)
    phone.get_by_role("button", name="Decline").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Thank you")
    expect(phone.get_by_role("status")).to_have_text(f"You declined the withdrawal {reference}. Nothing will be moved.")
    no_sideways_scroll(phone, 360)
    phone.screenshot(path=shots / "2-06-declined-360.png", full_page=True)

    # The used link again, and a made-up one: the same one answer.
    phone.goto(link)
    expect(phone.get_by_role("heading", level=1)).to_have_text(NOT_USABLE)
    used = phone.locator("main").inner_text()
    no_sideways_scroll(phone, 360)
    phone.screenshot(path=shots / "2-07-used-link-360.png", full_page=True)
    expect(phone.locator("main")).not_to_contain_text(amount)
    expect(phone.locator("body")).not_to_contain_text(FIRM)  # nor whose link it was
    forged = re.sub(r"/approve/[^/]+/", f"/approve/{uuid.uuid4().hex}{uuid.uuid4().hex}/", link)
    response = phone.goto(forged)
    assert response is not None and response.status == 404
    assert phone.locator("main").inner_text() == used

    page.reload()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Rejected")
    expect(page.get_by_role("region", name="Timeline")).to_contain_text("Declined by the client")
    expect(page.get_by_role("region", name="Timeline")).to_contain_text("Not this one, thank you")
    page.screenshot(path=shots / "2-08-declined-request-360.png", full_page=True)
    for name, url in (
        ("transfer-pay", "/funding/"),
        ("history", "/funding/history/"),
        ("settings", "/funding/settings/"),
    ):
        page.goto(url)
        no_sideways_scroll(page, 360)
        page.screenshot(path=shots / f"2-09-{name}-360.png", full_page=True)


def test_pending_items_resend_from_the_row_at_desktop_and_phone_width(
    page: Page, e2e_server: E2EServer, shots: Path
) -> None:
    """A request awaiting its client is in Pending items with its actions; "Re-send email" there is
    a real button that sends a new email and comes back to the same filtered queue."""
    advisor = e2e_server.user("harbor", "advisor")
    log_in(page, advisor, e2e_server.backup_code(advisor))
    number = a_withdrawal_account(page)
    amount = f"{100 + uuid.uuid4().int % 800}.{uuid.uuid4().int % 90 + 10}"
    reference = request_withdrawal(page, number, amount, "Browser test from Pending items", shots, "3-01")
    client = fact(page, "Client").split(" · ")[0]
    send(page, client)

    queue = f"/pending/?kind=funding-request&q={quote(number)}"
    for width in (1280, 360):
        page.set_viewport_size({"width": width, "height": 800})
        page.goto(queue)
        row = page.locator("main table tbody tr", has_text=reference)
        expect(row).to_have_count(1)
        expect(row).to_contain_text("Awaiting client")
        resend = row.get_by_role("button", name=re.compile(r"^Re-send email"))
        expect(resend).to_be_visible()
        box = resend.bounding_box()  # on the screen, not at the end of a sideways scroll
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (width, box)
        expect(row.get_by_role("link", name=re.compile(r"^Cancel…"))).to_be_visible()
        no_sideways_scroll(page, width)
        page.screenshot(path=shots / f"3-02-pending-items-{width}.png", full_page=True)
        resend.click()
        expect(page).to_have_url(re.compile(re.escape(queue) + "$"))
        resent = page.get_by_role("status").filter(has_text=f"{reference}: a new approval email went to {client}")
        expect(resent).to_be_visible()
        no_sideways_scroll(page, width)
        page.screenshot(path=shots / f"3-03-pending-items-resent-{width}.png", full_page=True)

    page.goto(queue)
    page.locator("main table tbody tr", has_text=reference).get_by_role("link", name=re.compile(r"^Open")).click()
    # The first email and one re-send per width: three emails, each in the timeline.
    expect(page.get_by_role("region", name="Timeline").locator("li", has_text="Approval email sent")).to_have_count(3)
