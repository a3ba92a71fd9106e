"""Risk scores and the goal tracker in a real browser: an advisor opens a demo contact's planning
page from the contact, records the questionnaire's answers, then adds a goal (a date in the past
is refused first) and reads its chance and chart. At desktop and phone widths. Screenshots:
var/screenshots (planning-*.png)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import E2EServer
from tests.browser.test_shell import log_in

pytestmark = pytest.mark.xdist_group("browser")

ANSWERS = (
    ("When do you expect", "In 10 to 15 years"),
    ("lose 20 %", "Hold and wait for a recovery"),
    ("experience", "Mutual funds or ETFs"),
    ("income", "Stable and likely to grow"),
    ("main goal", "Growth, with some ups and downs"),
)


@pytest.mark.parametrize("width", [1280, 360])
def test_record_a_risk_score_and_track_a_goal(
    page: Page, e2e_server: E2EServer, screenshot_dir: Path, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    advisor = e2e_server.user("harbor", "advisor")
    log_in(page, advisor, e2e_server.backup_code(advisor))

    page.goto("/reports/planning/")
    expect(page.get_by_role("heading", name="Risk scores and goals", level=1)).to_be_visible()
    scores = page.get_by_role("region", name="Recent risk scores")
    name = scores.get_by_role("row").nth(1).get_by_role("link").first.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=screenshot_dir / f"planning-index-{width}.png", full_page=True)

    # From the contact's own page, as an advisor would.
    scores.get_by_role("link", name=name).first.click()
    page.get_by_role("link", name=f"← {name}").click()
    page.get_by_role("button", name="Risk score and goals").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Risk score and goals: {name}")
    page.screenshot(path=screenshot_dir / f"planning-contact-{width}.png", full_page=True)

    page.get_by_role("button", name="Record answers").click()
    for question, answer in ANSWERS[:-1]:
        page.get_by_role("group", name=re.compile(re.escape(question))).get_by_label(answer).check()
    page.get_by_role("button", name="Record the score").click()
    expect(page.get_by_role("alert").first).to_contain_text("answer the questions marked below")
    page.screenshot(path=screenshot_dir / f"planning-answers-refused-{width}.png", full_page=True)
    for question, answer in ANSWERS:
        page.get_by_role("group", name=re.compile(re.escape(question))).get_by_label(answer).check()
    page.get_by_role("button", name="Record the score").click()
    # Values 4, 3, 3, 4, 4: the average 3.60 is moderately aggressive on 1-5.
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Risk score of {name}")
    expect(page.locator("dl.facts")).to_contain_text("3.60 on a scale of 1 to 5")
    expect(page.locator("dl.facts")).to_contain_text("Moderately aggressive")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=screenshot_dir / f"planning-score-{width}.png", full_page=True)

    page.get_by_role("link", name=f"← Risk score and goals of {name}").click()
    expect(page.get_by_role("region", name="Risk score")).to_contain_text("3.60")
    page.get_by_role("button", name="Add a goal").click()
    page.get_by_label("Goal", exact=True).fill("Cabin by the lake")
    page.get_by_label("Goal amount").fill("250000.00")
    page.get_by_label("Goal date").fill("2020-06-01")
    page.get_by_label("Saved now").fill("60000.00")
    page.get_by_label("Monthly contribution").fill("1200.00")
    page.get_by_label("Target return (% a year)").fill("6")
    page.get_by_label("Risk: volatility (% a year)").fill("12")
    page.get_by_role("button", name="Save the goal").click()
    expect(page.get_by_text("The goal date must be at least one month from today.")).to_be_visible()
    page.screenshot(path=screenshot_dir / f"planning-goal-refused-{width}.png", full_page=True)
    page.get_by_label("Goal date").fill((dt.date.today() + dt.timedelta(days=3650)).isoformat())
    page.get_by_role("button", name="Save the goal").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Cabin by the lake: 250,000.00 USD")
    result = page.get_by_role("region", name=re.compile(r"Chance of reaching the goal: \d+ %"))
    expect(result).to_contain_text("5,000 simulated paths")
    expect(result.get_by_role("img")).to_be_visible()
    chance = page.get_by_role("heading", level=2).first.inner_text()
    page.reload()  # the same paths every time: the same answer
    expect(page.get_by_role("heading", level=2).first).to_have_text(chance)
    page.get_by_text("The figures by year").click()
    expect(result.get_by_role("table")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=screenshot_dir / f"planning-goal-{width}.png", full_page=True)

    # The questionnaire behind the score, and its editor (the advisor holds Trading/Models).
    page.goto("/reports/planning/")
    page.get_by_role("link", name="Risk tolerance").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Risk tolerance")
    expect(page.get_by_text("The average of the values of the chosen answers")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=screenshot_dir / f"planning-questionnaire-{width}.png", full_page=True)
    page.get_by_role("link", name="Edit question 1", exact=True).click()
    expect(page.get_by_label("Question", exact=True)).to_have_value("When do you expect to need most of this money?")
    expect(page.get_by_label("Answer 1", exact=True)).to_have_value("Within 2 years")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=screenshot_dir / f"planning-question-edit-{width}.png", full_page=True)
