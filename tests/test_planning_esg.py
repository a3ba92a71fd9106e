"""ESG impact preferences (issue #19, point 5): the advisor records a ranking; the client ranks
through the emailed single-use link on the white-branded page, through the real request path (no
login); a used or expired link is refused; bad rankings are refused naming the value and store
nothing; scope, rights and another firm."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from advisorportal.links.models import Link
from advisorportal.mail.models import OutgoingEmail
from reports.planning.models import EsgInvitation, EsgPreference
from tests.conftest import Persona
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
API = "/api/v1/planning/esg/"


@pytest.fixture
def client_contact(alice: Persona) -> Any:
    with alice.scope():
        return ContactFactory(first_name="Greta", last_name="Green", email="greta@example.test")


def emailed_path(alice: Persona) -> str:
    with alice.scope():
        text = OutgoingEmail.objects.order_by("-pk").values_list("text_body", flat=True)[0]
    match = re.search(r"https?://[^/\s]+(/reports/planning/esg/[^\s]+/)", text)
    assert match, text
    return match.group(1)


def stored(alice: Persona, contact: Any) -> list[tuple[str, list[str]]]:
    with alice.scope():
        return [(p.source, p.ranking) for p in EsgPreference.objects.filter(contact=contact).order_by("pk")]


def test_the_client_ranks_through_the_emailed_link_once(alice: Persona, client_contact: Any) -> None:
    advisor = alice.client()
    sent = advisor.post(f"/reports/planning/contacts/{client_contact.pk}/esg/", {"action": "invite"})
    assert sent.status_code == 302
    with alice.scope():
        email = OutgoingEmail.objects.order_by("-pk").first()
        assert email is not None and email.to == "greta@example.test" and email.template == "planning.esg_invitation"
    path = emailed_path(alice)
    visitor = Client()  # the client: not signed in
    page = visitor.get(path)
    assert page.status_code == 200 and "What matters to you when you invest" in page.content.decode()
    assert "Alpha Advisors" in page.content.decode()  # the firm's brand, not ours
    # Two values with the same rank: refused, named, nothing stored, the link still works.
    bad = visitor.post(path, {"climate": "1", "water": "1"})
    assert bad.status_code == 400 and "Clean water has rank 1, as Climate change has" in bad.content.decode()
    assert stored(alice, client_contact) == []
    done = visitor.post(path, {"water": "2", "climate": "1", "weapons": "3"})
    assert done.status_code == 200 and "were sent to your advisor" in done.content.decode()
    assert stored(alice, client_contact) == [("client", ["climate", "water", "weapons"])]
    with alice.scope():
        assert EsgInvitation.objects.get(contact=client_contact).answered_at is not None
    # Used: the same page as any bad link, and nothing more is stored.
    again = visitor.post(path, {"health": "1"})
    assert again.status_code == 404 and "This link cannot be used" in again.content.decode()
    assert visitor.get(path).status_code == 404
    assert len(stored(alice, client_contact)) == 1
    # The advisor's page shows the client's ranking.
    html = advisor.get(f"/reports/planning/contacts/{client_contact.pk}/esg/").content.decode()
    assert "Ranked by the client through the emailed link" in html and "<li>Clean water</li>" in html


def test_an_expired_or_replaced_link_is_refused(alice: Persona, client_contact: Any) -> None:
    advisor = alice.client()
    advisor.post(f"/reports/planning/contacts/{client_contact.pk}/esg/", {"action": "invite"})
    first = emailed_path(alice)
    advisor.post(f"/reports/planning/contacts/{client_contact.pk}/esg/", {"action": "invite"})
    second = emailed_path(alice)
    visitor = Client()
    assert visitor.get(first).status_code == 404  # a new invitation stops the earlier one
    with alice.scope():
        Link.objects.filter(purpose="planning.esg", revoked_at=None).update(
            expires_at=timezone.now() - timedelta(minutes=1)
        )
    refused = visitor.post(second, {"climate": "1"})
    assert refused.status_code == 404 and "This link cannot be used" in refused.content.decode()
    assert stored(alice, client_contact) == []
    assert visitor.get("/reports/planning/esg/not-a-token/").status_code == 404


def test_the_advisor_records_a_ranking_and_bad_input_stores_nothing(alice: Persona, client_contact: Any) -> None:
    page = f"/reports/planning/contacts/{client_contact.pk}/esg/"
    advisor = alice.client()
    refused = advisor.post(page, {"climate": "1", "water": "14"})
    assert refused.status_code == 400 and "Select a valid choice" in refused.content.decode()
    assert advisor.post(page, {}).status_code == 400  # nothing ranked
    assert stored(alice, client_contact) == []
    assert advisor.post(page, {"governance": "1", "note": "Said on the phone"}).status_code == 302
    api = alice.api()
    recorded = api.post(f"{API}contacts/{client_contact.pk}/", {"ranking": ["animals", "health"]}, format="json")
    assert recorded.status_code == 201 and recorded.json()["source"] == "advisor"
    history = api.get(f"{API}contacts/{client_contact.pk}/").json()
    assert [h["ranking"] for h in history] == [["animals", "health"], ["governance"]]
    for body, message in (
        ({"ranking": ["animals", "animals"]}, "Animal welfare is ranked twice"),
        ({"ranking": ["gold"]}, "Unknown impact value 'gold'"),
        ({"ranking": []}, "Rank at least one impact value."),
    ):
        response = api.post(f"{API}contacts/{client_contact.pk}/", body, format="json")
        assert response.status_code == 400 and message in response.json()["error"]["fields"]["ranking"][0]
    assert len(stored(alice, client_contact)) == 2
    values = api.get(f"{API}values/").json()
    assert len(values) == 13 and values[0]["code"] == "climate"


def test_an_invitation_needs_an_email_address(alice: Persona) -> None:
    with alice.scope():
        silent = ContactFactory(email="")
    response = alice.api().post(f"{API}contacts/{silent.pk}/invitations/")
    assert response.status_code == 400 and "no email address" in response.json()["error"]["fields"]["contact"][0]
    with alice.scope():
        assert not EsgInvitation.objects.exists() and not OutgoingEmail.objects.exists()
    ok = alice.api().post(f"{API}contacts/{ContactFactory_in(alice).pk}/invitations/")
    assert ok.status_code == 201 and ok.json()["answered_at"] is None


def ContactFactory_in(alice: Persona) -> Any:
    with alice.scope():
        return ContactFactory(email="someone@example.test")


def test_outsiders_and_rights(alice: Persona, bob: Persona, charlie: Persona, client_contact: Any) -> None:
    for persona, code in ((charlie, 404), (bob, 403)):
        assert persona.api().get(f"{API}contacts/{client_contact.pk}/").status_code == code
        assert persona.api().post(f"{API}contacts/{client_contact.pk}/invitations/").status_code == code
        assert persona.client().get(f"/reports/planning/contacts/{client_contact.pk}/esg/").status_code == code
    assert bob.api().get(f"{API}values/").status_code == 403
    # A token of firm A's link opened while signed in to firm B is refused like any bad token.
    alice.client().post(f"/reports/planning/contacts/{client_contact.pk}/esg/", {"action": "invite"})
    assert charlie.client().get(emailed_path(alice)).status_code == 404
