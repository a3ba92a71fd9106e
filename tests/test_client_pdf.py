"""The client information PDF: what the client submitted, branded, masked by default, audited,
and only for users who may see the contact."""

from __future__ import annotations

import io
import time
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader

from accounts import services as account_services
from accounts import two_factor
from accounts.models import AccountScope, AuditEntry
from accounts.rights import Right, Role
from crm.models import Contact
from tests.conftest import Persona
from tests.factories import ContactFactory, UserFactory
from tests.factories_portfolios import ClientAccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_contact(alice: Persona) -> Contact:
    with alice.scope():
        contact = ContactFactory(
            first_name="Zoë", last_name="Ångström", email="zoe@example.test", phone="+1 212 555 0100",
            date_of_birth=date(1971, 3, 4), res_street="1 Main St", res_city="Boston", res_country="US",
            tax_id="123-45-6789", employment_status="employed", employer="Acme Corp",
            annual_income=Decimal("250000"), risk_tolerance="balanced", investment_objectives=["growth", "income"],
            trading_permissions=["stocks", "options"],
        )  # fmt: skip
        ClientAccountFactory(number="U8000001", title="Zoë Individual", owners=[contact])
    return contact


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_pdf_shows_what_the_client_submitted_with_the_tax_id_masked(alice: Persona, client_contact: Contact) -> None:
    response = alice.client().get(f"/contacts/{client_contact.pk}/client-information.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert response.content.startswith(b"%PDF")
    text = text_of(response.content)
    for expected in ("Zoë Ångström", "Alpha Advisors", "Client information", "zoe@example.test", "Boston",
                     "Acme Corp", "250,000.00", "Balanced", "Growth, Income", "Stocks, Options", "U8000001",
                     "6789", "Generated"):  # fmt: skip
        assert expected in text, expected
    assert "123-45-6789" not in text
    with alice.scope():
        entry = AuditEntry.objects.get(action="read", object_id=str(client_contact.pk))
    assert entry.object_repr == "client information PDF" and entry.changes["details"] == {"full_tax_id": False}


def test_full_tax_id_needs_a_fresh_second_factor_and_is_audited(alice: Persona, client_contact: Contact) -> None:
    url = f"/contacts/{client_contact.pk}/client-information.pdf?tax_id=full"
    stale = alice.client()
    session = stale.session
    session[two_factor.VERIFIED_AT] = time.time() - 24 * 3600
    session.save()
    response = stale.get(url)
    assert response.status_code == 302 and "step_up=1" in response["Location"]

    response = alice.client().get(url)
    assert response.status_code == 200
    assert "123-45-6789" in text_of(response.content)
    with alice.scope():
        entry = AuditEntry.objects.get(action="read", object_id=str(client_contact.pk))
    assert entry.object_repr == "client information PDF with the full tax id"


def test_outsiders_get_404_and_users_without_crm_403(alice: Persona, charlie: Persona, client_contact: Contact) -> None:
    url = f"/contacts/{client_contact.pk}/client-information.pdf"
    api_url = f"/api/v1/contacts/{client_contact.pk}/client-information.pdf"
    assert charlie.client().get(url).status_code == 404
    assert charlie.api().get(api_url).status_code == 404
    no_crm = UserFactory(firm=alice.firm, email="bob2@alpha.test", role=Role.STAFF, rights=frozenset({Right.FUNDING}))
    assert Persona(no_crm, alice.firm).client().get(url).status_code == 403
    assert Persona(no_crm, alice.firm).api().get(api_url).status_code == 403
    # In the firm, but outside the advisor's scope: the same 404 as a missing contact.
    with alice.scope():
        elsewhere = ClientAccountFactory(number="U8000002")
    scoped = UserFactory(firm=alice.firm, email="dora@alpha.test", role=Role.ADVISOR)
    account_services.account_scope_set(actor=alice.user, user=scoped, scope=AccountScope.SELECTED,
                                       account_ids=frozenset({elsewhere.pk}))  # fmt: skip
    assert Persona(scoped, alice.firm).client().get(url).status_code == 404
    assert Persona(scoped, alice.firm).api().get(api_url).status_code == 404
    assert alice.client().get("/contacts/999999999/client-information.pdf").status_code == 404
    with alice.scope():
        assert not AuditEntry.objects.filter(action="read", object_type="crm.contact").exists()


def test_api_pdf_and_accounts_limited_to_the_account_scope(
    alice: Persona, bob: Persona, client_contact: Contact
) -> None:
    response = alice.api().get(f"/api/v1/contacts/{client_contact.pk}/client-information.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert "U8000001" in text_of(response.content) and "123-45-6789" not in text_of(response.content)
    # Bob has CRM but not Account Information: the PDF shows the client but no accounts.
    bobs = bob.client().get(f"/contacts/{client_contact.pk}/client-information.pdf")
    assert bobs.status_code == 200
    text = text_of(bobs.content)
    assert "Zoë Ångström" in text and "U8000001" not in text and "No accounts you may see" in text
