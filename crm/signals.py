"""Cached contact figures go stale on any saved or deleted contact, once the write commits."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.models import User
from crm.models import Contact, Group, SavedView, TablePreference
from crm.selectors import contacts_changed, toolbars_changed


@receiver([post_save, post_delete], sender=Contact, dispatch_uid="crm-contacts-changed")
def _contact_written(sender: type[Contact], instance: Contact, **kwargs: Any) -> None:
    firm_id = instance.firm_id
    transaction.on_commit(lambda: contacts_changed(firm_id=firm_id))


@receiver([post_save, post_delete], sender=SavedView, dispatch_uid="crm-toolbar-views")
@receiver([post_save, post_delete], sender=TablePreference, dispatch_uid="crm-toolbar-columns")
@receiver([post_save, post_delete], sender=Group, dispatch_uid="crm-toolbar-groups")
def _toolbar_written(sender: type[Any], instance: Any, **kwargs: Any) -> None:
    firm_id = instance.firm_id
    transaction.on_commit(lambda: toolbars_changed(firm_id=firm_id))


@receiver([post_save, post_delete], sender=User, dispatch_uid="crm-toolbar-users")
def _user_written(sender: type[User], instance: User, update_fields: Any = None, **kwargs: Any) -> None:
    """The firm's people (advisor filter, task assignees) changed; a sign-in's last_login does not count."""
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    firm_id = instance.firm_id
    if firm_id is not None:
        transaction.on_commit(lambda: toolbars_changed(firm_id=firm_id))
