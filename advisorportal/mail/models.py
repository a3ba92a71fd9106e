from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from advisorportal.tenancy.models import FirmOwnedModel


class EmailStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    BOUNCED = "bounced", "Bounced"
    SKIPPED = "skipped", "Skipped (unsubscribed)"
    CANCELLED = "cancelled", "Cancelled"


class EmailCategory(models.TextChoices):
    SERVICE = "service", "Service"
    MARKETING = "marketing", "Marketing"


class OutgoingEmail(FirmOwnedModel):
    """One message to one address, as rendered when it was queued: what was sent is what the
    history shows. ``contact_id`` names a CRM contact (the floor does not import crm; the book's
    selectors join on it)."""

    # The services record what matters (queued, by whom); status moves are not audit events.
    audited: ClassVar[bool] = False

    to = models.EmailField()
    reply_to = models.EmailField(blank=True)
    subject = models.CharField(max_length=300)
    template = models.CharField(max_length=80)
    category = models.CharField(max_length=16, choices=EmailCategory.choices, default=EmailCategory.SERVICE)
    status = models.CharField(max_length=16, choices=EmailStatus.choices, default=EmailStatus.QUEUED)
    contact_id = models.BigIntegerField(null=True, blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    bulk = models.ForeignKey("mail.BulkEmail", null=True, blank=True, on_delete=models.CASCADE, related_name="emails")
    text_body = models.TextField(max_length=200_000, blank=True)
    html_body = models.TextField(max_length=400_000, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(max_length=2_000, blank=True)
    message_id = models.CharField(max_length=200, blank=True, help_text="The provider's id, for delivery reports")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta(FirmOwnedModel.Meta):
        constraints = [
            # A bulk email reaches each address once, whatever restarts and retries happen.
            models.UniqueConstraint(
                fields=["firm", "bulk", "to"], name="mail_email_bulk_to_uniq", condition=models.Q(bulk__isnull=False)
            ),
        ]
        indexes = [
            models.Index(fields=["firm", "contact_id", "-created_at"], name="mail_email_contact_idx"),
            models.Index(fields=["firm", "-created_at"], name="mail_email_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} to {self.to}"


class BulkStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


class BulkEmail(FirmOwnedModel):
    """One email to many contacts: a row per recipient in ``OutgoingEmail`` (unique per address),
    sent by a background job that resumes where it stopped."""

    audited: ClassVar[bool] = False

    template = models.ForeignKey("mail.MessageTemplate", on_delete=models.PROTECT, related_name="+")
    category = models.CharField(max_length=16, choices=EmailCategory.choices)
    subject = models.CharField(max_length=300)
    status = models.CharField(max_length=16, choices=BulkStatus.choices, default=BulkStatus.QUEUED)
    job_id = models.BigIntegerField(null=True, blank=True)
    recipients = models.PositiveIntegerField(default=0)
    skipped_unsubscribed = models.PositiveIntegerField(default=0)
    skipped_no_address = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # The recipients as chosen (resolved within the creator's scope when it was created), the
    # selection's name for people, and how far the job staged them (resume point; mail/bulk.py).
    contact_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    source = models.CharField(max_length=200, blank=True)
    staged_through = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"Bulk email {self.subject}"


class MessageTemplate(FirmOwnedModel):
    """A firm's own message: subject and body with merge fields, used for individual and bulk emails."""

    name = models.CharField(max_length=120)
    category = models.CharField(max_length=16, choices=EmailCategory.choices, default=EmailCategory.SERVICE)
    subject = models.CharField(max_length=300)
    body = models.TextField(max_length=20_000)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    name_fields = frozenset({"name"})

    class Meta(FirmOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["firm", "name"], name="mail_template_name_uniq")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Unsubscribe(FirmOwnedModel):
    """A contact's (or an address's) opt-out of the firm's marketing emails."""

    email = models.EmailField()
    contact_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(FirmOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["firm", "email"], name="mail_unsubscribe_email_uniq")]

    def __str__(self) -> str:
        return f"{self.email} unsubscribed"
