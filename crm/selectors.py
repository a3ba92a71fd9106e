"""Every read of CRM data, given the user: rows outside the user's scope are never read, counted or
found (``crm.scope.scope_contacts``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import CharField, Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Cast, Coalesce
from django.http import QueryDict
from django.urls import reverse

from accounts import selectors as account_selectors
from accounts.models import AccountScope
from accounts.rights import Right
from accounts.selectors import firm_users, user_grants
from advisorportal.tenancy.context import require_firm_id
from advisorportal.tenancy.pagination import KeysetPage, keyset_page
from crm import search
from crm.cells import COLUMNS, DEFAULT_COLUMNS, Column
from crm.filters import ContactFilter
from crm.models import (
    Activity,
    Contact,
    ContactStatus,
    Group,
    GroupMember,
    Household,
    HouseholdMember,
    SavedView,
    TablePreference,
)
from crm.scope import scope_contacts
from portfolios import selectors as portfolio_selectors

CONTACT_ORDER = ("last_name", "first_name", "id")
# Sort orders of the contacts table; each is an index walk on an index leading with firm_id.
SORTS: dict[str, tuple[str, ...]] = {
    "name": CONTACT_ORDER,
    "-name": ("-last_name", "-first_name", "-id"),
    "status": ("status", "last_name", "first_name", "id"),
    "-status": ("-status", "-last_name", "-first_name", "-id"),
    "email": ("email_key", "id"),
    "-email": ("-email_key", "-id"),
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
    "updated": ("updated_at", "id"),
    "-updated": ("-updated_at", "-id"),
}


def contact_list(
    *, user: Any, q: str = "", filters: Mapping[str, Any] | None = None, request: Any = None
) -> QuerySet[Contact]:
    """The user's contacts matching the search ``q`` and every filter (see ``crm.filters``);
    unordered. Invalid filters raise ``ValidationError`` naming them."""
    contacts = scope_contacts(Contact.objects.all(), user=user)
    condition = search.search_filter(q, extra=portfolio_selectors.owners_of_account_number)
    if condition is not None:
        contacts = contacts.filter(condition)
    if filters:
        filterset = ContactFilter.for_data(filters)(data=filters, queryset=contacts, request=request)
        if not filterset.is_valid():
            raise ValidationError({name: [str(e) for e in errors] for name, errors in filterset.errors.items()})
        contacts = filterset.qs
    return contacts


def contact_page(
    *, user: Any, q: str = "", filters: Mapping[str, Any] | None = None, sort: str = "name", after: str = "",
    size: int = 50, request: Any = None, fields: Sequence[str] = (),
) -> KeysetPage[Contact]:  # fmt: skip
    """One page by keyset (a deep page costs what the first does), with each row's accounts in
    scope and their NAV attached (``row.accounts``, ``row.nav``): one query. With ``fields``, the
    rows load only those fields and the sort keys."""
    keys = SORTS.get(sort, CONTACT_ORDER)
    contacts = portfolio_selectors.with_accounts(
        contact_list(user=user, q=q, filters=filters, request=request), user=user
    )
    if fields:
        contacts = contacts.only(*fields, *(key.lstrip("-") for key in keys))
    return keyset_page(contacts, keys=keys, after=after, size=size)


def contact_get(*, user: Any, pk: Any) -> Contact:
    """One contact in the user's scope (``Contact.DoesNotExist`` for a missing, another firm's or an
    out-of-scope one alike)."""
    try:
        return scope_contacts(Contact.objects.select_related("advisor"), user=user).get(pk=int(pk))
    except (TypeError, ValueError):
        raise Contact.DoesNotExist from None


def contacts_by_ids(*, user: Any, ids: Iterable[Any]) -> list[Contact]:
    """The contacts with these ids that the user may see (others are silently left out)."""
    clean = {int(i) for i in ids if str(i).isdigit()}
    return list(scope_contacts(Contact.objects.filter(pk__in=clean), user=user).order_by(*CONTACT_ORDER))


# Query parameters of a saved view that are not filters (the contacts table's, and its columns).
VIEW_NOT_FILTERS = frozenset({"q", "sort", "after", "size", "view", "columns"})


@dataclass(frozen=True)
class ContactSelection:
    contacts: QuerySet[Contact]  # in the user's scope, ordered by id
    label: str  # for people: "Group “Golfers”", "Saved view “Zeds”", "3 selected contacts"


def contact_selection(
    *, user: Any, contacts: Iterable[Any] = (), group: Any = None, saved_view: Any = None
) -> ContactSelection:
    """The contacts a bulk action names (start a workflow, email them), within the user's scope:
    a group's members, a saved view's results, or the contacts given by id. A group or view the
    user may not use, or any id that is not one of their contacts (missing, another firm's, out of
    scope, not a number) raises ``ObjectDoesNotExist`` (the caller's 404: nothing is done);
    nothing chosen, or a saved view whose filters no longer apply, ``ValidationError``."""
    if group not in (None, ""):
        found = group_get(user=user, pk=int(group))
        members = contact_list(user=user).filter(group_memberships__group=found)
        return ContactSelection(members.order_by("id"), f"Group “{found.name}”")
    if saved_view not in (None, ""):
        view = saved_view_get(user=user, pk=int(saved_view))
        query = QueryDict(view.query)
        filters = QueryDict(mutable=True)
        for key in query:
            values = [v for v in query.getlist(key) if v.strip()]
            if key not in VIEW_NOT_FILTERS and values:
                filters.setlist(key, values)
        try:
            matching = contact_list(user=user, q=query.get("q", ""), filters=filters)
        except ValidationError as error:
            raise ValidationError({"saved_view": f"The saved view “{view.name}” no longer applies: {error}"}) from None
        return ContactSelection(matching.order_by("id"), f"Saved view “{view.name}”")
    wanted = {str(v).strip() for v in contacts if str(v).strip()}
    if not wanted:
        raise ValidationError({"contacts": "Choose a group or a saved view (or select contacts)."})
    if not all(v.isdigit() for v in wanted):
        raise Contact.DoesNotExist
    chosen = scope_contacts(Contact.objects.filter(pk__in={int(v) for v in wanted}), user=user)
    if chosen.count() != len(wanted):
        raise Contact.DoesNotExist
    n = len(wanted)
    return ContactSelection(chosen.order_by("id"), f"{n:,} selected contact{'s' if n != 1 else ''}")


def contacts_with_email(*, user: Any, email: str, limit: int = 5) -> list[Contact]:
    """The contacts in the user's scope already holding this email (either address), for the
    warning before another contact is added with it."""
    email = (email or "").strip()
    if not email:
        return []
    same = Q(email__iexact=email) | Q(email_alt__iexact=email)
    return list(scope_contacts(Contact.objects.filter(same), user=user).order_by(*CONTACT_ORDER)[:limit])


def contact_recent(*, user: Any, limit: int = 5) -> list[Contact]:
    return list(scope_contacts(Contact.objects.all(), user=user).order_by("-created_at", "-id")[:limit])


STATUS_COUNTS_TTL = 300


def _contacts_generation_key(firm_id: int) -> str:
    return f"crm:contacts-generation:{firm_id}"


def contacts_changed(*, firm_id: int) -> None:
    """Make cached contact figures of the firm stale (called after every write of contacts)."""
    key = _contacts_generation_key(firm_id)
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=None)


def contacts_generation(*, firm_id: int) -> int:
    """The firm's contacts generation: it changes after every write of a contact, so a cache key
    that carries it goes stale with the data."""
    return int(cache.get_or_set(_contacts_generation_key(firm_id), 1, timeout=None) or 1)


def has_full_scope(user: Any) -> bool:
    """Whether the user's CRM right covers every contact of the firm (figures may be shared)."""
    return _has_full_scope(user)


def _has_full_scope(user: Any) -> bool:
    grant = user_grants(user=user).get(Right.CRM)
    return grant is not None and grant[1] == AccountScope.ALL


def contact_status_counts(*, user: Any) -> list[tuple[str, str, int]]:
    """(status, label, count) for every lifecycle stage in the user's scope, zeros included.

    Counting 100k contacts takes ~25 ms, so a firm-wide count is cached per firm until the next
    write of a contact (or five minutes). A restricted scope is counted each time (it is small).
    """
    contacts = scope_contacts(Contact.objects.all(), user=user)
    if _has_full_scope(user):
        firm_id = require_firm_id()
        key = f"crm:status-counts:{firm_id}:{contacts_generation(firm_id=firm_id)}"
        found = cache.get(key)
        if found is None:
            found = dict(contacts.values_list("status").annotate(n=Count("*")).order_by())
            cache.set(key, found, timeout=STATUS_COUNTS_TTL)
    else:
        found = dict(contacts.values_list("status").annotate(n=Count("*")).order_by())
    return [(status.value, status.label, found.get(status.value, 0)) for status in ContactStatus]


def _toolbar_generation_key(firm_id: int) -> str:
    return f"crm:toolbar-generation:{firm_id}"


def toolbars_changed(*, firm_id: int) -> None:
    """Make cached toolbars (columns, saved views, groups) of the firm's users stale."""
    key = _toolbar_generation_key(firm_id)
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=None)


def toolbar(*, user: Any) -> dict[str, Any]:
    """What the contacts page's toolbars show the user: their columns (keys), the saved views they
    may open, the groups they may add contacts to, the firm's people (the advisor filter, and the
    agenda's task assignees). Cached per user until any of these changes in the firm (signals bump
    a generation), so the page costs no queries for them."""
    firm_id = require_firm_id()
    generation = cache.get_or_set(_toolbar_generation_key(firm_id), 1, timeout=None)
    key = f"crm:toolbar:{firm_id}:{generation}:{user.pk}"
    found = cache.get(key)
    if found is None:
        found = {
            "columns": [c.key for c in table_columns(user=user)],
            "saved_views": [
                {
                    "pk": v.pk,
                    "name": v.name,
                    "is_shared": v.is_shared,
                    "owner_id": v.owner_id,
                    "owner": {"full_name": v.owner.full_name},
                }
                for v in saved_views(user=user)
            ],
            "groups": [{"pk": pk, "name": name} for pk, name in group_list(user=user).values_list("pk", "name")],
            # The advisor filter's choices: the people of the user's own firm, by name.
            "advisors": [
                {"pk": pk, "name": name} for pk, name in firm_users(firm_id=firm_id).values_list("pk", "full_name")
            ],
            # Whom a task can be given to (the agenda's task forms): the firm's active people.
            "assignees": [
                {"pk": pk, "full_name": name, "email": email}
                for pk, name, email in firm_users(firm_id=firm_id)
                .filter(is_active=True)
                .values_list("pk", "full_name", "email")
            ],
        }
        cache.set(key, found, timeout=STATUS_COUNTS_TTL)
    return found


def table_columns(*, user: Any) -> list[Column]:
    chosen = TablePreference.objects.filter(user=user).values_list("columns", flat=True).first()
    return [COLUMNS[key] for key in (chosen or DEFAULT_COLUMNS) if key in COLUMNS]


def saved_views(*, user: Any) -> list[SavedView]:
    """The user's own views and those others shared."""
    return list(
        SavedView.objects.filter(Q(owner=user) | Q(is_shared=True)).select_related("owner").order_by("name", "id")
    )


def saved_view_get(*, user: Any, pk: Any) -> SavedView:
    return SavedView.objects.filter(Q(owner=user) | Q(is_shared=True)).get(pk=pk)


def timeline(*, contact: Contact, limit: int = 50) -> list[Activity]:
    return list(
        Activity.objects.filter(contact=contact).select_related("actor").order_by("-occurred_at", "-id")[:limit]
    )


# --- Households --------------------------------------------------------------------------------


def household_list(*, user: Any) -> QuerySet[Household]:
    """Households with at least one member in the user's scope, with member count, number of
    accounts and AUM (NAV total) of their accounts in the user's account scope."""
    members_in_scope = scope_contacts(HouseholdMember.objects.all(), user=user, contact_field="contact")
    totals = portfolio_selectors.household_account_totals(user=user, household=OuterRef("pk"))
    return (
        Household.objects.filter(pk__in=members_in_scope.values("household_id"))
        .select_related("head")
        .annotate(
            member_count=Count("householdmember"),
            account_count=Coalesce(Subquery(totals.values("n")[:1]), 0),
            aum=Subquery(totals.values("aum")[:1]),
        )
        .order_by("name", "id")
    )


def household_get(*, user: Any, pk: Any) -> Household:
    return household_list(user=user).get(pk=pk)


def household_name(*, user: Any, pk: int) -> str | None:
    """The name of a household with a member in the user's scope (the contacts page names the
    household it filters by), in one query without ``household_list``'s totals; else ``None``."""
    members_in_scope = scope_contacts(HouseholdMember.objects.all(), user=user, contact_field="contact")
    found = Household.objects.filter(pk=pk, pk__in=members_in_scope.values("household_id"))
    return found.values_list("name", flat=True).first()


def household_members(*, user: Any, household: Household) -> list[Contact]:
    members = Contact.objects.filter(householdmember__household=household)
    return list(scope_contacts(members, user=user).order_by(*CONTACT_ORDER))


def households_for_scope_choice(*, ids: Iterable[int] | None = None) -> QuerySet[Household]:
    """Every household of the firm, for a security officer choosing a user's scope."""
    households = Household.objects.order_by("name", "id")
    return households.filter(pk__in=list(ids)) if ids is not None else households


# --- Groups ------------------------------------------------------------------------------------


def group_list(*, user: Any) -> QuerySet[Group]:
    """The firm's public groups and the user's private ones, with the number of members the user
    may see."""
    visible_members = scope_contacts(
        GroupMember.objects.filter(group=OuterRef("pk")), user=user, contact_field="contact"
    )
    counted = visible_members.order_by().values("group").annotate(n=Count("*")).values("n")[:1]
    return (
        Group.objects.filter(Q(is_private=False) | Q(owner=user))
        .select_related("owner")
        .annotate(member_count=Coalesce(Subquery(counted), 0))
        .order_by("name", "id")
    )


def group_get(*, user: Any, pk: Any) -> Group:
    return group_list(user=user).get(pk=pk)


def groups_for_scope_choice(*, ids: Iterable[int] | None = None) -> QuerySet[Group]:
    """The firm's public groups, for a security officer choosing a user's scope."""
    groups = Group.objects.filter(is_private=False).order_by("name", "id")
    return groups.filter(pk__in=list(ids)) if ids is not None else groups


def contact_group_choices(*, user: Any, contact: Contact) -> list[Group]:
    """The groups the user may use (public and their own private ones), each with ``is_member``
    for this contact: one query, no member counts (a 25,000-member group took 15 ms to count)."""
    membership = GroupMember.objects.filter(group=OuterRef("pk"), contact=contact)
    groups = Group.objects.filter(Q(is_private=False) | Q(owner=user)).annotate(is_member=Exists(membership))
    return list(groups.order_by("name", "id"))


def contact_households(*, contact: Contact) -> list[Household]:
    """The households of a contact the user can see (so they are the user's too: a household
    with a member in scope is visible)."""
    return list(Household.objects.filter(householdmember__contact=contact).order_by("name", "id"))


def profile_changes(*, user: Any, since: Any, limit: int = 50) -> list[portfolio_selectors.Activity]:
    """Contacts in the user's CRM scope whose profile was changed since ``since``, newest first,
    naming the fields that changed (from the audit trail; two queries)."""
    ids = scope_contacts(Contact.objects.all(), user=user).annotate(text_id=Cast("pk", CharField())).values("text_id")
    entries = account_selectors.recent_changes(
        object_type=Contact._meta.label_lower, object_ids=ids, since=since, limit=limit
    )
    labels = {
        f.attname: str(f.verbose_name)
        for f in Contact._meta.concrete_fields
        if f.editable and not f.generated and f.attname not in {"created_at", "updated_at"}
    }
    rows = []
    for entry in entries:
        fields = [labels.get(name, name).capitalize() for name in entry.changes if name in labels]
        what = "Profile changed" + (f": {', '.join(fields[:4])}{' …' if len(fields) > 4 else ''}" if fields else "")
        rows.append(
            portfolio_selectors.Activity(
                entry.created_at, entry.object_repr, "", reverse("crm:contact-detail", args=[int(entry.object_id)]),
                entry.actor.full_name if entry.actor else "", what,
            )
        )  # fmt: skip
    return rows
