"""Demo calendar: events for each demo user from two weeks back to three weeks ahead, a few of
them today, with contacts in each user's scope and colleagues invited. Rebuilt on every run (the
demo's events carry a UID of their own), so "today" is always filled."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

from accounts.models import Firm, User
from crm.agenda.calendar import selectors, services
from crm.agenda.calendar.models import Event, EventAttendee, EventContact
from crm.models import Contact
from crm.scope import scope_contacts

DEMO_UID = "@demo.advisorportal"
MEETINGS = (
    ("Annual review", "Office, meeting room 2", 60, "Performance since last review, risk questionnaire, fee schedule."),
    ("Portfolio check-in", "Phone", 30, "Rebalance proposal and cash needs for the next quarter."),
    ("Onboarding meeting", "Office, meeting room 1", 90, "Account application, ID documents, beneficiaries."),
    ("Retirement planning", "Video call", 60, "RMD estimate, Roth conversion, income plan."),
    ("Estate planning with attorney", "Client's home", 90, "Trust funding and beneficiary designations."),
)
INTERNAL = (
    ("Investment committee", "Board room", 60),
    ("Compliance training", "Video call", 45),
    ("Team stand-up", "Office", 15),
)


def seed_calendar(*, firm: Firm, seed: int, log: Callable[[str], Any] = print) -> int:
    """(Re)build the demo events of ``firm`` (call inside its ``firm_scope``); returns how many."""
    rng = random.Random(seed)
    stale = Event.objects.filter(uid__endswith=DEMO_UID)
    EventContact.objects.filter(event__in=stale).delete()
    EventAttendee.objects.filter(event__in=stale).delete()
    stale.delete()
    users = {u.email.split("@")[0]: u for u in User.objects.filter(email__endswith=f"@{firm.slug}.example")}
    count = 0
    for local in ("owner", "advisor", "assistant"):
        user = users.get(local)
        if user is None:
            continue
        tz = selectors.user_time_zone(user=user)
        today = selectors.today_for_user(user=user)
        contacts = list(scope_contacts(Contact.objects.order_by("id"), user=user)[:60])
        colleagues = [u for name, u in users.items() if name != local and name != "assistant"]
        plan: list[tuple[int, int, int]] = [(0, 9, 30), (0, 11, 0), (0, 15, 0)]  # today, then around it
        plan += [
            (d, rng.choice((9, 10, 11, 14, 15, 16)), rng.choice((0, 30)))
            for d in range(-14, 22)
            if d and rng.random() < 0.45
        ]
        for offset, hour, minute in plan:
            day = today + timedelta(days=offset)
            start = datetime.combine(day, time(hour, minute), tzinfo=tz)
            if contacts and rng.random() < 0.8:
                title, location, minutes, notes = rng.choice(MEETINGS)
                with_contacts = rng.sample(contacts, k=min(len(contacts), rng.choice((1, 1, 2))))
                title = f"{title}: {with_contacts[0].display_name}"
            else:
                title, location, minutes = rng.choice(INTERNAL)
                notes, with_contacts = "", []
            services.event_create(
                actor=user, title=title, start=start, end=start + timedelta(minutes=minutes), location=location,
                description=notes, contacts=with_contacts, reminder_minutes=rng.choice((None, 15, 30, 60, 1440)),
                attendees=rng.sample(colleagues, k=1) if colleagues and rng.random() < 0.3 else [],
                uid=f"demo-{local}-{count}{DEMO_UID}",
            )  # fmt: skip
            count += 1
        quarter_end = today + timedelta(days=rng.randint(3, 12))
        services.event_create(
            actor=user, title="Quarter-end statements due", all_day=True, start=quarter_end, end=quarter_end,
            uid=f"demo-{local}-{count}{DEMO_UID}",
        )  # fmt: skip
        count += 1
    log(f"  calendar: {count} events for {len(users)} users")
    return count
