"""Browser tests: the real application served by gunicorn, driven by Chromium through Playwright.

The server gets a database of its own, ``<db>_e2e_<worker>``, created by the owner role, migrated
and seeded with the demo firms (``seed_demo``), so nothing here needs pytest-django's transactional
test databases (the application role may not TRUNCATE). Tests log in with the demo credentials.

The Playwright objects are module-scoped on purpose: while the sync API is started, asyncio sees
a running event loop in the main thread, and Django refuses database access from any later test
in the same process (``SynchronousOnlyOperation``). Closing Playwright after the browser module
keeps the other tests of the worker unaffected.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from gunicorn.config import KNOWN_SETTINGS
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright
from psycopg import sql

BASE_DIR = Path(__file__).resolve().parent.parent.parent
BIN_DIR = Path(sys.executable).parent
VAR_DIR = Path(os.environ.get("APP_VAR_DIR", BASE_DIR / "var"))
SCREENSHOT_DIR = VAR_DIR / "screenshots"
SERVER_START_TIMEOUT = 120.0  # seconds; generous for a loaded 2-core machine
TIMEOUT_MS = 10_000  # for each action and each expect(); generous, as the machine may be busy
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_configure(config: pytest.Config) -> None:
    # Registered by pytest-xdist too; declared here so that `-p no:xdist` runs warn about nothing.
    config.addinivalue_line("markers", "xdist_group(name): run these tests on one xdist worker")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep ``xdist_group`` working on pytest >= 9.2 with pytest-xdist <= 3.8.

    On a worker with ``--dist loadgroup``, xdist appends ``@<group>`` to each grouped test's node id
    by setting ``item._nodeid``; pytest 9.2 keeps node ids in ``item._id`` instead, so the suffix is
    lost and the browser tests are spread over every worker, each starting its own server
    (https://github.com/pytest-dev/pytest-xdist/issues/1386). Do what xdist means to do, for the
    browser tests only, and only where the suffix is missing. Remove once xdist handles it.
    """
    if not getattr(config.option, "loadgroup", False):
        return
    here = Path(__file__).parent
    for item in items:
        marks = list(item.iter_markers("xdist_group"))
        if not marks or here not in item.path.parents:
            continue
        groups = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in marks})
        suffix = "@" + "_".join(groups)
        node_id = getattr(item, "_id", None)
        if item.nodeid.endswith(suffix) or node_id is None or not hasattr(type(node_id), "parse"):
            continue
        item._id = type(node_id).parse(item.nodeid + suffix)


def chromium_path() -> str | None:
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


@dataclass(frozen=True)
class E2EServer:
    base_url: str
    credentials: dict[str, Any]
    mail_dir: Path

    def wait_for_mail(self, to: str, timeout: float = 30) -> str:
        """The text of the newest email to ``to`` (Django's file backend, written by the worker)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.mail_dir.exists():
                for path in sorted(self.mail_dir.glob("*.log"), key=lambda p: p.stat().st_mtime, reverse=True):
                    text = path.read_text(errors="replace")
                    if f"To: {to}" in text:
                        return text
            time.sleep(0.25)
        raise AssertionError(f"no email to {to} within {timeout} s")

    def user(self, firm: str, local: str) -> dict[str, str]:
        """The demo login ``<local>@<firm>.example``, e.g. ``user("harbor", "owner")``."""
        email = f"{local}@{firm}.example"
        for user in self.credentials["firms"][firm]["users"]:
            if user["email"] == email:
                return user
        raise KeyError(email)

    def totp_code(self, user: dict[str, Any]) -> str:
        """The current code of the user's authenticator app (from the demo TOTP secret)."""
        from django_otp.oath import totp

        secret = user["totp_secret"]
        return f"{totp(base64.b32decode(secret + '=' * (-len(secret) % 8))):06d}"

    def backup_code(self, user: dict[str, Any]) -> str:
        """An unused backup code: a code from the app can serve one sign-in per 30 seconds only."""
        return str(user["backup_codes"].pop())


def _with_database(url: str, database: str) -> str:
    """The same server, role and options (e.g. ``?host=/socket/dir``), another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def _drop_database(maintenance_url: str, database: str) -> None:
    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(command: list[str], env: dict[str, str], log: Path) -> None:
    with log.open("ab") as out:
        code = subprocess.call(command, env=env, cwd=BASE_DIR, stdout=out, stderr=subprocess.STDOUT)
    if code != 0:
        tail = log.read_text(errors="replace")[-4000:]
        raise RuntimeError(f"{' '.join(command)} exited with {code}; output (see {log}):\n{tail}")


def _health_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own http://127.0.0.1 server
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def _wait_until_healthy(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    status: int | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        status = _health_status(base_url + "/health")
        if status == 200:
            return
        time.sleep(0.2)
    raise RuntimeError(
        f"{base_url}/health did not answer 200 within {SERVER_START_TIMEOUT:.0f} s (last status {status}):\n"
        + log.read_text(errors="replace")[-4000:]
    )


def _gunicorn_command(port: int) -> list[str]:
    command = [str(BIN_DIR / "gunicorn"), "advisorportal.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1", "--threads", "4",
               "--access-logfile", "-"]  # fmt: skip
    if any(setting.name == "control_socket_disable" for setting in KNOWN_SETTINGS):
        # Recent gunicorn opens a control socket at one fixed path in $HOME, which concurrent servers would share.
        command.append("--no-control-socket")
    return command


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    path = chromium_path()
    if path is None:
        pytest.skip(
            "Browser tests need Debian's Chromium: /usr/bin/chromium is missing and `chromium` is not on PATH "
            "(install it with `make chromium` or `apt-get install chromium`)."
        )
    return path


@pytest.fixture(scope="session")
def e2e_server(chromium_executable: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EServer]:
    """gunicorn serving the app on a free port, on a fresh, migrated and seeded database."""
    app_url, owner_url = os.environ["DATABASE_URL"], os.environ["DATABASE_OWNER_URL"]
    base_name = urlsplit(owner_url).path.lstrip("/")
    database = f"{base_name}_e2e_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    maintenance_url = _with_database(owner_url, "postgres")
    tmp = tmp_path_factory.mktemp("e2e")
    log = tmp / "server.log"
    credentials_file = tmp / "creds.json"
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": _with_database(app_url, database),
        "DATABASE_OWNER_URL": _with_database(owner_url, database),
        "APP_ENV": "development",
        "DEBUG": "false",  # as deployed: generic error pages, static files from STATIC_ROOT
        "STATIC_ROOT": str(tmp / "static"),
        "MEDIA_ROOT": str(tmp / "media"),
        "PYTHONUNBUFFERED": "1",
        "APP_VAR_DIR": str(tmp / "var"),  # emails land in <tmp>/var/mail
        "SITE_URL": base_url,
        # A queue of its own, so no other worker on this Redis takes these tasks.
        "CELERY_QUEUE": f"e2e-{database}",
    }

    _drop_database(maintenance_url, database)
    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    process: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None
    collectstatic: subprocess.Popen[bytes] | None = None
    try:
        python = sys.executable
        # collectstatic needs no database: let it run while migrate does.
        with (tmp / "collectstatic.log").open("wb") as out:
            collectstatic = subprocess.Popen(
                [python, "manage.py", "collectstatic", "--no-input", "-v", "0"],
                env=env, cwd=BASE_DIR, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        _run([python, "manage.py", "migrate", "--database", "owner", "--no-input", "-v", "0"], env, log)
        if collectstatic.wait(timeout=120) != 0:
            raise RuntimeError(f"collectstatic failed:\n{(tmp / 'collectstatic.log').read_text(errors='replace')}")
        _run(
            [
                python,
                "manage.py",
                "seed_demo",
                "--contacts",
                "40",
                "--backup-codes",
                "60",
                "--credentials",
                str(credentials_file),
            ],
            env,
            log,
        )
        credentials = json.loads(credentials_file.read_text())
        with log.open("ab") as out:
            process = subprocess.Popen(
                _gunicorn_command(port), env=env, cwd=BASE_DIR, stdout=out, stderr=subprocess.STDOUT
            )
            # A real Celery worker: emails (invitations, notices) are sent by tasks.
            worker = subprocess.Popen(
                [str(Path(python).parent / "celery"), "-A", "advisorportal", "worker", "-P", "solo",
                 "-Q", env["CELERY_QUEUE"], "-l", "warning", "--without-heartbeat", "--without-mingle",
                 "--without-gossip"],
                env=env, cwd=BASE_DIR, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        _wait_until_healthy(process, base_url, log)
        yield E2EServer(base_url=base_url, credentials=credentials, mail_dir=tmp / "var" / "mail")
    finally:
        for child in (process, worker, collectstatic):
            if child is not None:
                _stop(child)
        _drop_database(maintenance_url, database)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Playwright, chromium_executable: str) -> Iterator[Browser]:
    expect.set_options(timeout=TIMEOUT_MS)
    browser = playwright.chromium.launch(executable_path=chromium_executable, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser, e2e_server: E2EServer) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=e2e_server.base_url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def new_context(browser: Browser, e2e_server: E2EServer) -> Iterator[Callable[..., BrowserContext]]:
    """Opens further, isolated contexts (another person, another device); closes them after the test."""
    opened: list[BrowserContext] = []

    def factory(**options: Any) -> BrowserContext:
        ctx = browser.new_context(base_url=e2e_server.base_url, **options)
        ctx.set_default_timeout(TIMEOUT_MS)
        opened.append(ctx)
        return ctx

    yield factory
    for ctx in opened:
        ctx.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENSHOT_DIR
