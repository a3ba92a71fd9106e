from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.generic import TemplateView

from accounts import audit
from accounts.access import FirmScopedView
from accounts.rights import Right
from crm import selectors as crm_selectors
from crm.client_pdf import pdf_filename, render_client_pdf
from crm.merge import selectors, services
from crm.merge.display import display_value, field_label
from crm.merge.models import ContactMerge
from crm.models import Contact
from portfolios import selectors as portfolio_selectors

PAGE_SIZE = 25


def _errors(error: ValidationError) -> list[str]:
    if hasattr(error, "error_dict"):
        return [f"{field_label_or(name)}: {m}" for name, msgs in error.message_dict.items() for m in msgs]
    return list(error.messages)


def field_label_or(name: str) -> str:
    if name in services.CHOOSABLE_FIELDS:
        return field_label(name)
    return {"ids": "Contacts", "survivor": "Survivor", "merge": "Merge"}.get(name, name)


class DuplicatesView(FirmScopedView, TemplateView):
    """Possible duplicates: contacts sharing an email or tax id, or a birth date and a similar name."""

    required_right = Right.CRM
    template_name = "contact_merge/duplicates.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        page = selectors.duplicate_page(user=self.user, after=self.request.GET.get("after", ""),
                                        size=PAGE_SIZE)  # fmt: skip
        context.update(page=page, recent=list(selectors.merge_list(user=self.user)[:10]))
        return context


@dataclass(frozen=True)
class CompareRow:
    name: str
    label: str
    values: list[tuple[int, str]]  # (contact id, text)
    chosen: int


class CompareView(FirmScopedView, TemplateView):
    """Two or three contacts side by side: pick the survivor and each differing field's value."""

    required_right = Right.CRM
    template_name = "contact_merge/compare.html"

    def _contacts(self, raw_ids: list[str]) -> list[Contact]:
        try:
            return selectors.merge_candidates(user=self.user, ids=selectors.parse_ids(raw_ids))
        except Contact.DoesNotExist:
            raise Http404 from None

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            contacts = self._contacts(request.GET.getlist("ids"))
        except ValidationError as error:
            return self._refused(request, error)
        survivor_id = request.GET.get("survivor", "")
        survivor = next((c for c in contacts if str(c.pk) == survivor_id), contacts[0])
        return self.render_to_response(self._context(contacts, survivor, services.default_choices(contacts, survivor)))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            contacts = self._contacts(request.POST.getlist("ids"))
            choices = {k.removeprefix("choice_"): v for k, v in request.POST.items() if k.startswith("choice_")}
            merge = services.contacts_merge(actor=request.user, contacts=contacts,
                                            survivor_id=request.POST.get("survivor"), choices=choices)  # fmt: skip
        except ValidationError as error:
            return self._refused(request, error)
        except Contact.DoesNotExist:
            raise Http404 from None
        messages.success(request, f"Merged {', '.join(merge.merged_names)} into {merge.survivor_name}.")
        return HttpResponseRedirect(reverse("contact_merge:detail", args=[merge.pk]))

    def _refused(self, request: HttpRequest, error: ValidationError) -> HttpResponse:
        context = {"errors": _errors(error), "view": self}
        return render(request, "contact_merge/compare_error.html", context, status=400)

    def _context(self, contacts: list[Contact], survivor: Contact, chosen: dict[str, int]) -> dict[str, Any]:
        rows = [
            CompareRow(name, field_label(name), [(c.pk, display_value(c, name)) for c in contacts], chosen[name])
            for name in services.differing_fields(contacts)
        ]
        same = [
            (field_label(name), display_value(contacts[0], name))
            for name in ("first_name", "last_name", "email", "date_of_birth", "tax_id")
            if name not in chosen and display_value(contacts[0], name) != "—"
        ]
        return {
            "contacts": contacts,
            "survivor": survivor,
            "rows": rows,
            "same": same,
            "ids": ",".join(str(c.pk) for c in contacts),
            "accounts": [portfolio_selectors.contact_accounts(user=self.user, contact=c) for c in contacts],
        }


class MergeDetailView(FirmScopedView, TemplateView):
    required_right = Right.CRM
    template_name = "contact_merge/merge_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(_detail_context(_merge_or_404(self.request, kwargs["pk"])))
        return context


def _detail_context(merge: ContactMerge) -> dict[str, Any]:
    return {
        "merge": merge,
        "moved": _relation_counts(merge),
        "changed": [field_label(name) for name in merge.snapshot.get("survivor_after", {})],
        "kept": [field_label(name) for name in merge.kept_fields],
    }


def _merge_or_404(request: HttpRequest, pk: Any) -> ContactMerge:
    try:
        return selectors.merge_get(user=request.user, pk=pk)
    except ContactMerge.DoesNotExist:
        raise Http404 from None


def _relation_name(label: str) -> str:
    """``crm.household.head`` → "Households headed"; ``portfolios.accountowner.contact`` → "Account owners"."""
    app_model, _, field_name = label.rpartition(".")
    try:
        model = apps.get_model(app_model)
    except (LookupError, ValueError):
        return label
    name = str(model._meta.verbose_name_plural)
    if field_name == "head":
        name += " headed"
    return name[:1].upper() + name[1:]


def _relation_counts(merge: ContactMerge) -> list[tuple[str, int, int]]:
    """(kind of record, moved, dropped as already linked to the survivor)."""
    counts: dict[str, list[int]] = {}
    for move in merge.snapshot.get("relations", []):
        entry = counts.setdefault(_relation_name(move["relation"]), [0, 0])
        entry[0 if move["action"] == "moved" else 1] += 1
    return [(label, moved, dropped) for label, (moved, dropped) in sorted(counts.items())]


class MergeUndoView(FirmScopedView):
    required_right = Right.CRM

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        merge = _merge_or_404(request, pk)
        try:
            result = services.merge_undo(actor=request.user, merge=merge)
        except ValidationError as error:
            context = {**_detail_context(merge), "errors": _errors(error)}
            return render(request, "contact_merge/merge_detail.html", context, status=400)
        messages.success(request, f"Merge undone: {', '.join(merge.merged_names)} restored.")
        if result.kept_fields:
            kept = ", ".join(field_label(name) for name in result.kept_fields)
            messages.warning(request, f"Changed on {merge.survivor_name} since the merge, so kept as they are: {kept}.")
        if result.missing_rows:
            messages.warning(request, "Could not be restored: " + "; ".join(result.missing_rows))
        return HttpResponseRedirect(reverse("contact_merge:detail", args=[merge.pk]))


class ClientPdfView(FirmScopedView):
    """The client information PDF. The tax id is masked; ``?tax_id=full`` shows it whole after a
    fresh two-factor confirmation, and the audit entry says so."""

    required_right = Right.CRM

    def needs_step_up(self, request: HttpRequest) -> bool:
        return request.GET.get("tax_id") == "full"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        try:
            contact = crm_selectors.contact_get(user=request.user, pk=pk)
        except Contact.DoesNotExist:
            raise Http404 from None
        full = self.needs_step_up(request)
        return client_pdf_response(request, contact, full_tax_id=full)


def client_pdf_response(request: Any, contact: Contact, *, full_tax_id: bool) -> HttpResponse:
    pdf = render_client_pdf(user=request.user, contact=contact, full_tax_id=full_tax_id)
    what = "client information PDF" + (" with the full tax id" if full_tax_id else "")
    audit.record_read(what=what, obj=contact, details={"full_tax_id": full_tax_id})
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{pdf_filename(contact)}"'
    response["Cache-Control"] = "no-store"
    return response
