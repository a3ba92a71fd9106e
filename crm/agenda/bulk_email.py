"""Bulk email to contacts: the book's half of ``advisorportal.mail.bulk`` (which sends). Here: the
recipients of a selection, group or saved view within the user's scope (``crm.selectors.
contact_selection``), each contact's merge fields, the plan shown before sending (how many
receive it, who is left out and why, the first recipient's preview), starting and cancelling one,
and the job kind (registered in ``AgendaConfig.ready``). Needs the CRM right, like every change
to contacts; a user sees the bulk emails they started."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet

from advisorportal.jobs.kinds import Outcome
from advisorportal.jobs.models import Job
from advisorportal.jobs.progress import Progress
from advisorportal.mail import bulk as mail_bulk
from advisorportal.mail import message_templates
from advisorportal.mail import selectors as mail_selectors
from advisorportal.mail.models import BulkEmail, EmailCategory, MessageTemplate, Unsubscribe
from advisorportal.mail.rendering import Rendered
from crm.models import Contact
from crm.selectors import ContactSelection

KIND = "agenda.bulk_email"

# The contact's merge fields ({{ contact.first_name }}): names people write in a template, not
# every column (no tax id, no notes).
MERGE_FIELDS = (
    "salutation", "first_name", "middle_name", "last_name", "suffix", "preferred_name", "organization", "email",
    "res_city", "res_state",
)  # fmt: skip
_LOADED = ("id", "kind", *MERGE_FIELDS)


def merge_fields(row: dict[str, Any]) -> dict[str, Any]:
    """``{"contact": {...}}`` for a contact's values (``_LOADED``)."""
    contact = {name: row.get(name) or "" for name in MERGE_FIELDS}
    parts = (contact["first_name"], contact["middle_name"], contact["last_name"], contact["suffix"])
    contact["name"] = contact["last_name"] if row.get("kind") == "entity" else " ".join(p for p in parts if p)
    contact["city"], contact["state"] = contact.pop("res_city"), contact.pop("res_state")
    return {"contact": contact}


SAMPLE = merge_fields({"first_name": "Ann", "last_name": "Example", "email": "ann@example.com"})


def recipients(contact_ids: Sequence[int]) -> list[mail_bulk.Recipient]:
    """The recipients source of the job: the contacts (of the firm in scope) with these ids."""
    rows = Contact.objects.filter(pk__in=list(contact_ids)).values(*_LOADED)
    by_id = {row["id"]: row for row in rows}
    return [
        mail_bulk.Recipient(contact_id=pk, email=by_id[pk]["email"] or "", context=merge_fields(by_id[pk]))
        for pk in contact_ids
        if pk in by_id
    ]


def run_job(job: Job, progress: Progress) -> Outcome | None:
    return mail_bulk.run(job, progress, recipients=recipients)


@dataclass(frozen=True)
class Plan:
    """What sending ``template`` to a selection would do, before anything is created."""

    label: str
    contacts: int
    recipients: int  # distinct addresses that receive it
    no_address: int
    unsubscribed: int
    duplicates: int  # contacts sharing an address with another recipient
    first: Contact | None
    preview: Rendered | None


def plan(*, actor: Any, template: MessageTemplate | None, selection: ContactSelection) -> Plan:
    """The counts (a few aggregate queries, whatever the size) and the first recipient's preview;
    a template with a merge field contacts lack raises ``ValidationError`` naming it."""
    contacts = selection.contacts
    totals = contacts.aggregate(n=Count("id"), no_address=Count("id", filter=Q(email="")))
    with_address = contacts.exclude(email="")
    unsubscribed = 0
    if template is not None and template.category == EmailCategory.MARKETING:
        opted_out = Unsubscribe.objects.values("email")
        unsubscribed = with_address.filter(email_key__in=opted_out).count()
        with_address = with_address.exclude(email_key__in=opted_out)
    distinct = with_address.values("email_key").distinct().count()
    first_row = with_address.values(*_LOADED).order_by("id").first()
    first = contacts.filter(pk=first_row["id"]).first() if first_row else None
    preview = None
    if template is not None:
        context, to = (merge_fields(first_row), first_row["email"]) if first_row else (SAMPLE, "")
        preview = message_templates.preview(template=template, context=context, to=to, actor=actor)
    n, no_address = totals["n"], totals["no_address"]
    return Plan(
        label=selection.label, contacts=n, recipients=distinct, no_address=no_address, unsubscribed=unsubscribed,
        duplicates=n - no_address - unsubscribed - distinct, first=first, preview=preview,
    )  # fmt: skip


def bulk_email_start(*, actor: Any, template: MessageTemplate, selection: ContactSelection) -> BulkEmail:
    """Queue ``template`` to every contact of ``selection`` (resolved within the actor's scope);
    the job prepares and sends them. A merge field contacts lack, no contacts or too many:
    ``ValidationError``, nothing created."""
    ids = list(selection.contacts.values_list("id", flat=True))
    return mail_bulk.bulk_email_create(
        actor=actor, template=template, contact_ids=ids, source=selection.label, kind=KIND, sample=SAMPLE
    )


def bulk_email_cancel(*, actor: Any, email: BulkEmail) -> BulkEmail:
    return mail_bulk.bulk_email_cancel(actor=actor, email=email)


def bulk_emails_for(*, user: Any) -> QuerySet[BulkEmail]:
    """The bulk emails the user started, newest first."""
    return mail_selectors.bulk_email_list().filter(created_by=user)


def bulk_email_get(*, user: Any, pk: Any) -> BulkEmail:
    """One of the user's bulk emails (``BulkEmail.DoesNotExist`` for another's, another firm's or
    a missing one alike)."""
    return bulk_emails_for(user=user).get(pk=int(pk))


def templates() -> QuerySet[MessageTemplate]:
    return MessageTemplate.objects.order_by("name", "id")
