"""Bulk email pages: compose (choose a template for the selected contacts, a group or a saved view;
see who receives it, who is left out and why, and the first recipient's preview; confirm), a bulk
email's page with its progress bar and counts (polling its own panel) and Cancel, and the list of
the user's bulk emails. The CRM right, the user's scope; a bulk email is its starter's."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.http import Http404, HttpRequest, HttpResponseBase, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse

from advisorportal.idempotency.services import (
    IdempotencyKeyInProgress,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    idempotent,
)
from advisorportal.jobs.models import Job
from advisorportal.mail import selectors as mail_selectors
from advisorportal.mail.models import BulkEmail, MessageTemplate
from crm import selectors as crm_selectors
from crm.agenda import bulk_email
from crm.agenda.views import AgendaPage, _errors

SELECTION_KEYS = ("group", "saved_view")


def _selection_fields(data: QueryDict) -> dict[str, Any]:
    contacts = [v for v in data.getlist("contact") + data.getlist("ids") if v.strip()]
    return {"contacts": contacts, "group": data.get("group") or None, "saved_view": data.get("saved_view") or None}


SEND_SCOPE = "agenda.bulk_email_start.page"


class BulkEmailNewView(AgendaPage):
    """GET with ``group`` or ``saved_view`` (from a group's page, a saved view), or POST with the
    selected contacts (``ids``: the contacts table's selection) or ``action=send`` to start."""

    def get(self, request: HttpRequest) -> HttpResponseBase:
        return self.show(request.GET)

    def post(self, request: HttpRequest) -> HttpResponseBase:
        data = request.POST
        if data.get("action") != "send":
            return self.show(data)
        selection = self.selection(data)
        template = self.template(data.get("template"))
        if template is None:
            return self.show(data, errors=["Choose a message template."], status=400)
        # The form's one-time key: a second click or a resent form shows the first bulk email and
        # sends nothing again.
        payload = {"template": template.pk, "user": self.user.pk, **_selection_fields(data)}
        try:
            with idempotent(scope=SEND_SCOPE, key=data.get("send_key", ""), payload=payload, name="form") as attempt:
                if attempt.replayed:
                    return redirect(reverse("agenda:bulk-email", args=[attempt.body["id"]]))
                email = bulk_email.bulk_email_start(actor=self.user, template=template, selection=selection)
                attempt.store({"id": email.pk})
        except ValidationError as error:
            return self.show(data, errors=_errors(error), status=400)
        except IdempotencyKeyInvalid:
            return self.show(data, errors=["This form has expired: check the choices and send again."], status=400)
        except (IdempotencyKeyReused, IdempotencyKeyInProgress):
            return self.show(data, errors=["This form was already sent with other choices: check and send again."],
                             status=400)  # fmt: skip
        messages.success(request, f"Bulk email queued to {selection.label}.")
        return redirect(reverse("agenda:bulk-email", args=[email.pk]))

    def selection(self, data: QueryDict) -> crm_selectors.ContactSelection:
        try:
            return crm_selectors.contact_selection(user=self.user, **_selection_fields(data))
        except (ObjectDoesNotExist, ValueError, TypeError):
            raise Http404("No such contact, group or view.") from None

    def template(self, pk: Any) -> MessageTemplate | None:
        if not pk:
            return None
        try:
            return bulk_email.templates().get(pk=int(pk))
        except (MessageTemplate.DoesNotExist, ValueError, TypeError):
            raise Http404("No such template.") from None

    def show(self, data: QueryDict, errors: list[str] | None = None, status: int = 200) -> HttpResponseBase:
        errors = list(errors or [])
        chosen = _selection_fields(data)
        selection = None
        if chosen["contacts"] or chosen["group"] or chosen["saved_view"]:
            try:
                selection = self.selection(data)
            except ValidationError as error:
                errors += _errors(error)
        template = self.template(data.get("template"))
        plan = None
        if selection is not None:
            try:
                plan = bulk_email.plan(actor=self.user, template=template, selection=selection)
            except ValidationError as error:
                errors += _errors(error)
                plan = bulk_email.plan(actor=self.user, template=None, selection=selection)
        return render(
            self.request,
            "agenda/bulk_email/new.html",
            {
                "templates": bulk_email.templates(),
                "template": template,
                "chosen": chosen,
                "plan": plan,
                "errors": errors,
                "send_key": uuid.uuid4().hex,
                "groups": crm_selectors.group_list(user=self.user),
                "saved_views": crm_selectors.saved_views(user=self.user),
            },
            status=status,
        )


class BulkEmailPage(AgendaPage):
    def bulk(self, pk: Any) -> BulkEmail:
        try:
            return bulk_email.bulk_email_get(user=self.user, pk=pk)
        except (BulkEmail.DoesNotExist, ValueError, TypeError):
            raise Http404("No such bulk email.") from None


class BulkEmailDetailView(BulkEmailPage):
    def get(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        email = self.bulk(pk)
        job = Job.objects.get(pk=email.job_id)
        context = {"email": email, "job": job, "counts": mail_selectors.counts(email), "unit": _unit(job)}
        template = (
            "agenda/bulk_email/_panel.html" if request.headers.get("HX-Request") else "agenda/bulk_email/detail.html"
        )
        return render(request, template, context)


def _unit(job: Job) -> str:
    return "emails" if job.phase.startswith(("Sending", "Waiting")) else "contacts"


class BulkEmailCancelView(BulkEmailPage):
    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        email = self.bulk(pk)
        try:
            bulk_email.bulk_email_cancel(actor=self.user, email=email)
        except ValidationError as error:
            messages.error(request, " ".join(_errors(error)))
        else:
            messages.success(request, "Cancelling: the emails not yet sent will not be sent; those sent stay sent.")
        return redirect(reverse("agenda:bulk-email", args=[email.pk]))


class BulkEmailListView(AgendaPage):
    def get(self, request: HttpRequest) -> HttpResponseBase:
        emails = list(bulk_email.bulk_emails_for(user=self.user)[:100])
        jobs = {j.pk: j for j in Job.objects.filter(pk__in=[e.job_id for e in emails])}
        for email in emails:
            email.job = jobs.get(email.job_id)  # type: ignore[attr-defined]
        return render(request, "agenda/bulk_email/list.html", {"emails": emails})
