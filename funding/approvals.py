"""The ``funding.request`` link purpose: what the shared approval page shows a client and what
approving or declining does (``advisorportal.links.views``)."""

from __future__ import annotations

from advisorportal import formats
from advisorportal.links.models import CodeChannel, Link
from advisorportal.links.purposes import Destination, Purpose, Shown
from advisorportal.mail.sms import sms_available
from crm.models import contact_label_defer
from funding import services
from funding.models import FundingRequest


def _request(link: Link) -> FundingRequest:
    """The link's request, read once per page (the page asks for what it shows, where codes go
    and the fingerprint); the client's label and contact fields only."""
    cached: FundingRequest | None = getattr(link, "_funding_request", None)
    if cached is None:
        keep = {"client__email", "client__phone", "client__mobile_phone"}
        cached = (
            FundingRequest.objects.select_related(
                "account",
                "to_account",
                "bank_instruction",
                "bank_instruction__replaces",
                "security",
                "client",
                "created_by",
            )
            .defer(*(name for name in contact_label_defer("client") if name not in keep))
            .get(pk=int(link.subject_id))
        )
        link._funding_request = cached  # type: ignore[attr-defined]
    return cached


def _mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}" if domain else "•••"


def _mask_phone(number: str) -> str:
    digits = "".join(ch for ch in number if ch.isdigit())
    return f"Text to {formats.masked_digits(digits[-4:])}" if len(digits) >= 4 else ""


def show(link: Link) -> Shown:
    request = _request(link)
    described = services.describe(request)
    return Shown(
        title=described["title"],
        intro=f"{request.created_by.full_name} asks you to approve this {request.get_kind_display().lower()}. "
        "Check every line: approve only what you asked for.",
        rows=tuple(described["rows"]),
    )


def destinations(link: Link) -> list[Destination]:
    client = _request(link).client
    found = [Destination(CodeChannel.EMAIL, link.recipient_email, f"Email to {_mask_email(link.recipient_email)}")]
    phone = client.mobile_phone or client.phone
    if phone and sms_available() and _mask_phone(phone):
        found.append(Destination(CodeChannel.SMS, phone, _mask_phone(phone)))
    return found


def decide(link: Link, approve: bool, reason: str, who: str) -> str:
    return services.client_decide(link=link, approve=approve, reason=reason, who=who)


def fingerprint(link: Link) -> str:
    return services.content_fingerprint(_request(link))


PURPOSE = Purpose(
    code=services.LINK_PURPOSE,
    label="Funding request approval",
    on_expired=services.link_expired,
    needs_code=True,
    show=show,
    code_destinations=destinations,
    decide=decide,
    fingerprint=fingerprint,
    on_code=services.link_code_event,
)
