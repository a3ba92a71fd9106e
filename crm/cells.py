"""The contacts table: its columns, each defined once (``COLUMNS``), and its rows, rendered in
Python: a template ``{% include %}`` per cell cost about
5 ms per 50-row page (350 includes), and ``format_html``/``reverse`` per cell another 3 ms, more
than the page's SQL. Every value goes through ``escape``; the markup around it is fixed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils.safestring import mark_safe

from advisorportal.cells import escape
from advisorportal.formats import amount, day
from crm.models import Contact

DASH = "—"


def _text(value: Any) -> str:
    return escape(value) if value else DASH


def _date(value: Any) -> str:
    return day(value) if value else DASH


def _tags(c: Contact) -> str:
    return " ".join(f'<span class="tag">{escape(t)}</span>' for t in c.tags) if c.tags else DASH


def _name(c: Contact) -> str:
    return escape(c.last_name if c.kind == "entity" else f"{c.last_name}, {c.first_name}")


def _nav(c: Contact) -> str:
    nav = getattr(c, "nav", None)
    return DASH if nav is None else amount(nav)


def _labels(field: str) -> Callable[[Contact], str]:
    """The display label of a choice field (``get_FOO_display`` rebuilds its choices dict per call)."""
    labels = {value: escape(label) for value, label in Contact._meta.get_field(field).flatchoices}  # type: ignore[union-attr]
    return lambda c: labels.get(getattr(c, field), "") or DASH


@dataclass(frozen=True)
class Column:
    """A column of the contacts table, defined once: its label, how a cell is rendered, the model
    fields the cell reads (the page loads only those: a row has 60-odd columns) and the sort it
    offers (a key of ``crm.selectors.SORTS``)."""

    key: str
    label: str
    cell: Callable[[Contact], str]
    fields: tuple[str, ...] = ()
    sort: str = ""
    numeric: bool = False


# Columns a user may show in the contacts table, in the default order.
COLUMNS: dict[str, Column] = {
    c.key: c
    for c in (
        Column("name", "Contact", _name, sort="name"),
        Column("kind", "Type", _labels("kind")),
        Column("account_type", "Account type", _labels("prospect_account_type"), ("prospect_account_type",)),
        Column("accounts", "Account number", lambda c: escape(", ".join(getattr(c, "accounts", None) or [])) or DASH),
        Column("status", "Status", _labels("status"), ("status",), sort="status"),
        Column("username", "Username", lambda c: _text(c.username), ("username",)),
        Column("email", "Email address", lambda c: _text(c.email), ("email",), sort="email"),
        Column("phone", "Phone number", lambda c: _text(c.phone or c.mobile_phone), ("phone", "mobile_phone")),
        Column("nav", "Net asset value", _nav, numeric=True),
        Column("city", "City", lambda c: _text(c.res_city), ("res_city",)),
        Column("country", "Country", lambda c: _text(c.res_country), ("res_country",)),
        Column("risk", "Risk tolerance", _labels("risk_tolerance"), ("risk_tolerance",)),
        Column("priority", "Priority", _labels("priority"), ("priority",)),
        Column("tags", "Tags", _tags, ("tags",)),
        Column("next_review", "Next review", lambda c: _date(c.next_review), ("next_review",)),
        Column("created", "Created", lambda c: _date(c.created_at), ("created_at",), sort="created"),
        Column("updated", "Updated", lambda c: _date(c.updated_at), ("updated_at",), sort="updated"),
    )
}  # fmt: skip
DEFAULT_COLUMNS = ["name", "kind", "accounts", "status", "email", "phone", "nav"]
ALWAYS = ("id", "firm_id", "kind", "first_name", "middle_name", "last_name", "suffix")


def fields_for(keys: Iterable[str]) -> list[str]:
    """The contact fields that rows with these columns read (``display_name`` needs the names)."""
    wanted = dict.fromkeys(ALWAYS)
    for key in keys:
        wanted.update(dict.fromkeys(COLUMNS[key].fields))
    return list(wanted)


def render_rows(rows: Iterable[Contact], keys: list[str]) -> None:
    """Set ``row.html`` to the row's ``<td>`` elements: the selection box, then the chosen columns."""
    detail = reverse("crm:contact-list")
    columns = [COLUMNS[key] for key in keys]
    for row in rows:
        name = escape(row.display_name)
        cells = [f'<td><input type="checkbox" name="ids" value="{row.pk}" aria-label="Select {name}"></td>']
        for column in columns:
            value = column.cell(row)
            if column.key == "name":  # the link to the record
                cells.append(f'<td><a href="{detail}{row.pk}/">{value}</a></td>')
            elif column.numeric:
                cells.append(f'<td class="num">{value}</td>')
            else:
                cells.append(f"<td>{value}</td>")
        row.html = mark_safe("".join(cells))  # type: ignore[attr-defined]  # noqa: S308 - every value escaped above
