"""Two-factor authentication: enrolment, verification, the firm's policy and step-up.

Built on django-otp: a TOTP device per user (an authenticator app) plus a static device holding
single-use backup codes. A signed-in user who has a confirmed device must verify it in each new
session; one whom the firm's policy requires to have 2FA but who has none must enrol before doing
anything else. Sensitive actions additionally need a verification at most
``settings.STEP_UP_MINUTES`` old ("step-up").
"""

from __future__ import annotations

import base64
import secrets
import time
from typing import Any

import django_otp
import segno
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import audit
from accounts.models import TwoFactorPolicy, User
from accounts.rights import Role

VERIFIED_AT = "two_factor_verified_at"
BACKUP_CODES = 10


def has_two_factor(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def required_for(user: User) -> bool:
    """Does the firm's policy require this user to use 2FA? Always for officers and the primary user."""
    if user.role in (Role.PRIMARY, Role.SECURITY_OFFICER):
        return True
    return bool(user.firm.two_factor_policy == TwoFactorPolicy.EVERYONE)


def pending_step(request: HttpRequest) -> str | None:
    """What the signed-in user must do before anything else: "verify", "enrol", or nothing."""
    user: Any = request.user
    if not user.is_authenticated:
        return None
    if user.is_verified():
        return None
    if has_two_factor(user):
        return "verify"
    if required_for(user):
        return "enrol"
    return None


def recently_verified(request: HttpRequest) -> bool:
    verified_at = request.session.get(VERIFIED_AT)
    return bool(
        getattr(request.user, "is_verified", lambda: False)()
        and isinstance(verified_at, int | float)
        and time.time() - verified_at <= settings.STEP_UP_MINUTES * 60
    )


def _mark_verified(request: HttpRequest, device: Any) -> None:
    django_otp.login(request, device)
    request.session[VERIFIED_AT] = time.time()


def verify(request: HttpRequest, code: str) -> bool:
    """Check a code from the app, or a backup code (which is then used up)."""
    code = "".join(code.split())
    if not code or len(code) > 16:
        return False
    # A six-digit code goes to the authenticator app only, anything else to the backup codes only:
    # offered every code (django_otp.match_token), the app's device counted each backup code as a
    # failed attempt and throttled itself, so after a few backup-code sign-ins a right code from
    # the app was refused.
    kind = TOTPDevice if len(code) == 6 and code.isdigit() else StaticDevice
    for device in kind.objects.devices_for_user(request.user, confirmed=True):
        if device.verify_token(code):
            _mark_verified(request, device)
            return True
    return False


def totp_secret(device: TOTPDevice) -> str:
    """The secret as people type it into an app: base32."""
    return base64.b32encode(device.bin_key).decode().rstrip("=")


def qr_svg_data_uri(device: TOTPDevice) -> str:
    return str(segno.make(device.config_url, error="m").svg_data_uri(scale=5, border=2))


@transaction.atomic
def start_enrolment(user: User) -> TOTPDevice:
    """The user's unconfirmed authenticator device (created once, reused until confirmed)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    return device


@transaction.atomic
def confirm_enrolment(request: HttpRequest, device: TOTPDevice, code: str) -> list[str] | None:
    """Activate ``device`` if ``code`` is right; returns fresh backup codes (shown once), or None."""
    if not device.verify_token("".join(code.split())):
        return None
    TOTPDevice.objects.filter(user=device.user, confirmed=True).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = replace_backup_codes(device.user)
    _mark_verified(request, device)
    user = device.user
    audit.record(action="update", object_type="accounts.user", object_id=str(user.pk), object_repr=user.email,
                 changes={"two_factor": ["off", "on"]}, actor_id=user.pk)  # fmt: skip
    return codes


def replace_backup_codes(user: User, count: int = BACKUP_CODES) -> list[str]:
    static, _ = StaticDevice.objects.get_or_create(user=user, name="Backup codes", defaults={"confirmed": True})
    static.token_set.all().delete()
    codes = [secrets.token_hex(5) for _ in range(count)]
    StaticToken.objects.bulk_create([StaticToken(device=static, token=code) for code in codes])
    return codes


@transaction.atomic
def enrol_with_secret(user: User, secret: bytes, backup_codes: int = BACKUP_CODES) -> list[str]:
    """Give a user a confirmed authenticator with a known secret (demo data only)."""
    TOTPDevice.objects.filter(user=user).delete()
    TOTPDevice.objects.create(user=user, name="Authenticator app", key=secret.hex(), confirmed=True)
    return replace_backup_codes(user, backup_codes)
