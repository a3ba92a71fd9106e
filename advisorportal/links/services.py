"""Every write of links: issue, resolve (it records refusals), consume, revoke, expire."""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models.functions import Now
from django.utils import timezone

from advisorportal import auditing
from advisorportal.hashing import sha256_hex
from advisorportal.links import purposes
from advisorportal.links.models import CodeChannel, Link, LinkCode
from advisorportal.mail import sms
from advisorportal.mail.services import email_send
from advisorportal.tenancy.context import current_firm_id, firm_scope, require_firm_id

logger = logging.getLogger(__name__)

NOT_VALID = "This link is not valid. It may have expired, been used already or been replaced by a newer one."
# <firm id>.<secret>: token_urlsafe(32) is 43 characters of the URL-safe base64 alphabet.
_TOKEN = re.compile(r"([1-9][0-9]{0,18})\.([A-Za-z0-9_-]{43})")


class LinkNotValid(Exception):
    """The one answer to a bad token, whatever the reason (which only the audit trail keeps)."""

    def __init__(self) -> None:
        super().__init__(NOT_VALID)


@dataclass(frozen=True)
class IssuedLink:
    link: Link
    token: str  # shown once: put it in the email, never store or log it


def _hash(secret: str) -> str:
    return sha256_hex(secret.encode())


def _parse(token: str) -> tuple[int, str] | None:
    match = _TOKEN.fullmatch(token) if len(token) <= 80 else None
    return (int(match[1]), match[2]) if match else None


def _subject_of(subject: models.Model | None, subject_type: str, subject_id: str) -> tuple[str, str]:
    if subject is not None:
        return subject._meta.label_lower, str(subject.pk)
    if not subject_type or not subject_id:
        raise ValueError("Say what the link is about: subject=<object>, or subject_type and subject_id.")
    return subject_type, str(subject_id)


def _record(link: Link, event: str, action: str, changes: dict[str, Any], actor_id: int | None = None) -> None:
    label = purposes.get(link.purpose).label if purposes.registered(link.purpose) else link.purpose
    auditing.record(action=action, obj=link, object_repr=f"{label} link {event}", changes=changes, actor_id=actor_id)


@transaction.atomic
def link_issue(
    *,
    purpose: str,
    recipient_email: str,
    fingerprint: str,
    actor: Any = None,
    subject: models.Model | None = None,
    subject_type: str = "",
    subject_id: str = "",
    expires_in: timedelta | None = None,
) -> IssuedLink:
    """A new link about ``subject`` (or ``subject_type`` + ``subject_id``) that approves the
    content whose ``advisorportal.hashing.fingerprint`` is ``fingerprint``. ``expires_in``
    defaults to the purpose's expiry, then to ``LINK_EXPIRY_HOURS``. Returns the token once."""
    registered = purposes.get(purpose)
    subject_type, subject_id = _subject_of(subject, subject_type, subject_id)
    expiry = expires_in or registered.expiry or timedelta(hours=settings.LINK_EXPIRY_HOURS)
    if expiry <= timedelta(0):
        raise ValidationError({"expires_in": "A link must expire in the future."})
    secret = secrets.token_urlsafe(32)
    link = Link(
        purpose=purpose,
        subject_type=subject_type,
        subject_id=subject_id,
        fingerprint=fingerprint,
        recipient_email=recipient_email,
        token_hash=_hash(secret),
        created_by=actor,
        expires_at=timezone.now() + expiry,
    )
    link.full_clean()
    link.save()
    _record(
        link,
        "issued",
        auditing.CREATE,
        {
            "purpose": [None, purpose],
            "subject": [None, f"{subject_type} {subject_id}"],
            "recipient_email": [None, recipient_email],
            "expires_at": [None, link.expires_at.isoformat()],
        },
        actor_id=getattr(actor, "pk", None),
    )
    return IssuedLink(link=link, token=f"{link.firm_id}.{secret}")


@contextmanager
def link_scope(token: str) -> Iterator[None]:
    """The firm scope a link's page runs in: the firm the token names, before anyone signs in.

    The prefix is unverified until ``link_resolve`` finds the hash in that firm. A request that
    already has a firm in scope (a signed-in user's) keeps it; a token of another firm is then
    refused by ``link_resolve``. A malformed token sets no scope."""
    parsed = _parse(token)
    if parsed is None or current_firm_id() is not None:
        yield
        return
    with firm_scope(parsed[0]):
        yield


def link_resolve(*, token: str, purpose: str) -> Link:
    """The open link of ``purpose`` that ``token`` opens, or ``LinkNotValid``. Changes nothing
    but the audit trail (a refusal is recorded), so GET and HEAD may call it."""
    return _resolve(token, purpose, lambda found: found == purpose)


def link_resolve_for_page(*, token: str) -> Link:
    """As ``link_resolve``, for the shared approval page: the link of any purpose that has a
    page (``Purpose.show``)."""
    return _resolve(token, "an approval page", _has_page)


def _has_page(code: str) -> bool:
    return purposes.registered(code) and purposes.get(code).show is not None


def _resolve(token: str, asked_for: str, accept: Callable[[str], bool]) -> Link:
    parsed = _parse(token)
    if parsed is None:
        logger.warning("Link refused: malformed token for %s", asked_for)
        raise LinkNotValid
    firm_id, secret = parsed
    current = current_firm_id()
    if current is not None and current != firm_id:
        logger.warning("Link refused: a token of another firm for %s", asked_for)
        raise LinkNotValid
    digest = _hash(secret)
    with firm_scope(firm_id):
        link = Link.objects.filter(token_hash=digest).first()
        if link is None:
            logger.warning("Link refused: unknown token for %s", asked_for)
            raise LinkNotValid
        reason = link.refusal(purpose=link.purpose if accept(link.purpose) else "", token_hash=digest)
        if reason:
            _record(link, "refused", auditing.READ, {"details": {"refused": reason, "asked_for": asked_for}})
            raise LinkNotValid
    return link


def link_consume(*, link: Link, fingerprint: str, code: str = "") -> Link:
    """Use ``link`` (from ``link_resolve``) for the content whose fingerprint is now
    ``fingerprint``: one conditional UPDATE, so of concurrent consumers exactly one wins; the others
    get ``LinkNotValid``. Call it inside the transaction of what the approval does.

    A purpose that ``needs_code`` first uses ``code`` by a conditional UPDATE of its own (unused,
    not void, not expired, this link's, the right hash): a wrong or missing code raises
    ``CodeNotValid`` after counting the try, which the caller lets commit (it catches the error
    inside the transaction, as it does ``LinkNotValid``)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("Consume a link inside the transaction of what it approves (transaction.atomic).")
    require_firm_id()
    if purposes.registered(link.purpose) and purposes.get(link.purpose).needs_code:
        _use_code(link, code)
    updated = Link.objects.filter(
        pk=link.pk,
        used_at=None,
        revoked_at=None,
        expired_at=None,
        expires_at__gt=Now(),
        fingerprint=fingerprint,
    ).update(used_at=Now())
    current = Link.objects.get(pk=link.pk)
    if updated != 1:
        reason = current.refusal(purpose=link.purpose, token_hash=current.token_hash) or "changed"
        _record(current, "refused", auditing.READ, {"details": {"refused": reason, "asked_for": link.purpose}})
        raise LinkNotValid
    assert current.used_at is not None
    _record(current, "used", auditing.UPDATE, {"used_at": [None, current.used_at.isoformat()]})
    return current


@transaction.atomic
def links_revoke(
    *, subject: models.Model | None = None, subject_type: str = "", subject_id: str = "", actor: Any = None
) -> int:
    """Revoke every open link about the subject (call it from the subject's edit service);
    returns how many were revoked."""
    subject_type, subject_id = _subject_of(subject, subject_type, subject_id)
    now = timezone.now()
    open_links = list(
        Link.objects.select_for_update()
        .filter(subject_type=subject_type, subject_id=subject_id, used_at=None, revoked_at=None, expired_at=None)
        .order_by("pk")
    )
    Link.objects.filter(pk__in=[link.pk for link in open_links]).update(revoked_at=now)
    for link in open_links:
        link.revoked_at = now
        _record(link, "revoked", auditing.UPDATE, {"revoked_at": [None, now.isoformat()]},
                actor_id=getattr(actor, "pk", None))  # fmt: skip
    return len(open_links)


def links_expire(*, batch: int = 500) -> int:
    """Close the current firm's links that expired unused, each calling its purpose's
    ``on_expired`` in the same transaction; returns how many were closed. Links being used or
    revoked at the same moment are skipped (``SKIP LOCKED``) and left to the next run."""
    closed = 0
    while True:
        with transaction.atomic():
            due = list(
                Link.objects.select_for_update(skip_locked=True)
                .filter(expires_at__lte=Now(), used_at=None, revoked_at=None, expired_at=None)
                .order_by("pk")[:batch]
            )
            if not due:
                return closed
            now = timezone.now()
            Link.objects.filter(pk__in=[link.pk for link in due]).update(expired_at=now)
            for link in due:
                link.expired_at = now
                _record(link, "expired", auditing.UPDATE, {"expired_at": [None, now.isoformat()]})
                if purposes.registered(link.purpose) and (on_expired := purposes.get(link.purpose).on_expired):
                    on_expired(link)
            closed += len(due)
        if len(due) < batch:
            return closed


# --- One-time codes ---------------------------------------------------------------------------------

CODE_DIGITS = 6
CODE_MINUTES = 10
CODE_MAX_ATTEMPTS = 5  # wrong tries of one code before it is void
CODES_PER_LINK = 5  # codes one link may have sent, in all
CODE_RESEND_SECONDS = 30
LINK_MAX_WRONG_CODES = 10  # wrong tries over all of a link's codes before the link is revoked
CODE_NOT_VALID = "That code is not right, or it has expired. Check the latest code we sent, or ask for a new one."


class CodeNotValid(Exception):
    def __init__(self, message: str = CODE_NOT_VALID) -> None:
        super().__init__(message)
        self.message = message


def _code_hash(link: Link, code: str) -> str:
    key = sha256_hex(f"advisorportal link codes {settings.SECRET_KEY}".encode())
    return hmac.new(key.encode(), f"{link.pk}:{code}".encode(), "sha256").hexdigest()


def _send_code(link: Link, channel: str, address: str, code: str) -> None:
    label = purposes.get(link.purpose).label
    text = f"Your code for the {label.lower()} is {code}. It expires in {CODE_MINUTES} minutes. Never share it."
    if channel == CodeChannel.SMS:
        sms.send_sms(to=address, body=text)
        return
    email_send(to=address, template="links.one_time_code", context={"code": code, "purpose": label.lower(),
               "minutes": CODE_MINUTES})  # fmt: skip


@transaction.atomic
def code_send(*, link: Link, destination: purposes.Destination) -> LinkCode:
    """Send a new one-time code for ``link`` to ``destination`` (one of its purpose's
    ``code_destinations``); earlier codes of the link are void. Refused (``CodeNotValid`` with the
    reason) when the link has had ``CODES_PER_LINK`` codes, or one was sent seconds ago."""
    locked = Link.objects.select_for_update().get(pk=link.pk)
    if locked.refusal(purpose=link.purpose, token_hash=locked.token_hash):
        raise LinkNotValid
    codes = list(LinkCode.objects.filter(link=locked).order_by("-created_at"))
    if len(codes) >= CODES_PER_LINK:
        raise CodeNotValid("Too many codes were sent for this link. Ask your advisor to send you a new link.")
    if codes and (timezone.now() - codes[0].created_at).total_seconds() < CODE_RESEND_SECONDS:
        raise CodeNotValid("A code was sent a moment ago. Wait half a minute before asking for another.")
    if destination.channel not in CodeChannel.values:
        raise ValueError(f"Unknown code channel {destination.channel!r}.")
    LinkCode.objects.filter(link=locked, used_at=None, voided_at=None).update(voided_at=Now())
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    record = LinkCode.objects.create(
        link=locked,
        channel=destination.channel,
        sent_to=destination.masked,
        code_hash=_code_hash(locked, code),
        expires_at=timezone.now() + timedelta(minutes=CODE_MINUTES),
    )
    _send_code(locked, destination.channel, destination.address, code)
    _record(locked, "code sent", auditing.UPDATE, {"details": {"code_sent_to": destination.masked,
            "channel": destination.channel}})  # fmt: skip
    _tell_purpose(locked, "code_sent", destination.masked)
    return record


def _tell_purpose(link: Link, event: str, detail: str) -> None:
    hook = purposes.get(link.purpose).on_code if purposes.registered(link.purpose) else None
    if hook is not None:
        hook(link, event, detail)


def _use_code(link: Link, code: str) -> None:
    code = re.sub(r"\s", "", code or "")
    if re.fullmatch(rf"[0-9]{{{CODE_DIGITS}}}", code):
        used = LinkCode.objects.filter(
            link_id=link.pk,
            code_hash=_code_hash(link, code),
            used_at=None,
            voided_at=None,
            expires_at__gt=Now(),
            attempts__lt=CODE_MAX_ATTEMPTS,
        ).update(used_at=Now())
        if used == 1:
            return
    open_codes = LinkCode.objects.filter(link_id=link.pk, used_at=None, voided_at=None)
    open_codes.update(attempts=models.F("attempts") + 1)
    open_codes.filter(attempts__gte=CODE_MAX_ATTEMPTS).update(voided_at=Now())
    wrong = LinkCode.objects.filter(link_id=link.pk).aggregate(total=models.Sum("attempts"))["total"] or 0
    logger.warning("Link code refused for link %s (%s wrong tries)", link.pk, wrong)
    _record(
        link, "code refused", auditing.READ, {"details": {"refused": "wrong or expired code", "wrong_tries": wrong}}
    )
    _tell_purpose(link, "code_refused", f"{wrong} wrong or expired code{'s' if wrong != 1 else ''} so far")
    if wrong >= LINK_MAX_WRONG_CODES:
        links_revoke(subject_type=link.subject_type, subject_id=link.subject_id)
        raise CodeNotValid("Too many wrong codes: this link no longer works. Ask your advisor to send you a new one.")
    raise CodeNotValid
