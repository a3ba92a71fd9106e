"""The one way to a user before any firm is in scope: sign-in, the session's user, API tokens and
emailed links.

``accounts_user`` is under row-level security: with no firm in scope the application sees no user
at all. Authentication has to learn the firm first, so these functions ask the security-definer
function ``accounts_user_identity`` (accounts migration 0010), which answers, for one exact email or
one id, only the user's id, firm and whether it is active: no password hash, no name, no list. The
caller then loads the user normally, under row-level security, in that firm's scope
(``user_of``). Nothing else calls the function (a test greps for it); review any new caller here.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from accounts.models import ApiToken, User
from advisorportal.tenancy.context import firm_scope

_BIGINT_MAX = 2**63 - 1


@dataclass(frozen=True)
class Identity:
    """What authentication may know of a user before the firm is in scope."""

    user_id: int
    firm_id: int
    is_active: bool


def _lookup(email: str | None, user_id: int | None) -> Identity | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, firm_id, is_active FROM accounts_user_identity(%s, %s)", [email, user_id])
        row = cursor.fetchone()
    return Identity(*row) if row else None


def identity_by_email(email: str) -> Identity | None:
    """The user an email signs in as (normalised as stored: trimmed, lower case), or None."""
    email = email.strip().lower()
    return _lookup(email, None) if email else None


def identity_by_id(user_id: object) -> Identity | None:
    """The user of a session or an emailed link, or None (also for ids that are no ids)."""
    try:
        pk = int(str(user_id))
    except ValueError:
        return None
    return _lookup(None, pk) if 0 < pk <= _BIGINT_MAX else None


def token_with_identity(prefix: str) -> tuple[ApiToken, Identity] | None:
    """The API token with ``prefix`` and its user's identity, in one statement (a token is a global
    row; its user is reached through the same function as any other)."""
    tokens = list(
        ApiToken.objects.raw(
            "SELECT t.*, i.firm_id AS identity_firm_id, i.is_active AS identity_is_active "
            "FROM accounts_apitoken t CROSS JOIN LATERAL accounts_user_identity(NULL, t.user_id) i "
            "WHERE t.prefix = %s",
            [prefix],
        )
    )
    if not tokens:
        return None
    token = tokens[0]
    return token, Identity(token.user_id, token.identity_firm_id, token.identity_is_active)  # type: ignore[attr-defined]


def user_of(identity: Identity) -> User | None:
    """The user (with their firm), loaded under row-level security in their own firm's scope."""
    with firm_scope(identity.firm_id):
        return User.objects.select_related("firm").filter(pk=identity.user_id).first()
