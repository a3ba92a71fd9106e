"""Demo planning data: the default risk questionnaire answered for a few contacts (one with an
older score too, so the history has two rows) and goals for some of them, on both demo firms.
Through the planning services, so the rows are exactly what the pages make; a few dozen rows,
well under a second per firm."""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable
from decimal import Decimal

from django.utils import timezone

from accounts.models import Firm, User
from crm.models import Contact
from reports.planning import selectors, services
from reports.planning.models import Goal, RiskScore

GOALS = (
    # name, years ahead, goal amount, saved now, monthly, return, volatility
    ("Retirement", 22, "1500000.00", "310000.00", "1500.00", "0.0600", "0.1200"),
    ("College for the children", 9, "180000.00", "42000.00", "650.00", "0.0500", "0.1000"),
    ("Second home", 6, "400000.00", "95000.00", "2000.00", "0.0450", "0.0800"),
    ("Emergency fund", 2, "30000.00", "18000.00", "400.00", "0.0300", "0.0200"),
    ("Sailing boat", 4, "120000.00", "15000.00", "900.00", "0.0700", "0.1800"),
)


def seed_planning(*, firm: Firm, seed: int, log: Callable[[str], object] = print) -> int:
    """Scores and goals on the firm's first contacts (call inside the firm's scope); none if it has any."""
    if RiskScore.objects.exists() or Goal.objects.exists():
        return 0
    advisor = User.objects.filter(email=f"advisor@{firm.slug}.example").first()
    contacts = list(Contact.objects.order_by("id")[:8])
    if advisor is None or not contacts:
        return 0
    rng = random.Random(seed)
    questionnaire = selectors.questionnaire_get(pk=services.questionnaire_ensure_default(actor=advisor).pk)
    questions = list(questionnaire.questions.all())
    today = timezone.localdate()
    scores = goals = 0
    for index, contact in enumerate(contacts[:6]):
        leaning = rng.randint(0, 4)  # each client leans to a part of the scale
        dates = [today - datetime.timedelta(days=rng.randint(3, 60))]
        if index == 0:
            dates.insert(0, today - datetime.timedelta(days=420))
        for taken_on in dates:
            answers = {}
            for question in questions:
                options = list(question.options.all())
                answers[question.pk] = options[max(0, min(len(options) - 1, leaning + rng.randint(-1, 1)))].pk
            services.risk_score_record(
                actor=advisor,
                contact=contact,
                questionnaire=questionnaire,
                answers=answers,
                taken_on=taken_on,
                note="Reviewed at the annual meeting." if taken_on == dates[-1] and index == 0 else "",
            )
            scores += 1
    for index, contact in enumerate(contacts[:5]):
        for name, years, target, current, monthly, ret, vol in (GOALS[index], GOALS[(index + 2) % len(GOALS)]):
            target_date = today.replace(year=today.year + years, day=1)
            services.goal_create(
                actor=advisor,
                contact=contact,
                name=name,
                target_amount=Decimal(target),
                target_date=target_date,
                current_amount=Decimal(current),
                monthly_contribution=Decimal(monthly),
                expected_return=Decimal(ret),
                volatility=Decimal(vol),
            )
            goals += 1
    log(f"{firm.name}: {scores} risk scores, {goals} goals")
    return scores + goals
