"""A merge of duplicate contacts into one survivor, kept with everything needed to undo it.

``snapshot`` holds, as JSON: every merged contact's stored fields (tax id ciphertext and picture
base64-encoded), every related row that was moved to the survivor or dropped because the survivor
already had the same link, and the survivor's values before and after the merge. Undo
(``contact_merge.services.merge_undo``) works from it alone.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from advisorportal.tenancy.models import FirmOwnedModel


class ContactMerge(FirmOwnedModel):
    # The snapshot copies whole contacts (pictures, tax id ciphertext): the audit entry names the
    # merge, the survivor and the merged ids instead of repeating it.
    audit_masked_fields = frozenset({"snapshot"})

    survivor = models.ForeignKey(
        "crm.Contact",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    survivor_name = models.CharField(max_length=400)
    merged_ids = ArrayField(models.BigIntegerField())
    merged_names = ArrayField(models.CharField(max_length=400))
    # {field: contact id whose value the survivor kept}, as chosen on the compare page.
    choices = models.JSONField(default=dict, blank=True)
    snapshot = models.JSONField(default=dict)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Survivor fields edited after the merge, kept as edited when the merge was undone.
    kept_fields = ArrayField(models.CharField(max_length=40), default=list, blank=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["firm", "created_at", "id"], name="contact_merge_created_idx"),
            models.Index(fields=["firm", "survivor"], name="contact_merge_survivor_idx"),
        ]

    def __str__(self) -> str:
        return f"Merge of {', '.join(self.merged_names)} into {self.survivor_name}"

    @property
    def is_undone(self) -> bool:
        return self.undone_at is not None
