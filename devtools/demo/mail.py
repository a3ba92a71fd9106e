"""Demo email: each demo firm's message templates (service and marketing, with merge fields) and a
few individual emails already sent to the first contacts of the advisor's and the assistant's
scope, so the message templates page, the bulk email form, the contact's Agenda tab and the
development outbox have content. Idempotent: templates are matched by name and the emails are
written once (a demo user who sent one sends no more)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from accounts.models import Firm, User
from advisorportal.mail import message_templates
from advisorportal.mail.models import MessageTemplate, OutgoingEmail
from crm.agenda import bulk_email, emails
from crm.models import Contact
from crm.scope import scope_contacts

TEMPLATES = (
    ("Annual review invitation", "service", "Your annual review, {{ contact.first_name }}",
     "Dear {{ contact.first_name }},\n\nIt is time for your annual review. We will go through your "
     "portfolio's performance, your goals and anything that has changed in your life this year.\n\n"
     "Please reply with two or three times that suit you over the next few weeks.\n\n"
     "{{ advisor.signature }}"),
    ("Welcome to the firm", "service", "Welcome to {{ firm.name }}",
     "Dear {{ contact.first_name }},\n\nThank you for choosing {{ firm.name }}. Your advisor is "
     "{{ advisor.name }}, who will guide you through opening your accounts. You will receive an email "
     "for each document that needs your signature.\n\n{{ advisor.signature }}"),
    ("Document request", "service", "Documents we need from you",
     "Dear {{ contact.first_name }},\n\nTo finish your file we still need a copy of a photo ID and a "
     "recent account statement from your current custodian. You can reply to this email with them "
     "attached.\n\n{{ advisor.signature }}"),
    ("Quarterly market update", "marketing", "Markets this quarter: what it means for you",
     "Dear {{ contact.first_name }},\n\nStocks rose and bond yields eased this quarter. Our investment "
     "committee kept the balanced allocation unchanged and rebalanced portfolios that drifted more than "
     "5 %.\n\nIf you would like to talk about your own portfolio, reply to this email.\n\n"
     "{{ advisor.signature }}"),
    ("Client seminar invitation", "marketing", "You are invited: retirement income seminar",
     "Dear {{ contact.first_name }},\n\nJoin us for an evening on turning savings into a reliable "
     "retirement income: withdrawal rates, Social Security timing and Roth conversions.\n\n"
     "Reply to reserve a seat for you and a guest.\n\n{{ advisor.signature }}"),
)  # fmt: skip

SENT = ("Annual review invitation", "Document request")


def seed_mail(*, firm: Firm, log: Callable[[str], Any] = print) -> int:
    """Create ``firm``'s demo templates and first emails (call inside its ``firm_scope``); returns
    how many templates the firm has."""
    users = {u.email.split("@")[0]: u for u in User.objects.filter(email__endswith=f"@{firm.slug}.example")}
    owner = users.get("owner")
    by_name = {t.name: t for t in MessageTemplate.objects.all()}
    for name, category, subject, body in TEMPLATES:
        if name not in by_name:
            by_name[name] = message_templates.message_template_save(
                actor=owner, data={"name": name, "category": category, "subject": subject, "body": body},
                sample=bulk_email.SAMPLE,
            )  # fmt: skip
    sent = 0
    for local in ("assistant", "advisor"):  # the assistant first: their scope is small
        user = users.get(local)
        if user is None or OutgoingEmail.objects.filter(sent_by=user).exists():
            continue
        emailed = OutgoingEmail.objects.filter(contact_id__isnull=False).values("contact_id")
        contacts = scope_contacts(Contact.objects.exclude(email="").exclude(pk__in=emailed), user=user)
        for contact, name in zip(contacts.order_by("id")[:3], SENT * 2, strict=False):
            emails.contact_email_send(actor=user, contact=contact, template=by_name[name])
            sent += 1
    log(f"  {len(by_name)} message templates, {sent} emails sent")
    return len(by_name)
