"""Every read of contact imports, given the user."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from crm.contact_io.models import ContactImport


def import_list(*, user: Any) -> QuerySet[ContactImport]:
    """The user's own imports (a preview shows rows of contacts in the uploader's scope only)."""
    return (
        ContactImport.objects.select_related("created_by", "apply_job")
        .defer("data", "plan", "apply_job__issues")
        .filter(created_by=user)
    )


def import_get(*, user: Any, pk: Any) -> ContactImport:
    """One import (``ContactImport.DoesNotExist`` for a missing, another firm's or another user's)."""
    try:
        return import_list(user=user).get(pk=int(pk))
    except (TypeError, ValueError):
        raise ContactImport.DoesNotExist from None
