"""Every real vCard export in tests/fixtures/vcards imports: names, emails, phones, addresses,
organisation, birthday, notes, non-ASCII names and photos, checked against the expected values
that come with the files (ez-vcard's own test assertions and hand-read values)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from crm.contact_io import services
from crm.contact_io.models import ContactImport, ContactImportStatus
from crm.contact_io.parsers.vcard import read_vcards
from crm.models import Contact

REFERENCE = Path(__file__).parent / "fixtures" / "vcards"  # copied from the product's reference documents
EZ = REFERENCE / "ez-vcard"
EXPECTED = json.loads((EZ / "expected_from_SampleVCardsTest.json").read_text())
FILES = sorted(p.name for p in EZ.glob("*.vcf"))


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _everything(contact: Contact) -> str:
    """All the contact's text, to find a value that had no field of its own (it goes to the notes)."""
    return " ".join(str(getattr(contact, f.attname) or "") for f in Contact._meta.concrete_fields)


def _values(instance: dict[str, Any], key: str) -> list[str]:
    value = instance.get(key) or []
    return [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str) and v.strip()]


@pytest.fixture
def run_import(django_capture_on_commit_callbacks: Any) -> Any:
    def run(alice: Any, path: Path) -> ContactImport:
        job = services.import_upload(actor=alice.user, file_name=path.name, data=path.read_bytes())
        job = services.import_preview(actor=alice.user, job=job)
        assert job.rejected_count == 0, job.report
        with django_capture_on_commit_callbacks(execute=True):  # Celery runs eagerly in tests
            services.import_request_apply(actor=alice.user, job=job)
        job.refresh_from_db()
        assert job.status == ContactImportStatus.DONE, job.error
        return job

    return run


def test_every_reference_file_is_listed() -> None:
    assert set(EXPECTED) == set(FILES)
    assert len(FILES) == 17


@pytest.mark.parametrize("name", FILES)
def test_reference_vcard_imports_with_expected_values(alice: Any, run_import: Any, name: str) -> None:
    cards = EXPECTED[name]
    with alice.scope():
        job = run_import(alice, EZ / name)
        contacts = list(Contact.objects.filter(pk__in=job.created_ids()).order_by("id"))
        assert job.created_count == len(cards) == len(contacts)
        for card, contact in zip(cards, contacts, strict=True):
            text = _everything(contact).casefold()
            for prop in card["properties"]:
                for instance in prop["instances"]:
                    kind = prop["kind"]
                    if kind == "email":
                        for email in _values(instance, "value"):
                            assert email.casefold() in text, (name, email)
                    elif kind == "telephone":
                        for number in _values(instance, "text") + _values(instance, "uri"):
                            digits = _digits(number.split(";")[0]) or number
                            phones = [_digits(p) for p in (contact.phone, contact.mobile_phone, contact.work_phone)]
                            assert digits in phones or number.casefold() in text, (name, number)
                    elif kind == "structuredName":
                        for family in _values(instance, "family"):
                            assert contact.last_name == family.strip(), (name, family)
                        for given in _values(instance, "given"):
                            assert contact.first_name == given.strip(), (name, given)
                    elif kind == "listProperty(Organization.class)":
                        values = _values(instance, "values")
                        if values and instance is prop["instances"][0]:
                            assert contact.organization == values[0].strip(), (name, values)
                        for value in values:
                            assert value.strip().casefold() in text, (name, value)
                    elif kind == "simpleProperty(Title.class)":
                        for title in _values(instance, "value"):
                            if instance is prop["instances"][0]:
                                assert contact.occupation == title.strip()[:100], (name, title)
                            assert title.strip().casefold() in text, (name, title)
                    elif kind == "simpleProperty(Note.class)":
                        for note in _values(instance, "value"):
                            first_line = note.replace("\r\n", "\n").strip().split("\n")[0].strip()
                            assert first_line.casefold() in contact.notes.casefold(), (name, first_line)
                    elif kind == "address":
                        for city in _values(instance, "locality"):
                            assert city.casefold() in text, (name, city)
                        for code in _values(instance, "postalCode"):
                            assert code.casefold() in text, (name, code)
                    elif (
                        kind == "binaryProperty(Photo.class)" and instance.get("dataLength") and not instance.get("url")
                    ):
                        assert contact.picture is not None, name
                    elif kind == "dateProperty(Birthday.class)" and instance.get("date"):
                        assert contact.date_of_birth is not None, (name, instance["date"])


def test_photos_are_the_contacts_pictures(alice: Any, run_import: Any) -> None:
    with alice.scope():
        job = run_import(alice, EZ / "John_Doe_IPHONE.vcf")
        contact = Contact.objects.get(pk=_only(job.created_ids()))
        assert contact.picture_type == "image/jpeg"
        assert bytes(contact.picture)[:3] == b"\xff\xd8\xff"
        assert (contact.first_name, contact.last_name, contact.organization) == ("John", "Doe", "IBM")
        assert contact.date_of_birth.isoformat() == "2012-06-06"


def test_non_ascii_names_from_quoted_printable_2_1(alice: Any, run_import: Any) -> None:
    with alice.scope():
        job = run_import(alice, EZ / "John_Doe_ANDROID.vcf")
        names = list(
            Contact.objects.filter(pk__in=job.created_ids()).order_by("id").values_list("last_name", flat=True)
        )
    assert names[:4] == ["Doe", "Doe", "Ñ Ñ Ñ Ñ", "Ñ Ñ Ñ Ñ Ñ Ñ Ñ Ñ Ñ Ñ Ñ"]


def test_vobject_reference_files(alice: Any, run_import: Any) -> None:
    expected = json.loads((REFERENCE / "vobject" / "expected.json").read_text())
    with alice.scope():
        job = run_import(alice, REFERENCE / "vobject" / "vcard40_full.vcf")
        full = Contact.objects.get(pk=_only(job.created_ids()))
        job = run_import(alice, REFERENCE / "vobject" / "vcard40_multilang.vcf")
        multi = Contact.objects.get(pk=_only(job.created_ids()))  # one contact, not two
    want = expected["vcard40_full.vcf"]
    assert (full.first_name, full.middle_name, full.last_name, full.salutation, full.suffix) == (
        want["N"]["given"], want["N"]["additional"], want["N"]["family"], "Dr", want["N"]["suffix"],
    )  # fmt: skip
    assert full.date_of_birth.isoformat() == want["BDAY"]
    assert {full.email, full.email_alt} == {e["value"] for e in want["EMAIL"]}
    assert full.email == "johnny@personal.example.org"  # PREF=1 first
    assert full.organization == want["ORG"][0]
    assert full.tags == want["CATEGORIES"]
    assert full.notes.startswith(want["NOTE"])  # then what had no field: "Also on the card: …"
    assert full.preferred_name == want["NICKNAME"][0]
    assert (multi.first_name, multi.last_name) == ("Taro", "Yamada")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Lee\r\nN:Lee;Ann;;;\r\n", "truncated"),
        (b"hello world\r\nthis is not a card\r\n", "not a vCard property"),
        (b"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Lee;Ann\r\nEND:VCARD\r\nEND:VCARD\r\n", "outside any BEGIN:VCARD"),
    ],
)
def test_malformed_vcards_are_refused_with_a_line(data: bytes, message: str) -> None:
    result = read_vcards(data)
    assert any(message in p["message"] for p in result.problems), result.problems


def test_strange_encodings() -> None:
    latin1 = "BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=ISO-8859-1:Müller;Jürgen\r\nEND:VCARD\r\n".encode("latin-1")
    assert read_vcards(latin1).rows[0].cells["last_name"] == "Müller"
    cp1252 = "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Müller;Jürgen\r\nEND:VCARD\r\n".encode("cp1252")
    row = read_vcards(cp1252).rows[0]
    assert row.cells["last_name"] == "Müller" and "Windows-1252" in row.notes[0]
    utf16 = "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Lee;Ann\r\nEND:VCARD\r\n".encode("utf-16")
    with pytest.raises(Exception, match="UTF-16"):
        read_vcards(utf16)


def test_oversized_vcard_file_is_refused() -> None:
    card = b"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Lee;Ann\r\nNOTE:" + b"x" * 1000 + b"\r\nEND:VCARD\r\n"
    with pytest.raises(Exception, match="limit is 5 MB"):
        read_vcards(card * 6000)


def _only(ids: list[int]) -> int:
    assert len(ids) == 1, ids
    return ids[0]
