"""The one table of a request's legal moves. ``funding.services`` asks ``target`` before every
change of status and writes the move as a ``RequestEvent``; anything not in the table is refused
with the reason a person can act on.

    draft ──send──▶ awaiting client ──client approves / advisor on the client's behalf──▶ awaiting authorizer
      │                 │  └─client declines──▶ rejected        │  └─authorizer rejects──▶ rejected
      │                 └─edit──▶ draft   └─link expires──▶ expired                 │
      └─send (no client approval needed)─▶ awaiting authorizer ──authorized──▶ submitted ──completed──▶ completed
      └─send (a deposit notification)─▶ submitted      (a bank instruction: authorized ──▶ completed)
    cancel: from draft, awaiting client, awaiting authorizer, or submitted before it went to the custodian
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from funding.models import Status

S = Status

# (status, action) -> the statuses the action may lead to; the service picks one (by policy).
TRANSITIONS: dict[tuple[str, str], frozenset[str]] = {
    (S.DRAFT, "send"): frozenset({S.AWAITING_CLIENT, S.AWAITING_AUTHORIZER, S.SUBMITTED}),
    (S.DRAFT, "cancel"): frozenset({S.CANCELLED}),
    (S.AWAITING_CLIENT, "edit"): frozenset({S.DRAFT}),
    (S.AWAITING_CLIENT, "client_approve"): frozenset({S.AWAITING_AUTHORIZER, S.SUBMITTED}),
    (S.AWAITING_CLIENT, "approve_on_behalf"): frozenset({S.AWAITING_AUTHORIZER, S.SUBMITTED}),
    (S.AWAITING_CLIENT, "client_decline"): frozenset({S.REJECTED}),
    (S.AWAITING_CLIENT, "expire"): frozenset({S.EXPIRED}),
    (S.AWAITING_CLIENT, "cancel"): frozenset({S.CANCELLED}),
    (S.AWAITING_AUTHORIZER, "authorize"): frozenset({S.AWAITING_AUTHORIZER, S.SUBMITTED, S.COMPLETED}),
    (S.AWAITING_AUTHORIZER, "reject"): frozenset({S.REJECTED}),
    (S.AWAITING_AUTHORIZER, "cancel"): frozenset({S.CANCELLED}),
    (S.SUBMITTED, "cancel"): frozenset({S.CANCELLED}),
    (S.SUBMITTED, "complete"): frozenset({S.COMPLETED}),
}

ACTION_LABELS = {
    "create": "Created",
    "edit": "Edited",
    "send": "Sent",
    "client_approve": "Approved by the client",
    "approve_on_behalf": "Approved on the client's behalf",
    "client_decline": "Declined by the client",
    "expire": "Approval link expired",
    "authorize": "Authorized",
    "reject": "Rejected by an authorizer",
    "cancel": "Cancelled",
    "complete": "Completed",
    "instruction_file": "Sent to the custodian",
    "email_sent": "Approval email sent",
    "reminder_sent": "Reminder email sent",
    "code_sent": "One-time code sent",
    "code_refused": "Wrong one-time code",
    "custodian_mismatch": "The custodian recorded other figures",
}


_VERBS = {
    "send": "sent",
    "edit": "edited",
    "client_approve": "approved by the client",
    "approve_on_behalf": "approved on the client's behalf",
    "client_decline": "declined",
    "expire": "expired",
    "authorize": "authorized",
    "reject": "rejected",
    "cancel": "cancelled",
    "complete": "completed",
}


def allowed(status: str, action: str) -> frozenset[str]:
    return TRANSITIONS.get((status, action), frozenset())


def target(status: str, action: str, wanted: str) -> str:
    """``wanted`` if ``action`` may move a request in ``status`` there; else a ``ValidationError``."""
    if wanted in allowed(status, action):
        return wanted
    verb = _VERBS.get(action, action)
    state = Status(status).label.lower()
    raise ValidationError(
        {"status": ValidationError(f"A request that is {state} cannot be {verb}.", code="illegal_transition")}
    )


def actions_from(status: str) -> list[str]:
    return [action for (source, action) in TRANSITIONS if source == status]
