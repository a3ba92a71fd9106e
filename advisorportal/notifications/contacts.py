"""How the floor learns about contacts without importing the CRM.

A notification may name a contact by id. Which contacts a user may see, and their names, are the
CRM's business: it registers three functions here at start-up (``crm.notifications``). Without a
registration (the floor tested alone) every contact counts as visible and has no name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ContactDirectory:
    # May ``user`` see the contact? (``notify`` drops a notification about a contact they may not.)
    in_scope: Callable[[Any, int], bool]
    # The names of those of ``ids`` the user may see.
    names: Callable[[Any, Iterable[int]], dict[int, str]]
    # A subquery of the contact ids the user may see, or None when they see every contact.
    visible_ids: Callable[[Any], Any]


_directory: ContactDirectory | None = None


def register(directory: ContactDirectory) -> None:
    global _directory  # one registry, set once at start-up
    _directory = directory


def in_scope(user: Any, contact_id: int) -> bool:
    return True if _directory is None else _directory.in_scope(user, contact_id)


def names(user: Any, ids: Iterable[int]) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids or _directory is None:
        return {}
    return _directory.names(user, ids)


def visible_ids(user: Any) -> Any:
    return None if _directory is None else _directory.visible_ids(user)
