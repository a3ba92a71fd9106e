"""Planning tools of a contact (issue #19, point 5): risk-score questionnaires and their scores,
and goals. A score keeps a copy of each question, answer and value as they were when it was
recorded, so editing the questionnaire later never rewrites a client's history."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from advisorportal.tenancy.models import FirmOwnedModel

SCALE_LIMIT = 100  # the highest value a scale may reach; 1-5 by default
MIN_VOLATILITY, MAX_VOLATILITY = Decimal("0"), Decimal("0.6")  # 0-60 % a year
MIN_RETURN, MAX_RETURN = Decimal("-0.2"), Decimal("0.3")  # -20 % to 30 % a year
MAX_AMOUNT = Decimal("999999999999.99")


class Questionnaire(FirmOwnedModel):
    name_fields = frozenset({"name"})

    name = models.CharField(max_length=200)
    description = models.TextField(max_length=2000, blank=True)
    scale_min = models.PositiveSmallIntegerField("lowest value", default=1)
    scale_max = models.PositiveSmallIntegerField("highest value", default=5)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["-is_default", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["firm", "name"], name="planning_questionnaire_name_uniq"),
            models.UniqueConstraint(
                fields=["firm"], condition=models.Q(is_default=True), name="planning_questionnaire_one_default"
            ),
            models.CheckConstraint(
                condition=models.Q(scale_min__lt=models.F("scale_max"), scale_max__lte=SCALE_LIMIT),
                name="planning_questionnaire_scale",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Question(FirmOwnedModel):
    questionnaire = models.ForeignKey(Questionnaire, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField(default=0)
    text = models.CharField("question", max_length=500)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["firm", "questionnaire", "position"], name="planning_question_order_idx")]

    def __str__(self) -> str:
        return self.text


class AnswerOption(FirmOwnedModel):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="options")
    position = models.PositiveSmallIntegerField(default=0)
    text = models.CharField("answer", max_length=300)
    value = models.DecimalField("score value", max_digits=6, decimal_places=2)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["firm", "question", "position"], name="planning_option_order_idx")]

    def __str__(self) -> str:
        return self.text


class RiskBand(models.TextChoices):
    CONSERVATIVE = "conservative", "Conservative"
    MODERATELY_CONSERVATIVE = "moderately_conservative", "Moderately conservative"
    MODERATE = "moderate", "Moderate"
    MODERATELY_AGGRESSIVE = "moderately_aggressive", "Moderately aggressive"
    AGGRESSIVE = "aggressive", "Aggressive"


class RiskScore(FirmOwnedModel):
    """One completed questionnaire of a contact: the score, the scale it is on, who recorded it and when."""

    contact = models.ForeignKey("crm.Contact", on_delete=models.CASCADE, related_name="+")
    questionnaire = models.ForeignKey(Questionnaire, on_delete=models.PROTECT, related_name="scores")
    questionnaire_name = models.CharField(max_length=200)
    score = models.DecimalField(max_digits=6, decimal_places=2)
    scale_min = models.PositiveSmallIntegerField()
    scale_max = models.PositiveSmallIntegerField()
    band = models.CharField(max_length=32, choices=RiskBand.choices)
    taken_on = models.DateField("answered on")
    note = models.TextField(max_length=2000, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["-taken_on", "-recorded_at", "-id"]
        indexes = [models.Index(fields=["firm", "contact", "taken_on", "id"], name="planning_score_contact_idx")]

    def __str__(self) -> str:
        return f"Risk score {self.score} ({self.scale_min}-{self.scale_max})"


class RiskScoreAnswer(FirmOwnedModel):
    """One answer of a score, copied as it stood (the question or option may change or go later)."""

    risk_score = models.ForeignKey(RiskScore, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    option = models.ForeignKey(AnswerOption, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)
    question_text = models.CharField(max_length=500)
    option_text = models.CharField(max_length=300)
    value = models.DecimalField(max_digits=6, decimal_places=2)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.question_text}: {self.option_text}"


class Goal(FirmOwnedModel):
    """A contact's goal: an amount wanted by a date, what is saved now, what goes in each month,
    and the return and risk (volatility, a year) the money is invested for."""

    name_fields = frozenset({"name"})

    contact = models.ForeignKey("crm.Contact", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    currency = models.CharField(
        max_length=3, default="USD", validators=[RegexValidator(r"^[A-Z]{3}$", "Use a three-letter ISO 4217 code.")]
    )
    target_amount = models.DecimalField(
        "goal amount",
        max_digits=14,
        decimal_places=2,
        validators=[
            MinValueValidator(Decimal("0.01"), "The goal amount must be more than zero."),
            MaxValueValidator(MAX_AMOUNT, "The goal amount is too large."),
        ],
    )
    target_date = models.DateField("goal date")
    current_amount = models.DecimalField(
        "saved now",
        max_digits=14,
        decimal_places=2,
        default=Decimal("0"),
        validators=[
            MinValueValidator(Decimal("0"), "The amount saved now cannot be negative."),
            MaxValueValidator(MAX_AMOUNT, "The amount saved now is too large."),
        ],
    )
    monthly_contribution = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        default=Decimal("0"),
        validators=[
            MinValueValidator(Decimal("0"), "The monthly contribution cannot be negative."),
            MaxValueValidator(MAX_AMOUNT, "The monthly contribution is too large."),
        ],
    )
    expected_return = models.DecimalField(
        "target return",
        max_digits=6,
        decimal_places=4,
        validators=[
            MinValueValidator(MIN_RETURN, "The target return is at least -20 % a year (-0.2)."),
            MaxValueValidator(MAX_RETURN, "The target return is at most 30 % a year (0.3)."),
        ],
    )
    volatility = models.DecimalField(
        "risk (volatility)",
        max_digits=6,
        decimal_places=4,
        validators=[
            MinValueValidator(MIN_VOLATILITY, "The risk (volatility) cannot be negative."),
            MaxValueValidator(MAX_VOLATILITY, "The risk (volatility) is at most 60 % a year (0.6)."),
        ],
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["target_date", "id"]
        indexes = [models.Index(fields=["firm", "contact", "target_date", "id"], name="planning_goal_contact_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    target_amount__gt=0,
                    current_amount__gte=0,
                    monthly_contribution__gte=0,
                    volatility__gte=MIN_VOLATILITY,
                    volatility__lte=MAX_VOLATILITY,
                    expected_return__gte=MIN_RETURN,
                    expected_return__lte=MAX_RETURN,
                ),
                name="planning_goal_ranges",
            )
        ]

    def __str__(self) -> str:
        return self.name


# --- ESG impact preferences (issue #19, point 5) ---------------------------------------------------


class EsgSource(models.TextChoices):
    ADVISOR = "advisor", "Recorded by the advisor"
    CLIENT = "client", "Ranked by the client through an emailed link"


class EsgInvitation(FirmOwnedModel):
    """An invitation emailed to a contact to rank the impact values on a page without signing in
    (through a single-use link of the links kit, purpose ``planning.esg``)."""

    contact = models.ForeignKey("crm.Contact", on_delete=models.CASCADE, related_name="+")
    sent_to = models.EmailField(max_length=254)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["firm", "contact", "-created_at"], name="planning_esg_invite_idx")]

    def __str__(self) -> str:
        return f"ESG invitation to {self.sent_to}"


class EsgPreference(FirmOwnedModel):
    """A contact's ranking of the impact values (``esg.VALUES`` codes, most important first; the
    values left out do not matter to them), as recorded. The newest is the contact's current one;
    the older ones are its history."""

    contact = models.ForeignKey("crm.Contact", on_delete=models.CASCADE, related_name="+")
    ranking = ArrayField(models.CharField(max_length=32), help_text="Impact value codes, most important first")
    source = models.CharField(max_length=10, choices=EsgSource.choices)
    note = models.CharField(max_length=1000, blank=True)
    invitation = models.ForeignKey(EsgInvitation, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["-recorded_at", "-id"]
        indexes = [models.Index(fields=["firm", "contact", "-recorded_at"], name="planning_esg_pref_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ranking__len__gte=1, ranking__len__lte=13), name="planning_esg_ranking_len"
            ),
        ]

    def __str__(self) -> str:
        return f"ESG preferences of contact {self.contact_id}"
