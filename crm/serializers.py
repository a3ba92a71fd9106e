from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.selectors import firm_users
from advisorportal.serializers import CompiledRead
from crm.models import Activity, Contact, Group, Household, SavedView
from crm.services import EDITABLE_FIELDS

CONTACT_FIELDS = [f for f in EDITABLE_FIELDS if f not in ("advisor",)]


class ContactSerializer(CompiledRead, serializers.ModelSerializer[Contact]):
    """A contact. ``tax_id`` is write-only (stored encrypted); reads show ``tax_id_masked``.
    ``accounts`` and ``nav`` cover the accounts in the caller's account scope."""

    tax_id = serializers.CharField(write_only=True, required=False, allow_blank=True)
    tax_id_masked = serializers.CharField(read_only=True)
    advisor = serializers.IntegerField(
        source="advisor_id", required=False, allow_null=True, help_text="The id of an active user of your firm."
    )
    accounts = serializers.ListField(child=serializers.CharField(), read_only=True, default=list)
    nav = serializers.DecimalField(max_digits=20, decimal_places=2, read_only=True, allow_null=True, default=None)
    display_name = serializers.CharField(read_only=True)

    class Meta:
        model = Contact
        fields = [
            "id", "display_name", *CONTACT_FIELDS, "advisor", "tax_id", "tax_id_masked", "closed_on",
            "accounts", "nav", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["id", "closed_on", "created_at", "updated_at"]
        # The model checks that amounts are not negative (in the service's full_clean), with a
        # message naming the field; DRF would copy the check with a message that does not.
        extra_kwargs = {name: {"min_value": None} for name in ("annual_income", "net_worth", "liquid_net_worth")}

    def to_representation(self, instance: Contact) -> dict[str, Any]:
        data = super().to_representation(instance)
        # None (not []) when the caller has no account right: the subquery of an empty scope.
        data["accounts"] = getattr(instance, "accounts", None) or []
        nav = getattr(instance, "nav", None)
        data["nav"] = None if nav is None else f"{nav:.2f}"
        return data

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Full validation is the service's (model full_clean); keep the ModelSerializer from
        # running model validators a second time with half the picture.
        if "advisor_id" in attrs:
            attrs["advisor"] = self._advisor(attrs.pop("advisor_id"))
        return attrs

    def _advisor(self, pk: int | None) -> Any:
        """The user with this id among the caller's firm's active users: another firm's user and
        an unknown id get the same answer (users are under row-level security as well)."""
        if pk is None:
            return None
        user = firm_users(firm_id=self.context["request"].user.firm_id).filter(pk=pk, is_active=True).first()
        if user is None:
            raise serializers.ValidationError({"advisor": ["Choose an active user of your firm."]})
        return user


class ActivitySerializer(serializers.ModelSerializer[Activity]):
    actor = serializers.CharField(source="actor.full_name", read_only=True, default=None)

    class Meta:
        model = Activity
        fields = ["id", "kind", "summary", "body", "actor", "occurred_at"]
        read_only_fields = ["id", "actor", "occurred_at"]
        # The caller says what they log (note, call, meeting or email), as on the page: the
        # model's default would otherwise make it optional, and ``services.activity_add`` has none.
        extra_kwargs = {"kind": {"required": True}}


class HouseholdSerializer(serializers.ModelSerializer[Household]):
    head = serializers.IntegerField(source="head_id")
    member_count = serializers.IntegerField(read_only=True)
    account_count = serializers.IntegerField(read_only=True)
    aum = serializers.DecimalField(max_digits=20, decimal_places=2, read_only=True, allow_null=True)

    class Meta:
        model = Household
        fields = ["id", "name", "head", "member_count", "account_count", "aum", "created_at"]
        read_only_fields = ["id", "created_at"]


class GroupSerializer(serializers.ModelSerializer[Group]):
    member_count = serializers.IntegerField(read_only=True)
    owner = serializers.CharField(source="owner.full_name", read_only=True)

    class Meta:
        model = Group
        fields = ["id", "name", "description", "is_private", "owner", "member_count", "created_at"]
        read_only_fields = ["id", "owner", "created_at"]


class SavedViewSerializer(serializers.ModelSerializer[SavedView]):
    class Meta:
        model = SavedView
        fields = ["id", "name", "query", "is_shared", "created_at"]
        read_only_fields = ["id", "created_at"]


class MembersSerializer(serializers.Serializer[Any]):
    contacts = serializers.ListField(child=serializers.IntegerField(), min_length=1, max_length=10_000)


class BulkSerializer(serializers.Serializer[Any]):
    ids = serializers.ListField(child=serializers.IntegerField(), min_length=1, max_length=10_000)
    action = serializers.ChoiceField(choices=["status", "tag", "untag", "group", "field"])
    status = serializers.CharField(required=False, allow_blank=True, default="")
    tag = serializers.CharField(required=False, allow_blank=True, default="", max_length=40)
    group = serializers.IntegerField(required=False, allow_null=True, default=None)
    field = serializers.CharField(required=False, allow_blank=True, default="")
    value = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
