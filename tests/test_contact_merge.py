"""Merging duplicate contacts: the finder, compare and merge (pages and API), what moves, the
snapshot, undo (also after later edits), and every kind of bad input changing nothing."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import services as account_services
from accounts.models import AccountScope, AuditEntry
from accounts.rights import Role
from crm import services as crm_services
from crm.merge import selectors, services
from crm.merge.models import ContactMerge
from crm.models import Activity, Contact, ContactSearchKey, GroupMember, HouseholdMember
from crm.search import search_filter
from portfolios.models import AccountOwner
from tests.conftest import Persona
from tests.factories import ContactFactory, HouseholdFactory, UserFactory
from tests.factories_portfolios import ClientAccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(alice: Persona) -> dict[str, Any]:
    """Jane Doe twice (same email in another case), with accounts, a household, a group and a timeline."""
    with alice.scope():
        jane = ContactFactory(first_name="Jane", last_name="Doe", email="jane.doe@example.test",
                              phone="+1 212 555 0100", date_of_birth=date(1980, 1, 2), occupation="",
                              tax_id="123-45-6789", tags=["newsletter"])  # fmt: skip
        twin = ContactFactory(first_name="Jane", last_name="Doe", email="Jane.Doe@Example.test",
                              mobile_phone="+1 917 555 0199", occupation="Engineer", employer="Acme",
                              status="prospect")  # fmt: skip
        other = ContactFactory(first_name="Zed", last_name="Other", email="zed@example.test")
        own = ClientAccountFactory(number="U7000001", owners=[jane])
        twins = ClientAccountFactory(number="U7000002", owners=[twin])
        shared = ClientAccountFactory(number="U7000003", owners=[jane, twin])
        family = HouseholdFactory(name="Doe household", head=twin)
        crm_services.household_add_members(actor=alice.user, household=family, contacts=[other])
        group = crm_services.group_create(actor=alice.user, name="Golfers")
        for member in (jane, twin):  # (crm's group_add_members bulk-creates without a firm at the moment)
            GroupMember.objects.create(group=group, contact=member)
        crm_services.activity_add(actor=alice.user, contact=twin, kind="call", summary="Called about the IRA")
    return {"jane": jane, "twin": twin, "other": other, "own": own, "twins": twins, "shared": shared,
            "family": family, "group": group}  # fmt: skip


def state(firm_scope: Any) -> tuple[Any, ...]:
    """Everything a refused merge or undo must leave as it was."""
    with firm_scope:
        contacts = sorted(Contact.objects.values_list("id", "first_name", "email", "occupation", "mobile_phone"))
        owners = sorted(AccountOwner.objects.values_list("id", "account_id", "contact_id"))
        members = sorted(HouseholdMember.objects.values_list("id", "contact_id"))
        merges = sorted(ContactMerge.objects.values_list("id", "undone_at"))
        return contacts, owners, members, merges, Activity.objects.count()


def searchable(alice: Persona, term: str) -> set[int]:
    with alice.scope():
        return set(Contact.objects.filter(search_filter(term)).values_list("id", flat=True))  # type: ignore[arg-type]


# --- Finder --------------------------------------------------------------------------------------


def test_finder_groups_by_email_tax_id_and_similar_name_with_birth_date(alice: Persona, book: dict[str, Any]) -> None:
    with alice.scope():
        taxed = ContactFactory(first_name="Ann", last_name="Lee", tax_id="987-65-4321")
        taxed2 = ContactFactory(first_name="Annie", last_name="Leigh", tax_id="987 65 4321")
        jon = ContactFactory(first_name="Jon", last_name="Smith", date_of_birth=date(1975, 5, 5))
        john = ContactFactory(first_name="John", last_name="Smith", date_of_birth=date(1975, 5, 5))
        ContactFactory(first_name="Jill", last_name="Brown", date_of_birth=date(1975, 5, 5))  # same day, other name
        ContactFactory(first_name="Jon", last_name="Smith", date_of_birth=date(1990, 1, 1))  # other day
        clusters = dict(selectors.duplicate_clusters(user=alice.user))
    assert clusters[(book["jane"].pk, book["twin"].pk)] == ["Same email: jane.doe@example.test"]
    assert clusters[(taxed.pk, taxed2.pk)] == ["Same tax id (ending 4321)"]
    assert clusters[(jon.pk, john.pk)] == ["Similar name, same birth date (1975-05-05)"]
    assert len(clusters) == 3

    page = alice.client().get("/contacts/merge/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Same email: jane.doe@example.test" in html and "Similar name, same birth date" in html
    assert "Jill" not in html

    api = alice.api().get("/api/v1/contact-merges/duplicates/").json()
    assert [r["ids"] for r in api["results"]] == sorted(r["ids"] for r in api["results"])
    assert {tuple(r["ids"]) for r in api["results"]} == set(clusters)


def test_finder_pages_by_keyset_with_constant_queries(alice: Persona) -> None:
    with alice.scope():
        for n in range(30):
            ContactFactory(first_name=f"P{n}", last_name="Pair", email=f"pair{n}@example.test")
            ContactFactory(first_name=f"Q{n}", last_name="Pair", email=f"PAIR{n}@example.test")
    client = alice.client()
    first = client.get("/contacts/merge/")
    assert first.context["page"].next_cursor is not None
    assert len(first.context["page"].clusters) == 25
    second = client.get("/contacts/merge/", {"after": first.context["page"].next_cursor})
    assert len(second.context["page"].clusters) == 5 and second.context["page"].next_cursor is None
    seen = {c.ids for c in first.context["page"].clusters} | {c.ids for c in second.context["page"].clusters}
    assert len(seen) == 30
    with alice.scope():
        selectors.duplicate_clusters(user=alice.user)  # computed and cached now
        counts = []
        for size in (1, 25):
            with CaptureQueriesContext(connection) as queries:
                selectors.duplicate_page(user=alice.user, size=size)
            counts.append(len(queries))
    assert counts == [1, 1]  # the page's contacts, in one query whatever the page size


# --- Merge and undo ------------------------------------------------------------------------------


def test_merge_in_the_browser_moves_everything_then_undo_restores_it(alice: Persona, book: dict[str, Any]) -> None:
    jane, twin = book["jane"], book["twin"]
    client = alice.client()
    compare = client.get("/contacts/merge/compare/", {"ids": f"{jane.pk},{twin.pk}"})
    assert compare.status_code == 200
    html = compare.content.decode()
    assert 'name="choice_mobile_phone"' in html and 'name="choice_first_name"' not in html
    rows = {row.name: row.chosen for row in compare.context["rows"]}
    assert rows["email"] == jane.pk and rows["occupation"] == twin.pk and rows["mobile_phone"] == twin.pk

    response = client.post("/contacts/merge/compare/", {
        "ids": f"{jane.pk},{twin.pk}", "survivor": jane.pk, "choice_email": jane.pk,
        "choice_occupation": twin.pk, "choice_employer": jane.pk, "choice_mobile_phone": twin.pk,
        "choice_status": jane.pk, "choice_tags": jane.pk,
    })  # fmt: skip
    assert response.status_code == 302
    with alice.scope():
        merge = ContactMerge.objects.get()
        assert response["Location"] == f"/contacts/merge/{merge.pk}/"
        assert not Contact.objects.filter(pk=twin.pk).exists()
        kept = Contact.objects.get(pk=jane.pk)
        assert (kept.occupation, kept.employer, kept.mobile_phone) == ("Engineer", "", "+1 917 555 0199")
        assert kept.email == "jane.doe@example.test" and kept.tax_id_last4 == "6789"
        # Accounts: the twin's own account moved; the shared one kept one owner row (no duplicate).
        assert set(AccountOwner.objects.filter(contact=kept).values_list("account__number", flat=True)) == {
            "U7000001", "U7000002", "U7000003"}  # fmt: skip
        assert AccountOwner.objects.filter(account=book["shared"]).count() == 1
        family = book["family"]
        family.refresh_from_db()
        assert family.head_id == jane.pk
        assert set(HouseholdMember.objects.filter(household=family).values_list("contact_id", flat=True)) == {
            jane.pk, book["other"].pk}  # fmt: skip
        assert list(GroupMember.objects.filter(group=book["group"]).values_list("contact_id", flat=True)) == [jane.pk]
        assert Activity.objects.filter(contact=kept, summary="Called about the IRA").exists()
        assert Activity.objects.filter(contact=kept, summary__startswith="Merged Jane Doe into").exists()
        # The snapshot keeps the whole merged contact and each moved row.
        row = merge.snapshot["contacts"][0]
        assert row["id"] == twin.pk and row["occupation"] == "Engineer"
        assert {m["relation"] for m in merge.snapshot["relations"]} >= {
            "portfolios.accountowner.contact", "crm.household.head", "crm.householdmember.contact",
            "crm.groupmember.contact", "crm.activity.contact"}  # fmt: skip
        assert {m["action"] for m in merge.snapshot["relations"]} == {"moved", "dropped"}
        assert set(merge.snapshot["survivor_after"]) == {"occupation", "mobile_phone"}
        audited = set(AuditEntry.objects.values_list("object_type", "object_id", "action"))
        assert ("contact_merge.contactmerge", str(merge.pk), "create") in audited
        assert ("crm.contact", str(twin.pk), "delete") in audited
        assert ("crm.contact", str(jane.pk), "update") in audited
    assert searchable(alice, "917555") == {jane.pk}  # the kept contact is found by the number it took

    detail = client.get(f"/contacts/merge/{merge.pk}/")
    assert detail.status_code == 200 and "Undo this merge" in detail.content.decode()
    assert "Account owners: 1 moved, 1 already on the kept contact" in detail.content.decode()
    assert "Households headed: 1 moved" in detail.content.decode()
    assert '<span class="tag">Mobile phone</span>' in detail.content.decode()
    undone = client.post(f"/contacts/merge/{merge.pk}/undo/", follow=True)
    assert undone.status_code == 200
    assert "Merge undone" in undone.content.decode()
    with alice.scope():
        back = Contact.objects.get(pk=twin.pk)
        assert (back.email, back.occupation, back.status) == ("Jane.Doe@Example.test", "Engineer", "prospect")
        assert back.created_at == twin.created_at
        kept = Contact.objects.get(pk=jane.pk)
        assert (kept.occupation, kept.mobile_phone) == ("", "")
        assert set(AccountOwner.objects.filter(contact=back).values_list("account__number", flat=True)) == {
            "U7000002", "U7000003"}  # fmt: skip
        assert AccountOwner.objects.filter(account=book["shared"]).count() == 2
        family.refresh_from_db()
        assert family.head_id == twin.pk
        assert set(GroupMember.objects.filter(group=book["group"]).values_list("contact_id", flat=True)) == {
            jane.pk, twin.pk}  # fmt: skip
        assert Activity.objects.filter(contact=back, summary="Called about the IRA").exists()
        assert ContactMerge.objects.get().undone_at is not None
        assert ContactSearchKey.objects.filter(contact_id=twin.pk).exists()
    assert searchable(alice, "917555") == {twin.pk}


def test_undo_keeps_fields_edited_after_the_merge_and_restores_the_rest(alice: Persona, book: dict[str, Any]) -> None:
    jane, twin = book["jane"], book["twin"]
    with alice.scope():
        merge = services.contacts_merge(actor=alice.user, contacts=[jane, twin], survivor_id=jane.pk)
        assert set(merge.snapshot["survivor_after"]) == {"occupation", "employer", "mobile_phone"}
        crm_services.contact_update(actor=alice.user, contact=jane, occupation="Pilot", last_name="Doe-Smith")
        result = services.merge_undo(actor=alice.user, merge=merge)
        assert result.kept_fields == ["occupation"]
        kept = Contact.objects.get(pk=jane.pk)
        assert (kept.occupation, kept.employer, kept.mobile_phone, kept.last_name) == ("Pilot", "", "", "Doe-Smith")
        assert ContactMerge.objects.get().kept_fields == ["occupation"]
        with pytest.raises(ValidationError, match="already undone"):
            services.merge_undo(actor=alice.user, merge=merge)


def test_undo_also_reverts_the_dates_a_status_taken_in_the_merge_had_set(alice: Persona, book: dict[str, Any]) -> None:
    jane, twin = book["jane"], book["twin"]
    with alice.scope():
        Contact.objects.filter(pk=jane.pk).update(status="active", client_since=None)  # e.g. imported so
        assert (twin.status, twin.client_since) == ("prospect", None)
        merge = services.contacts_merge(actor=alice.user, contacts=[jane, twin], survivor_id=twin.pk,
                                        choices={"status": jane.pk})  # fmt: skip
        merged = Contact.objects.get(pk=twin.pk)
        assert merged.status == "active" and merged.client_since is not None  # set by the status change
        services.merge_undo(actor=alice.user, merge=merge)
        restored = Contact.objects.get(pk=twin.pk)
        assert (restored.status, restored.client_since, restored.closed_on) == ("prospect", None, None)
        assert Contact.objects.get(pk=jane.pk).status == "active"


def test_undo_twice_is_a_clear_error_that_changes_nothing(alice: Persona, book: dict[str, Any]) -> None:
    client = alice.client()
    with alice.scope():
        merge = services.contacts_merge(actor=alice.user, contacts=[book["jane"], book["twin"]],
                                        survivor_id=book["jane"].pk)  # fmt: skip
    assert client.post(f"/contacts/merge/{merge.pk}/undo/").status_code == 302
    before = state(alice.scope())
    again = client.post(f"/contacts/merge/{merge.pk}/undo/")
    assert again.status_code == 400 and "already undone" in again.content.decode()
    api = alice.api().post(f"/api/v1/contact-merges/{merge.pk}/undo/")
    assert api.status_code == 400 and "already undone" in api.json()["error"]["fields"]["merge"][0]
    assert state(alice.scope()) == before


def test_tax_id_and_picture_travel_as_sealed_and_come_back(alice: Persona) -> None:
    with alice.scope():
        plain = ContactFactory(first_name="Max", last_name="Roe", email="max@example.test")
        sealed = ContactFactory(first_name="Max", last_name="Roe", email="MAX@example.test", tax_id="234-56-7890")
        crm_services.contact_set_picture(actor=None, contact=sealed, data=b"\x89PNG fake", content_type="image/png")
        merge = services.contacts_merge(actor=alice.user, contacts=[plain, sealed], survivor_id=plain.pk)
        kept = Contact.objects.get(pk=plain.pk)
        assert kept.tax_id_last4 == "7890" and crm_services.tax_id_matches(kept, "234567890")
        assert bytes(kept.picture) == b"\x89PNG fake"
        assert merge.snapshot["contacts"][0]["tax_id_encrypted"]  # the ciphertext, base64
        entry = AuditEntry.objects.get(object_type="contact_merge.contactmerge", action="create")
        assert entry.changes["snapshot"] == ["•••", "•••"]
        services.merge_undo(actor=alice.user, merge=merge)
        kept.refresh_from_db()
        back = Contact.objects.get(pk=sealed.pk)
        assert kept.tax_id_last4 == "" and kept.tax_id_encrypted is None and not kept.picture
        assert crm_services.tax_id_matches(back, "234-56-7890") and bytes(back.picture) == b"\x89PNG fake"


def test_three_contacts_merge_and_a_merged_survivor_is_relinked_on_undo(alice: Persona) -> None:
    with alice.scope():
        a, b, c, d = (ContactFactory(first_name="Kim", last_name="Lo", email=f"k{n}@example.test") for n in range(4))
        first = services.contacts_merge(actor=alice.user, contacts=[a, b, c], survivor_id=b.pk,
                                        choices={"email": c.pk})  # fmt: skip
        assert set(first.merged_ids) == {a.pk, c.pk}
        assert Contact.objects.get(pk=b.pk).email == "k2@example.test"
        second = services.contacts_merge(actor=alice.user, contacts=[b, d], survivor_id=d.pk)
        first.refresh_from_db()
        assert first.survivor_id is None
        with pytest.raises(ValidationError, match="undo that first"):
            services.merge_undo(actor=alice.user, merge=first)
        services.merge_undo(actor=alice.user, merge=second)
        first.refresh_from_db()
        assert first.survivor_id == b.pk
        services.merge_undo(actor=alice.user, merge=first)
        assert Contact.objects.filter(pk__in=[a.pk, b.pk, c.pk, d.pk]).count() == 4
        assert Contact.objects.get(pk=b.pk).email == "k1@example.test"


# --- API -----------------------------------------------------------------------------------------


def test_api_merge_detail_list_and_undo(alice: Persona, charlie: Persona, book: dict[str, Any]) -> None:
    jane, twin = book["jane"], book["twin"]
    api = alice.api()
    request = {"ids": [jane.pk, twin.pk], "survivor": twin.pk, "choices": {"tax_id": jane.pk, "status": jane.pk}}
    created = api.post("/api/v1/contact-merges/", request, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["survivor"] == twin.pk and body["merged_ids"] == [jane.pk]
    assert "tax_id" in body["changed_fields"] and body["moved"]["portfolios.accountowner.contact"]["dropped"] == 1
    with alice.scope():
        assert Contact.objects.get(pk=twin.pk).tax_id_last4 == "6789"
    assert api.get(f"/api/v1/contact-merges/{body['id']}/").json()["survivor_name"] == "Jane Doe"
    assert [m["id"] for m in api.get("/api/v1/contact-merges/").json()["results"]] == [body["id"]]
    assert charlie.api().get(f"/api/v1/contact-merges/{body['id']}/").status_code == 404
    assert charlie.api().post(f"/api/v1/contact-merges/{body['id']}/undo/").status_code == 404
    assert charlie.client().post(f"/contacts/merge/{body['id']}/undo/").status_code == 404
    assert charlie.client().get(f"/contacts/merge/{body['id']}/").status_code == 404
    undone = api.post(f"/api/v1/contact-merges/{body['id']}/undo/")
    assert undone.status_code == 200 and undone.json()["merge"]["undone_at"]
    with alice.scope():
        assert Contact.objects.get(pk=jane.pk).tax_id_last4 == "6789"
        assert Contact.objects.get(pk=twin.pk).tax_id_last4 == ""


# --- Bad input -----------------------------------------------------------------------------------


@pytest.fixture
def scoped(alice: Persona, book: dict[str, Any]) -> Persona:
    """An advisor of firm A who may see only the owners of account U7000001 (Jane, not her twin)."""
    user = UserFactory(firm=alice.firm, email="dora@alpha.test", full_name="Dora Scoped", role=Role.ADVISOR)
    account_services.account_scope_set(actor=alice.user, user=user, scope=AccountScope.SELECTED,
                                       account_ids=frozenset({book["own"].pk}))  # fmt: skip
    return Persona(user, alice.firm)


def refused(persona: Persona, data: dict[str, Any]) -> tuple[int, int, dict[str, Any] | None]:
    """(page status, API status, API error) of a merge request."""
    page = persona.client().post("/contacts/merge/compare/", {
        "ids": ",".join(str(i) for i in data["ids"]), "survivor": data["survivor"],
        **{f"choice_{k}": v for k, v in data.get("choices", {}).items()},
    })  # fmt: skip
    api = persona.api().post("/api/v1/contact-merges/", data, format="json")
    return page.status_code, api.status_code, api.json().get("error")


def test_merging_another_firms_or_an_out_of_scope_contact_is_404_and_changes_nothing(
    alice: Persona, charlie: Persona, scoped: Persona, book: dict[str, Any]
) -> None:
    jane, twin = book["jane"].pk, book["twin"].pk
    with charlie.scope():
        theirs = ContactFactory(first_name="Jane", last_name="Doe", email="jane.doe@example.test").pk
    before = state(alice.scope())
    assert refused(alice, {"ids": [jane, theirs], "survivor": jane})[:2] == (404, 404)
    assert refused(charlie, {"ids": [theirs, jane], "survivor": theirs})[:2] == (404, 404)
    assert refused(scoped, {"ids": [jane, twin], "survivor": jane})[:2] == (404, 404)
    assert refused(alice, {"ids": [jane, 999_999_999], "survivor": jane})[:2] == (404, 404)
    assert scoped.client().get("/contacts/merge/compare/", {"ids": f"{jane},{twin}"}).status_code == 404
    assert charlie.client().get("/contacts/merge/compare/", {"ids": f"{jane},{twin}"}).status_code == 404
    assert state(alice.scope()) == before
    # The out-of-scope twin is not offered as a duplicate to the scoped advisor either.
    assert scoped.api().get("/api/v1/contact-merges/duplicates/").json()["results"] == []
    assert charlie.api().get("/api/v1/contact-merges/duplicates/").json()["results"] == []


@pytest.mark.parametrize(
    ("case", "field", "message"),
    [
        ("self", "ids", "cannot be merged with itself"),
        ("one", "ids", "at least two"),
        ("four", "ids", "at most 3"),
        ("survivor", "survivor", "must be one of the contacts"),
        ("not_editable", "created_at", "cannot be chosen"),
        ("sealed_part", "tax_id_digest", "cannot be chosen"),
        ("foreign_source", "email", "one of the contacts being merged"),
    ],
)
def test_bad_merge_requests_name_the_problem_and_change_nothing(
    alice: Persona, book: dict[str, Any], case: str, field: str, message: str
) -> None:
    jane, twin, other = book["jane"].pk, book["twin"].pk, book["other"].pk
    with alice.scope():
        extra = [ContactFactory().pk, ContactFactory().pk]
    data: dict[str, Any] = {
        "self": {"ids": [jane, jane], "survivor": jane},
        "one": {"ids": [jane], "survivor": jane},
        "four": {"ids": [jane, twin, *extra], "survivor": jane},
        "survivor": {"ids": [jane, twin], "survivor": other},
        "not_editable": {"ids": [jane, twin], "survivor": jane, "choices": {"created_at": twin}},
        "sealed_part": {"ids": [jane, twin], "survivor": jane, "choices": {"tax_id_digest": twin}},
        "foreign_source": {"ids": [jane, twin], "survivor": jane, "choices": {"email": other}},
    }[case]
    before = state(alice.scope())
    page_status, api_status, error = refused(alice, data)
    assert (page_status, api_status) == (400, 400)
    assert error is not None and message in " ".join(error["fields"][field])
    assert state(alice.scope()) == before
    page = alice.client().post("/contacts/merge/compare/", {"ids": ",".join(map(str, data["ids"])),
                                                            "survivor": data["survivor"]})  # fmt: skip
    if field in ("ids", "survivor"):
        assert message in page.content.decode()


def test_pages_need_the_crm_right(alice: Persona, book: dict[str, Any]) -> None:
    officer = UserFactory(firm=alice.firm, email="sec@alpha.test", role=Role.SECURITY_OFFICER)
    client = Persona(officer, alice.firm).client()
    assert client.get("/contacts/merge/").status_code == 403
    assert client.get("/contacts/merge/compare/", {"ids": f"{book['jane'].pk},{book['twin'].pk}"}).status_code == 403


def test_undo_restores_a_survivor_whose_tax_id_and_type_came_from_the_merged_contact(alice: Persona) -> None:
    with alice.scope():
        plain = ContactFactory(first_name="Lu", last_name="Tan", email="lu@example.test")
        firm = ContactFactory(first_name="Lu", last_name="Tan", email="LU@example.test", tax_id="12-3456789",
                              tax_id_type="ein")  # fmt: skip
        merge = services.contacts_merge(actor=alice.user, contacts=[plain, firm], survivor_id=plain.pk,
                                        choices={"tax_id": firm.pk, "tax_id_type": firm.pk})  # fmt: skip
        kept = Contact.objects.get(pk=plain.pk)
        assert kept.tax_id_type == "ein" and kept.tax_id_last4 == "6789"
        services.merge_undo(actor=alice.user, merge=merge)
        kept.refresh_from_db()
        assert kept.tax_id_type == "" and kept.tax_id_encrypted is None
        assert crm_services.tax_id_matches(Contact.objects.get(pk=firm.pk), "123456789")
