"""Every write of identity data."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts import audit
from accounts.identity import identity_by_email, token_with_identity, user_of
from accounts.models import (
    AccessGrant,
    AccountScope,
    ApiToken,
    Firm,
    GrantAccount,
    GrantGroup,
    GrantHousehold,
    User,
)
from accounts.rights import ACCOUNT_FREE_RIGHTS, ROLE_PRESETS, Right, Role
from advisorportal.tenancy.context import firm_scope

TOKEN_PREFIX = "ap"  # noqa: S105 - a public marker, not a secret


@transaction.atomic
def firm_create(*, name: str, slug: str, brand_primary: str = "#1f4e79", brand_accent: str = "#c8902b") -> Firm:
    firm = Firm(name=name, slug=slug, brand_primary=brand_primary, brand_accent=brand_accent)
    firm.full_clean()
    firm.save()
    return firm


@transaction.atomic
def user_create(
    *,
    firm: Firm,
    email: str,
    full_name: str,
    role: str = Role.STAFF,
    password: str | None = None,
    rights: frozenset[Right] | None = None,
) -> User:
    if identity_by_email(email) is not None:
        # Emails sign in without naming a firm, so they are unique across firms.
        raise ValidationError({"email": "This email address cannot be used."})
    granted = ROLE_PRESETS[role] if rights is None else rights
    with firm_scope(firm):
        user = User.objects.create_user(email=email, password=password, full_name=full_name, firm=firm, role=role)
        for right in sorted(granted):
            grant = AccessGrant(firm=firm, user=user, right=right)
            grant.full_clean()
            grant.save()
    return user


SECURITY_FIELDS = ("two_factor_policy", "session_idle_minutes", "session_absolute_hours", "token_max_days")


@transaction.atomic
def firm_security_update(*, actor: User, **values: object) -> Firm:
    """Change the actor's firm's security policy (any of ``SECURITY_FIELDS``); audited."""
    unknown = set(values) - set(SECURITY_FIELDS)
    if unknown:
        raise ValidationError(f"Not a security setting: {', '.join(sorted(unknown))}.")
    firm = Firm.objects.select_for_update().get(pk=actor.firm_id)
    before = {name: getattr(firm, name) for name in values}
    for name, value in values.items():
        setattr(firm, name, value)
    firm.full_clean()
    changes = {name: [old, getattr(firm, name)] for name, old in before.items() if old != getattr(firm, name)}
    if changes:
        firm.save(update_fields=list(changes))
        with firm_scope(firm):
            audit.record(action="update", object_type="accounts.firm", object_id=str(firm.pk), object_repr=firm.name,
                         changes=changes, actor_id=actor.pk)  # fmt: skip
    return firm


@transaction.atomic
def firm_date_format_set(*, actor: User, date_format: str) -> Firm:
    """Set the date format of the actor's firm: its users who chose none read dates so; audited."""
    firm = Firm.objects.select_for_update().get(pk=actor.firm_id)
    old = firm.date_format
    firm.date_format = date_format
    firm.full_clean()
    if old != date_format:
        firm.save(update_fields=["date_format"])
        with firm_scope(firm):
            audit.record(action="update", object_type="accounts.firm", object_id=str(firm.pk), object_repr=firm.name,
                         changes={"date_format": [old, date_format]}, actor_id=actor.pk)  # fmt: skip
    return firm


@transaction.atomic
def user_date_format_set(*, user: User, date_format: str) -> User:
    """Set the user's own date format ("" for their firm's)."""
    with firm_scope(user.firm_id):
        row = User.objects.select_for_update().get(pk=user.pk)
        old = row.date_format
        row.date_format = date_format
        row.full_clean(exclude=["password"])
        if old != date_format:
            row.save(update_fields=["date_format"])
            audit.record(action="update", object_type="accounts.user", object_id=str(row.pk), object_repr=str(row),
                         changes={"date_format": [old, date_format]}, actor_id=user.pk)  # fmt: skip
    user.date_format = date_format
    return row


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_token_create(
    *, user: User, name: str, expires_in_days: int | None = None, rights: frozenset[Right] | None = None
) -> tuple[ApiToken, str]:
    """Create a token with ``rights`` (default: all the user's), expiring after ``expires_in_days``
    (default and at most: the firm's longest token lifetime); the plain text is shown once, never
    stored. Callers that act for a person check a recent second factor first (page and API)."""
    from accounts.selectors import user_rights

    firm = Firm.objects.get(pk=user.firm_id)
    with firm_scope(firm):
        held = user_rights(user=user)
        granted = held if rights is None else rights
        if not granted:
            raise ValidationError({"rights": "Choose at least one access right: a token without any can do nothing."})
        if not granted <= held:
            raise ValidationError({"rights": "A token can only carry rights its user holds."})
        days = firm.token_max_days if expires_in_days is None else expires_in_days
        if days < 1:
            raise ValidationError({"expires_in_days": "A token must be valid for at least 1 day."})
        if days > firm.token_max_days:
            raise ValidationError(
                {"expires_in_days": f"{firm.name} allows API tokens of at most {firm.token_max_days} days."}
            )
        expires_at = timezone.now() + timedelta(days=days)
        prefix = secrets.token_hex(5)
        secret = secrets.token_urlsafe(32)
        token = ApiToken(
            user=user, name=name, prefix=prefix, digest=_digest(secret), expires_at=expires_at,
            rights=sorted(r.value for r in granted),
        )  # fmt: skip
        token.full_clean()  # checks that the user exists: in the user's firm
        token.save()
        audit.record(
            action="create", object_type="accounts.apitoken", object_id=str(token.pk), object_repr=name,
            changes={"rights": [None, token.rights], "expires_at": [None, expires_at.isoformat()]},
        )  # fmt: skip
    return token, f"{TOKEN_PREFIX}_{prefix}_{secret}"


@transaction.atomic
def api_token_revoke(*, user: User, token_id: int) -> ApiToken:
    """Revoke one of the user's own tokens (idempotent)."""
    token = ApiToken.objects.select_for_update().get(pk=token_id, user=user)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        with firm_scope(user.firm_id):
            audit.record(
                action="update",
                object_type="accounts.apitoken",
                object_id=str(token.pk),
                object_repr=token.name,
                changes={"revoked_at": [None, token.revoked_at.isoformat()]},
            )
    return token


def api_token_authenticate(raw: str) -> ApiToken | None:
    """The live token for ``raw``, or None. Records when it was last used."""
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    found = token_with_identity(parts[1])
    if found is None or not secrets.compare_digest(found[0].digest, _digest(parts[2])):
        return None
    token, identity = found
    now = timezone.now()
    if token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now):
        return None
    user = user_of(identity) if identity.is_active else None
    if user is None:
        return None
    token.user = user
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


class InviteTokenGenerator(PasswordResetTokenGenerator):
    """Single-use (it changes once a password is set) and expiring links to set a first password."""

    key_salt = "advisorportal.accounts.invite"


invite_tokens = InviteTokenGenerator()


def invite_link(user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return reverse("accounts:invite-accept", args=[uid, invite_tokens.make_token(user)])


@transaction.atomic
def user_invite(*, firm: Firm, actor: User, email: str, full_name: str, role: str) -> User:
    """Create a user who sets a password from an emailed link; rights from the role's preset."""
    user = user_create(firm=firm, email=email, full_name=full_name, role=role, password=None)
    with firm_scope(firm):
        audit.record(action="create", object_type="accounts.user", object_id=str(user.pk), object_repr=user.email,
                     changes={"role": [None, role], "invited_by": [None, actor.email]}, actor_id=actor.pk)  # fmt: skip
    from accounts.tasks import send_invitation

    transaction.on_commit(lambda: send_invitation.delay(firm.pk, user.pk))
    return user


@transaction.atomic
def user_update(*, actor: User, user: User, role: str, is_active: bool, rights: frozenset[Right]) -> User:
    """Change a user's role, status and rights (each grant change lands in the audit trail)."""
    if user.firm_id != actor.firm_id:
        raise ValidationError("Unknown user.")
    if user.pk == actor.pk and (not is_active or Right.USER_MANAGEMENT not in rights):
        raise ValidationError({"is_active": "You cannot disable yourself or remove your own User Management right."})
    before = {"role": user.role, "is_active": user.is_active}
    user.role, user.is_active = role, is_active
    user.full_clean(exclude=["password"])
    user.save(update_fields=["role", "is_active"])
    with firm_scope(user.firm_id):
        current = set(AccessGrant.objects.filter(user=user).values_list("right", flat=True))
        wanted = {r.value for r in rights}
        for grant in AccessGrant.objects.filter(user=user, right__in=current - wanted):
            grant.delete()
        for right in sorted(wanted - current):
            grant = AccessGrant(user=user, right=right)
            grant.full_clean()
            grant.save()
        changes = {k: [v, getattr(user, k)] for k, v in before.items() if v != getattr(user, k)}
        if changes:
            audit.record(action="update", obj=None, object_type="accounts.user", object_id=str(user.pk),
                         object_repr=user.email, changes=changes, actor_id=actor.pk)  # fmt: skip
    user._grants_cache = None  # type: ignore[attr-defined]
    if not is_active:
        from accounts.sessions import end_sessions

        end_sessions(user=user, reason="disabled")
    return user


@transaction.atomic
def two_factor_reset(*, actor: User, user: User) -> None:
    """Remove a user's authenticator and backup codes (a lost phone); they enrol again at next sign-in."""
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.sessions import end_sessions

    if user.firm_id != actor.firm_id:
        raise ValidationError("Unknown user.")
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    end_sessions(user=user, reason="2fa reset")
    with firm_scope(user.firm_id):
        audit.record(action="update", object_type="accounts.user", object_id=str(user.pk), object_repr=user.email,
                     changes={"two_factor": ["on", "reset"]}, actor_id=actor.pk)  # fmt: skip


@transaction.atomic
def account_scope_set(
    *, actor: User, user: User, scope: str, account_ids: frozenset[int] = frozenset(),
    household_ids: frozenset[int] = frozenset(), group_ids: frozenset[int] = frozenset(),
) -> None:  # fmt: skip
    """Set the scope of all of ``user``'s client rights (all but User Management): every client, or
    the chosen accounts, households and (public) contact groups."""
    if user.firm_id != actor.firm_id:
        raise ValidationError("Unknown user.")
    if scope not in AccountScope.values:
        raise ValidationError({"scope": "Choose a valid scope."})
    if scope == AccountScope.SELECTED and not (account_ids or household_ids or group_ids):
        raise ValidationError(
            {"scope": "Choose at least one account, household or group, or give access to all clients."}
        )
    with firm_scope(user.firm_id):
        grants = AccessGrant.objects.filter(user=user).exclude(right__in=ACCOUNT_FREE_RIGHTS)
        for grant in grants:
            grant.scope = scope
            grant.full_clean()
            grant.save()
            GrantAccount.objects.filter(grant=grant).delete()
            GrantHousehold.objects.filter(grant=grant).delete()
            GrantGroup.objects.filter(grant=grant).delete()
            if scope == AccountScope.SELECTED:
                for account_id in sorted(account_ids):
                    link = GrantAccount(grant=grant, account_id=account_id)
                    link.full_clean()
                    link.save()
                for household_id in sorted(household_ids):
                    hlink = GrantHousehold(grant=grant, household_id=household_id)
                    hlink.full_clean()
                    hlink.save()
                for group_id in sorted(group_ids):
                    glink = GrantGroup(grant=grant, group_id=group_id)
                    glink.full_clean()
                    glink.save()
    user._grants_cache = None  # type: ignore[attr-defined]
