from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.selectors import user_rights


def branding(request: HttpRequest) -> dict[str, Any]:
    """The signed-in user's firm (for the white-branded layout) and rights (for the navigation)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"firm": None, "my_right_codes": frozenset()}
    from accounts.two_factor import pending_step

    if pending_step(request) is not None:
        # Until the second factor is done the layout offers nothing but signing out.
        return {"firm": user.firm, "my_right_codes": frozenset(), "two_factor_pending": True}
    return {"firm": user.firm, "my_right_codes": frozenset(r.value for r in user_rights(user=user))}
