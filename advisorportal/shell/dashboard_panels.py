"""The panels of the dashboard, registered by the shell over each app's selectors.

Each panel reads only through its app's selectors, which take the user and apply their account
scope. A capability that is not built yet has no panel here: a panel is never a placeholder.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from accounts.policy import has_right
from accounts.rights import Right
from advisorportal.notifications import categories as notification_categories
from advisorportal.notifications import selectors as notification_selectors
from advisorportal.shell import activity
from advisorportal.shell.panels import Panel, register
from advisorportal.shell.pending import pending_items
from crm import selectors as crm_selectors
from crm.agenda import selectors as agenda_selectors
from crm.agenda.calendar import selectors as calendar_selectors
from crm.documents import selectors as document_selectors
from portfolios import aum
from portfolios import selectors as portfolio_selectors

PENDING_DAYS = 10  # as in the seed: items of the last ten days, and whatever is due by today


def _contacts(user: Any) -> dict[str, Any]:
    counts = crm_selectors.contact_status_counts(user=user)
    return {"contact_counts": counts, "contact_total": sum(n for _, _, n in counts)}


def _recent_contacts(user: Any) -> dict[str, Any]:
    return {"recent_contacts": crm_selectors.contact_recent(user=user, limit=5)}


def _assets(user: Any) -> dict[str, Any]:
    return {"assets": portfolio_selectors.assets_in_scope(user=user)}


# The seed's rights table: the AUM chart and the master account balance need Activity Statements
# or PortfolioAnalyst, within the user's account scope for whichever of the two they hold.
STATEMENT_RIGHTS = (Right.ACTIVITY_STATEMENTS, Right.PORTFOLIO_ANALYST)


def _statement_right(user: Any) -> Right:
    return next((right for right in STATEMENT_RIGHTS if has_right(user, right)), STATEMENT_RIGHTS[0])


def _aum(user: Any) -> dict[str, Any]:
    history = aum.history(user=user, right=_statement_right(user))
    return {"aum": history, "chart": aum.chart(history) if history else None}


def _master(user: Any) -> dict[str, Any]:
    return {"masters": list(portfolio_selectors.master_accounts(user=user, right=_statement_right(user)))}


def _pending(user: Any) -> dict[str, Any]:
    since = dt.date.today() - dt.timedelta(days=PENDING_DAYS)
    return {"items": pending_items(user=user, since=since, limit=10), "days": PENDING_DAYS}


def _workflows(user: Any) -> dict[str, Any]:
    return {"workflows": agenda_selectors.workflow_progress(user=user, limit=8)}


def _notes(user: Any) -> dict[str, Any]:
    return {"notes": agenda_selectors.recent_notes(user=user, limit=6)}


def _calendar(user: Any) -> dict[str, Any]:
    day = calendar_selectors.today_for_user(user=user)
    events = calendar_selectors.events_for_user_on(user=user, day=day)
    return {"day": day, "events": events, "tz": calendar_selectors.user_time_zone_name(user=user)}


def _documents(user: Any) -> dict[str, Any]:
    return {"documents": document_selectors.recent_documents(user=user, days=10, limit=8)}


ACTIVITY_COLUMNS = (
    ("date", "Date"),
    ("title", "Item"),
    ("number", "Number"),
    ("user", "By"),
    ("what", "What happened"),
)


def _activity(user: Any, activity_sort: str = "") -> dict[str, Any]:
    """Sorted by ``activity_sort`` (a column, ``-`` first for descending; newest first by default).
    A column's link flips the current order, or starts a new column newest or A to Z first."""
    sort = activity_sort if activity_sort.lstrip("-") in activity.SORTS else "-date"
    key, descending = sort.lstrip("-"), sort.startswith("-")
    columns = []
    for name, label in ACTIVITY_COLUMNS:
        first = f"-{name}" if name == "date" else name  # a new column: dates newest first, text A to Z
        following = (name if descending else f"-{name}") if name == key else first
        columns.append((name, label, following, name == key))
    rows = activity.recent_activity(user=user, sort=sort)
    return {"rows": rows, "days": activity.DAYS, "columns": columns, "descending": descending, "limit": activity.LIMIT}


def _notifications(user: Any) -> dict[str, Any]:
    rows: list[Any] = list(notification_selectors.notifications_for(user=user)[:8])  # each given a label below
    for row in rows:
        row.category_label = notification_categories.label(row.category)
    return {"notifications": rows, "unread": notification_selectors.unread_count(user=user)}


register(Panel("pending", "Pending items", "dashboard/_pending.html", _pending, (Right.CRM,)))
register(
    Panel("activity", "Recent activity", "dashboard/_activity.html", _activity,
          any_of=(Right.ACCOUNT_INFORMATION, Right.CRM), params=("activity_sort",))
)  # fmt: skip
register(Panel("notifications", "Notifications", "dashboard/_notifications.html", _notifications))
register(Panel("calendar", "Today's calendar", "dashboard/_calendar.html", _calendar, (Right.CRM,)))
register(Panel("assets", "Client accounts", "dashboard/_assets.html", _assets, (Right.ACCOUNT_INFORMATION,)))
register(Panel("aum", "Assets under management", "dashboard/_aum.html", _aum, any_of=STATEMENT_RIGHTS))
register(Panel("master", "Master account balance", "dashboard/_master.html", _master, any_of=STATEMENT_RIGHTS))
register(Panel("workflows", "Workflows", "dashboard/_workflows.html", _workflows, (Right.CRM,)))
register(Panel("contacts", "Contacts", "dashboard/_contacts.html", _contacts, (Right.CRM,)))
register(Panel("recent-contacts", "Recently added", "dashboard/_recent_contacts.html", _recent_contacts, (Right.CRM,)))
register(Panel("notes", "Notes", "dashboard/_notes.html", _notes, (Right.CRM,)))
register(Panel("documents", "Documents", "dashboard/_documents.html", _documents, (Right.CRM,)))
