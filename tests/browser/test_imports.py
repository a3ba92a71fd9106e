"""Custodian import in a real browser with a real Celery worker: upload a CSV from the accounts
list, watch the progress bar poll until the job is done, then see the counts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import E2EServer
from tests.browser.test_shell import log_in

pytestmark = pytest.mark.xdist_group("browser")

ROWS = 600  # enough for a few progress writes (at most two a second)


def test_upload_csv_and_watch_progress_to_done(
    page: Page, e2e_server: E2EServer, screenshot_dir: Path, tmp_path: Path
) -> None:
    csv_file = tmp_path / "deposits.csv"
    csv_file.write_text(
        "account,trade_date,type,amount,currency,description,external_id\n"
        + "".join(f"U7100001,2025-03-03,deposit,{i}.00,USD,Deposit {i},E2E-{i}\n" for i in range(1, ROWS + 1))
    )
    log_in(page, (u := e2e_server.user("harbor", "owner")), e2e_server.backup_code(u))
    page.goto("/accounts/")
    page.get_by_role("button", name="Import custodian files").click()  # a link styled as a button
    expect(page.get_by_role("heading", name="Imports", level=1)).to_be_visible()

    page.locator("input[type=file]").set_input_files(str(csv_file))
    page.get_by_label("Kind of file").select_option("transactions_csv")
    page.get_by_role("button", name="Upload and import").click(timeout=60_000)  # a busy machine

    expect(page).to_have_url(re.compile(r"/imports/\d+/$"), timeout=60_000)
    expect(page.get_by_role("heading", name=re.compile("Import of deposits.csv"))).to_be_visible()
    # The panel polls itself (htmx, every second) until the worker has finished.
    status = page.locator("#import-status")
    expect(status).to_contain_text("Done", timeout=60_000)
    expect(page.locator("#import-progress")).to_have_attribute("value", "100")
    expect(page.locator('[data-count="created"]')).to_have_text(str(ROWS))
    expect(page.locator("#import-job")).not_to_have_attribute("hx-trigger", "every 1s")
    page.screenshot(path=str(screenshot_dir / "import-done.png"), full_page=True)

    # The same file again changes nothing.
    page.goto("/imports/")
    page.locator("input[type=file]").set_input_files(str(csv_file))
    page.get_by_role("button", name="Upload and import").click(timeout=60_000)  # a busy machine
    expect(page.locator("#import-status")).to_contain_text("Done", timeout=60_000)
    expect(page.locator('[data-count="created"]')).to_have_text("0")
    expect(page.locator('[data-count="unchanged"]')).to_have_text(str(ROWS))
