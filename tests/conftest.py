"""Shared fixtures: the test database (created by the owner role, used by the application role)
and the three personas every endpoint is tested with.

- Alice: firm A, primary user, every right.
- Bob: firm A, staff, CRM only.
- Charlie: firm B, primary user: the outsider.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import Firm, User
from accounts.rights import Right, Role
from advisorportal.tenancy.context import firm_scope
from tests.concurrency import committed_db  # noqa: F401 - a fixture: committed rows for tests with threads
from tests.factories import FirmFactory, UserFactory


@pytest.fixture(scope="session")
def django_db_setup(
    django_test_environment: None,
    django_db_blocker: Any,
    django_db_keepdb: bool,
    django_db_modify_db_settings: None,
) -> Iterator[None]:
    """Create and migrate the test database as the owner role; tests then connect as the
    application role (the "default" alias) to the same database, so RLS applies to them."""
    from django.db import connections
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock():
        config = setup_databases(
            verbosity=0, interactive=False, keepdb=django_db_keepdb, aliases={"owner"}, serialized_aliases=set()
        )
        default = connections["default"]
        default.close()
        default.settings_dict["NAME"] = connections["owner"].settings_dict["NAME"]
    yield
    with django_db_blocker.unblock():
        connections["default"].close()
        teardown_databases(config, verbosity=0, keepdb=django_db_keepdb)


@dataclass
class Persona:
    user: User
    firm: Firm
    password: str = "correct horse battery staple"

    def scope(self) -> Any:
        return firm_scope(self.firm)

    def pass_two_factor(self, client: Client) -> Client:
        """Complete the 2FA step of ``client``'s session, enrolling an authenticator if needed."""
        from django_otp import DEVICE_ID_SESSION_KEY
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from accounts import two_factor

        device = TOTPDevice.objects.filter(user=self.user, confirmed=True).first()
        if device is None:
            two_factor.enrol_with_secret(self.user, b"persona-totp-secret!")
            device = TOTPDevice.objects.get(user=self.user, confirmed=True)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session[two_factor.VERIFIED_AT] = time.time()
        session.save()
        return client

    def client(self) -> Client:
        """A browser session signed in with password and second factor."""
        client = Client()
        client.force_login(self.user)
        return self.pass_two_factor(client)

    def api(self) -> APIClient:
        client = APIClient()
        _, token = account_services.api_token_create(user=self.user, name="test")
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client


@pytest.fixture
def firm_a(db: None) -> Firm:
    return FirmFactory(name="Alpha Advisors", slug="alpha", brand_primary="#123456")


@pytest.fixture
def firm_b(db: None) -> Firm:
    return FirmFactory(name="Beta Capital", slug="beta")


@pytest.fixture
def alice(firm_a: Firm) -> Persona:
    return Persona(
        UserFactory(firm=firm_a, email="alice@alpha.test", full_name="Alice Able", role=Role.PRIMARY), firm_a
    )


@pytest.fixture
def bob(firm_a: Firm) -> Persona:
    user = UserFactory(
        firm=firm_a, email="bob@alpha.test", full_name="Bob Baker", role=Role.STAFF, rights=frozenset({Right.CRM})
    )
    return Persona(user, firm_a)


@pytest.fixture
def charlie(firm_b: Firm) -> Persona:
    return Persona(
        UserFactory(firm=firm_b, email="charlie@beta.test", full_name="Charlie Chu", role=Role.PRIMARY), firm_b
    )


_PANEL = re.compile(r'<article([^>]*?) hx-get="([^"]+)" hx-trigger="load"([^>]*)>.*?</article>', re.S)


def dashboard_html(client: Client, path: str = "/") -> str:
    """The home page as a browser shows it once its panels have loaded: the page, with each
    panel's placeholder filled by its own request (``/dashboard/panels/<key>/``), as htmx does."""
    page = client.get(path)
    assert page.status_code == 200, page.status_code

    def fill(match: re.Match[str]) -> str:
        fragment = client.get(html.unescape(match.group(2)))
        assert fragment.status_code == 200, (match.group(2), fragment.status_code)
        return f"<article{match.group(1)}{match.group(3)}>{fragment.content.decode()}</article>"

    return _PANEL.sub(fill, page.content.decode())


@pytest.fixture(autouse=True)
def _unread_count_uncached(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The header's unread count is counted on every request in tests (its cache would make a
    page's first request cost one query more than the next, and query-count tests compare them);
    a test that takes the ``unread_cache`` fixture gets the real cache."""
    if "unread_cache" in request.fixturenames:
        return
    from django.core.cache.backends.dummy import DummyCache

    from advisorportal.notifications import selectors

    monkeypatch.setattr(selectors, "_cache", DummyCache("none", {}))


@pytest.fixture(autouse=True)
def _link_refusals_forgotten() -> None:
    """Each test starts with no bad-token or wrong-code tries counted against the test client's
    address (the approval page answers 429 past twenty in a quarter of an hour); a test of the
    limit makes its own twenty."""
    from django.core.cache import caches

    caches["best_effort"].delete("links:refusals:127.0.0.1")


@pytest.fixture
def unread_cache() -> None:
    """Use the real (best-effort Redis) cache for the header's unread count."""


def staff_scoped_to(owner: Persona, contacts: list[Any], *, name: str = "Dana's clients") -> Persona:
    """Dana Diaz, a Staff user of ``owner``'s firm with the CRM right only, whose scope is a group
    holding ``contacts`` (call inside ``owner.scope()``)."""
    from accounts.models import AccountScope
    from crm import services as crm_services

    group = crm_services.group_create(actor=owner.user, name=name)
    crm_services.group_add_members(actor=owner.user, group=group, contacts=contacts)
    user = UserFactory(firm=owner.firm, email="dana@alpha.test", full_name="Dana Diaz", role=Role.STAFF,
                       rights=frozenset({Right.CRM}))  # fmt: skip
    account_services.account_scope_set(
        actor=owner.user, user=user, scope=AccountScope.SELECTED, group_ids=frozenset({group.pk})
    )
    return Persona(user, owner.firm)
