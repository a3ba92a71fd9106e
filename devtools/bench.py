"""Benchmark harness: a large demo firm, a real server, and named HTTP scenarios. It only measures.

    make bench
    python -m devtools.devenv run -- .venv/bin/python -m devtools.bench

Environment (``DATABASE_URL``, ``DATABASE_OWNER_URL`` and ``REDIS_URL`` come from ``devenv run``):

    BENCH_SCALE       ``full`` (default: 100,000 contacts and 20,000 accounts x 5 years per firm), ``crm``
                      (100,000 contacts, 2,000 accounts x 1 year) or ``small`` (2,000 contacts per firm)
    BENCH_SCENARIOS   comma-separated subset of the scenarios to run, e.g. ``login,api_list`` (default: all)
    BENCH_WORKERS     concurrent client threads for every scenario (default: 2, and 8 for ``mixed``)
    BENCH_REQUESTS    measured requests per scenario (default 300 at full scale, 100 at small)

Steps:

1. The database ``<db of DATABASE_OWNER_URL>_bench_<scale>`` is created, migrated and filled by
   ``manage.py seed_demo`` with the demo firms Harbor and Summit at the scale's sizes. It is
   reused when ``var/bench/<scale>.json`` says it was fully built with the same sizes, seed and
   data generator; otherwise it is dropped and built again. seed_demo runs on every start anyway
   (cheap once the data exists) to renew the passwords and tokens in ``var/bench/credentials.json``.
2. gunicorn serves the app on a free port of 127.0.0.1 (the production ``gunicorn.conf.py``: 2 x cores
   + 1 sync workers; ``BENCH_GUNICORN_ARGS`` adds options, e.g. ``-w 3``; ``DEBUG=false``,
   the ``X-Query-Count`` header on, API throttling lifted); its log is ``var/bench/gunicorn.log``.
3. Each scenario runs a short warm-up, then a fixed number of measured requests from
   ``BENCH_WORKERS`` threads, each with its own ``httpx.Client``. Every response must have the
   expected status; a scenario with any other is reported as failed and the exit status is 1.
4. ``var/bench/report.json`` gets the machine, the firm's sizes and build time, and per scenario
   p50/p95 latency, requests per second and the most SQL queries one request made; a table with
   the engineering targets beside the figures goes to stdout. Nothing asserts on timing.

To add a scenario, decorate a function ``(worker) -> Sample`` with ``@scenario("name")`` (see
``api_list``); ``sizes`` for a new seed_demo flag go into ``SCALES``.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import math
import os
import platform
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import httpx
import psycopg
from django_otp.oath import totp
from psycopg import sql

BASE_DIR = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("APP_VAR_DIR", BASE_DIR / "var"))
BENCH_DIR = VAR / "bench"
BIN = Path(sys.executable).parent
GUNICORN_CONF = BASE_DIR / "gunicorn.conf.py"  # the production settings (sync workers)

FIRMS = ("harbor", "summit")
SEED = 20261121
# Demo firm sizes per scale. Each key is passed to seed_demo as ``--<key> <value>``.
SCALES: dict[str, dict[str, int]] = {
    "full": {"contacts": 100_000, "accounts": 20_000, "years": 5, "tasks": 10_000, "funding": 5_000},
    "small": {"contacts": 2_000, "accounts": 500, "years": 2, "tasks": 10_000, "funding": 5_000},
    # The CRM at full size without the 20k-account portfolio build (for contacts_* scenarios).
    "crm": {"contacts": 100_000, "accounts": 2_000, "years": 1},
}
MEASURED_REQUESTS = {"full": 300, "small": 100, "crm": 300}
WARMUP_REQUESTS = 10
# Latency scenarios keep one request per core in flight (an office's steady use); the `mixed`
# throughput scenario overloads the server on purpose. The client shares the 2 cores.
WORKERS = 2
MIXED_WORKERS = 8
# Files whose change makes existing bench data stale, so the database is built again.
GENERATOR_FILES = (
    "devtools/management/commands/seed_demo.py",
    "devtools/demo/accounts.py",
    "devtools/demo/crm.py",
    "devtools/demo/portfolios.py",
    "devtools/demo/agenda.py",
    "devtools/demo/funding.py",
    "devtools/demo/billing.py",
)

# Targets of the engineering doc, printed beside the figures (never asserted).
TARGET_LIST_P95_MS = 50.0
TARGET_LIST_QUERIES = 6
TARGET_MIXED_RPS = 200.0
TARGET_DETAIL_P95_MS = 80.0
# Pages with a target of their own (issue #16: the home page with every panel filled).
TARGET_P95_MS = {"dashboard": 100.0, "dashboard_panels": 50.0}
DETAIL_PAGES = {"account_detail", "contact_detail"}  # held to the detail-page target

API_CONTACTS = "/api/v1/contacts/?page_size=50"
API_DEPTH = 20  # api_list follows `next` this many pages deep, then starts again at page 1
SERVER_START_SECONDS = 60
REQUEST_TIMEOUT_SECONDS = 60
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


class BenchError(RuntimeError):
    """The harness could not set up or run (as opposed to a scenario seeing a wrong response)."""


# --- The bench database ------------------------------------------------------------------------


def database_name(url: str) -> str:
    return unquote(urlsplit(url).path.lstrip("/"))


def with_database(url: str, database: str) -> str:
    """``url`` with another database in its path; credentials and query (``?host=...``) are kept."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(database), parts.query, parts.fragment))


def generator_fingerprint() -> str:
    digest = hashlib.sha256()
    for name in GENERATOR_FILES:
        path = BASE_DIR / name
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.exists() else b"") + b"\0")
    return digest.hexdigest()[:16]


@dataclass
class BenchDatabase:
    name: str
    app_url: str
    owner_url: str
    sizes: dict[str, int]
    build_seconds: float
    reused: bool
    server_version: str
    credentials: dict[str, Any]

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.app_url,
            "DATABASE_OWNER_URL": self.owner_url,
            "APP_ENV": "development",
        }


def _database_oid(conn: psycopg.Connection[Any], name: str) -> int | None:
    row = conn.execute("SELECT oid FROM pg_database WHERE datname = %s", [name]).fetchone()
    return int(row[0]) if row else None


def _read_marker(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _manage(env: dict[str, str], *args: str) -> None:
    build_log = BENCH_DIR / "build.log"
    with build_log.open("a") as out:
        out.write(f"$ manage.py {' '.join(args)}\n")
        out.flush()
        code = subprocess.call(
            [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    if code != 0:
        tail = "\n".join(build_log.read_text().splitlines()[-20:])
        raise BenchError(f"manage.py {args[0]} failed with exit status {code}; end of {build_log}:\n{tail}")


def prepare_database(scale: str) -> BenchDatabase:
    """Build the bench database for ``scale``, or reuse it when its marker matches; renew the logins."""
    try:
        owner_url, app_url = os.environ["DATABASE_OWNER_URL"], os.environ["DATABASE_URL"]
    except KeyError as missing:
        raise BenchError(f"{missing.args[0]} is not set: run through `make bench` or `devenv run`.") from None
    sizes = SCALES[scale]
    name = f"{database_name(owner_url)}_bench_{scale}"
    marker_path = BENCH_DIR / f"{scale}.json"
    wanted = {
        "database": name,
        "sizes": sizes,
        "seed": SEED,
        "firms": list(FIRMS),
        "generator": generator_fingerprint(),
    }
    (BENCH_DIR / "build.log").write_text("")
    started = time.perf_counter()
    with psycopg.connect(with_database(owner_url, "postgres"), autocommit=True) as conn:
        version_row = conn.execute("SHOW server_version").fetchone()
        server_version = str(version_row[0]) if version_row else "unknown"
        oid = _database_oid(conn, name)
        marker = _read_marker(marker_path)
        reused = (
            oid is not None
            and marker is not None
            and marker.get("oid") == oid
            and all(marker.get(key) == value for key, value in wanted.items())
        )
        if not reused:
            marker_path.unlink(missing_ok=True)
            if oid is not None:
                log(f"database {name} is not a complete build for these sizes; dropping it")
                conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))
            log(f"creating database {name}")
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            oid = _database_oid(conn, name)
    credentials_path = BENCH_DIR / "credentials.json"
    database = BenchDatabase(
        name=name,
        app_url=with_database(app_url, name),
        owner_url=with_database(owner_url, name),
        sizes=dict(sizes),
        build_seconds=0.0,
        reused=reused,
        server_version=server_version,
        credentials={},
    )
    env = database.env()
    log("migrating" + (" (reusing the existing data)" if reused else ""))
    _manage(env, "migrate", "--database", "owner", "--no-input")
    size_args = [arg for key, value in sizes.items() for arg in (f"--{key}", str(value))]
    if not reused:
        log(f"seeding the demo firms {', '.join(FIRMS)} with {sizes} each; at full scale this takes minutes")
    _manage(env, "seed_demo", "--firms", ",".join(FIRMS), "--seed", str(SEED), *size_args,
            "--credentials", str(credentials_path))  # fmt: skip
    # Settle the freshly written tables as autovacuum would in a long-running database: planner
    # statistics, and a visibility map for index-only scans. Cheap when nothing changed.
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    if reused and marker is not None:
        database.build_seconds = float(marker.get("build_seconds", 0.0))
    else:
        database.build_seconds = round(time.perf_counter() - started, 1)
        marker = {**wanted, "oid": oid, "build_seconds": database.build_seconds, "built_at": _now()}
        marker_path.write_text(json.dumps(marker, indent=2) + "\n")
        log(f"built {name} in {database.build_seconds} s")
    database.credentials = json.loads(credentials_path.read_text())
    return database


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- The server --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextmanager
def running_server(database: BenchDatabase) -> Iterator[str]:
    """gunicorn on a free port of 127.0.0.1, healthy; yields its base URL and always stops it."""
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    server_log = BENCH_DIR / "gunicorn.log"
    env = {
        **database.env(),
        "DEBUG": "false",
        "QUERY_COUNT_HEADER": "true",
        "API_RATE_USER": "1000000/min",
        "API_RATE_ANON": "1000000/min",
    }
    command = [str(BIN / "gunicorn"), "advisorportal.wsgi", "-c", str(GUNICORN_CONF), "-b", f"127.0.0.1:{port}"]
    command += os.environ.get("BENCH_GUNICORN_ARGS", "").split()
    log(f"starting gunicorn on {base_url} (log: {server_log})")
    with server_log.open("w") as out:
        process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_healthy(process, base_url, server_log)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_healthy(process: subprocess.Popen[bytes], base_url: str, server_log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"gunicorn exited with status {process.returncode}:\n{_log_tail(server_log)}")
        try:
            response = httpx.get(f"{base_url}/health", timeout=2)
            if response.status_code == 200:
                return
            last = f"status {response.status_code}: {response.text[:200]}"
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}"
        time.sleep(0.2)
    raise BenchError(f"gunicorn did not become healthy in {SERVER_START_SECONDS} s ({last}):\n{_log_tail(server_log)}")


# --- Scenarios ---------------------------------------------------------------------------------


@dataclass
class Sample:
    """One measured request: its latency, the error if its response was not the expected one."""

    seconds: float
    error: str | None = None
    queries: int | None = None


@dataclass
class Bench:
    """What every scenario may use: the server, the demo logins, a shared counter."""

    base_url: str
    credentials: dict[str, Any]
    sequence: Iterator[int] = field(default_factory=itertools.count)
    session_cookies: dict[str, str] | None = None
    shared: dict[str, Any] = field(default_factory=dict)  # what one worker's setup made for all
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def user(self, firm: str = "harbor", local: str = "owner") -> dict[str, str]:
        email = f"{local}@{firm}.example"
        for user in self.credentials["firms"][firm]["users"]:
            if user["email"] == email:
                return dict(user)
        raise BenchError(f"{email} is missing from the demo credentials")

    def users(self) -> list[dict[str, str]]:
        return [dict(user) for firm in self.credentials["firms"].values() for user in firm["users"]]

    def next_number(self) -> int:
        with self._lock:
            return next(self.sequence)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=REQUEST_TIMEOUT_SECONDS, follow_redirects=False)


class Worker:
    """One client thread: its own ``httpx.Client`` and whatever per-worker state scenarios keep."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.client = bench.client()
        self.state: dict[str, Any] = {}

    def request(self, method: str, url: str, *, expect: int, **kwargs: Any) -> Sample:
        return timed(self.client, method, url, expect=expect, **kwargs)[0]

    def close(self) -> None:
        self.client.close()


def timed(
    client: httpx.Client, method: str, url: str, *, expect: int, **kwargs: Any
) -> tuple[Sample, httpx.Response | None]:
    """Send one request and time it (body included); the sample's error says what was unexpected."""
    started = time.perf_counter()
    try:
        response = client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        return Sample(time.perf_counter() - started, error=f"{method} {url}: {type(exc).__name__}: {exc}"), None
    seconds = time.perf_counter() - started
    header = response.headers.get("X-Query-Count", "")
    queries = int(header) if header.isdigit() else None
    error = None
    if response.status_code != expect:
        error = f"{method} {url}: expected {expect}, got {response.status_code}: {response.text[:200]!r}"
    return Sample(seconds, error, queries), response


def log_in(bench: Bench, client: httpx.Client, user: dict[str, str]) -> Sample:
    """Sign ``client`` in through the login form; the sample times the POST only."""
    page, response = timed(client, "GET", "/login/", expect=200)
    if page.error or response is None:
        return page
    match = CSRF_FIELD.search(response.text)
    if match is None:
        return Sample(page.seconds, error="GET /login/: no csrfmiddlewaretoken field in the form")
    form = {"username": user["email"], "password": user["password"], "csrfmiddlewaretoken": match.group(1)}
    sample, response = timed(client, "POST", "/login/", expect=302, data=form, headers={"Referer": bench.base_url})
    if sample.error is None and response is not None and response.headers.get("location") != "/":
        sample.error = f"POST /login/: redirected to {response.headers.get('location')!r} instead of '/'"
    return sample


@dataclass(frozen=True)
class Scenario:
    run: Callable[[Worker], Sample]
    setup: Callable[[Worker], None] | None = None  # once per worker, before the warm-up, not measured
    list_page: bool = False  # held to the list-page target (p95 and queries)
    in_mix: bool = True  # part of the `mixed` scenario
    workers: int = WORKERS  # concurrent client threads
    requests: int | None = None  # measured runs when not the scale's default (long jobs)
    warmup: int = WARMUP_REQUESTS


SCENARIOS: dict[str, Scenario] = {}
ScenarioFunction = Callable[[Worker], Sample]


def scenario(
    name: str, *, setup: Callable[[Worker], None] | None = None, list_page: bool = False, in_mix: bool = True
) -> Callable[[ScenarioFunction], ScenarioFunction]:
    """Register a scenario: a function that makes one measured request and returns its Sample."""

    def register(function: ScenarioFunction) -> ScenarioFunction:
        SCENARIOS[name] = Scenario(function, setup, list_page, in_mix)
        return function

    return register


def pass_two_factor(bench: Bench, client: httpx.Client, user: dict[str, Any]) -> None:
    """Complete the session's second factor with a code of the demo user's authenticator."""
    page = client.get("/login/verify/")
    match = CSRF_FIELD.search(page.text)
    if page.status_code != 200 or match is None:
        raise BenchError(f"GET /login/verify/: status {page.status_code}, no form")
    secret = user["totp_secret"]
    code = f"{totp(base64.b32decode(secret + '=' * (-len(secret) % 8))):06d}"
    form = {"code": code, "csrfmiddlewaretoken": match.group(1), "next": "/"}
    response = client.post("/login/verify/", data=form, headers={"Referer": bench.base_url})
    if response.status_code != 302:
        raise BenchError(f"POST /login/verify/: status {response.status_code} (code refused?)")


def signed_in(worker: Worker) -> None:
    """Setup: the worker's client holds the (shared) verified session of owner@harbor.example.

    An authenticator code serves one sign-in per 30 seconds, so one session is signed in, with
    password and code, and its cookies are shared by every worker.
    """
    if worker.state.get("signed_in"):
        return
    bench = worker.bench
    with bench._lock:
        if bench.session_cookies is None:
            user = bench.user()
            with bench.client() as client:
                sample = log_in(bench, client, user)
                if sample.error:
                    raise BenchError(f"signing in failed: {sample.error}")
                pass_two_factor(bench, client, user)
                bench.session_cookies = dict(client.cookies)
    worker.client.cookies.update(bench.session_cookies)
    worker.state["signed_in"] = True


def api_token(worker: Worker) -> None:
    """Setup: the API token of owner@harbor.example, for an ``Authorization`` header."""
    worker.state["api_headers"] = {"Authorization": f"Token {worker.bench.user()['api_token']}"}


@scenario("login", in_mix=False)
def login(worker: Worker) -> Sample:
    users = worker.bench.users()
    user = users[worker.bench.next_number() % len(users)]
    with worker.bench.client() as client:  # a fresh client per login: sessions do not pile up
        return log_in(worker.bench, client, user)


@scenario("dashboard", setup=signed_in)
def dashboard(worker: Worker) -> Sample:
    """The home page itself: its panels load by their own requests (``dashboard_panels``)."""
    return worker.request("GET", "/", expect=200)


def panels_ready(worker: Worker) -> None:
    signed_in(worker)
    if "panel_urls" not in worker.state:
        page = worker.client.get("/")
        worker.state["panel_urls"] = re.findall(r'hx-get="(/dashboard/panels/[^"]+)" hx-trigger="load"', page.text)
        if not worker.state["panel_urls"]:
            raise BenchError("the dashboard shows no panel to load")


@scenario("dashboard_panels", setup=panels_ready)
def dashboard_panels(worker: Worker) -> Sample:
    """Each panel of the owner's filled dashboard in turn, as the page loads them."""
    urls = worker.state["panel_urls"]
    return worker.request("GET", urls[worker.bench.next_number() % len(urls)], expect=200)


@scenario("agenda_tasks", setup=signed_in, list_page=True)
def agenda_tasks(worker: Worker) -> Sample:
    """The user's agenda: their open tasks (10,000 open in the firm, ``--tasks``) and workflow steps."""
    return worker.request("GET", "/agenda/", expect=200)


@scenario("api_list", setup=api_token, list_page=True)
def api_list(worker: Worker) -> Sample:
    """First pages and, following `next`, pages up to API_DEPTH deep."""
    url, depth = worker.state.get("api_next") or (API_CONTACTS, 1)
    sample, response = timed(worker.client, "GET", url, expect=200, headers=worker.state["api_headers"])
    worker.state["api_next"] = None
    if sample.error is None and response is not None:
        next_url = response.json().get("next")
        if next_url and not str(next_url).startswith(worker.bench.base_url + "/"):
            sample.error = f"GET {url}: `next` leaves the bench server: {next_url!r}"
        elif next_url and depth < API_DEPTH:
            worker.state["api_next"] = (next_url, depth + 1)
    return sample


ACCOUNT_ORDERINGS = ("number", "-nav", "title", "-inception", "status", "nav", "type", "-number")
ACCOUNT_DEPTH = 5  # accounts_list follows "Next page" this many pages deep, then takes the next sort order
NEXT_PAGE_LINK = re.compile(r'href="\?([^"]*after=[^"]+)" rel="next"')


def accounts_signed_in(worker: Worker) -> None:
    """Setup: the shared session, plus up to 500 account ids and search prefixes of the firm (read
    once through the API, sorted by NAV so that the detail pages have history to draw)."""
    signed_in(worker)
    api_token(worker)
    response = worker.client.get("/api/v1/accounts/?ordering=-nav&page_size=500", headers=worker.state["api_headers"])
    if response.status_code != 200:
        raise BenchError(f"GET /api/v1/accounts/: status {response.status_code}")
    rows = response.json()["results"]
    if not rows:
        raise BenchError("the demo firm has no client accounts")
    worker.state["account_ids"] = [row["id"] for row in rows]
    # Search terms as people type them: 2-4 leading letters of titles, and number prefixes.
    terms = {row["title"][:n].lower() for row in rows for n in (2, 3, 4) if row["title"][:n].strip()}
    terms |= {row["number"][:n] for row in rows[:50] for n in (3, 5)}
    worker.state["search_terms"] = sorted(terms)


@scenario("accounts_list", setup=accounts_signed_in, list_page=True)
def accounts_list(worker: Worker) -> Sample:
    """The accounts page in each sort order, first pages and, following "Next page", deeper ones."""
    return _walk_pages(worker, "accounts", "/accounts/", "ordering", ACCOUNT_ORDERINGS)


def _walk_pages(worker: Worker, name: str, path: str, sort_param: str, orders: tuple[str, ...]) -> Sample:
    """One request of a list page walk: a first page in the next sort order, then "Next page"
    links up to ``ACCOUNT_DEPTH`` deep, then the next order."""
    url, depth = worker.state.get(f"{name}_next") or (None, 1)
    if url is None:
        turn = worker.state.get(f"{name}_turn", 0)
        worker.state[f"{name}_turn"] = turn + 1
        url = f"{path}?{sort_param}={orders[turn % len(orders)]}"
    sample, response = timed(worker.client, "GET", url, expect=200)
    worker.state[f"{name}_next"] = None
    if sample.error is None and response is not None and depth < ACCOUNT_DEPTH:
        match = NEXT_PAGE_LINK.search(response.text)
        if match:
            worker.state[f"{name}_next"] = (f"{path}?" + match.group(1).replace("&amp;", "&"), depth + 1)
    return sample


@scenario("accounts_search", setup=accounts_signed_in, list_page=True)
def accounts_search(worker: Worker) -> Sample:
    """Prefix search of the accounts page by title or number, as the htmx search box sends it."""
    terms = worker.state["search_terms"]
    term = terms[worker.bench.next_number() % len(terms)]
    headers = {"HX-Request": "true", "HX-Target": "account-results"}
    return worker.request("GET", f"/accounts/?q={quote(term)}", expect=200, headers=headers)


@scenario("account_detail", setup=accounts_signed_in)
def account_detail(worker: Worker) -> Sample:
    """One account's page: summary, positions, realized P&L, the 1-year NAV chart and transactions."""
    ids = worker.state["account_ids"]
    return worker.request("GET", f"/accounts/{ids[worker.bench.next_number() % len(ids)]}/", expect=200)


CONTACT_ORDERINGS = ("name", "-created", "email", "status", "-name", "updated")
CONTACT_FILTERS = (
    "status=active&risk_tolerance=growth",
    "res_country=US&net_worth_min=1000000",
    "status=prospect&marketing_source=referral",
    "tag=newsletter&status=active",
    "employment_status=retired&time_horizon=long",
    "investment_objective=income&res_city=Boston",
    "has_account=yes&priority=high",
    "date_of_birth_after=1950-01-01&date_of_birth_before=1960-12-31",
)


def contacts_ready(worker: Worker) -> None:
    """Setup: the shared session and the API token, up to 500 contact ids and search terms as
    people type them (2-4 leading letters of last names, first name and the start of the last,
    email prefixes, phone digit runs)."""
    signed_in(worker)
    api_token(worker)
    response = worker.client.get(
        "/api/v1/contacts/?ordering=-updated&page_size=500", headers=worker.state["api_headers"]
    )
    if response.status_code != 200:
        raise BenchError(f"GET /api/v1/contacts/: status {response.status_code}")
    rows = response.json()["results"]
    if not rows:
        raise BenchError("the demo firm has no contacts")
    worker.state["contact_ids"] = [row["id"] for row in rows]
    terms = {row["last_name"][:n].lower() for row in rows for n in (2, 3, 4)}
    terms |= {
        f"{row['first_name'][:n]} {row['last_name'][:m]}".lower() for row in rows[:100] for n, m in ((2, 2), (9, 1))
    }
    terms |= {row["email"][:n] for row in rows[:100] if row["email"] for n in (3, 6)}
    terms |= {re.sub(r"\D", "", row["phone"])[-n:] for row in rows[:100] if row["phone"] for n in (4, 7)}
    worker.state["contact_terms"] = sorted(t for t in terms if t.strip())


@scenario("contacts_list", setup=contacts_ready, list_page=True)
def contacts_list(worker: Worker) -> Sample:
    """The contacts page in each sort order, first pages and, following "Next page", deeper ones."""
    return _walk_pages(worker, "contacts", "/contacts/", "sort", CONTACT_ORDERINGS)


CONTACT_RESULTS = {"HX-Request": "true", "HX-Target": "results"}  # what the search box and filters load


@scenario("contacts_search", setup=contacts_ready, list_page=True)
def contacts_search(worker: Worker) -> Sample:
    """Search as you type: name, email and phone fragments (search keys by prefix range under RLS)."""
    terms = worker.state["contact_terms"]
    term = terms[worker.bench.next_number() % len(terms)]
    return worker.request("GET", f"/contacts/?q={quote(term)}", expect=200, headers=CONTACT_RESULTS)


@scenario("contacts_filter", setup=contacts_ready, list_page=True)
def contacts_filter(worker: Worker) -> Sample:
    """Segments: two or three fields combined, first page in name order."""
    query = CONTACT_FILTERS[worker.bench.next_number() % len(CONTACT_FILTERS)]
    return worker.request("GET", f"/contacts/?{query}", expect=200, headers=CONTACT_RESULTS)


@scenario("contacts_api", setup=contacts_ready, list_page=True, in_mix=False)
def contacts_api(worker: Worker) -> Sample:
    """The same searches and segments through the API."""
    number = worker.bench.next_number()
    terms = worker.state["contact_terms"]
    query = f"q={quote(terms[number % len(terms)])}" if number % 2 else CONTACT_FILTERS[number % len(CONTACT_FILTERS)]
    return worker.request(
        "GET", f"/api/v1/contacts/?page_size=50&{query}", expect=200, headers=worker.state["api_headers"]
    )


@scenario("contact_detail", setup=contacts_ready)
def contact_detail(worker: Worker) -> Sample:
    """One contact's record: panels, accounts with NAV, households, groups and the timeline."""
    ids = worker.state["contact_ids"]
    return worker.request("GET", f"/contacts/{ids[worker.bench.next_number() % len(ids)]}/", expect=200)


# Daily values: not HTTP requests but the jobs themselves, on the bench firm's database, timed
# inside ``manage.py bench_returns`` (so Django's start-up is not counted); reported in seconds.
TARGET_SECONDS = {"returns_full_recompute": 60.0, "returns_one_day": 5.0}


def _bench_command(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py <args>`` on the bench database of this scale (jobs timed inside the command)."""
    scale = os.environ.get("BENCH_SCALE", "full") or "full"
    name = f"{database_name(os.environ['DATABASE_OWNER_URL'])}_bench_{scale}"
    env = {
        **os.environ,
        "DATABASE_URL": with_database(os.environ["DATABASE_URL"], name),
        "DATABASE_OWNER_URL": with_database(os.environ["DATABASE_OWNER_URL"], name),
        "APP_ENV": "development",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, check=False
    )


def _bench_returns(worker: Worker, mode: str) -> Sample:
    done = _bench_command("bench_returns", FIRMS[0], mode)
    if done.returncode != 0:
        return Sample(0.0, error=f"bench_returns {mode}: exit {done.returncode}: {done.stderr.strip()[-500:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    steps = ", ".join(f"{name} {seconds} s" for name, seconds in figures.get("steps", {}).items())
    prepared = f"; prepared in {figures['prepare_seconds']} s" if "prepare_seconds" in figures else ""
    log(
        f"{mode}: {figures['seconds']} s for {figures['accounts']} accounts, {figures['rows']:,} account-days "
        f"({steps}){prepared}; load average {os.getloadavg()[0]:.1f}"
    )
    return Sample(float(figures["seconds"]))


SCENARIOS["returns_full_recompute"] = Scenario(
    lambda worker: _bench_returns(worker, "full"), in_mix=False, workers=1, requests=1, warmup=0
)
SCENARIOS["returns_one_day"] = Scenario(
    lambda worker: _bench_returns(worker, "one_day"), in_mix=False, workers=1, requests=3, warmup=1
)
# One back-dated trade in the busiest account (5 years of history), recomputed by the correction job.
SCENARIOS["recompute_after_correction"] = Scenario(
    lambda worker: _bench_returns(worker, "correction"), in_mix=False, workers=1, requests=3, warmup=1
)
TARGET_SECONDS["recompute_after_correction"] = 2.0

# Contacts import: 100,000 generated template rows, uploaded, parsed, validated and applied inside
# ``manage.py bench_contact_import`` (in one transaction, rolled back after timing, so the bench firm
# is left as it was); reported in seconds.
TARGET_SECONDS["contacts_import_100k"] = 30.0


def _command_figures(command: str, *args: str) -> dict[str, Any] | Sample:
    """The JSON figures a timing command prints last, or a failed sample saying why it failed."""
    done = _bench_command(command, *args)
    if done.returncode != 0:
        return Sample(0.0, error=f"{command}: exit {done.returncode}: {done.stderr.strip()[-500:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    log(f"{command}: {figures}")
    return figures


def _bench_contact_import(worker: Worker) -> Sample:
    figures = _command_figures("bench_contact_import", FIRMS[1], "100000")
    if isinstance(figures, Sample):
        return figures
    # The import is rolled back: clear its 100k dead contacts and ~1.1M dead search keys, or every
    # later scenario walks their index entries (contacts_list's p50 went from 28 to 78 ms).
    scale = os.environ.get("BENCH_SCALE", "full") or "full"
    owner = with_database(
        os.environ["DATABASE_OWNER_URL"], f"{database_name(os.environ['DATABASE_OWNER_URL'])}_bench_{scale}"
    )
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) crm_contact, crm_contactsearchkey, contact_io_contactimport")
    return Sample(float(figures["seconds"]))


SCENARIOS["contacts_import_100k"] = Scenario(_bench_contact_import, in_mix=False, workers=1, requests=1, warmup=0)

# Bulk email: a marketing email to 10,000 contacts, from the start until the job (run as the worker
# runs it, inside ``manage.py bench_bulk_email``) has rendered each and handed it to the file
# backend; the firm's rate limit lifted for the run. Reported in seconds.
TARGET_SECONDS["email_bulk_10k"] = 60.0


def _bench_bulk_email(worker: Worker) -> Sample:
    figures = _command_figures("bench_bulk_email", FIRMS[0], "10000")
    if isinstance(figures, Sample):
        return figures
    if figures["written"] != figures["sent"] or figures["failed"] or figures["status"] != "done":
        return Sample(float(figures["seconds"]), error=f"bench_bulk_email: not every message was written: {figures}")
    return Sample(float(figures["seconds"]))


SCENARIOS["email_bulk_10k"] = Scenario(_bench_bulk_email, in_mix=False, workers=1, requests=1, warmup=0)

# Money movement (issue #17): Pending items with 5,000 waiting funding requests in the firm
# (``--funding``), and the client's approval page (no sign-in) for links issued by a command.
TARGET_P95_MS.update({"pending_items": 50.0, "approval_page": 50.0})


@scenario("pending_items", setup=signed_in)
def pending_items(worker: Worker) -> Sample:
    """The owner's Pending items: first pages of everything, then of the funding requests alone."""
    number = worker.bench.next_number()
    query = ("", "?kind=funding-request", "?kind=funding-request&page=3", "?status=submitted")[number % 4]
    return worker.request("GET", f"/pending/{query}", expect=200)


def approval_links(worker: Worker) -> None:
    if "tokens" not in worker.state:
        with worker.bench._lock:
            if worker.bench.shared.get("tokens") is None:
                figures = _command_figures("bench_approval_links", FIRMS[0], "200")
                if isinstance(figures, Sample):
                    raise BenchError(f"approval links: {figures.error}")
                worker.bench.shared["tokens"] = figures["tokens"]
        worker.state["tokens"] = worker.bench.shared["tokens"]


@scenario("approval_page", setup=approval_links)
def approval_page(worker: Worker) -> Sample:
    """A client opens the approval link from their email (GET: shows what is approved, changes nothing)."""
    tokens = worker.state["tokens"]
    return worker.request("GET", f"/approve/{tokens[worker.bench.next_number() % len(tokens)]}/", expect=200)


TARGET_P95_MS["funding_create"] = 50.0


def funding_accounts(worker: Worker) -> None:
    """Setup: the advisor's API token and up to 500 open USD client accounts of the firm."""
    worker.state["api_headers"] = {"Authorization": f"Token {worker.bench.user(local='advisor')['api_token']}"}
    if "funding_accounts" not in worker.state:
        response = worker.client.get("/api/v1/accounts/?status=open&page_size=500", headers=worker.state["api_headers"])
        if response.status_code != 200:
            raise BenchError(f"GET /api/v1/accounts/: status {response.status_code}")
        ids = [r["id"] for r in response.json()["results"] if r["base_currency"] == "USD" and not r["is_master"]]
        if not ids:
            raise BenchError("the demo firm has no open USD client account")
        worker.state["funding_accounts"] = ids


@scenario("funding_create", setup=funding_accounts, in_mix=False)
def funding_create(worker: Worker) -> Sample:
    """A deposit notification created through the API with an Idempotency-Key (a draft)."""
    number = worker.bench.next_number()
    ids = worker.state["funding_accounts"]
    body = {"kind": "deposit", "account": ids[number % len(ids)], "method": "ach", "amount": f"{100 + number}.00",
            "currency": "USD"}  # fmt: skip
    headers = {**worker.state["api_headers"], "Idempotency-Key": f"bench-{uuid.uuid4()}"}
    return worker.request("POST", "/api/v1/funding-requests/", expect=201, json=body, headers=headers)


TARGET_P95_MS["fee_calculator"] = 20.0
FEE_CALCULATOR_BODY = {
    "schedule": {"method": "tiered", "minimum_annual_fee": "250.00",
                 "tiers": [{"up_to": "250000.00", "annual_rate_pct": "1.25"},
                           {"up_to": "1000000.00", "annual_rate_pct": "1.00"},
                           {"up_to": "5000000.00", "annual_rate_pct": "0.75"},
                           {"up_to": None, "annual_rate_pct": "0.50"}]},
    "accounts": [{"ref": f"U{9000000 + n}", "value": f"{(n + 1) * 123456.78:.2f}"} for n in range(10)],
    "householding": True, "frequency": "quarterly", "period_start": "2026-10-01", "period_end": "2026-12-31",
    "billable_from": "2026-11-15", "proration": "actual/365",
}  # fmt: skip


@scenario("fee_calculator", setup=api_token, in_mix=False)
def fee_calculator(worker: Worker) -> Sample:
    """A householded tiered fee of 10 accounts for a prorated quarter (nothing stored)."""
    return worker.request("POST", "/api/v1/billing/fee-calculator/", expect=200, json=FEE_CALCULATOR_BODY,
                          headers=worker.state["api_headers"])  # fmt: skip


# Fee runs (issue #18): a quarter of every open account of the firm, valued by average daily
# balance with households billed together, previewed by the compute job and then posted to the
# ledger by the post job; and one household's invoice PDF (the one with the most accounts),
# rendered in one process. ``manage.py bench_fee_run`` runs the jobs as the worker does, inside
# one transaction rolled back after timing. Reported in seconds.
TARGET_SECONDS.update({"fee_run_preview": 15.0, "fee_run_post": 30.0, "invoice_pdf": 1.0})


def _bench_fee_run(worker: Worker, mode: str, figure: str) -> Sample:
    figures = _command_figures("bench_fee_run", FIRMS[0], mode)
    if isinstance(figures, Sample):
        return figures
    if figures.get("preview_status") != "done" or (mode != "preview" and figures.get("run_status") != "posted"):
        return Sample(float(figures.get(figure, 0.0)), error=f"bench_fee_run {mode}: the run did not finish: {figures}")
    return Sample(float(figures[figure]))


SCENARIOS["fee_run_preview"] = Scenario(
    lambda worker: _bench_fee_run(worker, "preview", "preview_seconds"), in_mix=False, workers=1, requests=1, warmup=0
)
SCENARIOS["fee_run_post"] = Scenario(
    lambda worker: _bench_fee_run(worker, "post", "post_seconds"), in_mix=False, workers=1, requests=1, warmup=0
)
SCENARIOS["invoice_pdf"] = Scenario(
    lambda worker: _bench_fee_run(worker, "invoice", "invoice_seconds"), in_mix=False, workers=1, requests=1, warmup=0
)


# Calculators (issue #19): the returns of a held-away account, posted to the stateless API.
TARGET_P95_MS["tools_returns"] = 20.0


def tools_token(worker: Worker) -> None:
    """Setup: the API token of advisor@harbor.example (an Advisor: PortfolioAnalyst among the
    role's rights), and a body of 250 month-end valuations over about 20 years with 4 flows."""
    worker.state["api_headers"] = {"Authorization": f"Token {worker.bench.user(local='advisor')['api_token']}"}
    if "tools_body" not in worker.state:
        dates = [date(2005, 1, 31) + timedelta(days=round(30.44 * i)) for i in range(250)]
        value, valuations = 100_000.0, []
        for i, day in enumerate(dates):
            value *= 1.004 + 0.02 * ((i * 7919) % 13 - 6) / 6  # months up and down, deterministic
            valuations.append({"date": day.isoformat(), "value": f"{value:.2f}"})
        moves = ((40, "25000.00"), (95, "-10000.00"), (150, "50000.00"), (210, "-30000.00"))
        flows = [{"date": dates[i].isoformat(), "amount": amount} for i, amount in moves]
        worker.state["tools_body"] = {"valuations": valuations, "flows": flows}


@scenario("tools_returns", setup=tools_token, in_mix=False)
def tools_returns(worker: Worker) -> Sample:
    """TWR, MWR and Modified Dietz of 250 valuations and 4 flows (POST /api/v1/tools/returns/)."""
    body = worker.state["tools_body"]
    return worker.request("POST", "/api/v1/tools/returns/", expect=200, json=body, headers=worker.state["api_headers"])


# Reports (issue #19): a household's performance and the client data query on TWR, as the advisor.
TARGET_P95_MS["household_performance"] = 300.0
TARGET_SECONDS["client_query_twr"] = 2.0


def bench_household(worker: Worker) -> None:
    """Setup: the advisor's token and the ten-account household with five years of values that
    ``manage.py bench_household`` makes once in the bench firm (later runs find it)."""
    tools_token(worker)
    if "household" not in worker.state:
        with worker.bench._lock:
            if worker.bench.shared.get("household") is None:
                figures = _command_figures("bench_household", FIRMS[0])
                if isinstance(figures, Sample):
                    raise BenchError(f"bench household: {figures.error}")
                worker.bench.shared["household"] = figures["household"]
        worker.state["household"] = worker.bench.shared["household"]


@scenario("household_performance", setup=bench_household, in_mix=False)
def household_performance(worker: Worker) -> Sample:
    """Every period (MTD to 5 years, since inception) of a 10-account household over 5 years: TWR, MWR and
    Modified Dietz, net and gross of fees, beside the benchmark (GET /api/v1/reports/performance/)."""
    query = {"household": worker.state["household"]}
    return worker.request("GET", "/api/v1/reports/performance/", expect=200, params=query,
                          headers=worker.state["api_headers"])  # fmt: skip


def client_query_twr(worker: Worker) -> Sample:
    """Every account of the firm (20,000 at full scale) whose 1-year TWR is above 5 %: one statement reads
    each account's index at the period's base and end (GET /api/v1/reports/queries/performance/)."""
    return worker.request("GET", "/api/v1/reports/queries/performance/", expect=200,
                          params={"period": "1Y", "above": "0.05", "limit": "1000"},
                          headers=worker.state["api_headers"])  # fmt: skip


SCENARIOS["client_query_twr"] = Scenario(client_query_twr, tools_token, in_mix=False, workers=1, requests=20, warmup=2)


# Statements (issue #19): one account's activity statement of the last full quarter (the account
# with about 60 transactions in it: about three pages), its figures and PDF as the worker makes
# them, median of five after a warm-up; and a report definition of 1,000 accounts run by a real
# Celery worker with 2 processes, its parts side by side (each statement computed, rendered and kept
# on the client's documents, each client emailed a link). ``manage.py bench_statements``; seconds.
TARGET_SECONDS.update({"statement_pdf": 1.0, "statement_run_1k": 600.0})


def _bench_statements(worker: Worker, mode: str) -> Sample:
    figures = _command_figures("bench_statements", FIRMS[0], mode, "1000")
    if isinstance(figures, Sample):
        return figures
    if mode == "run" and (figures["status"] != "done" or figures["statements"] != figures["accounts"]):
        return Sample(float(figures["seconds"]), error=f"bench_statements run: not every statement was made: {figures}")
    return Sample(float(figures["seconds"]))


SCENARIOS["statement_pdf"] = Scenario(
    lambda worker: _bench_statements(worker, "pdf"), in_mix=False, workers=1, requests=1, warmup=0
)
SCENARIOS["statement_run_1k"] = Scenario(
    lambda worker: _bench_statements(worker, "run"), in_mix=False, workers=1, requests=1, warmup=0
)


# Add new scenarios above. `mixed` goes round the others (those with in_mix) on each worker.


def _mix() -> list[Scenario]:
    return [s for name, s in SCENARIOS.items() if s.in_mix and name != "mixed"]


def _mixed_setup(worker: Worker) -> None:
    for member in _mix():
        if member.setup is not None:
            member.setup(worker)


def _mixed_run(worker: Worker) -> Sample:
    members = _mix()
    turn = worker.state.get("mix_turn", 0)
    worker.state["mix_turn"] = turn + 1
    return members[turn % len(members)].run(worker)


SCENARIOS["mixed"] = Scenario(_mixed_run, _mixed_setup, in_mix=False, workers=MIXED_WORKERS)


# --- Running them ------------------------------------------------------------------------------


class _Budget:
    """A number of requests that worker threads take one at a time."""

    def __init__(self, total: int) -> None:
        self._left = total
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self._left <= 0:
                return False
            self._left -= 1
            return True


def _percentile(sorted_values: list[float], percent: float) -> float:
    """Nearest-rank percentile."""
    rank = max(1, math.ceil(percent / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def run_scenario(bench: Bench, name: str, spec: Scenario, measured: int, workers: int) -> dict[str, Any]:
    warmup, work = _Budget(spec.warmup), _Budget(measured)
    barrier = threading.Barrier(workers + 1, timeout=3600)
    lock = threading.Lock()
    samples: list[Sample] = []
    errors: list[str] = []

    def safely(function: Callable[[Worker], Any], worker: Worker) -> Any:
        try:
            return function(worker)
        except Exception as exc:  # noqa: BLE001 - whatever goes wrong is reported as the scenario's error
            return Sample(0.0, error=f"{type(exc).__name__}: {exc}")

    def thread_main() -> None:
        worker = Worker(bench)
        try:
            ready = True
            if spec.setup is not None:
                outcome = safely(spec.setup, worker)
                if isinstance(outcome, Sample):
                    ready = False
                    with lock:
                        errors.append(f"setup: {outcome.error}")
            barrier.wait()
            while ready and warmup.take():
                sample = safely(spec.run, worker)
                if sample.error:
                    with lock:
                        errors.append(f"warm-up: {sample.error}")
            barrier.wait()
            while ready and work.take():
                sample = safely(spec.run, worker)
                with lock:
                    samples.append(sample)
                    if sample.error:
                        errors.append(sample.error)
        finally:
            worker.close()

    threads = [threading.Thread(target=thread_main, name=f"bench-{name}-{i}", daemon=True) for i in range(workers)]
    for thread in threads:
        thread.start()
    barrier.wait()  # every worker is set up
    barrier.wait()  # warm-up done
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started

    latencies = sorted(s.seconds * 1000 for s in samples)
    queries = [s.queries for s in samples if s.queries is not None]
    result: dict[str, Any] = {
        "p50_ms": round(_percentile(latencies, 50), 1) if latencies else None,
        "p95_ms": round(_percentile(latencies, 95), 1) if latencies else None,
        "rps": round(len(samples) / wall, 1) if samples and wall > 0 else None,
        "requests": len(samples),
        "errors": len(errors),
        "workers": workers,
    }
    if queries:
        result["queries"] = max(queries)
    if errors or len(samples) < measured:
        result["status"] = "failed"
        result["first_error"] = errors[0] if errors else f"only {len(samples)} of {measured} requests ran"
    else:
        result["status"] = "ok"
    return result


def target_of(name: str) -> str:
    """The engineering doc's target for a scenario, to print beside its figures."""
    if SCENARIOS[name].list_page:
        return f"p95 <= {TARGET_LIST_P95_MS:g} ms, <= {TARGET_LIST_QUERIES} queries"
    if name == "mixed":
        return f">= {TARGET_MIXED_RPS:g} req/s"
    if name in DETAIL_PAGES:
        return f"p95 <= {TARGET_DETAIL_P95_MS:g} ms"
    if name in TARGET_P95_MS:
        return f"p95 <= {TARGET_P95_MS[name]:g} ms"
    if name in TARGET_SECONDS:
        return f"<= {TARGET_SECONDS[name]:g} s"
    return "-"


def verdict(name: str, result: dict[str, Any]) -> str:
    spec = SCENARIOS[name]
    if result["status"] != "ok":
        return "FAILED"
    if spec.list_page:
        p95, queries = result.get("p95_ms"), result.get("queries")
        meets = p95 is not None and p95 <= TARGET_LIST_P95_MS and (queries is None or queries <= TARGET_LIST_QUERIES)
        return "meets" if meets else "misses"
    if name == "mixed":
        return "meets" if (result.get("rps") or 0) >= TARGET_MIXED_RPS else "misses"
    if name in DETAIL_PAGES:
        p95 = result.get("p95_ms")
        return "meets" if p95 is not None and p95 <= TARGET_DETAIL_P95_MS else "misses"
    if name in TARGET_P95_MS:
        p95 = result.get("p95_ms")
        return "meets" if p95 is not None and p95 <= TARGET_P95_MS[name] else "misses"
    if name in TARGET_SECONDS:
        return "meets" if (result.get("p95_ms") or 0) <= TARGET_SECONDS[name] * 1000 else "misses"
    return ""


def fmt(value: Any) -> str:
    return "-" if value is None else f"{value}"


def print_table(report: dict[str, Any]) -> None:
    firm, machine = report["firm"], report["machine"]
    sizes = ", ".join(f"{firm[key]:,} {key}" for key in SCALES[report["scale"]])
    how = "reused, built" if firm["reused"] else "built"
    print(f"\nAdvisorPortal benchmark, scale {report['scale']}: {sizes} per firm ({how} in {firm['build_seconds']} s)")
    print(
        f"machine: {machine['cpus']} CPUs, Python {machine['python']}, PostgreSQL {machine['postgres']}, "
        f"{machine['platform']}; gunicorn: {report['server']}; client threads: {report['workers']}\n"
    )
    header = f"{'scenario':<16}{'requests':>9}{'errors':>7}{'p50 ms':>9}{'p95 ms':>9}{'req/s':>8}{'queries':>8}"
    print(f"{header}  {'target':<34}vs target")
    for name, result in report["scenarios"].items():
        target = target_of(name)
        print(
            f"{name:<16}{result['requests']:>9}{result['errors']:>7}{fmt(result['p50_ms']):>9}"
            f"{fmt(result['p95_ms']):>9}{fmt(result['rps']):>8}{fmt(result.get('queries')):>8}"
            f"  {target:<34}{verdict(name, result)}"
        )
        if result["status"] != "ok":
            print(f"{'':<16}first error: {result['first_error']}")
    print(f"\nreport: {BENCH_DIR / 'report.json'}")


def selected_scenarios() -> list[str]:
    wanted = [n.strip() for n in os.environ.get("BENCH_SCENARIOS", "").split(",") if n.strip()]
    unknown = [n for n in wanted if n not in SCENARIOS]
    if unknown:
        raise BenchError(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    names = wanted or list(SCENARIOS)
    return sorted(dict.fromkeys(names), key=lambda n: n == "mixed")  # mixed last


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise BenchError(f"{name} must be a positive integer, got {raw!r}")
    return int(raw)


def main() -> int:
    try:
        scale = os.environ.get("BENCH_SCALE", "full") or "full"
        if scale not in SCALES:
            raise BenchError(f"BENCH_SCALE must be one of {', '.join(SCALES)}, got {scale!r}")
        names = selected_scenarios()
        workers_override = _positive_int("BENCH_WORKERS", 0) or None
        measured = _positive_int("BENCH_REQUESTS", MEASURED_REQUESTS[scale])
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        database = prepare_database(scale)
        report: dict[str, Any] = {
            "scale": scale,
            "workers": workers_override or {name: SCENARIOS[name].workers for name in names},
            "server": " ".join(["gunicorn.conf.py", *os.environ.get("BENCH_GUNICORN_ARGS", "").split()]),
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
                "postgres": database.server_version,
            },
            "firm": {
                **database.sizes,
                "firms": list(FIRMS),
                "seed": SEED,
                "database": database.name,
                "build_seconds": database.build_seconds,
                "reused": database.reused,
            },
            "scenarios": {},
        }
        with running_server(database) as base_url:
            bench = Bench(base_url=base_url, credentials=database.credentials)
            for name in names:
                spec = SCENARIOS[name]
                workers = workers_override or spec.workers
                runs = spec.requests or measured
                log(f"running {name}: {spec.warmup} warm-up + {runs} measured requests, {workers} threads")
                report["scenarios"][name] = run_scenario(bench, name, spec, runs, workers)
                if name in TARGET_SECONDS:
                    report["scenarios"][name]["seconds"] = round(report["scenarios"][name]["p50_ms"] / 1000, 2)
        report["finished_at"] = _now()
        (BENCH_DIR / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        print_table(report)
    except BenchError as exc:
        log(f"error: {exc}")
        return 2
    failed = [name for name, result in report["scenarios"].items() if result["status"] != "ok"]
    if failed:
        log(f"failed scenarios: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
