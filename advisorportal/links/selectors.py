"""Every read of links (resolving a token is a service: it records refusals)."""

from __future__ import annotations

from django.db import models
from django.db.models import QuerySet

from advisorportal.links.models import Link


def links_about(*, subject: models.Model) -> QuerySet[Link]:
    """The links issued about ``subject``, newest first (for "sent on …, used on …" and re-sending)."""
    return Link.objects.filter(subject_type=subject._meta.label_lower, subject_id=str(subject.pk)).order_by("-pk")
