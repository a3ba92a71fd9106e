"""Every write of links: issue, resolve (it records refusals), consume, revoke, expire."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterator
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
from advisorportal.links.models import Link
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
    parsed = _parse(token)
    if parsed is None:
        logger.warning("Link refused: malformed token for %s", purpose)
        raise LinkNotValid
    firm_id, secret = parsed
    current = current_firm_id()
    if current is not None and current != firm_id:
        logger.warning("Link refused: a token of another firm for %s", purpose)
        raise LinkNotValid
    digest = _hash(secret)
    with firm_scope(firm_id):
        link = Link.objects.filter(token_hash=digest).first()
        if link is None:
            logger.warning("Link refused: unknown token for %s", purpose)
            raise LinkNotValid
        reason = link.refusal(purpose=purpose, token_hash=digest)
        if reason:
            _record(link, "refused", auditing.READ, {"details": {"refused": reason, "asked_for": purpose}})
            raise LinkNotValid
    return link


def link_consume(*, link: Link, fingerprint: str) -> Link:
    """Use ``link`` (from ``link_resolve``) for the content whose fingerprint is now
    ``fingerprint``: one conditional UPDATE, so of concurrent consumers exactly one wins; the others
    get ``LinkNotValid``. Call it inside the transaction of what the approval does.

    (One-time codes, issue #17: a purpose with ``needs_code`` adds "and a verified code" to the
    UPDATE's conditions here.)"""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("Consume a link inside the transaction of what it approves (transaction.atomic).")
    require_firm_id()
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
