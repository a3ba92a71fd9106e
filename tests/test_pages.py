"""Pages: login, the branded shell, rights on sections, outsiders, health."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from crm.models import Contact
from tests.conftest import Persona
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def login(persona: Persona) -> Client:
    """Sign in through the form (password), then complete the second factor."""
    client = Client()
    response = client.post("/login/", {"username": persona.user.email.upper(), "password": persona.password})
    assert response.status_code == 302 and response["Location"] == "/"
    return persona.pass_two_factor(client)


def test_login_page_is_public_and_sets_security_headers(client: Client) -> None:
    response = client.get("/login/")
    assert response.status_code == 200
    assert b"Sign in" in response.content
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


def test_wrong_password_does_not_reveal_whether_the_email_exists(alice: Persona) -> None:
    wrong_password = Client().post("/login/", {"username": alice.user.email, "password": "nope"})
    unknown_email = Client().post("/login/", {"username": "nobody@alpha.test", "password": "nope"})
    assert wrong_password.status_code == unknown_email.status_code == 200
    message = b"That email and password do not match an active account."
    assert message in wrong_password.content and message in unknown_email.content


def test_disabled_user_cannot_log_in(alice: Persona) -> None:
    with alice.scope():
        type(alice.user).objects.filter(pk=alice.user.pk).update(is_active=False)
    response = Client().post("/login/", {"username": alice.user.email, "password": alice.password})
    assert response.status_code == 200


def test_pages_require_login(client: Client) -> None:
    for url in ("/", "/contacts/", "/settings/", "/billing/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/?next=")


def test_dashboard_is_branded_with_the_firm(alice: Persona) -> None:
    client = login(alice)
    response = client.get("/")
    assert response.status_code == 200
    assert b"Alpha Advisors" in response.content
    assert b'href="/brand/alpha.css"' in response.content
    css = client.get("/brand/alpha.css")
    assert css["Content-Type"] == "text/css" and b"--brand-primary: #123456" in css.content


def test_logout_is_post_only(alice: Persona) -> None:
    client = login(alice)
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_restricted_user_sees_only_granted_sections(bob: Persona) -> None:
    client = login(bob)
    page = client.get("/").content.decode()
    assert 'href="/contacts/"' in page and 'href="/billing/"' not in page
    assert client.get("/contacts/").status_code == 200
    for url in ("/accounts/", "/funding/", "/onboarding/", "/billing/", "/reports/"):
        assert client.get(url).status_code == 403, url


def test_full_rights_user_opens_every_section(alice: Persona) -> None:
    client = login(alice)
    for url in ("/contacts/", "/accounts/", "/funding/", "/onboarding/", "/billing/", "/reports/", "/settings/"):
        assert client.get(url).status_code == 200, url


def test_outsider_gets_404_for_another_firms_contact(alice: Persona, charlie: Persona) -> None:
    with alice.scope():
        contact = ContactFactory(last_name="Zebediah")
    outsider = login(charlie)
    assert outsider.get(f"/contacts/{contact.pk}/").status_code == 404
    assert outsider.get("/contacts/999999999/").status_code == 404
    assert b"Zebediah" not in outsider.get("/contacts/").content
    assert b"Zebediah" in login(alice).get(f"/contacts/{contact.pk}/").content


def test_contact_list_pages_by_keyset(alice: Persona) -> None:
    with alice.scope():
        ContactFactory.create_batch(55)
    client = login(alice)
    first = client.get("/contacts/")
    assert first.context["page"].next_cursor
    second = client.get(f"/contacts/?after={first.context['page'].next_cursor}")
    names = {c.pk for c in first.context["page"].rows} | {c.pk for c in second.context["page"].rows}
    assert len(names) == 55
    assert client.get("/contacts/?after=%%%garbage").status_code == 200  # a bad cursor restarts, no 500


def test_contact_list_filters_by_status(alice: Persona) -> None:
    with alice.scope():
        ContactFactory(status="prospect", last_name="Prospective")
        ContactFactory(status="active", last_name="Activeson")
    page = login(alice).get("/contacts/?status=prospect").content
    assert b"Prospective" in page and b"Activeson" not in page


def test_contact_list_query_count_is_constant(alice: Persona) -> None:
    client = login(alice)
    counts = []
    for extra in (1, 30):
        with alice.scope():
            ContactFactory.create_batch(extra)
        client.get("/contacts/")  # fills the status-count cache, as any earlier visit would
        with CaptureQueriesContext(connection) as ctx:
            client.get("/contacts/")
        counts.append(sum(1 for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))))
    # 4 for the session and user (middleware), the grants, and the page of contacts with their
    # accounts and NAV: the same whatever the page size (counts and toolbars come from the cache).
    assert counts[0] == counts[1] <= 6, ctx.captured_queries


def test_health_reports_database_and_redis(client: Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok", "proxy": "ok"}


def test_brand_css_of_unknown_firm_is_404(client: Client) -> None:
    assert client.get("/brand/no-such-firm.css").status_code == 404


def test_settings_lists_only_own_firm_users(alice: Persona, charlie: Persona) -> None:
    page = login(alice).get("/settings/").content
    assert b"alice@alpha.test" in page and b"charlie@beta.test" not in page


def test_contact_page_without_scope_cannot_leak_via_orm(alice: Persona) -> None:
    with alice.scope():
        ContactFactory()
    with pytest.raises(Exception, match="No firm in scope"):
        Contact.objects.count()


def test_firm_login_page_wears_the_firm_brand(alice: Persona) -> None:
    page = Client().get("/login/alpha/")
    assert page.status_code == 200
    assert b"Alpha Advisors" in page.content and b'href="/brand/alpha.css"' in page.content
    assert Client().get("/login/no-such-firm/").status_code == 404


def test_logout_returns_to_the_firms_login_page(alice: Persona) -> None:
    response = login(alice).post("/logout/")
    assert response["Location"] == "/login/alpha/"


def test_error_pages_keep_the_layout_and_reveal_nothing(alice: Persona, bob: Persona, charlie: Persona) -> None:
    with alice.scope():
        contact = ContactFactory(last_name="Quintessa")
    outsider = login(charlie)
    not_found = outsider.get(f"/contacts/{contact.pk}/")
    assert not_found.status_code == 404
    assert b"Page not found" in not_found.content and b"Quintessa" not in not_found.content
    assert b"Beta Capital" in not_found.content  # still the outsider's own branded shell
    forbidden = login(bob).get("/billing/")
    assert forbidden.status_code == 403 and b"You do not have access" in forbidden.content


def test_status_counts_follow_writes(alice: Persona, django_capture_on_commit_callbacks: Any) -> None:
    from crm.selectors import contact_status_counts

    def prospects() -> int:
        with alice.scope():
            return {s: n for s, _, n in contact_status_counts(user=alice.user)}["prospect"]

    before = prospects()
    with alice.scope(), django_capture_on_commit_callbacks(execute=True):
        contact = ContactFactory(status="prospect")
    assert prospects() == before + 1
    with alice.scope(), django_capture_on_commit_callbacks(execute=True):
        contact.delete()
    assert prospects() == before
