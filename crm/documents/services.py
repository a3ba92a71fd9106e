"""Every write of documents: upload (several files at once, all or none) and delete.

Files are checked whole before anything is stored: size (``settings.DOCUMENT_MAX_BYTES``), type
by content (``crm.documents.filetypes``), and the number per upload (``DOCUMENT_MAX_FILES``). The
bytes go to the "documents" storage under a random key; if the rows cannot be saved, the stored
files are removed again. A deleted document's file is removed from the storage once the delete has
committed (``crm.documents.signals``), so a rolled-back delete keeps it. Creates and deletes are
audited by the trail's signals; downloads and previews by ``document_read``.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.urls import reverse

from accounts import audit
from advisorportal.jobs.uploads import FileRefused, read_upload
from advisorportal.notifications.services import notify_after_commit
from advisorportal.tenancy.context import require_firm_id
from crm.documents.filetypes import classify, clean_name
from crm.documents.models import Document
from crm.models import Contact
from crm.notifications import DOCUMENT_UPLOADED


def documents_storage() -> Storage:
    return storages["documents"]


@dataclass(frozen=True)
class _Stored:
    name: str
    key: str
    size: int
    sha256: str
    kind: str
    content_type: str


def _check(file: UploadedFile | tuple[str, bytes]) -> tuple[str, bytes, str, str, str]:
    """(name, bytes, sha256, kind, content type) of an acceptable file, or ``FileRefused``."""
    raw_name, source = file if isinstance(file, tuple) else (file.name or "", file)
    name = clean_name(raw_name)
    try:
        upload = read_upload(source, limit=settings.DOCUMENT_MAX_BYTES)
    except FileRefused as error:
        raise FileRefused(f"“{name}”: {error}") from None
    filetype, name = classify(name, upload.data)
    return name, upload.data, upload.sha256, filetype.kind, filetype.content_type


def _store(storage: Storage, files: Sequence[UploadedFile | tuple[str, bytes]]) -> list[_Stored]:
    """Each file checked, and stored while none has been refused (one file in memory at a time);
    with any refused, what was stored is removed again and ``ValidationError`` on ``files`` lists
    every refused file, so the person sees every problem at once."""
    if not files:
        raise ValidationError({"files": "Choose at least one file."})
    limit = settings.DOCUMENT_MAX_FILES
    if len(files) > limit:
        raise ValidationError({"files": f"{len(files)} files chosen; upload at most {limit} at a time."})
    firm_id = require_firm_id()
    stored: list[_Stored] = []
    problems: list[str] = []
    try:
        for file in files:
            try:
                name, data, sha256, kind, content_type = _check(file)
            except FileRefused as error:
                problems.append(str(error))
                continue
            if not problems:
                key = storage.save(f"{firm_id}/{secrets.token_hex(16)}", ContentFile(data))
                stored.append(_Stored(name, key, len(data), sha256, kind, content_type))
        if problems:
            raise ValidationError({"files": problems})
    except BaseException:
        _remove(storage, [s.key for s in stored])
        raise
    return stored


def _remove(storage: Storage, keys: Sequence[str]) -> None:
    for key in keys:
        storage.delete(key)


def document_upload(
    *, actor: Any, contact: Contact, files: Sequence[UploadedFile | tuple[str, bytes]]
) -> list[Document]:
    """Keep ``files`` (uploaded files, or ``(name, bytes)``) on ``contact``: all of them, or none
    when any is refused (``ValidationError`` on ``files``, one message per refused file)."""
    storage = documents_storage()
    stored = _store(storage, files)
    try:
        with transaction.atomic():
            documents = []
            for item in stored:
                document = Document(
                    contact=contact,
                    name=item.name,
                    kind=item.kind,
                    content_type=item.content_type,
                    size=item.size,
                    sha256=item.sha256,
                    storage_key=item.key,
                    uploaded_by=actor if getattr(actor, "is_authenticated", False) else None,
                )
                document.full_clean()
                document.save()
                documents.append(document)
    except BaseException:
        _remove(storage, [s.key for s in stored])
        raise
    _tell_the_advisor(actor=actor, contact=contact, documents=documents)
    return documents


def _tell_the_advisor(*, actor: Any, contact: Contact, documents: list[Document]) -> None:
    """The contact's advisor hears of documents someone else uploaded (if the contact is in their scope)."""
    if not documents or contact.advisor_id is None or contact.advisor_id == getattr(actor, "pk", None):
        return
    first = documents[0].name
    what = first if len(documents) == 1 else f"{first} and {len(documents) - 1} more"
    notify_after_commit(
        recipient_id=contact.advisor_id, category=DOCUMENT_UPLOADED, contact_id=contact.pk,
        url=reverse("documents:contact-documents", args=[contact.pk]),
        title=f"Document{'s' if len(documents) > 1 else ''} uploaded for {contact.display_name}: {what}",
    )  # fmt: skip


@transaction.atomic
def document_delete(*, actor: Any, document: Document) -> None:
    """Delete the document (audited with its name, size and hash); its stored file goes after commit."""
    document.delete()


def document_read(*, document: Document, inline: bool) -> None:
    """Record a preview or download in the audit trail, before the bytes are sent."""
    audit.record_read(
        what="document preview" if inline else "document download",
        obj=document,
        details={"name": document.name, "contact_id": document.contact_id, "sha256": document.sha256},
    )
