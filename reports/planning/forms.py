"""Forms of the planning pages. Rates are typed as percentages (6 for 6 % a year) and kept as
fractions (0.06); the ranges are checked here in the same words the API uses."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from reports.planning import esg
from reports.planning.models import MAX_RETURN, MAX_VOLATILITY, MIN_RETURN, SCALE_LIMIT, Questionnaire

HUNDRED = Decimal(100)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


class GoalForm(forms.Form):
    name = forms.CharField(label="Goal", max_length=200, help_text="For example: Retirement, College for Sam.")
    target_amount = forms.DecimalField(label="Goal amount", max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    target_date = forms.DateField(label="Goal date", widget=DateInput(), help_text="At least one month from today.")
    current_amount = forms.DecimalField(
        label="Saved now", max_digits=14, decimal_places=2, min_value=Decimal("0"), initial=Decimal("0")
    )
    monthly_contribution = forms.DecimalField(
        label="Monthly contribution",
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0"),
        initial=Decimal("0"),
        help_text="Added at the end of each month.",
    )
    expected_return = forms.DecimalField(
        label="Target return (% a year)",
        max_digits=6,
        decimal_places=2,
        min_value=MIN_RETURN * HUNDRED,
        max_value=MAX_RETURN * HUNDRED,
        help_text=f"The expected growth a year, {MIN_RETURN * HUNDRED:.0f} to {MAX_RETURN * HUNDRED:.0f}.",
    )
    volatility = forms.DecimalField(
        label="Risk: volatility (% a year)",
        max_digits=6,
        decimal_places=2,
        min_value=Decimal(0),
        max_value=MAX_VOLATILITY * HUNDRED,
        help_text="How much a year's return typically varies, 0 to 60. About 5 for bonds, 15 for stocks.",
    )
    currency = forms.RegexField(
        label="Currency",
        regex=r"^[A-Z]{3}$",
        max_length=3,
        initial="USD",
        error_messages={"invalid": "Use a three-letter ISO 4217 code, such as USD."},
    )

    def clean_target_date(self) -> Any:
        from reports.planning.services import goal_date_problem

        value = self.cleaned_data["target_date"]
        if problem := goal_date_problem(value):
            raise forms.ValidationError(problem)
        return value

    def fields_for_service(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["expected_return"] = data["expected_return"] / HUNDRED
        data["volatility"] = data["volatility"] / HUNDRED
        return data

    @classmethod
    def initial_from(cls, goal: Any) -> dict[str, Any]:
        return {
            "name": goal.name,
            "target_amount": goal.target_amount,
            "target_date": goal.target_date,
            "current_amount": goal.current_amount,
            "monthly_contribution": goal.monthly_contribution,
            "expected_return": (goal.expected_return * HUNDRED).normalize(),
            "volatility": (goal.volatility * HUNDRED).normalize(),
            "currency": goal.currency,
        }


class RiskAnswersForm(forms.Form):
    """One choice per question of ``questionnaire``; fields ``question_<id>``."""

    taken_on = forms.DateField(
        label="Answered on", widget=DateInput(), required=False, help_text="Leave empty for today."
    )
    note = forms.CharField(label="Note", max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, questionnaire: Questionnaire, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.questionnaire = questionnaire
        questions = {}
        for number, question in enumerate(questionnaire.questions.all(), start=1):
            questions[f"question_{question.pk}"] = forms.TypedChoiceField(
                label=f"{number}. {question.text}",
                coerce=int,
                widget=forms.RadioSelect,
                choices=[(o.pk, o.text) for o in question.options.all()],
                error_messages={"required": "Choose an answer."},
            )
        self.fields = {**questions, **self.fields}

    def answers(self) -> dict[int, int]:
        return {
            int(name.removeprefix("question_")): value
            for name, value in self.cleaned_data.items()
            if name.startswith("question_")
        }


class QuestionnaireForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    description = forms.CharField(
        label="Description", max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    scale_min = forms.IntegerField(label="Lowest value (lowest risk)", min_value=0, max_value=SCALE_LIMIT - 1)
    scale_max = forms.IntegerField(
        label="Highest value (highest risk)",
        min_value=1,
        max_value=SCALE_LIMIT,
        help_text="Changing the scale moves every answer's value to the same place on the new scale.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        low, high = data.get("scale_min"), data.get("scale_max")
        if low is not None and high is not None and low >= high:
            self.add_error("scale_max", "The highest value must be more than the lowest.")
        return data


class EsgRankForm(forms.Form):
    """A rank per impact value (1 = matters most; blank: does not matter), each rank used once."""

    note = forms.CharField(label="Note", required=False, max_length=1000, help_text="Optional: how the client said it.")

    def __init__(self, *args: Any, with_note: bool = True, initial_ranking: list[str] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if not with_note:
            del self.fields["note"]
        ranks = {code: str(position) for position, code, _ in esg.described(initial_ranking or [])}
        choices = [("", "Does not matter"), *((str(n), str(n)) for n in range(1, len(esg.VALUES) + 1))]
        for code, label, description in esg.VALUES:
            self.fields[code] = forms.ChoiceField(
                label=label, choices=choices, required=False, help_text=description, initial=ranks.get(code, "")
            )

    def value_fields(self) -> list[forms.BoundField]:
        return [self[code] for code in esg.CODES]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            self.ranking = esg.ranking_from_ranks({code: data.get(code) or "" for code in esg.CODES})
        except ValidationError as error:
            for field, problems in error.message_dict.items():
                self.add_error(field if field in self.fields else None, problems)
        return data
