"""Every read of the planning tools. A contact's scores and goals are visible exactly when the
contact is in the user's PortfolioAnalyst scope (``crm.scope.scope_contacts``): another firm's
contact, or one outside the scope, is missing alike. Questionnaires are the firm's, the same for
every user of it."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Prefetch, QuerySet
from django.utils import timezone

from accounts.rights import Right
from crm.models import Contact
from crm.scope import scope_contacts
from reports.planning.models import (
    AnswerOption,
    EsgInvitation,
    EsgPreference,
    Goal,
    Question,
    Questionnaire,
    RiskScore,
)
from reports.planning.simulation import MAX_MONTHS, Projection, months_between, project

RIGHT = Right.PORTFOLIO_ANALYST


def _pk(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise LookupError from None


def planning_contact_get(*, user: Any, pk: Any) -> Contact:
    """A contact in the user's scope (``Contact.DoesNotExist`` for a missing, another firm's or an
    out-of-scope one alike)."""
    try:
        return scope_contacts(Contact.objects.all(), user=user, right=RIGHT).get(pk=_pk(pk))
    except LookupError:
        raise Contact.DoesNotExist from None


def questionnaire_list() -> QuerySet[Questionnaire]:
    """The firm's questionnaires, the default first; each with ``question_count``."""
    return Questionnaire.objects.annotate(question_count=Count("questions")).order_by("-is_default", "name", "id")


def questionnaire_get(*, pk: Any) -> Questionnaire:
    """One questionnaire with its questions and their answers, in order."""
    try:
        pk = _pk(pk)
    except LookupError:
        raise Questionnaire.DoesNotExist from None
    options = Prefetch("options", queryset=AnswerOption.objects.order_by("position", "id"))
    questions = Prefetch("questions", queryset=Question.objects.order_by("position", "id").prefetch_related(options))
    return Questionnaire.objects.prefetch_related(questions).get(pk=pk)


def question_get(*, pk: Any) -> Question:
    try:
        return Question.objects.select_related("questionnaire").prefetch_related("options").get(pk=_pk(pk))
    except LookupError:
        raise Question.DoesNotExist from None


def _scores(user: Any) -> QuerySet[RiskScore]:
    return scope_contacts(
        RiskScore.objects.select_related("recorded_by", "contact"), user=user, right=RIGHT, contact_field="contact"
    )


def risk_score_history(*, user: Any, contact: Contact) -> QuerySet[RiskScore]:
    """The contact's scores, newest first."""
    return _scores(user).filter(contact=contact).order_by("-taken_on", "-recorded_at", "-id")


def risk_score_get(*, user: Any, pk: Any, contact_id: Any = None) -> RiskScore:
    try:
        scores = _scores(user).prefetch_related("answers").filter(pk=_pk(pk))
        if contact_id is not None:
            scores = scores.filter(contact_id=_pk(contact_id))
    except LookupError:
        raise RiskScore.DoesNotExist from None
    return scores.get()


def recent_scores_queryset(*, user: Any) -> QuerySet[RiskScore]:
    return _scores(user).order_by("-recorded_at", "-id")


def recent_scores(*, user: Any, limit: int = 20) -> list[RiskScore]:
    return list(recent_scores_queryset(user=user)[:limit])


def _goals(user: Any) -> QuerySet[Goal]:
    return scope_contacts(Goal.objects.select_related("contact"), user=user, right=RIGHT, contact_field="contact")


def goal_list(*, user: Any, contact: Contact | None = None) -> QuerySet[Goal]:
    goals = _goals(user)
    if contact is not None:
        goals = goals.filter(contact=contact)
    return goals.order_by("target_date", "id")


def goal_get(*, user: Any, pk: Any, contact_id: Any = None) -> Goal:
    try:
        goals = _goals(user).filter(pk=_pk(pk))
        if contact_id is not None:
            goals = goals.filter(contact_id=_pk(contact_id))
    except LookupError:
        raise Goal.DoesNotExist from None
    return goals.get()


def goal_projection(goal: Goal) -> Projection | None:
    """The projection and simulation from today to the goal date; None once the date is less than a
    month away or past (nothing left to project). The seed is the goal's id: the same goal and
    inputs give the same answer on every page."""
    months = months_between(timezone.localdate(), goal.target_date)
    if not 1 <= months <= MAX_MONTHS:
        return None
    return project(
        current=goal.current_amount,
        monthly=goal.monthly_contribution,
        annual_return=goal.expected_return,
        volatility=goal.volatility,
        goal=goal.target_amount,
        months=months,
        seed=goal.pk,
    )


def esg_history(*, contact: Contact, limit: int = 20) -> list[EsgPreference]:
    """The contact's (already scoped) ESG rankings, newest first: the first is the current one."""
    return list(EsgPreference.objects.filter(contact=contact).select_related("recorded_by")[:limit])


def esg_invitations(*, contact: Contact, limit: int = 5) -> list[EsgInvitation]:
    """The contact's latest ESG invitations, newest first."""
    return list(EsgInvitation.objects.filter(contact=contact)[:limit])
