"""Celery beat: close expired links, one task per firm (each in its own scope)."""

from __future__ import annotations

from typing import cast

from celery import shared_task
from django.db import models

from advisorportal.links import services
from advisorportal.links.models import Link
from advisorportal.tenancy.context import firm_task


@shared_task(acks_late=True)
@firm_task
def links_expire_firm(firm_id: int) -> int:
    """Close the firm's expired links; a rerun closes nothing new."""
    return services.links_expire()


@shared_task(acks_late=True)
def links_expire_all() -> int:
    """Celery beat: one ``links_expire_firm`` per firm; returns the firms queued. Firms are
    identity data (not firm-owned), so listing them needs no scope; the floor reaches the firm
    model through the firm key every firm-owned model has, not by importing accounts."""
    firm_model = cast(type[models.Model], Link._meta.get_field("firm").related_model)
    firm_ids = list(firm_model._default_manager.order_by("pk").values_list("pk", flat=True))
    for firm_id in firm_ids:
        links_expire_firm.delay(firm_id)
    return len(firm_ids)
