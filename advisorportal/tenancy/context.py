"""The current firm of this request, task or command, held in a context variable.

It is set once per request from the authenticated user's membership (never from anything the
user can edit), by ``firm_scope`` in tasks and management commands, and always reset in
``finally``. The ORM manager (layer 2) and the database session setting used by row-level
security (layer 3) both read it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

_current_firm_id: ContextVar[int | None] = ContextVar("current_firm_id", default=None)


class FirmScopeError(RuntimeError):
    """Raised when firm-owned data is touched without a firm in scope."""


def current_firm_id() -> int | None:
    return _current_firm_id.get()


def require_firm_id() -> int:
    firm_id = _current_firm_id.get()
    if firm_id is None:
        raise FirmScopeError(
            "No firm in scope: firm-owned data may only be read or written inside a request of an "
            "authenticated firm user, or inside `firm_scope(firm)` in tasks and commands."
        )
    return firm_id


def _firm_id_of(firm: Any) -> int:
    firm_id = firm if isinstance(firm, int) else getattr(firm, "pk", None)
    if not isinstance(firm_id, int) or isinstance(firm_id, bool):
        raise FirmScopeError(f"firm_scope needs a saved Firm or a firm id, got {firm!r}.")
    return firm_id


@contextmanager
def firm_scope(firm: Any) -> Iterator[int]:
    """Run a block with ``firm`` (a Firm or its id) as the current firm."""
    token = _current_firm_id.set(_firm_id_of(firm))
    try:
        yield _current_firm_id.get()  # type: ignore[misc]
    finally:
        _current_firm_id.reset(token)


def firm_stream(firm: Any, rows: Iterable[T]) -> Iterator[T]:
    """``rows`` read inside ``firm``'s scope, for a streamed response: its body is read after the
    view has returned and the request's transaction has committed, outside the request's scope.
    Each query then runs in a short transaction of its own with the firm handed to row-level
    security (``QuerySet.iterator()``'s cursor is held open across them: no long transaction
    follows a slow client)."""
    with firm_scope(firm):
        yield from rows


@contextmanager
def no_firm_scope() -> Iterator[None]:
    """Run a block with no firm in scope (used at the edge of requests and tasks)."""
    token = _current_firm_id.set(None)
    try:
        yield
    finally:
        _current_firm_id.reset(token)


def firm_task(func: Callable[..., R]) -> Callable[..., R]:
    """Decorate a Celery task body whose first argument is ``firm_id``.

    The task refuses loudly when called without a firm id, and runs the body inside that firm's
    scope, so every query it makes is filtered by the ORM and by row-level security.
    """

    @functools.wraps(func)
    def wrapper(firm_id: int | None = None, *args: Any, **kwargs: Any) -> R:
        if firm_id is None:
            raise FirmScopeError(f"Task {func.__name__} was started without a firm_id; it refuses to run unscoped.")
        with firm_scope(int(firm_id)):
            return func(firm_id, *args, **kwargs)

    return wrapper


def queue_per_firm(task: Any) -> int:
    """Celery beat's fan-out: ``task.delay(firm_id)`` for every firm (a ``firm_task``), so each
    firm's work runs in its own scope; returns the firms queued. Firms are identity data, not
    firm-owned, so listing them needs no scope; the floor names the model, it does not import it."""
    from django.apps import apps

    firm_ids = list(apps.get_model("accounts", "Firm")._default_manager.order_by("pk").values_list("pk", flat=True))
    for firm_id in firm_ids:
        task.delay(firm_id)
    return len(firm_ids)
