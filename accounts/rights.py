"""User access right components, as in the seed tutorial's UAR table."""

from __future__ import annotations

from django.db import models


class Right(models.TextChoices):
    CRM = "crm", "CRM"
    ACCOUNT_INFORMATION = "account_information", "Account Information"
    FUNDING = "funding", "Funding"
    FUNDING_AUTHORIZER = "funding_authorizer", "Funding Authorizer"
    ACTIVITY_STATEMENTS = "activity_statements", "Activity Statements"
    PORTFOLIO_ANALYST = "portfolio_analyst", "PortfolioAnalyst"
    FEE_ADMINISTRATION = "fee_administration", "Fee Administration"
    ONBOARDING = "onboarding", "Onboarding"
    TRADING = "trading", "Trading/Models"
    USER_MANAGEMENT = "user_management", "User Management"


class Role(models.TextChoices):
    PRIMARY = "primary", "Primary user"
    SECURITY_OFFICER = "security_officer", "Security officer"
    ADVISOR = "advisor", "Advisor"
    STAFF = "staff", "Staff"


ALL_CLIENT_RIGHTS = frozenset(Right) - {Right.USER_MANAGEMENT}
# Rights that are not about clients, so carry no scope. (CRM is scoped: a contact is in scope when
# it is in a chosen group or household or owns a chosen account.)
ACCOUNT_FREE_RIGHTS = frozenset({Right.USER_MANAGEMENT})

# What each role gets when a user is created; security officers adjust from there.
ROLE_PRESETS: dict[str, frozenset[Right]] = {
    Role.PRIMARY: frozenset(Right),
    Role.SECURITY_OFFICER: frozenset({Right.USER_MANAGEMENT}),
    Role.ADVISOR: ALL_CLIENT_RIGHTS,
    Role.STAFF: frozenset({Right.CRM}),
}
