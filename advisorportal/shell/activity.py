"""The dashboard's Recent activity: what happened to the user's clients in the last ten days
(accounts opened and closed, imports, profile changes), each source through its app's selector
and that app's right and scope, merged newest first (the newest ``LIMIT`` of them) and sortable by any column."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import reverse
from django.utils import timezone

from accounts.policy import has_right
from accounts.rights import Right
from crm import selectors as crm_selectors
from crm.contact_io import selectors as contact_import_selectors
from portfolios import selectors as portfolio_selectors
from portfolios.custodian import selectors as custodian_selectors
from portfolios.selectors import Activity

DAYS = 10
LIMIT = 25  # per source, and the newest of them all the panel shows (it scrolls)
SORTS = {"date": "at", "title": "title", "number": "number", "user": "user", "what": "what"}


def _name(user: Any) -> str:
    return (user.full_name or user.email) if user else ""


def recent_activity(*, user: Any, sort: str = "-date", days: int = DAYS) -> list[Activity]:
    since = timezone.now() - dt.timedelta(days=days)
    rows: list[Activity] = []
    if has_right(user, Right.ACCOUNT_INFORMATION):
        rows += portfolio_selectors.account_activity(user=user, since=since, limit=LIMIT)
        for job in (
            custodian_selectors.job_list(user=user).filter(created_at__gte=since).order_by("-created_at")[:LIMIT]
        ):
            rows.append(
                Activity(job.created_at, f"Custodian file {job.file_name}", "",
                         reverse("imports:job-detail", args=[job.pk]), _name(job.created_by),
                         f"Custodian import: {job.get_status_display()}")
            )  # fmt: skip
    if has_right(user, Right.CRM):
        rows += crm_selectors.profile_changes(user=user, since=since, limit=LIMIT)
        imports = contact_import_selectors.import_list(user=user).filter(applied_at__gte=since)
        for imp in imports.order_by("-applied_at")[:LIMIT]:
            rows.append(
                Activity(imp.applied_at, f"Contacts from {imp.file_name}", "",
                         reverse("contact_io:import-detail", args=[imp.pk]), _name(imp.created_by),
                         f"Contact import: {imp.created_count} added, {imp.updated_count} updated")
            )  # fmt: skip
    rows = sorted(rows, key=lambda r: r.at, reverse=True)[:LIMIT]
    key = SORTS.get(sort.lstrip("-"), "at")
    descending = sort.startswith("-") or sort.lstrip("-") not in SORTS
    return sorted(rows, key=lambda r: (getattr(r, key) or "") if key != "at" else r.at, reverse=descending)
