"""CRM pages: the contacts table (search as you type, filters, saved views, columns, statistics,
sort, bulk actions), the contact record, groups and households. Reads go through ``selectors``,
writes through ``services``; every page needs the CRM right and sees only the user's scope."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, ValidationError
from django.db import models, transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, QueryDict
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST
from django.views.generic import TemplateView

from accounts import audit
from accounts.access import AuthenticatedRequest, FirmScopedView, firm_view
from accounts.rights import Right
from accounts.selectors import firm_users
from advisorportal.cached_forms import rendered_once
from crm import filter_panel, selectors, services
from crm.cells import COLUMNS, fields_for, render_rows
from crm.crypto import format_tax_id, open_tax_id
from crm.forms import ActivityForm, BulkForm, ContactForm, GroupForm, HouseholdForm
from crm.models import Contact, ContactStatus, Group, Household, SavedView
from portfolios import selectors as portfolio_selectors

PAGE_SIZES = (25, 50, 100, 200)
# Query parameters that are not filters.
NOT_FILTERS = {"q", "sort", "after", "size", "view"}


def _filters(query: QueryDict) -> QueryDict:
    """The filter part of a query string (empty values dropped)."""
    filters = QueryDict(mutable=True)
    for key in query:
        if key not in NOT_FILTERS:
            values = [v for v in query.getlist(key) if v.strip()]
            if values:
                filters.setlist(key, values)
    return filters


def _contact_or_404(request: HttpRequest, pk: Any) -> Contact:
    try:
        return selectors.contact_get(user=request.user, pk=pk)
    except Contact.DoesNotExist:
        raise Http404("No such contact.") from None


def _put_errors(form: Any, error: ValidationError) -> None:
    for field, errors in error.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


class ContactListView(FirmScopedView, TemplateView):
    """The contacts table. An htmx request (the search box, a filter, a page) gets only the results."""

    required_right = Right.CRM
    template_name = "crm/contact_list.html"

    def results_only(self) -> bool:
        return bool(self.request.headers.get("HX-Request")) and self.request.headers.get("HX-Target") == "results"

    def get_template_names(self) -> list[str]:
        return ["crm/_contact_results.html"] if self.results_only() else [self.template_name]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        request, user = self.request, self.user
        query = request.GET
        view = None
        if query.get("view"):
            try:
                view = selectors.saved_view_get(user=user, pk=int(query["view"]))
                query = QueryDict(view.query)
            except (SavedView.DoesNotExist, ValueError):
                messages.error(request, "That saved view does not exist (any more).")
        q = query.get("q", "").strip()[:100]
        sort = query.get("sort", "name")
        sort = sort if sort in selectors.SORTS else "name"
        try:
            size = int(query.get("size", 50))
        except ValueError:
            size = 50
        size = size if size in PAGE_SIZES else 50
        filters = _filters(query)
        page, filter_errors = None, {}
        bar = selectors.toolbar(user=user)
        try:
            page = selectors.contact_page(
                user=user, q=q, filters=filters, sort=sort, after=query.get("after", ""), size=size, request=request,
                fields=fields_for(bar["columns"]),
            )  # fmt: skip
        except ValidationError as error:
            filter_errors = error.message_dict
        if page is not None:
            render_rows(page.rows, bar["columns"])
        counts = selectors.contact_status_counts(user=user)
        base: dict[str, Any] = {"q": q, "sort": sort if sort != "name" else "", "size": size if size != 50 else ""}
        base = {k: v for k, v in {**base, **{k: filters.getlist(k) for k in filters}}.items() if v not in ("", [])}
        chips, clear_query = filter_panel.active_filters(base, names=self._value_names(bar, filters))
        context.update(
            q=q, sort=sort, size=size, sizes=PAGE_SIZES, page=page, view=view,
            filter_errors=[(filter_panel.label(k), v) for k, v in filter_errors.items()],
            filter_grid=None if self.results_only() else _filter_grid(filters.urlencode()),
            active=[(k, filters.getlist(k)) for k in filters], active_status=filters.get("status"),
            chips=chips, clear_query=clear_query, active_group=filters.get("group", ""),
            active_household=filters.get("household", ""),
            statuses=ContactStatus.choices, counts=counts, counts_total=sum(n for _, _, n in counts),
            results_only=self.results_only(),
            columns=[COLUMNS[k] for k in bar["columns"]], saved_views=bar["saved_views"],
            query_string=urlencode(base, doseq=True),
            query_without_sort=urlencode({k: v for k, v in base.items() if k != "sort"}, doseq=True),
            query_without_status=urlencode({k: v for k, v in base.items() if k != "status"}, doseq=True),
            groups=bar["groups"], bulk_form=BulkForm(),
            bulk_fields=[(f, _field_label(f)) for f in services.BULK_FIELDS],
            advisors=bar.get("advisors", []), active_advisor=filters.get("advisor", ""),
            all_columns=list(COLUMNS.values()),
        )  # fmt: skip
        return context

    def _value_names(self, bar: dict[str, Any], filters: QueryDict) -> dict[str, dict[str, str]]:
        """What the active filters' chips call an advisor, a group or a household by (not its id)."""
        names = {
            "advisor": {str(a["pk"]): a["name"] for a in bar.get("advisors", [])},
            "group": {str(g["pk"]): g["name"] for g in bar["groups"]},
        }
        household = filters.get("household", "")
        if household.isdigit():
            name = selectors.household_name(user=self.user, pk=int(household))
            names["household"] = {household: name} if name else {}
        return names


def _field_label(name: str) -> str:
    field: Any = Contact._meta.get_field(name)
    label = str(field.verbose_name)
    return label[:1].upper() + label[1:]


@rendered_once("crm/_filter_grid.html", maxsize=512)
def _filter_grid(query: str) -> forms.Form:
    """The filter panel for these filter values: the same for every user (its choices are fixed),
    and its 45 widgets took longer to render than the rest of the page, so kept per process."""
    # Advisor, group and household are left out: their choices are the firm's, drawn by the page.
    return filter_panel.panel_form(QueryDict(query))


@require_POST
@firm_view(Right.CRM)
def contact_bulk(request: AuthenticatedRequest) -> HttpResponseBase:
    """One action on the selected contacts (only those in the user's scope are touched)."""
    back = request.POST.get("next") or reverse("crm:contact-list")
    back = back if back.startswith("/contacts/") else reverse("crm:contact-list")
    contacts = selectors.contacts_by_ids(user=request.user, ids=request.POST.getlist("ids"))
    form = BulkForm(request.POST)
    if not contacts:
        messages.error(request, "Select at least one contact.")
        return redirect(back)
    if not form.is_valid():
        messages.error(request, "Choose an action.")
        return redirect(back)
    data = form.cleaned_data
    try:
        with transaction.atomic():
            done = services.contacts_bulk_action(actor=request.user, contacts=contacts, **data)
    except ValidationError as error:
        problems = "; ".join(f"{k.replace('_', ' ')}: {' '.join(v)}" for k, v in error.message_dict.items())
        messages.error(request, f"Nothing was changed. {problems}")
        return redirect(back)
    messages.success(request, done)
    return redirect(back)


@require_POST
@firm_view(Right.CRM)
def saved_view_save(request: AuthenticatedRequest) -> HttpResponseBase:
    name = request.POST.get("name", "").strip()
    query = request.POST.get("query", "")
    try:
        view = services.saved_view_save(
            actor=request.user, name=name, query=query, is_shared=request.POST.get("shared") == "on"
        )
    except ValidationError as error:
        messages.error(request, "The view was not saved: " + _field_messages(SavedView, error))
        return redirect(f"{reverse('crm:contact-list')}?{query}")
    messages.success(request, f"Saved the view “{view.name}”.")
    return redirect(f"{reverse('crm:contact-list')}?view={view.pk}")


def _field_messages(model: type[models.Model], error: ValidationError) -> str:
    """ "View name: This field cannot be blank." — each message led by the label of its field."""
    parts = []
    for field, errors in error.message_dict.items():
        try:
            label = str(getattr(model._meta.get_field(field), "verbose_name", ""))
        except FieldDoesNotExist:
            label = ""
        text = " ".join(errors)
        parts.append(f"{label[:1].upper()}{label[1:]}: {text}" if label and field != NON_FIELD_ERRORS else text)
    return "; ".join(parts)


@require_POST
@firm_view(Right.CRM)
def saved_view_delete(request: AuthenticatedRequest, pk: int) -> HttpResponseBase:
    try:
        view = selectors.saved_view_get(user=request.user, pk=pk)
        services.saved_view_delete(actor=request.user, view=view)
    except SavedView.DoesNotExist:
        raise Http404("No such view.") from None
    messages.success(request, f"Deleted the view “{view.name}”.")
    return redirect("crm:contact-list")


@firm_view(Right.CRM)
def table_columns(request: AuthenticatedRequest) -> HttpResponseBase:
    """Choose and order the contacts table's columns (remembered per user)."""
    chosen = [c.key for c in selectors.table_columns(user=request.user)]
    error = ""
    if request.method == "POST":
        picked = request.POST.getlist("columns")

        def position(key: str) -> tuple[int, int]:
            raw = request.POST.get(f"order_{key}", "")
            return (int(raw) if raw.isdigit() else 99, list(COLUMNS).index(key))

        try:
            services.table_columns_set(actor=request.user, columns=sorted(picked, key=position), allowed=COLUMNS)
        except ValidationError as problem:
            error = " ".join(problem.messages)
        else:
            messages.success(request, "Columns saved.")
            return redirect("crm:contact-list")
    rows = [(c, c.key in chosen, chosen.index(c.key) + 1 if c.key in chosen else "") for c in COLUMNS.values()]
    rows.sort(key=lambda r: (r[2] == "", r[2] or 0))
    return render(request, "crm/columns.html", {"rows": rows, "error": error})


def _merge_offer(duplicates: list[Contact], contact: Contact) -> str:
    """The merge comparison of the new contact with those holding its email (its record when the
    merge feature is not installed)."""
    try:
        compare = reverse("contact_merge:compare")
    except NoReverseMatch:
        return reverse("crm:contact-detail", args=[contact.pk])
    return f"{compare}?ids={','.join(str(c.pk) for c in [*duplicates, contact])}"


class ContactFormView(FirmScopedView, TemplateView):
    required_right = Right.CRM
    template_name = "crm/contact_form.html"

    def get_contact(self) -> Contact | None:
        return _contact_or_404(self.request, self.kwargs["pk"]) if "pk" in self.kwargs else None

    def form(self, data: Any = None) -> ContactForm:
        advisors = firm_users(firm_id=self.user.firm_id).filter(is_active=True)
        return ContactForm(data, instance=self.get_contact() or Contact(), advisors=advisors)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=self.form(), contact=self.get_contact()))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        contact = self.get_contact()
        form = self.form(request.POST)
        if form.is_valid():
            values = form.changed_values()
            tax_id = form.cleaned_data.get("tax_id") or None
            duplicates = (
                selectors.contacts_with_email(user=self.user, email=values.get("email") or "")
                if contact is None
                else []
            )
            if duplicates and not request.POST.get("add_anyway"):
                # Nothing is saved yet: say who already has this email, link there, let the person decide.
                context = self.get_context_data(form=form, contact=None, duplicates=duplicates)
                return self.render_to_response(context)
            try:
                if contact is None:
                    contact = services.contact_create(actor=request.user, tax_id=tax_id, **values)
                    messages.success(request, f"Added {contact}.")
                    if duplicates:
                        return redirect(_merge_offer(duplicates, contact))
                else:
                    contact = services.contact_update(actor=request.user, contact=contact, tax_id=tax_id, **values)
                    messages.success(request, f"Saved {contact}.")
                return redirect("crm:contact-detail", pk=contact.pk)
            except ValidationError as error:
                _put_errors(form, error)
        return self.render_to_response(self.get_context_data(form=form, contact=contact), status=400)


class ContactDetailView(FirmScopedView, TemplateView):
    required_right = Right.CRM
    template_name = "crm/contact_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.user
        contact = _contact_or_404(self.request, kwargs["pk"])
        accounts = portfolio_selectors.contact_accounts(user=user, contact=contact)
        navs = [a.nav for a in accounts if getattr(a, "nav", None) is not None]
        groups = selectors.contact_group_choices(user=user, contact=contact)
        context.update(
            contact=contact,
            households=selectors.contact_households(contact=contact),
            groups=[g for g in groups if g.is_member],  # type: ignore[attr-defined]
            addable_groups=[g for g in groups if not g.is_member],  # type: ignore[attr-defined]
            accounts=accounts,
            total_nav=sum(navs) if navs else None,
            timeline=selectors.timeline(contact=contact),
            activity_form=kwargs.get("activity_form") or ActivityForm(),
            revealed_tax_id=kwargs.get("revealed_tax_id"),
        )
        return context


def _detail(request: HttpRequest, pk: int, status: int = 200, **extra: Any) -> HttpResponse:
    """The contact record rendered in answer to a POST (a refused note, a revealed tax id)."""
    view = ContactDetailView()
    view.setup(request, pk=pk)
    return render(request, view.template_name, view.get_context_data(pk=pk, **extra), status=status)


@require_POST
@firm_view(Right.CRM)
def contact_activity_add(request: AuthenticatedRequest, pk: int) -> HttpResponseBase:
    contact = _contact_or_404(request, pk)
    form = ActivityForm(request.POST)
    if form.is_valid():
        try:
            services.activity_add(actor=request.user, contact=contact, **form.cleaned_data)
            messages.success(request, "Added to the timeline.")
            return redirect("crm:contact-detail", pk=pk)
        except ValidationError as error:
            _put_errors(form, error)
    return _detail(request, pk, status=400, activity_form=form)


@require_POST
@firm_view(Right.CRM, step_up=True)
def contact_reveal_tax_id(request: AuthenticatedRequest, pk: int) -> HttpResponseBase:
    """Show the full tax id once (step-up 2FA; the read is audited)."""
    contact = _contact_or_404(request, pk)
    audit.record_read(what="tax id", obj=contact)
    revealed = format_tax_id(open_tax_id(contact.tax_id_encrypted), contact.tax_id_type) or "none on file"
    response = _detail(request, pk, revealed_tax_id=revealed)
    response["Cache-Control"] = "no-store"
    return response


@firm_view(Right.CRM)
def contact_picture(request: AuthenticatedRequest, pk: int) -> HttpResponseBase:
    contact = _contact_or_404(request, pk)
    if not contact.picture or contact.picture_type not in {"image/jpeg", "image/png", "image/gif", "image/webp"}:
        raise Http404("No picture.")
    response = HttpResponse(bytes(contact.picture), content_type=contact.picture_type)
    response["Cache-Control"] = "private, max-age=300"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response


@require_POST
@firm_view(Right.CRM)
def contact_groups_change(request: AuthenticatedRequest, pk: int) -> HttpResponseBase:
    contact = _contact_or_404(request, pk)
    try:
        group = selectors.group_get(user=request.user, pk=int(request.POST.get("group", "")))
    except (Group.DoesNotExist, ValueError):
        messages.error(request, "Choose a group.")
        return redirect("crm:contact-detail", pk=pk)
    if request.POST.get("remove"):
        services.group_remove_members(actor=request.user, group=group, contacts=[contact])
        messages.success(request, f"Removed from {group.name}.")
    else:
        services.group_add_members(actor=request.user, group=group, contacts=[contact])
        messages.success(request, f"Added to {group.name}.")
    return redirect("crm:contact-detail", pk=pk)


# --- Groups and households -----------------------------------------------------------------------


@firm_view(Right.CRM)
def group_list(request: AuthenticatedRequest) -> HttpResponseBase:
    form = GroupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            group = services.group_create(actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            _put_errors(form, error)
        else:
            messages.success(request, f"Created the group {group.name}.")
            return redirect("crm:group-detail", pk=group.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "crm/group_list.html", {"groups": selectors.group_list(user=request.user), "form": form}, status=status
    )


@firm_view(Right.CRM)
def group_detail(request: AuthenticatedRequest, pk: int) -> HttpResponseBase:
    try:
        group = selectors.group_get(user=request.user, pk=pk)
    except Group.DoesNotExist:
        raise Http404("No such group.") from None
    if request.method == "POST":
        if request.POST.get("delete"):
            services.group_delete(actor=request.user, group=group)
            messages.success(request, f"Deleted the group {group.name}.")
            return redirect("crm:group-list")
        contacts = selectors.contacts_by_ids(user=request.user, ids=request.POST.getlist("remove"))
        removed = services.group_remove_members(actor=request.user, group=group, contacts=contacts)
        messages.success(request, f"Removed {removed} from {group.name}.")
        return redirect("crm:group-detail", pk=pk)
    page = selectors.contact_page(
        user=request.user, filters=QueryDict(f"group={group.pk}"), after=request.GET.get("after", ""), request=request
    )
    return render(request, "crm/group_detail.html", {"group": group, "page": page})


PICKER_SIZE = 8


@firm_view(Right.CRM)
def contact_picker(request: AuthenticatedRequest) -> HttpResponseBase:
    """The choices of a contact picker (htmx): the user's contacts matching the typed fragment."""
    field = request.GET.get("field", "")
    if field not in ("contact", "head"):
        raise Http404("No such picker.")
    q = request.GET.get("picker_q", "").strip()[:100]
    contacts: list[Contact] = []
    more = False
    if len(q) >= 2:
        page = selectors.contact_page(user=request.user, q=q, size=PICKER_SIZE)
        contacts, more = list(page.rows), bool(page.next_cursor)
    context = {"field": field, "q": q if len(q) >= 2 else "", "contacts": contacts, "more": more}
    return render(request, "crm/_contact_picker_choices.html", context)


@firm_view(Right.CRM)
def household_list(request: AuthenticatedRequest) -> HttpResponseBase:
    form = HouseholdForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            head = selectors.contact_get(user=request.user, pk=request.POST.get("head", ""))
            household = services.household_create(actor=request.user, name=form.cleaned_data["name"], head=head)
        except Contact.DoesNotExist:
            form.add_error(None, "Choose the head of household among your contacts.")
        except ValidationError as error:
            _put_errors(form, error)
        else:
            messages.success(request, f"Created {household.name}.")
            return redirect("crm:household-detail", pk=household.pk)
    households = selectors.household_list(user=request.user)
    status = 400 if request.method == "POST" else 200
    return render(request, "crm/household_list.html", {"households": households[:500], "form": form}, status=status)


@firm_view(Right.CRM)
def household_detail(request: AuthenticatedRequest, pk: int) -> HttpResponseBase:
    try:
        household = selectors.household_get(user=request.user, pk=pk)
    except Household.DoesNotExist:
        raise Http404("No such household.") from None
    if request.method == "POST":
        try:
            contact = selectors.contact_get(user=request.user, pk=request.POST.get("contact", ""))
        except Contact.DoesNotExist:
            messages.error(request, "Choose one of your contacts.")
            return redirect("crm:household-detail", pk=pk)
        action = request.POST.get("action")
        try:
            if action == "remove":
                services.household_remove_member(actor=request.user, household=household, contact=contact)
            elif action == "head":
                services.household_set_head(actor=request.user, household=household, head=contact)
            else:
                services.household_add_members(actor=request.user, household=household, contacts=[contact])
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, "Household updated.")
        return redirect("crm:household-detail", pk=pk)
    members = selectors.household_members(user=request.user, household=household)
    portfolio_selectors.attach_accounts(members, user=request.user)
    return render(request, "crm/household_detail.html", {"household": household, "members": members})
