"""What the planning API reads and answers. Amounts, values and rates are decimal strings both ways
("150000.00", "0.0600": rates are fractions a year); dates are ISO 8601."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from advisorportal.serializers import StrictSerializer
from reports.planning.models import AnswerOption, Goal, Question, Questionnaire, RiskScore, RiskScoreAnswer
from reports.serializers import DecimalStringField


class AnswerOptionSerializer(serializers.ModelSerializer[AnswerOption]):
    value = DecimalStringField(help_text="The answer's score value, on the questionnaire's scale.")

    class Meta:
        model = AnswerOption
        fields = ["id", "position", "text", "value"]
        read_only_fields = fields


class QuestionSerializer(serializers.ModelSerializer[Question]):
    options = AnswerOptionSerializer(many=True, read_only=True)

    class Meta:
        model = Question
        fields = ["id", "position", "text", "options"]
        read_only_fields = fields


class QuestionnaireSerializer(serializers.ModelSerializer[Questionnaire]):
    questions = QuestionSerializer(many=True, read_only=True)

    class Meta:
        model = Questionnaire
        fields = ["id", "name", "description", "scale_min", "scale_max", "is_default", "questions", "updated_at"]
        read_only_fields = fields


class QuestionnaireSetupSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    scale_min = serializers.IntegerField(required=False, help_text="The lowest value (lowest risk).")
    scale_max = serializers.IntegerField(
        required=False,
        help_text="The highest value (highest risk). A new scale moves every answer's value "
        "to the same place on it (proportionally, to the cent).",
    )


class QuestionnaireCopySerializer(StrictSerializer):
    name = serializers.CharField(max_length=200, help_text="The copy's name, unique in the firm.")


class OptionEditSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(required=False, help_text="An existing answer's id; leave out for a new answer.")
    text = serializers.CharField(max_length=300)
    value = DecimalStringField()


def refuse_unknown_row_keys(serializer: Any, name: str, allowed: set[str]) -> None:
    """Rows of a nested list refuse unknown keys too (a typo is never a silent "no change")."""
    rows = serializer.initial_data.get(name) if isinstance(serializer.initial_data, dict) else None
    for number, row in enumerate(rows if isinstance(rows, list) else [], start=1):
        unknown = sorted(set(row) - allowed) if isinstance(row, dict) else []
        if unknown:
            raise serializers.ValidationError({name: f"Row {number}: not part of this request: {', '.join(unknown)}."})


class QuestionEditSerializer(StrictSerializer):
    text = serializers.CharField(max_length=500)
    options = OptionEditSerializer(
        many=True, help_text="Every answer of the question, in order (2 to 10); answers left out are removed."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        refuse_unknown_row_keys(self, "options", {"id", "text", "value"})
        return super().validate(attrs)


class RiskScoreAnswerSerializer(serializers.ModelSerializer[RiskScoreAnswer]):
    value = DecimalStringField()

    class Meta:
        model = RiskScoreAnswer
        fields = ["question", "option", "question_text", "option_text", "value"]
        read_only_fields = fields


class RiskScoreSerializer(serializers.ModelSerializer[RiskScore]):
    score = DecimalStringField()
    band_label = serializers.CharField(source="get_band_display", read_only=True)
    recorded_by = serializers.CharField(source="recorded_by.full_name", default=None, read_only=True)
    answers = RiskScoreAnswerSerializer(many=True, read_only=True)

    class Meta:
        model = RiskScore
        fields = [
            "id",
            "contact",
            "questionnaire",
            "questionnaire_name",
            "score",
            "scale_min",
            "scale_max",
            "band",
            "band_label",
            "taken_on",
            "note",
            "recorded_by",
            "recorded_at",
            "answers",
        ]
        read_only_fields = fields


class AnswerChoiceSerializer(serializers.Serializer[Any]):
    question = serializers.IntegerField()
    option = serializers.IntegerField()


class RiskScoreRecordSerializer(StrictSerializer):
    questionnaire = serializers.IntegerField(required=False, help_text="Default: the firm's default questionnaire.")
    answers = AnswerChoiceSerializer(many=True, help_text="One answer for every question of the questionnaire.")
    taken_on = serializers.DateField(required=False, help_text="When the client answered (default today).")
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        refuse_unknown_row_keys(self, "answers", {"question", "option"})
        return super().validate(attrs)

    def validate_answers(self, answers: list[dict[str, int]]) -> list[dict[str, int]]:
        questions = [a["question"] for a in answers]
        if len(set(questions)) != len(questions):
            raise serializers.ValidationError("Each question may be answered once.")
        return answers


class GoalSerializer(serializers.ModelSerializer[Goal]):
    target_amount = DecimalStringField()
    current_amount = DecimalStringField()
    monthly_contribution = DecimalStringField()
    expected_return = DecimalStringField(help_text="A fraction a year: 0.0600 is 6 %.")
    volatility = DecimalStringField(help_text="A fraction a year, 0 to 0.6.")

    class Meta:
        model = Goal
        fields = [
            "id",
            "contact",
            "name",
            "currency",
            "target_amount",
            "target_date",
            "current_amount",
            "monthly_contribution",
            "expected_return",
            "volatility",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class GoalWriteSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    currency = serializers.CharField(max_length=3, required=False, help_text="ISO 4217 (default USD).")
    target_amount = DecimalStringField(help_text="The goal amount, more than zero.")
    target_date = serializers.DateField(help_text="At least one month from today.")
    current_amount = DecimalStringField(required=False, help_text="Saved now, not negative (default 0).")
    monthly_contribution = DecimalStringField(required=False, help_text="Added at the end of each month (default 0).")
    expected_return = DecimalStringField(help_text="The target return, a fraction a year from -0.2 to 0.3.")
    volatility = DecimalStringField(help_text="The risk (volatility), a fraction a year from 0 to 0.6.")


class GoalPointSerializer(serializers.Serializer[Any]):
    date = serializers.DateField()
    projected = DecimalStringField()
    low = DecimalStringField(help_text="10th percentile of the simulated paths.")
    median = DecimalStringField()
    high = DecimalStringField(help_text="90th percentile of the simulated paths.")


class GoalProjectionSerializer(serializers.Serializer[Any]):
    goal = serializers.IntegerField()
    available = serializers.BooleanField(
        help_text="False once the goal date is less than a month away: nothing to project."
    )
    months = serializers.IntegerField(allow_null=True, help_text="Whole months from today to the goal date.")
    paths = serializers.IntegerField(allow_null=True)
    projected = DecimalStringField(allow_null=True, help_text="The value on the goal date at the target return.")
    probability = DecimalStringField(
        allow_null=True, help_text="The share of simulated paths reaching the goal, 0 to 1."
    )
    low = DecimalStringField(allow_null=True, help_text="10th percentile of the paths on the goal date.")
    median = DecimalStringField(allow_null=True)
    high = DecimalStringField(allow_null=True, help_text="90th percentile of the paths on the goal date.")
    contribution_needed = DecimalStringField(
        allow_null=True,
        help_text="The monthly contribution that reaches the goal at the target return; null when "
        "what is saved now already does (or nothing is projected).",
    )
    points = GoalPointSerializer(many=True, help_text="One a year, and the goal date (empty when not available).")
    explanation = serializers.CharField(help_text="In plain words (dates ISO 8601); or why nothing is projected.")


# --- ESG impact preferences ------------------------------------------------------------------------


class EsgValueSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    # A field named like Field.label (the metaclass moves declared fields off the class).
    label = serializers.CharField()  # type: ignore[assignment]
    description = serializers.CharField()


class EsgPreferenceSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="pk")
    contact = serializers.IntegerField(source="contact_id")
    ranking = serializers.ListField(
        child=serializers.CharField(), help_text="Impact value codes, most important first."
    )
    # A field named like Field.source (the metaclass moves declared fields off the class).
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=["advisor", "client"], help_text="advisor: recorded by a user; client: ranked through the emailed link."
    )
    note = serializers.CharField()
    recorded_by = serializers.IntegerField(source="recorded_by_id", allow_null=True)
    recorded_at = serializers.DateTimeField()


class EsgRecordSerializer(StrictSerializer):
    ranking = serializers.ListField(
        child=serializers.CharField(max_length=32), max_length=13,
        help_text="Impact value codes (GET /api/v1/planning/esg/values/), most important first, each once.",
    )  # fmt: skip
    note = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class EsgInvitationSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="pk")
    contact = serializers.IntegerField(source="contact_id")
    sent_to = serializers.EmailField()
    created_at = serializers.DateTimeField()
    answered_at = serializers.DateTimeField(allow_null=True)
