"""Planning API under /api/v1/planning/ (issue #19, point 5): the firm's questionnaires, a contact's
risk scores and goals, and a goal's projection. Same selectors, services and rights as the pages:
PortfolioAnalyst to read and record (a contact outside the caller's scope, or another firm's, is a
404), Trading/Models to edit a questionnaire. Bad input is a 400 in the one error shape, naming the
field; nothing is changed."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as DrfValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_access import FirmScopedAPIView, FirmScopedViewSet
from accounts.rights import Right
from crm.models import Contact
from reports.planning import esg, presenting, selectors, services
from reports.planning.models import Goal, Question, Questionnaire, RiskScore
from reports.planning.serializers import (
    EsgInvitationSerializer,
    EsgPreferenceSerializer,
    EsgRecordSerializer,
    EsgValueSerializer,
    GoalProjectionSerializer,
    GoalSerializer,
    GoalWriteSerializer,
    QuestionEditSerializer,
    QuestionnaireCopySerializer,
    QuestionnaireSerializer,
    QuestionnaireSetupSerializer,
    QuestionSerializer,
    RiskScoreRecordSerializer,
    RiskScoreSerializer,
)
from reports.planning.services import OptionEdit


def _refused(error: ValidationError) -> DrfValidationError:
    return DrfValidationError(
        error.message_dict if hasattr(error, "error_dict") else {"non_field_errors": error.messages}
    )


def _body(serializer_class: type[Any], request: Request, **kwargs: Any) -> dict[str, Any]:
    body = serializer_class(data=request.data, **kwargs)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


def _contact(request: Request, pk: Any) -> Contact:
    try:
        return selectors.planning_contact_get(user=request.user, pk=pk)
    except Contact.DoesNotExist:
        raise NotFound from None


def _questionnaire(pk: Any) -> Questionnaire:
    try:
        return selectors.questionnaire_get(pk=pk)
    except Questionnaire.DoesNotExist:
        raise NotFound from None


def _options(rows: list[dict[str, Any]]) -> list[OptionEdit]:
    return [OptionEdit(text=r["text"], value=r["value"], option_id=r.get("id")) for r in rows]


# --- Questionnaires --------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="The firm's risk questionnaires (its default one is created on first use)."),
    retrieve=extend_schema(summary="One questionnaire: its scale, questions, answers and their score values."),
)
class QuestionnaireViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    required_right = Right.PORTFOLIO_ANALYST
    serializer_class = QuestionnaireSerializer
    filter_backends: list[Any] = []
    keyset = ("id",)

    def get_queryset(self) -> QuerySet[Questionnaire]:
        if self.describing_schema():
            return Questionnaire.objects.unscoped().none()
        services.questionnaire_ensure_default(actor=self.request.user)
        return selectors.questionnaire_list().prefetch_related("questions__options")

    def get_object(self) -> Questionnaire:
        return _questionnaire(self.kwargs["pk"])


class QuestionnaireSetupView(FirmScopedAPIView):
    """Editing a questionnaire changes how the firm's future scores are computed: Trading/Models."""

    required_right = Right.TRADING

    @extend_schema(
        summary="Rename, describe or re-scale a questionnaire (scores already recorded keep their scale).",
        request=QuestionnaireSetupSerializer,
        responses={200: QuestionnaireSerializer},
    )
    def patch(self, request: Request, pk: int) -> Response:
        questionnaire = _questionnaire(pk)
        data = _body(QuestionnaireSetupSerializer, request)
        fields = {
            name: data.get(name, getattr(questionnaire, name))
            for name in ("name", "description", "scale_min", "scale_max")
        }
        try:
            services.questionnaire_update(actor=request.user, questionnaire=questionnaire, **fields)
        except ValidationError as error:
            raise _refused(error) from None
        return Response(QuestionnaireSerializer(selectors.questionnaire_get(pk=questionnaire.pk)).data)

    @extend_schema(
        summary="Remove a questionnaire no score was recorded with (never the firm's default).",
        responses={204: None},
    )
    def delete(self, request: Request, pk: int) -> Response:
        try:
            services.questionnaire_delete(actor=request.user, questionnaire=_questionnaire(pk))
        except ValidationError as error:
            raise _refused(error) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class QuestionnaireCopyView(FirmScopedAPIView):
    required_right = Right.TRADING

    @extend_schema(
        summary="Copy a questionnaire (scale, questions, answers, values) under a new name.",
        request=QuestionnaireCopySerializer,
        responses={201: QuestionnaireSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        source = _questionnaire(pk)
        data = _body(QuestionnaireCopySerializer, request)
        try:
            copy = services.questionnaire_copy(actor=request.user, source=source, name=data["name"])
        except ValidationError as error:
            raise _refused(error) from None
        return Response(
            QuestionnaireSerializer(selectors.questionnaire_get(pk=copy.pk)).data, status=status.HTTP_201_CREATED
        )


class QuestionAddView(FirmScopedAPIView):
    required_right = Right.TRADING

    @extend_schema(
        summary="Add a question with its answers and their values.",
        request=QuestionEditSerializer,
        responses={201: QuestionSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        questionnaire = _questionnaire(pk)
        data = _body(QuestionEditSerializer, request)
        try:
            question = services.question_add(
                actor=request.user, questionnaire=questionnaire, text=data["text"], options=_options(data["options"])
            )
        except ValidationError as error:
            raise _refused(error) from None
        return Response(QuestionSerializer(selectors.question_get(pk=question.pk)).data, status=status.HTTP_201_CREATED)


class QuestionView(FirmScopedAPIView):
    required_right = Right.TRADING

    def _question(self, pk: Any) -> Question:
        try:
            return selectors.question_get(pk=pk)
        except Question.DoesNotExist:
            raise NotFound from None

    @extend_schema(
        summary="Change a question's text and its answers (every answer, in order; those left out are removed).",
        request=QuestionEditSerializer,
        responses={200: QuestionSerializer},
    )
    def patch(self, request: Request, pk: int) -> Response:
        question = self._question(pk)
        data = _body(QuestionEditSerializer, request)
        try:
            services.question_update(
                actor=request.user, question=question, text=data["text"], options=_options(data["options"])
            )
        except ValidationError as error:
            raise _refused(error) from None
        return Response(QuestionSerializer(selectors.question_get(pk=question.pk)).data)

    @extend_schema(summary="Remove a question (scores recorded with it keep their copy).", responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        try:
            services.question_delete(actor=request.user, question=self._question(pk))
        except ValidationError as error:
            raise _refused(error) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Risk scores -------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="A contact's risk scores, newest first (the score history)."),
    create=extend_schema(
        summary="Record a contact's answers; the score is the average of the chosen answers' values.",
        request=RiskScoreRecordSerializer,
        responses={201: RiskScoreSerializer},
    ),
)
class ContactRiskScoreViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, FirmScopedViewSet):
    required_right = Right.PORTFOLIO_ANALYST
    serializer_class = RiskScoreSerializer
    filter_backends: list[Any] = []
    keyset = ("-taken_on", "-recorded_at", "-id")

    def get_queryset(self) -> QuerySet[RiskScore]:
        if self.describing_schema():
            return RiskScore.objects.unscoped().none()
        contact = _contact(self.request, self.kwargs["contact_pk"])
        return selectors.risk_score_history(user=self.request.user, contact=contact).prefetch_related("answers")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        contact = _contact(request, self.kwargs["contact_pk"])
        data = _body(RiskScoreRecordSerializer, request)
        if "questionnaire" in data:
            questionnaire = _questionnaire(data["questionnaire"])
        else:
            questionnaire = _questionnaire(services.questionnaire_ensure_default(actor=request.user).pk)
        try:
            score = services.risk_score_record(
                actor=request.user,
                contact=contact,
                questionnaire=questionnaire,
                answers={a["question"]: a["option"] for a in data["answers"]},
                taken_on=data.get("taken_on"),
                note=data.get("note", ""),
            )
        except ValidationError as error:
            raise _refused(error) from None
        score = selectors.risk_score_get(user=request.user, pk=score.pk)
        return Response(RiskScoreSerializer(score).data, status=status.HTTP_201_CREATED)


@extend_schema_view(retrieve=extend_schema(summary="One risk score with the answers it was computed from."))
class RiskScoreViewSet(mixins.RetrieveModelMixin, FirmScopedViewSet):
    required_right = Right.PORTFOLIO_ANALYST
    serializer_class = RiskScoreSerializer

    def get_queryset(self) -> QuerySet[RiskScore]:
        if self.describing_schema():
            return RiskScore.objects.unscoped().none()
        return selectors.recent_scores_queryset(user=self.request.user)

    def get_object(self) -> RiskScore:
        try:
            return selectors.risk_score_get(user=self.request.user, pk=self.kwargs["pk"])
        except RiskScore.DoesNotExist:
            raise NotFound from None


# --- Goals -------------------------------------------------------------------------------------------------


def _goal_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k in services.GOAL_FIELDS}


@extend_schema_view(
    list=extend_schema(summary="A contact's goals, nearest date first."),
    create=extend_schema(
        summary="Add a goal for a contact.", request=GoalWriteSerializer, responses={201: GoalSerializer}
    ),
)
class ContactGoalViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, FirmScopedViewSet):
    required_right = Right.PORTFOLIO_ANALYST
    serializer_class = GoalSerializer
    filter_backends: list[Any] = []
    keyset = ("target_date", "id")

    def get_queryset(self) -> QuerySet[Goal]:
        if self.describing_schema():
            return Goal.objects.unscoped().none()
        return selectors.goal_list(user=self.request.user, contact=_contact(self.request, self.kwargs["contact_pk"]))

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        contact = _contact(request, self.kwargs["contact_pk"])
        data = _body(GoalWriteSerializer, request)
        try:
            goal = services.goal_create(actor=request.user, contact=contact, **_goal_fields(data))
        except ValidationError as error:
            raise _refused(error) from None
        return Response(GoalSerializer(goal).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    retrieve=extend_schema(summary="One goal."),
    partial_update=extend_schema(
        summary="Change a goal (any of its fields).", request=GoalWriteSerializer, responses={200: GoalSerializer}
    ),
    destroy=extend_schema(summary="Delete a goal (audited)."),
)
class GoalViewSet(mixins.RetrieveModelMixin, mixins.DestroyModelMixin, FirmScopedViewSet):
    required_right = Right.PORTFOLIO_ANALYST
    serializer_class = GoalSerializer
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Goal]:
        if self.describing_schema():
            return Goal.objects.unscoped().none()
        return selectors.goal_list(user=self.request.user)

    def get_object(self) -> Goal:
        try:
            return selectors.goal_get(user=self.request.user, pk=self.kwargs["pk"])
        except Goal.DoesNotExist:
            raise NotFound from None

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        goal = self.get_object()
        data = _body(GoalWriteSerializer, request, partial=True)
        try:
            goal = services.goal_update(actor=request.user, goal=goal, **_goal_fields(data))
        except ValidationError as error:
            raise _refused(error) from None
        return Response(GoalSerializer(goal).data)

    def perform_destroy(self, instance: Goal) -> None:
        services.goal_delete(actor=self.request.user, goal=instance)

    @extend_schema(
        summary="The goal's projection at the target return and the probability of reaching it (5,000 simulated "
        "paths, monthly lognormal returns, a seed fixed per goal).",
        responses={200: GoalProjectionSerializer},
    )
    @action(detail=True, methods=["get"])
    def projection(self, request: Request, pk: str) -> Response:
        goal = self.get_object()
        projection = selectors.goal_projection(goal)
        if projection is None:
            body: dict[str, Any] = dict.fromkeys(
                ("months", "paths", "projected", "probability", "low", "median", "high", "contribution_needed")
            )
            body.update(
                goal=goal.pk,
                available=False,
                points=[],
                explanation="The goal date is less than a month away or has passed: nothing to project.",
            )
            return Response(GoalProjectionSerializer(body).data)
        chart = presenting.chart(projection, goal=goal.target_amount, start=timezone.localdate(), end=goal.target_date)
        body = {
            "goal": goal.pk,
            "available": True,
            "months": projection.months,
            "paths": projection.paths,
            "projected": projection.projected,
            "probability": projection.probability,
            "low": projection.low,
            "median": projection.median,
            "high": projection.high,
            "contribution_needed": projection.contribution_needed,
            "points": [vars(row) for row in chart.rows],
            "explanation": presenting.explanation(goal, projection, date_format="iso"),
        }
        return Response(GoalProjectionSerializer(body).data)


# --- ESG impact preferences ------------------------------------------------------------------------


class EsgValuesView(FirmScopedAPIView):
    required_right = Right.PORTFOLIO_ANALYST

    @extend_schema(responses=EsgValueSerializer(many=True), summary="The impact values a client ranks.")
    def get(self, request: Request) -> Response:
        """The 13 impact values (code, label, what it means), in the order the pages list them."""
        rows = [{"code": code, "label": label, "description": text} for code, label, text in esg.VALUES]
        return Response(EsgValueSerializer(rows, many=True).data)


class EsgContactView(FirmScopedAPIView):
    required_right = Right.PORTFOLIO_ANALYST

    @extend_schema(responses=EsgPreferenceSerializer(many=True), summary="A contact's ESG rankings, newest first.")
    def get(self, request: Request, pk: int) -> Response:
        """The contact's rankings, newest first (the first is the current one; at most 20)."""
        contact = _contact(request, pk)
        return Response(EsgPreferenceSerializer(selectors.esg_history(contact=contact), many=True).data)

    @extend_schema(request=EsgRecordSerializer, responses={201: EsgPreferenceSerializer},
                   summary="Record the contact's ranking of the impact values.")  # fmt: skip
    def post(self, request: Request, pk: int) -> Response:
        """Record a ranking as the advisor: value codes, most important first, each once (those left out do not
        matter to the client). An unknown or repeated code is a 400 naming `ranking`; nothing is stored."""
        contact = _contact(request, pk)
        data = _body(EsgRecordSerializer, request)
        try:
            preference = services.esg_record(
                actor=request.user, contact=contact, ranking=data["ranking"], note=data.get("note", "")
            )
        except ValidationError as error:
            raise _refused(error) from None
        return Response(EsgPreferenceSerializer(preference).data, status=status.HTTP_201_CREATED)


class EsgInviteView(FirmScopedAPIView):
    required_right = Right.PORTFOLIO_ANALYST

    @extend_schema(request=None, responses={201: EsgInvitationSerializer},
                   summary="Email the contact a link to rank the impact values themselves.")  # fmt: skip
    def post(self, request: Request, pk: int) -> Response:
        """A single-use link (14 days) to a white-branded page where the client ranks the values without signing
        in, emailed to the contact's address on file; earlier open invitations stop working. A contact without
        an email address is a 400 naming `contact`; nothing is sent."""
        contact = _contact(request, pk)
        try:
            invitation = services.esg_invite(actor=request.user, contact=contact)
        except ValidationError as error:
            raise _refused(error) from None
        return Response(EsgInvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)
