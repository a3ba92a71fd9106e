"""The one place that answers "may this user do X?".

Views, API endpoints, selectors and background jobs ask here; nothing else decides access.
The account scope of each right arrives with the identity-and-access issue.
"""

from __future__ import annotations

from typing import Any

from accounts.rights import Right
from accounts.selectors import user_rights


def has_right(user: Any, right: Right) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return right in user_rights(user=user)
