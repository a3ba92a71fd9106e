from __future__ import annotations

import hmac
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from advisorportal.tenancy.models import FirmOwnedModel


class Link(FirmOwnedModel):
    """A single-use, expiring link emailed to someone who is not a user (see ``advisorportal.links``).

    Only the SHA-256 of the token's secret is stored. ``fingerprint`` is the SHA-256 of what the
    link approves, taken when it was issued: consuming it needs the same fingerprint of the
    subject as it is then, so any edit of the subject voids the link.
    """

    # Every change is recorded by the services with what it means (issued, consumed, refused,
    # revoked, expired); an automatic diff would add nothing but the hash.
    audited: ClassVar[bool] = False

    purpose = models.CharField(max_length=40, help_text="Code of a registered purpose, e.g. funding.withdrawal")
    subject_type = models.CharField(max_length=100, help_text="The model's label (app.model) or a caller's name")
    subject_id = models.CharField(max_length=64)
    fingerprint = models.CharField(max_length=64)
    recipient_email = models.EmailField()
    token_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True, help_text="When the expiry sweep closed it")

    class Meta(FirmOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["firm", "token_hash"], name="links_link_token_uniq"),
        ]
        indexes = [
            models.Index(fields=["firm", "subject_type", "subject_id"], name="links_link_subject_idx"),
            models.Index(
                fields=["firm", "expires_at"],
                name="links_link_open_idx",
                condition=models.Q(used_at=None, revoked_at=None, expired_at=None),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} link for {self.subject_type} {self.subject_id}"

    def refusal(self, *, purpose: str, token_hash: str) -> str:
        """Why this link may not be used for ``purpose`` now ("" if it may): for the audit trail
        only; everyone else hears the same "not valid"."""
        if not hmac.compare_digest(self.token_hash, token_hash) or self.purpose != purpose:
            return "foreign"
        if self.used_at is not None:
            return "used"
        if self.revoked_at is not None:
            return "revoked"
        if self.expired_at is not None or self.expires_at <= timezone.now():
            return "expired"
        return ""


class CodeChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "Text message"


class LinkCode(FirmOwnedModel):
    """A one-time code sent to the holder of a link whose purpose ``needs_code``: only its keyed
    hash is stored. Used by the conditional UPDATE that consumes the link; wrong tries are counted
    (``CODE_MAX_ATTEMPTS`` per code, then it is void)."""

    audited: ClassVar[bool] = False  # the services record sent, refused and used with what they mean

    link = models.ForeignKey(Link, on_delete=models.PROTECT, related_name="codes")
    channel = models.CharField(max_length=5, choices=CodeChannel.choices)
    sent_to = models.CharField(max_length=200, help_text="Masked: where the code went, as the page shows it")
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta(FirmOwnedModel.Meta):
        indexes = [models.Index(fields=["firm", "link", "created_at"], name="links_code_link_idx")]
