from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models

from advisorportal.tenancy.models import FirmOwnedModel


class Notification(FirmOwnedModel):
    """Something a user should know: a task assigned, an import finished. ``category`` is the
    emitting app's code (``agenda.task_assigned``, ``imports.finished``); ``contact_id`` names a
    CRM contact when it is about one (the floor does not import crm)."""

    # Created by the services with their own audit entry; read and archive marks are the user's own.
    audited: ClassVar[bool] = False

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    category = models.CharField(max_length=60)
    title = models.CharField(max_length=300)
    url = models.CharField(max_length=500, blank=True)
    contact_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    # Set by emitters that must not tell the same thing twice (``agenda.task_due:<task>:<date>``).
    key = models.CharField(max_length=120, blank=True, default="")

    class Meta(FirmOwnedModel.Meta):
        indexes = [
            models.Index(fields=["firm", "recipient", "-created_at"], name="notif_recipient_idx"),
            models.Index(
                fields=["firm", "recipient"],
                name="notif_unread_idx",
                condition=models.Q(read_at=None, archived_at=None),
            ),
            models.Index(fields=["firm", "contact_id"], name="notif_contact_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["firm", "recipient", "key"], condition=~models.Q(key=""), name="notif_key_uniq"
            ),
        ]

    def __str__(self) -> str:
        return self.title
