from __future__ import annotations

from rest_framework import serializers

from accounts.models import Firm, User


class MeSerializer(serializers.ModelSerializer[User]):
    firm: serializers.SlugRelatedField[Firm] = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    role = serializers.CharField(source="get_role_display")
    rights = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "firm", "role", "rights"]

    def get_rights(self, user: User) -> list[str]:
        from accounts.selectors import user_rights

        return sorted(r.value for r in user_rights(user=user))
