"""Reads of statements and report definitions, each given the user (the firm is the one in scope).

Scope: the user's Activity Statements scope (``portfolios.scope.scope_accounts``). An account
outside it, another firm's and a missing one are the same ``SubjectNotFound`` (a 404); a household
is found when at least one of its accounts is in scope, and reports on those accounts only. A
statement is visible when its subject is; a definition when its targets all are (or when it runs
on every account: then only its owner, or a user whose scope is the whole firm, sees it).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet

from accounts.policy import grant_scope
from accounts.rights import Right
from crm.models import Contact, Household
from portfolios import selectors as book
from portfolios.models import AccountStatus, ClientAccount
from portfolios.scope import scope_accounts
from reports.selectors import Subject, SubjectNotFound
from reports.statements.models import DefinitionTarget, Delivery, ReportDefinition, ReportRun, Statement

ZERO = Decimal(0)
RIGHT = Right.ACTIVITY_STATEMENTS

__all__ = ["SubjectNotFound"]


def scoped_accounts(user: Any) -> QuerySet[ClientAccount]:
    accounts = ClientAccount.objects.select_related("household").order_by("number", "pk")
    return scope_accounts(accounts, user=user, right=RIGHT)


def whole_firm(user: Any) -> bool:
    allowed, grant_id = grant_scope(user, RIGHT)
    return bool(allowed and grant_id is None)


def _account_subject(account: ClientAccount) -> Subject:
    return Subject("account", account.pk, f"{account.number} · {account.title}", account.base_currency, [account], [])


def account_subject(*, user: Any, pk: Any) -> Subject:
    try:
        account = scoped_accounts(user).get(pk=pk)
    except (ClientAccount.DoesNotExist, ValueError, TypeError):
        raise SubjectNotFound from None
    return _account_subject(account)


def account_subjects(*, user: Any, pks: Any = None, accounts: QuerySet[ClientAccount] | None = None) -> list[Subject]:
    """Many accounts' subjects in one query: those of ``pks`` in the user's scope (the others left
    out), or each of ``accounts`` (already scoped)."""
    rows = accounts if accounts is not None else scoped_accounts(user).filter(pk__in=list(pks or ()))
    return [_account_subject(account) for account in rows]


def household_subject(*, user: Any, pk: Any) -> Subject:
    """The household's accounts in scope that share its main base currency (the one holding the
    most value, then the most accounts); the others are ``left_out`` (values are not converted)."""
    try:
        accounts = list(scoped_accounts(user).filter(household_id=int(pk)))
    except (ValueError, TypeError):
        raise SubjectNotFound from None
    if not accounts:
        raise SubjectNotFound
    totals: dict[str, tuple[Decimal, int]] = {}
    for account in accounts:
        value, count = totals.get(account.base_currency, (ZERO, 0))
        totals[account.base_currency] = (value + (account.nav or ZERO), count + 1)
    currency = max(sorted(totals), key=lambda c: totals[c])
    household = accounts[0].household
    assert household is not None
    return Subject(
        "household", household.pk, household.name, currency,
        [a for a in accounts if a.base_currency == currency], [a for a in accounts if a.base_currency != currency],
    )  # fmt: skip


def account_by_number(*, user: Any, number: str) -> ClientAccount | None:
    return scoped_accounts(user).filter(number=number.strip()).first()


def recipient(subject: Subject) -> Contact | None:
    """Whom a statement is kept for and sent to: the household's head, else the account's primary
    owner (else its first owner)."""
    if subject.kind == "household":
        household = Household.objects.select_related("head").filter(pk=subject.pk).first()
        return household.head if household is not None else None
    owner = book.primary_owner(account=subject.accounts[0])
    return owner if isinstance(owner, Contact) else None


def households_in_scope(*, user: Any, limit: int = 500) -> list[Household]:
    ids = scoped_accounts(user).filter(household__isnull=False).values("household_id")
    return list(Household.objects.filter(pk__in=ids).order_by("name", "pk")[:limit])


# --- Statements ------------------------------------------------------------------------------------


def _visible(statements: QuerySet[Statement], user: Any) -> QuerySet[Statement]:
    if whole_firm(user):
        return statements
    accounts = scoped_accounts(user)
    return statements.filter(Q(account__in=accounts.values("pk")) | Q(household__in=accounts.values("household_id")))


def statements(*, user: Any) -> QuerySet[Statement]:
    rows = Statement.objects.select_related("account", "household", "contact", "job", "document")
    return _visible(rows, user)


def statement_get(*, user: Any, pk: Any) -> Statement:
    try:
        return statements(user=user).get(pk=pk)
    except (Statement.DoesNotExist, ValueError, TypeError):
        raise SubjectNotFound from None


def contact_statements(*, user: Any, contact: Contact) -> QuerySet[Statement]:
    """The statements kept for ``contact`` that the user may see, made ones only, newest first."""
    return statements(user=user).filter(contact=contact).exclude(content_hash="")


# --- Definitions -----------------------------------------------------------------------------------


def definitions(*, user: Any) -> QuerySet[ReportDefinition]:
    rows = ReportDefinition.objects.select_related("created_by")
    if whole_firm(user):
        return rows
    accounts = scoped_accounts(user)
    outside = DefinitionTarget.objects.exclude(
        Q(account__in=accounts.values("pk")) | Q(household__in=accounts.values("household_id"))
    )
    mine_or_targeted = Q(every_account=False) | Q(created_by=user)
    return rows.filter(mine_or_targeted).exclude(pk__in=outside.values("definition_id"))


def definition_get(*, user: Any, pk: Any) -> ReportDefinition:
    try:
        return definitions(user=user).get(pk=pk)
    except (ReportDefinition.DoesNotExist, ValueError, TypeError):
        raise SubjectNotFound from None


def definition_targets(*, definition: ReportDefinition) -> list[DefinitionTarget]:
    return list(definition.targets.select_related("account", "household").order_by("id"))


def definition_runs(*, definition: ReportDefinition, limit: int = 20) -> list[ReportRun]:
    return list(ReportRun.objects.filter(definition=definition).select_related("job")[:limit])


def definition_deliveries(*, definition: ReportDefinition, limit: int = 200) -> QuerySet[Delivery]:
    return Delivery.objects.filter(definition=definition).select_related("contact", "email")[:limit]


def run_accounts(*, user: Any) -> QuerySet[ClientAccount]:
    """Every open account in the user's scope (a definition on every account), by number."""
    return scoped_accounts(user).exclude(status=AccountStatus.CLOSED)
