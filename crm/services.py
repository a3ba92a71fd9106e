"""Every write of CRM data: keyword-only, transactional, validated before it is saved.

Each write of a contact also rewrites its search keys (``crm.search``) and, where a person would
want to see it later, adds an entry to the contact's timeline.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from advisorportal import bulk
from crm import search
from crm.crypto import seal_tax_id, tax_id_digest, tax_id_error
from crm.models import (
    Activity,
    ActivityKind,
    Contact,
    ContactStatus,
    Group,
    GroupMember,
    Household,
    HouseholdMember,
    SavedView,
    TablePreference,
)

# Fields a person may set on a contact through forms, the API, imports and bulk edits.
EDITABLE_FIELDS = tuple(
    f.name
    for f in Contact._meta.get_fields()
    if getattr(f, "editable", False)
    and f.concrete
    and f.name not in {"id", "firm", "created_at", "updated_at", "email_key"}
)


def _user_or_none(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


def _apply_tax_id(contact: Contact, tax_id: str | None) -> None:
    """Seal a new tax id onto the contact (None: leave it; "": remove it)."""
    if tax_id is None:
        return
    if not tax_id.strip():
        contact.tax_id_encrypted, contact.tax_id_digest, contact.tax_id_last4 = None, "", ""
        return
    error = tax_id_error(tax_id, contact.tax_id_type)
    if error:
        raise ValidationError({"tax_id": error})
    sealed = seal_tax_id(tax_id)
    contact.tax_id_encrypted, contact.tax_id_digest, contact.tax_id_last4 = (
        sealed.ciphertext,
        sealed.digest,
        sealed.last4,
    )


def _unknown_fields(fields: dict[str, Any]) -> None:
    unknown = sorted(set(fields) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This field cannot be set."))


# The dates a status change sets (``status_dates``).
STATUS_DATE_FIELDS = ("closed_on", "client_since")


def status_dates(
    *, status: str, old_status: str | None, closed_on: Any, client_since: Any, today: datetime.date
) -> tuple[Any, Any]:
    """The rule for the dates of a status change, for every write path (services, imports,
    merges): ``closed_on`` set on closing and cleared on reopening, ``client_since`` set when a
    contact first becomes an active client. Returns ``(closed_on, client_since)``."""
    if status == old_status:
        return closed_on, client_since
    if status == ContactStatus.CLOSED:
        closed_on = today
    elif old_status == ContactStatus.CLOSED:
        closed_on = None
    if status == ContactStatus.ACTIVE and client_since in (None, ""):
        client_since = today
    return closed_on, client_since


def _status_side_effects(contact: Contact, old_status: str | None) -> None:
    contact.closed_on, contact.client_since = status_dates(
        status=contact.status, old_status=old_status, closed_on=contact.closed_on,
        client_since=contact.client_since, today=timezone.localdate(),
    )  # fmt: skip


def timeline_add(*, contact_id: int, actor: Any, kind: str, summary: str, body: str = "") -> Activity:
    """A timeline entry the system writes (status changes, merges, imports); people add theirs
    through ``activity_add``."""
    return Activity.objects.create(
        contact_id=contact_id,
        kind=kind,
        summary=summary[:300],
        body=body,
        actor=_user_or_none(actor),
        occurred_at=timezone.now(),
    )


@transaction.atomic
def contact_create(
    *, actor: Any, tax_id: str | None = None, picture: bytes | None = None, picture_type: str = "", **fields: Any
) -> Contact:
    _unknown_fields(fields)
    contact = Contact(**fields, created_by=_user_or_none(actor))
    _apply_tax_id(contact, tax_id)
    _status_side_effects(contact, None)
    if picture:
        contact.picture, contact.picture_type = picture, picture_type
    contact.full_clean()
    contact.save()
    search.rebuild_keys([contact])
    return contact


@transaction.atomic
def contact_update(*, actor: Any, contact: Contact, tax_id: str | None = None, **fields: Any) -> Contact:
    """Change some fields of a contact (locked for the write); a status change goes to the timeline."""
    _unknown_fields(fields)
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    old_status = contact.status
    for name, value in fields.items():
        setattr(contact, name, value)
    if "tax_id_type" in fields and tax_id is None and contact.tax_id_encrypted:
        raise ValidationError({"tax_id": "Enter the tax id again when you change its type."})
    _apply_tax_id(contact, tax_id)
    _status_side_effects(contact, old_status)
    contact.full_clean()
    contact.save()
    search.rebuild_keys([contact])
    if contact.status != old_status:
        summary = f"Status changed from {ContactStatus(old_status).label} to {contact.get_status_display()}"
        timeline_add(contact_id=contact.pk, actor=actor, kind=ActivityKind.STATUS, summary=summary)
    return contact


def contact_set_picture(*, actor: Any, contact: Contact, data: bytes, content_type: str) -> None:
    if content_type not in {"image/jpeg", "image/png", "image/gif", "image/webp"}:
        raise ValidationError({"picture": "A picture must be a JPEG, PNG, GIF or WebP image."})
    if len(data) > 1_000_000:
        raise ValidationError({"picture": "A picture must be under 1 MB."})
    Contact.objects.filter(pk=contact.pk).update(picture=data, picture_type=content_type)


@transaction.atomic
def contacts_bulk_update(*, actor: Any, contacts: Sequence[Contact], **fields: Any) -> int:
    """Set the same fields on many contacts, each validated; all or nothing."""
    for contact in contacts:
        contact_update(actor=actor, contact=contact, **fields)
    return len(contacts)


@transaction.atomic
def contacts_tag(
    *, actor: Any, contacts: Sequence[Contact], add: Iterable[str] = (), remove: Iterable[str] = ()
) -> int:
    add_tags = [t.strip()[:40] for t in add if t.strip()]
    remove_tags = {t.strip() for t in remove}
    for contact in Contact.objects.select_for_update().filter(pk__in=[c.pk for c in contacts]):
        tags = [t for t in contact.tags if t not in remove_tags]
        tags += [t for t in add_tags if t not in tags]
        if tags != contact.tags:
            contact.tags = tags
            contact.save(update_fields=["tags", "updated_at"])
    return len(contacts)


def activity_add(*, actor: Any, contact: Contact, kind: str, summary: str, body: str = "") -> Activity:
    if kind not in {ActivityKind.NOTE, ActivityKind.CALL, ActivityKind.MEETING, ActivityKind.EMAIL}:
        raise ValidationError({"kind": "Choose note, call, meeting or email."})
    if not summary.strip():
        raise ValidationError({"summary": "Say what happened."})
    activity = Activity(
        contact=contact,
        kind=kind,
        summary=summary.strip(),
        body=body,
        actor=_user_or_none(actor),
        occurred_at=timezone.now(),
    )
    activity.full_clean()
    activity.save()
    return activity


# --- Households --------------------------------------------------------------------------------


@transaction.atomic
def household_create(*, actor: Any, name: str, head: Contact, members: Iterable[Contact] = ()) -> Household:
    household = Household(name=name.strip(), head=head)
    household.full_clean()
    household.save()
    household_add_members(actor=actor, household=household, contacts=[head, *members])
    return household


@transaction.atomic
def household_add_members(*, actor: Any, household: Household, contacts: Iterable[Contact]) -> int:
    have = set(HouseholdMember.objects.filter(household=household).values_list("contact_id", flat=True))
    added = 0
    for contact in {c.pk: c for c in contacts}.values():
        if contact.pk not in have:
            HouseholdMember.objects.create(household=household, contact=contact)
            added += 1
    return added


@transaction.atomic
def household_remove_member(*, actor: Any, household: Household, contact: Contact) -> None:
    if household.head_id == contact.pk:
        raise ValidationError({"contact": "Choose another head of household before removing this one."})
    HouseholdMember.objects.filter(household=household, contact=contact).delete()


@transaction.atomic
def household_set_head(*, actor: Any, household: Household, head: Contact) -> Household:
    household_add_members(actor=actor, household=household, contacts=[head])
    household.head = head
    household.save(update_fields=["head"])
    return household


# --- Groups ------------------------------------------------------------------------------------


@transaction.atomic
def group_create(*, actor: Any, name: str, is_private: bool = False, description: str = "") -> Group:
    group = Group(name=name.strip(), is_private=is_private, description=description, owner=actor)
    group.full_clean()
    group.save()
    return group


def _may_change_group(actor: Any, group: Group) -> None:
    if group.is_private and group.owner_id != actor.pk:
        raise Group.DoesNotExist


@transaction.atomic
def group_add_members(*, actor: Any, group: Group, contacts: Iterable[Contact]) -> int:
    _may_change_group(actor, group)
    have = set(GroupMember.objects.filter(group=group).values_list("contact_id", flat=True))
    new = [
        GroupMember(group=group, contact_id=c.pk, firm_id=group.firm_id)
        for c in {c.pk: c for c in contacts}.values()
        if c.pk not in have
    ]
    with bulk.described(f"Added to the group {group.name}"):
        GroupMember.objects.bulk_create(new)
    return len(new)


@transaction.atomic
def group_remove_members(*, actor: Any, group: Group, contacts: Iterable[Contact]) -> int:
    _may_change_group(actor, group)
    deleted, _ = GroupMember.objects.filter(group=group, contact_id__in=[c.pk for c in contacts]).delete()
    return deleted


@transaction.atomic
def group_delete(*, actor: Any, group: Group) -> None:
    _may_change_group(actor, group)
    group.delete()


# --- Saved views and columns -------------------------------------------------------------------


@transaction.atomic
def saved_view_save(*, actor: Any, name: str, query: str = "", is_shared: bool = False) -> SavedView:
    view = SavedView.objects.filter(owner=actor, name=name.strip()).first() or SavedView(owner=actor, name=name.strip())
    view.query, view.is_shared = query.lstrip("?"), is_shared
    view.full_clean()
    view.save()
    return view


@transaction.atomic
def saved_view_delete(*, actor: Any, view: SavedView) -> None:
    if view.owner_id != actor.pk:
        raise SavedView.DoesNotExist
    view.delete()


@transaction.atomic
def table_columns_set(*, actor: Any, columns: Sequence[str], allowed: Iterable[str]) -> list[str]:
    allowed = set(allowed)
    chosen = list(dict.fromkeys(c for c in columns if c in allowed))
    if not chosen:
        raise ValidationError({"columns": "Choose at least one column."})
    TablePreference.objects.update_or_create(user=actor, defaults={"columns": chosen})
    return chosen


def tax_id_matches(contact: Contact, value: str) -> bool:
    return bool(contact.tax_id_digest) and contact.tax_id_digest == tax_id_digest(value)


# --- Bulk actions on a selection of contacts ----------------------------------------------------

BULK_FIELDS = ("priority", "risk_tolerance", "marketing_source", "prospect_account_type", "advisor", "next_review")


@transaction.atomic
def contacts_bulk_action(
    *, actor: Any, contacts: Sequence[Contact], action: str, status: str = "", tag: str = "",
    group: Any = None, field: str = "", value: str = "",
) -> str:  # fmt: skip
    """One action on many contacts (already limited to the actor's scope), all or nothing; says
    what it did."""
    from accounts.selectors import firm_users
    from crm.selectors import group_get

    n = len(contacts)
    if action == "status":
        if status not in ContactStatus.values:
            raise ValidationError({"status": ["Choose a status."]})
        contacts_bulk_update(actor=actor, contacts=contacts, status=status)
        return f"Status of {n} contacts set to {ContactStatus(status).label}."
    if action in ("tag", "untag"):
        if not tag.strip():
            raise ValidationError({"tag": ["Enter a tag."]})
        contacts_tag(actor=actor, contacts=contacts, **{"add" if action == "tag" else "remove": [tag]})
        return f"Tag “{tag.strip()}” {'added to' if action == 'tag' else 'removed from'} {n} contacts."
    if action == "group":
        try:
            chosen = group_get(user=actor, pk=int(group))
        except (Group.DoesNotExist, ValueError, TypeError):
            raise ValidationError({"group": ["Choose a group."]}) from None
        added = group_add_members(actor=actor, group=chosen, contacts=contacts)
        return f"{added} contacts added to {chosen.name}."
    if action != "field":
        raise ValidationError({"action": ["Choose an action."]})
    if field not in BULK_FIELDS:
        raise ValidationError({"field": ["Choose a field to edit."]})
    value = value.strip()
    cleaned: Any = value
    if field == "advisor":
        cleaned = firm_users(firm_id=actor.firm_id).filter(pk=value).first() if value.isdigit() else None
        if value and cleaned is None:
            raise ValidationError({"advisor": ["No such user."]})
    elif field == "next_review":
        cleaned = value or None
    contacts_bulk_update(actor=actor, contacts=contacts, **{field: cleaned})
    return f"{field.replace('_', ' ').capitalize()} of {n} contacts updated."
