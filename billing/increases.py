"""Client-approved fee increases (issue #18, point 5).

- **What is an increase.** A change of terms that raises a client's annual fee on the client's
  current value (the last stored daily value; a household billed together on its combined value):
  a new ``FeeScheduleVersion`` compared with the terms the client is billed on the day before it
  takes effect, or an assignment that moves an account (or a household) from one schedule to a
  dearer one, compared on the versions in effect that day. A lowering, or a change that leaves the
  fee as it was, needs nothing. A client who had no schedule (or was not billed) has no old terms
  to keep and is not asked. Found when the version or assignment is saved (``post_save`` /
  ``pre_save``: every path that writes them, pages, API, demo data, goes through these), in the
  same transaction.
- **Until approved** fee runs bill the client on ``old_version``: ``pending_increases`` is called by
  ``billing.runs.plan`` where the version is chosen, and the line says so. Declined, expired or
  cancelled keep the old terms (a new change asks again). Approved: the new terms bill every period
  starting on or after ``effective_from``.
- **The client's approval** is the floor's links kit (purpose ``billing.fee_increase``): an email
  (``billing.fee_increase``, service category) to the recipient on record (the account's primary
  owner, or the household's head) with a single-use link to the shared approval page
  (``/approve/<token>/``, no login, one-time code by email or text), bound to the increase's
  content. Approving keeps the agreement as a PDF on the contact's documents (the floor's
  renderer, ``crm.documents.services.document_upload``, as invoices are kept).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
from django.urls import reverse
from django.utils import timezone

from accounts import audit
from accounts.models import AuditAction, Firm
from accounts.preferences import firm_date_format
from accounts.selectors import firm_branding
from advisorportal import bulk, formats
from advisorportal.hashing import fingerprint as content_fingerprint
from advisorportal.jobs import services as jobs
from advisorportal.jobs.kinds import JobKind, Outcome
from advisorportal.jobs.kinds import register as register_job
from advisorportal.jobs.models import Job
from advisorportal.jobs.progress import Progress
from advisorportal.links import purposes
from advisorportal.links import services as links
from advisorportal.links.models import CodeChannel, Link
from advisorportal.links.purposes import Destination, Purpose, Shown
from advisorportal.mail import services as mail
from advisorportal.mail import templates
from advisorportal.mail.sms import sms_available
from advisorportal.pdf import content_hash, render_pdf
from advisorportal.tenancy.context import current_firm_id
from billing import fees
from billing import selectors as billing_selectors
from billing.increase_models import FeeIncrease, IncreaseKind, IncreaseStatus
from billing.models import FeeAssignment, FeeSchedule, FeeScheduleVersion
from crm.documents import services as documents
from crm.models import Contact, Household
from portfolios.models import AccountOwner, AccountStatus, ClientAccount, OwnerRole

LINK_PURPOSE = "billing.fee_increase"
EMAIL_TEMPLATE = "billing.fee_increase"
LINK_DAYS = 30
SEND_JOB = "billing.fee_increase_send"
SEND_INLINE = 20  # increases found at once up to this many are emailed in the saving transaction
SEND_CHUNK = 100
NO_ADDRESS = "Not sent: the client has no email address on record."
ZERO = Decimal(0)
OPEN = (IncreaseStatus.PENDING, IncreaseStatus.EXPIRED)  # what resend and cancel act on
HOLDING = (IncreaseStatus.PENDING, IncreaseStatus.DECLINED, IncreaseStatus.EXPIRED, IncreaseStatus.CANCELLED)


# --- What fee runs bill instead --------------------------------------------------------------------------


@dataclass(frozen=True)
class Held:
    """An account's increases not (yet) in force: for each new version, the old one to bill."""

    instead: dict[int, tuple[FeeIncrease, FeeScheduleVersion]]

    def instead_of(self, version: FeeScheduleVersion) -> FeeScheduleVersion | None:
        found = self.instead.get(version.pk)
        return found[1] if found else None

    def why(self, version: FeeScheduleVersion) -> str:
        increase, old = self.instead[version.pk]
        new_schedule = version.schedule.name
        words: dict[str, str] = {
            IncreaseStatus.PENDING.value: "waits for the client's approval",
            IncreaseStatus.DECLINED.value: "was declined by the client",
            IncreaseStatus.EXPIRED.value: "was not answered before its link expired",
            IncreaseStatus.CANCELLED.value: "was cancelled",
        }
        how = words.get(str(increase.status), "is not yet in effect for this period")
        return (
            f"The fee increase {increase.reference} to {new_schedule} (version from "
            f"{formats.day(version.effective_from)}) {how}: billed on the terms before it, {old.schedule.name} "
            f"(version from {formats.day(old.effective_from)})."
        )


def pending_increases(firm: Firm | int, account_ids: list[int], on_date: date) -> dict[int, Held]:
    """For each of ``account_ids`` with an increase not in force for a period starting ``on_date``
    (not approved; or approved but taking effect after ``on_date``), the old version to bill in
    place of the new one. Two queries whatever the number of accounts."""
    firm_id = firm if isinstance(firm, int) else firm.pk
    if current_firm_id() != firm_id:
        raise RuntimeError("pending_increases runs in the firm's own scope.")
    not_in_force = Q(status__in=HOLDING) | Q(status=IncreaseStatus.APPROVED, effective_from__gt=on_date)
    rows = list(FeeIncrease.objects.filter(not_in_force).select_related("old_version__schedule"))
    if not rows:
        return {}
    wanted = set(account_ids)
    households = {r.household_id for r in rows if r.household_id}
    members: dict[int, list[int]] = defaultdict(list)
    if households:
        for pk, household_id in ClientAccount.objects.filter(household_id__in=households).values_list(
            "pk", "household_id"
        ):
            members[household_id].append(pk)
    held: dict[int, dict[int, tuple[FeeIncrease, FeeScheduleVersion]]] = defaultdict(dict)
    for row in sorted(rows, key=lambda r: r.pk):  # the latest increase of a version wins
        targets = [row.account_id] if row.account_id else members.get(row.household_id or 0, [])
        for pk in targets:
            if pk in wanted:
                held[pk][row.new_version_id] = (row, row.old_version)
    return {pk: Held(found) for pk, found in held.items()}


# --- Who is billed on what --------------------------------------------------------------------------------


@dataclass
class Unit:
    """A billing unit as fee runs see it: one account, or a household billed together."""

    kind: str  # "account" or "household"
    pk: int
    schedule_id: int
    accounts: list[tuple[int, Decimal, str]]  # (account id, current value, currency)

    @property
    def key(self) -> tuple[str, int]:
        return (self.kind, self.pk)

    @property
    def value(self) -> Decimal:
        return sum((value for _, value, _ in self.accounts), ZERO)

    @property
    def currency(self) -> str:
        return self.accounts[0][2] if self.accounts else "USD"


def _units(account_ids: set[int] | None = None) -> dict[tuple[str, int], Unit]:
    """Every open client account (or those of ``account_ids``) in its billing unit, with the
    schedule that bills it: its own assignment, else its household's, else the firm's default (the
    rule of ``billing.runs``)."""
    accounts = ClientAccount.objects.filter(is_master=False).exclude(status=AccountStatus.CLOSED)
    if account_ids is not None:
        accounts = accounts.filter(pk__in=account_ids)
    rows = list(accounts.values_list("pk", "household_id", "nav", "base_currency"))
    own = {a.account_id: a for a in FeeAssignment.objects.filter(account_id__in=[r[0] for r in rows])}
    by_household = {
        a.household_id: a for a in FeeAssignment.objects.filter(household_id__in={r[1] for r in rows if r[1]})
    }
    default = FeeSchedule.objects.filter(is_default=True).values_list("pk", flat=True).first()
    units: dict[tuple[str, int], Unit] = {}
    for pk, household_id, nav, currency in rows:
        mine, theirs = own.get(pk), by_household.get(household_id) if household_id else None
        if mine is not None and mine.excluded:
            continue
        kind, unit_pk = "account", pk
        if mine is not None and mine.schedule_id:
            schedule_id = mine.schedule_id
        elif theirs is not None and theirs.schedule_id:
            schedule_id = theirs.schedule_id
            if theirs.householding:
                kind, unit_pk = "household", household_id
        elif default is not None:
            schedule_id = default
        else:
            continue
        unit = units.setdefault((kind, unit_pk), Unit(kind, unit_pk, schedule_id, []))
        unit.accounts.append((pk, fees.cents(nav or ZERO), currency))
    return units


def _versions(schedule_ids: set[int]) -> dict[int, list[FeeScheduleVersion]]:
    found: dict[int, list[FeeScheduleVersion]] = defaultdict(list)
    rows = FeeScheduleVersion.objects.filter(schedule_id__in=schedule_ids).select_related("schedule")
    for version in rows.order_by("-effective_from"):
        found[version.schedule_id].append(version)
    return found


def _in_effect(versions: list[FeeScheduleVersion], day: date) -> FeeScheduleVersion | None:
    return next((v for v in versions if v.effective_from <= day), None)


def annual_fee(version: FeeScheduleVersion, unit: Unit) -> Decimal:
    """The unit's annual fee on ``version`` at its current value."""
    from billing.runs import _schedule_of

    pairs = [(str(pk), value) for pk, value, _ in unit.accounts]
    result = fees.calculate(
        _schedule_of(version), pairs, householding=unit.kind == "household", period=fees.Period(version.frequency)
    )
    return result.annual_fee


def _billed_on(unit: Unit, version: FeeScheduleVersion) -> FeeScheduleVersion:
    """The terms the unit is billed on when ``version`` is in effect: its old terms while an
    increase to ``version`` is not approved."""
    return _billed_on_many([(unit, version)]).get((unit.key, version.pk), version)


def _billed_on_many(
    pairs: list[tuple[Unit, FeeScheduleVersion]],
) -> dict[tuple[tuple[str, int], int], FeeScheduleVersion]:
    """``_billed_on`` for many units at once (one query): for each (unit key, version id) held by
    an increase not approved, the old terms it keeps (the latest increase wins)."""
    if not pairs:
        return {}
    versions = {version.pk for _, version in pairs}
    accounts = [unit.pk for unit, _ in pairs if unit.kind == "account"]
    households = [unit.pk for unit, _ in pairs if unit.kind == "household"]
    held = FeeIncrease.objects.filter(new_version_id__in=versions, status__in=HOLDING).filter(
        Q(account_id__in=accounts) | Q(household_id__in=households)
    )
    found: dict[tuple[tuple[str, int], int], FeeScheduleVersion] = {}
    for row in held.select_related("old_version__schedule").order_by("pk"):
        key = ("account", row.account_id) if row.account_id else ("household", row.household_id or 0)
        found[(key, row.new_version_id)] = row.old_version
    return found


def _recipient(unit: Unit) -> Contact | None:
    if unit.kind == "household":
        head = Household.objects.filter(pk=unit.pk).values_list("head_id", flat=True).first()
        if head:
            return Contact.objects.filter(pk=head).first()
    owner = (
        AccountOwner.objects.filter(account_id__in=[pk for pk, _, _ in unit.accounts], role=OwnerRole.PRIMARY)
        .order_by("account__number", "id")
        .values_list("contact_id", flat=True)
        .first()
    )
    return Contact.objects.filter(pk=owner).first() if owner else None


def _found(
    *, unit: Unit, kind: str, old: FeeScheduleVersion, new: FeeScheduleVersion, effective_from: date, actor: Any
) -> FeeIncrease | None:
    """Record and mail the increase of ``unit`` from ``old`` to ``new``, if it raises the fee."""
    before, after = annual_fee(old, unit), annual_fee(new, unit)
    if after <= before:
        return None
    increase = FeeIncrease.objects.filter(new_version=new, **{unit.kind: unit.pk}).first()
    if increase is not None and increase.status in (IncreaseStatus.APPROVED, IncreaseStatus.PENDING):
        return increase  # asked already (or agreed)
    contact = _recipient(unit)
    increase = increase or FeeIncrease(new_version=new, **{f"{unit.kind}_id": unit.pk})
    increase.kind, increase.status, increase.old_version = kind, IncreaseStatus.PENDING, old
    increase.effective_from, increase.currency, increase.value = effective_from, unit.currency, unit.value
    increase.old_annual_fee, increase.new_annual_fee = before, after
    increase.contact = contact
    increase.recipient_email = (contact.email if contact is not None else "").strip()
    increase.created_by = actor if getattr(actor, "pk", None) else None
    increase.decided_at, increase.decision, increase.sent_at, increase.email = None, "", None, None
    increase.full_clean(exclude=["document", "email", "contact", "old_version", "new_version"])
    increase.save()
    _send(increase, actor)
    return increase


def _found_many(
    candidates: list[tuple[Unit, FeeScheduleVersion, FeeScheduleVersion]], *, kind: str, effective_from: date,
    actor: Any,
) -> list[FeeIncrease]:  # fmt: skip
    """``_found`` for each (unit, old terms, new terms). Up to ``SEND_INLINE`` increases: one by one,
    each recorded and emailed here, as ever. More (a schedule raised for, or assigned to, thousands
    of households): the fees compared in memory, the new increases written in bulk in the caller's
    transaction, so fee runs hold the old terms at once, and their emails sent by the background
    job ``SEND_JOB`` (its progress on the Fee increases page)."""
    raised = []
    for unit, old, new in candidates:
        before, after = annual_fee(old, unit), annual_fee(new, unit)
        if after > before:
            raised.append((unit, old, new, before, after))
    if len(raised) <= SEND_INLINE:
        made = [_found(unit=u, kind=kind, old=o, new=n, effective_from=effective_from, actor=actor)
                for u, o, n, _, _ in raised]  # fmt: skip
        return [m for m in made if m is not None]
    existing = _existing([(unit, new) for unit, _, new, _, _ in raised])
    kept, again, fresh = [], [], []
    for item in raised:
        row = existing.get((item[0].key, item[2].pk))
        if row is None:
            fresh.append(item)
        elif row.status in (IncreaseStatus.APPROVED, IncreaseStatus.PENDING):
            kept.append(row)  # asked already (or agreed)
        else:
            again.append(item)  # declined, expired or cancelled: asked again, one by one
    for unit, old, new, _, _ in again:
        asked = _found(unit=unit, kind=kind, old=old, new=new, effective_from=effective_from, actor=actor)
        if asked is not None:
            kept.append(asked)
    return kept + _record_many(fresh, kind=kind, effective_from=effective_from, actor=actor)


def _existing(pairs: list[tuple[Unit, FeeScheduleVersion]]) -> dict[tuple[tuple[str, int], int], FeeIncrease]:
    accounts = [unit.pk for unit, _ in pairs if unit.kind == "account"]
    households = [unit.pk for unit, _ in pairs if unit.kind == "household"]
    rows = FeeIncrease.objects.filter(new_version_id__in={new.pk for _, new in pairs}).filter(
        Q(account_id__in=accounts) | Q(household_id__in=households)
    )
    found = {}
    for row in rows:
        key = ("account", row.account_id) if row.account_id else ("household", row.household_id or 0)
        found[(key, row.new_version_id)] = row
    return found


def _recipients(units: list[Unit]) -> dict[tuple[str, int], Contact]:
    """``_recipient`` of many units (three queries): a household's head, else the primary owner of
    its first account by number."""
    chosen: dict[tuple[str, int], int] = {}
    households = [unit.pk for unit in units if unit.kind == "household"]
    heads = dict(Household.objects.filter(pk__in=households, head_id__isnull=False).values_list("pk", "head_id"))
    for unit in units:
        if unit.kind == "household" and heads.get(unit.pk):
            chosen[unit.key] = heads[unit.pk]
    wanted = {pk: unit.key for unit in units if unit.key not in chosen for pk, _, _ in unit.accounts}
    owners = AccountOwner.objects.filter(account_id__in=list(wanted), role=OwnerRole.PRIMARY)
    for account_id, contact_id in owners.order_by("account__number", "id").values_list("account_id", "contact_id"):
        chosen.setdefault(wanted[account_id], contact_id)
    contacts = Contact.objects.in_bulk(set(chosen.values()))
    return {key: contacts[pk] for key, pk in chosen.items() if pk in contacts}


def _record_many(
    raised: list[tuple[Unit, FeeScheduleVersion, FeeScheduleVersion, Decimal, Decimal]], *, kind: str,
    effective_from: date, actor: Any,
) -> list[FeeIncrease]:  # fmt: skip
    """New pending increases written in one statement (audited), their emails left to ``SEND_JOB``."""
    if not raised:
        return []
    recipients = _recipients([unit for unit, _, _, _, _ in raised])
    creator = actor if getattr(actor, "pk", None) else None
    rows = []
    for unit, old, new, before, after in raised:
        contact = recipients.get(unit.key)
        email = (contact.email if contact is not None else "").strip()
        row = FeeIncrease(
            kind=kind, status=IncreaseStatus.PENDING, old_version=old, new_version=new, effective_from=effective_from,
            currency=unit.currency, value=unit.value, old_annual_fee=before, new_annual_fee=after, contact=contact,
            recipient_email=email, created_by=creator, not_sent="" if email else NO_ADDRESS,
            **{f"{unit.kind}_id": unit.pk},
        )  # fmt: skip
        # The fields as ``_found`` checks them; the unique constraints are the database's to hold.
        row.clean_fields(exclude=["document", "email", "contact", "old_version", "new_version", "account",
                                  "household", "created_by"])  # fmt: skip
        rows.append(row)
    names = ("kind", "status", "account_id", "household_id", "contact_id", "recipient_email", "old_version_id",
             "new_version_id", "effective_from", "currency", "value", "old_annual_fee", "new_annual_fee",
             "not_sent", "created_by_id")  # fmt: skip
    columns: dict[str, Any] = {name: [getattr(row, name) for row in rows] for name in names}
    columns["created_at"] = bulk.Same(timezone.now())
    why = bulk.Audit(reason=f"Fee increases found: {len(rows)} clients asked to approve", details={"kind": kind})
    ids = bulk.insert(FeeIncrease, len(rows), columns, audit=why)
    waiting = sum(1 for row in rows if row.recipient_email)
    if waiting:
        jobs.job_create(actor=actor, kind=SEND_JOB, total=waiting, phase="Emailing the clients")
    return list(FeeIncrease.objects.filter(pk__in=ids).order_by("pk"))


def _unsent() -> QuerySet[FeeIncrease]:
    return FeeIncrease.objects.filter(status=IncreaseStatus.PENDING, sent_at=None, not_sent="")


def send_job(background: Job, progress: Progress) -> Outcome:
    """The approval emails of increases found in bulk, ``SEND_CHUNK`` a transaction (resumable: an
    increase emailed has its ``sent_at``; two jobs at once skip each other's locked rows)."""
    total = max(background.total, _unsent().count())
    progress.update(0, total=total, phase="Emailing the clients")
    sent = 0
    while True:
        with transaction.atomic():
            chunk = list(
                _unsent().select_for_update(of=("self",), skip_locked=True)
                .select_related("old_version__schedule", "new_version__schedule", "account", "household", "contact",
                                "created_by")
                .order_by("pk")[:SEND_CHUNK]
            )  # fmt: skip
            for increase in chunk:
                _send(increase, increase.created_by)
        if not chunk:
            break
        sent += len(chunk)
        progress.update(sent, total=max(total, sent))
    return Outcome(message=f"{sent} approval email{'s' if sent != 1 else ''} sent.")


def asked_note(found: int) -> str:
    """For the page that made ``found`` increases: who is asked, and where the emails are."""
    if not found:
        return ""
    where = "being sent (Fee increases shows the progress)" if sending_job() is not None else "on their way"
    clients = "one client's fee" if found == 1 else f"{found} clients' fees"
    return f" It raises {clients}: they stay on their old terms until they approve; the emails asking them are {where}."


def sending_job() -> Job | None:
    """The firm's latest job sending approval emails, while it runs or if it failed."""
    job = Job.objects.filter(kind=SEND_JOB).order_by("-pk").first()
    return job if job is not None and (job.active or job.status == "failed") else None


# --- Finding increases (signals) ---------------------------------------------------------------------------


def _version_saved(sender: Any, instance: FeeScheduleVersion, created: bool, **kwargs: Any) -> None:
    if not created or kwargs.get("raw"):
        return
    with transaction.atomic():
        increases_for_version(version=instance, actor=instance.created_by)


def increases_for_version(*, version: FeeScheduleVersion, actor: Any) -> list[FeeIncrease]:
    """Every client billed on ``version``'s schedule whose fee it raises, against the terms they
    are billed on the day before it takes effect."""
    versions = _versions({version.schedule_id})[version.schedule_id]
    before = _in_effect([v for v in versions if v.pk != version.pk], version.effective_from - timedelta(days=1))
    if before is None:
        return []  # the schedule's first terms: nothing billed before to compare with
    units = [unit for unit in _units().values() if unit.schedule_id == version.schedule_id]
    held = _billed_on_many([(unit, before) for unit in units])
    candidates = [(unit, held.get((unit.key, before.pk), before), version) for unit in units]
    return _found_many(candidates, kind=IncreaseKind.VERSION, effective_from=version.effective_from, actor=actor)


def _affected(assignment: FeeAssignment) -> set[int]:
    if assignment.account_id:
        return {assignment.account_id}
    if assignment.household_id:
        return set(ClientAccount.objects.filter(household_id=assignment.household_id).values_list("pk", flat=True))
    return set()


def _terms(units: dict[tuple[str, int], Unit], day: date) -> dict[int, tuple[Unit, FeeScheduleVersion | None]]:
    """Each account's unit and the version billing it on ``day`` (old terms kept while held)."""
    versions = _versions({u.schedule_id for u in units.values()})
    chosen: list[tuple[Unit, FeeScheduleVersion | None]] = []
    for unit in units.values():
        found = versions.get(unit.schedule_id, [])
        chosen.append((unit, _in_effect(found, day) or (found[-1] if found else None)))
    held = _billed_on_many([(unit, version) for unit, version in chosen if version is not None])
    out: dict[int, tuple[Unit, FeeScheduleVersion | None]] = {}
    for unit, version in chosen:
        billed = held.get((unit.key, version.pk), version) if version is not None else None
        for pk, _, _ in unit.accounts:
            out[pk] = (unit, billed)
    return out


# The fields of an assignment that choose the schedule billing an account (a save of other fields, such
# as its exclusions or cap, changes no one's terms).
CHOOSING = frozenset({"schedule", "schedule_id", "account", "account_id", "household", "household_id", "excluded",
                      "householding"})  # fmt: skip


def _assignment_before(sender: Any, instance: FeeAssignment, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return
    update_fields = kwargs.get("update_fields")
    if update_fields is not None and not CHOOSING & set(update_fields):
        return
    ids = _affected(instance)
    instance._billing_terms_before = (ids, _terms(_units(ids), timezone.localdate()))  # type: ignore[attr-defined]


def _assignment_after(sender: Any, instance: FeeAssignment, **kwargs: Any) -> None:
    before = getattr(instance, "_billing_terms_before", None)
    if before is None:
        return
    del instance._billing_terms_before  # type: ignore[attr-defined]
    ids, old_terms = before
    with transaction.atomic():
        increases_for_assignment(account_ids=ids, before=old_terms, actor=instance.updated_by)


def increases_for_assignment(
    *, account_ids: set[int], before: dict[int, tuple[Unit, FeeScheduleVersion | None]], actor: Any
) -> list[FeeIncrease]:
    """The units of ``account_ids`` now billed on another schedule than ``before``, whose fee the
    move raises (versions in effect today)."""
    today = timezone.localdate()
    after = _terms(_units(account_ids), today)
    candidates, seen = [], set()
    for pk, (unit, new) in after.items():
        if unit.key in seen or new is None or pk not in before:
            continue
        _, old = before[pk]
        if old is None or old.schedule_id == new.schedule_id:
            continue
        seen.add(unit.key)
        candidates.append((unit, old, new))
    return _found_many(candidates, kind=IncreaseKind.ASSIGNMENT, effective_from=today, actor=actor)


@contextmanager
def assignments_changing(*, account_ids: set[int], actor: Any) -> Iterator[list[FeeIncrease]]:
    """Around a bulk write of assignments (which sends no model signals): the terms of every
    account concerned read once before, and the increases the change makes found once after, in
    the caller's transaction, as the signals do for one assignment. Yields the list they are
    added to on the way out."""
    before = _terms(_units(account_ids), timezone.localdate())
    found: list[FeeIncrease] = []
    yield found
    found.extend(increases_for_assignment(account_ids=account_ids, before=before, actor=actor))


def accounts_of(*, account_ids: list[int], household_ids: list[int]) -> set[int]:
    """The accounts an assignment of these accounts and households bills (one query)."""
    found = set(account_ids)
    if household_ids:
        found |= set(ClientAccount.objects.filter(household_id__in=household_ids).values_list("pk", flat=True))
    return found


def connect_signals() -> None:
    post_save.connect(_version_saved, sender=FeeScheduleVersion, dispatch_uid="billing.increases.version")
    pre_save.connect(_assignment_before, sender=FeeAssignment, dispatch_uid="billing.increases.assign_before")
    post_save.connect(_assignment_after, sender=FeeAssignment, dispatch_uid="billing.increases.assign_after")
    pre_delete.connect(_assignment_before, sender=FeeAssignment, dispatch_uid="billing.increases.remove_before")
    post_delete.connect(_assignment_after, sender=FeeAssignment, dispatch_uid="billing.increases.remove_after")


# --- Email and link ----------------------------------------------------------------------------------------


def describe(increase: FeeIncrease) -> dict[str, Any]:
    """The increase in words, for the email, the approval page and the agreement."""
    old, new = increase.old_version, increase.new_version
    target = (
        f"Household {increase.household.name}"
        if increase.household_id and increase.household is not None
        else f"Account {formats.masked_digits(increase.account.number[-4:])}"
        if increase.account is not None
        else ""
    )
    rows = [
        ("Reference", increase.reference),
        ("For", target),
        ("Current terms", f"{old.schedule.name}: {terms_words(old)}"),
        ("New terms", f"{new.schedule.name}: {terms_words(new)}"),
        ("Value used", formats.money(increase.value, increase.currency)),
        ("Annual fee now", formats.money(increase.old_annual_fee, increase.currency)),
        ("Annual fee after the change", formats.money(increase.new_annual_fee, increase.currency)),
        ("Takes effect from", formats.day(increase.effective_from)),
    ]
    return {
        "title": f"Fee change: {formats.money(increase.old_annual_fee, increase.currency)} to "
        f"{formats.money(increase.new_annual_fee, increase.currency)} a year",
        "rows": rows,
        "reference": increase.reference,
    }


def terms_words(version: FeeScheduleVersion) -> str:
    """A version's terms in one line: method, bands or flat fee, minimum and maximum, cycle."""
    if version.method == "flat":
        words = f"flat fee {formats.amount(version.flat_annual_fee)} a year"
    else:
        bands = []
        for low, high, rate in version.band_rows():
            span = f"from {formats.amount(low)}" if high is None else f"{formats.amount(low)} to {formats.amount(high)}"
            bands.append(f"{formats.quantity(rate)} % {span}")
        words = f"{version.get_method_display().lower()}, " + "; ".join(bands)
    if version.minimum_annual_fee:
        words += f"; minimum {formats.amount(version.minimum_annual_fee)} a year"
    if version.maximum_annual_fee:
        words += f"; maximum {formats.amount(version.maximum_annual_fee)} a year"
    return f"{words}; billed {version.get_frequency_display().lower()}"


def fingerprint_of(increase: FeeIncrease) -> str:
    return content_fingerprint({
        "id": increase.pk, "old": increase.old_version_id, "new": increase.new_version_id,
        "value": f"{increase.value:f}", "old_fee": f"{increase.old_annual_fee:f}",
        "new_fee": f"{increase.new_annual_fee:f}", "from": increase.effective_from.isoformat(),
    })  # fmt: skip


def _send(increase: FeeIncrease, actor: Any) -> bool:
    """A new approval link (earlier ones stop working) emailed to the recipient on record."""
    links.links_revoke(subject=increase, actor=actor)
    address = increase.recipient_email
    if not address:
        increase.not_sent = NO_ADDRESS
        increase.save(update_fields=["not_sent"])
        return False
    issued = links.link_issue(
        purpose=LINK_PURPOSE, recipient_email=address, fingerprint=fingerprint_of(increase), actor=actor,
        subject=increase, expires_in=timedelta(days=LINK_DAYS),
    )  # fmt: skip
    url = settings.SITE_URL.rstrip("/") + reverse("links:approve", args=[issued.token])
    contact = increase.contact
    email = mail.email_send(
        to=address, template=EMAIL_TEMPLATE,
        context={"contact": {"first_name": contact.first_name if contact is not None else ""},
                 "increase": describe(increase), "url": url, "expires_at": formats.moment(issued.link.expires_at)},
        contact_id=increase.contact_id, actor=actor if getattr(actor, "pk", None) else increase.created_by,
    )  # fmt: skip
    increase.email, increase.sent_at, increase.not_sent = email, timezone.now(), ""
    increase.save(update_fields=["email", "sent_at", "not_sent"])
    return True


def _lock(increase: FeeIncrease) -> FeeIncrease:
    return (
        FeeIncrease.objects.select_for_update(of=("self",))
        .select_related("old_version__schedule", "new_version__schedule", "account", "household", "contact")
        .get(pk=increase.pk)
    )


@transaction.atomic
def increase_resend(*, actor: Any, increase: FeeIncrease) -> FeeIncrease:
    """A new email with a new link (earlier links stop working), to the address on record now."""
    current = _lock(increase)
    if current.status not in OPEN:
        raise ValidationError({"status": f"{current.reference} is {current.get_status_display().lower()}; "
                                         "only one awaiting the client is sent again."})  # fmt: skip
    if current.contact_id:
        contact = Contact.objects.get(pk=current.contact_id)
        current.recipient_email = contact.email.strip()
    current.status = IncreaseStatus.PENDING
    current.save(update_fields=["status", "recipient_email"])
    if not _send(current, actor):
        raise ValidationError({"recipient_email": "The client has no email address on record: add one first."})
    audit.record(action=AuditAction.UPDATE, obj=current, changes={"resent_to": current.recipient_email})
    return current


@transaction.atomic
def increase_cancel(*, actor: Any, increase: FeeIncrease, reason: str = "") -> FeeIncrease:
    """Withdraw the request: its links stop working and the client stays on the old terms."""
    current = _lock(increase)
    if current.status not in OPEN:
        raise ValidationError({"status": f"{current.reference} is {current.get_status_display().lower()}; "
                                         "it cannot be cancelled."})  # fmt: skip
    links.links_revoke(subject=current, actor=actor)
    current.status, current.decided_at = IncreaseStatus.CANCELLED, timezone.now()
    who = getattr(actor, "full_name", "") or "the firm"
    current.decision = f"Cancelled by {who}" + (f": {reason.strip()}" if reason.strip() else "")
    current.decision = current.decision[:300]
    current.save(update_fields=["status", "decided_at", "decision"])
    audit.record(action=AuditAction.UPDATE, obj=current, changes={"status": ["pending", "cancelled"]})
    return current


def client_decide(*, link: Link, approve: bool, reason: str, who: str) -> str:
    """The client's answer from the approval page (link and code consumed in this transaction)."""
    current = _lock(FeeIncrease.objects.get(pk=int(link.subject_id)))
    if current.status != IncreaseStatus.PENDING:
        raise ValidationError("This fee change is no longer waiting for your answer.")
    if fingerprint_of(current) != link.fingerprint:
        raise ValidationError("This fee change was altered after the email was sent.")
    current.decided_at = timezone.now()
    if not approve:
        current.status = IncreaseStatus.DECLINED
        current.decision = f"Declined by the client from the emailed link ({who})" + (f": {reason}" if reason else "")
        current.decision = current.decision[:300]
        current.save(update_fields=["status", "decided_at", "decision"])
        return "You declined the fee change. Your fees stay as they were; your advisor will be in touch."
    current.status = IncreaseStatus.APPROVED
    current.decision = f"Approved by the client from the emailed link with a one-time code ({who})"[:300]
    _keep_agreement(current, who)
    current.save(update_fields=["status", "decided_at", "decision", "document", "content_hash"])
    return (
        f"You approved the fee change. It takes effect from {formats.day(current.effective_from)}; "
        "your advisor keeps a copy of the agreement."
    )


def _keep_agreement(increase: FeeIncrease, who: str) -> None:
    """The approved agreement as a PDF on the recipient's contact documents."""
    if increase.contact_id is None:
        return
    firm = Firm.objects.get(pk=increase.firm_id)
    date_format = firm_date_format(firm_id=firm.pk)
    with formats.date_format_used(date_format):
        described = describe(increase)
    pdf = render_pdf(
        template="billing/increase_agreement_pdf.html",
        stylesheet="billing/increase_agreement_pdf.css",
        context={"increase": increase, "described": described, "who": who, "decided_at": increase.decided_at},
        branding=firm_branding(firm=firm),
        title=f"Fee agreement {increase.reference}",
        date_format=date_format,
    )
    contact = Contact.objects.get(pk=increase.contact_id)
    increase.document = documents.document_upload(
        actor=increase.created_by, contact=contact, files=[(f"Fee agreement {increase.reference}.pdf", pdf)]
    )[0]
    increase.content_hash = content_hash(pdf)


def link_expired(link: Link) -> None:
    """The expiry sweep closed an unused link: the increase expires if no other link is open."""
    current = _lock(FeeIncrease.objects.get(pk=int(link.subject_id)))
    still_open = Link.objects.filter(
        subject_type=link.subject_type, subject_id=link.subject_id, used_at=None, revoked_at=None, expired_at=None
    ).exists()
    if current.status == IncreaseStatus.PENDING and not still_open:
        current.status = IncreaseStatus.EXPIRED
        current.save(update_fields=["status"])


# --- The approval page's purpose ------------------------------------------------------------------------------


def _increase(link: Link) -> FeeIncrease:
    cached: FeeIncrease | None = getattr(link, "_fee_increase", None)
    if cached is None:
        cached = FeeIncrease.objects.select_related(
            "old_version__schedule", "new_version__schedule", "account", "household", "contact", "created_by"
        ).get(pk=int(link.subject_id))
        link._fee_increase = cached  # type: ignore[attr-defined]
    return cached


def _mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}" if domain else "•••"


def _show(link: Link) -> Shown:
    increase = _increase(link)
    described = describe(increase)
    asker = increase.created_by.full_name if increase.created_by is not None else "Your advisor"
    return Shown(
        title=described["title"],
        intro=f"{asker} asks you to agree to new advisory fee terms. Until you approve them, you are billed "
        "as before; if you decline, nothing changes.",
        rows=tuple(described["rows"]),
        approve_label="Approve the new fees",
        decline_label="Decline",
    )


def _destinations(link: Link) -> list[Destination]:
    found = [Destination(CodeChannel.EMAIL, link.recipient_email, f"Email to {_mask_email(link.recipient_email)}")]
    contact = _increase(link).contact
    phone = (contact.mobile_phone or contact.phone) if contact is not None else ""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) >= 4 and sms_available():
        found.append(Destination(CodeChannel.SMS, phone, f"Text to {formats.masked_digits(digits[-4:])}"))
    return found


def _decide(link: Link, approve: bool, reason: str, who: str) -> str:
    return client_decide(link=link, approve=approve, reason=reason, who=who)


def _fingerprint(link: Link) -> str:
    return fingerprint_of(_increase(link))


PURPOSE = Purpose(
    code=LINK_PURPOSE,
    label="Fee increase approval",
    expiry=timedelta(days=LINK_DAYS),
    on_expired=link_expired,
    needs_code=True,
    show=_show,
    code_destinations=_destinations,
    decide=_decide,
    fingerprint=_fingerprint,
)


def register() -> None:
    """The email, the link purpose and the signals (called from ``BillingConfig.ready``)."""
    templates.register(
        EMAIL_TEMPLATE, label="Fee increase: approval request", subject="Please review: {{ increase.title }}",
        html="billing/email/increase_request.html", text="billing/email/increase_request.txt",
    )  # fmt: skip
    purposes.register(PURPOSE)
    register_job(JobKind(SEND_JOB, run=send_job, label="Fee increase approval emails", atomic=False))
    connect_signals()


# --- Reads ---------------------------------------------------------------------------------------------------


def increases_visible(*, user: Any, status: str = "") -> QuerySet[FeeIncrease]:
    """The increases of accounts and households in the user's Fee Administration scope (a household
    only when the user sees every account of it), newest first."""
    rows = FeeIncrease.objects.select_related(
        "old_version__schedule", "new_version__schedule", "account", "household", "contact", "email"
    )
    if status:
        rows = rows.filter(status=status)
    if billing_selectors.whole_firm(user):
        return rows
    visible = billing_selectors.accounts(user=user)
    hidden_households = (
        ClientAccount.objects.filter(household_id__isnull=False, is_master=False)
        .exclude(pk__in=visible.values("pk"))
        .values("household_id")
    )
    return rows.filter(account__in=visible) | rows.filter(household__in=visible.values("household_id")).exclude(
        household__in=hidden_households
    )


def increase_get(*, user: Any, pk: Any) -> FeeIncrease:
    """One increase in the user's scope (else ``FeeIncrease.DoesNotExist``)."""
    return increases_visible(user=user).get(pk=pk)
