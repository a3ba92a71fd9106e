"""Every write of statements and report definitions.

A statement asked for on a page or through the API is checked at once (the period's rules, the
rights, a client to keep it for) and then made by a worker (job ``statements.make``, atomic):
figures, PDF, the document on the client's record and the statement's hash commit together or
not at all, so a refused or failed statement leaves no partial file. A definition's run is in
``reports.statements.delivery``.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Firm
from accounts.policy import has_right
from accounts.preferences import firm_date_format
from accounts.rights import Right
from accounts.selectors import firm_branding
from advisorportal.jobs import services as jobs
from advisorportal.jobs.kinds import Outcome
from advisorportal.jobs.models import Job
from advisorportal.jobs.progress import Progress
from advisorportal.pdf import Branding, content_hash
from advisorportal.tenancy.context import require_firm_id
from crm.documents import services as documents
from crm.models import Contact
from portfolios import selectors as book
from reports.selectors import Subject, SubjectNotFound
from reports.statements import figures as compute
from reports.statements import rendering, selectors
from reports.statements.models import (
    DEFAULT_SECTIONS,
    SECTION_ORDER,
    DefinitionTarget,
    Frequency,
    Kind,
    Period,
    ReportDefinition,
    Statement,
    StatementSettings,
    Style,
)

MAKE_JOB = "statements.make"
DEFAULT_DISCLOSURES = (
    "This statement is provided for information. It is not a tax document. Please check it and tell us of any "
    "difference within 30 days."
)
_PAGES = re.compile(rb"<<(?:(?!<<|>>).)*?/Type\s*/Pages\b(?:(?!<<|>>).)*>>", re.S)


def page_count(pdf: bytes) -> int:
    """The pages of a PDF that WeasyPrint wrote: its page tree's count, read from the compressed
    object stream that holds it (0 if not found: shown, never relied on)."""
    for found in re.finditer(rb"/Type\s*/ObjStm", pdf):
        start = pdf.index(b"stream", found.end()) + len(b"stream")
        start += 2 if pdf[start : start + 2] == b"\r\n" else 1
        try:
            data = zlib.decompress(pdf[start : pdf.index(b"endstream", start)])
        except (zlib.error, ValueError):
            continue
        for tree in _PAGES.findall(data):
            if count := re.search(rb"/Count\s+(\d+)", tree):
                return int(count.group(1))
    return 0


def disclosures(*, firm_id: int) -> str:
    found = StatementSettings.objects.filter(firm_id=firm_id).values_list("disclosures", flat=True).first()
    return DEFAULT_DISCLOSURES if found is None else found


@transaction.atomic
def disclosures_update(*, actor: Any, text: str) -> StatementSettings:
    found = StatementSettings.objects.select_for_update().first() or StatementSettings()
    found.disclosures = text.strip()
    found.full_clean()
    found.save()
    return found


def clean_sections(kind: str, style: str, sections: list[str] | None) -> list[str]:
    """The sections chosen, in the document's order; none chosen: the kind's and style's defaults."""
    if not sections:
        return list(DEFAULT_SECTIONS[(Kind(kind), Style(style))])
    unknown = [s for s in sections if s not in SECTION_ORDER]
    if unknown:
        raise ValidationError({"sections": f"Unknown section {unknown[0]!r}: choose from {', '.join(SECTION_ORDER)}."})
    return [s for s in SECTION_ORDER if s in sections]


def require_rights(user: Any, kind: str) -> None:
    """Activity Statements for every statement; a performance report also needs PortfolioAnalyst."""
    if not has_right(user, Right.ACTIVITY_STATEMENTS):
        raise PermissionDenied("This needs the Activity Statements right.")
    if kind == Kind.PERFORMANCE and not has_right(user, Right.PORTFOLIO_ANALYST):
        raise PermissionDenied("A performance report needs the PortfolioAnalyst right.")


def inception(subject: Subject) -> date:
    return min(a.inception_date for a in subject.accounts)


def _check_benchmark(benchmark: str) -> None:
    if benchmark:
        choices = book.benchmark_symbols()
        if benchmark not in choices:
            known = ", ".join(choices) or "none is loaded"
            raise ValidationError({"benchmark": f"Unknown benchmark {benchmark!r}: choose one of {known}."})


def statement_title(kind: str, subject: Subject, start: date, end: date) -> str:
    return f"{Kind(kind).label} · {subject.name} · {start.isoformat()} to {end.isoformat()}"[:300]


def subject_of(*, user: Any, account: Any = None, household: Any = None) -> Subject:
    if (account is None) == (household is None):
        raise ValidationError({"account": "Choose one account or one household."})
    if account is not None:
        return selectors.account_subject(user=user, pk=getattr(account, "pk", account))
    return selectors.household_subject(user=user, pk=getattr(household, "pk", household))


@transaction.atomic
def statement_request(
    *, actor: Any, subject: Subject, start: date, end: date, kind: str = Kind.ACTIVITY, style: str = Style.DETAILED,
    sections: list[str] | None = None, benchmark: str = "",
) -> Statement:  # fmt: skip
    """A statement of ``subject`` (from ``subject_of``: in the actor's scope) made by a worker after
    commit. Bad input is a ``ValidationError`` naming the field, and nothing is stored."""
    require_rights(actor, kind)
    chosen = clean_sections(kind, style, sections)
    try:
        compute.check_period(
            start=start, end=end, inception=inception(subject), today=timezone.localdate(),
            date_format=firm_date_format(firm_id=require_firm_id()),
        )  # fmt: skip
    except compute.StatementInputError as error:
        raise ValidationError({error.field: error.message}) from None
    _check_benchmark(benchmark)
    contact = selectors.recipient(subject)
    if contact is None:
        raise ValidationError({"account": "The account has no owner to keep the statement for: add its owner first."})
    statement = Statement(
        kind=kind, style=style, sections=chosen, contact=contact, period_start=start, period_end=end,
        benchmark=benchmark, title=statement_title(kind, subject, start, end), created_by=actor,
        account_id=subject.pk if subject.kind == "account" else None,
        household_id=subject.pk if subject.kind == "household" else None,
    )  # fmt: skip
    statement.full_clean(exclude=["job"])
    statement.job = jobs.job_create(actor=actor, kind=MAKE_JOB, total=1, phase="Making the statement")
    statement.save()
    return statement


# --- Making one statement (the worker) ------------------------------------------------------------------------


@dataclass(frozen=True)
class Firmwide:
    """What every statement of one job shares: read once per job."""

    brand: Branding
    disclosures: str
    date_format: str
    today: date


def firmwide() -> Firmwide:
    firm_id = require_firm_id()
    firm = Firm.objects.get(pk=firm_id)
    return Firmwide(firm_branding(firm=firm), disclosures(firm_id=firm_id), firm_date_format(firm_id=firm_id),
                    timezone.localdate())  # fmt: skip


def _address(contact: Contact) -> list[str]:
    lines = [contact.res_street, contact.res_street2]
    city = " ".join(p for p in (contact.res_city, contact.res_state, contact.res_postal_code) if p)
    return [line for line in (*lines, city) if line]


def make(*, statement: Statement, subject: Subject, shared: Firmwide, actor: Any) -> Statement:
    """Compute, render and keep ``statement`` (in the caller's transaction): its figures, the PDF
    on the client's documents, its hash. ``StatementInputError`` when the period cannot be measured."""
    figures = compute.compute(
        compute.Request(subject=subject, start=statement.period_start, end=statement.period_end,
                        benchmark=statement.benchmark, today=shared.today, date_format=shared.date_format)
    )  # fmt: skip
    contact = statement.contact
    pdf = rendering.render(
        statement=statement, figures=figures, sections=list(statement.sections), brand=shared.brand,
        disclosures=shared.disclosures, recipient={"name": contact.display_name, "address": _address(contact)},
        date_format=shared.date_format,
    )  # fmt: skip
    name = f"statement-{statement.pk}-{statement.period_start.isoformat()}-{statement.period_end.isoformat()}.pdf"
    with transaction.atomic():
        document = documents.document_upload(actor=actor, contact=contact, files=[(name, pdf)])[0]
    statement.figures = figures
    statement.content_hash = content_hash(pdf)
    statement.pages = page_count(pdf)
    statement.document = document
    statement.made_at = timezone.now()
    statement.save(update_fields=["figures", "content_hash", "pages", "document", "made_at"])
    return statement


def subject_for(statement: Statement, user: Any) -> Subject:
    """The statement's subject in ``user``'s scope now (rights can change between request and job)."""
    if statement.account_id is not None:
        return selectors.account_subject(user=user, pk=statement.account_id)
    return selectors.household_subject(user=user, pk=statement.household_id)


def make_job(background: Job, progress: Progress) -> Outcome:
    statement = Statement.objects.select_related("contact").get(job=background)
    actor = background.created_by
    try:
        require_rights(actor, statement.kind)
        subject = subject_for(statement, actor)
    except (PermissionDenied, SubjectNotFound):
        return Outcome.failure("The statement's account is no longer in its requester's scope: nothing was made.")
    try:
        make(statement=statement, subject=subject, shared=firmwide(), actor=actor)
    except compute.StatementInputError as error:  # raised before anything is written
        return Outcome.failure(error.message)
    progress.update(1)
    return Outcome(message=f"{statement.get_kind_display()} made ({statement.pages} pages).")


def statement_pdf(*, statement: Statement) -> bytes | None:
    """The PDF as it was made (from the contact's documents), or None if it was deleted there."""
    if statement.document_id is None:
        return None
    document = statement.document
    if document is None:
        return None
    with documents.documents_storage().open(document.storage_key, "rb") as handle:
        data: bytes = handle.read()
    return data


# --- Definitions ----------------------------------------------------------------------------------------


def first_run_on(frequency: str, today: date) -> date | None:
    """The first day a schedule runs: the first day of the next month, quarter or year."""
    if frequency == Frequency.NONE:
        return None
    if frequency == Frequency.MONTHLY:
        return date(today.year + today.month // 12, today.month % 12 + 1, 1)
    if frequency == Frequency.QUARTERLY:
        month = 3 * ((today.month - 1) // 3) + 4
        return date(today.year + (month > 12), (month - 1) % 12 + 1, 1)
    return date(today.year + 1, 1, 1)


def next_after(frequency: str, day: date) -> date | None:
    """The run after the one on ``day``."""
    return first_run_on(frequency, day)


def period_for(period: str, on: date) -> tuple[date, date]:
    """The period a definition reports on when it runs on ``on``: the last full month, quarter or
    year before it, or the year to the day before."""
    before = on - timedelta(days=1)
    if period == Period.PREVIOUS_MONTH:
        end = on.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    if period == Period.PREVIOUS_QUARTER:
        first = date(on.year, 3 * ((on.month - 1) // 3) + 1, 1)
        end = first - timedelta(days=1)
        return date(end.year, 3 * ((end.month - 1) // 3) + 1, 1), end
    if period == Period.PREVIOUS_YEAR:
        return date(on.year - 1, 1, 1), date(on.year - 1, 12, 31)
    return date(before.year, 1, 1), before


def _targets(user: Any, accounts: list[Any], households: list[Any]) -> tuple[list[Any], list[Any]]:
    found_accounts = [selectors.account_subject(user=user, pk=getattr(a, "pk", a)).accounts[0] for a in accounts]
    for h in households:
        selectors.household_subject(user=user, pk=getattr(h, "pk", h))
    return found_accounts, [getattr(h, "pk", h) for h in households]


@transaction.atomic
def definition_save(
    *, actor: Any, definition: ReportDefinition | None = None, name: str, kind: str = Kind.ACTIVITY,
    style: str = Style.DETAILED, sections: list[str] | None = None, period: str = Period.PREVIOUS_QUARTER,
    benchmark: str = "", every_account: bool = False, accounts: list[Any] | None = None,
    households: list[Any] | None = None, frequency: str = Frequency.NONE, email_clients: bool = True,
    active: bool = True,
) -> ReportDefinition:  # fmt: skip
    """Create or change a definition. Its accounts and households must be in the actor's scope
    (``SubjectNotFound`` otherwise: a 404); bad input is a ``ValidationError`` naming the field."""
    require_rights(actor, kind)
    accounts, households = accounts or [], households or []
    if not every_account and not accounts and not households:
        raise ValidationError({"accounts": "Choose at least one account or household, or every account."})
    found_accounts, household_ids = _targets(actor, accounts, households)
    _check_benchmark(benchmark)
    creating = definition is None
    if definition is None:
        definition = ReportDefinition(created_by=actor)
    else:
        definition = ReportDefinition.objects.select_for_update().get(pk=definition.pk)
    schedule_changed = creating or definition.frequency != frequency or not definition.active
    definition.name, definition.kind, definition.style = name.strip(), kind, style
    definition.sections = clean_sections(kind, style, sections)
    definition.period, definition.benchmark, definition.every_account = period, benchmark, every_account
    definition.frequency, definition.email_clients, definition.active = frequency, email_clients, active
    if schedule_changed or definition.next_run_on is None:
        definition.next_run_on = first_run_on(frequency, timezone.localdate())
    if frequency == Frequency.NONE:
        definition.next_run_on = None
    try:
        definition.full_clean(exclude=["created_by"])
    except ValidationError as error:
        if "name" in error.message_dict and any("already exists" in m for m in error.message_dict["name"]):
            raise ValidationError({"name": f"A report definition named {name.strip()!r} already exists."}) from None
        raise
    definition.save()
    definition.targets.all().delete()
    if not every_account:
        DefinitionTarget.objects.bulk_create(
            [DefinitionTarget(definition=definition, account=a) for a in found_accounts]
            + [DefinitionTarget(definition=definition, household_id=h) for h in dict.fromkeys(household_ids)]
        )
    return definition


@transaction.atomic
def definition_delete(*, actor: Any, definition: ReportDefinition) -> None:
    """Remove a definition that has made nothing; one with runs is switched off instead (its
    deliveries are the record of what was mailed)."""
    if definition.runs.exists():
        ReportDefinition.objects.filter(pk=definition.pk).update(active=False, next_run_on=None)
        return
    definition.delete()
