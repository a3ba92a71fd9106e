"""Pages, API answers and downloads are not kept in browser or proxy caches (issue #14, point 8):
``Cache-Control: no-store`` unless a view chose its own caching."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from tests.conftest import Persona
from tests.factories import ContactFactory, HouseholdFactory
from tests.factories_portfolios import ClientAccountFactory


def test_signed_in_pages_downloads_and_the_api_answer_no_store(alice: Persona) -> None:
    with alice.scope():
        contact = ContactFactory()
        household = HouseholdFactory(head=contact)
        account = ClientAccountFactory(owners=[contact])
    client = alice.client()
    pages = [
        reverse("crm:contact-list"),
        reverse("crm:contact-detail", args=[contact.pk]),
        reverse("crm:contact-edit", args=[contact.pk]),
        reverse("crm:household-list"),
        reverse("crm:household-detail", args=[household.pk]),
        reverse("crm:group-list"),
        reverse("portfolios:index"),
        reverse("portfolios:account-detail", args=[account.pk]),
        reverse("contact_io:import-start"),
        reverse("contact_io:export-summary"),
        reverse("contact_io:export-full"),
        reverse("accounts:settings"),
        reverse("accounts:audit"),
    ]
    answers = {url: client.get(url) for url in pages}
    assert {url: r.status_code for url, r in answers.items()} == dict.fromkeys(pages, 200)
    assert {url: r.get("Cache-Control") for url, r in answers.items()} == dict.fromkeys(pages, "no-store")
    api = alice.api()
    for url in ("/api/v1/contacts/", f"/api/v1/contacts/{contact.pk}/", f"/api/v1/households/{household.pk}/"):
        response = api.get(url)
        assert (response.status_code, response.get("Cache-Control")) == (200, "no-store"), url


def test_refusals_and_anonymous_pages_are_not_stored_either(alice: Persona, charlie: Persona) -> None:
    with alice.scope():
        contact = ContactFactory()
    outsider = charlie.client().get(reverse("crm:contact-detail", args=[contact.pk]))
    assert (outsider.status_code, outsider["Cache-Control"]) == (404, "no-store")
    login = Client().get(reverse("accounts:login"))
    assert "no-store" in login["Cache-Control"]


def test_a_view_that_chooses_its_caching_keeps_it(alice: Persona) -> None:
    response = alice.client().get(reverse("brand-css", args=[alice.firm.slug]))
    assert response.status_code == 200 and "public" in response["Cache-Control"]
