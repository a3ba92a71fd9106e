"""Blended benchmarks of issue #19 in a real browser: an advisor is refused weights that do not add
up to 100 %, saves a 60/40 blend of the demo indexes, reads it beside a demo household's returns
with the allocation and the contributions below, and deletes it after the confirmation. At desktop
and phone widths. Screenshots: var/screenshots (blend-*.png)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import E2EServer
from tests.browser.test_reports_performance import RICHEST_HOUSEHOLD
from tests.browser.test_shell import log_in

pytestmark = pytest.mark.xdist_group("browser")


@pytest.mark.parametrize("width", [1280, 360])
def test_a_blend_beside_a_households_returns(
    page: Page, e2e_server: E2EServer, screenshot_dir: Path, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    advisor = e2e_server.user("harbor", "advisor")
    log_in(page, advisor, e2e_server.backup_code(advisor))
    name = f"Browser 60/40 at {width}"
    page.goto("/reports/benchmarks/")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Index series 1", exact=True).select_option("SPX-DEMO")
    page.get_by_label("Weight 1 (%)").fill("60")
    page.get_by_label("Index series 2", exact=True).select_option("AGG-DEMO")
    page.get_by_label("Weight 2 (%)").fill("30")
    page.get_by_role("button", name="Save blend").click()
    expect(page.get_by_role("alert").first).to_contain_text("The weights add up to 90.00 %")
    page.screenshot(path=screenshot_dir / f"blend-refused-{width}.png", full_page=True)
    page.get_by_label("Weight 2 (%)").fill("40")
    page.get_by_role("button", name="Save blend").click()
    expect(page.get_by_role("row", name=name)).to_contain_text("60.00 % SPX-DEMO + 40.00 % AGG-DEMO")
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    page.goto("/contacts/households/")
    household = page.evaluate(RICHEST_HOUSEHOLD)
    assert household, "the demo firm has a household with accounts"
    page.goto(household)
    page.get_by_role("link", name="Performance report").click()
    page.get_by_label("Blended benchmark").select_option(label=name)
    page.get_by_role("button", name="Show").click()
    table = page.get_by_role("table", name="Time-weighted, money-weighted and Modified Dietz returns")
    expect(table).to_contain_text("blended")
    expect(table.locator(f'td[data-label="{name}"]').first).to_contain_text("%")
    expect(page.get_by_role("region", name="How these figures are measured")).to_contain_text(
        f"Blended benchmark {name}: 60.00 % SPX-DEMO + 40.00 % AGG-DEMO, rebalanced monthly"
    )
    expect(page.locator("#allocation-h")).to_contain_text("Allocation at the close of")
    expect(page.locator("#contribution-h")).to_contain_text("Contribution by position")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=screenshot_dir / f"blend-performance-{width}.png", full_page=True)

    # Deleted after the confirmation, so the demo book is as it was.
    page.goto("/reports/benchmarks/")
    page.get_by_role("link", name=f"Edit {name}").click()
    page.get_by_role("button", name="Delete this blend…").click()
    expect(page.get_by_role("alert")).to_contain_text("This cannot be undone.")
    page.get_by_role("button", name=f"Delete {name}").click()
    expect(page.get_by_role("row", name=name)).to_have_count(0)
