from __future__ import annotations

from rest_framework import serializers

from crm.models import Contact, Household


class ContactSerializer(serializers.ModelSerializer[Contact]):
    class Meta:
        model = Contact
        fields = ["id", "kind", "status", "first_name", "last_name", "email", "phone", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class HouseholdSerializer(serializers.ModelSerializer[Household]):
    head: serializers.PrimaryKeyRelatedField[Contact] = serializers.PrimaryKeyRelatedField(read_only=True)
    member_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Household
        fields = ["id", "name", "head", "member_count", "created_at"]
