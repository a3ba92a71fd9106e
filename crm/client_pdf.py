"""The client information PDF: what the client submitted, in the firm's name and colours
(rendered by the floor's ``advisorportal.pdf``, which fetches nothing from the network or the disk)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from accounts.models import Firm
from accounts.selectors import firm_branding
from advisorportal.pdf import render_pdf
from crm.merge.display import EMPTY, display_value, field_label
from crm.models import Contact
from portfolios import selectors as portfolio_selectors

SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Profile", ("kind", "status", "salutation", "first_name", "middle_name", "last_name", "suffix",
                 "preferred_name", "organization", "date_of_birth", "gender", "marital_status", "dependents",
                 "citizenship", "country_of_birth", "language")),
    ("Contact details", ("email", "email_alt", "phone", "mobile_phone", "work_phone", "username")),
    ("Residential address", ("res_street", "res_street2", "res_city", "res_state", "res_postal_code",
                             "res_country")),
    ("Mailing address", ("mail_street", "mail_street2", "mail_city", "mail_state", "mail_postal_code",
                         "mail_country")),
    ("Tax information", ("tax_id_type", "tax_id", "tax_country")),
    ("Employment", ("employment_status", "employer", "occupation", "employer_business")),
    ("Financial information", ("annual_income", "net_worth", "liquid_net_worth", "source_of_funds")),
    ("Investment objectives, risk and experience", ("investment_objectives", "time_horizon", "risk_tolerance",
                                                    "investment_experience")),
    ("Trading permissions", ("trading_permissions",)),
)  # fmt: skip


@dataclass(frozen=True)
class Section:
    title: str
    rows: list[tuple[str, str]]
    note: str = ""


def _label(name: str) -> str:
    if name == "tax_id_type":
        return "Tax id type"
    return field_label(name)


def _sections(contact: Contact, *, full_tax_id: bool) -> list[Section]:
    sections = []
    for title, names in SECTIONS:
        if title == "Mailing address" and contact.mailing_same:
            sections.append(Section(title, [], note="Same as the residential address."))
            continue
        rows = [(_label(n), display_value(contact, n, full_tax_id=full_tax_id)) for n in names]
        rows = [r for r in rows if r[1] != EMPTY]  # what the client gave, not every blank of the form
        sections.append(Section(title, rows, note="" if rows else "Nothing provided."))
    return sections


def render_client_pdf(*, user: Any, contact: Contact, full_tax_id: bool = False) -> bytes:
    """The PDF of ``contact`` (already in the user's scope); accounts limited to the user's account scope."""
    firm = Firm.objects.get(pk=contact.firm_id)
    context = {
        "contact": contact,
        "sections": _sections(contact, full_tax_id=full_tax_id),
        "accounts": portfolio_selectors.contact_accounts(user=user, contact=contact),
        "generated": timezone.localtime(),
        "full_tax_id": full_tax_id,
    }
    return render_pdf(
        template="contact_merge/client_information.html",
        stylesheet="contact_merge/client_information.css",
        context=context,
        branding=firm_branding(firm=firm),
        title=f"Client information · {contact.display_name}",
    )


def pdf_filename(contact: Contact) -> str:
    safe = "".join(ch if ch.isalnum() else "-" for ch in contact.display_name.lower()).strip("-")
    return f"client-information-{safe or contact.pk}.pdf"
