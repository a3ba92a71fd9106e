"""A report definition's run: one background job (``statements.run``) that makes a statement per
account or household and emails each client a download link, on demand or by Celery beat.

- **In parts.** The run's job plans: the subjects in its owner's scope, each with its recipient,
  split into parts (``statements.run.part``, ``advisorportal.jobs.parts``) of at most
  ``PART_MOST`` subjects, a recipient's statements all in one part (one email carries all their
  links). The workers run the parts side by side; the run's job shows their summed progress and
  finishes with the last of them (failed, naming the part, if one failed).
- **Resumable.** A part commits each statement in its own transaction (figures, PDF on the
  client's documents, hash) and each delivery in another; a run of the same definition and period
  is one ``ReportRun`` (unique), so running it again — the sweeper after a worker died (it queues
  the part again), Run now pressed twice, beat — makes only the statements missing and mails only
  the recipients not yet mailed.
- **Never twice.** A delivery is a row unique on (definition, period, recipient), inserted in the
  transaction that issues the links and queues the email (which the mail service sends after
  commit): of any number of attempts, one inserts it and mails; the others find it and mail
  nobody. A recipient without an email address gets a row saying so (nothing is mailed); a run
  after the address was added claims that row by one conditional UPDATE and mails once.
- **The PDF in the email.** The email service has no attachments, so the email carries one
  single-use, expiring link per statement (``advisorportal.links``, purpose ``statements.copy``),
  as invoices do; the firm keeps every statement on the client's documents.
- **Beat** (``reports.statements.tasks``, every 15 minutes): each active scheduled definition due
  today is advanced to its next day by one conditional UPDATE (one beat wins) and its run started
  for the period before the day it was due.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from advisorportal import formats
from advisorportal.jobs import parts as job_parts
from advisorportal.jobs import services as jobs
from advisorportal.jobs.kinds import Outcome, Part
from advisorportal.jobs.models import Job
from advisorportal.jobs.progress import Progress
from advisorportal.links import purposes
from advisorportal.links import services as links
from advisorportal.links.purposes import Purpose
from advisorportal.mail import services as mail
from advisorportal.mail import templates
from crm.models import Contact, Household
from portfolios.models import AccountOwner, ClientAccount, OwnerRole
from reports.selectors import Subject, SubjectNotFound
from reports.statements import selectors, services
from reports.statements.figures import StatementInputError
from reports.statements.models import (
    DefinitionTarget,
    Delivery,
    DeliveryStatus,
    Frequency,
    ReportDefinition,
    ReportRun,
    Statement,
)

RUN_JOB = "statements.run"
PART_JOB = "statements.run.part"
EMAIL_TEMPLATE = "statements.delivery"
COPY_PURPOSE = "statements.copy"
COPY_LINK_DAYS = 30
NO_EMAIL = "Not sent: {name} has no email address on record."


def register_email_and_link() -> None:
    templates.register(
        EMAIL_TEMPLATE, label="Statement delivery", subject="Your {{ report.kind }}, {{ report.period }}",
        html="statements/email/delivery.html", text="statements/email/delivery.txt",
    )  # fmt: skip
    purposes.register(Purpose(code=COPY_PURPOSE, label="Statement download", expiry=timedelta(days=COPY_LINK_DAYS)))


# --- Starting -----------------------------------------------------------------------------------------


@transaction.atomic
def run_start(
    *, actor: Any, definition: ReportDefinition, on: date | None = None, scheduled: bool = False
) -> ReportRun:
    """Run ``definition`` for the period before ``on`` (default today) in one background job.
    Idempotent: while the period's job waits or runs it is the answer; afterwards a new job makes
    only what is missing and mails only whom was not mailed."""
    definition = ReportDefinition.objects.select_for_update().get(pk=definition.pk)
    if not definition.active:
        raise ValidationError({"definition": f"{definition.name} is switched off: switch it on to run it."})
    if actor is not None:
        services.require_rights(actor, definition.kind)
    start, end = services.period_for(definition.period, on or timezone.localdate())
    run = ReportRun.objects.select_related("job").filter(definition=definition, period_start=start,
                                                          period_end=end).first()  # fmt: skip
    if run is None:
        run = ReportRun(definition=definition, period_start=start, period_end=end, scheduled=scheduled,
                        requested_by=actor if getattr(actor, "pk", None) else None)  # fmt: skip
        run.full_clean(exclude=["job"])
        run.save()
    elif run.job is not None and run.job.active:
        return run
    run.job = jobs.job_create(actor=actor, kind=RUN_JOB, phase="Making statements")
    run.save(update_fields=["job"])
    return run


def definitions_run_due(*, today: date | None = None) -> int:
    """Celery beat's work in one firm: start the run of every scheduled definition due by
    ``today``, once (the day moves on by one conditional UPDATE in the run's transaction)."""
    today = today or timezone.localdate()
    started = 0
    due = ReportDefinition.objects.filter(active=True, next_run_on__lte=today).exclude(frequency=Frequency.NONE)
    for definition in due.order_by("next_run_on", "id"):
        with transaction.atomic():
            planned = definition.next_run_on
            assert planned is not None
            moved = ReportDefinition.objects.filter(pk=definition.pk, next_run_on=planned).update(
                next_run_on=services.next_after(definition.frequency, today)
            )
            if not moved:
                continue  # another beat took it
            run_start(actor=None, definition=definition, on=planned, scheduled=True)
            started += 1
    return started


# --- The job and its parts ------------------------------------------------------------------------------------

# A part makes at most PART_MOST statements (and at least PART_LEAST, when there are that many), about
# 1/PARTS_WANTED of the run each: enough parts that every worker process stays busy to near the end,
# few enough that each part's own reads (scope, recipients, the firm's branding) stay a small share.
PART_MOST = 25
PART_LEAST = 5
PARTS_WANTED = 8


def _subjects(definition: ReportDefinition, owner: Any) -> tuple[list[Subject], list[str]]:
    """What the run reports on, in the owner's Activity Statements scope now; the refused, said why."""
    refused: list[str] = []
    if definition.every_account:
        return selectors.account_subjects(user=owner, accounts=selectors.run_accounts(user=owner)), []
    subjects: list[Subject] = []
    targets = list(DefinitionTarget.objects.filter(definition=definition).select_related("account", "household"))
    account_ids = [t.account_id for t in targets if t.account_id is not None]
    found = {s.pk: s for s in selectors.account_subjects(user=owner, pks=account_ids)}
    for target in targets:
        try:
            if target.account_id is not None:
                if target.account_id not in found:
                    raise SubjectNotFound
                subjects.append(found[target.account_id])
            else:
                subjects.append(selectors.household_subject(user=owner, pk=target.household_id))
        except SubjectNotFound:
            what = target.account.number if target.account else target.household.name if target.household else "?"
            refused.append(f"{what}: no longer in the scope of {owner.full_name or owner.email}.")
    return subjects, refused


def _recipients(subjects: list[Subject]) -> dict[tuple[str, int], int]:
    """Each subject's recipient's contact id (the household's head, the account's primary owner,
    else its first owner), in two queries whatever the number of subjects."""
    account_ids = [s.pk for s in subjects if s.kind == "account"]
    owner_of: dict[int, int] = {}
    rank: dict[int, int] = {}
    for account_id, contact_id, role in (
        AccountOwner.objects.filter(account_id__in=account_ids).order_by("id")
        .values_list("account_id", "contact_id", "role")
    ):  # fmt: skip
        place = 0 if role == OwnerRole.PRIMARY else 1
        if account_id not in rank or place < rank[account_id]:
            owner_of[account_id], rank[account_id] = contact_id, place
    heads = dict(
        Household.objects.filter(pk__in=[s.pk for s in subjects if s.kind == "household"]).values_list("pk", "head_id")
    )
    out: dict[tuple[str, int], int] = {}
    for s in subjects:
        contact_id = owner_of.get(s.pk) if s.kind == "account" else heads.get(s.pk)
        if contact_id is not None:
            out[(s.kind, s.pk)] = contact_id
    return out


def _key(statement: Statement) -> tuple[str, int]:
    if statement.account_id is not None:
        return ("account", statement.account_id)
    assert statement.household_id is not None
    return ("household", statement.household_id)


def _deliveries(run: ReportRun) -> Any:
    return Delivery.objects.filter(definition_id=run.definition_id, period_start=run.period_start,
                                   period_end=run.period_end)  # fmt: skip


def _may_not(owner: Any, error: PermissionDenied) -> Outcome:
    why = str(error).rstrip(".")
    return Outcome.failure(f"{owner.full_name or owner.email} no longer may: {why}. Nothing was made.")


def part_size(subjects: int) -> int:
    return min(PART_MOST, max(PART_LEAST, -(-subjects // PARTS_WANTED)))


def run_job(background: Job, progress: Progress) -> Outcome:
    """The run's plan: the subjects in the owner's scope now, each with its recipient, split into
    parts (job ``statements.run.part``) that the workers run side by side. A recipient's statements
    are all in one part (one email carries all their links). A recipient whose statements are all
    made and who was emailed is left out: a run started again carries on."""
    run = ReportRun.objects.select_related("definition__created_by").get(job=background)
    definition = run.definition
    owner = definition.created_by
    try:
        services.require_rights(owner, definition.kind)
    except PermissionDenied as error:
        return _may_not(owner, error)
    progress.update(0, phase="Finding the accounts")
    subjects, refused = _subjects(definition, owner)
    recipients = _recipients(subjects)
    made = {
        ("account", a) if a is not None else ("household", h)
        for a, h in Statement.objects.filter(run=run).values_list("account_id", "household_id")
    }
    mailed = set(_deliveries(run).filter(status=DeliveryStatus.SENT).values_list("contact_id", flat=True))
    groups: dict[int, list[Subject]] = {}
    for subject in subjects:
        contact_id = recipients.get((subject.kind, subject.pk))
        if contact_id is None:
            refused.append(f"{subject.name}: no owner to keep the statement for.")
        else:
            groups.setdefault(contact_id, []).append(subject)
    if run.refused != refused:
        ReportRun.objects.filter(pk=run.pk).update(refused=refused)  # this run's plan; the parts add theirs
    pending = [
        (contact_id, group) for contact_id, group in groups.items()
        if any((s.kind, s.pk) not in made for s in group) or (definition.email_clients and contact_id not in mailed)
    ]  # fmt: skip
    size = part_size(sum(len(group) for _, group in pending))
    chunks: list[list[tuple[int, list[Subject]]]] = []
    for contact_id, group in pending:
        if not chunks or sum(len(g) for _, g in chunks[-1]) + len(group) > size:
            chunks.append([])
        chunks[-1].append((contact_id, group))
    progress.update(0, phase="Making statements" + (" and emailing clients" if definition.email_clients else ""))
    return job_parts.split(kind=PART_JOB, parts=[
        Part(
            payload={"run": run.pk, "targets": [[s.kind, s.pk, contact] for contact, group in chunk for s in group]},
            total=sum(len(group) for _, group in chunk) + (len(chunk) if definition.email_clients else 0),
        )
        for chunk in chunks
    ])  # fmt: skip


def part_job(background: Job, progress: Progress) -> Outcome:
    """One part of a run: its subjects' statements, each made in a transaction of its own (those
    made already are kept), then each of its recipients mailed once (``deliver``)."""
    run = ReportRun.objects.select_related("definition__created_by").get(pk=background.payload["run"])
    definition = run.definition
    owner = definition.created_by
    try:
        services.require_rights(owner, definition.kind)
    except PermissionDenied as error:
        return _may_not(owner, error)
    targets = [(str(kind), int(pk), int(contact_id)) for kind, pk, contact_id in background.payload["targets"]]
    subjects, refused = _part_subjects(owner, targets)
    contacts = Contact.objects.in_bulk({contact_id for _, _, contact_id in targets})
    account_ids = [pk for kind, pk, _ in targets if kind == "account"]
    household_ids = [pk for kind, pk, _ in targets if kind == "household"]
    ours = Q(account_id__in=account_ids) | Q(household_id__in=household_ids)
    # Without their figures: a part keeps no more than it needs to mail them (a worker's heap stays small).
    kept = Statement.objects.filter(ours, run=run).defer("figures").select_related("contact")
    existing = {_key(s): s for s in kept}
    shared = services.firmwide()
    step = made = 0
    for subject, contact_id in subjects:
        key = (subject.kind, subject.pk)
        contact = contacts.get(contact_id)
        if key not in existing:
            if contact is None:
                refused.append(f"{subject.name}: no owner to keep the statement for.")
            else:
                try:
                    statement = _make(run, definition, subject, contact, shared, owner)
                except StatementInputError as error:
                    refused.append(f"{subject.name}: {error.message}")
                else:
                    if statement is not None:
                        statement.figures = {}  # stored; not needed to mail it
                        existing[key] = statement
                        made += 1
        step += 1
        progress.update(step)
    _refused(run, refused)
    mailed = unsent = 0
    if definition.email_clients:
        by_contact: dict[int, list[Statement]] = {}
        for statement in existing.values():
            by_contact.setdefault(statement.contact_id, []).append(statement)
        for _contact_id, statements in sorted(by_contact.items()):
            outcome = deliver(run=run, contact=statements[0].contact, statements=statements,
                              actor=owner, date_format=shared.date_format)  # fmt: skip
            mailed += outcome == DeliveryStatus.SENT
            unsent += outcome == DeliveryStatus.NO_EMAIL
            step += 1
            progress.update(step)
    return Outcome(message=f"{made} made, {mailed} emailed, {unsent} without an address, {len(refused)} not made.")


def _part_subjects(owner: Any, targets: list[tuple[str, int, int]]) -> tuple[list[tuple[Subject, int]], list[str]]:
    """A part's subjects in the owner's scope now (it may have changed since the plan), each with
    its recipient's contact id; those that left it, said why."""
    accounts = {s.pk: s for s in selectors.account_subjects(user=owner, pks=[pk for kind, pk, _ in targets
                                                                             if kind == "account"])}  # fmt: skip
    found: list[tuple[Subject, int]] = []
    refused: list[str] = []
    who = owner.full_name or owner.email
    for kind, pk, contact_id in targets:
        try:
            if kind == "account":
                if pk not in accounts:
                    raise SubjectNotFound
                found.append((accounts[pk], contact_id))
            else:
                found.append((selectors.household_subject(user=owner, pk=pk), contact_id))
        except SubjectNotFound:
            model = ClientAccount if kind == "account" else Household
            name = model.objects.filter(pk=pk).values_list("number" if kind == "account" else "name", flat=True).first()
            refused.append(f"{name or '?'}: no longer in the scope of {who}.")
    return found, refused


def _refused(run: ReportRun, refused: list[str]) -> None:
    """Add a part's refused subjects to the run's list (parts finish in any order: the row locked)."""
    if not refused:
        return
    with transaction.atomic():
        listed = ReportRun.objects.select_for_update().values_list("refused", flat=True).get(pk=run.pk)
        added = [why for why in refused if why not in listed]
        if added:
            ReportRun.objects.filter(pk=run.pk).update(refused=[*listed, *added])


def run_summary(background: Job) -> str:
    """The run's note once every part finished: what the run holds now (its statements, whom it
    emailed, whom it could not, what it did not make)."""
    run = ReportRun.objects.filter(job=background).first()
    if run is None:
        return ""
    made = Statement.objects.filter(run=run).exclude(content_hash="").count()
    counts = dict(_deliveries(run).order_by().values("status").annotate(n=Count("pk")).values_list("status", "n"))
    mailed, unsent = counts.get(DeliveryStatus.SENT, 0), counts.get(DeliveryStatus.NO_EMAIL, 0)
    note = f"{made} statement{'s' if made != 1 else ''} made, {mailed} client{'s' if mailed != 1 else ''} emailed."
    if unsent:
        note += f" {unsent} not emailed (no email address)."
    if run.refused:
        note += f" {len(run.refused)} not made: see the run."
    return note


def _make(
    run: ReportRun, definition: ReportDefinition, subject: Subject, contact: Contact, shared: services.Firmwide,
    owner: Any,
) -> Statement | None:  # fmt: skip
    opened = services.inception(subject)
    if opened > run.period_end:
        raise StatementInputError(f"opened on {opened.isoformat()}, after the period.", field="start")
    start = max(run.period_start, opened)  # an account opened during the period: from its inception
    statement = Statement(
        kind=definition.kind, style=definition.style, sections=list(definition.sections), contact=contact,
        period_start=start, period_end=run.period_end, benchmark=definition.benchmark,
        title=services.statement_title(definition.kind, subject, start, run.period_end), run=run,
        created_by=owner, account_id=subject.pk if subject.kind == "account" else None,
        household_id=subject.pk if subject.kind == "household" else None,
    )  # fmt: skip
    try:
        with transaction.atomic():
            statement.save()
            services.make(statement=statement, subject=subject, shared=shared, actor=owner)
    except IntegrityError:
        return Statement.objects.filter(run=run, **{f"{subject.kind}_id": subject.pk}).first()  # made elsewhere
    return statement


# --- Delivery ----------------------------------------------------------------------------------------------


def deliver(*, run: ReportRun, contact: Contact, statements: list[Statement], actor: Any, date_format: str) -> str:
    """Mail ``contact`` the links to ``statements`` once for the run's definition and period:
    ``sent`` (this call mailed), ``no_email`` (recorded, nothing mailed) or ``already``."""
    address = (contact.email or "").strip()
    key = {"definition_id": run.definition_id, "period_start": run.period_start, "period_end": run.period_end,
           "contact": contact}  # fmt: skip
    ids = sorted(s.pk for s in statements)
    with transaction.atomic():
        if not address:
            try:
                with transaction.atomic():
                    Delivery.objects.create(**key, run=run, status=DeliveryStatus.NO_EMAIL, statement_ids=ids,
                                            message=NO_EMAIL.format(name=contact.display_name)[:300])  # fmt: skip
            except IntegrityError:
                return "already"
            return DeliveryStatus.NO_EMAIL
        now = timezone.now()
        try:
            with transaction.atomic():
                delivery = Delivery.objects.create(**key, run=run, status=DeliveryStatus.SENT, recipient_email=address,
                                                   statement_ids=ids, sent_at=now)  # fmt: skip
        except IntegrityError:
            claimed = Delivery.objects.filter(**key, status=DeliveryStatus.NO_EMAIL).update(
                status=DeliveryStatus.SENT, recipient_email=address, statement_ids=ids, sent_at=now, message="",
                run=run,
            )  # fmt: skip
            if not claimed:
                return "already"  # mailed by another attempt
            delivery = Delivery.objects.get(**key)
        downloads = []
        for statement in sorted(statements, key=lambda s: s.title):
            issued = links.link_issue(
                purpose=COPY_PURPOSE, recipient_email=address, fingerprint=statement.content_hash, subject=statement,
                actor=actor, expires_in=timedelta(days=COPY_LINK_DAYS),
            )  # fmt: skip
            downloads.append({"title": statement.title, "url": _copy_url(issued.token)})
        definition = run.definition
        email = mail.email_send(
            to=address, template=EMAIL_TEMPLATE, contact_id=contact.pk, actor=actor,
            context={
                "report": {
                    "recipient": contact.display_name,
                    "kind": definition.get_kind_display().lower(),
                    "period": f"{formats.day(run.period_start, date_format)} to "
                              f"{formats.day(run.period_end, date_format)}",
                },
                "downloads": downloads,
                "link_days": COPY_LINK_DAYS,
            },
        )  # fmt: skip
        Delivery.objects.filter(pk=delivery.pk).update(email=email)
    return DeliveryStatus.SENT


def _copy_url(token: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("reports:statements:copy", args=[token])
