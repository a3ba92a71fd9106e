"""Planning pages (issue #19, point 5): the firm's risk-score questionnaires, a contact's risk
scores and goals, and a goal's projection with the probability of reaching it.

Reading and recording need PortfolioAnalyst, and see only contacts in that grant's scope (another
firm's contact or one outside the scope is a 404). Editing a questionnaire (its scale, questions,
answers and their values) changes how every future score of the firm is computed, so it needs
Trading/Models, the right of those who decide which portfolios suit which clients.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse

from accounts.access import AuthenticatedRequest, firm_view
from accounts.policy import has_right
from accounts.rights import Right
from crm.models import Contact
from reports.planning import presenting, selectors, services
from reports.planning.forms import GoalForm, QuestionnaireForm, RiskAnswersForm
from reports.planning.models import Goal, Question, Questionnaire, RiskScore
from reports.planning.services import MAX_OPTIONS, OptionEdit

READ = Right.PORTFOLIO_ANALYST
EDIT = Right.TRADING


def _contact(request: HttpRequest, pk: Any) -> Contact:
    try:
        return selectors.planning_contact_get(user=request.user, pk=pk)
    except Contact.DoesNotExist:
        raise Http404("No such contact.") from None


def _questionnaire(pk: Any) -> Questionnaire:
    try:
        return selectors.questionnaire_get(pk=pk)
    except Questionnaire.DoesNotExist:
        raise Http404("No such questionnaire.") from None


def _goal(request: HttpRequest, pk: Any) -> Goal:
    try:
        return selectors.goal_get(user=request.user, pk=pk)
    except Goal.DoesNotExist:
        raise Http404("No such goal.") from None


def _errors_to_form(form: Any, error: ValidationError) -> None:
    for field, problems in error.message_dict.items():
        form.add_error(field if field in form.fields else None, problems)


def _page(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    context.setdefault("can_edit_questionnaires", has_right(request.user, EDIT))
    return render(request, f"planning/{template}", context, status=status)


# --- Overview and questionnaires -------------------------------------------------------------------


@firm_view(READ)
def index(request: AuthenticatedRequest) -> HttpResponse:
    """The firm's questionnaires (its default created on first use), recent scores, upcoming goals."""
    services.questionnaire_ensure_default(actor=request.user)
    goals = list(selectors.goal_list(user=request.user)[:20])
    return _page(
        request,
        "index.html",
        {
            "questionnaires": list(selectors.questionnaire_list()),
            "scores": selectors.recent_scores(user=request.user, limit=20),
            "goals": goals,
        },
    )


@firm_view(READ)
def questionnaire_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _page(request, "questionnaire_detail.html", {"questionnaire": _questionnaire(pk)})


@firm_view(EDIT)
def questionnaire_edit(request: AuthenticatedRequest, pk: int) -> HttpResponseBase:
    questionnaire = _questionnaire(pk)
    initial = {
        "name": questionnaire.name,
        "description": questionnaire.description,
        "scale_min": questionnaire.scale_min,
        "scale_max": questionnaire.scale_max,
    }
    form = QuestionnaireForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.questionnaire_update(actor=request.user, questionnaire=questionnaire, **form.cleaned_data)
        except ValidationError as error:
            _errors_to_form(form, error)
        else:
            messages.success(request, f"Saved {form.cleaned_data['name']}.")
            return redirect("planning:questionnaire", pk=questionnaire.pk)
    status = 400 if request.method == "POST" else 200
    return _page(request, "questionnaire_edit.html", {"questionnaire": questionnaire, "form": form}, status)


@firm_view(EDIT)
def questionnaire_copy(request: AuthenticatedRequest, pk: int) -> HttpResponseBase:
    """A copy to change without touching the questionnaire in use."""
    source = _questionnaire(pk)
    name = request.POST.get("name", f"{source.name} (copy)")
    problems: list[str] = []
    if request.method == "POST":
        try:
            copy = services.questionnaire_copy(actor=request.user, source=source, name=name)
        except ValidationError as error:
            problems = [m for ms in error.message_dict.values() for m in ms]
        else:
            messages.success(request, f"Made {copy.name}, a copy of {source.name}.")
            return redirect("planning:questionnaire", pk=copy.pk)
    context = {"questionnaire": source, "name": name, "problems": problems}
    return _page(request, "questionnaire_copy.html", context, status=400 if problems else 200)


@firm_view(EDIT)
def questionnaire_delete(request: AuthenticatedRequest, pk: int) -> HttpResponseBase:
    """GET asks for confirmation (or says why it cannot be removed); POST removes it."""
    questionnaire = _questionnaire(pk)
    problems: list[str] = []
    if request.method == "POST":
        try:
            services.questionnaire_delete(actor=request.user, questionnaire=questionnaire)
        except ValidationError as error:
            problems = [m for ms in error.message_dict.values() for m in ms]
        else:
            messages.success(request, f"Removed {questionnaire.name}.")
            return redirect("planning:index")
    context = {"questionnaire": questionnaire, "problems": problems}
    return _page(request, "questionnaire_delete.html", context, status=400 if problems else 200)


def _posted_options(request: HttpRequest) -> list[OptionEdit]:
    """The answer rows of a question form; a row with neither text nor value is left out."""
    ids, texts, values = (request.POST.getlist(n) for n in ("option_id", "option_text", "option_value"))
    rows = []
    for option_id, text, value in zip(ids, texts, values, strict=False):
        if not text.strip() and not value.strip():
            continue
        rows.append(OptionEdit(text=text, value=value, option_id=int(option_id) if option_id.isdigit() else None))
    return rows


def _option_rows(question: Question | None, posted: list[OptionEdit] | None) -> list[dict[str, Any]]:
    if posted is not None:
        rows = [{"id": o.option_id or "", "text": o.text, "value": o.value} for o in posted]
    elif question is not None:
        rows = [{"id": o.pk, "text": o.text, "value": o.value} for o in question.options.all()]
    else:
        rows = []
    return rows + [{"id": "", "text": "", "value": ""}] * max(MAX_OPTIONS - len(rows), 0)


def _question_form(
    request: AuthenticatedRequest, *, questionnaire: Questionnaire, question: Question | None
) -> HttpResponseBase:
    problems: list[str] = []
    posted = None
    text = question.text if question else ""
    if request.method == "POST":
        posted, text = _posted_options(request), request.POST.get("text", "")
        try:
            if question is None:
                services.question_add(actor=request.user, questionnaire=questionnaire, text=text, options=posted)
            else:
                services.question_update(actor=request.user, question=question, text=text, options=posted)
        except ValidationError as error:
            problems = [m for ms in error.message_dict.values() for m in ms]
        else:
            messages.success(request, "Saved the question.")
            return redirect("planning:questionnaire", pk=questionnaire.pk)
    context = {
        "questionnaire": questionnaire,
        "question": question,
        "text": text,
        "problems": problems,
        "rows": _option_rows(question, posted),
    }
    return _page(request, "question_form.html", context, status=400 if problems else 200)


@firm_view(EDIT)
def question_add(request: AuthenticatedRequest, pk: int) -> HttpResponseBase:
    return _question_form(request, questionnaire=_questionnaire(pk), question=None)


def _question(pk: Any) -> Question:
    try:
        return selectors.question_get(pk=pk)
    except Question.DoesNotExist:
        raise Http404("No such question.") from None


@firm_view(EDIT)
def question_edit(request: AuthenticatedRequest, pk: int) -> HttpResponseBase:
    question = _question(pk)
    return _question_form(request, questionnaire=question.questionnaire, question=question)


@firm_view(EDIT)
def question_delete(request: AuthenticatedRequest, pk: int) -> HttpResponseBase:
    """GET asks for confirmation; POST removes the question (recorded scores keep their copy)."""
    question = _question(pk)
    problems: list[str] = []
    if request.method == "POST":
        try:
            services.question_delete(actor=request.user, question=question)
        except ValidationError as error:
            problems = [m for ms in error.message_dict.values() for m in ms]
        else:
            messages.success(request, "Removed the question.")
            return redirect("planning:questionnaire", pk=question.questionnaire_id)
    return _page(
        request, "question_delete.html", {"question": question, "problems": problems}, status=400 if problems else 200
    )


# --- A contact's planning: scores and goals ------------------------------------------------------------


@firm_view(READ)
def contact_planning(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    contact = _contact(request, pk)
    services.questionnaire_ensure_default(actor=request.user)
    scores = list(selectors.risk_score_history(user=request.user, contact=contact))
    goals = [
        (goal, selectors.goal_projection(goal)) for goal in selectors.goal_list(user=request.user, contact=contact)
    ]
    return _page(
        request,
        "contact.html",
        {
            "contact": contact,
            "scores": scores,
            "latest": scores[0] if scores else None,
            "goals": goals,
            "questionnaires": list(selectors.questionnaire_list()),
        },
    )


@firm_view(READ)
def risk_score_new(request: AuthenticatedRequest, pk: int) -> HttpResponseBase:
    contact = _contact(request, pk)
    default = services.questionnaire_ensure_default(actor=request.user)
    questionnaire = _questionnaire(request.GET.get("questionnaire") or request.POST.get("questionnaire") or default.pk)
    form = RiskAnswersForm(request.POST or None, questionnaire=questionnaire)
    if request.method == "POST" and form.is_valid():
        try:
            score = services.risk_score_record(
                actor=request.user,
                contact=contact,
                questionnaire=questionnaire,
                answers=form.answers(),
                taken_on=form.cleaned_data["taken_on"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as error:
            _errors_to_form(form, error)
        else:
            messages.success(request, f"Recorded a risk score of {score.score} for {contact.display_name}.")
            return redirect("planning:risk-score", pk=contact.pk, score=score.pk)
    status = 400 if request.method == "POST" else 200
    return _page(request, "risk_new.html", {"contact": contact, "questionnaire": questionnaire, "form": form}, status)


@firm_view(READ)
def risk_score_detail(request: AuthenticatedRequest, pk: int, score: int) -> HttpResponse:
    try:
        record = selectors.risk_score_get(user=request.user, pk=score, contact_id=pk)
    except RiskScore.DoesNotExist:
        raise Http404("No such score.") from None
    return _page(request, "risk_detail.html", {"contact": record.contact, "score": record})


def _goal_form(request: AuthenticatedRequest, *, contact: Contact, goal: Goal | None) -> HttpResponseBase:
    initial = GoalForm.initial_from(goal) if goal else None
    form = GoalForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if goal is None:
                goal = services.goal_create(actor=request.user, contact=contact, **form.fields_for_service())
            else:
                goal = services.goal_update(actor=request.user, goal=goal, **form.fields_for_service())
        except ValidationError as error:
            _errors_to_form(form, error)
        else:
            messages.success(request, f"Saved the goal {goal.name}.")
            return redirect("planning:goal", pk=goal.pk)
    status = 400 if request.method == "POST" else 200
    return _page(request, "goal_form.html", {"contact": contact, "goal": goal, "form": form}, status)


@firm_view(READ)
def goal_new(request: AuthenticatedRequest, pk: int) -> HttpResponseBase:
    return _goal_form(request, contact=_contact(request, pk), goal=None)


@firm_view(READ)
def goal_edit(request: AuthenticatedRequest, pk: int) -> HttpResponseBase:
    goal = _goal(request, pk)
    return _goal_form(request, contact=goal.contact, goal=goal)


@firm_view(READ)
def goal_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    goal = _goal(request, pk)
    projection = selectors.goal_projection(goal)
    context: dict[str, Any] = {"contact": goal.contact, "goal": goal, "projection": projection}
    if projection is not None:
        from django.utils import timezone

        context["chart"] = presenting.chart(
            projection, goal=goal.target_amount, start=timezone.localdate(), end=goal.target_date
        )
        context["explanation"] = presenting.explanation(goal, projection)
        context["chance"] = presenting.chance_words(projection.probability)
        context["percent"] = (projection.probability * 100).quantize(Decimal("1"))
    return _page(request, "goal_detail.html", context)


@firm_view(READ)
def goal_delete(request: AuthenticatedRequest, pk: int) -> HttpResponseBase:
    """GET asks for confirmation; POST deletes."""
    goal = _goal(request, pk)
    if request.method == "POST":
        contact_pk, name = goal.contact_id, goal.name
        services.goal_delete(actor=request.user, goal=goal)
        messages.success(request, f"Deleted the goal {name}.")
        return redirect(reverse("planning:contact", args=[contact_pk]))
    return _page(request, "goal_delete.html", {"contact": goal.contact, "goal": goal})
