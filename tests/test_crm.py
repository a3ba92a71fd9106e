"""CRM contacts: the record and its validation, tax ids at rest, search, filters, sort, scope,
bulk actions, saved views, columns, groups, households and the API."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.db import connection

from accounts import services as account_services
from accounts.models import AccountScope, AuditEntry
from accounts.rights import Right, Role
from crm import services
from crm.models import Activity, Contact, ContactSearchKey, Group, SavedView, TablePreference
from tests.conftest import Persona
from tests.factories import ContactFactory, HouseholdFactory, UserFactory
from tests.factories_portfolios import ClientAccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(alice: Persona) -> dict[str, Contact]:
    with alice.scope():
        smith = ContactFactory(first_name="Jane", last_name="Smith", email="jane.smith@example.com",
                               phone="+1 212 555 0134", username="jsmith", risk_tolerance="growth",
                               res_city="Boston", net_worth=2_500_000)  # fmt: skip
        jose = ContactFactory(first_name="José", last_name="Núñez", email="jose@example.org", status="prospect",
                              risk_tolerance="conservative", res_city="Miami", net_worth=300_000)  # fmt: skip
        smithers = ContactFactory(first_name="Waylon", last_name="Smithers", email="w@plant.example",
                                  risk_tolerance="growth", res_city="Boston", net_worth=900_000)  # fmt: skip
        ClientAccountFactory(number="U7000001", owners=[smithers])
    return {"smith": smith, "jose": jose, "smithers": smithers}


@pytest.fixture
def assistant(alice: Persona, book: dict[str, Contact]) -> Persona:
    """Staff with CRM only, scoped to one group holding Smith (as in the demo data contract)."""
    user = UserFactory(firm=alice.firm, email="assistant@alpha.test", full_name="Ann Assistant", role=Role.STAFF,
                       rights=frozenset({Right.CRM}))  # fmt: skip
    with alice.scope():
        group = services.group_create(actor=alice.user, name="Top clients")
        services.group_add_members(actor=alice.user, group=group, contacts=[book["smith"]])
    account_services.account_scope_set(
        actor=alice.user, user=user, scope=AccountScope.SELECTED, group_ids=frozenset({group.pk})
    )
    return Persona(user, alice.firm)


def names(response: Any) -> set[str]:
    return {row["last_name"] for row in response.json()["results"]}


# --- The record ----------------------------------------------------------------------------------


def test_a_prospect_needs_only_names_and_bad_input_names_the_field(alice: Persona) -> None:
    client = alice.client()
    response = client.post("/contacts/new/", {"kind": "individual", "status": "prospect", "first_name": "Pat",
                                              "last_name": "Lee", "priority": "normal"})  # fmt: skip
    assert response.status_code == 302
    with alice.scope():
        pat = Contact.objects.get(last_name="Lee")
    assert pat.status == "prospect" and pat.created_by_id == alice.user.pk
    bad = client.post("/contacts/new/", {"kind": "individual", "status": "prospect", "first_name": "Kim",
                                         "last_name": "Bad", "priority": "normal", "email": "not-an-email",
                                         "res_country": "USA", "date_of_birth": "31/31/2000"})  # fmt: skip
    assert bad.status_code == 400
    page = bad.content.decode()
    assert "Enter a valid email address" in page and "two-letter ISO 3166" in page and "Enter a valid date" in page
    nameless = client.post("/contacts/new/", {"kind": "individual", "status": "prospect", "last_name": "Solo",
                                              "priority": "normal"})  # fmt: skip
    assert nameless.status_code == 400 and "A person needs a first name" in nameless.content.decode()
    with alice.scope():
        assert not Contact.objects.filter(last_name__in=["Bad", "Solo"]).exists()


def test_an_entity_needs_only_its_name(alice: Persona) -> None:
    with alice.scope():
        trust = services.contact_create(actor=alice.user, kind="entity", first_name="", last_name="Lee Family Trust")
    assert str(trust) == "Lee Family Trust"


def test_tax_id_is_encrypted_masked_and_revealed_only_with_step_up(alice: Persona) -> None:
    with alice.scope():
        contact = services.contact_create(actor=alice.user, first_name="Tia", last_name="Tax", tax_id_type="ssn",
                                          tax_id="123-45-6789")  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute("SELECT tax_id_encrypted::text, tax_id_last4 FROM crm_contact WHERE id = %s", [contact.pk])
            stored, last4 = cursor.fetchone()
    assert "123456789" not in stored and "313233" not in stored.lower() and last4 == "6789"
    client = alice.client()
    page = client.get(f"/contacts/{contact.pk}/").content.decode()
    assert "6789" in page and "123-45-6789" not in page
    session = client.session
    from accounts import two_factor

    session[two_factor.VERIFIED_AT] = time.time() - 3600
    session.save()
    stale = client.post(f"/contacts/{contact.pk}/tax-id/")
    assert stale.status_code == 302 and "step_up=1" in stale["Location"]
    alice.pass_two_factor(client)
    revealed = client.post(f"/contacts/{contact.pk}/tax-id/")
    assert "123-45-6789" in revealed.content.decode() and revealed["Cache-Control"] == "no-store"
    with alice.scope():
        assert AuditEntry.objects.filter(action="read", object_repr="tax id", object_id=str(contact.pk)).exists()
        # The audit trail of the contact shows no tax id values.
        assert "6789" not in str(list(AuditEntry.objects.filter(object_id=str(contact.pk)).values("changes")))


def test_an_invalid_tax_id_is_refused_and_nothing_changes(alice: Persona, book: dict[str, Contact]) -> None:
    with alice.scope(), pytest.raises(Exception, match="9 digits"):
        services.contact_update(actor=alice.user, contact=book["smith"], tax_id_type="ssn", tax_id="12-34")
    with alice.scope():
        assert Contact.objects.get(pk=book["smith"].pk).tax_id_last4 == ""


def test_status_change_goes_to_the_timeline_and_closing_keeps_the_record(
    alice: Persona, book: dict[str, Contact]
) -> None:
    with alice.scope():
        closed = services.contact_update(actor=alice.user, contact=book["smith"], status="closed")
        assert closed.closed_on is not None
        reopened = services.contact_update(actor=alice.user, contact=closed, status="active")
        assert reopened.closed_on is None
        summaries = list(Activity.objects.filter(contact=reopened).values_list("summary", flat=True))
    assert any("to Closed" in s for s in summaries) and any("to Active client" in s for s in summaries)
    client = alice.client()
    assert (
        client.post(f"/contacts/{reopened.pk}/activity/", {"kind": "call", "summary": "Reviewed plan"}).status_code
        == 302
    )
    assert client.post(f"/contacts/{reopened.pk}/activity/", {"kind": "call", "summary": ""}).status_code == 400
    assert "Reviewed plan" in client.get(f"/contacts/{reopened.pk}/").content.decode()


# --- Search, filters, sort -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("smi", {"Smith", "Smithers"}),
        ("SMITHE", {"Smithers"}),
        ("jane smi", {"Smith"}),
        ("jose", {"Núñez"}),
        ("núñ", {"Núñez"}),
        ("jane.smith@", {"Smith"}),
        ("example.org", {"Núñez"}),
        ("555 01", {"Smith"}),
        ("0134", {"Smith"}),
        ("jsmith", {"Smith"}),
        ("U70000", {"Smithers"}),
        ("s", {"Smith", "Smithers"}),
        ("j s", {"Smith"}),  # every word must match, one-letter words too
        ("w s j", set()),
        ("way u7000", {"Smithers"}),  # a name and an account number
        ("jane u7000", set()),
        ("smi 0134", {"Smith"}),
        ("zzz", set()),
    ],
)
def test_search_by_name_email_phone_username_and_account(
    alice: Persona, book: dict[str, Contact], q: str, expected: set[str]
) -> None:
    assert names(alice.api().get("/api/v1/contacts/", {"q": q})) == expected


def test_search_keys_and_leakproof_range(alice: Persona, book: dict[str, Contact]) -> None:
    with alice.scope():
        assert {"jose", "núñez", "nunez", "jose@example.org", "example.org"} <= set(
            ContactSearchKey.objects.filter(contact=book["jose"]).values_list("key", flat=True)
        )
    # The prefix range may run beneath the RLS policy as an index condition only because text
    # comparisons are leakproof (measured at 100k contacts in `make bench`, contacts_search).
    with connection.cursor() as cursor:
        cursor.execute("SELECT bool_and(proleakproof) FROM pg_proc WHERE proname IN ('text_ge', 'text_lt')")
        assert cursor.fetchone()[0] is True


def test_search_keys_go_with_their_contact_and_a_stray_key_finds_nothing(
    alice: Persona, book: dict[str, Contact]
) -> None:
    """Search keys carry no foreign key (a derived index): the ORM's cascade removes them, and a
    key left pointing at no contact (or at another firm's) never shows a row."""
    from crm.search import insert_keys

    jose = book["jose"]
    with alice.scope():
        Contact.objects.filter(pk=jose.pk).delete()
        assert not ContactSearchKey.objects.filter(contact_id=jose.pk).exists()
        insert_keys([("zyzzyva", jose.pk), ("zyzzyva", 10**12)])
    assert names(alice.api().get("/api/v1/contacts/", {"q": "zyzzyva"})) == set()


def test_filters_combine_and_bad_values_are_errors(alice: Persona, book: dict[str, Contact]) -> None:
    api = alice.api()
    assert names(api.get("/api/v1/contacts/", {"risk_tolerance": "growth", "res_city": "boston"})) == {
        "Smith",
        "Smithers",
    }
    assert names(api.get("/api/v1/contacts/", {"risk_tolerance": "growth", "net_worth_min": "1000000"})) == {"Smith"}
    assert names(api.get("/api/v1/contacts/", {"status": ["prospect", "closed"]})) == {"Núñez"}
    assert names(api.get("/api/v1/contacts/", {"has_account": "yes"})) == {"Smithers"}
    bad = api.get("/api/v1/contacts/", {"risk_tolerance": "yolo", "net_worth_min": "lots"})
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) >= {"risk_tolerance", "net_worth"}
    page = alice.client().get("/contacts/", {"risk_tolerance": "yolo"}).content.decode()
    assert "These filters are not valid" in page and "Smith" not in page.split("These filters")[1]
    assert api.get("/api/v1/contacts/", {"ordering": "shoe_size"}).status_code == 400


def test_sort_and_keyset_pages(alice: Persona, book: dict[str, Contact]) -> None:
    api = alice.api()
    first = api.get("/api/v1/contacts/", {"ordering": "-name", "page_size": 2}).json()
    assert [r["last_name"] for r in first["results"]] == ["Smithers", "Smith"]
    rest = api.get(first["next"]).json()
    assert [r["last_name"] for r in rest["results"]] == ["Núñez"]
    emails = [r["email"] for r in api.get("/api/v1/contacts/", {"ordering": "email"}).json()["results"]]
    assert emails == sorted(emails)
    page = alice.client().get("/contacts/", {"sort": "-name", "size": 25}).content.decode()
    assert page.index("Smithers") < page.index("Núñez")


# --- Scope -----------------------------------------------------------------------------------------


def test_a_group_scoped_user_sees_only_the_group_everywhere(assistant: Persona, book: dict[str, Contact]) -> None:
    api = assistant.api()
    assert names(api.get("/api/v1/contacts/")) == {"Smith"}
    assert names(api.get("/api/v1/contacts/", {"q": "smi"})) == {"Smith"}
    assert names(api.get("/api/v1/contacts/", {"q": "U7000001"})) == set()
    assert api.get(f"/api/v1/contacts/{book['smithers'].pk}/").status_code == 404
    assert api.patch(f"/api/v1/contacts/{book['smithers'].pk}/", {"priority": "high"}).status_code == 404
    client = assistant.client()
    page = client.get("/contacts/").content.decode()
    assert "Smith" in page and "Smithers" not in page and "Núñez" not in page
    assert "<strong>1</strong>Active client" in page and "<strong>0</strong>Prospect" in page  # counts in scope
    assert client.get(f"/contacts/{book['jose'].pk}/").status_code == 404
    # A bulk action with an out-of-scope id touches only what is in scope.
    client.post("/contacts/bulk/", {"ids": [book["smith"].pk, book["jose"].pk], "action": "tag", "tag": "vip"})
    with assistant.scope():
        assert Contact.objects.get(pk=book["smith"].pk).tags == ["vip"]
        assert Contact.objects.get(pk=book["jose"].pk).tags == []
    bad = api.post("/api/v1/contacts/bulk/", {"ids": [book["jose"].pk], "action": "tag", "tag": "x"}, format="json")
    assert bad.status_code == 400


def test_account_scope_gives_the_owners(alice: Persona, book: dict[str, Contact], bob: Persona) -> None:
    with alice.scope():
        account = ClientAccountFactory(number="U7000002", owners=[book["jose"]])
    account_services.account_scope_set(actor=alice.user, user=bob.user, scope=AccountScope.SELECTED,
                                       account_ids=frozenset({account.pk}))  # fmt: skip
    assert names(bob.api().get("/api/v1/contacts/")) == {"Núñez"}


def test_another_firm_gets_404_everywhere(alice: Persona, charlie: Persona, book: dict[str, Contact]) -> None:
    with alice.scope():
        group = services.group_create(actor=alice.user, name="Alpha group")
        household = HouseholdFactory(head=book["smith"])
    smith = book["smith"].pk
    client, api = charlie.client(), charlie.api()
    for url in (f"/contacts/{smith}/", f"/contacts/{smith}/edit/", f"/contacts/{smith}/picture/",
                f"/contacts/groups/{group.pk}/", f"/contacts/households/{household.pk}/"):  # fmt: skip
        assert client.get(url).status_code == 404, url
    assert client.post(f"/contacts/{smith}/tax-id/").status_code == 404
    assert client.post(f"/contacts/{smith}/activity/", {"kind": "note", "summary": "x"}).status_code == 404
    for url in (f"/api/v1/contacts/{smith}/", f"/api/v1/contacts/{smith}/activities/", f"/api/v1/groups/{group.pk}/",
                f"/api/v1/households/{household.pk}/"):  # fmt: skip
        assert api.get(url).status_code == 404, url
    assert api.patch(f"/api/v1/contacts/{smith}/", {"priority": "high"}).status_code == 404
    assert api.post(f"/api/v1/groups/{group.pk}/members/", {"contacts": [smith]}, format="json").status_code == 404
    assert names(api.get("/api/v1/contacts/", {"q": "smith"})) == set()
    with alice.scope():
        assert Contact.objects.get(pk=smith).priority == "normal"


def test_without_the_crm_right_nothing(alice: Persona, book: dict[str, Contact]) -> None:
    officer = UserFactory(firm=alice.firm, email="so@alpha.test", full_name="Sec Officer", role=Role.SECURITY_OFFICER)
    persona = Persona(officer, alice.firm)
    assert persona.client().get("/contacts/").status_code == 403
    assert persona.api().get("/api/v1/contacts/").status_code == 403


# --- Bulk actions, saved views, columns ------------------------------------------------------------


def test_bulk_actions_are_all_or_nothing(alice: Persona, book: dict[str, Contact]) -> None:
    client = alice.client()
    ids = [book["smith"].pk, book["jose"].pk]
    client.post("/contacts/bulk/", {"ids": ids, "action": "status", "status": "pending_approval"})
    client.post("/contacts/bulk/", {"ids": ids, "action": "field", "field": "priority", "value": "high"})
    with alice.scope():
        group = services.group_create(actor=alice.user, name="Seminar")
    client.post("/contacts/bulk/", {"ids": ids, "action": "group", "group": group.pk})
    with alice.scope():
        rows = Contact.objects.filter(pk__in=ids)
        assert {(c.status, c.priority) for c in rows} == {("pending_approval", "high")}
        assert group.groupmember_set.count() == 2
    failed = client.post("/contacts/bulk/", {"ids": ids, "action": "field", "field": "priority", "value": "urgent"},
                         follow=True)  # fmt: skip
    assert "Nothing was changed" in failed.content.decode()
    with alice.scope():
        assert {c.priority for c in Contact.objects.filter(pk__in=ids)} == {"high"}


def test_saved_views_are_private_or_shared(alice: Persona, book: dict[str, Contact]) -> None:
    colleague = UserFactory(firm=alice.firm, email="adv@alpha.test", full_name="Ada Advisor", role=Role.ADVISOR)
    client = alice.client()
    client.post("/contacts/views/", {"name": "Growth in Boston", "query": "risk_tolerance=growth&res_city=Boston"})
    client.post("/contacts/views/", {"name": "Shared prospects", "query": "status=prospect", "shared": "on"})
    with alice.scope():
        mine = SavedView.objects.get(name="Growth in Boston")
    page = client.get("/contacts/", {"view": mine.pk}).content.decode()
    assert "Smithers" in page and "Núñez" not in page
    other = Persona(colleague, alice.firm).client()
    their = other.get("/contacts/").content.decode()
    assert "Shared prospects" in their and "Growth in Boston" not in their
    assert other.post(f"/contacts/views/{mine.pk}/delete/").status_code == 404


def test_columns_are_chosen_ordered_and_remembered(alice: Persona, book: dict[str, Contact]) -> None:
    client = alice.client()
    client.post("/contacts/columns/", {"columns": ["email", "name", "city"], "order_email": "1", "order_name": "2",
                                       "order_city": "3"})  # fmt: skip
    with alice.scope():
        assert TablePreference.objects.get(user=alice.user).columns == ["email", "name", "city"]
    page = client.get("/contacts/").content.decode()
    assert page.index("Email address") < page.index(">Contact<") and "Net asset value" not in page
    assert "Choose at least one column" in client.post("/contacts/columns/", {}).content.decode()


# --- Groups and households -------------------------------------------------------------------------


def test_private_groups_belong_to_their_owner(alice: Persona, book: dict[str, Contact]) -> None:
    colleague = UserFactory(firm=alice.firm, email="adv2@alpha.test", full_name="Ed Advisor", role=Role.ADVISOR)
    api = alice.api()
    created = api.post("/api/v1/groups/", {"name": "My watchlist", "is_private": True}, format="json")
    assert created.status_code == 201
    group_id = created.json()["id"]
    api.post(f"/api/v1/groups/{group_id}/members/", {"contacts": [book["smith"].pk]}, format="json")
    other = Persona(colleague, alice.firm).api()
    assert group_id not in {g["id"] for g in other.get("/api/v1/groups/").json()["results"]}
    assert other.get(f"/api/v1/groups/{group_id}/").status_code == 404
    assert names(other.get("/api/v1/contacts/", {"group": group_id})) == set()
    assert names(api.get("/api/v1/contacts/", {"group": group_id})) == {"Smith"}
    with alice.scope():
        assert Group.objects.get(pk=group_id).member_count if hasattr(Group, "member_count") else True


def test_household_totals_and_head(alice: Persona, book: dict[str, Contact]) -> None:
    api = alice.api()
    created = api.post("/api/v1/households/", {"name": "Smith family", "head": book["smith"].pk}, format="json")
    assert created.status_code == 201, created.json()
    hid = created.json()["id"]
    api.post(f"/api/v1/households/{hid}/members/", {"contacts": [book["smithers"].pk]}, format="json")
    with alice.scope():
        from portfolios.models import ClientAccount

        ClientAccount.objects.filter(number="U7000001").update(household_id=hid, nav=1234.5)
    row = api.get(f"/api/v1/households/{hid}/").json()
    assert row["member_count"] == 2 and row["account_count"] == 1 and row["aum"] == "1234.50"
    refused = api.delete(f"/api/v1/households/{hid}/members/", {"contacts": [book["smith"].pk]}, format="json")
    assert refused.status_code == 400 and "head of household" in str(refused.json())
    page = alice.client().get(f"/contacts/households/{hid}/").content.decode()
    assert "Smith family" in page and "U7000001" in page


def test_the_household_pickers_find_contacts_by_fragment_within_scope(
    alice: Persona, assistant: Persona, charlie: Persona, book: dict[str, Contact]
) -> None:
    browser = alice.client()
    found = browser.get("/contacts/picker/", {"field": "head", "picker_q": "smi"}).content.decode()
    assert f'name="head" value="{book["smith"].pk}"' in found and f'value="{book["smithers"].pk}"' in found
    assert "Núñez" not in found
    assert "U7000001" in browser.get("/contacts/picker/", {"field": "contact", "picker_q": "waylon"}).content.decode()
    assert (
        "No contact of yours matches"
        in browser.get("/contacts/picker/", {"field": "contact", "picker_q": "zzz"}).content.decode()
    )
    assert (
        "Type at least two" in browser.get("/contacts/picker/", {"field": "contact", "picker_q": "s"}).content.decode()
    )
    assert browser.get("/contacts/picker/", {"field": "other", "picker_q": "smi"}).status_code == 404
    # The assistant's scope is the group holding Smith only: Smithers is not offered.
    scoped = assistant.client().get("/contacts/picker/", {"field": "contact", "picker_q": "smi"}).content.decode()
    assert f'value="{book["smith"].pk}"' in scoped and f'value="{book["smithers"].pk}"' not in scoped
    # Another firm's user finds none of them.
    outsider = charlie.client().get("/contacts/picker/", {"field": "contact", "picker_q": "smi"}).content.decode()
    assert "No contact of yours matches" in outsider and "Smith" not in outsider
    # The pages use the picker, and the chosen radio value is what the forms post.
    assert 'hx-get="/contacts/picker/?field=head"' in browser.get("/contacts/households/").content.decode()
    created = browser.post("/contacts/households/", {"name": "Núñez family", "head": book["jose"].pk})
    assert created.status_code == 302
    detail = browser.get(created["Location"]).content.decode()
    assert 'hx-get="/contacts/picker/?field=contact"' in detail and "Núñez family" in detail
    browser.post(created["Location"], {"action": "add", "contact": book["smith"].pk})
    assert "Jane Smith" in browser.get(created["Location"]).content.decode()


# --- API write paths -------------------------------------------------------------------------------


def test_api_create_update_and_validation(alice: Persona) -> None:
    api = alice.api()
    created = api.post("/api/v1/contacts/", {"first_name": "Ola", "last_name": "Nordmann", "email": "ola@example.no",
                                             "tax_id_type": "ssn", "tax_id": "123456789"}, format="json")  # fmt: skip
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["tax_id_masked"].endswith("6789") and "tax_id" not in body
    updated = api.patch(f"/api/v1/contacts/{body['id']}/", {"status": "active", "tags": ["vip"]}, format="json")
    assert updated.status_code == 200 and updated.json()["client_since"] is not None
    bad = api.post("/api/v1/contacts/", {"first_name": "X", "last_name": "Y", "email": "nope", "res_country": "usa",
                                         "tax_id": "1"}, format="json")  # fmt: skip
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) & {"email", "res_country", "tax_id"}
    with alice.scope():
        assert not Contact.objects.filter(last_name="Y").exists()
    token_reveal = api.post(f"/api/v1/contacts/{body['id']}/tax-id/")
    assert token_reveal.status_code == 403


def test_every_case_insensitive_filter_has_planner_statistics() -> None:
    """A segment on a text field must not be planned as a sort of the whole table (see crm 0003)."""
    from crm.filters import ContactFilter

    text_filters = {
        f.field_name for f in ContactFilter.base_filters.values() if getattr(f, "lookup_expr", "") == "iexact"
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT stxname FROM pg_statistic_ext WHERE stxrelid = 'crm_contact'::regclass AND stxname LIKE '%%_ci'"
        )
        have = {row[0] for row in cursor.fetchall()}
    assert text_filters and {f"crm_contact_{name}_ci" for name in text_filters} <= have
