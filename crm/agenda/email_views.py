"""Email pages of the book: the firm's message templates (list, new, edit with a preview, copy,
delete), writing to one contact (from a template or from scratch, with a preview and a one-time
send key), and the emails a user may see (list and one email's record). The CRM right; contacts
come through the user's scope (``crm.agenda.emails``)."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponseBase, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse

from advisorportal.idempotency.services import (
    IdempotencyKeyInProgress,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    idempotent,
)
from advisorportal.mail import message_templates
from advisorportal.mail.models import EmailCategory, EmailStatus, MessageTemplate
from crm.agenda import bulk_email, emails
from crm.agenda.views import AgendaPage, _errors
from crm.models import Contact

# The merge fields a template may use, shown beside the editor.
MERGE_FIELD_HELP = (
    ("contact.first_name", "First name"), ("contact.last_name", "Last name"), ("contact.name", "Full name"),
    ("contact.preferred_name", "Preferred name"), ("contact.salutation", "Salutation"),
    ("contact.organization", "Organization"), ("contact.city", "City"), ("contact.state", "State"),
    ("contact.email", "Email address"), ("advisor.name", "Your name"), ("advisor.email", "Your email"),
    ("advisor.signature", "Your signature (name and firm)"), ("firm.name", "The firm's name"),
)  # fmt: skip
SEND_SCOPE = "agenda.email_send.page"


class MessageTemplatePage(AgendaPage):
    def message_template(self, pk: Any) -> MessageTemplate:
        try:
            return emails.templates().get(pk=int(pk))
        except (MessageTemplate.DoesNotExist, ValueError, TypeError):
            raise Http404("No such template.") from None

    def show(
        self, template: MessageTemplate | None, data: dict[str, Any], *, errors: list[str] | None = None,
        preview: Any = None, status: int = 200,
    ) -> HttpResponseBase:  # fmt: skip
        return render(
            self.request,
            "agenda/email/template_edit.html",
            {
                "template": template,
                "data": data,
                "errors": errors or [],
                "preview": preview,
                "categories": EmailCategory.choices,
                "merge_fields": MERGE_FIELD_HELP,
            },
            status=status,
        )


def _template_data(post: QueryDict) -> dict[str, str]:
    return {name: post.get(name, "") for name in message_templates.FIELDS}


class MessageTemplateListView(AgendaPage):
    def get(self, request: HttpRequest) -> HttpResponseBase:
        return render(request, "agenda/email/templates.html", {"templates": emails.templates()})


class MessageTemplateNewView(MessageTemplatePage):
    def get(self, request: HttpRequest) -> HttpResponseBase:
        return self.show(None, {"name": "", "category": EmailCategory.SERVICE, "subject": "", "body": ""})

    def post(self, request: HttpRequest) -> HttpResponseBase:
        data = _template_data(request.POST)
        if request.POST.get("action") == "preview":
            return self.preview(None, data)
        try:
            template = message_templates.message_template_save(actor=self.user, data=data, sample=bulk_email.SAMPLE)
        except ValidationError as error:
            return self.show(None, data, errors=_errors(error), status=400)
        messages.success(request, f"Template “{template.name}” created.")
        return redirect("agenda:message-templates")

    def preview(self, template: MessageTemplate | None, data: dict[str, Any]) -> HttpResponseBase:
        draft = MessageTemplate(name=data["name"] or "Draft", category=data["category"], subject=data["subject"],
                                body=data["body"])  # fmt: skip
        try:
            rendered = message_templates.preview(template=draft, context=bulk_email.SAMPLE, to="", actor=self.user)
        except ValidationError as error:
            return self.show(template, data, errors=_errors(error), status=400)
        return self.show(template, data, preview=rendered)


class MessageTemplateEditView(MessageTemplateNewView):
    def get(self, request: HttpRequest, pk: int) -> HttpResponseBase:  # type: ignore[override]
        template = self.message_template(pk)
        return self.show(template, {name: getattr(template, name) for name in message_templates.FIELDS})

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:  # type: ignore[override]
        template = self.message_template(pk)
        action = request.POST.get("action", "save")
        data = _template_data(request.POST)
        if action == "preview":
            return self.preview(template, data)
        try:
            if action == "copy":
                copy = message_templates.message_template_copy(
                    actor=self.user, template=template, sample=bulk_email.SAMPLE
                )
                messages.success(request, f"Copied as “{copy.name}”.")
                return redirect("agenda:message-template", copy.pk)
            if action == "delete":
                message_templates.message_template_delete(actor=self.user, template=template)
                messages.success(request, f"Template “{template.name}” deleted.")
                return redirect("agenda:message-templates")
            message_templates.message_template_save(
                actor=self.user, template=template, data=data, sample=bulk_email.SAMPLE
            )
        except ValidationError as error:
            template.refresh_from_db()
            return self.show(template, data, errors=_errors(error), status=400)
        messages.success(request, "Template saved. Emails already sent keep what they said.")
        return redirect("agenda:message-templates")


class ContactEmailView(AgendaPage):
    """Write to one contact: ``?template=`` prefills the subject and body; Preview shows what the
    contact receives; Send queues it once (the form's one-time key)."""

    def template(self, pk: Any) -> MessageTemplate | None:
        if not pk:
            return None
        try:
            return emails.templates().get(pk=int(pk))
        except (MessageTemplate.DoesNotExist, ValueError, TypeError):
            raise Http404("No such template.") from None

    def get(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        contact = self.contact_or_404(pk)
        template = self.template(request.GET.get("template"))
        data = {
            "template": template.pk if template else "",
            "category": template.category if template else EmailCategory.SERVICE,
            "subject": template.subject if template else "",
            "body": template.body if template else "",
        }
        return self.show(contact, data)

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        contact = self.contact_or_404(pk)
        post = request.POST
        template = self.template(post.get("template"))
        data = {"template": template.pk if template else "", "category": post.get("category", ""),
                "subject": post.get("subject", ""), "body": post.get("body", "")}  # fmt: skip
        fields: dict[str, Any] = {"template": template, "subject": data["subject"], "body": data["body"],
                                  "category": data["category"] or None}  # fmt: skip
        if post.get("action") != "send":
            try:
                preview = emails.contact_email_preview(actor=self.user, contact=contact, **fields)
            except ValidationError as error:
                return self.show(contact, data, errors=_errors(error), status=400)
            return self.show(contact, data, preview=preview)
        payload = {"contact": contact.pk, "user": self.user.pk, **data}
        try:
            with idempotent(scope=SEND_SCOPE, key=post.get("send_key", ""), payload=payload, name="form") as attempt:
                if attempt.replayed:
                    return redirect(reverse("agenda:email", args=[attempt.body["id"]]))
                email = emails.contact_email_send(actor=self.user, contact=contact, **fields)
                attempt.store({"id": email.pk})
        except ValidationError as error:
            return self.show(contact, data, errors=_errors(error), status=400)
        except IdempotencyKeyInvalid:
            return self.show(contact, data, errors=["This form has expired: check the email and send again."],
                             status=400)  # fmt: skip
        except (IdempotencyKeyReused, IdempotencyKeyInProgress):
            return self.show(contact, data, errors=["This form was already sent: check the email and send again."],
                             status=400)  # fmt: skip
        if email.status == EmailStatus.SKIPPED:
            messages.warning(request, f"Not sent: {contact.email} unsubscribed from marketing emails.")
        else:
            messages.success(request, f"Email to {contact.email} queued; its status is below.")
        return redirect(reverse("agenda:email", args=[email.pk]))

    def show(
        self, contact: Contact, data: dict[str, Any], *, errors: list[str] | None = None, preview: Any = None,
        status: int = 200,
    ) -> HttpResponseBase:  # fmt: skip
        return render(
            self.request,
            "agenda/email/compose.html",
            {
                "contact": contact,
                "data": data,
                "errors": errors or [],
                "preview": preview,
                "templates": emails.templates(),
                "categories": EmailCategory.choices,
                "merge_fields": MERGE_FIELD_HELP,
                "send_key": uuid.uuid4().hex,
                "recent": list(emails.contact_emails(user=self.user, contact=contact)[:5]),
            },
            status=status,
        )


class EmailListView(AgendaPage):
    LIMIT = 100

    def get(self, request: HttpRequest) -> HttpResponseBase:
        status = request.GET.get("status", "")
        rows = emails.emails_for(user=self.user)
        if status in EmailStatus.values:
            rows = rows.filter(status=status)
        else:
            status = ""
        listed = list(rows.select_related("sent_by")[: self.LIMIT])
        contacts = emails.contacts_by_id(user=self.user, ids={e.contact_id for e in listed if e.contact_id})
        for email in listed:
            email.contact = contacts.get(email.contact_id or 0)  # type: ignore[attr-defined]
        return render(
            request,
            "agenda/email/list.html",
            {"emails": listed, "status": status, "statuses": EmailStatus.choices, "limit": self.LIMIT},
        )


class EmailDetailView(AgendaPage):
    def get(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        email = self.get_or_404(emails.email_get, pk)
        contact = (
            emails.contacts_by_id(user=self.user, ids={email.contact_id}).get(email.contact_id)
            if email.contact_id
            else None
        )
        return render(
            request,
            "agenda/email/detail.html",
            {"email": email, "contact": contact, "body_visible": emails.body_visible(email)},
        )
