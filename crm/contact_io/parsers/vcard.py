"""vCard 2.1, 3.0 and 4.0, many cards per file, read tolerantly.

Why not vobject: on the real exports in ``shared/reference/vcards`` vobject 0.9.9 raised on 6 of
19 files (CR CR LF line ends, quoted-printable soft line breaks of 2.1, ``PROFILE:VCard``) and
decodes 2.1 ``CHARSET`` parameters only partly; a normalising pass in front of it would be most of
a parser anyway. This reader works on bytes: it splits lines on any of CR, LF, CR LF, CR CR LF;
unfolds continuation lines (leading space or tab) and quoted-printable soft breaks (a line ending
in ``=``); takes 2.1's bare parameters (``TEL;CELL;PREF``, ``ENCODING`` values given alone);
decodes quoted-printable and base64 values, then the text in the ``CHARSET`` given (UTF-8 by
default, Windows-1252 when the bytes are not UTF-8, which the row's notes say); and unescapes
3.0/4.0 text (``\\n``, ``\\,``, ``\\;``). It never fetches URLs.
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from advisorportal.jobs.uploads import FileRefused
from crm.contact_io.parsers import MAX_ROWS, MAX_VCARD_BYTES, ParsedFile, ParsedRow
from crm.models import phone_number

PROPERTY = re.compile(rb"^(?:[A-Za-z0-9\-]+\.)?([A-Za-z0-9\-]+)((?:;[^:]*)?):(.*)$", re.S)
ENCODINGS = {"QUOTED-PRINTABLE", "BASE64", "B", "8BIT", "7BIT"}
MAX_PICTURE = 1_000_000
PICTURE_TYPES = {
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}
COUNTRIES = {
    "us": "US", "usa": "US", "u.s.a.": "US", "u.s.": "US", "united states": "US",
    "united states of america": "US", "america": "US", "canada": "CA", "mexico": "MX",
    "united kingdom": "GB", "uk": "GB", "great britain": "GB", "england": "GB", "ireland": "IE",
    "germany": "DE", "deutschland": "DE", "france": "FR", "switzerland": "CH", "schweiz": "CH",
    "suisse": "CH", "austria": "AT", "österreich": "AT", "italy": "IT", "italia": "IT", "spain": "ES",
    "españa": "ES", "portugal": "PT", "netherlands": "NL", "belgium": "BE", "luxembourg": "LU",
    "sweden": "SE", "norway": "NO", "denmark": "DK", "finland": "FI", "poland": "PL", "japan": "JP",
    "日本": "JP", "china": "CN", "india": "IN", "australia": "AU", "new zealand": "NZ", "brazil": "BR",
    "singapore": "SG", "hong kong": "HK", "south africa": "ZA", "israel": "IL",
}  # fmt: skip
PHONE = re.compile(cast("re.Pattern[str]", phone_number.regex).pattern)  # the Contact model's own rule
SALUTATIONS = {"mr": "Mr", "mrs": "Mrs", "ms": "Ms", "mx": "Mx", "dr": "Dr"}


@dataclass
class Prop:
    name: str
    params: dict[str, list[str]]
    raw: bytes
    version: str
    notes: list[str] = field(default_factory=list)

    def types(self) -> set[str]:
        return {t.lower() for value in self.params.get("TYPE", []) for t in value.split(",") if t}

    def preferred(self) -> bool:
        return "pref" in self.types() or "PREF" in self.params

    def encoding(self) -> str:
        return (self.params.get("ENCODING") or [""])[0].upper()

    def data(self) -> bytes:
        if self.encoding() == "QUOTED-PRINTABLE":
            return quopri.decodestring(self.raw)
        return self.raw

    def text(self) -> str:
        data = self.data()
        charset = (self.params.get("CHARSET") or ["utf-8"])[0]
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                self.notes.append(f"{self.name}: the text is not UTF-8; read as Windows-1252.")
                return data.decode("cp1252", errors="replace")

    def components(self) -> list[str]:
        """The ``;``-separated parts of a structured value (N, ADR, ORG), unescaped."""
        return [_unescape(part, self.version) for part in re.split(r"(?<!\\);", self.text())]

    def value(self) -> str:
        return _unescape(self.text(), self.version)


def _unescape(text: str, version: str) -> str:
    if version == "2.1":
        return text.replace("\\;", ";").strip()
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) in "nN" else m.group(1), text).strip()


def _params(text: bytes) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for part in re.findall(rb'(?:[^;"]|"[^"]*")+', text):
        key, eq, value = part.decode("ascii", errors="replace").partition("=")
        key = key.strip().upper()
        if not eq:  # 2.1 bare parameter: a type, or an encoding given alone
            key, value = ("ENCODING", key) if key in ENCODINGS else ("TYPE", key)
        params.setdefault(key, []).append(value.strip().strip('"'))
    return params


def _lines(data: bytes) -> list[bytes]:
    return re.split(rb"\r\r\n|\r\n|\r|\n", data)


def _logical_lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(first physical line number, unfolded line)."""
    current: bytes | None = None
    start = 0
    qp_continues = False
    for number, line in enumerate(_lines(data), start=1):
        if current is not None and (line[:1] in (b" ", b"\t") or qp_continues):
            current += line[1:] if line[:1] in (b" ", b"\t") and not qp_continues else line
        elif current is not None and line and not PROPERTY.match(line) and b":" not in line[:80]:
            current += line.strip()  # a base64 or broken continuation without the leading space
        else:
            if current is not None:
                yield start, current
            current, start = line, number
        qp_continues = False
        if current is not None and current.endswith(b"=") and b"QUOTED-PRINTABLE" in current.split(b":", 1)[0].upper():
            current = current[:-1]
            qp_continues = True
    if current is not None:
        yield start, current


def _cards(data: bytes, result: ParsedFile) -> Iterator[tuple[int, list[Prop]]]:
    props: list[Prop] | None = None
    version = "3.0"
    count = 0
    begin_line = 0
    for line_number, line in _logical_lines(data):
        if not line.strip():
            continue
        match = PROPERTY.match(line)
        if match is None:
            result.problem(f"Line {line_number} is not a vCard property: {line[:40]!r}.", row=count or 1)
            continue
        name = match.group(1).decode("ascii").upper()
        value = match.group(3)
        if name == "BEGIN" and value.strip().upper() == b"VCARD":
            if props is not None:
                result.problem(f"Card {count} (line {begin_line}) has no END:VCARD; the file is truncated.", row=count)
            count += 1
            props, version, begin_line = [], "3.0", line_number
            continue
        if props is None:
            result.problem(f"Line {line_number} lies outside any BEGIN:VCARD … END:VCARD.", row=count)
            continue
        if name == "END" and value.strip().upper() == b"VCARD":
            yield count, [p for p in props if p.name != "VERSION"]
            props = None
            continue
        if name == "VERSION":
            version = value.strip().decode("ascii", errors="replace")
        props.append(Prop(name, _params(match.group(2)), value.strip(b" \t") if name != "PHOTO" else value, version))
    if props is not None:
        result.problem(f"Card {count} (line {begin_line}) has no END:VCARD; the file is truncated.", row=count)


def _picture(prop: Prop) -> tuple[bytes, str] | str:
    """The picture bytes and type, or why it was left out."""
    raw = prop.raw.strip()
    if raw[:5].lower() == b"data:":
        header, _, payload = raw.partition(b",")
        if b";base64" not in header.lower():
            return "the picture is not base64 data"
        raw = payload
    elif prop.encoding() not in ("B", "BASE64"):
        return "the picture is a link (not fetched)"
    raw = re.sub(rb"\s+", b"", raw).rstrip(b"=")
    try:  # some phones cut the last group short: keep the whole groups, as ez-vcard does
        data = base64.b64decode(raw[: len(raw) - len(raw) % 4] or b"", validate=True)
    except (binascii.Error, ValueError):
        return "the picture's base64 is damaged"
    content_type = next((kind for magic, kind in PICTURE_TYPES.items() if data.startswith(magic)), "")
    if not content_type and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        content_type = "image/webp"
    if not content_type:
        return "the picture is not JPEG, PNG, GIF or WebP"
    if len(data) > MAX_PICTURE:
        return "the picture is over 1 MB"
    return data, content_type


def _phone(text: str) -> str:
    text = text.strip()
    if text.lower().startswith("tel:"):
        text = text[4:]
        number, _, params = text.partition(";")
        ext = re.search(r"ext=(\d+)", params)
        text = number + (f" x{ext.group(1)}" if ext else "")
    return text


def _date(text: str) -> str | None:
    text = text.strip()
    match = re.match(r"^(\d{4})-?(\d{2})-?(\d{2})", text)
    return f"{match.group(1)}-{match.group(2)}-{match.group(3)}" if match else None


def card_to_row(number: int, props: list[Prop]) -> ParsedRow:
    cells: dict[str, Any] = {}
    row = ParsedRow(row=number, cells=cells)
    notes = row.notes
    extras: list[str] = []
    by_name: dict[str, list[Prop]] = {}
    seen_altid: set[tuple[str, str]] = set()
    for prop in props:
        altid = (prop.params.get("ALTID") or [""])[0]
        if altid and (prop.name, altid) in seen_altid:
            continue  # another language's form of the same value
        if altid:
            seen_altid.add((prop.name, altid))
        by_name.setdefault(prop.name, []).append(prop)

    def first(name: str) -> Prop | None:
        found = by_name.get(name)
        return found[0] if found else None

    org = first("ORG")
    organization = org.components()[0] if org else ""
    if organization:
        cells["organization"] = organization
    if org and (departments := [c for c in org.components()[1:] if c]):
        extras.append(f"Department: {'; '.join(departments)}")
    given = family = ""
    if n := first("N"):
        parts = n.components() + [""] * 5
        family, given, middle, prefix, suffix = (p.strip() for p in parts[:5])
        if middle:
            cells["middle_name"] = " ".join(middle.replace(",", " ").split())[:100]
        if (salutation := SALUTATIONS.get(prefix.rstrip(".").lower())) is not None:
            cells["salutation"] = salutation
        elif prefix:
            extras.append(f"Prefix: {prefix}")
        if suffix:
            cells["suffix"] = suffix[:20]
    fn = first("FN")
    formatted = fn.value() if fn else ""
    if (not given or not family) and formatted:
        words = formatted.split()
        if not family and not given and len(words) >= 2:
            given, family = words[0], " ".join(words[1:])
        elif not given and len(words) >= 2 and words[0] != family:
            given = words[0]
        elif not family and len(words) >= 2:
            family = " ".join(words[1:])
    kind_prop = first("KIND")
    kind = (kind_prop.value().lower() if kind_prop else "") or ""
    show_as = first("X-ABSHOWAS")
    is_org = kind == "org" or (show_as is not None and show_as.value().upper() == "COMPANY")
    emails: list[str] = []
    for prop in _preferred_first(by_name.get("EMAIL", [])):
        address = prop.value()
        if _valid_email(address):
            emails.append(address)
        elif address:
            extras.append(f"Email: {address}")
            notes.append(f"{address!r} is not an email address; kept in the notes.")
    if is_org or (not given and not family and organization):
        cells["kind"] = "entity"
        cells["last_name"] = organization or formatted or family
    else:
        if not given and not family and emails:  # only an email address: its local part as the name
            words = [w for w in re.split(r"[._\-+]", emails[0].partition("@")[0]) if w]
            if len(words) >= 2:
                given, family = words[0].capitalize(), " ".join(w.capitalize() for w in words[1:])
                notes.append("No name on the card: taken from the email address.")
        if family and not given:
            given = "—"
            notes.append("No first name on the card: “—” entered; correct it after the import.")
        cells["first_name"], cells["last_name"] = given, family
    if emails:
        cells["email"] = emails[0]
    if len(emails) > 1:
        cells["email_alt"] = emails[1]
    extras += [f"Email: {e}" for e in emails[2:]]
    _phones(by_name.get("TEL", []), cells, extras, notes)
    _addresses(by_name.get("ADR", []), cells, notes, extras)
    if (title := first("TITLE")) and title.value():
        cells["occupation"] = title.value()[:100]
    extras += [f"Organization: {'; '.join(filter(None, p.components()))}" for p in by_name.get("ORG", [])[1:]]
    extras += [f"Title: {p.value()}" for p in by_name.get("TITLE", [])[1:] if p.value()]
    if (bday := first("BDAY")) is not None:
        date = _date(bday.value())
        if date:
            cells["date_of_birth"] = date
        else:
            notes.append(f"Birthday {bday.value()!r} has no year; not kept.")
    if (nick := first("NICKNAME")) and nick.value():
        cells["preferred_name"] = nick.value().split(",")[0].strip()[:100]
    if (gender := first("GENDER")) is not None:
        sex = gender.value()[:1].upper()
        if sex in ("M", "F", "O"):
            cells["gender"] = {"M": "male", "F": "female", "O": "other"}[sex]
    tags = [t.strip() for p in by_name.get("CATEGORIES", []) for t in p.value().split(",") if t.strip()]
    if tags:
        cells["tags"] = ",".join(tags)
    note_text = "\n".join(p.value().replace("\r\n", "\n") for p in by_name.get("NOTE", []) if p.value())
    if extras:
        note_text = (note_text + "\n\n" if note_text else "") + "Also on the card:\n" + "\n".join(extras)
    if note_text:
        cells["notes"] = note_text
    for photo in by_name.get("PHOTO", []):
        picture = _picture(photo)
        if isinstance(picture, tuple):
            row.picture = picture
            break
        notes.append(f"Photo left out: {picture}.")
    for prop in props:
        notes += prop.notes
    return row


def _valid_email(address: str) -> bool:
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    try:
        validate_email(address)
    except ValidationError:
        return False
    return len(address) <= 254


def _preferred_first(props: list[Prop]) -> list[Prop]:
    return sorted(props, key=lambda p: not p.preferred())


def _phones(props: list[Prop], cells: dict[str, Any], extras: list[str], notes: list[str]) -> None:
    slots = {"phone": "", "mobile_phone": "", "work_phone": ""}
    leftover: list[str] = []
    for prop in _preferred_first(props):
        types = prop.types()
        number = _phone(prop.value())
        if not number:
            continue
        if not PHONE.match(number):
            extras.append(f"Phone: {number}")
            notes.append(f"{number!r} is not a phone number; kept in the notes.")
            continue
        if types & {"fax", "pager"}:
            extras.append(f"{'Fax' if 'fax' in types else 'Pager'}: {number}")
            continue
        slot = "mobile_phone" if types & {"cell", "mobile", "iphone"} else "work_phone" if "work" in types else "phone"
        if not slots[slot]:
            slots[slot] = number
        else:
            leftover.append(number)
    for number in leftover:
        free = next((s for s, v in slots.items() if not v), None)
        if free is not None:
            slots[free] = number
        else:
            extras.append(f"Phone: {number}")
    cells.update({slot: number for slot, number in slots.items() if number})


def _country(text: str, notes: list[str]) -> str:
    text = text.strip()
    if not text:
        return ""
    if re.fullmatch(r"[A-Za-z]{2}", text):
        return text.upper()
    code = COUNTRIES.get(text.casefold())
    if code is None:
        notes.append(f"Country {text!r} not recognised; enter its two-letter code by hand.")
        return ""
    return code


def _addresses(props: list[Prop], cells: dict[str, Any], notes: list[str], extras: list[str]) -> None:
    if not props:
        return
    home = [p for p in props if "home" in p.types()]
    residential = (home or _preferred_first(props))[0]
    mailing = next((p for p in _preferred_first(props) if p is not residential and "postal" in p.types()), None)
    mailing = mailing or next((p for p in props if p is not residential), None)
    for prefix, prop in (("res", residential), ("mail", mailing)):
        if prop is None:
            continue
        parts = prop.components() + [""] * 7
        pobox, extended, street, city, region, code, country = (p.replace("\n", ", ").strip() for p in parts[:7])
        lines = [s.strip() for s in street.split(",") if s.strip()] if "\n" not in street else [street]
        first_line = ", ".join(filter(None, [pobox and f"PO Box {pobox}", lines[0] if lines else ""]))
        second = ", ".join(filter(None, [extended, *lines[1:]]))
        values = {
            "street": first_line[:200], "street2": second[:200], "city": city[:100], "state": region[:100],
            "postal_code": code[:20], "country": _country(country, notes),
        }  # fmt: skip
        cells.update({f"{prefix}_{k}": v for k, v in values.items() if v})
    if mailing is not None:
        cells["mailing_same"] = "No"
    for prop in props:
        if prop is not residential and prop is not mailing:
            parts = [p.replace("\n", ", ") for p in prop.components() if p.strip()]
            extras.append(f"Address: {', '.join(parts)}")


def read_vcards(data: bytes) -> ParsedFile:
    if len(data) > MAX_VCARD_BYTES:
        raise FileRefused(f"This vCard file is {len(data) // 1024} KB; the limit is {MAX_VCARD_BYTES // 2**20} MB.")
    if b"\x00" in data[:4096]:
        raise FileRefused("This vCard file is in UTF-16 or is binary; export it as UTF-8.")
    result = ParsedFile()
    for number, props in _cards(data.removeprefix(b"\xef\xbb\xbf"), result):
        if number > MAX_ROWS:
            result.problem(f"The file has more than {MAX_ROWS:,} cards; split it.")
            result.rows = []
            return result
        result.rows.append(card_to_row(number, props))
    if not result.rows and result.ok:
        result.problem("No BEGIN:VCARD … END:VCARD card was found in this file.")
    return result
