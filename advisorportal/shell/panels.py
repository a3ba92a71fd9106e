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

from accounts.policy import has_right
from accounts.rights import Right


@dataclass(frozen=True)
class Panel:
    key: str
    label: str
    template: str
    context: Callable[[Any], dict[str, Any]]
    rights: tuple[Right, ...] = ()  # every one of them is needed; empty: any signed-in user

    def visible_to(self, user: Any) -> bool:
        return all(has_right(user, right) for right in self.rights)


_PANELS: dict[str, Panel] = {}


def register(panel: Panel) -> Panel:
    if panel.key in _PANELS and _PANELS[panel.key] != panel:
        raise ValueError(f"A dashboard panel {panel.key!r} is already registered.")
    _PANELS[panel.key] = panel
    return panel


def registered() -> list[Panel]:
    """Every registered panel, in the default order (the order of registration)."""
    return list(_PANELS.values())


def panels_for(user: Any) -> list[Panel]:
    """The panels the user's rights allow, in the default order."""
    return [panel for panel in _PANELS.values() if panel.visible_to(user)]
