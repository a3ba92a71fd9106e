"""Typed readers for settings that come from environment variables.

Every reader fails loudly, naming the variable, when a value is missing or malformed,
so a misconfigured deployment stops at start-up instead of misbehaving later.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_MISSING: Any = object()
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str, default: Any, environ: Mapping[str, str]) -> Any:
    value = environ.get(name)
    if value is None:
        if default is _MISSING:
            raise ImproperlyConfigured(f"Environment variable {name} is required but not set.")
        return default
    return value


def env_str(name: str, default: Any = _MISSING, *, environ: Mapping[str, str] = os.environ) -> str:
    return str(_raw(name, default, environ))


def env_bool(name: str, default: Any = _MISSING, *, environ: Mapping[str, str] = os.environ) -> bool:
    value = _raw(name, default, environ)
    if isinstance(value, bool):
        return value
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"Environment variable {name} must be a boolean (1/0, true/false), got {value!r}.")


def env_int(
    name: str,
    default: Any = _MISSING,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    environ: Mapping[str, str] = os.environ,
) -> int:
    value = _raw(name, default, environ)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"Environment variable {name} must be an integer, got {value!r}.") from None
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise ImproperlyConfigured(
            f"Environment variable {name} must be between {minimum} and {maximum}, got {number}."
        )
    return number


def env_list(name: str, default: Any = _MISSING, *, environ: Mapping[str, str] = os.environ) -> list[str]:
    value = _raw(name, default, environ)
    if isinstance(value, list):
        return value
    return [item.strip() for item in value.split(",") if item.strip()]


def env_choice(
    name: str, choices: tuple[str, ...], default: Any = _MISSING, *, environ: Mapping[str, str] = os.environ
) -> str:
    value = env_str(name, default, environ=environ)
    if value not in choices:
        raise ImproperlyConfigured(f"Environment variable {name} must be one of {', '.join(choices)}, got {value!r}.")
    return value


def database_from_url(name: str, url: str) -> dict[str, Any]:
    """Turn ``postgresql://user:pass@host:port/db?host=/socket/dir`` into a Django DATABASES entry."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured(
            f"Environment variable {name} must be a postgresql:// URL, got scheme {parts.scheme!r}."
        )
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise ImproperlyConfigured(f"Environment variable {name} must name a database in its path.")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    host = query.pop("host", None) or parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured(f"Environment variable {name} has an invalid port.") from None
    return {
        "ENGINE": "advisorportal.tenancy.backend",
        "NAME": database,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(port or ""),
        "OPTIONS": query,
    }
