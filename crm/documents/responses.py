"""The one way a stored document is sent, for the pages and the API alike.

A preview (``inline``) is offered only for PDFs, images and text; any other document is always an
attachment. The Content-Type is what the content was found to be at upload, never the browser's
claim, with ``nosniff`` so no browser guesses otherwise; nothing that can run as a page (HTML, SVG)
is ever accepted. Images and text are served under ``sandbox`` and ``default-src 'none'``: even a
file a browser misread could run nothing and reach nothing. PDFs are not sandboxed, since Chrome
and Safari refuse to render a PDF in a sandboxed document; they get ``default-src 'none'`` with only
what the built-in viewers need. Every response is audited before the bytes go out and is not
stored by caches (``advisorportal.no_store``)."""

from __future__ import annotations

from django.http import FileResponse

from crm.documents import services
from crm.documents.models import Document, DocumentKind

SANDBOXED = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
PDF_VIEWER = (
    "default-src 'none'; object-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)
ATTACHMENT = "default-src 'none'; sandbox"


def file_response(document: Document, *, inline: bool) -> FileResponse:
    inline = inline and document.previewable
    services.document_read(document=document, inline=inline)
    content_type = document.content_type
    if document.kind in (DocumentKind.TEXT, DocumentKind.CSV):
        content_type += "; charset=utf-8"
    response = FileResponse(
        services.documents_storage().open(document.storage_key, "rb"),
        as_attachment=not inline,
        filename=document.name,
        content_type=content_type,
    )
    if document.size:
        response["Content-Length"] = str(document.size)
    response["X-Content-Type-Options"] = "nosniff"
    if not inline:
        response["Content-Security-Policy"] = ATTACHMENT
    elif document.kind == DocumentKind.PDF:
        response["Content-Security-Policy"] = PDF_VIEWER
    else:
        response["Content-Security-Policy"] = SANDBOXED
    response["Cache-Control"] = "private, no-store"
    return response
