"""Demo contacts: realistic, reproducible from a seed, bulk-inserted (100k in well under a minute).

From ``BULK_CONTACTS`` contacts up, the search keys (a dozen rows per contact) are loaded after the
contacts commit, on the owner connection with their foreign keys checked once at the end: checked
row by row at COMMIT they took minutes.

Tax ids are left empty in the demo (sealing 100k of them would cost seconds and prove nothing);
tests cover them.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import connections, transaction

from advisorportal.bulk import Audit, copy_insert, foreign_keys_checked_at_end
from crm import search
from crm.models import (
    Contact,
    ContactSearchKey,
    EmploymentStatus,
    Group,
    GroupMember,
    Household,
    HouseholdMember,
    InvestmentObjective,
    MarketingSource,
    Priority,
    ProspectAccountType,
    RiskTolerance,
    SourceOfFunds,
    TimeHorizon,
    TradingPermission,
)
from crm.selectors import contacts_changed
from devtools.demo.accounts import people

BATCH = 5000
BULK_CONTACTS = 10_000
PLACES = (
    ("Boston", "MA", "02108", "US"),
    ("New York", "NY", "10001", "US"),
    ("San Francisco", "CA", "94105", "US"),
    ("Chicago", "IL", "60601", "US"),
    ("Austin", "TX", "73301", "US"),
    ("Seattle", "WA", "98101", "US"),
    ("Miami", "FL", "33101", "US"),
    ("Denver", "CO", "80202", "US"),
    ("Toronto", "ON", "M5H 2N2", "CA"),
    ("London", "", "EC2V 7HH", "GB"),
    ("Zürich", "ZH", "8001", "CH"),
    ("München", "BY", "80331", "DE"),
)
TAGS = ("newsletter", "retiree", "referral-source", "esg", "high-touch", "estate-planning", "small-business")
OCCUPATIONS = (
    "Engineer",
    "Physician",
    "Attorney",
    "Teacher",
    "Consultant",
    "Business owner",
    "Architect",
    "Pharmacist",
)
EMPLOYERS = ("Acme Corp", "Globex", "Initech", "Umbrella Health", "Stark Industries", "Wayne Enterprises", "Self")
GROUPS = (
    ("Top clients", "Largest relationships"),
    ("Newsletter", "Monthly market letter"),
    ("Seminar 2026", "Spring retirement seminar"),
)


def _choice(rng: random.Random, values: Any, empty: float = 0.2) -> str:
    return "" if rng.random() < empty else str(rng.choice(values))


def _amount(rng: random.Random, low: int, high: int) -> Decimal | None:
    return None if rng.random() < 0.25 else Decimal(round(rng.uniform(low, high), -3)).quantize(Decimal("1.00"))


def seed_contacts(*, firm: Any, count: int, seed: int, owner: Any) -> list[Group]:
    """``count`` contacts with most profile fields filled, their search keys, households (a third of
    active clients share one) and three public groups owned by ``owner``."""
    if count < BULK_CONTACTS:
        with transaction.atomic():
            _seed_contacts(firm, count, seed, keys=None)
            return _seed_relations(firm, owner)
    keys: list[tuple[str, int]] = []
    with transaction.atomic():
        _seed_contacts(firm, count, seed, keys=keys)
    # Statistics first: a foreign-key check is a cached generic plan, and on a table never analysed
    # it picked an index on firm_id alone and scanned every contact per check (about 5 ms a row).
    _analyze([Contact])
    with transaction.atomic():
        groups = _seed_relations(firm, owner)
    _load_keys(firm.pk, keys)
    _analyze([ContactSearchKey, Household, HouseholdMember, GroupMember])
    return groups


def _analyze(models: list[type[Any]]) -> None:
    with connections["owner"].cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {model._meta.db_table}")


def _load_keys(firm_id: int, keys: list[tuple[str, int]]) -> None:
    """Search keys of committed contacts, on the owner connection, with the table's foreign keys
    added back (checked by one join) at the end."""
    with transaction.atomic(using="owner"), connections["owner"].cursor() as cursor:
        cursor.execute("SELECT set_config('app.firm_id', %s, true)", [str(firm_id)])
        with foreign_keys_checked_at_end(cursor, [ContactSearchKey]):
            search.insert_keys(sorted(keys), using="owner")


def _seed_contacts(firm: Any, count: int, seed: int, *, keys: list[tuple[str, int]] | None) -> None:
    """The contacts of ``seed_contacts``; their search keys are written here when ``keys`` is None,
    else collected into it."""

    def save(batch: list[Contact]) -> None:
        copy_insert(batch, audit=Audit("Demo contacts generated"))
        if keys is None:
            search.rebuild_keys(batch, fresh=True)
        else:
            keys.extend(search.sorted_keys(batch))

    values = {
        choices: list(choices.values)
        for choices in (
            EmploymentStatus,
            SourceOfFunds,
            InvestmentObjective,
            TimeHorizon,
            RiskTolerance,
            TradingPermission,
            ProspectAccountType,
            Priority,
            MarketingSource,
        )
    }  # each .values builds a list
    rng = random.Random(seed * 7 + 1)
    today = date(2026, 11, 1)
    batch: list[Contact] = []
    for person in people(seed, count):
        city, state, postal, country = rng.choice(PLACES)
        is_active = person.status == "active"
        batch.append(
            Contact(
                firm=firm,
                first_name=person.first_name,
                last_name=person.last_name,
                email=person.email,
                phone=person.phone,
                status=person.status,
                mobile_phone=f"+1 {rng.randint(201, 989)} 555 {rng.randint(0, 9999):04d}" if rng.random() < 0.4 else "",
                date_of_birth=None if rng.random() < 0.3 else today - timedelta(days=rng.randint(22 * 365, 88 * 365)),
                res_street=f"{rng.randint(1, 999)} {rng.choice(('Main', 'Oak', 'Harbor', 'Summit', 'Elm'))} St",
                res_city=city,
                res_state=state,
                res_postal_code=postal,
                res_country=country,
                citizenship=country,
                tax_country=country,
                employment_status=_choice(rng, values[EmploymentStatus], 0.2),
                employer=_choice(rng, EMPLOYERS, 0.4),
                occupation=_choice(rng, OCCUPATIONS, 0.4),
                annual_income=_amount(rng, 40_000, 900_000),
                net_worth=_amount(rng, 50_000, 20_000_000),
                source_of_funds=_choice(rng, values[SourceOfFunds], 0.3),
                investment_objectives=rng.sample(values[InvestmentObjective], rng.randint(0, 2)),
                time_horizon=_choice(rng, values[TimeHorizon]),
                risk_tolerance=_choice(rng, values[RiskTolerance]),
                trading_permissions=rng.sample(values[TradingPermission], rng.randint(0, 3)),
                prospect_account_type=_choice(rng, values[ProspectAccountType], 0.3),
                priority=rng.choice(values[Priority]),
                marketing_source=_choice(rng, values[MarketingSource], 0.3),
                tags=rng.sample(TAGS, rng.choice((0, 0, 1, 2))),
                client_since=today - timedelta(days=rng.randint(30, 3650)) if is_active else None,
                next_review=today + timedelta(days=rng.randint(1, 365)) if is_active and rng.random() < 0.6 else None,
            )
        )
        if len(batch) >= BATCH:
            save(batch)
            batch = []
    save(batch)


def _seed_relations(firm: Any, owner: Any) -> list[Group]:
    active = list(Contact.objects.filter(status="active").order_by("id").values_list("pk", "last_name"))
    households, members = [], []
    start = 0
    while start + 1 < len(active):
        size = 2 + (start % 3 == 0)
        family = active[start : start + size]
        household = Household(firm=firm, name=f"{family[0][1]} household", head_id=family[0][0])
        households.append(household)
        members += [HouseholdMember(firm=firm, household=household, contact_id=pk) for pk, _ in family]
        start += size * 3
    Household.objects.bulk_create(households, batch_size=BATCH)
    HouseholdMember.objects.bulk_create(members, batch_size=BATCH)

    groups = [Group.objects.create(firm=firm, name=name, description=text, owner=owner) for name, text in GROUPS]
    ids = [pk for pk, _ in active]
    # Top clients: every 25th active client; newsletter: every 4th contact; seminar: 40 prospects.
    chosen = {
        groups[0]: ids[::25],
        groups[1]: list(Contact.objects.order_by("id").values_list("pk", flat=True)[::4]),
        groups[2]: list(Contact.objects.filter(status="prospect").order_by("id").values_list("pk", flat=True)[:40]),
    }
    GroupMember.objects.bulk_create(
        [GroupMember(firm=firm, group=g, contact_id=pk) for g, pks in chosen.items() for pk in pks], batch_size=BATCH
    )
    transaction.on_commit(lambda: contacts_changed(firm_id=firm.pk))  # bulk_create sends no signals
    return groups
