"""Bulk email: one firm message template to many contacts, as a background job that commits step
by step and resumes (``JobKind(atomic=False)``): what was handed to the mail server cannot be
rolled back, so neither may the record of it. See docs/email.md, "Bulk email".

The floor does not know contacts: the book registers the job kind with a ``RecipientSource``
(contact ids -> each one's address and merge fields, read within the firm) and creates the bulk
email from a selection it resolved within the user's scope.

**Staging.** The recipients are taken ``BATCH`` contacts at a time: contacts without an address
and (marketing) unsubscribed addresses are counted and left out, each address gets one
``OutgoingEmail`` row (lower-cased; the unique ``(firm, bulk, to)`` constraint and ``ON CONFLICT
DO NOTHING`` keep a second contact with the same address out), rendered from the template
compiled once, inserted through the bulk kit's COPY stager. The batch commits together with the
bulk's resume point (``staged_through``) and its counts, moved by a conditional UPDATE on the
point it started from: of two runners of one batch, one counts it and the other rolls back.

**Sending.** Queued rows ``BATCH`` at a time, as many as the firm's rate allows this minute
(``rate.take``; the job waits, renewing its lease, for the next minute), claimed and sent over
one backend connection by ``services.email_deliver_many`` (a row is handed to the backend at
most once). A row that fails goes back to the queue with its error, up to ``MAX_ATTEMPTS``.

**Cancel.** Checked between batches (``progress.update`` raises ``JobCancelled``): the queued
rows become cancelled, what was sent stays sent. **Resume.** A run that finds rows still
"sending" belongs after a worker that stopped while handing them over: they may or may not have
gone, so they are failed with a message rather than sent twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.template import Context
from django.utils import timezone

from advisorportal import auditing, bulk
from advisorportal.jobs import services as job_services
from advisorportal.jobs.kinds import Outcome
from advisorportal.jobs.models import Job, JobStatus
from advisorportal.jobs.progress import JobCancelled, Progress, lease_seconds
from advisorportal.mail import branding, message_templates, rate, rendering, services
from advisorportal.mail.models import (
    BulkEmail,
    BulkStatus,
    EmailCategory,
    EmailStatus,
    MessageTemplate,
    OutgoingEmail,
    Unsubscribe,
)
from advisorportal.tenancy.context import require_firm_id

BATCH = 500
MAX_RECIPIENTS = 100_000
MAX_ATTEMPTS = 5
INTERRUPTED = (
    "The worker stopped while handing this email to the mail server; it is not sent again, so that nobody gets it "
    "twice."
)


@dataclass(frozen=True)
class Recipient:
    contact_id: int
    email: str  # "" when the contact has none
    context: Mapping[str, Any]  # the merge fields: {"contact": {...}}


RecipientSource = Callable[[Sequence[int]], list[Recipient]]


class _Raced(Exception):
    """Another runner staged this batch first: roll ours back and carry on from its point."""


@transaction.atomic
def bulk_email_create(
    *, actor: Any, template: MessageTemplate, contact_ids: Sequence[int], source: str, kind: str,
    sample: Mapping[str, Any],
) -> BulkEmail:  # fmt: skip
    """A queued bulk email of ``template`` to the contacts ``contact_ids`` (the caller resolved
    them within the actor's scope) and its job of ``kind``, sent after commit. A merge field the
    recipients lack (``sample``: one's merge fields), no recipients or too many: ``ValidationError``,
    nothing created."""
    ids = list(dict.fromkeys(int(i) for i in contact_ids))
    if not ids:
        raise ValidationError({"contacts": "Choose at least one contact."})
    if len(ids) > MAX_RECIPIENTS:
        raise ValidationError({"contacts": f"At most {MAX_RECIPIENTS:,} contacts in one bulk email."})
    message_templates.check_template(template=template, sample=sample, actor=actor)
    job = job_services.job_create(actor=actor, kind=kind, total=len(ids), phase="Queued")
    email = BulkEmail(
        template=template, category=template.category, subject=template.subject[:300], job_id=job.pk,
        contact_ids=ids, source=source[:200], created_by=actor,
    )  # fmt: skip
    email.full_clean()
    email.save()
    auditing.record(
        action=auditing.CREATE, obj=email, object_repr=f"Bulk email queued: {email.subject} to {source}",
        changes={"template": [None, template.pk], "contacts": [None, len(ids)], "job": [None, job.pk]},
        actor_id=getattr(actor, "pk", None),
    )  # fmt: skip
    return email


def _cancel_queued(email: BulkEmail) -> int:
    with bulk.described(f"Bulk email #{email.pk} cancelled: its queued emails are not sent"):
        return OutgoingEmail.objects.filter(bulk=email, status=EmailStatus.QUEUED).update(status=EmailStatus.CANCELLED)


@transaction.atomic
def bulk_email_cancel(*, actor: Any, email: BulkEmail) -> BulkEmail:
    """Stop a bulk email: at once if its job waits for a worker, else between two batches. The
    emails not yet sent are cancelled; those sent stay sent. A finished one: ``ValidationError``."""
    email = BulkEmail.objects.select_for_update().get(pk=email.pk)
    job = Job.objects.get(pk=email.job_id)
    if email.status in (BulkStatus.DONE, BulkStatus.CANCELLED) or not job.active:
        raise ValidationError(
            {"status": f"This bulk email is {email.get_status_display().lower()}: nothing to cancel."}
        )
    job = job_services.job_cancel(actor=actor, job=job)
    if job.status == JobStatus.CANCELLED:  # it was waiting: nothing runs it any more
        _cancel_queued(email)
        email.status = BulkStatus.CANCELLED
        email.save(update_fields=["status"])
    auditing.record(
        action=auditing.UPDATE, obj=email, object_repr=f"Bulk email cancelled: {email.subject}",
        changes={"status": [None, "cancel requested"]}, actor_id=getattr(actor, "pk", None),
    )  # fmt: skip
    return email


# --- The job ---------------------------------------------------------------------------------


def run(job: Job, progress: Progress, *, recipients: RecipientSource) -> Outcome | None:
    """The job of a bulk email (registered by the book with its ``recipients``)."""
    email = BulkEmail.objects.select_related("template", "created_by").get(job_id=job.pk)
    if email.status == BulkStatus.CANCELLED:
        return Outcome.failure("This bulk email was cancelled.")
    BulkEmail.objects.filter(pk=email.pk, status__in=[BulkStatus.QUEUED, BulkStatus.FAILED]).update(
        status=BulkStatus.SENDING
    )
    try:
        _stage(email, progress, recipients)
        _send(email, progress)
    except JobCancelled:
        _cancel_queued(email)
        BulkEmail.objects.filter(pk=email.pk).update(status=BulkStatus.CANCELLED)
        raise
    except Exception:
        BulkEmail.objects.filter(pk=email.pk, status=BulkStatus.SENDING).update(status=BulkStatus.FAILED)
        raise
    BulkEmail.objects.filter(pk=email.pk, status=BulkStatus.SENDING).update(status=BulkStatus.DONE)
    return None


def _stage(email: BulkEmail, progress: Progress, recipients: RecipientSource) -> None:
    ids = email.contact_ids
    compiled = message_templates.compile_template(email.template)
    firm_id = require_firm_id()
    brand = branding.for_firm(firm_id)
    base = services.merge_context(
        firm_id=firm_id, context={}, category=EmailCategory.SERVICE, to="", actor=email.created_by, brand=brand
    )
    marketing = email.category == EmailCategory.MARKETING
    reply_to = getattr(email.created_by, "email", "") or ""
    position = BulkEmail.objects.filter(pk=email.pk).values_list("staged_through", flat=True).get()
    while position < len(ids):
        progress.update(position, total=len(ids), phase="Preparing the emails", force=True)
        batch = ids[position : position + BATCH]
        try:
            with transaction.atomic():
                _stage_batch(email, batch, position, recipients, compiled, base, marketing, reply_to, firm_id)
        except _Raced:
            pass
        position = BulkEmail.objects.filter(pk=email.pk).values_list("staged_through", flat=True).get()


def _plain(text: str) -> str:
    """A rendered template is a ``SafeString``; the COPY stager takes plain ``str`` only."""
    return str.__str__(text)


def _stage_batch(
    email: BulkEmail, batch: Sequence[int], position: int, recipients: RecipientSource,
    compiled: message_templates.Compiled, base: Mapping[str, Any], marketing: bool, reply_to: str, firm_id: int,
) -> None:  # fmt: skip
    found = recipients(batch)
    with_address = [r for r in found if r.email.strip()]
    no_address = len(batch) - len(with_address)  # a contact deleted since counts here too
    unsubscribed: set[str] = set()
    if marketing and with_address:
        addresses = {r.email.strip().lower() for r in with_address}
        unsubscribed = set(Unsubscribe.objects.filter(email__in=addresses).values_list("email", flat=True))
    rows: dict[str, tuple[Recipient, str]] = {}
    skipped_unsubscribed = 0
    for recipient in with_address:
        to = recipient.email.strip().lower()
        if to in unsubscribed:
            skipped_unsubscribed += 1
        elif to not in rows:
            rows[to] = (recipient, to)
    columns: dict[str, list[Any]] = {k: [] for k in ("to", "subject", "contact_id", "text_body", "html_body")}
    for to, (recipient, _) in rows.items():
        context = {
            **recipient.context, **base,
            "unsubscribe_url": services.unsubscribe_url(firm_id=firm_id, email=to) if marketing else "",
        }  # fmt: skip
        text = _plain(compiled.body.render(Context(context, autoescape=False)))
        columns["to"].append(to)
        columns["subject"].append(" ".join(compiled.subject.render(Context(context)).split())[:300] or "(no subject)")
        columns["contact_id"].append(recipient.contact_id)
        columns["text_body"].append(_plain(rendering.text_part(text, context["unsubscribe_url"])))
        columns["html_body"].append(_plain(compiled.layout.render({**context, "body_text": text})))
    inserted = bulk.insert(
        OutgoingEmail, len(rows),
        {
            **columns, "bulk_id": bulk.Same(email.pk), "reply_to": bulk.Same(reply_to),
            "template": bulk.Same(f"firm:{email.template_id}"), "category": bulk.Same(email.category),
            "status": bulk.Same(EmailStatus.QUEUED), "sent_by_id": bulk.Same(email.created_by_id),
            "created_at": bulk.Same(timezone.now()),
        },
        audit=bulk.Audit(f"Bulk email #{email.pk}: {len(rows)} emails queued", {"bulk_email": email.pk}),
        ignore_conflicts=True,
    )  # fmt: skip
    advanced = BulkEmail.objects.filter(pk=email.pk, staged_through=position).update(
        staged_through=position + len(batch),
        recipients=F("recipients") + len(inserted),
        skipped_no_address=F("skipped_no_address") + no_address,
        skipped_unsubscribed=F("skipped_unsubscribed") + skipped_unsubscribed,
    )
    if not advanced:
        raise _Raced


def _send(email: BulkEmail, progress: Progress) -> None:
    firm_id = require_firm_id()
    brand = branding.for_firm(firm_id)
    queue = OutgoingEmail.objects.filter(bulk=email)
    queue.filter(status=EmailStatus.SENDING).update(status=EmailStatus.FAILED, error=INTERRUPTED)
    total = queue.count()
    while True:
        done = queue.exclude(status=EmailStatus.QUEUED).count()
        progress.update(done, total=total, phase="Sending", force=True)
        queue.filter(status=EmailStatus.QUEUED, attempts__gte=MAX_ATTEMPTS).update(status=EmailStatus.FAILED)
        ids = list(queue.filter(status=EmailStatus.QUEUED).order_by("id").values_list("id", flat=True)[:BATCH])
        if not ids:
            return
        granted, wait = rate.take(firm_id, len(ids))
        if not granted:
            _wait(wait, progress)
            continue
        sent, failed = services.email_deliver_many(email_ids=ids[:granted], brand=brand)
        if failed and not sent:
            errors = queue.filter(pk__in=ids[:granted]).exclude(error="").values_list("error", flat=True)[:1]
            raise ValidationError(
                f"The mail server refused every email of a batch ({next(iter(errors), 'no reason given')}); "
                "those sent before are kept. Retry to carry on."
            )


def _wait(seconds: float, progress: Progress) -> None:
    """Wait for the next minute's allowance, renewing the lease (and seeing a cancel) meanwhile."""
    step = max(1.0, min(5.0, lease_seconds() / 4))
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(step, left))
        progress.update(phase="Waiting for the sending limit", force=True)
