"""Demo statements: one activity statement of the firm's first household with daily values, for
its last full quarter, made as the worker makes it (its job run in this process), and a quarterly
report definition of that household, emailed to its head, that beat runs on the first day of the
next quarter. Through the statements services, so the rows are exactly what the pages make.
Nothing is made twice: a firm that has a report definition already is left as it is.

Call inside the firm's scope, after the portfolios (it needs daily values):

    seed_statements(firm=firm, log=self.stdout.write)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from django.db.models import Max

from accounts.models import Firm, User
from advisorportal.jobs import services as jobs
from portfolios.models import ClientAccount
from reports.statements import services
from reports.statements.models import ReportDefinition


def _last_quarter(latest: date) -> tuple[date, date]:
    """The last calendar quarter that ends on or before ``latest``."""
    first = date(latest.year, 3 * ((latest.month - 1) // 3) + 1, 1)
    following = date(first.year + (first.month == 10), (first.month + 2) % 12 + 1, 1)
    end = following - timedelta(days=1) if latest >= following - timedelta(days=1) else first - timedelta(days=1)
    return date(end.year, 3 * ((end.month - 1) // 3) + 1, 1), end


def delete_statements() -> None:
    """The firm's statements and report definitions (for ``seed_demo --reset``, before its accounts
    and contacts go: statements hold on to both). Their documents go with the contacts."""
    from advisorportal.links.models import Link, LinkCode
    from reports.statements.models import DefinitionTarget, Delivery, ReportRun, Statement

    LinkCode.objects.filter(link__purpose="statements.copy").delete()
    Link.objects.filter(purpose="statements.copy").delete()
    for model in (Delivery, Statement, ReportRun, DefinitionTarget, ReportDefinition):
        model.objects.all().delete()


def seed_statements(*, firm: Firm, log: Callable[[str], object] = print) -> int:
    """The demo statement and the scheduled report of ``firm``; returns the statements made."""
    if ReportDefinition.objects.exists():
        return 0
    advisor = User.objects.filter(email=f"advisor@{firm.slug}.example").first()
    latest = ClientAccount.objects.aggregate(day=Max("nav_date"))["day"]
    if advisor is None or latest is None:
        return 0
    start, end = _last_quarter(latest)
    account = (
        ClientAccount.objects.filter(household__isnull=False, nav_date__gte=end, inception_date__lte=start)
        .order_by("household_id", "number")
        .first()
    )
    if account is None:
        return 0
    household = account.household
    subject = services.subject_of(user=advisor, household=household)
    statement = services.statement_request(actor=advisor, subject=subject, start=start, end=end)
    if statement.job_id is not None:
        jobs.job_execute(job_id=statement.job_id)  # what the worker runs; a worker later finds it done
    services.definition_save(
        actor=advisor, name=f"Quarterly statement · {household}", period="previous_quarter",
        households=[household], frequency="quarterly", email_clients=True,
    )  # fmt: skip
    log(f"{firm.name}: an activity statement of {household} for {start} to {end}, and its quarterly report")
    return 1
