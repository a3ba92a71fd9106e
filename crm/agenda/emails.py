"""Individual emails from a contact's record, and the book's reads of the emails sent.

An advisor writes to one contact from one of the firm's message templates (subject and body
prefilled, editable before sending) or from scratch; the merge fields are the contact's
(``bulk_email.MERGE_FIELDS``) plus the floor's (advisor, firm, unsubscribe link). The floor
(``advisorportal.mail.services``) stores the rendered message and Celery delivers it after commit.

Who sees which email: a user sees the emails to contacts in their CRM scope and those they sent.
The product's own emails (invitations, reminders, later approval links) carry private links for
their recipient: their record (to, subject, status) is shown, their body never is
(``body_visible``). See docs/email.md."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet

from advisorportal.mail import message_templates, services
from advisorportal.mail.models import EmailCategory, EmailStatus, MessageTemplate, OutgoingEmail
from crm.agenda import bulk_email
from crm.models import Contact
from crm.scope import scope_contacts

WRITTEN = "written"  # the template code of an email written from scratch
SUBJECT_MAX = 300
BODY_MAX = 20_000


def contact_merge_fields(contact: Contact) -> dict[str, Any]:
    """``{"contact": {...}}``: the merge fields of ``contact``, as a bulk email gives them."""
    row = {name: getattr(contact, name, "") for name in bulk_email.MERGE_FIELDS}
    return bulk_email.merge_fields({**row, "kind": contact.kind})


def _draft(
    *, template: MessageTemplate | None, subject: str | None, body: str | None, category: str | None
) -> MessageTemplate:
    """The message to send: the template, with the subject, body or category the user changed."""
    subject = (template.subject if template and subject is None else subject or "").strip()
    body = template.body if template and body is None else body or ""
    category = category or (template.category if template else EmailCategory.SERVICE)
    errors: dict[str, str] = {}
    if not subject:
        errors["subject"] = "Write a subject."
    elif "\n" in subject or "\r" in subject:
        errors["subject"] = "A subject is one line."
    elif len(subject) > SUBJECT_MAX:
        errors["subject"] = f"A subject has at most {SUBJECT_MAX} characters."
    if not body.strip():
        errors["body"] = "Write a message."
    elif len(body) > BODY_MAX:
        errors["body"] = f"A message has at most {BODY_MAX:,} characters."
    if category not in EmailCategory.values:
        errors["category"] = "Choose service or marketing."
    if errors:
        raise ValidationError(errors)
    unchanged = template is not None and (subject, body, category) == (
        template.subject.strip(), template.body, template.category
    )  # fmt: skip
    return template if unchanged and template else MessageTemplate(
        name=template.name if template else "Written email", category=category, subject=subject, body=body
    )  # fmt: skip


def _check(draft: MessageTemplate, context: dict[str, Any], actor: Any) -> None:
    for field, source in (("subject", draft.subject), ("body", draft.body)):
        probe = MessageTemplate(name=draft.name, category=draft.category, subject="", body="")
        setattr(probe, field, source)
        message_templates.check_template(template=probe, sample=context, actor=actor, field=field)


def contact_email_preview(
    *,
    actor: Any,
    contact: Contact,
    template: MessageTemplate | None = None,
    subject: str | None = None,
    body: str | None = None,
    category: str | None = None,
) -> Any:
    """What ``contact`` would receive (subject, text, HTML); errors as ``contact_email_send``."""
    draft = _draft(template=template, subject=subject, body=body, category=category)
    context = contact_merge_fields(contact)
    _check(draft, context, actor)
    return message_templates.preview(template=draft, context=context, to=contact.email or "", actor=actor)


@transaction.atomic
def contact_email_send(
    *,
    actor: Any,
    contact: Contact,
    template: MessageTemplate | None = None,
    subject: str | None = None,
    body: str | None = None,
    category: str | None = None,
) -> OutgoingEmail:
    """Queue one email to ``contact`` (already checked to be in the actor's scope) from
    ``template`` and/or a written subject and body. A contact without an email address, a merge
    field the contact lacks (named), an empty subject or body: ``ValidationError`` and nothing is
    stored or sent. A marketing email to an address that unsubscribed is recorded as skipped."""
    if not (contact.email or "").strip():
        raise ValidationError({"to": f"{contact} has no email address: add one on the contact's profile first."})
    draft = _draft(template=template, subject=subject, body=body, category=category)
    context = contact_merge_fields(contact)
    _check(draft, context, actor)
    return services.email_send_message(
        to=contact.email, template=draft, contact_id=contact.pk, context=context, actor=actor,
        code=f"firm:{draft.pk}" if draft.pk else WRITTEN,
    )  # fmt: skip


# --- Reads -----------------------------------------------------------------------------------------


def emails_for(*, user: Any) -> QuerySet[OutgoingEmail]:
    """The emails the user may see, newest first: those to contacts in the user's CRM scope and
    those the user sent."""
    to_contacts = scope_contacts(OutgoingEmail.objects.filter(contact_id__isnull=False), user=user,
                                 contact_field="contact_id")  # fmt: skip
    return OutgoingEmail.objects.filter(Q(pk__in=to_contacts.values("pk")) | Q(sent_by=user)).order_by(
        "-created_at", "-id"
    )


def email_get(*, user: Any, pk: Any) -> OutgoingEmail:
    """One email the user may see (``OutgoingEmail.DoesNotExist`` otherwise, another firm's alike)."""
    return emails_for(user=user).get(pk=int(pk))


def contact_emails(*, user: Any, contact: Contact, status: str = "") -> QuerySet[OutgoingEmail]:
    """The emails to ``contact`` (already checked to be in the user's scope), newest first."""
    emails = OutgoingEmail.objects.filter(contact_id=contact.pk).order_by("-created_at", "-id")
    if status:
        if status not in EmailStatus.values:
            raise ValidationError({"status": f"Unknown status {status!r}: use {', '.join(EmailStatus.values)}."})
        emails = emails.filter(status=status)
    return emails


def contacts_by_id(*, user: Any, ids: set[Any]) -> dict[int, Contact]:
    """The contacts among ``ids`` in the user's scope (an email's contact may have left it)."""
    ids = {i for i in ids if i}
    if not ids:
        return {}
    rows = scope_contacts(Contact.objects.filter(pk__in=ids), user=user).only(
        "pk", "kind", "first_name", "middle_name", "last_name", "suffix", "email"
    )
    return {c.pk: c for c in rows}


def body_visible(email: OutgoingEmail) -> bool:
    """Whether the stored body may be shown to the firm's users: a firm-written message, not one
    of the product's own emails (which may hold a private link for the recipient)."""
    return email.template == WRITTEN or email.template.startswith("firm:")


def templates() -> QuerySet[MessageTemplate]:
    return bulk_email.templates()
