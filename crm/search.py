"""Contact search that stays fast beneath row-level security.

``ILIKE`` and trigram operators are not leakproof, so PostgreSQL will not use their indexes under an
RLS policy. Instead every searchable word of a contact is a row of ``ContactSearchKey`` and a query
word matches by a prefix *range* on it (``key >= 'smi' AND key < 'smj'``): plain text comparisons
in the "C" collation, leakproof, answered from the index ``(firm_id, key, contact_id)``.

Keys of a contact: each word of its names and organization (lower-cased, and again with accents
folded, so "jose" finds "José"); each email whole (which also finds it by its local part) and its
domain; the username;
each phone's digits whole, without a leading 1, and its last 4 and last 7 digits. Query words are
normalised the same way; all words must match (AND).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from django.db import connection, connections, transaction
from django.db.models import BooleanField, F, Func, Q, Subquery

from advisorportal import bulk
from advisorportal.tenancy.context import require_firm_id
from crm.models import Contact, ContactSearchKey

WORD = re.compile(r"[^\W_]+", re.UNICODE)
MIN_PHONE_SUFFIX = 3
MAX_KEY = 254


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _words(text: str) -> set[str]:
    lowered = text.casefold()
    return set(WORD.findall(lowered)) | set(WORD.findall(_fold(lowered)))


def _email_keys(email: str) -> set[str]:
    """The email whole and its domain. Not its local part: a key is found by any start of it, and
    every start of the local part is a start of the whole email (one key row a contact fewer, each
    an index entry and a foreign-key check)."""
    email = email.strip().lower()
    if not email:
        return set()
    _, _, domain = email.partition("@")
    return {email, domain} - {""}


def _phone_keys(phone: str) -> set[str]:
    """The number's digits whole, without a leading 1 (North American country code), its last 7
    (the local number) and its last 4: a number is found by its start, its area code onwards, its
    local number or its last four digits, and by any start of those. Each row is a key and a
    foreign-key check, so not every suffix (the last 5 and 6 were ~2 keys a contact for little)."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < MIN_PHONE_SUFFIX:
        return set()
    keys = {digits, digits[-4:], digits[-7:]}
    if len(digits) == 11 and digits.startswith("1"):
        keys.add(digits[1:])
    return keys


def contact_keys(contact: Contact) -> set[str]:
    keys: set[str] = set()
    for text in (
        contact.first_name,
        contact.middle_name,
        contact.last_name,
        contact.preferred_name,
        contact.organization,
    ):
        keys |= _words(text)
    for email in (contact.email, contact.email_alt):
        keys |= _email_keys(email)
    for phone in (contact.phone, contact.mobile_phone, contact.work_phone):
        keys |= _phone_keys(phone)
    if contact.username:
        keys.add(contact.username.strip().lower())
    return {key[:MAX_KEY] for key in keys if key}


def rebuild_keys(contacts: Iterable[Contact], *, fresh: bool = False) -> int:
    """Replace the search keys of these (saved) contacts of the current firm: a DELETE (skipped
    when ``fresh``: contacts just created) and one INSERT from arrays per 50,000 keys."""
    contacts = list(contacts)
    if not contacts:
        return 0
    if not fresh:
        ContactSearchKey.objects.filter(contact_id__in=[c.pk for c in contacts]).delete()
    ids: list[int] = []
    keys: list[str] = []
    for contact in contacts:
        for key in contact_keys(contact):
            ids.append(contact.pk)
            keys.append(key)
    table = ContactSearchKey._meta.db_table
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 50_000):
            cursor.execute(
                f"INSERT INTO {table} (firm_id, contact_id, key) SELECT %s, unnest(%s::bigint[]), unnest(%s::text[])",
                [require_firm_id(), ids[start : start + 50_000], keys[start : start + 50_000]],
            )
    return len(ids)


def rebuild_keys_bulk(contacts: Iterable[Contact], *, fresh: bool = False) -> int:
    """``rebuild_keys`` for thousands of contacts at once (imports): the same keys, inserted in
    key order (``sorted_keys`` and ``insert_keys``); old keys go with one DELETE per 10,000
    contacts. Reads only ``pk`` and the fields ``contact_keys`` reads, so light stand-ins do."""
    contacts = list(contacts)
    if not fresh:
        table = ContactSearchKey._meta.db_table
        with connection.cursor() as cursor:
            for start in range(0, len(contacts), 10_000):
                cursor.execute(
                    f"DELETE FROM {table} WHERE firm_id = %s AND contact_id = ANY(%s::bigint[])",  # noqa: S608
                    [require_firm_id(), [c.pk for c in contacts[start : start + 10_000]]],
                )
    return insert_keys(sorted_keys(contacts))


def sorted_keys(contacts: Iterable[Contact]) -> list[tuple[str, int]]:
    """Every ``(key, contact id)`` of these contacts, in the order of the index on keys. Pure
    Python (no database), so it can run beside database work."""
    return sorted((key, contact.pk) for contact in contacts for key in contact_keys(contact))


def insert_keys(pairs: list[tuple[str, int]], *, using: str = "default") -> int:
    """Insert ``(key, contact id)`` rows of the current firm, in the order given. In key order the
    index ``(firm_id, key, contact_id)`` fills leaf page after leaf page instead of at a random
    place per row (measured at 1.1M keys: 11 s instead of 21 s). The pairs go by COPY
    (``advisorportal.bulk.stage``) in text built by ``_copy_text``, then one ``INSERT … SELECT``,
    which row-level security checks as any other. Search keys are derived from the audited
    contacts, so they are not audited themselves."""
    if not pairs:
        return 0
    table = ContactSearchKey._meta.db_table
    parts = (_copy_text(pairs[start : start + 100_000]) for start in range(0, len(pairs), 100_000))
    with transaction.atomic(using=using, savepoint=False), connections[using].cursor() as cursor:
        staged = bulk.stage(cursor, [("key", "text"), ("contact_id", "bigint")], parts)
        cursor.execute(
            f"INSERT INTO {table} (firm_id, contact_id, key) SELECT %s, contact_id, key FROM {staged}",  # noqa: S608
            [require_firm_id()],
        )
    return len(pairs)


def _copy_text(pairs: list[tuple[str, int]]) -> str:
    """``(key, contact id)`` rows in COPY's text format, formatted in one join (``write_row`` per
    pair is a Python call and two dumpers each: ~1.5 s per million); backslashes, tabs and line
    breaks escaped, for the rare key (a username) holding one."""
    text = "".join([f"{key}\t{pk}\n" for key, pk in pairs])
    if "\\" in text or "\r" in text or text.count("\t") != len(pairs) or text.count("\n") != len(pairs):
        text = "".join([f"{key.translate(bulk.COPY_ESCAPES)}\t{pk}\n" for key, pk in pairs])
    return text


def query_terms(q: str) -> list[str]:
    """The normalised words of a search box entry (at most 5, the longest first)."""
    q = q.strip().casefold()
    if not q:
        return []
    digits = re.sub(r"\D", "", q)
    if len(digits) >= MIN_PHONE_SUFFIX and re.fullmatch(r"[\d\s()+.\-/]+", q):
        return [digits]
    terms: set[str] = set()
    for part in q.split():
        if "@" in part or ("." in part and WORD.fullmatch(part.replace(".", "").replace("-", ""))):
            terms.add(part)  # an email, or a domain: one key
        else:
            terms |= {_fold(w) for w in WORD.findall(part)}
    return sorted(terms, key=len, reverse=True)[:5]


def prefix_upper_bound(prefix: str) -> str:
    """The smallest string greater than every string starting with ``prefix`` (code-point order)."""
    last = ord(prefix[-1])
    return prefix[:-1] + chr(last + 1) if last < 0x10FFFF else prefix + "\U0010ffff"


def prefix_range(field: str, prefix: str) -> Q:
    return Q(**{f"{field}__gte": prefix, f"{field}__lt": prefix_upper_bound(prefix)})


def search_filter(q: str, *, extra: Any = None) -> Q | None:
    """A filter on contacts matching every word of ``q`` (None for an empty query). ``extra(term)``
    may return more contact-id subqueries for a term (e.g. account numbers), OR-ed with the keys.

    ``id = ANY(ARRAY(<ids matching the first term> INTERSECT <ids matching the next> …))``: the
    matches are gathered first from the key index, then fetched by primary key and sorted. Written
    as ``id IN (…)`` PostgreSQL preferred walking the contacts in the page's order and probing
    each, which is quick when matches are spread evenly but not for a name prefix sorted by name,
    where every match sits at one end ("wa": 91,000 contacts walked, 360 ms). One array per term
    was no better for two terms: PostgreSQL searched the second array item by item for each
    contact of the first ("jo sm": 12,252 x 934 ids, 167 ms; intersected, 7 ms). A query of one
    one-letter word keeps ``IN``: it matches so many contacts that the walk finds a page quickly.
    Account-number matches are a UNION inside a term's set (an OR of two subqueries also forced
    the walk)."""
    terms = query_terms(q)
    if not terms:
        return None
    gathered: list[Any] = []
    for term in terms:
        matched: Any = ContactSearchKey.objects.filter(prefix_range("key", term)).values("contact_id")
        more = extra(term) if extra is not None else None
        if more is not None:
            matched = matched.union(more, all=True)
        gathered.append(matched)
    if len(terms) == 1 and len(terms[0]) == 1:  # a large share of the book, which the walk suits
        return Q(pk__in=gathered[0])
    ids = gathered[0].intersection(*gathered[1:]) if len(gathered) > 1 else gathered[0]
    return Q(InArrayOf(F("pk"), Subquery(ids)))


class InArrayOf(Func):
    """``<value> = ANY(ARRAY(<subquery>))``: the subquery's values gathered first, as an array."""

    arg_joiner = " = ANY(ARRAY"
    template = "%(expressions)s)"
    output_field = BooleanField()
