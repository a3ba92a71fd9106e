"""A deleted document's stored file is removed once the delete has committed (whichever path
deleted the row: the service, or a cascade), so a rolled-back delete keeps the file."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from crm.documents.models import Document

logger = logging.getLogger(__name__)


@receiver(post_delete, sender=Document, dispatch_uid="documents-remove-stored-file")
def _remove_stored_file(sender: type[Document], instance: Document, **kwargs: Any) -> None:
    key = instance.storage_key

    def remove() -> None:
        from crm.documents.services import documents_storage

        try:
            documents_storage().delete(key)
        except OSError:
            logger.exception("Could not remove the stored file %s of a deleted document", key)

    transaction.on_commit(remove)
