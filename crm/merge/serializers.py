from __future__ import annotations

from typing import Any

from rest_framework import serializers

from crm.merge.models import ContactMerge


class MergeRequestSerializer(serializers.Serializer[Any]):
    ids = serializers.ListField(child=serializers.IntegerField(), help_text="The 2 or 3 contacts to merge.")
    survivor = serializers.IntegerField(help_text="The contact to keep (one of ``ids``).")
    choices = serializers.DictField(
        child=serializers.IntegerField(), required=False, default=dict,
        help_text="Field name → id of the contact whose value to keep (the tax id as ``tax_id``). "
        "Fields left out keep the survivor's value when it has one.",
    )  # fmt: skip


class ContactMergeSerializer(serializers.ModelSerializer[ContactMerge]):
    survivor = serializers.IntegerField(source="survivor_id", read_only=True, allow_null=True)
    # Who merged (none for a system merge) and who undid it (none while it stands).
    actor = serializers.CharField(source="actor.full_name", read_only=True, default=None, allow_null=True)
    undone_by = serializers.CharField(source="undone_by.full_name", read_only=True, default=None, allow_null=True)
    changed_fields = serializers.SerializerMethodField()
    moved = serializers.SerializerMethodField()

    class Meta:
        model = ContactMerge
        fields = ["id", "survivor", "survivor_name", "merged_ids", "merged_names", "choices", "changed_fields",
                  "moved", "actor", "created_at", "undone_at", "undone_by", "kept_fields"]  # fmt: skip
        read_only_fields = fields

    def get_changed_fields(self, merge: ContactMerge) -> list[str]:
        """Fields of the survivor that took another contact's value."""
        return sorted(merge.snapshot.get("survivor_after", {}))

    def get_moved(self, merge: ContactMerge) -> dict[str, dict[str, int]]:
        """Per kind of record: how many rows were moved to the survivor, and how many were dropped
        because the survivor already had the same link."""
        counts: dict[str, dict[str, int]] = {}
        for move in merge.snapshot.get("relations", []):
            entry = counts.setdefault(move["relation"], {"moved": 0, "dropped": 0})
            entry[move["action"]] += 1
        return counts


class UndoResultSerializer(serializers.Serializer[Any]):
    merge = ContactMergeSerializer()
    kept_fields = serializers.ListField(child=serializers.CharField())
    missing_rows = serializers.ListField(child=serializers.CharField())


class DuplicateContactSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    display_name = serializers.CharField()
    status = serializers.CharField()
    email = serializers.CharField()
    date_of_birth = serializers.DateField(allow_null=True)


class DuplicateClusterSerializer(serializers.Serializer[Any]):
    ids = serializers.ListField(child=serializers.IntegerField())
    reasons = serializers.ListField(child=serializers.CharField())
    contacts = DuplicateContactSerializer(many=True)


class DuplicatePageSerializer(serializers.Serializer[Any]):
    next = serializers.URLField(allow_null=True, help_text="The next page, or null on the last.")
    results = DuplicateClusterSerializer(many=True)
