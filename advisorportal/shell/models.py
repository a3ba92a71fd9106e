from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from advisorportal.tenancy.models import FirmOwnedModel


class DashboardLayout(FirmOwnedModel):
    """A user's own arrangement of the dashboard: the panel keys in the order they chose, and the
    ones they hid. Panels registered later, or not in ``order``, follow in the default order."""

    # A person's display preference, not firm data: the audit trail would only be noise.
    audited: ClassVar[bool] = False

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    order = ArrayField(models.CharField(max_length=40), default=list, size=60)
    hidden = ArrayField(models.CharField(max_length=40), default=list, size=60)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(FirmOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["firm", "user"], name="shell_layout_user_uniq")]

    def __str__(self) -> str:
        return f"Dashboard layout of user {self.user_id}"
