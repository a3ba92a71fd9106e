"""Browser sessions: timeouts, the session list, revocation and new-device notices.

Every signed-in session has a ``UserSession`` row. A middleware ends a session that has been idle
longer than the firm allows, or that is older than the firm's absolute limit, or that was revoked
(from the session list, "sign out everywhere", or by a security officer).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.sessions.backends.cached_db import KEY_PREFIX as CACHE_KEY_PREFIX
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone

from accounts.models import User, UserSession
from advisorportal.request_context import bears_api_token
from advisorportal.tenancy.context import no_firm_scope

DEVICE_COOKIE = "ap_device"
TOUCH_EVERY = timedelta(seconds=60)


def _client(request: HttpRequest) -> tuple[str | None, str]:
    return request.META.get("REMOTE_ADDR") or None, request.headers.get("User-Agent", "")[:300]


def session_started(request: HttpRequest, user: User) -> bool:
    """Record the new session; True when the browser is new for this user (worth a notice)."""
    if not request.session.session_key:
        request.session.save()
    device = request.COOKIES.get(DEVICE_COOKIE, "")
    known = bool(device) and UserSession.objects.filter(user=user, device=device).exists()
    if not device:
        device = secrets.token_hex(16)
    request._new_device_cookie = device  # type: ignore[attr-defined]
    ip, agent = _client(request)
    UserSession.objects.update_or_create(
        session_key=request.session.session_key,
        defaults={"user": user, "device": device, "ip": ip, "user_agent": agent, "ended_at": None, "end_reason": ""},
    )
    return not known


@transaction.atomic
def end_sessions(*, user: User, keys: list[str] | None = None, reason: str, keep: str | None = None) -> int:
    """End the user's sessions (all, or ``keys``), except ``keep``. Returns how many ended."""
    live = UserSession.objects.select_for_update().filter(user=user, ended_at__isnull=True)
    if keys is not None:
        live = live.filter(session_key__in=keys)
    if keep:
        live = live.exclude(session_key=keep)
    ended = list(live.values_list("session_key", flat=True))
    Session.objects.filter(session_key__in=ended).delete()
    # Best effort while Redis is unavailable: revocation rests on the UserSession rows (the middleware).
    caches[settings.SESSION_CACHE_ALIAS].delete_many([CACHE_KEY_PREFIX + key for key in ended])
    live.update(ended_at=timezone.now(), end_reason=reason)
    return len(ended)


def _signed_in(sender: Any, request: HttpRequest, user: User, **kwargs: Any) -> None:
    if request is None or not hasattr(request, "session"):
        return
    new_device = session_started(request, user)
    if new_device:
        from accounts.tasks import send_new_device_notice

        record = UserSession.objects.get(session_key=request.session.session_key)
        transaction.on_commit(lambda: send_new_device_notice.delay(user.firm_id, record.pk))


def _signed_out(sender: Any, request: HttpRequest, user: User | None, **kwargs: Any) -> None:
    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        UserSession.objects.filter(session_key=key, ended_at__isnull=True).update(
            ended_at=timezone.now(), end_reason="signed out"
        )


def connect() -> None:
    from django.contrib.auth.signals import user_logged_in, user_logged_out

    user_logged_in.connect(_signed_in, dispatch_uid="sessions-login")
    user_logged_out.connect(_signed_out, dispatch_uid="sessions-logout")


def rekey(*, old_key: str | None, new_key: str | None) -> None:
    """Follow a session whose key Django cycled (e.g. after a password change)."""
    if old_key and new_key and old_key != new_key:
        UserSession.objects.filter(session_key=old_key).update(session_key=new_key)


def cycle_key(request: HttpRequest) -> None:
    """A new session key when the session gains privilege (the second factor verified): a key
    seen before that step (fixed by someone else, or read off a shared screen) stops working.
    The data and the UserSession row follow the new key."""
    old_key = request.session.session_key
    request.session.cycle_key()
    rekey(old_key=old_key, new_key=request.session.session_key)


def live_sessions(*, user: User) -> list[UserSession]:
    return list(UserSession.objects.filter(user=user, ended_at__isnull=True).order_by("-last_seen_at"))


class SessionPolicyMiddleware:
    """Ends idle, too-old and revoked sessions; keeps ``last_seen_at`` fresh (at most once a minute)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # A request with an API token is not using its session (if a cookie came along at all).
        user: Any = None if bears_api_token(request) else getattr(request, "user", None)
        key = request.session.session_key
        if user is not None and user.is_authenticated and key:
            ended = self._check(request, user, key)
            if ended:
                return ended
        response = self.get_response(request)
        device = getattr(request, "_new_device_cookie", None)
        if device:
            response.set_cookie(DEVICE_COOKIE, device, max_age=400 * 24 * 3600, httponly=True,
                                secure=request.is_secure(), samesite="Lax")  # fmt: skip
        return response

    def _check(self, request: HttpRequest, user: User, key: str) -> HttpResponse | None:
        now = timezone.now()
        firm = user.firm
        record = _read_and_touch(
            key, now=now, idle=timedelta(minutes=firm.session_idle_minutes),
            absolute=timedelta(hours=firm.session_absolute_hours),
        )  # fmt: skip
        reason = None
        if record is None or record.ended_at is not None:
            reason = "revoked"
        elif now - record.last_seen_at > timedelta(minutes=firm.session_idle_minutes):
            reason = "idle"
        elif now - record.created_at > timedelta(hours=firm.session_absolute_hours):
            reason = "expired"
        if reason:
            if record is not None and record.ended_at is None:
                UserSession.objects.filter(pk=record.pk).update(ended_at=now, end_reason=reason)
            logout(request)
            text = {
                "revoked": "Your session was ended. Please sign in again.",
                "idle": "You were signed out after a period of inactivity.",
                "expired": "Your session reached its time limit. Please sign in again.",
            }[reason]
            messages.info(request, text)
            return redirect("accounts:login")
        return None


def _read_and_touch(key: str, *, now: Any, idle: timedelta, absolute: timedelta) -> UserSession | None:
    """The session's record as it was, and in the same statement ``last_seen_at`` set to ``now``
    when it is older than ``TOUCH_EVERY`` and the session is still live (one round trip on every
    request instead of a second one each minute). Sessions are global rows (no RLS), so it runs
    with no firm in scope: one round trip, not BEGIN, the firm setting, the statement and COMMIT."""
    table = UserSession._meta.db_table
    with no_firm_scope(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH found AS (
                SELECT id, created_at, last_seen_at, ended_at FROM {table} WHERE session_key = %(key)s
            ), touched AS (
                UPDATE {table} t SET last_seen_at = %(now)s FROM found
                WHERE t.id = found.id AND found.ended_at IS NULL AND found.last_seen_at < %(stale)s
                  AND found.last_seen_at >= %(idle)s AND found.created_at >= %(absolute)s
                RETURNING t.id
            )
            SELECT id, created_at, last_seen_at, ended_at FROM found
            """,  # noqa: S608 - model metadata
            {"key": key, "now": now, "stale": now - TOUCH_EVERY, "idle": now - idle, "absolute": now - absolute},
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return UserSession(id=row[0], created_at=row[1], last_seen_at=row[2], ended_at=row[3])
