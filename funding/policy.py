"""Who must approve what: one table over request kind and service program (seed 000's table),
read by ``decide`` for a request, its client and the firm's settings. The request page shows
the answer and its reason; the services follow it.

How we read the seed's programs:

- **Streamlined** (every client, automatically): the advisor enters requests; the client approves
  each one that moves money or positions out of an account, or changes a bank instruction, from an
  emailed link with a one-time code.
- **Streamlined Plus**: as Streamlined, and administrative moves between accounts with the same
  owners (internal and position transfers) may be approved by the advisor on the client's behalf.
- **Full-Service** (per client, with the powers the client granted on a signed form): what the
  client granted needs no client approval; the rest is as Streamlined. A client not enrolled is
  as Streamlined.

Whatever the program, a deposit notification needs no approval (nothing leaves the account), and
every request that moves money or positions out, or changes a bank instruction, needs a Funding
Authorizer who is not its requester; a withdrawal at or above the firm's amount needs two.

Allowed owner combinations of a transfer between two accounts (``transfer_relation``): both are
client accounts of the firm (never the master account, which billing moves money to), open, and
share at least one owner: the same owners (``same``), or some owners in common, e.g. a joint
account to one of its owners' individual account (``shared``). Accounts without an owner in common
are refused: money for another person is a withdrawal to a bank instruction, not a transfer.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError

from funding.models import Enrollment, FundingSettings, Power, Program, RequestKind

NONE, CLIENT, CLIENT_OR_ADVISOR = "none", "client", "client_or_advisor"

# (kind, relation) -> program -> the rule; ("power", p) means: none if the client granted p, else client.
RULES: dict[tuple[str, str], dict[str, str | tuple[str, str]]] = {
    (RequestKind.DEPOSIT, ""): dict.fromkeys(Program.values, NONE),
    (RequestKind.WITHDRAWAL, ""): {
        Program.STREAMLINED: CLIENT,
        Program.STREAMLINED_PLUS: CLIENT,
        Program.FULL_SERVICE: ("power", Power.MOVE_FUNDS),
    },
    (RequestKind.BANK_INSTRUCTION, ""): {
        Program.STREAMLINED: CLIENT,
        Program.STREAMLINED_PLUS: CLIENT,
        Program.FULL_SERVICE: ("power", Power.BANK_INSTRUCTIONS),
    },
    **{
        (kind, "same"): {
            Program.STREAMLINED: CLIENT,
            Program.STREAMLINED_PLUS: CLIENT_OR_ADVISOR,
            Program.FULL_SERVICE: ("power", Power.MOVE_FUNDS),
        }
        for kind in (RequestKind.INTERNAL_TRANSFER, RequestKind.POSITION_TRANSFER)
    },
    **{
        (kind, "shared"): {
            Program.STREAMLINED: CLIENT,
            Program.STREAMLINED_PLUS: CLIENT,
            Program.FULL_SERVICE: ("power", Power.MOVE_FUNDS),
        }
        for kind in (RequestKind.INTERNAL_TRANSFER, RequestKind.POSITION_TRANSFER)
    },
}


@dataclass(frozen=True)
class Decision:
    client_must_approve: bool
    advisor_may_approve: bool  # on the client's behalf, instead of the client's link
    authorizers: int  # 0, 1 or 2 different Funding Authorizers
    custodian_step: bool  # submitted to the custodian, then completed
    reason: str  # why, in words, for the request page


def transfer_relation(source_owners: set[int], destination_owners: set[int]) -> str:
    """``same`` or ``shared`` (see the module's owner combinations), or a ValidationError."""
    if source_owners and source_owners == destination_owners:
        return "same"
    if source_owners & destination_owners:
        return "shared"
    raise ValidationError(
        {
            "to_account": "The two accounts have no owner in common. Money for another person is a withdrawal "
            "to that person's bank instruction, not a transfer."
        }
    )


def decide(
    *,
    kind: str,
    relation: str,
    settings: FundingSettings,
    enrollment: Enrollment | None,
    amount_in_threshold_currency: Decimal | None,
    client_name: str,
) -> Decision:
    program = settings.program
    rule = RULES[(kind, relation)][program]
    program_label = Program(program).label
    if isinstance(rule, tuple):
        power = rule[1]
        if enrollment is not None and power in enrollment.powers:
            rule = NONE
            why = (
                f"{client_name} is enrolled in Full-Service and granted the advisor the power to "
                f"{Power(power).label[0].lower()}{Power(power).label[1:]} (form {enrollment.form_reference})."
            )
        else:
            rule = CLIENT
            why = (
                f"The firm uses Full-Service, but {client_name} has not granted the advisor the power to "
                f"{Power(power).label[0].lower()}{Power(power).label[1:]}: the client approves it."
            )
    elif rule == NONE:
        why = "A deposit notification moves nothing out of the account: nobody needs to approve it."
    elif rule == CLIENT_OR_ADVISOR:
        why = (
            f"Under {program_label}, a move between accounts with the same owners is administrative: "
            f"{client_name} approves it from the emailed link, or the advisor approves it on the client's behalf."
        )
    else:
        why = f"Under {program_label}, {client_name} approves it from the emailed link with a one-time code."

    authorizers = 0 if kind == RequestKind.DEPOSIT else 1
    if kind == RequestKind.WITHDRAWAL and (
        amount_in_threshold_currency is None or amount_in_threshold_currency >= settings.dual_authorization_amount
    ):
        authorizers = 2
        limit = f"{settings.dual_authorization_amount:,.2f} {settings.dual_authorization_currency}"
        if amount_in_threshold_currency is None:
            why += f" Two authorizers approve it: no exchange rate compares it with the firm's limit of {limit}."
        else:
            why += f" Two different authorizers approve it: it is at least the firm's limit of {limit}."
    elif authorizers:
        why += " A Funding Authorizer who did not request it approves it."
    return Decision(
        client_must_approve=rule in (CLIENT, CLIENT_OR_ADVISOR),
        advisor_may_approve=rule == CLIENT_OR_ADVISOR,
        authorizers=authorizers,
        custodian_step=kind != RequestKind.BANK_INSTRUCTION,
        reason=why,
    )
