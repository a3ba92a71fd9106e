"""Every read of import jobs.

A user sees the jobs they uploaded; a user whose Account Information right covers all client
accounts sees every job of the firm. (A job's report names accounts, so a user with a selected
account scope must not read other people's reports.)
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts.models import AccountScope
from accounts.rights import Right
from accounts.selectors import user_grants
from advisorportal.tenancy.pagination import KeysetPage, keyset_page
from portfolios.custodian.models import ImportJob

JOB_ORDER = ("-id",)


def _visible(*, user: Any) -> QuerySet[ImportJob]:
    grant = user_grants(user=user).get(Right.ACCOUNT_INFORMATION) if user.is_authenticated else None
    if grant is None:
        return ImportJob.objects.none()
    jobs = ImportJob.objects.select_related("created_by", "background_job")
    if grant[1] != AccountScope.ALL:
        jobs = jobs.filter(created_by_id=user.pk)
    return jobs


def job_list(*, user: Any) -> QuerySet[ImportJob]:
    """The jobs the user may see, without the file content or the report (unordered)."""
    return _visible(user=user).defer("content", "background_job__issues")


def job_page(*, user: Any, after: str = "", size: int = 25) -> KeysetPage[ImportJob]:
    return keyset_page(job_list(user=user), keys=JOB_ORDER, after=after, size=size)


def jobs_with_report(*, user: Any) -> QuerySet[ImportJob]:
    """The visible jobs with their reports (never the file content)."""
    return _visible(user=user).defer("content")


def job_get(*, user: Any, pk: Any) -> ImportJob:
    """One job with its report; ``ImportJob.DoesNotExist`` for another firm's, another user's (when
    not visible) or a missing job alike."""
    return jobs_with_report(user=user).get(pk=pk)
