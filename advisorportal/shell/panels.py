"""The dashboard's panel registry.

A panel is a key, a label, the right a user needs to see it, a template and a function that
builds the panel's context for a user (through the owning app's selectors, which apply the
user's account scope). Only the shell imports this module and registers panels (see
``advisorportal.shell.dashboard_panels``): features below the shell never import it, so the
layering holds. A panel whose data is not built yet is simply not registered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.loader import render_to_string

from accounts.policy import has_right
from accounts.rights import Right
from advisorportal.shell.models import DashboardLayout


@dataclass(frozen=True)
class Panel:
    key: str
    label: str
    template: str
    context: Callable[[Any], dict[str, Any]]
    rights: tuple[Right, ...] = ()  # every one of them is needed; empty: any signed-in user
    any_of: tuple[Right, ...] = ()  # and, when given, one of these (the seed's "A or B")
    params: tuple[str, ...] = ()  # query parameters ``context`` takes as keyword arguments (a sort)

    def visible_to(self, user: Any) -> bool:
        return all(has_right(user, right) for right in self.rights) and (
            not self.any_of or any(has_right(user, right) for right in self.any_of)
        )


_PANELS: dict[str, Panel] = {}


def register(panel: Panel) -> Panel:
    if panel.key in _PANELS and _PANELS[panel.key] != panel:
        raise ValueError(f"A dashboard panel {panel.key!r} is already registered.")
    _PANELS[panel.key] = panel
    return panel


def registered() -> list[Panel]:
    """Every registered panel, in the default order (the order of registration)."""
    return list(_PANELS.values())


def render(panel: Panel, request: Any) -> str:
    """The panel's fragment for the request's user, with the query parameters it takes."""
    params = {name: str(request.GET.get(name, ""))[:40] for name in panel.params}
    context = panel.context(request.user, **params)
    return render_to_string(panel.template, {"panel": panel, **context}, request=request)


def panels_for(user: Any) -> list[Panel]:
    """The panels the user's rights allow, in the default order."""
    return [panel for panel in _PANELS.values() if panel.visible_to(user)]


# --- Each user's arrangement (``DashboardLayout``) -----------------------------------------------


@dataclass(frozen=True)
class PlacedPanel:
    panel: Panel
    shown: bool


def arrangement(user: Any) -> list[PlacedPanel]:
    """The panels the user may see, in their chosen order (panels they never placed follow in the
    default order), each with whether they show it. One query."""
    allowed = panels_for(user)
    layout = DashboardLayout.objects.filter(user_id=user.pk).values_list("order", "hidden").first()
    order, hidden = layout if layout else ([], [])
    rank = {key: i for i, key in enumerate(order)}
    placed = sorted(allowed, key=lambda p: (rank.get(p.key, len(rank)), allowed.index(p)))
    return [PlacedPanel(p, p.key not in hidden) for p in placed]


def arrange(user: Any, *, order: list[str], shown: set[str]) -> list[PlacedPanel]:
    """Save the user's arrangement: ``order`` the panel keys top to bottom, ``shown`` those to
    show. Every key must be a panel the user may see; each at most once. Keys of panels the user
    may not see now are kept (after the others), so losing and regaining a right keeps the choice."""
    allowed = {p.key for p in panels_for(user)}
    unknown = [key for key in [*order, *shown] if key not in allowed]
    if unknown:
        raise ValidationError(f"Unknown panel: {unknown[0]!r}.", code="unknown_panel")
    if len(set(order)) != len(order):
        raise ValidationError("Each panel may appear once in the order.", code="duplicate_panel")
    with transaction.atomic():
        layout, _ = DashboardLayout.objects.select_for_update().get_or_create(user_id=user.pk)
        kept = [key for key in layout.order if key not in allowed]
        placed = order + [p.key for p in panels_for(user) if p.key not in order]
        layout.order = placed + kept
        layout.hidden = [key for key in placed if key not in shown] + [k for k in layout.hidden if k not in allowed]
        layout.save()
    return arrangement(user)


def arrangement_reset(user: Any) -> None:
    DashboardLayout.objects.filter(user_id=user.pk).delete()
