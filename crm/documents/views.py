"""Document pages: a contact's documents (upload several at once, with drag and drop where
JavaScript runs), a document's page (image preview, PDF preview in the browser's viewer), its file
(preview, inline) and download, delete with confirmation, and the firm-wide list. Every page needs
the CRM right and sees only contacts in the user's scope."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render

from accounts.access import AuthenticatedRequest, firm_view
from accounts.rights import Right
from advisorportal.jobs.uploads import size_label
from crm import selectors as crm_selectors
from crm.documents import selectors, services
from crm.documents.filetypes import ACCEPT, ALLOWED_SUMMARY
from crm.documents.models import Document
from crm.documents.responses import file_response
from crm.models import Contact


def _contact_or_404(request: HttpRequest, pk: Any) -> Contact:
    try:
        return crm_selectors.contact_get(user=request.user, pk=pk)
    except Contact.DoesNotExist:
        raise Http404("No such contact.") from None


def _document_or_404(request: HttpRequest, pk: Any, doc: Any) -> Document:
    try:
        return selectors.document_get(user=request.user, pk=doc, contact_id=pk)
    except Document.DoesNotExist:
        raise Http404("No such document.") from None


def _upload_context() -> dict[str, Any]:
    from django.conf import settings

    return {
        "accept": ACCEPT,
        "allowed": ALLOWED_SUMMARY,
        "max_size": size_label(settings.DOCUMENT_MAX_BYTES),
        "max_files": settings.DOCUMENT_MAX_FILES,
    }


@firm_view(Right.CRM)
def contact_documents(request: AuthenticatedRequest, pk: int) -> HttpResponseBase:
    contact = _contact_or_404(request, pk)
    errors: list[str] = []
    if request.method == "POST":
        try:
            created = services.document_upload(
                actor=request.user, contact=contact, files=request.FILES.getlist("files")
            )
        except ValidationError as error:
            errors = [m for ms in error.message_dict.values() for m in ms]
        else:
            names = ", ".join(d.name for d in created)
            messages.success(request, f"Uploaded {len(created)} document{'s' if len(created) != 1 else ''}: {names}.")
            return redirect("documents:contact-documents", pk=contact.pk)
    page = selectors.document_page(user=request.user, contact=contact, after=request.GET.get("after", ""), size=100)
    context = {"contact": contact, "page": page, "errors": errors, **_upload_context()}
    return render(request, "documents/contact_documents.html", context, status=400 if errors else 200)


@firm_view(Right.CRM)
def document_detail(request: AuthenticatedRequest, pk: int, doc: int) -> HttpResponse:
    document = _document_or_404(request, pk, doc)
    return render(request, "documents/document_detail.html", {"contact": document.contact, "document": document})


@firm_view(Right.CRM)
def document_file(request: AuthenticatedRequest, pk: int, doc: int) -> HttpResponseBase:
    """The file for the browser to show (PDFs, images, text); any other kind is a download."""
    return file_response(_document_or_404(request, pk, doc), inline=True)


@firm_view(Right.CRM)
def document_download(request: AuthenticatedRequest, pk: int, doc: int) -> HttpResponseBase:
    return file_response(_document_or_404(request, pk, doc), inline=False)


@firm_view(Right.CRM)
def document_delete(request: AuthenticatedRequest, pk: int, doc: int) -> HttpResponseBase:
    """GET asks for confirmation; POST deletes."""
    document = _document_or_404(request, pk, doc)
    if request.method == "POST":
        name = document.name
        services.document_delete(actor=request.user, document=document)
        messages.success(request, f"Deleted {name}.")
        return redirect("documents:contact-documents", pk=pk)
    return render(request, "documents/document_delete.html", {"contact": document.contact, "document": document})


@firm_view(Right.CRM)
def firm_documents(request: AuthenticatedRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    page = selectors.document_page(user=request.user, q=q, after=request.GET.get("after", ""), size=50)
    return render(request, "documents/firm_documents.html", {"page": page, "q": q})
