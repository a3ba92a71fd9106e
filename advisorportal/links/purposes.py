"""What links are for: each app registers its purposes once, in its ``AppConfig.ready``.

A purpose is a short code (``funding.withdrawal``, ``billing.fee_increase``,
``onboarding.application``, ``crm.esg_invitation``), a label for people (audit trail, pages) and,
optionally, its own expiry and what to do when one of its links expires unused (the expiry sweep
calls ``on_expired`` with each such link, inside the link's firm scope and transaction: a
withdrawal request moves to "expired"). A link can only be issued for a registered purpose, and a
token is only valid for the purpose it was issued for.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from advisorportal.links.models import Link

_CODE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")


@dataclass(frozen=True)
class Shown:
    """What the approval page shows about a link's subject, exactly as it will be approved."""

    title: str  # e.g. "Withdrawal of 2,500.00 USD"
    intro: str  # one sentence: who asks and what approving does
    rows: tuple[tuple[str, str], ...]  # (label, value): amounts, masked numbers, dates, the firm
    approve_label: str = "Approve"
    decline_label: str = "Decline"


@dataclass(frozen=True)
class Destination:
    """Where a one-time code may go: the holder's email or phone on file (shown masked)."""

    channel: str  # "email" or "sms"
    address: str
    masked: str


@dataclass(frozen=True)
class Purpose:
    code: str
    label: str
    expiry: timedelta | None = None  # None: settings.LINK_EXPIRY_HOURS (or what the caller passes)
    on_expired: Callable[[Link], None] | None = None
    # The approval page (advisorportal.links.views) for purposes that have one: what it shows,
    # where codes go, and what approving or declining does (called inside the request's
    # transaction, after the link was consumed; ``who`` describes the holder for the timeline).
    needs_code: bool = False
    show: Callable[[Link], Shown] | None = None
    code_destinations: Callable[[Link], list[Destination]] | None = None
    decide: Callable[[Link, bool, str, str], str] | None = None  # (link, approve, reason, who) -> message
    fingerprint: Callable[[Link], str] | None = None  # the subject's fingerprint now (an edit changes it)
    # A one-time code was sent ("code_sent", where to, masked) or refused ("code_refused", the
    # link's wrong tries so far), for the subject's own timeline (the audit log has both anyway).
    on_code: Callable[[Link, str, str], None] | None = None

    def __post_init__(self) -> None:
        if len(self.code) > 40 or not _CODE.fullmatch(self.code):
            raise ValueError(f"A link purpose is app.name in lowercase, at most 40 characters; got {self.code!r}.")


_registry: dict[str, Purpose] = {}


def register(purpose: Purpose) -> Purpose:
    """Register ``purpose``; registering the same code again with another definition is an error."""
    known = _registry.get(purpose.code)
    if known is not None and known != purpose:
        raise ValueError(f"The link purpose {purpose.code!r} is already registered differently.")
    _registry[purpose.code] = purpose
    return purpose


def get(code: str) -> Purpose:
    try:
        return _registry[code]
    except KeyError:
        raise LookupError(f"No link purpose {code!r} is registered (register it in the app's ready()).") from None


def registered(code: str) -> bool:
    return code in _registry
