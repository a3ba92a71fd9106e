"""What the floor's notifications need to know about contacts (``notifications.contacts``): which a
user may see (the CRM scope) and their names; and the labels of the categories the CRM emits.
Registered at start-up by ``CrmConfig.ready``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Q

from accounts.policy import grant_scope
from accounts.rights import Right
from advisorportal.notifications import categories, contacts
from crm.models import Contact
from crm.scope import scope_contacts

DOCUMENT_UPLOADED = "documents.uploaded"
TASK_DUE = "agenda.task_due"
IMPORT_FINISHED = "imports.finished"


# A notification about a contact reaches a user whose CRM or Account Information grant covers it
# (the seed: the dashboard's Notifications need Account Information, the agenda needs CRM).
RIGHTS = (Right.CRM, Right.ACCOUNT_INFORMATION)


def _scoped(contacts_qs: Any, user: Any) -> Any:
    """``contacts_qs`` narrowed to what any of ``RIGHTS`` lets the user see."""
    grants = [(right, *grant_scope(user, right)) for right in RIGHTS]
    if any(allowed and grant_id is None for _, allowed, grant_id in grants):
        return contacts_qs
    held = [right for right, allowed, _ in grants if allowed]
    if not held:
        return contacts_qs.none()
    q = Q()
    for right in held:
        q |= Q(pk__in=scope_contacts(Contact.objects.all(), user=user, right=right).values("pk"))
    return contacts_qs.filter(q)


def _in_scope(user: Any, contact_id: int) -> bool:
    return _scoped(Contact.objects.filter(pk=contact_id), user).exists()


def _names(user: Any, ids: Iterable[int]) -> dict[int, str]:
    rows = _scoped(Contact.objects.filter(pk__in=list(ids)), user)
    return {c.pk: c.display_name for c in rows.only("pk", "kind", "first_name", "middle_name", "last_name", "suffix")}


def _visible_ids(user: Any) -> Any:
    if any(allowed and grant_id is None for allowed, grant_id in (grant_scope(user, r) for r in RIGHTS)):
        return None  # every contact of the firm: no filter
    return _scoped(Contact.objects.all(), user).values("pk")


def register() -> None:
    contacts.register(contacts.ContactDirectory(in_scope=_in_scope, names=_names, visible_ids=_visible_ids))
    categories.register(DOCUMENT_UPLOADED, "Document uploaded")
    categories.register(TASK_DUE, "Task due")
    categories.register(IMPORT_FINISHED, "Import finished")
