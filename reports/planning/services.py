"""Every write of the planning tools: questionnaires (the firm's default created on first use,
scale and values edited), risk scores recorded for a contact, and goals.

Every function is keyword-only and transactional and calls ``full_clean()``; the audit trail's
signals record each row created, changed or deleted (``bulk_update`` of rescaled values records
one entry). Score values are decimals with two places; a score is the average of the chosen
answers' values, rounded half up to two places.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from advisorportal import formats
from advisorportal.hashing import fingerprint
from advisorportal.links import services as links
from advisorportal.links.models import Link
from advisorportal.mail.services import email_send
from crm.models import Contact
from reports.planning import defaults, esg
from reports.planning.models import (
    AnswerOption,
    EsgInvitation,
    EsgPreference,
    EsgSource,
    Goal,
    Question,
    Questionnaire,
    RiskBand,
    RiskScore,
    RiskScoreAnswer,
)
from reports.planning.simulation import MAX_MONTHS, months_between

CENT = Decimal("0.01")
MAX_OPTIONS = 10
MAX_QUESTIONS = 40


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


def _save(obj: Any) -> None:
    obj.full_clean()
    obj.save()


# --- Questionnaires ------------------------------------------------------------------------------


def questionnaire_ensure_default(*, actor: Any) -> Questionnaire:
    """The firm's default questionnaire, created (five questions, 1-5) the first time it is needed."""
    existing = Questionnaire.objects.filter(is_default=True).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            low, high = defaults.SCALE
            questionnaire = Questionnaire(
                name=defaults.NAME, description=defaults.DESCRIPTION, scale_min=low, scale_max=high, is_default=True
            )
            _save(questionnaire)
            for position, (text, answers) in enumerate(defaults.QUESTIONS, start=1):
                question = Question(questionnaire=questionnaire, position=position, text=text)
                _save(question)
                for value, answer in enumerate(answers, start=low):
                    _save(AnswerOption(question=question, position=value, text=answer, value=Decimal(value)))
            return questionnaire
    except (IntegrityError, ValidationError):
        # Another request created it meanwhile (or a questionnaire already has the default's name).
        found = Questionnaire.objects.filter(is_default=True).first()
        if found is None:
            raise
        return found


def _name_free(name: str, *, other_than: int | None = None) -> None:
    taken = Questionnaire.objects.filter(name=name.strip())
    if other_than is not None:
        taken = taken.exclude(pk=other_than)
    if name.strip() and taken.exists():
        raise ValidationError({"name": "The firm has a questionnaire of this name already."})


@transaction.atomic
def questionnaire_copy(*, actor: Any, source: Questionnaire, name: str) -> Questionnaire:
    """A new questionnaire of the firm with ``source``'s scale, questions, answers and values, to
    change without touching the one in use."""
    _name_free(name)
    copy = Questionnaire(
        name=name.strip(), description=source.description, scale_min=source.scale_min, scale_max=source.scale_max
    )
    _save(copy)
    for question in source.questions.prefetch_related("options").order_by("position", "id"):
        new = Question(questionnaire=copy, position=question.position, text=question.text)
        _save(new)
        for option in question.options.all():
            _save(AnswerOption(question=new, position=option.position, text=option.text, value=option.value))
    return copy


@transaction.atomic
def questionnaire_delete(*, actor: Any, questionnaire: Questionnaire) -> None:
    """Remove a questionnaire no score was recorded with (those keep a client's history); never the default."""
    questionnaire = Questionnaire.objects.select_for_update().get(pk=questionnaire.pk)
    if questionnaire.is_default:
        raise ValidationError({"questionnaire": "The firm's default questionnaire cannot be removed."})
    used = RiskScore.objects.filter(questionnaire=questionnaire).count()
    if used:
        raise ValidationError({"questionnaire": f"{used} score(s) were recorded with this questionnaire; it stays."})
    questionnaire.delete()


def _rescaled(value: Decimal, old: tuple[int, int], new: tuple[int, int]) -> Decimal:
    """A value moved to the same place on the new scale (1-5 → 1-10: 3 becomes 5.5)."""
    ratio = (value - old[0]) / Decimal(old[1] - old[0])
    return (new[0] + ratio * (new[1] - new[0])).quantize(CENT, rounding=ROUND_HALF_UP)


@transaction.atomic
def questionnaire_update(
    *, actor: Any, questionnaire: Questionnaire, name: str, description: str, scale_min: int, scale_max: int
) -> Questionnaire:
    """Rename, describe and re-scale a questionnaire. A new scale moves every answer's value to the
    same place on it (proportionally, to the cent), so the questionnaire stays consistent; the
    values can then be adjusted one by one. Scores already recorded keep their own scale."""
    questionnaire = Questionnaire.objects.select_for_update().get(pk=questionnaire.pk)
    old = (questionnaire.scale_min, questionnaire.scale_max)
    _name_free(name, other_than=questionnaire.pk)
    questionnaire.name, questionnaire.description = name.strip(), description.strip()
    questionnaire.scale_min, questionnaire.scale_max = scale_min, scale_max
    _check_scale(scale_min, scale_max)
    _save(questionnaire)
    new = (scale_min, scale_max)
    if new != old:
        options = list(AnswerOption.objects.filter(question__questionnaire=questionnaire).order_by("pk"))
        for option in options:
            option.value = _rescaled(option.value, old, new)
        AnswerOption.objects.bulk_update(options, ["value"])
    return questionnaire


def _check_scale(low: Any, high: Any) -> None:
    from reports.planning.models import SCALE_LIMIT

    if not isinstance(low, int) or not isinstance(high, int) or low < 0 or high > SCALE_LIMIT:
        raise ValidationError({"scale_max": f"The scale runs between whole numbers from 0 to {SCALE_LIMIT}."})
    if low >= high:
        raise ValidationError({"scale_max": "The highest value must be more than the lowest."})


def _value(raw: Any, questionnaire: Questionnaire, field: str) -> Decimal:
    try:
        value = raw if isinstance(raw, Decimal) else Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError({field: "Enter a number."}) from None
    if not value.is_finite() or value != value.quantize(CENT):
        raise ValidationError({field: "Enter a number with at most two decimal places."})
    if not questionnaire.scale_min <= value <= questionnaire.scale_max:
        raise ValidationError(
            {field: f"The value must lie on the scale, {questionnaire.scale_min} to {questionnaire.scale_max}."}
        )
    return value


@dataclass(frozen=True)
class OptionEdit:
    text: str
    value: Any
    option_id: int | None = None  # None: a new answer


def _options(question: Question, edits: Sequence[OptionEdit]) -> None:
    """Make ``question``'s answers exactly ``edits`` (kept ones changed, new ones added, others removed)."""
    questionnaire = question.questionnaire
    if not 2 <= len(edits) <= MAX_OPTIONS:
        raise ValidationError({"options": f"A question needs 2 to {MAX_OPTIONS} answers."})
    existing = {o.pk: o for o in question.options.all()} if question.pk else {}
    kept: set[int] = set()
    for position, edit in enumerate(edits, start=1):
        field = f"options.{position}"
        text = (edit.text or "").strip()
        if not text:
            raise ValidationError({field: f"Answer {position}: enter the answer's text."})
        try:
            value = _value(edit.value, questionnaire, field)
        except ValidationError as error:
            raise ValidationError({field: [f"Answer {position}: {m}" for m in error.messages]}) from None
        if edit.option_id is None:
            option = AnswerOption(question=question)
        elif edit.option_id in existing and edit.option_id not in kept:
            option = existing[edit.option_id]
            kept.add(edit.option_id)
        else:
            raise ValidationError({field: f"Answer {position} is not an answer of this question."})
        option.position, option.text, option.value = position, text, value
        _save(option)
    for pk, option in existing.items():
        if pk not in kept:
            option.delete()  # recorded scores keep their copy of the answer


@transaction.atomic
def question_update(*, actor: Any, question: Question, text: str, options: Sequence[OptionEdit]) -> Question:
    question = Question.objects.select_for_update().select_related("questionnaire").get(pk=question.pk)
    question.text = text.strip()
    _save(question)
    _options(question, options)
    return question


@transaction.atomic
def question_add(*, actor: Any, questionnaire: Questionnaire, text: str, options: Sequence[OptionEdit]) -> Question:
    questionnaire = Questionnaire.objects.select_for_update().get(pk=questionnaire.pk)
    positions = list(questionnaire.questions.values_list("position", flat=True))
    if len(positions) >= MAX_QUESTIONS:
        raise ValidationError({"text": f"A questionnaire holds at most {MAX_QUESTIONS} questions."})
    question = Question(questionnaire=questionnaire, position=max(positions, default=0) + 1, text=text.strip())
    _save(question)
    _options(question, options)
    return question


@transaction.atomic
def question_delete(*, actor: Any, question: Question) -> None:
    """Remove a question and its answers (scores recorded with it keep their copy)."""
    questionnaire = Questionnaire.objects.select_for_update().get(pk=question.questionnaire_id)
    if questionnaire.questions.count() <= 1:
        raise ValidationError({"question": "A questionnaire needs at least one question."})
    question.delete()


# --- Risk scores ---------------------------------------------------------------------------------


def band_for(score: Decimal, scale_min: int, scale_max: int) -> RiskBand:
    """Five equal bands over the scale: on 1-5, up to 1.8 conservative, 2.6, 3.4, 4.2, then aggressive."""
    share = (score - scale_min) / Decimal(scale_max - scale_min)
    bands = list(RiskBand)
    return bands[min(int(share * 5), 4)] if share > 0 else bands[0]


def score_of(values: Sequence[Decimal]) -> Decimal:
    """The average of the chosen answers' values, half up to two places."""
    return (sum(values, Decimal(0)) / len(values)).quantize(CENT, rounding=ROUND_HALF_UP)


@transaction.atomic
def risk_score_record(
    *,
    actor: Any,
    contact: Contact,
    questionnaire: Questionnaire,
    answers: Mapping[int, int],
    taken_on: dt.date | None = None,
    note: str = "",
) -> RiskScore:
    """Record a contact's answers (question id → answer id; every question answered exactly once)
    and their score. ``taken_on`` (default today) may not be in the future."""
    questions = list(questionnaire.questions.prefetch_related("options"))
    if not questions:
        raise ValidationError({"answers": "This questionnaire has no questions."})
    today = timezone.localdate()
    taken_on = taken_on or today
    if taken_on > today:
        raise ValidationError({"taken_on": "The date the questions were answered cannot be in the future."})
    known = {q.pk for q in questions}
    unknown = sorted(str(k) for k in answers if k not in known)
    if unknown:
        raise ValidationError({"answers": f"Not a question of this questionnaire: {', '.join(unknown)}."})
    problems: dict[str, str] = {}
    chosen: list[tuple[Question, AnswerOption]] = []
    for position, question in enumerate(questions, start=1):
        option_id = answers.get(question.pk)
        option = next((o for o in question.options.all() if o.pk == option_id), None)
        if option_id is None:
            problems[f"question_{question.pk}"] = f"Question {position}: choose an answer."
        elif option is None:
            problems[f"question_{question.pk}"] = f"Question {position}: that is not one of its answers."
        else:
            chosen.append((question, option))
    if problems:
        raise ValidationError(problems)
    score = score_of([option.value for _, option in chosen])
    record = RiskScore(
        contact=contact,
        questionnaire=questionnaire,
        questionnaire_name=questionnaire.name,
        score=score,
        scale_min=questionnaire.scale_min,
        scale_max=questionnaire.scale_max,
        band=band_for(score, questionnaire.scale_min, questionnaire.scale_max),
        taken_on=taken_on,
        note=note.strip(),
        recorded_by=_user(actor),
    )
    _save(record)
    for position, (question, option) in enumerate(chosen, start=1):
        _save(
            RiskScoreAnswer(
                risk_score=record,
                question=question,
                option=option,
                position=position,
                question_text=question.text,
                option_text=option.text,
                value=option.value,
            )
        )
    return record


# --- Goals ---------------------------------------------------------------------------------------

GOAL_FIELDS = (
    "name",
    "currency",
    "target_amount",
    "target_date",
    "current_amount",
    "monthly_contribution",
    "expected_return",
    "volatility",
)


def goal_date_problem(target_date: dt.date) -> str | None:
    """Why ``target_date`` cannot be a goal's date (there must be at least a month to project), or None."""
    months = months_between(timezone.localdate(), target_date)
    if months < 1:
        return "The goal date must be at least one month from today."
    if months > MAX_MONTHS:
        return "The goal date must be within 100 years."
    return None


def _check_goal(goal: Goal) -> None:
    errors: dict[str, list[str]] = {}
    try:
        goal.full_clean()
    except ValidationError as error:
        errors = error.message_dict
    if isinstance(goal.target_date, dt.date) and "target_date" not in errors:
        problem = goal_date_problem(goal.target_date)
        if problem:
            errors["target_date"] = [problem]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def goal_create(*, actor: Any, contact: Contact, **fields: Any) -> Goal:
    unknown = set(fields) - set(GOAL_FIELDS)
    if unknown:
        raise TypeError(f"unknown goal fields: {sorted(unknown)}")
    goal = Goal(contact=contact, created_by=_user(actor), **fields)
    _check_goal(goal)
    goal.save()
    return goal


@transaction.atomic
def goal_update(*, actor: Any, goal: Goal, **fields: Any) -> Goal:
    unknown = set(fields) - set(GOAL_FIELDS)
    if unknown:
        raise TypeError(f"unknown goal fields: {sorted(unknown)}")
    goal = Goal.objects.select_for_update().get(pk=goal.pk)
    for name, value in fields.items():
        setattr(goal, name, value)
    _check_goal(goal)
    goal.save()
    return goal


@transaction.atomic
def goal_delete(*, actor: Any, goal: Goal) -> None:
    goal.delete()


# --- ESG impact preferences ------------------------------------------------------------------------

ESG_PURPOSE = "planning.esg"
ESG_TEMPLATE = "planning.esg_invitation"


def esg_fingerprint(invitation: EsgInvitation) -> str:
    """What an ESG link stands for: this invitation to this contact at this address."""
    return fingerprint({"invitation": invitation.pk, "contact": invitation.contact_id, "to": invitation.sent_to})


@transaction.atomic
def esg_record(*, actor: Any, contact: Contact, ranking: Sequence[str], note: str = "") -> EsgPreference:
    """The advisor records the contact's ranking (most important first)."""
    preference = EsgPreference(
        contact=contact, ranking=esg.clean_ranking(ranking), source=EsgSource.ADVISOR, note=note.strip(),
        recorded_by=_user(actor),
    )  # fmt: skip
    _save(preference)
    return preference


@transaction.atomic
def esg_invite(*, actor: Any, contact: Contact) -> EsgInvitation:
    """Email the contact a single-use link to rank the values themselves (earlier open links of the
    contact stop working). A contact without an email address is refused, nothing sent."""
    if not contact.email:
        raise ValidationError({"contact": f"{contact} has no email address on file to send the invitation to."})
    for earlier in EsgInvitation.objects.filter(contact=contact, answered_at=None):
        links.links_revoke(subject=earlier, actor=_user(actor))
    invitation = EsgInvitation(contact=contact, sent_to=contact.email, created_by=_user(actor))
    _save(invitation)
    issued = links.link_issue(
        purpose=ESG_PURPOSE, recipient_email=contact.email, fingerprint=esg_fingerprint(invitation),
        actor=_user(actor), subject=invitation,
    )  # fmt: skip
    url = settings.SITE_URL.rstrip("/") + reverse("planning:esg-rank", args=[issued.token])
    email_send(
        to=contact.email, template=ESG_TEMPLATE, contact_id=contact.pk, actor=_user(actor),
        context={"contact": {"first_name": contact.first_name or contact.display_name}, "url": url,
                 "expires_at": formats.moment(issued.link.expires_at)},
    )  # fmt: skip
    return invitation


def esg_answer(*, link: Link, ranking: Sequence[str]) -> EsgPreference:
    """The client's ranking through their link: checked first (a refusal leaves the link unused),
    then the link consumed by one conditional UPDATE and the ranking stored, in the caller's
    transaction (the request's). ``LinkNotValid`` for a used, expired or revoked link."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("Answer inside the request's transaction.")
    cleaned = esg.clean_ranking(ranking)
    invitation = EsgInvitation.objects.select_for_update().get(pk=int(link.subject_id))
    links.link_consume(link=link, fingerprint=esg_fingerprint(invitation))
    preference = EsgPreference(
        contact_id=invitation.contact_id, ranking=cleaned, source=EsgSource.CLIENT, invitation=invitation
    )
    _save(preference)
    invitation.answered_at = timezone.now()
    _save(invitation)
    return preference
