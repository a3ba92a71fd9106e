"""Merging duplicate contacts into one survivor, and undoing it.

A merge, in one transaction with the contacts locked:

1. the survivor takes the chosen value of each field, through ``crm.services.contact_update`` (so
   validation, search keys, the audit trail and the timeline follow); the tax id and picture, which
   that service does not set from sealed values, are copied as stored;
2. every row of any model that points at a merged contact is moved to the survivor — client
   account ownership, household membership and headship, group membership, timeline entries and
   whatever else points at ``crm.Contact`` (found from the model graph, so a new relation is
   covered without a change here). A row the survivor already has an equal twin of (a unique
   constraint would refuse the move) is dropped instead, and kept in the snapshot;
3. the merged contacts are deleted, and a ``ContactMerge`` keeps everything needed to undo it.

Undo recreates the merged contacts with their ids, moves the rows back, recreates dropped rows and
restores the survivor's earlier values — except fields edited since the merge, which are kept and
named.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from accounts.models import User
from advisorportal import bulk
from advisorportal.formats import moment
from advisorportal.tenancy.models import FirmOwnedModel
from crm import search
from crm import services as crm_services
from crm.merge.models import ContactMerge
from crm.merge.snapshot import choice_values, comparable, dump_row, is_empty, load_row
from crm.models import ActivityKind, Contact, ContactSearchKey
from crm.services import EDITABLE_FIELDS, contact_update
from crm.services import STATUS_DATE_FIELDS as STATUS_DATES

MIN_CONTACTS, MAX_CONTACTS = 2, 3
# Fields a person chooses on the compare page: every editable field, the tax id and the picture.
CHOOSABLE_FIELDS: tuple[str, ...] = (*EDITABLE_FIELDS, "tax_id", "picture")
# Rows derived from a contact (rebuilt, never moved) and merge records (re-linked on undo).
NOT_MOVED: tuple[type[models.Model], ...] = (ContactSearchKey, ContactMerge)


def _user_or_none(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


# --- Choosing values -----------------------------------------------------------------------------


def differing_fields(contacts: Sequence[Contact]) -> list[str]:
    """The choosable fields in which the contacts do not all agree."""
    return [name for name in CHOOSABLE_FIELDS if len({repr(comparable(c, name)) for c in contacts}) > 1]


def default_choices(contacts: Sequence[Contact], survivor: Contact) -> dict[str, int]:
    """For each differing field: the survivor's value when it has one, else the first other
    contact's non-empty value."""
    ordered = [survivor, *[c for c in contacts if c.pk != survivor.pk]]
    chosen: dict[str, int] = {}
    for name in differing_fields(contacts):
        source = next((c for c in ordered if not is_empty(comparable(c, name))), survivor)
        chosen[name] = source.pk
    return chosen


def validate_merge_ids(ids: Sequence[Any]) -> list[int]:
    """The contact ids of a merge request, or a ``ValidationError`` naming ``ids``."""
    try:
        clean = [int(i) for i in ids]
    except (TypeError, ValueError):
        raise ValidationError({"ids": "Contact ids must be whole numbers."}) from None
    if len(set(clean)) != len(clean):
        raise ValidationError({"ids": "A contact cannot be merged with itself: each contact may appear once."})
    if len(clean) < MIN_CONTACTS:
        raise ValidationError({"ids": "Choose at least two contacts to merge."})
    if len(clean) > MAX_CONTACTS:
        raise ValidationError({"ids": f"Merge at most {MAX_CONTACTS} contacts at a time."})
    return clean


def _validate_choices(choices: Mapping[str, Any], contacts: Sequence[Contact]) -> dict[str, int]:
    ids = {c.pk for c in contacts}
    errors: dict[str, str] = {}
    clean: dict[str, int] = {}
    for name, source in choices.items():
        if name not in CHOOSABLE_FIELDS:
            errors[name] = "This field cannot be chosen in a merge."
            continue
        try:
            source_id = int(source)
        except (TypeError, ValueError):
            source_id = -1
        if source_id not in ids:
            errors[name] = "Choose the value of one of the contacts being merged."
        else:
            clean[name] = source_id
    if errors:
        raise ValidationError(errors)
    return clean


# --- Related rows --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Relation:
    model: type[models.Model]
    field: models.ForeignKey[Any, Any]

    @property
    def label(self) -> str:
        return f"{self.model._meta.label_lower}.{self.field.name}"

    def manager(self) -> Any:
        return self.model.objects if issubclass(self.model, FirmOwnedModel) else self.model._default_manager

    def unique_sets(self) -> list[tuple[str, ...]]:
        """The other fields of each unique constraint that includes this one."""
        meta = self.model._meta
        sets: list[tuple[str, ...]] = []
        if self.field.unique:
            sets.append(())
        for constraint in meta.constraints:
            fields = tuple(getattr(constraint, "fields", ()) or ())
            if isinstance(constraint, models.UniqueConstraint) and self.field.name in fields:
                sets.append(tuple(f for f in fields if f != self.field.name))
        for together in meta.unique_together:
            if self.field.name in together:
                sets.append(tuple(f for f in together if f != self.field.name))
        return sets


def contact_relations() -> Iterator[Relation]:
    """Every foreign key to ``crm.Contact`` in the project (hidden ones included), except search
    keys and merge records."""
    for rel in Contact._meta.get_fields(include_hidden=True):
        if not rel.auto_created or rel.concrete or not (rel.one_to_many or rel.one_to_one):
            continue
        model = rel.related_model
        if model in NOT_MOVED or not isinstance(model, type):
            continue
        yield Relation(model=model, field=rel.field)  # type: ignore[union-attr,arg-type]


def _twin_exists(relation: Relation, row: models.Model, survivor_id: int) -> bool:
    for others in relation.unique_sets():
        lookup: dict[str, Any] = {relation.field.attname: survivor_id}
        for name in others:
            if name == "firm":
                continue
            field_obj = row._meta.get_field(name)
            attname = getattr(field_obj, "attname", name)
            lookup[attname] = getattr(row, attname)
        if relation.manager().filter(**lookup).exclude(pk=row.pk).exists():
            return True
    return False


def _move_relations(merged_ids: list[int], survivor_id: int) -> list[dict[str, Any]]:
    """Point every related row of the merged contacts at the survivor; what was done, per row."""
    moves: list[dict[str, Any]] = []
    for relation in contact_relations():
        attname = relation.field.attname
        rows = relation.manager().select_for_update().filter(**{f"{attname}__in": merged_ids}).order_by("pk")
        if not relation.unique_sets():
            found = list(rows.values_list("pk", attname))
            if not found:
                continue
            sources = sorted({source for _, source in found})
            with bulk.described(f"Moved to contact {survivor_id} by a merge", **{f"{attname} before": sources}):
                relation.manager().filter(pk__in=[pk for pk, _ in found]).update(**{attname: survivor_id})
            moves += [{"relation": relation.label, "pk": pk, "from": source, "action": "moved"} for pk, source in found]
            continue
        for row in rows:
            source = getattr(row, attname)
            if _twin_exists(relation, row, survivor_id):
                moves.append({"relation": relation.label, "pk": row.pk, "from": source, "action": "dropped",
                              "row": dump_row(row)})  # fmt: skip
                row.delete()
            else:
                setattr(row, attname, survivor_id)
                row.save(update_fields=[attname])
                moves.append({"relation": relation.label, "pk": row.pk, "from": source, "action": "moved"})
    return moves


def _relations_by_label() -> dict[str, Relation]:
    return {r.label: r for r in contact_relations()}


# --- Merge ---------------------------------------------------------------------------------------


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _timeline(contact_id: int, *, actor: Any, summary: str, body: str = "") -> None:
    crm_services.timeline_add(contact_id=contact_id, actor=actor, kind=ActivityKind.SYSTEM, summary=summary, body=body)


def _apply_choice_values(contact: Contact, values: Mapping[str, Mapping[str, Any]], *, actor: Any) -> Contact:
    """Set stored values (as in a snapshot) on the contact: editable fields through
    ``contact_update``, the sealed tax id and the picture as stored."""
    editable: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    for choice, stored in values.items():
        loaded = load_row(Contact, dict(stored))
        if choice == "advisor":
            advisor_id = loaded.get("advisor_id")
            editable["advisor"] = (
                User.objects.filter(pk=advisor_id, firm_id=contact.firm_id).first() if advisor_id else None
            )
        elif choice in EDITABLE_FIELDS:
            editable[choice] = loaded[choice]
        else:
            raw.update(loaded)
    if "tax_id" in values and "tax_id_type" in editable:
        # The type belongs to the sealed tax id set beside it: both as stored, together (a type
        # changed alone is refused by contact_update, which wants the tax id typed again).
        raw["tax_id_type"] = editable.pop("tax_id_type")
    contact = contact_update(actor=actor, contact=contact, **editable)
    if raw:
        for name, value in raw.items():
            setattr(contact, name, value)
        contact.save(update_fields=[*raw, "updated_at"])
    return contact


@transaction.atomic
def contacts_merge(
    *, actor: Any, contacts: Sequence[Contact], survivor_id: Any, choices: Mapping[str, Any] | None = None
) -> ContactMerge:
    """Merge ``contacts`` (2 or 3, already limited to the actor's scope) into the one with
    ``survivor_id``. ``choices`` maps a field to the contact whose value the survivor keeps; fields
    not given take the default (the survivor's value when it has one)."""
    ids = validate_merge_ids([c.pk for c in contacts])
    try:
        survivor_pk = int(survivor_id)
    except (TypeError, ValueError):
        survivor_pk = -1
    if survivor_pk not in ids:
        raise ValidationError({"survivor": "The surviving contact must be one of the contacts being merged."})
    # Lock in id order (two merges touching the same contacts cannot deadlock), then re-read.
    locked = {c.pk: c for c in Contact.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    if len(locked) != len(ids):
        raise Contact.DoesNotExist
    everyone = [locked[i] for i in ids]
    survivor = locked[survivor_pk]
    merged = [c for c in everyone if c.pk != survivor_pk]
    chosen = {**default_choices(everyone, survivor), **_validate_choices(choices or {}, everyone)}

    before = {name: choice_values(survivor, name) for name in chosen if locked[chosen[name]].pk != survivor_pk}
    wanted = {name: choice_values(locked[chosen[name]], name) for name in before}
    wanted = {name: values for name, values in wanted.items() if values != before[name]}
    before = {name: before[name] for name in wanted}

    contact_rows = [dump_row(c) for c in merged]
    merged_ids = [c.pk for c in merged]
    merged_names = [c.display_name for c in merged]
    survived = list(
        ContactMerge.objects.filter(survivor_id__in=merged_ids).values_list("pk", "survivor_id").order_by("pk")
    )
    ContactMerge.objects.filter(pk__in=[pk for pk, _ in survived]).update(survivor=None)
    moves = _move_relations(merged_ids, survivor_pk)
    dates_before = {name: getattr(survivor, name) for name in STATUS_DATES}
    survivor = _apply_choice_values(survivor, wanted, actor=actor)
    after = {name: choice_values(survivor, name) for name in wanted}
    # A status taken from a merged contact also sets the survivor's client-since or closed-on date.
    side_effects = {
        name: [_iso(dates_before[name]), _iso(getattr(survivor, name))]
        for name in STATUS_DATES
        if name not in wanted and getattr(survivor, name) != dates_before[name]
    }
    for contact in merged:
        contact.delete()

    merge = ContactMerge(
        survivor=survivor,
        survivor_name=survivor.display_name[:400],
        merged_ids=merged_ids,
        merged_names=[n[:400] for n in merged_names],
        choices=dict(sorted(chosen.items())),
        snapshot={
            "survivor_id": survivor_pk,
            "contacts": contact_rows,
            "relations": moves,
            "survivor_before": before,
            "survivor_after": after,
            "survived_merges": [[pk, contact_id] for pk, contact_id in survived],
            "status_dates": side_effects,
        },
        actor=_user_or_none(actor),
    )
    merge.full_clean()
    merge.save()
    moved: defaultdict[str, int] = defaultdict(int)
    for move in moves:
        moved[move["relation"].split(".")[1]] += 1
    summary = f"Merged {', '.join(merged_names)} into this contact"
    body = "; ".join(f"{n} {label} row(s) moved or combined" for label, n in sorted(moved.items()))
    _timeline(survivor_pk, actor=actor, summary=summary, body=body)
    return merge


# --- Undo ----------------------------------------------------------------------------------------


@dataclass
class UndoResult:
    merge: ContactMerge
    kept_fields: list[str] = field(default_factory=list)
    missing_rows: list[str] = field(default_factory=list)


def _links_missing(row: models.Model, *, skip: str) -> bool:
    """Whether a row to recreate points at something deleted since (foreign keys to firm-owned rows
    are checked only at commit, so ask first)."""
    for fk in row._meta.concrete_fields:
        if not isinstance(fk, models.ForeignKey) or fk.attname in (skip, "firm_id"):
            continue
        value = getattr(row, fk.attname)
        target = fk.related_model
        if value is None or not isinstance(target, type):
            continue
        manager = target.objects if issubclass(target, FirmOwnedModel) else target._default_manager
        if not manager.filter(pk=value).exists():
            return True
    return False


def _restore_relations(moves: list[dict[str, Any]], survivor_id: int) -> list[str]:
    """Move rows back to the contacts they came from and recreate dropped ones; what could not be."""
    relations = _relations_by_label()
    missing: list[str] = []
    grouped: dict[tuple[str, int], list[int]] = defaultdict(list)
    for move in moves:
        relation = relations.get(move["relation"])
        if relation is None:
            missing.append(f"{move['relation']} #{move['pk']} (that kind of record no longer exists)")
            continue
        if move["action"] == "moved":
            grouped[(move["relation"], move["from"])].append(move["pk"])
            continue
        if relation.manager().filter(pk=move["pk"]).exists():
            continue
        row = relation.model(**load_row(relation.model, move["row"]))
        if _links_missing(row, skip=relation.field.attname):
            missing.append(f"{relation.model._meta.verbose_name} #{move['pk']} (what it linked to was deleted)")
            continue
        row.save(force_insert=True)
    for (label, source), pks in grouped.items():
        relation = relations[label]
        attname = relation.field.attname
        rows = relation.manager().filter(pk__in=pks, **{attname: survivor_id})
        found = list(rows.values_list("pk", flat=True))
        if relation.unique_sets():
            for row in relation.manager().filter(pk__in=found):
                setattr(row, attname, source)
                row.save(update_fields=[attname])
        elif found:
            with bulk.described("Moved back by undoing a merge", **{f"{attname} before": survivor_id}):
                relation.manager().filter(pk__in=found).update(**{attname: source})
        for pk in sorted(set(pks) - set(found)):
            missing.append(f"{relation.model._meta.verbose_name} #{pk} (deleted or changed since the merge)")
    return missing


@transaction.atomic
def merge_undo(*, actor: Any, merge: ContactMerge) -> UndoResult:
    """Undo ``merge``. Fields of the survivor edited since the merge keep their newer values and are
    named in the result (and on the merge), as are related rows that no longer exist."""
    merge = ContactMerge.objects.select_for_update().get(pk=merge.pk)
    if merge.undone_at is not None:
        when = moment(merge.undone_at)
        raise ValidationError({"merge": f"This merge was already undone on {when}; it cannot be undone twice."})
    snapshot = merge.snapshot
    survivor_id = int(snapshot["survivor_id"])
    survivor = Contact.objects.select_for_update().filter(pk=survivor_id).first()
    if survivor is None:
        raise ValidationError(
            {"merge": "The surviving contact was deleted or merged into another one since; undo that first."}
        )
    if Contact.objects.filter(pk__in=merge.merged_ids).exists():
        raise ValidationError({"merge": "The merged contacts exist again; this merge was already undone."})

    restored: list[Contact] = []
    for row in snapshot["contacts"]:
        values = load_row(Contact, row)
        contact = Contact(**values)
        contact.save(force_insert=True)
        Contact.objects.filter(pk=contact.pk).update(created_at=values["created_at"])  # not "now"
        contact.created_at = values["created_at"]
        restored.append(contact)
    search.rebuild_keys(restored, fresh=True)
    missing = _restore_relations(snapshot["relations"], survivor_id)
    for merge_id, contact_id in snapshot.get("survived_merges", []):
        ContactMerge.objects.filter(pk=merge_id, survivor__isnull=True).update(survivor_id=contact_id)

    kept: list[str] = []
    restore: dict[str, Any] = {}
    for name, after in snapshot["survivor_after"].items():
        if choice_values(survivor, name) == after:
            restore[name] = snapshot["survivor_before"][name]
        else:
            kept.append(name)
    dates: dict[str, date | None] = {}
    for name, (before_date, after_date) in snapshot.get("status_dates", {}).items():
        if _iso(getattr(survivor, name)) == after_date:
            dates[name] = date.fromisoformat(before_date) if before_date else None
        else:
            kept.append(name)
    survivor = _apply_choice_values(survivor, restore, actor=actor)
    if dates:  # restoring the status may have set them again: as they were before the merge
        for name, value in dates.items():
            setattr(survivor, name, value)
        survivor.save(update_fields=[*dates, "updated_at"])

    merge.undone_at = timezone.now()
    merge.undone_by = _user_or_none(actor)
    merge.kept_fields = kept
    merge.save(update_fields=["undone_at", "undone_by", "kept_fields"])
    names = ", ".join(merge.merged_names)
    note = f"Kept as edited since the merge: {', '.join(kept)}." if kept else ""
    _timeline(survivor_id, actor=actor, summary=f"Merge undone: {names} restored as separate contacts", body=note)
    for contact in restored:
        _timeline(contact.pk, actor=actor, summary=f"Restored by undoing the merge into {merge.survivor_name}")
    return UndoResult(merge=merge, kept_fields=kept, missing_rows=missing)
