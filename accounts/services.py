"""Every write of identity data."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.db import transaction
from django.utils import timezone

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
def api_token_create(*, user: User, name: str, expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """Create a token; the returned plain text is shown once and never stored."""
    prefix = secrets.token_hex(5)
    secret = secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name, prefix=prefix, digest=_digest(secret), expires_at=expires_at)
    token.full_clean()
    token.save()
    return token, f"{TOKEN_PREFIX}_{prefix}_{secret}"


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
