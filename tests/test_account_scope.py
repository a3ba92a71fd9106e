"""Account scope: a user with a selected scope sees only those accounts — in lists, search, detail,
transactions and the API — and another firm's or an out-of-scope account is a plain 404."""

from __future__ import annotations

import pytest

from accounts import services
from accounts.models import AccountScope
from accounts.rights import Right, Role
from crm.models import Household
from portfolios.models import ClientAccount
from tests.conftest import Persona, dashboard_html
from tests.factories import ContactFactory, HouseholdFactory, UserFactory
from tests.factories_portfolios import ClientAccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(alice: Persona) -> dict[str, ClientAccount]:
    with alice.scope():
        family = HouseholdFactory(name="Quinn household")
        in_household = ClientAccountFactory(number="U5000001", title="Quinn Joint", household=family)
        chosen = ClientAccountFactory(number="U5000002", title="Chosen Trust")
        hidden = ClientAccountFactory(number="U5000003", title="Hidden Roth")
    return {"household": in_household, "chosen": chosen, "hidden": hidden, "family": family}  # type: ignore[dict-item]


@pytest.fixture
def dora(alice: Persona, book: dict[str, ClientAccount]) -> Persona:
    """An advisor at firm A limited to the Quinn household and one more account."""
    user = UserFactory(firm=alice.firm, email="dora@alpha.test", full_name="Dora Scoped", role=Role.ADVISOR)
    family = book["family"]
    assert isinstance(family, Household)
    services.account_scope_set(
        actor=alice.user,
        user=user,
        scope=AccountScope.SELECTED,
        account_ids=frozenset({book["chosen"].pk}),
        household_ids=frozenset({family.pk}),
    )
    return Persona(user, alice.firm)


def test_list_shows_only_accounts_in_scope(dora: Persona, book: dict[str, ClientAccount]) -> None:
    page = dora.client().get("/accounts/").content.decode()
    assert "U5000001" in page and "U5000002" in page and "U5000003" not in page
    api = dora.api().get("/api/v1/accounts/").json()["results"]
    assert {row["number"] for row in api} == {"U5000001", "U5000002"}


def test_search_finds_nothing_outside_scope(dora: Persona, book: dict[str, ClientAccount]) -> None:
    assert "U5000003" not in dora.client().get("/accounts/", {"q": "Hidden"}).content.decode()
    assert dora.api().get("/api/v1/accounts/", {"q": "U5000003"}).json()["results"] == []


def test_out_of_scope_account_is_404_everywhere(dora: Persona, book: dict[str, ClientAccount]) -> None:
    hidden = book["hidden"].pk
    client, api = dora.client(), dora.api()
    assert client.get(f"/accounts/{hidden}/").status_code == 404
    assert api.get(f"/api/v1/accounts/{hidden}/").status_code == 404
    assert api.get(f"/api/v1/accounts/{hidden}/transactions/").status_code == 404
    assert client.get(f"/accounts/{book['household'].pk}/").status_code == 200


def test_all_accounts_scope_and_outsiders(alice: Persona, charlie: Persona, book: dict[str, ClientAccount]) -> None:
    assert alice.client().get(f"/accounts/{book['hidden'].pk}/").status_code == 200
    assert charlie.client().get(f"/accounts/{book['hidden'].pk}/").status_code == 404


def test_officer_sets_a_scope_in_the_browser(alice: Persona, bob: Persona, book: dict[str, ClientAccount]) -> None:
    client = alice.client()
    response = client.post(
        f"/settings/users/{bob.user.pk}/",
        {"role": "advisor", "is_active": "on", "rights": ["crm", "account_information"], "scope": "selected",
         "account_numbers": "U5000002"},
    )  # fmt: skip
    assert response.status_code == 302
    listed = {r["number"] for r in bob.api().get("/api/v1/accounts/").json()["results"]}
    assert listed == {"U5000002"}
    page = client.get(f"/settings/users/{bob.user.pk}/").content.decode()
    assert "U5000002" in page


def test_bad_scope_input_names_the_field_and_changes_nothing(alice: Persona, bob: Persona) -> None:
    client = alice.client()
    form = {"role": "staff", "is_active": "on", "rights": ["crm", "account_information"], "scope": "selected"}
    unknown = client.post(f"/settings/users/{bob.user.pk}/", {**form, "account_numbers": "NOPE123"})
    assert unknown.status_code == 200 and "No account with the number NOPE123" in unknown.content.decode()
    empty = client.post(f"/settings/users/{bob.user.pk}/", form)
    assert empty.status_code == 200 and "at least one account, household or group" in empty.content.decode()
    with bob.scope():
        assert set(bob.user.grants.values_list("right", flat=True)) == {Right.CRM}


def test_another_firms_account_cannot_be_put_in_scope(alice: Persona, bob: Persona, charlie: Persona) -> None:
    with charlie.scope():
        ContactFactory()
        ClientAccountFactory(number="U9999999")
    response = alice.client().post(
        f"/settings/users/{bob.user.pk}/",
        {"role": "staff", "is_active": "on", "rights": ["account_information"], "scope": "selected",
         "account_numbers": "U9999999"},
    )  # fmt: skip
    assert response.status_code == 200 and "No account with the number U9999999" in response.content.decode()


def test_view_as_this_user_shows_exactly_their_accounts(
    alice: Persona, bob: Persona, charlie: Persona, dora: Persona, book: dict[str, ClientAccount]
) -> None:
    from accounts.models import AuditEntry

    page = alice.client().get(f"/settings/users/{dora.user.pk}/preview/").content.decode()
    assert "U5000001" in page and "U5000002" in page and "U5000003" not in page
    assert "Quinn household" in page
    assert bob.client().get(f"/settings/users/{dora.user.pk}/preview/").status_code == 403
    assert charlie.client().get(f"/settings/users/{dora.user.pk}/preview/").status_code == 404
    with alice.scope():
        assert AuditEntry.objects.filter(action="read", object_repr__startswith="preview of dora").exists()


def test_dashboard_assets_count_only_accounts_in_scope(
    alice: Persona, dora: Persona, book: dict[str, ClientAccount]
) -> None:
    with alice.scope():
        ClientAccount.objects.filter(number="U5000001").update(nav=100)
        ClientAccount.objects.filter(number="U5000002").update(nav=20)
        ClientAccount.objects.filter(number="U5000003").update(nav=3)
    assert "123 USD" in dashboard_html(alice.client())
    page = dashboard_html(dora.client())
    assert "120 USD" in page and "in 2 open accounts" in page and "123 USD" not in page
