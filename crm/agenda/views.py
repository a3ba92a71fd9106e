"""Agenda pages: the user's agenda (tasks and workflow steps, with filters), workflow templates
(list, edit, copy), a workflow's page, and a contact's agenda page (its workflows, tasks and
notes). Every page needs the CRM right; contacts come through the user's scope."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse

from accounts.access import FirmScopedView
from accounts.rights import Right
from advisorportal.notifications import categories as notification_categories
from advisorportal.notifications import selectors as notification_selectors
from crm import selectors as crm_selectors
from crm.agenda import emails, selectors, services
from crm.agenda.calendar import selectors as calendar_selectors
from crm.agenda.models import Priority, TaskStatus
from crm.documents import selectors as document_selectors
from crm.models import Contact


def _errors(error: ValidationError) -> list[str]:
    if hasattr(error, "message_dict"):
        return [
            f"{'' if k == '__all__' else k.replace('_', ' ').capitalize() + ': '}{m}"
            for k, v in error.message_dict.items()
            for m in v
        ]
    return list(error.messages)


def _date(value: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError({field: "Give a date, e.g. 2026-12-31."}) from None


class AgendaPage(FirmScopedView):
    required_right = Right.CRM

    def contact_or_404(self, pk: Any) -> Contact:
        try:
            return crm_selectors.contact_get(user=self.user, pk=pk)
        except Contact.DoesNotExist:
            raise Http404("No such contact.") from None

    def get_or_404(self, getter: Any, pk: Any) -> Any:
        try:
            return getter(user=self.user, pk=pk)
        except (ObjectDoesNotExist, ValueError, TypeError):
            raise Http404 from None

    def back(self, fallback: str) -> str:
        target = self.request.POST.get("next", "")
        return target if target.startswith("/") and not target.startswith("//") else fallback


class AgendaView(AgendaPage):
    def get(self, request: HttpRequest) -> HttpResponseBase:
        status = request.GET.get("status", TaskStatus.OPEN)
        status = status if status in {TaskStatus.OPEN, TaskStatus.DONE} else TaskStatus.OPEN
        overdue = request.GET.get("overdue") == "1"
        page = selectors.task_page(user=self.user, status=status, overdue=overdue, after=request.GET.get("after", ""))
        tasks = selectors._mark_overdue(page.rows)
        steps = selectors.open_steps_for_user(user=self.user, limit=100)
        if overdue:
            steps = [s for s in steps if getattr(s, "is_overdue", False)]
        return render(
            request,
            "agenda/agenda.html",
            {
                "tasks": tasks,
                "next_cursor": page.next_cursor,
                "steps": steps,
                "status": status,
                "overdue": overdue,
                "priorities": Priority.choices,
                "users": crm_selectors.toolbar(user=self.user)["assignees"],
                "today": selectors.today(),
            },
        )


class TaskCreateView(AgendaPage):
    def post(self, request: HttpRequest) -> HttpResponseBase:
        data = request.POST
        contact = self.contact_or_404(data["contact"]) if data.get("contact") else None
        fallback = reverse("agenda:contact", args=[contact.pk]) if contact else reverse("agenda:home")
        try:
            assignee = selectors.assignable_users().filter(pk=data.get("assignee") or self.user.pk).first()
            remind = data.get("remind_days_before", "").strip()
            services.task_create(
                actor=self.user,
                title=data.get("title", ""),
                assignee=assignee,
                contact=contact,
                description=data.get("description", ""),
                priority=data.get("priority") or Priority.NORMAL,
                due_date=_date(data.get("due_date", ""), "due_date"),
                remind_days_before=int(remind) if remind.isdigit() else None,
            )
        except ValidationError as error:
            for message in _errors(error):
                messages.error(request, message)
        else:
            messages.success(request, "Task added.")
        return redirect(self.back(fallback))


class TaskCompleteView(AgendaPage):
    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        task = self.get_or_404(selectors.task_get, pk)
        services.task_complete(actor=self.user, task=task, done=request.POST.get("done", "1") == "1")
        messages.success(request, f"Task “{task.title}” {'done' if task.status == TaskStatus.DONE else 'reopened'}.")
        return redirect(self.back(reverse("agenda:home")))


class StepCompleteView(AgendaPage):
    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        step = self.get_or_404(selectors.step_get, pk)
        try:
            services.step_complete(actor=self.user, step=step)
        except ValidationError as error:
            messages.error(request, " ".join(_errors(error)))
        else:
            messages.success(request, f"Step “{step.name}” done.")
        return redirect(self.back(reverse("agenda:workflow", args=[step.workflow_id])))


class WorkflowView(AgendaPage):
    def get(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        workflow = self.get_or_404(selectors.workflow_get, pk)
        steps = selectors.workflow_steps(workflow=workflow)
        return render(request, "agenda/workflow.html", {"workflow": workflow, "steps": steps})


class WorkflowStartView(AgendaPage):
    """Start a template on one contact, a selection (``contact`` repeated), a group or a saved
    view. Every contact named must be in the user's scope: one that is not is a 404, nothing started."""

    def post(self, request: HttpRequest) -> HttpResponseBase:
        data = request.POST
        template = self.get_or_404(lambda user, pk: selectors.template_get(pk=pk), data.get("template"))
        try:
            contacts = self.contacts(data)
            start = _date(data["start_date"], "start_date") if data.get("start_date") else None
            result = services.workflows_start(actor=self.user, template=template, contacts=contacts, start_date=start)
        except ValidationError as error:
            for message in _errors(error):
                messages.error(request, message)
            return redirect(self.back(reverse("agenda:templates")))
        if isinstance(result, list):
            messages.success(
                request, f"{template.name} started on {len(result)} contact{'s' if len(result) != 1 else ''}."
            )
            if len(result) == 1:
                return redirect(self.back(reverse("agenda:workflow", args=[result[0].pk])))
            return redirect(self.back(reverse("agenda:templates")))
        return redirect(reverse("agenda:batch", args=[result.pk]))

    def contacts(self, data: QueryDict) -> list[Contact]:
        try:
            selection = crm_selectors.contact_selection(
                user=self.user, contacts=data.getlist("contact"), group=data.get("group"),
                saved_view=data.get("saved_view"),
            )  # fmt: skip
            return list(selection.contacts)
        except (ObjectDoesNotExist, ValueError):
            raise Http404("No such contact.") from None


class BatchView(AgendaPage):
    def get(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        from advisorportal.jobs.models import Job

        try:
            job = Job.objects.get(pk=pk, kind=services.BULK_START_KIND, created_by=self.user)
        except Job.DoesNotExist:
            raise Http404 from None
        template = "agenda/_batch_panel.html" if request.headers.get("HX-Request") else "agenda/batch.html"
        return render(request, template, {"job": job})


class TemplateListView(AgendaPage):
    def get(self, request: HttpRequest) -> HttpResponseBase:
        return render(
            request,
            "agenda/templates.html",
            {
                "templates": selectors.template_progress(user=self.user),
                "groups": crm_selectors.group_list(user=self.user),
                "saved_views": crm_selectors.saved_views(user=self.user),
                "today": selectors.today(),
            },
        )


class TemplateEditView(AgendaPage):
    FIELDS = ("name", "due_days", "due_from", "priority", "assignee_role", "depends_on")

    def get(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        template = self.get_or_404(lambda user, pk: selectors.template_get(pk=pk), pk)
        return self.show(template, list(template.steps.all()), [])

    def show(self, template: Any, steps: list[Any], errors: list[str], status: int = 200) -> HttpResponse:
        rows = [{f: getattr(s, f, "") if not isinstance(s, dict) else s.get(f, "") for f in self.FIELDS} for s in steps]
        rows += [dict.fromkeys(self.FIELDS, "")] * 2
        return render(
            self.request,
            "agenda/template_edit.html",
            {
                "template": template,
                "rows": rows,
                "errors": errors,
                "priorities": Priority.choices,
                "roles": services.ROLES,
            },
            status=status,
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        template = self.get_or_404(lambda user, pk: selectors.template_get(pk=pk), pk)
        if request.POST.get("action") == "copy":
            copy = services.template_copy(actor=self.user, template=template)
            messages.success(request, f"Copied as “{copy.name}”.")
            return redirect("agenda:template", copy.pk)
        names = request.POST.getlist("step_name")
        steps = []
        for i, name in enumerate(names):
            if not name.strip():
                continue
            get = lambda f: request.POST.getlist(f"step_{f}")[i] if i < len(request.POST.getlist(f"step_{f}")) else ""  # noqa: E731,B023
            depends = get("depends_on").strip()
            days = get("due_days").strip()
            steps.append(
                {
                    "name": name.strip(),
                    "due_days": int(days) if days.isdigit() else 1,
                    "due_from": get("due_from") or "previous",
                    "priority": get("priority") or "normal",
                    "assignee_role": get("assignee_role"),
                    "depends_on": int(depends) if depends.isdigit() else None,
                }
            )
        try:
            services.template_save(
                actor=self.user,
                template=template,
                name=request.POST.get("name", ""),
                description=request.POST.get("description", ""),
                is_active=request.POST.get("is_active") == "on",
                steps=steps,
            )
        except ValidationError as error:
            template.name = request.POST.get("name", "")
            return self.show(template, steps, _errors(error), status=400)
        messages.success(request, "Template saved. Workflows already started keep their steps.")
        return redirect("agenda:templates")


class ContactAgendaView(AgendaPage):
    """A contact's Agenda tab: workflows, tasks, notes, events, documents, emails and the user's
    notifications about the contact, each section a bounded read (a constant number of queries)."""

    SHOWN = 10

    def get(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        contact = self.contact_or_404(pk)
        q, sort = request.GET.get("q", ""), request.GET.get("sort", "newest")
        notifications = list(
            notification_selectors.notifications_for_contact(user=self.user, contact_id=contact.pk)[:10]
        )
        for notification in notifications:
            notification.category_label = notification_categories.label(notification.category)  # type: ignore[attr-defined]
        return render(
            request,
            "agenda/contact_agenda.html",
            {
                "contact": contact,
                "events_upcoming": calendar_selectors.contact_events(
                    user=self.user, contact=contact, upcoming_only=True, limit=10
                ),
                "events_past": calendar_selectors.contact_events_past(user=self.user, contact=contact, limit=5),
                "documents": list(document_selectors.document_list(user=self.user, contact=contact)[: self.SHOWN]),
                "emails": list(
                    emails.contact_emails(user=self.user, contact=contact).select_related("sent_by")[: self.SHOWN]
                ),
                "notifications": notifications,
                "shown": self.SHOWN,
                "workflows": list(
                    selectors.workflow_list(user=self.user, contact=contact).order_by("-started_at", "-id")[:50]
                ),
                "tasks": selectors._mark_overdue(
                    list(selectors.task_list(user=self.user, contact=contact, assignee=None)[:100])
                ),
                "notes": list(selectors.note_list(user=self.user, contact=contact, q=q, sort=sort)[:200]),
                "q": q,
                "sort": sort,
                "templates": selectors.template_list(active_only=True),
                "priorities": Priority.choices,
                "users": crm_selectors.toolbar(user=self.user)["assignees"],
                "today": selectors.today(),
            },
        )


class NoteCreateView(AgendaPage):
    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        contact = self.contact_or_404(pk)
        try:
            services.note_create(
                actor=self.user,
                contact=contact,
                body=request.POST.get("body", ""),
                pinned=request.POST.get("pinned") == "on",
            )
        except ValidationError as error:
            for message in _errors(error):
                messages.error(request, message)
        else:
            messages.success(request, "Note added.")
        return redirect(reverse("agenda:contact", args=[contact.pk]) + "#notes")


class NoteEditView(AgendaPage):
    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        note = self.get_or_404(selectors.note_get, pk)
        back = reverse("agenda:contact", args=[note.contact_id]) + "#notes"
        action = request.POST.get("action", "")
        try:
            if action == "delete":
                services.note_delete(actor=self.user, note=note)
                messages.success(request, "Note deleted.")
            elif action in {"pin", "unpin"}:
                services.note_update(actor=self.user, note=note, pinned=action == "pin")
            else:
                services.note_update(actor=self.user, note=note, body=request.POST.get("body", ""))
                messages.success(request, "Note saved.")
        except ValidationError as error:
            for message in _errors(error):
                messages.error(request, message)
        return redirect(back)
