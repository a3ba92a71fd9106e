"""Cache keys carry the database name, so deployments (and parallel test databases) that share a
Redis never read each other's entries, even where their firms have the same ids."""

from __future__ import annotations

from django.db import connections


def make_key(key: str, key_prefix: str, version: int) -> str:
    database = connections["default"].settings_dict["NAME"]
    return f"{key_prefix}:{database}:{version}:{key}"
