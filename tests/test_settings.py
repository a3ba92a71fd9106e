"""Settings come from the environment and fail loudly, naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from advisorportal.env import database_from_url, env_bool, env_choice, env_int, env_list, env_str

ROOT = Path(__file__).resolve().parent.parent


def test_missing_required_variable_is_named() -> None:
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY is required"):
        env_str("SECRET_KEY", environ={})


@pytest.mark.parametrize(
    ("reader", "value", "message"),
    [
        (env_bool, "maybe", "DEMO must be a boolean"),
        (env_int, "ten", "DEMO must be an integer"),
        (lambda name, environ: env_int(name, minimum=1, maximum=5, environ=environ), "9", "between 1 and 5"),
        (lambda name, environ: env_choice(name, ("a", "b"), environ=environ), "c", "DEMO must be one of a, b"),
    ],
)
def test_malformed_values_are_named(reader: object, value: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        reader("DEMO", environ={"DEMO": value})  # type: ignore[operator]


def test_readers_parse_good_values() -> None:
    env = {"B": "yes", "I": "42", "L": "a, b,,c"}
    assert env_bool("B", environ=env) is True
    assert env_int("I", environ=env) == 42
    assert env_list("L", environ=env) == ["a", "b", "c"]
    assert env_bool("MISSING", False, environ=env) is False


def test_database_url_parsing() -> None:
    db = database_from_url("X", "postgresql://app:s%40cret@db.internal:6543/portal?sslmode=require")
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "app",
        "s@cret",
        "db.internal",
        "6543",
        "portal",
    )
    assert db["OPTIONS"] == {"sslmode": "require"}
    socket = database_from_url("X", "postgresql://app:@/portal?host=/var/run/pg")
    assert socket["HOST"] == "/var/run/pg" and socket["OPTIONS"] == {}
    with pytest.raises(ImproperlyConfigured, match="X must be a postgresql:// URL"):
        database_from_url("X", "mysql://x/y")
    with pytest.raises(ImproperlyConfigured, match="X must name a database"):
        database_from_url("X", "postgresql://host/")


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "APP_ENV": "production",
    "SECRET_KEY": "p" * 30 + "-Zq8vX2mN4bL7cR1tY5wK9hJ3gF6dS0aQ",
    "ALLOWED_HOSTS": "portal.example.com",
    "EMAIL_HOST": "smtp.example.com",
    "SITE_URL": "https://portal.example.com",
    "QUERY_COUNT_HEADER": "false",
    "FIELD_ENCRYPTION_KEYS": "0DGmVSUSbD_TyTuKqrbGQZRkQhYgL2qh8l8mHs0EMKw=",
}


def test_production_check_deploy_is_clean() -> None:
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key() -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={k: v for k, v in {**os.environ, **env}.items() if k != "SECRET_KEY"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "Environment variable SECRET_KEY is required" in result.stderr


def test_bad_setting_value_stops_start_up() -> None:
    result = _manage("check", SESSION_COOKIE_AGE="forever")
    assert result.returncode != 0
    assert "SESSION_COOKIE_AGE must be an integer" in result.stderr
