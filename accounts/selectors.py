"""Every read of identity data; always per firm."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from accounts.models import AccessGrant, ApiToken, AuditAction, AuditEntry, Firm, User
from accounts.rights import Right
from advisorportal.pdf import Branding


def user_grants(*, user: User) -> dict[Right, tuple[int, str]]:
    """Each right the user holds, with its grant id and account scope; one query per request."""
    cached: dict[Right, tuple[int, str]] | None = getattr(user, "_grants_cache", None)
    if cached is None:
        rows = AccessGrant.objects.filter(user_id=user.pk).values_list("right", "id", "scope")
        cached = {Right(right): (grant_id, scope) for right, grant_id, scope in rows}
        user._grants_cache = cached  # type: ignore[attr-defined]
    return cached


def user_rights(*, user: User) -> frozenset[Right]:
    """The user's rights, loaded once per request and cached on the user object."""
    return frozenset(user_grants(user=user))


def firm_branding(*, firm: Firm) -> Branding:
    """The firm's name, colours and logo, as documents and emails show them."""
    return Branding.with_logo_file(name=firm.name, primary=firm.brand_primary, accent=firm.brand_accent, logo=firm.logo)


def firm_users(*, firm_id: int) -> QuerySet[User]:
    return User.objects.filter(firm_id=firm_id).order_by("full_name")


def audit_entries(
    *,
    user: User,
    actor_id: int | None = None,
    action: str = "",
    object_type: str = "",
    object_id: str = "",
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
) -> QuerySet[AuditEntry]:
    """The firm's audit trail, newest first, filtered. Only for holders of User Management."""
    entries = AuditEntry.objects.select_related("actor")
    if actor_id is not None:
        entries = entries.filter(actor_id=actor_id)
    if action:
        entries = entries.filter(action=action)
    if object_type:
        entries = entries.filter(object_type=object_type)
    if object_id:
        entries = entries.filter(object_id=object_id)
    if date_from is not None:
        entries = entries.filter(created_at__date__gte=date_from)
    if date_to is not None:
        entries = entries.filter(created_at__date__lte=date_to)
    return entries.order_by("-id")


def recent_changes(
    *, object_type: str, object_ids: QuerySet[Any], since: datetime.datetime, field: str = "", limit: int = 50
) -> QuerySet[AuditEntry]:
    """Changes to objects of ``object_type`` among ``object_ids`` (a subquery of ids as text: the
    caller's scope) since ``since``, newest first; with ``field``, only those that changed it. For
    the dashboard's Recent activity (not the audit trail page, which needs User Management)."""
    entries = AuditEntry.objects.filter(
        object_type=object_type, action=AuditAction.UPDATE, created_at__gte=since, object_id__in=object_ids
    )
    if field:
        entries = entries.filter(changes__has_key=field)
    return entries.select_related("actor").order_by("-id")[:limit]


def audit_object_types(*, user: User) -> list[tuple[str, str]]:
    """The kinds of object the firm's trail mentions, for the filter menu: (``crm.contact``, "Contact")."""
    from django.apps import apps

    from advisorportal.tenancy.models import FirmOwnedModel

    types = [m._meta.label_lower for m in apps.get_models() if issubclass(m, FirmOwnedModel) and m.audited]
    return sorted(((t, audit_object_type_label(t)) for t in types), key=lambda c: c[1])


def audit_object_type_label(object_type: str) -> str:
    """An audit entry's object type as people read it ("Contact", not ``crm.contact``)."""
    from django.apps import apps

    if not object_type:
        return ""
    try:
        model = apps.get_model(object_type)
    except (LookupError, ValueError):
        return object_type
    name = str(model._meta.verbose_name)
    return name[:1].upper() + name[1:]


@dataclass(frozen=True)
class SignIn:
    at: datetime.datetime
    ip: str
    user_agent: str
    succeeded: bool


def login_history(*, user: User, limit: int = 10) -> list[SignIn]:
    """The user's recent sign-ins, successful and failed, newest first."""
    from axes.models import AccessFailureLog, AccessLog

    ok = AccessLog.objects.filter(username=user.email).order_by("-attempt_time")[:limit]
    failed = AccessFailureLog.objects.filter(username=user.email).order_by("-attempt_time")[:limit]
    events = [SignIn(a.attempt_time, a.ip_address or "", a.user_agent, True) for a in ok]
    events += [SignIn(f.attempt_time, f.ip_address or "", f.user_agent, False) for f in failed]
    return sorted(events, key=lambda e: e.at, reverse=True)[:limit]


def api_tokens(*, user: User) -> QuerySet[ApiToken]:
    """The user's own tokens, newest first (revoked and expired ones too, for the record)."""
    return ApiToken.objects.filter(user=user).order_by("-created_at")


@dataclass(frozen=True)
class UserOverview:
    user: User
    two_factor: bool
    invited: bool  # has not set a password yet


def firm_user_overview(*, firm_id: int) -> list[UserOverview]:
    """The firm's users for Settings → Users, with their 2FA state, in two queries."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    users = list(firm_users(firm_id=firm_id))
    with_2fa = set(TOTPDevice.objects.filter(user__in=users, confirmed=True).values_list("user_id", flat=True))
    return [UserOverview(u, u.pk in with_2fa, not u.has_usable_password()) for u in users]


@dataclass(frozen=True)
class ScopeOf:
    """The scope shared by a user's client rights: every client, or the chosen ones."""

    scope: str
    account_ids: list[int]
    household_ids: list[int]
    group_ids: list[int]


def account_scope_of(*, user: User) -> ScopeOf:
    from accounts.models import AccountScope, GrantAccount, GrantGroup, GrantHousehold
    from accounts.rights import ACCOUNT_FREE_RIGHTS

    grants = [
        (gid, scope) for right, (gid, scope) in user_grants(user=user).items() if right not in ACCOUNT_FREE_RIGHTS
    ]
    if not grants or grants[0][1] == AccountScope.ALL:
        return ScopeOf(AccountScope.ALL, [], [], [])
    grant_id = grants[0][0]
    return ScopeOf(
        AccountScope.SELECTED,
        list(GrantAccount.objects.filter(grant_id=grant_id).values_list("account_id", flat=True)),
        list(GrantHousehold.objects.filter(grant_id=grant_id).values_list("household_id", flat=True)),
        list(GrantGroup.objects.filter(grant_id=grant_id).values_list("group_id", flat=True)),
    )
