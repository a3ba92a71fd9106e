"""The one place that answers "may this user do X?" and "which grant says on which clients?".

Views, API endpoints, selectors and background jobs ask here. Which rows a selected scope covers
is the client book's business: ``crm.scope.scope_contacts`` and ``portfolios.scope.scope_accounts``
read the grant this module names.
"""

from __future__ import annotations

from typing import Any

from accounts.models import AccountScope
from accounts.rights import Right
from accounts.selectors import user_grants


def has_right(user: Any, right: Right) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return right in user_grants(user=user)


def grant_scope(user: Any, right: Right) -> tuple[bool, int | None]:
    """(allowed at all, the grant id when its scope is a selection; None for every client)."""
    grant = user_grants(user=user).get(right) if getattr(user, "is_authenticated", False) else None
    if grant is None:
        return False, None
    grant_id, scope = grant
    return True, (None if scope == AccountScope.ALL else grant_id)
