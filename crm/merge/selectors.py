"""Reads for merging: possible duplicates, the contacts of a merge request, merge records; always
within the user's contact scope (``crm.scope.scope_contacts``).

The duplicates finder groups in SQL first — contacts sharing an email (``email_key``), a tax id
(``tax_id_digest``), or a birth date and first initial — so Python only compares the names inside
those small groups. A firm-wide result is cached under the firm's contacts generation (bumped after
every contact write), like the contact status counts.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from django.contrib.postgres.aggregates import ArrayAgg
from django.core.cache import cache
from django.db.models import Count, QuerySet
from django.db.models.functions import Left, Upper

from advisorportal.tenancy.context import require_firm_id
from crm.merge.models import ContactMerge
from crm.merge.services import validate_merge_ids
from crm.models import Contact
from crm.scope import scope_contacts
from crm.selectors import contacts_generation, has_full_scope

NAME_SIMILARITY = 0.85
CLUSTERS_TTL = 600
MAX_CLUSTER = 20  # an email shared by more contacts than this is a shared mailbox, not a duplicate


@dataclass
class DuplicateCluster:
    ids: tuple[int, ...]
    reasons: list[str]
    contacts: list[Contact] = field(default_factory=list)

    @property
    def key(self) -> int:
        return self.ids[0]


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return re.sub(r"[^a-z0-9 ]", "", "".join(c for c in decomposed if not unicodedata.combining(c))).strip()


def names_similar(a: tuple[str, str], b: tuple[str, str]) -> bool:
    """Same last name and first initial, or full names nearly alike (typos, a middle letter)."""
    first_a, last_a = _fold(a[0]), _fold(a[1])
    first_b, last_b = _fold(b[0]), _fold(b[1])
    if last_a and last_a == last_b and first_a[:1] == first_b[:1]:
        return True
    return SequenceMatcher(None, f"{first_a} {last_a}", f"{first_b} {last_b}").ratio() >= NAME_SIMILARITY


class _Clusters:
    """Union-find over contact ids, remembering why each link was made."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}
        self.reasons: dict[int, list[str]] = defaultdict(list)

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def link(self, ids: Sequence[int], reason: str) -> None:
        roots = {self.find(i) for i in ids}
        root = min(roots)
        for other in roots - {root}:
            self.parent[other] = root
            self.reasons[root] += self.reasons.pop(other, [])
        if reason not in self.reasons[root]:
            self.reasons[root].append(reason)

    def result(self) -> list[tuple[tuple[int, ...], list[str]]]:
        members: dict[int, list[int]] = defaultdict(list)
        for x in list(self.parent):
            members[self.find(x)].append(x)
        clusters = [(tuple(sorted(ids)), self.reasons[root]) for root, ids in members.items() if len(ids) > 1]
        return sorted(clusters)


def _compute_clusters(contacts: QuerySet[Contact]) -> list[tuple[tuple[int, ...], list[str]]]:
    found = _Clusters()
    base = contacts.order_by()
    by_email = (
        base.exclude(email_key="")
        .values("email_key")
        .annotate(n=Count("*"), ids=ArrayAgg("id", order_by="id"))
        .filter(n__gt=1, n__lte=MAX_CLUSTER)
        .values_list("email_key", "ids")
    )
    for email, ids in by_email:
        found.link(ids, f"Same email: {email}")
    by_tax_id = (
        base.exclude(tax_id_digest="")
        .values("tax_id_digest")
        .annotate(n=Count("*"), ids=ArrayAgg("id", order_by="id"), last4=ArrayAgg("tax_id_last4"))
        .filter(n__gt=1, n__lte=MAX_CLUSTER)
        .values_list("ids", "last4")
    )
    for ids, last4 in by_tax_id:
        found.link(ids, f"Same tax id (ending {last4[0]})")
    by_birth = (
        base.filter(date_of_birth__isnull=False)
        .annotate(initial=Upper(Left("first_name", 1)))
        .values("date_of_birth", "initial")
        .annotate(
            n=Count("*"),
            ids=ArrayAgg("id", order_by="id"),
            firsts=ArrayAgg("first_name", order_by="id"),
            lasts=ArrayAgg("last_name", order_by="id"),
        )
        .filter(n__gt=1, n__lte=MAX_CLUSTER)
        .values_list("date_of_birth", "ids", "firsts", "lasts")
    )
    for born, ids, firsts, lasts in by_birth:
        assert born is not None  # grouped by a birth date that is set
        names = list(zip(firsts, lasts, strict=True))
        for i in range(len(ids)):
            for j in range(i + 1, len(ids)):
                if names_similar(names[i], names[j]):
                    found.link((ids[i], ids[j]), f"Similar name, same birth date ({born.isoformat()})")
    return found.result()


def duplicate_clusters(*, user: Any) -> list[tuple[tuple[int, ...], list[str]]]:
    """Every cluster of possible duplicates in the user's scope, as (ids, reasons), by first id."""
    contacts = scope_contacts(Contact.objects.all(), user=user)
    if not has_full_scope(user):
        return _compute_clusters(contacts)
    firm_id = require_firm_id()
    key = f"contact_merge:clusters:{firm_id}:{contacts_generation(firm_id=firm_id)}"
    found = cache.get(key)
    if found is None:
        found = _compute_clusters(contacts)
        cache.set(key, found, timeout=CLUSTERS_TTL)
    return [(tuple(ids), list(reasons)) for ids, reasons in found]


@dataclass(frozen=True)
class ClusterPage:
    clusters: list[DuplicateCluster]
    next_cursor: str | None


def duplicate_page(*, user: Any, after: str = "", size: int = 25) -> ClusterPage:
    """One page of clusters after the cluster whose first id is ``after``, with their contacts
    (one more query, however many clusters)."""
    start = int(after) if after.isdigit() else 0
    remaining = [c for c in duplicate_clusters(user=user) if c[0][0] > start]
    page = [DuplicateCluster(ids=ids, reasons=reasons) for ids, reasons in remaining[:size]]
    wanted = {i for cluster in page for i in cluster.ids}
    contacts = {c.pk: c for c in scope_contacts(Contact.objects.filter(pk__in=wanted), user=user)}
    for cluster in page:
        cluster.contacts = [contacts[i] for i in cluster.ids if i in contacts]
    next_cursor = str(page[-1].key) if len(remaining) > size else None
    return ClusterPage(clusters=[c for c in page if len(c.contacts) > 1], next_cursor=next_cursor)


def merge_candidates(*, user: Any, ids: Iterable[Any]) -> list[Contact]:
    """The contacts of a merge request, in the order given. ``ValidationError`` for a malformed
    request (one id, the same id twice, more than three); ``Contact.DoesNotExist`` when any is
    missing, another firm's or outside the user's scope (all the same 404)."""
    clean = validate_merge_ids(list(ids))
    found = {c.pk: c for c in scope_contacts(Contact.objects.filter(pk__in=clean), user=user).select_related("advisor")}
    if len(found) != len(clean):
        raise Contact.DoesNotExist
    return [found[i] for i in clean]


def parse_ids(raw: Iterable[str]) -> list[str]:
    """``?ids=1,2`` and ``?ids=1&ids=2`` alike."""
    return [part.strip() for value in raw for part in value.split(",") if part.strip()]


def merge_list(*, user: Any) -> QuerySet[ContactMerge]:
    """Merges whose survivor is in the user's scope (merges whose survivor was deleted since: for
    users who see every contact), newest first."""
    merges = ContactMerge.objects.select_related("actor", "undone_by", "survivor")
    return scope_contacts(merges, user=user, contact_field="survivor").order_by("-created_at", "-id")


def merge_get(*, user: Any, pk: Any) -> ContactMerge:
    try:
        return merge_list(user=user).get(pk=int(pk))
    except (TypeError, ValueError):
        raise ContactMerge.DoesNotExist from None
