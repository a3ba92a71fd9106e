"""Pending items: one queue of everything waiting on someone, over registered item kinds.

A kind (workflow steps, tasks; later funding requests, fee approvals, account applications,
registration tasks) gives a key, a label, the rights it needs and a function returning the
user's items within their rights and scope, newest-relevant first, at most ``limit``. Only the
shell imports this module and registers kinds (``advisorportal.shell.pending_kinds``): features
below the shell never import it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from accounts.policy import has_right
from accounts.rights import Right


@dataclass(frozen=True)
class Action:
    """A link, or (``post``) a button that sends a form to ``url`` with ``key`` as its
    idempotency key and the queue's page as ``next``; actions that need more (a reason, a
    confirmation) are links to the item's own page."""

    label: str
    url: str
    post: bool = False
    key: str = ""


@dataclass(frozen=True)
class PendingItem:
    kind: str
    kind_label: str
    date: dt.date  # when it started waiting
    title: str  # the account title, or the contact's name
    number: str  # the account number ("" for a contact)
    subject: str  # what is waiting
    status: str
    waits_on: str
    due: dt.date | None
    overdue: bool = False
    actions: tuple[Action, ...] = field(default_factory=tuple)


ItemsFn = Callable[..., list[PendingItem]]  # (user, *, q: str, status: str, limit: int | None)
CountFn = Callable[..., int | None]  # (user, *, q: str, status: str); None: count the items built


@dataclass(frozen=True)
class ItemKind:
    key: str
    label: str
    items: ItemsFn
    rights: tuple[Right, ...] = ()
    statuses: tuple[tuple[str, str], ...] = ()
    # How many items there are, without building them: a kind with many items (funding requests)
    # gives it, so a page of the queue builds only the items up to that page.
    count: CountFn | None = None

    def visible_to(self, user: Any) -> bool:
        return all(has_right(user, right) for right in self.rights)


_KINDS: dict[str, ItemKind] = {}


def register(kind: ItemKind) -> ItemKind:
    if kind.key in _KINDS and _KINDS[kind.key] != kind:
        raise ValueError(f"A pending-item kind {kind.key!r} is already registered.")
    _KINDS[kind.key] = kind
    return kind


def unregister(key: str) -> None:
    _KINDS.pop(key, None)


def kinds_for(user: Any) -> list[ItemKind]:
    return [kind for kind in _KINDS.values() if kind.visible_to(user)]


def pending_items(
    *, user: Any, kind: str = "", status: str = "", q: str = "", since: dt.date | None = None, limit: int | None = None
) -> list[PendingItem]:
    """The user's pending items of every kind they may see (or of one), soonest due first."""
    rows: list[PendingItem] = []
    for item_kind in kinds_for(user):
        if kind and item_kind.key != kind:
            continue
        rows.extend(item_kind.items(user, q=q.strip(), status=status, limit=limit))
    if since is not None:
        rows = [row for row in rows if row.date >= since or (row.due is not None and row.due <= dt.date.today())]
    rows.sort(key=lambda row: (row.due or dt.date.max, row.date))
    return rows[:limit] if limit else rows


class PendingRows(Sequence[PendingItem]):
    """The user's pending items as the queue's pages read them: its length sums the kinds'
    counts; a slice builds at most ``stop`` items of each kind (each kind's items come soonest due
    first), merges them and cuts the slice."""

    def __init__(self, *, user: Any, kind: str = "", status: str = "", q: str = "") -> None:
        self.user, self.status, self.q = user, status, q.strip()
        self.kinds = [
            k
            for k in kinds_for(user)
            if (not kind or k.key == kind) and (not status or status in {code for code, _ in k.statuses})
        ]
        self._length: int | None = None

    def __len__(self) -> int:
        if self._length is None:
            total = 0
            for k in self.kinds:
                counted = k.count(self.user, q=self.q, status=self.status) if k.count else None
                total += counted if counted is not None else len(k.items(self.user, q=self.q, status=self.status,
                                                                          limit=None))  # fmt: skip
            self._length = total
        return self._length

    def __getitem__(self, index: Any) -> Any:
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError("Pending items are read by page: slice them.")
        stop = index.stop if index.stop is not None else len(self)
        rows: list[PendingItem] = []
        for item_kind in self.kinds:
            rows.extend(item_kind.items(self.user, q=self.q, status=self.status, limit=stop or None))
        rows.sort(key=lambda row: (row.due or dt.date.max, row.date))
        return rows[index]
