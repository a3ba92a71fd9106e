"""Tests with real concurrency: committed rows, threads with their own database connections.

A normal test runs inside one transaction that is rolled back, so no other connection can see
its rows. ``committed_db`` gives a test no transaction at all: what it writes is committed, and
threads (each with its own Django connection) see it. pytest-django's ``transaction=True`` would
empty the tables afterwards as the application role, which may not TRUNCATE (and the audit trail
is append-only); here the owner role empties them, keeping what migrations put in.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from django.db import connection, connections

T = TypeVar("T")

# Rows that migrations and Django's post-migrate hooks create: kept.
KEEP = frozenset({"django_migrations", "django_content_type", "auth_permission"})


@pytest.fixture
def committed_db(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    with django_db_blocker.unblock():
        try:
            yield
        finally:
            connection.close()
            owner = connections["owner"]
            tables = [t for t in owner.introspection.django_table_names(only_existing=True) if t not in KEEP]
            with owner.cursor() as cursor:
                cursor.execute("TRUNCATE " + ", ".join(owner.ops.quote_name(t) for t in tables) + " CASCADE")
            owner.close()


def run_concurrently(count: int, work: Callable[[int], T], *, timeout: float = 60) -> list[T | BaseException]:
    """Run ``work(0)`` … ``work(count - 1)`` in ``count`` threads released at the same moment,
    each on its own database connection (closed at the end); returns each result or exception."""
    barrier = threading.Barrier(count)
    results: list[T | BaseException] = [RuntimeError("did not finish")] * count

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except BaseException as error:  # noqa: BLE001 - handed back to the test, which checks it
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread is still running"
    return results
