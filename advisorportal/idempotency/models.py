from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from advisorportal.tenancy.models import FirmOwnedModel

KEY_MAX_LENGTH = 255


class IdempotencyKey(FirmOwnedModel):
    """The first result of an operation run with a client-chosen key (see ``advisorportal.idempotency``)."""

    # A technical record of a request whose own effects are audited; one audit entry per key
    # would double the trail of every money-moving request.
    audited: ClassVar[bool] = False

    scope = models.CharField(max_length=100, help_text="The operation, e.g. funding.withdrawal_create")
    key = models.CharField(max_length=KEY_MAX_LENGTH)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the payload's canonical JSON")
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta(FirmOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["firm", "scope", "key"], name="idempotency_key_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"
