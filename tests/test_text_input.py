"""Bad text and numbers refused on every write path (API, pages, services, imports), exports that
survive whatever is stored, and the contact API's kind-less activities and advisor (issue #14,
points 3 and 8)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from openpyxl import load_workbook

from accounts import services as account_services
from accounts.models import AuditEntry
from crm import services
from crm.contact_io import services as import_services
from crm.contact_io.fields import BY_FIELD
from crm.contact_io.models import ContactImport
from crm.models import FREE_TEXT_MAX, Contact
from tests.conftest import Persona
from tests.factories import ContactFactory, UserFactory

CONTACTS = "/api/v1/contacts/"


def _fields(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.content
    return response.json()["error"]["fields"]


# --- Control characters, invisible characters in names ------------------------------------------


def test_the_api_refuses_a_control_character_naming_the_field(alice: Persona) -> None:
    api = alice.api()
    fields = _fields(api.post(CONTACTS, {"first_name": "Ctl\u0001", "last_name": "Char"}, format="json"))
    assert list(fields) == ["first_name"] and "U+0001" in fields["first_name"][0]
    with alice.scope():
        assert not Contact.objects.exists()
    contact = api.post(CONTACTS, {"first_name": "Ann", "last_name": "Lee"}, format="json").json()
    assert "res_city" in _fields(api.patch(f"{CONTACTS}{contact['id']}/", {"res_city": "Par\x1bis"}, format="json"))
    assert "tags" in _fields(api.patch(f"{CONTACTS}{contact['id']}/", {"tags": ["ok", "b\x7fd"]}, format="json"))


def test_multi_line_fields_keep_line_breaks_and_tabs_one_line_fields_do_not(alice: Persona) -> None:
    api = alice.api()
    created = api.post(
        CONTACTS, {"first_name": "Ann", "last_name": "Lee", "notes": "Line one\r\nline two\tindented"}, format="json"
    )
    assert created.status_code == 201 and created.json()["notes"] == "Line one\r\nline two\tindented"
    assert "notes" in _fields(api.patch(f"{CONTACTS}{created.json()['id']}/", {"notes": "bell\x07"}, format="json"))
    assert "employer" in _fields(
        api.patch(f"{CONTACTS}{created.json()['id']}/", {"employer": "Acme\nInc"}, format="json")
    )


@pytest.mark.parametrize("char", ["\u202e", "\u2066", "\u200b", "\u200d", "\ufeff"])
def test_names_refuse_bidirectional_overrides_and_zero_width_characters(alice: Persona, char: str) -> None:
    api = alice.api()
    for field in ("first_name", "middle_name", "last_name", "organization"):
        body = {"first_name": "Ann", "last_name": "Lee", field: f"Sm{char}ith"}
        fields = _fields(api.post(CONTACTS, body, format="json"))
        assert list(fields) == [field] and "invisible character" in fields[field][0]
    # Free text keeps them (right-to-left notes need the marks).
    assert (
        api.post(CONTACTS, {"first_name": "Ann", "last_name": "Lee", "notes": f"x{char}y"}, format="json").status_code
        == 201
    )


def test_services_refuse_them_for_every_firm_owned_model(alice: Persona) -> None:
    with alice.scope():
        with pytest.raises(ValidationError) as error:
            services.group_create(actor=alice.user, name="VIP\u202e")
        assert list(error.value.message_dict) == ["name"]
        with pytest.raises(ValidationError) as error:
            services.group_create(actor=alice.user, name="VIP", description="a\x00b")
        assert list(error.value.message_dict) == ["description"]
        head = ContactFactory()
        with pytest.raises(ValidationError) as error:
            services.household_create(actor=alice.user, name="The Lees\u200b", head=head)
        assert list(error.value.message_dict) == ["name"]


def test_the_contact_page_refuses_a_control_character(alice: Persona) -> None:
    response = alice.client().post(
        reverse("crm:contact-create"), {"kind": "individual", "status": "prospect", "priority": "normal",
                                        "first_name": "Ann", "last_name": "Lee\x02", "mailing_same": "on"},
    )  # fmt: skip
    assert response.status_code == 400 and "U+0002" in response.content.decode()
    with alice.scope():
        assert not Contact.objects.exists()


def test_errors_keep_full_cleans_field_order(alice: Persona) -> None:
    """Django's own errors and the text check's come out in model field order, as the import's
    per-value checker gives them."""
    from crm.contact_io.planning import MODEL_FIELDS, Checker

    values = {"first_name": "A\x01", "last_name": "B\u202e", "email": "nope", "annual_income": Decimal(-1),
              "notes": "x" * (FREE_TEXT_MAX + 1)}  # fmt: skip
    given = {*values, "kind"}
    contact = Contact(**values)
    with alice.scope(), pytest.raises(ValidationError) as error:
        contact.full_clean(exclude=[n for n in MODEL_FIELDS if n not in given], validate_unique=False,
                           validate_constraints=False)  # fmt: skip
    expected = error.value.message_dict
    assert list(expected) == ["first_name", "last_name", "email", "annual_income", "notes"]
    with alice.scope():
        found = Checker().errors({n: getattr(contact, n) for n in MODEL_FIELDS}, given)
    assert found == expected and list(found) == list(expected)


# --- Imports ------------------------------------------------------------------------------------


def _import_csv(persona: Persona, rows: list[dict[str, str]]) -> ContactImport:
    out = io.StringIO()
    names = list(rows[0])
    writer = csv.writer(out)
    writer.writerow([BY_FIELD[n].label for n in names])
    for row in rows:
        writer.writerow([row[n] for n in names])
    with persona.scope():
        job = import_services.import_upload(actor=persona.user, file_name="c.csv", data=out.getvalue().encode())
        return import_services.import_preview(actor=persona.user, job=job)


def test_an_import_refuses_such_cells_with_their_row_and_column(alice: Persona) -> None:
    job = _import_csv(alice, [
        {"first_name": "Ann", "last_name": "Lee", "organization": "Acme", "net_worth": "10"},
        {"first_name": "Ctl\x01", "last_name": "Char", "organization": "Acme", "net_worth": "10"},
        {"first_name": "Bea", "last_name": "Bidi", "organization": "Ac\u202eme", "net_worth": "10"},
        {"first_name": "Neg", "last_name": "Worth", "organization": "Acme", "net_worth": "-5"},
    ])  # fmt: skip
    found = {(issue["row"], issue["column"]): issue["message"] for issue in job.report}
    first, organization, net_worth = (BY_FIELD[n].label for n in ("first_name", "organization", "net_worth"))
    assert set(found) == {(3, first), (4, organization), (5, net_worth)}, job.report
    assert "U+0001" in found[3, first] and "U+202E" in found[4, organization]
    assert found[5, net_worth] == "Net worth cannot be negative."
    assert job.rejected_count == 3


# --- Exports survive what is already stored -----------------------------------------------------


def test_exports_survive_control_characters_stored_by_raw_sql(alice: Persona) -> None:
    with alice.scope():
        contact = ContactFactory(first_name="Ctl", last_name="Char", tags=["vip"])
        with connection.cursor() as cursor:  # as a row written before the check, or past it
            cursor.execute(
                "UPDATE crm_contact SET first_name = %s, organization = %s, tags = %s, notes = %s WHERE id = %s",
                ["Ctl\x01", "\x02=HYPERLINK(1)", ["v\x03ip"], "a\ufffeb", contact.pk],
            )
    client = alice.client()
    response = client.get(reverse("contact_io:export-full"))
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)))["Contacts"]
    header = [c.value for c in sheet[1]]
    row = {label: sheet.cell(row=2, column=index + 1).value for index, label in enumerate(header)}
    assert (row["Id"], row["First name"], row["Organization"], row["Tags"], row["Notes"]) == (
        contact.pk, "Ctl", "'=HYPERLINK(1)", "vip", "ab",
    )  # fmt: skip
    summary = client.get(reverse("contact_io:export-summary"))
    rows = list(csv.reader(io.StringIO(b"".join(summary.streaming_content).decode("utf-8-sig"))))
    assert rows[1][1] == "Ctl Char" and rows[1][7] == "'=HYPERLINK(1)"


# --- Lengths and amounts ------------------------------------------------------------------------


def test_free_text_has_a_length_limit_on_every_path(alice: Persona) -> None:
    api = alice.api()
    long = "x" * (FREE_TEXT_MAX + 1)
    assert "notes" in _fields(api.post(CONTACTS, {"first_name": "A", "last_name": "B", "notes": long}, format="json"))
    contact = api.post(
        CONTACTS, {"first_name": "A", "last_name": "B", "notes": "x" * FREE_TEXT_MAX}, format="json"
    ).json()
    activities = f"{CONTACTS}{contact['id']}/activities/"
    assert "body" in _fields(api.post(activities, {"kind": "note", "summary": "s", "body": long}, format="json"))
    with alice.scope(), pytest.raises(ValidationError) as error:
        services.activity_add(actor=alice.user, contact=Contact.objects.get(), kind="note", summary="s", body=long)
    assert list(error.value.message_dict) == ["body"]


@pytest.mark.parametrize(
    ("field", "label"),
    [("annual_income", "Annual income"), ("net_worth", "Net worth"), ("liquid_net_worth", "Liquid net worth")],
)
def test_income_and_net_worth_cannot_be_negative(alice: Persona, field: str, label: str) -> None:
    fields = _fields(alice.api().post(CONTACTS, {"first_name": "A", "last_name": "B", field: "-1.00"}, format="json"))
    assert fields == {field: [f"{label} cannot be negative."]}
    response = alice.api().post(CONTACTS, {"first_name": "A", "last_name": "B", field: "0.00"}, format="json")
    assert response.status_code == 201


# --- Activities without a kind, the contact's advisor --------------------------------------------


def test_an_activity_without_a_kind_is_a_400_naming_it(alice: Persona) -> None:
    with alice.scope():
        contact = ContactFactory()
    api = alice.api()
    fields = _fields(api.post(f"{CONTACTS}{contact.pk}/activities/", {"summary": "Called"}, format="json"))
    assert list(fields) == ["kind"]
    assert "kind" in _fields(
        api.post(f"{CONTACTS}{contact.pk}/activities/", {"kind": "system", "summary": "x"}, format="json")
    )
    made = api.post(f"{CONTACTS}{contact.pk}/activities/", {"kind": "call", "summary": "Called"}, format="json")
    assert made.status_code == 201 and made.json()["kind"] == "call"


def test_the_api_sets_the_advisor_to_an_active_user_of_the_firm(alice: Persona, bob: Persona,
                                                                charlie: Persona) -> None:  # fmt: skip
    with alice.scope():
        contact = ContactFactory()
        retired = UserFactory(firm=alice.firm, email="gone@alpha.test")
        account_services.user_update(actor=alice.user, user=retired, role=retired.role, is_active=False,
                                     rights=frozenset())  # fmt: skip
    api = alice.api()
    url = f"{CONTACTS}{contact.pk}/"
    response = api.patch(url, {"advisor": bob.user.pk}, format="json")
    assert response.status_code == 200 and response.json()["advisor"] == bob.user.pk
    with alice.scope():
        assert Contact.objects.get(pk=contact.pk).advisor_id == bob.user.pk
        entry = AuditEntry.objects.filter(object_id=str(contact.pk), action="update").latest("id")
        assert entry.actor_id == alice.user.pk and any(k.startswith("advisor") for k in entry.changes)
    refusals = [api.patch(url, {"advisor": pk}, format="json") for pk in (charlie.user.pk, 999_999, retired.pk)]
    assert [r.status_code for r in refusals] == [400, 400, 400]
    assert refusals[0].json() == refusals[1].json() == refusals[2].json()
    assert list(refusals[0].json()["error"]["fields"]) == ["advisor"]
    created = api.post(CONTACTS, {"first_name": "A", "last_name": "B", "advisor": alice.user.pk}, format="json")
    assert created.status_code == 201 and created.json()["advisor"] == alice.user.pk
    cleared = api.patch(url, {"advisor": None}, format="json")
    assert cleared.status_code == 200 and cleared.json()["advisor"] is None
