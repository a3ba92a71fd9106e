"""Your notifications through the API: list (filters unread, category, contact, archived; keyset
pages, newest first), the unread count, mark read or unread (some or all), archive and restore.
Only the caller's own: another user's id, or one about a contact outside their scope, is a 404."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.access import SIGNED_IN
from accounts.api_access import FirmScopedViewSet
from advisorportal.notifications import categories, selectors, services
from advisorportal.notifications.models import Notification


class NotificationSerializer(serializers.ModelSerializer[Notification]):
    category_label = serializers.SerializerMethodField(help_text="The category as people read it")
    read = serializers.SerializerMethodField()
    archived = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "category", "category_label", "title", "url", "contact_id", "created_at", "read",
                  "read_at", "archived", "archived_at"]  # fmt: skip
        read_only_fields = fields

    def get_category_label(self, obj: Notification) -> str:
        return categories.label(obj.category)

    def get_read(self, obj: Notification) -> bool:
        return obj.read_at is not None

    def get_archived(self, obj: Notification) -> bool:
        return obj.archived_at is not None


class MarkReadSerializer(serializers.Serializer[Any]):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=500,
                                help_text="Your notifications to mark; leave out with all=true")  # fmt: skip
    all = serializers.BooleanField(default=False, help_text="Mark every notification of yours")
    read = serializers.BooleanField(default=True, help_text="false marks them unread")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("all") == bool(attrs.get("ids")):
            raise serializers.ValidationError({"ids": "Give the ids to mark, or all=true (not both)."})
        return attrs


class ChangedSerializer(serializers.Serializer[Any]):
    changed = serializers.IntegerField(help_text="How many notifications changed")


class UnreadCountSerializer(serializers.Serializer[Any]):
    unread = serializers.IntegerField()


def _flag(value: str | None, name: str) -> bool:
    if value in (None, "", "false", "0"):
        return False
    if value in ("true", "1"):
        return True
    raise serializers.ValidationError({name: "Use true or false."})


class NotificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    """Your notifications, newest first."""

    required_right = SIGNED_IN
    serializer_class = NotificationSerializer
    keyset = ("-created_at", "-id")

    def get_queryset(self) -> QuerySet[Notification]:
        if self.describing_schema():
            return Notification.objects.unscoped().none()
        params = self.request.query_params
        contact = params.get("contact")
        if contact is not None and not contact.isdigit():
            raise serializers.ValidationError({"contact": "A contact id (a whole number)."})
        return selectors.notifications_for(
            user=self.request.user,
            archived=_flag(params.get("archived"), "archived"),
            unread_only=_flag(params.get("unread"), "unread"),
            category=(params.get("category") or "")[:60],
            contact_id=int(contact) if contact else None,
        )

    def get_object(self) -> Notification:
        row = selectors.notification_get(user=self.request.user, pk=self.kwargs["pk"])
        if row is None:
            raise Http404
        return row

    @extend_schema(
        parameters=[
            OpenApiParameter("unread", OpenApiTypes.BOOL, description="Only unread ones"),
            OpenApiParameter("archived", OpenApiTypes.BOOL, description="The archive instead of the inbox"),
            OpenApiParameter("category", OpenApiTypes.STR, description="A category code, e.g. agenda.task_due"),
            OpenApiParameter("contact", OpenApiTypes.INT, description="Only those about this contact"),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={200: UnreadCountSerializer})
    @action(detail=False, methods=["get"], url_path="unread-count", pagination_class=None)
    def unread_count(self, request: Request) -> Response:
        """The count the header shows."""
        return Response({"unread": selectors.unread_count(user=request.user)})

    @extend_schema(request=MarkReadSerializer, responses={200: ChangedSerializer})
    @action(detail=False, methods=["post"], url_path="mark-read")
    def mark_read(self, request: Request) -> Response:
        """Mark `ids` (yours; others' are ignored) or `all` read, or unread with `read: false`."""
        body = MarkReadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        ids = None if data["all"] else data["ids"]
        return Response({"changed": services.notifications_mark_read(user=request.user, ids=ids, read=data["read"])})

    @extend_schema(request=None, responses={200: NotificationSerializer})
    @action(detail=True, methods=["post"])
    def archive(self, request: Request, pk: Any = None) -> Response:
        """Archive one of yours (it is marked read too)."""
        row = self.get_object()
        services.notifications_archive(user=request.user, ids=[row.pk])
        row.refresh_from_db()
        return Response(NotificationSerializer(row).data)

    @extend_schema(request=None, responses={200: NotificationSerializer})
    @action(detail=True, methods=["post"])
    def unarchive(self, request: Request, pk: Any = None) -> Response:
        """Put one of yours back in the inbox."""
        row = self.get_object()
        services.notifications_archive(user=request.user, ids=[row.pk], archived=False)
        row.refresh_from_db()
        return Response(NotificationSerializer(row).data)
