"""Every read of documents, given the user: a document is visible exactly when its contact is in
the user's CRM scope (``crm.scope.scope_contacts``), so another firm's document and one outside the
scope are missing alike.

``recent_documents`` is the one read the dashboard and the contact's agenda tab use."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from accounts.rights import Right
from advisorportal.tenancy.pagination import KeysetPage, keyset_page
from crm.documents.models import Document
from crm.models import Contact, contact_label_defer
from crm.scope import scope_contacts

ORDER = ("-created_at", "-id")


def _visible(user: Any) -> QuerySet[Document]:
    return scope_contacts(
        Document.objects.select_related("contact", "uploaded_by"), user=user, right=Right.CRM, contact_field="contact"
    )


def document_list(*, user: Any, contact: Contact | None = None, q: str = "") -> QuerySet[Document]:
    """The user's documents, newest first: of one contact, or of every contact in scope; ``q`` finds
    names containing it (case-insensitive)."""
    documents = _visible(user)
    if contact is not None:
        documents = documents.filter(contact=contact)
    q = q.replace("\x00", "").strip()  # a NUL is in no name (and PostgreSQL refuses it in text)
    if q:
        documents = documents.filter(name__icontains=q)
    return documents.order_by(*ORDER)


def document_page(
    *, user: Any, contact: Contact | None = None, q: str = "", after: str = "", size: int = 50
) -> KeysetPage[Document]:
    return keyset_page(document_list(user=user, contact=contact, q=q), keys=ORDER, after=after, size=size)


def document_get(*, user: Any, pk: Any, contact_id: Any = None) -> Document:
    """One document the user may see (``Document.DoesNotExist`` for a missing, another firm's or an
    out-of-scope one alike); with ``contact_id``, only if it is that contact's."""
    try:
        documents = _visible(user).filter(pk=int(pk))
        if contact_id is not None:
            documents = documents.filter(contact_id=int(contact_id))
    except (TypeError, ValueError):
        raise Document.DoesNotExist from None
    return documents.get()


def recent_documents(*, user: Any, days: int = 10, limit: int = 10, contact: Contact | None = None) -> list[Document]:
    """The newest documents uploaded in the last ``days`` days on contacts in the user's scope (at
    most ``limit``, newest first; contact and uploader loaded): for the dashboard's Documents panel
    and a contact's agenda tab. One query."""
    since = timezone.now() - datetime.timedelta(days=days)
    documents = _visible(user).filter(created_at__gte=since).defer(*contact_label_defer())
    if contact is not None:
        documents = documents.filter(contact=contact)
    return list(documents.order_by(*ORDER)[:limit])
