"""What features do after a custodian file was stored, without the book importing them: funding
registers a hook in its ``AppConfig.ready`` that completes the requests whose reference the file
recorded. Hooks run after the import's transaction commits, with the firm and the accounts the
file wrote to; each must be quick (queue a Celery task)."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

Hook = Callable[[int, list[int]], None]
_hooks: list[Hook] = []


def on_transactions_stored(hook: Hook) -> None:
    if hook not in _hooks:
        _hooks.append(hook)


def transactions_stored(*, firm_id: int, account_ids: list[int]) -> None:
    for hook in list(_hooks):
        transaction.on_commit(lambda hook=hook: hook(firm_id, account_ids))  # type: ignore[misc]
