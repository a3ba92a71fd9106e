"""Risk-score questionnaires and the goal tracker (issue #19, point 5): services, selectors and
scope, the API (Charlie, firm B, gets 404 for firm A's contact; the rights), bad input, the pages,
and the simulation against closed-form answers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts import services as account_services
from accounts.models import AccountScope, AuditEntry
from accounts.rights import Right, Role
from crm import services as crm_services
from reports.planning import selectors, services
from reports.planning.models import AnswerOption, Goal, Question, RiskBand, RiskScore
from reports.planning.services import OptionEdit
from reports.planning.simulation import closed_form_probability, months_between, project
from tests.conftest import Persona
from tests.factories import ContactFactory, UserFactory


def in_years(years: int) -> dt.date:
    today = timezone.localdate()
    return today.replace(year=today.year + years, day=min(today.day, 28))


def answer_all(questionnaire: Any, pick: Any) -> dict[int, int]:
    """question id -> the id of the answer ``pick(options)`` chooses."""
    return {q.pk: pick(list(q.options.all())).pk for q in questionnaire.questions.all()}


def goal_fields(**overrides: Any) -> dict[str, Any]:
    fields = {
        "name": "Retirement", "target_amount": D("500000.00"), "target_date": in_years(20),
        "current_amount": D("100000.00"), "monthly_contribution": D("1000.00"),
        "expected_return": D("0.0600"), "volatility": D("0.1200"),
    }  # fmt: skip
    return {**fields, **overrides}


@pytest.fixture
def ann(alice: Persona) -> Any:
    with alice.scope():
        return ContactFactory(first_name="Ann", last_name="Archer")


def analyst_scoped_to(owner: Persona, contacts: list[Any]) -> Persona:
    """Pat, with PortfolioAnalyst only, whose scope is a group holding ``contacts``."""
    group = crm_services.group_create(actor=owner.user, name="Pat's clients")
    crm_services.group_add_members(actor=owner.user, group=group, contacts=contacts)
    user = UserFactory(firm=owner.firm, email="pat@alpha.test", full_name="Pat Park", role=Role.STAFF,
                       rights=frozenset({Right.PORTFOLIO_ANALYST}))  # fmt: skip
    account_services.account_scope_set(
        actor=owner.user, user=user, scope=AccountScope.SELECTED, group_ids=frozenset({group.pk})
    )
    return Persona(user, owner.firm)


# --- Questionnaires ---------------------------------------------------------------------------------------


def test_the_default_questionnaire_is_created_once_with_five_questions_on_1_to_5(alice: Persona) -> None:
    with alice.scope():
        first = services.questionnaire_ensure_default(actor=alice.user)
        again = services.questionnaire_ensure_default(actor=alice.user)
        assert first.pk == again.pk and (first.scale_min, first.scale_max) == (1, 5) and first.is_default
        questionnaire = selectors.questionnaire_get(pk=first.pk)
        questions = list(questionnaire.questions.all())
        assert len(questions) == 5
        assert any("lose 20 %" in q.text for q in questions) and any("experience" in q.text for q in questions)
        for question in questions:
            assert [o.value for o in question.options.all()] == [D(1), D(2), D(3), D(4), D(5)]
        assert AuditEntry.objects.filter(object_type="planning.questionnaire", object_id=str(first.pk)).exists()


def test_each_firm_has_its_own_default(alice: Persona, charlie: Persona) -> None:
    with alice.scope():
        a = services.questionnaire_ensure_default(actor=alice.user)
    with charlie.scope():
        b = services.questionnaire_ensure_default(actor=charlie.user)
        assert a.pk != b.pk and list(selectors.questionnaire_list()) == [b]


def test_a_new_scale_moves_every_value_to_the_same_place(alice: Persona) -> None:
    with alice.scope():
        questionnaire = services.questionnaire_ensure_default(actor=alice.user)
        services.questionnaire_update(actor=alice.user, questionnaire=questionnaire, name="Risk tolerance",
                                      description="", scale_min=1, scale_max=10)  # fmt: skip
        values = [o.value for o in selectors.questionnaire_get(pk=questionnaire.pk).questions.all()[0].options.all()]
        assert values == [D("1.00"), D("3.25"), D("5.50"), D("7.75"), D("10.00")]


def test_a_scale_whose_top_is_not_above_its_bottom_is_refused_and_changes_nothing(alice: Persona) -> None:
    with alice.scope():
        questionnaire = services.questionnaire_ensure_default(actor=alice.user)
        with pytest.raises(ValidationError) as refused:
            services.questionnaire_update(actor=alice.user, questionnaire=questionnaire, name="X", description="",
                                          scale_min=5, scale_max=5)  # fmt: skip
        assert "scale_max" in refused.value.message_dict
        questionnaire.refresh_from_db()
        assert (questionnaire.name, questionnaire.scale_max) == ("Risk tolerance", 5)


def test_editing_values_checks_the_scale_and_changes_nothing_when_one_is_off(alice: Persona) -> None:
    with alice.scope():
        questionnaire = services.questionnaire_ensure_default(actor=alice.user)
        question = selectors.questionnaire_get(pk=questionnaire.pk).questions.all()[0]
        options = list(question.options.all())
        edits = [OptionEdit(text=o.text, value=o.value, option_id=o.pk) for o in options]
        edits[0] = OptionEdit(text="Within a year", value="2.5", option_id=options[0].pk)
        edits[1] = OptionEdit(text=options[1].text, value="6", option_id=options[1].pk)  # off the 1-5 scale
        with pytest.raises(ValidationError) as refused:
            services.question_update(actor=alice.user, question=question, text="Changed?", options=edits)
        assert "on the scale, 1 to 5" in str(refused.value)
        assert Question.objects.get(pk=question.pk).text == question.text
        assert AnswerOption.objects.get(pk=options[0].pk).value == D(1)

        edits[1] = OptionEdit(text=options[1].text, value="2.75", option_id=options[1].pk)
        services.question_update(actor=alice.user, question=question, text=question.text, options=edits[:4])
        assert [(o.text, o.value) for o in question.options.order_by("position")][:2] == [
            ("Within a year", D("2.50")), (options[1].text, D("2.75"))]  # fmt: skip
        assert AnswerOption.objects.filter(question=question).count() == 4


def test_the_last_question_cannot_be_removed(alice: Persona) -> None:
    with alice.scope():
        questionnaire = services.questionnaire_ensure_default(actor=alice.user)
        questions = list(questionnaire.questions.all())
        for question in questions[:-1]:
            services.question_delete(actor=alice.user, question=question)
        with pytest.raises(ValidationError):
            services.question_delete(actor=alice.user, question=questions[-1])
        assert questionnaire.questions.count() == 1


# --- Risk scores -------------------------------------------------------------------------------------------


def test_a_score_is_the_average_of_the_chosen_values_and_keeps_its_answers(alice: Persona, ann: Any) -> None:
    with alice.scope():
        questionnaire = selectors.questionnaire_get(pk=services.questionnaire_ensure_default(actor=alice.user).pk)
        choices = iter([0, 2, 3, 4, 4])  # values 1, 3, 4, 5, 5: average 3.6
        answers = {q.pk: list(q.options.all())[next(choices)].pk for q in questionnaire.questions.all()}
        score = services.risk_score_record(actor=alice.user, contact=ann, questionnaire=questionnaire, answers=answers)
        assert score.score == D("3.60") and score.band == RiskBand.MODERATELY_AGGRESSIVE
        assert (score.scale_min, score.scale_max, score.recorded_by, score.taken_on) == (
            1, 5, alice.user, timezone.localdate())  # fmt: skip
        assert [a.value for a in score.answers.all()] == [D(1), D(3), D(4), D(5), D(5)]

        # Editing the questionnaire later does not rewrite the history.
        first = questionnaire.questions.all()[0]
        services.question_update(actor=alice.user, question=first, text="Reworded", options=[
            OptionEdit(text=o.text, value="5", option_id=o.pk) for o in first.options.all()])  # fmt: skip
        kept = selectors.risk_score_get(user=alice.user, pk=score.pk)
        assert kept.answers.all()[0].question_text != "Reworded" and kept.answers.all()[0].value == D(1)
        assert kept.score == D("3.60")


def test_the_score_history_is_newest_first(alice: Persona, ann: Any) -> None:
    with alice.scope():
        questionnaire = services.questionnaire_ensure_default(actor=alice.user)
        low = answer_all(questionnaire, lambda options: options[0])
        high = answer_all(questionnaire, lambda options: options[-1])
        old = services.risk_score_record(actor=alice.user, contact=ann, questionnaire=questionnaire, answers=low,
                                         taken_on=timezone.localdate() - dt.timedelta(days=400))  # fmt: skip
        new = services.risk_score_record(actor=alice.user, contact=ann, questionnaire=questionnaire, answers=high)
        history = list(selectors.risk_score_history(user=alice.user, contact=ann))
        assert history == [new, old]
        assert (old.score, old.band, new.score, new.band) == (D("1.00"), "conservative", D("5.00"), "aggressive")


def test_bands_split_the_scale_in_five() -> None:
    assert [services.band_for(D(v), 1, 5) for v in ("1", "1.79", "1.8", "2.6", "3.4", "4.19", "4.2", "5")] == [
        "conservative", "conservative", "moderately_conservative", "moderate", "moderately_aggressive",
        "moderately_aggressive", "aggressive", "aggressive"]  # fmt: skip
    assert services.band_for(D("50"), 0, 100) == "moderate"


@pytest.mark.parametrize("problem", ["missing", "foreign option", "unknown question", "future"])
def test_incomplete_or_wrong_answers_are_refused_and_record_nothing(alice: Persona, ann: Any, problem: str) -> None:
    with alice.scope():
        questionnaire = services.questionnaire_ensure_default(actor=alice.user)
        questions = list(questionnaire.questions.all())
        answers = answer_all(questionnaire, lambda options: options[1])
        taken_on = None
        if problem == "missing":
            del answers[questions[2].pk]
        elif problem == "foreign option":
            answers[questions[0].pk] = questions[1].options.all()[0].pk
        elif problem == "unknown question":
            answers[999_999] = 1
        else:
            taken_on = timezone.localdate() + dt.timedelta(days=1)
        with pytest.raises(ValidationError) as refused:
            services.risk_score_record(actor=alice.user, contact=ann, questionnaire=questionnaire, answers=answers,
                                       taken_on=taken_on)  # fmt: skip
        assert refused.value.message_dict
        assert not RiskScore.objects.exists()


def test_scores_and_goals_follow_the_portfolio_analyst_scope(alice: Persona, ann: Any) -> None:
    with alice.scope():
        ben = ContactFactory(first_name="Ben", last_name="Brown")
        pat = analyst_scoped_to(alice, [ann])
        questionnaire = services.questionnaire_ensure_default(actor=alice.user)
        for contact in (ann, ben):
            services.risk_score_record(actor=alice.user, contact=contact, questionnaire=questionnaire,
                                       answers=answer_all(questionnaire, lambda options: options[2]))  # fmt: skip
            services.goal_create(actor=alice.user, contact=contact, **goal_fields())
        assert selectors.planning_contact_get(user=pat.user, pk=ann.pk) == ann
        with pytest.raises(type(ann).DoesNotExist):
            selectors.planning_contact_get(user=pat.user, pk=ben.pk)
        assert {s.contact_id for s in selectors.recent_scores(user=pat.user)} == {ann.pk}
        assert {g.contact_id for g in selectors.goal_list(user=pat.user)} == {ann.pk}
        ben_goal = Goal.objects.get(contact=ben)
        with pytest.raises(Goal.DoesNotExist):
            selectors.goal_get(user=pat.user, pk=ben_goal.pk)
        assert len(selectors.recent_scores(user=alice.user)) == 2


# --- Goals ------------------------------------------------------------------------------------------------------


def test_a_goal_is_created_and_audited(alice: Persona, ann: Any) -> None:
    with alice.scope():
        goal = services.goal_create(actor=alice.user, contact=ann, **goal_fields())
        assert goal.created_by == alice.user and goal.currency == "USD"
        assert AuditEntry.objects.filter(object_type="planning.goal", object_id=str(goal.pk)).exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"target_date": dt.date(2020, 1, 1)}, "target_date"),
        ({"target_date": timezone.localdate() + dt.timedelta(days=10)}, "target_date"),
        ({"target_date": dt.date(2200, 1, 1)}, "target_date"),
        ({"target_amount": D("0")}, "target_amount"),
        ({"current_amount": D("-1.00")}, "current_amount"),
        ({"monthly_contribution": D("-50.00")}, "monthly_contribution"),
        ({"volatility": D("0.7000")}, "volatility"),
        ({"volatility": D("-0.0100")}, "volatility"),
        ({"expected_return": D("0.5000")}, "expected_return"),
        ({"currency": "usd"}, "currency"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_goal_input_names_the_field_and_changes_nothing(
    alice: Persona, ann: Any, change: dict[str, Any], field: str
) -> None:
    with alice.scope():
        with pytest.raises(ValidationError) as refused:
            services.goal_create(actor=alice.user, contact=ann, **goal_fields(**change))
        assert field in refused.value.message_dict, refused.value.message_dict
        assert not Goal.objects.exists()
        goal = services.goal_create(actor=alice.user, contact=ann, **goal_fields())
        with pytest.raises(ValidationError):
            services.goal_update(actor=alice.user, goal=goal, **change)
        goal.refresh_from_db()
        assert goal.target_amount == D("500000.00") and goal.volatility == D("0.1200")


# --- The simulation ---------------------------------------------------------------------------------------


def test_months_between() -> None:
    assert months_between(dt.date(2026, 1, 31), dt.date(2026, 2, 28)) == 0
    assert months_between(dt.date(2026, 1, 15), dt.date(2027, 1, 15)) == 12
    assert months_between(dt.date(2026, 1, 15), dt.date(2026, 1, 1)) == 0


def test_without_risk_the_probability_is_0_or_100_percent_and_the_paths_are_the_projection() -> None:
    common = {"current": D("10000"), "monthly": D("100"), "annual_return": D("0.05"), "volatility": D("0"),
              "months": 120, "seed": 1}  # fmt: skip
    # 10 years at 5 % a year, 100 a month at each month's end: 10000 * 1.05^10 + 100 * annuity ≈ 31,781.
    g = 1.05 ** (1 / 12) - 1
    expected = 10000 * 1.05**10 + 100 * ((1 + g) ** 120 - 1) / g
    reached = project(goal=D("31000"), **common)
    missed = project(goal=D("32500"), **common)
    assert abs(float(reached.projected) - expected) < 0.01
    assert reached.probability == D("1") and missed.probability == D("0")
    assert reached.median == reached.projected == reached.low == reached.high
    assert reached.contribution_needed is not None and reached.contribution_needed < D("100")
    assert missed.contribution_needed is not None and missed.contribution_needed > D("100")


@pytest.mark.parametrize(("goal", "volatility"), [("150000", "0.15"), ("120000", "0.10"), ("250000", "0.20")])
def test_the_probability_matches_the_lognormal_closed_form(goal: str, volatility: str) -> None:
    result = project(current=D("100000"), monthly=D("0"), annual_return=D("0.06"), volatility=D(volatility),
                     goal=D(goal), months=120, seed=42)  # fmt: skip
    exact = closed_form_probability(current=100000, annual_return=0.06, volatility=float(volatility),
                                    goal=float(goal), months=120)  # fmt: skip
    # 5,000 paths: the standard error is at most 0.7 percentage points; allow about four of them.
    assert abs(float(result.probability) - exact) < 0.03, (result.probability, exact)
    assert 0.02 < exact < 0.98


def test_the_paths_average_to_the_projection_and_a_seed_gives_the_same_answer() -> None:
    args = {"current": D("50000"), "monthly": D("500"), "annual_return": D("0.07"), "volatility": D("0.18"),
            "goal": D("200000"), "months": 180}  # fmt: skip
    one, two, other = project(seed=7, **args), project(seed=7, **args), project(seed=8, **args)
    assert one == two and one.probability != other.probability
    assert one.low < one.median < one.high
    # The median of lognormal paths is below the mean (the projection).
    assert one.median < one.projected


def test_a_goal_whose_date_is_near_has_no_projection(alice: Persona, ann: Any) -> None:
    with alice.scope():
        goal = services.goal_create(actor=alice.user, contact=ann, **goal_fields())
        Goal.objects.filter(pk=goal.pk).update(target_date=timezone.localdate() + dt.timedelta(days=3))
        goal.refresh_from_db()
        assert selectors.goal_projection(goal) is None


# --- API -----------------------------------------------------------------------------------------------------------


def test_api_questionnaires_and_recording_a_score(alice: Persona, ann: Any) -> None:
    api = alice.api()
    listed = api.get("/api/v1/planning/questionnaires/")
    assert listed.status_code == 200, listed.content
    questionnaire = listed.json()["results"][0]
    assert questionnaire["is_default"] and len(questionnaire["questions"]) == 5
    assert questionnaire["questions"][0]["options"][0]["value"] == "1.00"
    answers = [{"question": q["id"], "option": q["options"][3]["id"]} for q in questionnaire["questions"]]
    created = api.post(f"/api/v1/planning/contacts/{ann.pk}/risk-scores/", {"answers": answers}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["score"] == "4.00" and body["band"] == "moderately_aggressive"
    assert body["band_label"] == "Moderately aggressive" and body["recorded_by"] == "Alice Able"
    assert body["taken_on"] == timezone.localdate().isoformat() and len(body["answers"]) == 5
    history = api.get(f"/api/v1/planning/contacts/{ann.pk}/risk-scores/").json()["results"]
    assert [s["id"] for s in history] == [body["id"]]
    assert api.get(f"/api/v1/planning/risk-scores/{body['id']}/").json()["score"] == "4.00"

    missing = api.post(f"/api/v1/planning/contacts/{ann.pk}/risk-scores/", {"answers": answers[:4]}, format="json")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "invalid"
    assert "choose an answer" in str(missing.json()["error"]["fields"])
    unknown = api.post(f"/api/v1/planning/contacts/{ann.pk}/risk-scores/", {"answers": answers, "score": "5"},
                       format="json")  # fmt: skip
    assert unknown.status_code == 400 and "score" in unknown.json()["error"]["fields"]
    with alice.scope():
        assert RiskScore.objects.count() == 1


def test_api_editing_a_questionnaire_needs_trading_models(alice: Persona) -> None:
    with alice.scope():
        analyst = Persona(UserFactory(firm=alice.firm, email="ana@alpha.test", role=Role.STAFF,
                                      rights=frozenset({Right.PORTFOLIO_ANALYST})), alice.firm)  # fmt: skip
        questionnaire = services.questionnaire_ensure_default(actor=alice.user)
        question = questionnaire.questions.all()[0]
        options = [{"id": o.pk, "text": o.text, "value": str(o.value)} for o in question.options.all()]
    setup = f"/api/v1/planning/questionnaires/{questionnaire.pk}/setup/"
    assert analyst.api().get(f"/api/v1/planning/questionnaires/{questionnaire.pk}/").status_code == 200
    assert analyst.api().patch(setup, {"scale_max": 10}, format="json").status_code == 403
    assert analyst.api().patch(f"/api/v1/planning/questions/{question.pk}/",
                               {"text": "x", "options": options}, format="json").status_code == 403  # fmt: skip

    api = alice.api()
    changed = api.patch(setup, {"scale_min": 0, "scale_max": 10}, format="json")
    assert changed.status_code == 200, changed.content
    assert [o["value"] for o in changed.json()["questions"][0]["options"]] == ["0.00", "2.50", "5.00", "7.50", "10.00"]
    bad = api.patch(setup, {"scale_min": 4, "scale_max": 2}, format="json")
    assert bad.status_code == 400 and "scale_max" in bad.json()["error"]["fields"]
    options[0]["value"] = "11"
    off = api.patch(f"/api/v1/planning/questions/{question.pk}/", {"text": "x", "options": options}, format="json")
    assert off.status_code == 400 and "options.1" in off.json()["error"]["fields"]
    options[0]["value"] = "1.5"
    ok = api.patch(f"/api/v1/planning/questions/{question.pk}/", {"text": "Horizon?", "options": options},
                   format="json")  # fmt: skip
    assert ok.status_code == 200 and ok.json()["options"][0]["value"] == "1.50"
    added = api.post(f"/api/v1/planning/questionnaires/{questionnaire.pk}/questions/",
                     {"text": "Do you have an emergency fund?", "options": [{"text": "No", "value": "0"},
                      {"text": "Yes", "value": "10"}]}, format="json")  # fmt: skip
    assert added.status_code == 201 and added.json()["position"] == 6
    assert api.delete(f"/api/v1/planning/questions/{added.json()['id']}/").status_code == 204


def test_api_goals_and_their_projection(alice: Persona, ann: Any) -> None:
    api = alice.api()
    body = {"name": "College", "target_amount": "120000.00", "target_date": in_years(15).isoformat(),
            "current_amount": "20000.00", "monthly_contribution": "300.00", "expected_return": "0.0500",
            "volatility": "0.1000"}  # fmt: skip
    created = api.post(f"/api/v1/planning/contacts/{ann.pk}/goals/", body, format="json")
    assert created.status_code == 201, created.content
    goal = created.json()
    assert goal["target_amount"] == "120000.00" and goal["volatility"] == "0.1000" and goal["currency"] == "USD"
    projection = api.get(f"/api/v1/planning/goals/{goal['id']}/projection/").json()
    assert projection["available"] and projection["paths"] == 5000 and projection["months"] == 180
    assert D(projection["projected"]) > 0 and D("0") <= D(projection["probability"]) <= D("1")
    assert projection["points"][0]["date"] == timezone.localdate().isoformat()
    assert in_years(15).isoformat() in projection["explanation"]
    assert api.get(f"/api/v1/planning/goals/{goal['id']}/projection/").json() == projection  # stable

    changed = api.patch(f"/api/v1/planning/goals/{goal['id']}/", {"monthly_contribution": "600.00"}, format="json")
    assert changed.status_code == 200 and changed.json()["monthly_contribution"] == "600.00"
    listed = api.get(f"/api/v1/planning/contacts/{ann.pk}/goals/").json()["results"]
    assert [g["id"] for g in listed] == [goal["id"]]
    assert api.delete(f"/api/v1/planning/goals/{goal['id']}/").status_code == 204
    with alice.scope():
        assert not Goal.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"target_date": "2001-01-01"}, "target_date"),
        ({"target_amount": 120000}, "target_amount"),  # a JSON number, not a decimal string
        ({"current_amount": "-5.00"}, "current_amount"),
        ({"volatility": "0.9"}, "volatility"),
        ({"expected_return": "1e-2"}, "expected_return"),
        ({"target_date": "2040-02-30"}, "target_date"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_api_bad_goal_input_is_a_400_naming_the_field(alice: Persona, ann: Any, change: dict[str, Any],
                                                       field: str) -> None:  # fmt: skip
    body = {"name": "College", "target_amount": "120000.00", "target_date": in_years(15).isoformat(),
            "expected_return": "0.05", "volatility": "0.10", **change}  # fmt: skip
    answer = alice.api().post(f"/api/v1/planning/contacts/{ann.pk}/goals/", body, format="json")
    assert answer.status_code == 400, answer.content
    assert field in answer.json()["error"]["fields"]
    with alice.scope():
        assert not Goal.objects.exists()


def test_charlie_gets_404_for_firm_a_contacts_scores_and_goals(alice: Persona, charlie: Persona, ann: Any) -> None:
    with alice.scope():
        questionnaire = services.questionnaire_ensure_default(actor=alice.user)
        answers = answer_all(questionnaire, lambda options: options[0])
        score = services.risk_score_record(actor=alice.user, contact=ann, questionnaire=questionnaire, answers=answers)
        goal = services.goal_create(actor=alice.user, contact=ann, **goal_fields())
        question = questionnaire.questions.all()[0]
    api = charlie.api()
    for path in (f"/api/v1/planning/contacts/{ann.pk}/risk-scores/", f"/api/v1/planning/contacts/{ann.pk}/goals/",
                 f"/api/v1/planning/risk-scores/{score.pk}/", f"/api/v1/planning/goals/{goal.pk}/",
                 f"/api/v1/planning/goals/{goal.pk}/projection/",
                 f"/api/v1/planning/questionnaires/{questionnaire.pk}/"):  # fmt: skip
        answer = api.get(path)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found", path
    body = {"answers": [{"question": q, "option": o} for q, o in answers.items()]}
    assert api.post(f"/api/v1/planning/contacts/{ann.pk}/risk-scores/", body, format="json").status_code == 404
    assert api.post(f"/api/v1/planning/contacts/{ann.pk}/goals/", {"name": "x"}, format="json").status_code == 404
    assert api.patch(f"/api/v1/planning/goals/{goal.pk}/", {"name": "Mine"}, format="json").status_code == 404
    assert api.delete(f"/api/v1/planning/goals/{goal.pk}/").status_code == 404
    assert api.patch(f"/api/v1/planning/questionnaires/{questionnaire.pk}/setup/", {"scale_max": 9},
                     format="json").status_code == 404  # fmt: skip
    assert api.delete(f"/api/v1/planning/questions/{question.pk}/").status_code == 404
    # Charlie's own firm sees only its own questionnaire.
    assert [q["id"] for q in api.get("/api/v1/planning/questionnaires/").json()["results"]] != [questionnaire.pk]
    with alice.scope():
        assert Goal.objects.get(pk=goal.pk).name == "Retirement" and questionnaire.questions.count() == 5
    # Pages too.
    client = charlie.client()
    for path in (f"/reports/planning/contacts/{ann.pk}/", f"/reports/planning/goals/{goal.pk}/",
                 f"/reports/planning/contacts/{ann.pk}/risk-scores/{score.pk}/",
                 f"/reports/planning/questionnaires/{questionnaire.pk}/edit/"):  # fmt: skip
        assert client.get(path).status_code == 404, path


def test_without_portfolio_analyst_it_is_403(bob: Persona, ann: Any) -> None:
    assert bob.api().get(f"/api/v1/planning/contacts/{ann.pk}/goals/").status_code == 403
    assert bob.api().get("/api/v1/planning/questionnaires/").status_code == 403
    assert bob.client().get(f"/reports/planning/contacts/{ann.pk}/").status_code == 403


def test_an_analyst_outside_the_contacts_scope_gets_404(alice: Persona, ann: Any) -> None:
    with alice.scope():
        ben = ContactFactory(first_name="Ben", last_name="Brown")
        pat = analyst_scoped_to(alice, [ben])
        goal = services.goal_create(actor=alice.user, contact=ann, **goal_fields())
    assert pat.api().get(f"/api/v1/planning/contacts/{ann.pk}/goals/").status_code == 404
    assert pat.api().get(f"/api/v1/planning/goals/{goal.pk}/").status_code == 404
    assert pat.api().get(f"/api/v1/planning/contacts/{ben.pk}/goals/").status_code == 200
    assert pat.client().get(f"/reports/planning/goals/{goal.pk}/").status_code == 404


# --- Pages -------------------------------------------------------------------------------------------------------


def test_pages_record_a_score_and_show_a_goal_with_its_chart(alice: Persona, ann: Any) -> None:
    client = alice.client()
    contact_page = client.get(f"/contacts/{ann.pk}/")
    assert f'href="/reports/planning/contacts/{ann.pk}/"' in contact_page.content.decode()
    page = client.get(f"/reports/planning/contacts/{ann.pk}/")
    assert page.status_code == 200 and "No questionnaire answered yet" in page.content.decode()
    with alice.scope():
        questionnaire = selectors.questionnaire_get(pk=services.questionnaire_ensure_default(actor=alice.user).pk)
        answers = answer_all(questionnaire, lambda options: options[1])
    form = client.get(f"/reports/planning/contacts/{ann.pk}/risk-scores/new/")
    assert form.status_code == 200 and "lose 20 %" in form.content.decode()
    partial = {f"question_{q}": o for q, o in list(answers.items())[:3]}
    refused = client.post(f"/reports/planning/contacts/{ann.pk}/risk-scores/new/", partial)
    assert refused.status_code == 400 and "Choose an answer." in refused.content.decode()
    done = client.post(f"/reports/planning/contacts/{ann.pk}/risk-scores/new/",
                       {f"question_{q}": o for q, o in answers.items()}, follow=True)  # fmt: skip
    assert done.status_code == 200 and "Moderately conservative" in done.content.decode()

    bad = {"name": "House", "target_amount": "80000", "target_date": "2020-01-01", "current_amount": "-1",
           "monthly_contribution": "500", "expected_return": "5", "volatility": "75", "currency": "USD"}  # fmt: skip
    refused = client.post(f"/reports/planning/contacts/{ann.pk}/goals/new/", bad)
    text = refused.content.decode()
    assert refused.status_code == 400 and "Nothing was saved" in text
    assert "at least one month from today" in text and "less than or equal to 60" in text
    with alice.scope():
        assert not Goal.objects.exists()
    good = {**bad, "target_date": in_years(10).isoformat(), "current_amount": "20000", "volatility": "8"}
    saved = client.post(f"/reports/planning/contacts/{ann.pk}/goals/new/", good, follow=True)
    text = saved.content.decode()
    assert saved.status_code == 200 and "Chance of reaching the goal" in text
    assert "<svg" in text and 'class="chart-band"' in text and "<script" not in text.split("<main", 1)[-1]
    assert "5,000 simulated paths" in text
    with alice.scope():
        goal = Goal.objects.get()
        assert goal.expected_return == D("0.0500") and goal.volatility == D("0.0800")
    confirm = client.get(f"/reports/planning/goals/{goal.pk}/delete/")
    assert confirm.status_code == 200 and "Yes, delete it" in confirm.content.decode()
    client.post(f"/reports/planning/goals/{goal.pk}/delete/")
    with alice.scope():
        assert not Goal.objects.exists()


def test_questionnaire_pages_need_trading_models_to_edit(alice: Persona) -> None:
    with alice.scope():
        analyst = Persona(UserFactory(firm=alice.firm, email="ana@alpha.test", role=Role.STAFF,
                                      rights=frozenset({Right.PORTFOLIO_ANALYST})), alice.firm)  # fmt: skip
        questionnaire = services.questionnaire_ensure_default(actor=alice.user)
        question = questionnaire.questions.all()[0]
    page = analyst.client().get(f"/reports/planning/questionnaires/{questionnaire.pk}/")
    assert page.status_code == 200 and "Edit name and scale" not in page.content.decode()
    assert analyst.client().get(f"/reports/planning/questionnaires/{questionnaire.pk}/edit/").status_code == 403
    client = alice.client()
    assert "Edit name and scale" in client.get(f"/reports/planning/questionnaires/{questionnaire.pk}/").content.decode()
    with alice.scope():
        ids = [o.pk for o in question.options.all()]
    post = {"text": "Horizon", "option_id": [*map(str, ids), ""], "option_text": ["a", "b", "c", "d", "e", ""],
            "option_value": ["1", "2", "3", "4", "9", ""]}  # fmt: skip
    refused = client.post(f"/reports/planning/questions/{question.pk}/edit/", post)
    assert (
        refused.status_code == 400 and "Answer 5: The value must lie on the scale, 1 to 5." in refused.content.decode()
    )
    post["option_value"] = ["1", "2", "3", "4", "4.5", ""]
    assert client.post(f"/reports/planning/questions/{question.pk}/edit/", post).status_code == 302
    with alice.scope():
        assert [o.value for o in question.options.order_by("position")][-1] == D("4.50")
    confirm = client.get(f"/reports/planning/questions/{question.pk}/delete/")
    assert confirm.status_code == 200 and "Yes, remove it" in confirm.content.decode()


def test_api_answers_are_what_the_schema_documents(alice: Persona, ann: Any) -> None:
    from tests.test_api_schema_conformance import _check

    api = alice.api()
    listed = api.get("/api/v1/planning/questionnaires/")
    _check(alice, listed, "/api/v1/planning/questionnaires/", "get")
    questionnaire = listed.json()["results"][0]
    answers = [{"question": q["id"], "option": q["options"][0]["id"]} for q in questionnaire["questions"]]
    score = api.post(f"/api/v1/planning/contacts/{ann.pk}/risk-scores/", {"answers": answers}, format="json")
    _check(alice, score, "/api/v1/planning/contacts/{contact_pk}/risk-scores/", "post")
    _check(
        alice,
        api.get(f"/api/v1/planning/risk-scores/{score.json()['id']}/"),
        "/api/v1/planning/risk-scores/{id}/",
        "get",
    )
    body = {"name": "Boat", "target_amount": "30000.00", "target_date": in_years(3).isoformat(),
            "expected_return": "0.04", "volatility": "0.05"}  # fmt: skip
    goal = api.post(f"/api/v1/planning/contacts/{ann.pk}/goals/", body, format="json")
    _check(alice, goal, "/api/v1/planning/contacts/{contact_pk}/goals/", "post")
    projection = api.get(f"/api/v1/planning/goals/{goal.json()['id']}/projection/")
    _check(alice, projection, "/api/v1/planning/goals/{id}/projection/", "get")
    bad = api.post(f"/api/v1/planning/contacts/{ann.pk}/goals/", {**body, "volatility": "2"}, format="json")
    _check(alice, bad, "/api/v1/planning/contacts/{contact_pk}/goals/", "post")
    with alice.scope():
        Goal.objects.filter(pk=goal.json()["id"]).update(target_date=timezone.localdate())
    gone = api.get(f"/api/v1/planning/goals/{goal.json()['id']}/projection/")
    assert gone.status_code == 200 and gone.json()["available"] is False and gone.json()["probability"] is None
    _check(alice, gone, "/api/v1/planning/goals/{id}/projection/", "get")


@pytest.mark.django_db
def test_seed_demo_answers_questionnaires_and_sets_goals_in_both_firms(tmp_path: Any) -> None:
    from io import StringIO

    from django.core.management import call_command

    from accounts.models import Firm
    from advisorportal.tenancy.context import firm_scope
    from devtools.demo.planning import seed_planning

    call_command("seed_demo", contacts=12, accounts=0, credentials=str(tmp_path / "c.json"), stdout=StringIO())
    for slug in ("harbor", "summit"):
        firm = Firm.objects.get(slug=slug)
        with firm_scope(firm):
            assert seed_planning(firm=firm, seed=1, log=lambda _: None) == 0  # once only
            assert RiskScore.objects.count() == 7 and Goal.objects.count() == 10
            first = RiskScore.objects.order_by("contact_id", "taken_on").first()
            assert first is not None and RiskScore.objects.filter(contact_id=first.contact_id).count() == 2
            assert all(selectors.goal_projection(goal) is not None for goal in Goal.objects.all())
            assert {s.recorded_by.email for s in RiskScore.objects.select_related("recorded_by")} == {
                f"advisor@{slug}.example"}  # fmt: skip


def test_lists_cost_the_same_queries_whatever_their_length(alice: Persona, ann: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api, client = alice.api(), alice.client()
    paths = [f"/api/v1/planning/contacts/{ann.pk}/risk-scores/", f"/api/v1/planning/contacts/{ann.pk}/goals/",
             "/reports/planning/"]  # fmt: skip

    def counts() -> list[int]:
        found = []
        for path in paths:
            with CaptureQueriesContext(connection) as ctx:
                assert (api if path.startswith("/api/") else client).get(path).status_code == 200
            found.append(len(ctx.captured_queries))
        return found

    with alice.scope():
        questionnaire = services.questionnaire_ensure_default(actor=alice.user)
        answers = answer_all(questionnaire, lambda options: options[0])
        services.risk_score_record(actor=alice.user, contact=ann, questionnaire=questionnaire, answers=answers)
        services.goal_create(actor=alice.user, contact=ann, **goal_fields())
    counts()  # the first request of a token records its first use
    few = counts()
    with alice.scope():
        for _ in range(5):
            services.risk_score_record(actor=alice.user, contact=ann, questionnaire=questionnaire, answers=answers)
            services.goal_create(actor=alice.user, contact=ann, **goal_fields())
    assert counts() == few


def test_a_copy_is_changed_without_touching_the_original_and_removed_when_unused(
    alice: Persona, charlie: Persona, ann: Any
) -> None:
    with alice.scope():
        original = services.questionnaire_ensure_default(actor=alice.user)
        with pytest.raises(ValidationError) as taken:
            services.questionnaire_copy(actor=alice.user, source=original, name="Risk tolerance")
        assert "name" in taken.value.message_dict
    api = alice.api()
    copied = api.post(f"/api/v1/planning/questionnaires/{original.pk}/copy/", {"name": "Retirees"}, format="json")
    assert copied.status_code == 201, copied.content
    copy = copied.json()
    assert (
        not copy["is_default"] and len(copy["questions"]) == 5 and copy["questions"][0]["options"][4]["value"] == "5.00"
    )
    assert api.patch(f"/api/v1/planning/questionnaires/{copy['id']}/setup/", {"scale_max": 9},
                     format="json").status_code == 200  # fmt: skip
    with alice.scope():
        assert selectors.questionnaire_get(pk=original.pk).questions.all()[0].options.all()[4].value == D(5)
        default = api.delete(f"/api/v1/planning/questionnaires/{original.pk}/setup/")
        assert default.status_code == 400 and "default" in str(default.json()["error"]["fields"])
        used = selectors.questionnaire_get(pk=copy["id"])
        services.risk_score_record(actor=alice.user, contact=ann, questionnaire=used,
                                   answers=answer_all(used, lambda options: options[0]))  # fmt: skip
    refused = api.delete(f"/api/v1/planning/questionnaires/{copy['id']}/setup/")
    assert refused.status_code == 400 and "1 score(s)" in str(refused.json()["error"]["fields"])
    client = alice.client()
    page = client.get(f"/reports/planning/questionnaires/{copy['id']}/delete/")
    assert page.status_code == 200 and "Yes, remove it" in page.content.decode()
    unused = client.post(f"/reports/planning/questionnaires/{original.pk}/copy/", {"name": "Unused"})
    assert unused.status_code == 302
    with alice.scope():
        unused_pk = selectors.questionnaire_list().get(name="Unused").pk
    assert client.post(f"/reports/planning/questionnaires/{unused_pk}/delete/").status_code == 302
    with alice.scope():
        assert sorted(q.name for q in selectors.questionnaire_list()) == ["Retirees", "Risk tolerance"]
        assert not Question.objects.filter(questionnaire_id=unused_pk).exists()
    outsider = charlie.api().post(
        f"/api/v1/planning/questionnaires/{copy['id']}/copy/", {"name": "Mine"}, format="json"
    )
    assert outsider.status_code == 404
