"""Every write of identity data."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import audit
from accounts.models import AccessGrant, ApiToken, Firm, User
from accounts.rights import ROLE_PRESETS, Right, Role
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
    user = User.objects.create_user(email=email, password=password, full_name=full_name, firm=firm, role=role)
    granted = ROLE_PRESETS[role] if rights is None else rights
    with firm_scope(firm):
        for right in sorted(granted):
            grant = AccessGrant(firm=firm, user=user, right=right)
            grant.full_clean()
            grant.save()
    return user


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_token_create(
    *, user: User, name: str, expires_at: datetime | None = None, rights: frozenset[Right] | None = None
) -> tuple[ApiToken, str]:
    """Create a token with ``rights`` (default: all the user's); the plain text is shown once, never stored."""
    from accounts.selectors import user_rights

    with firm_scope(user.firm_id):
        held = user_rights(user=user)
    granted = held if rights is None else rights
    if not granted <= held:
        raise ValidationError({"rights": "A token can only carry rights its user holds."})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    prefix = secrets.token_hex(5)
    secret = secrets.token_urlsafe(32)
    token = ApiToken(
        user=user, name=name, prefix=prefix, digest=_digest(secret), expires_at=expires_at,
        rights=sorted(r.value for r in granted),
    )  # fmt: skip
    token.full_clean()
    token.save()
    with firm_scope(user.firm_id):
        audit.record(action="create", object_type="accounts.apitoken", object_id=str(token.pk), object_repr=name,
                     changes={"rights": [None, token.rights], "expires_at": [None, str(expires_at)]})  # fmt: skip
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
    token = ApiToken.objects.select_related("user", "user__firm").filter(prefix=parts[1]).first()
    if token is None or not secrets.compare_digest(token.digest, _digest(parts[2])):
        return None
    now = timezone.now()
    if (
        token.revoked_at is not None
        or (token.expires_at is not None and token.expires_at <= now)
        or not token.user.is_active
    ):
        return None
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
