from __future__ import annotations

from rest_framework import serializers

from accounts.models import ApiToken, AuditEntry, Firm, User
from accounts.rights import Right
from advisorportal.formats import DateFormat


class MeSerializer(serializers.ModelSerializer[User]):
    firm: serializers.SlugRelatedField[Firm] = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    role = serializers.CharField(source="get_role_display")
    rights = serializers.SerializerMethodField()
    date_format = serializers.ChoiceField(
        choices=[("", "The firm's"), *DateFormat.choices],
        allow_blank=True,
        help_text="How pages, exports and PDFs show you dates; blank: the firm's. The API's dates are ISO 8601.",
    )
    firm_date_format = serializers.CharField(source="firm.date_format", read_only=True)

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "firm", "role", "rights", "date_format", "firm_date_format"]
        read_only_fields = ["id", "email", "full_name", "firm", "role", "rights"]

    def get_rights(self, user: User) -> list[str]:
        from accounts.selectors import user_rights

        return sorted(r.value for r in user_rights(user=user))


class AuditEntrySerializer(serializers.ModelSerializer[AuditEntry]):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = AuditEntry
        fields = [
            "id", "created_at", "actor", "action", "object_type", "object_id", "object_repr",
            "changes", "ip", "user_agent", "request_id",
        ]  # fmt: skip

    def get_actor(self, entry: AuditEntry) -> str | None:
        return entry.actor.email if entry.actor else None


class ApiTokenSerializer(serializers.ModelSerializer[ApiToken]):
    expires_in_days = serializers.IntegerField(
        write_only=True, required=False, min_value=1, help_text="At most the firm's longest token lifetime (default)."
    )
    rights = serializers.ListField(
        child=serializers.ChoiceField(choices=Right.choices), help_text="At least one, each a right you hold."
    )

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "rights", "created_at", "expires_at", "last_used_at", "revoked_at",
                  "expires_in_days"]  # fmt: skip
        read_only_fields = ["id", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
