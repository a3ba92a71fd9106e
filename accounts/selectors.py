"""Every read of identity data; always per firm."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import AccessGrant, User
from accounts.rights import Right


def user_rights(*, user: User) -> frozenset[Right]:
    """The user's rights, loaded once per request and cached on the user object."""
    cached: frozenset[Right] | None = getattr(user, "_rights_cache", None)
    if cached is None:
        cached = frozenset(
            Right(r) for r in AccessGrant.objects.filter(user_id=user.pk).values_list("right", flat=True)
        )
        user._rights_cache = cached  # type: ignore[attr-defined]
    return cached


def firm_users(*, firm_id: int) -> QuerySet[User]:
    return User.objects.filter(firm_id=firm_id).order_by("full_name")
