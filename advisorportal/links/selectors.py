"""Every read of links (resolving a token is a service: it records refusals)."""

from __future__ import annotations

from django.db import models
from django.db.models import QuerySet
from django.db.models.functions import Now

from advisorportal.links.models import Link, LinkCode


def links_about(*, subject: models.Model) -> QuerySet[Link]:
    """The links issued about ``subject``, newest first (for "sent on …, used on …" and re-sending)."""
    return Link.objects.filter(subject_type=subject._meta.label_lower, subject_id=str(subject.pk)).order_by("-pk")


def open_code(*, link: Link) -> LinkCode | None:
    """The link's newest code that can still be used (for "we sent a code to …")."""
    return (
        LinkCode.objects.filter(link=link, used_at=None, voided_at=None, expires_at__gt=Now())
        .order_by("-created_at")
        .first()
    )
