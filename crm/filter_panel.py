"""The contacts page's Filters panel and its list of active filters (issue #13, point 3).

The panel groups ``ContactFilter``'s filters in fieldsets a person would look for (``GROUPS``),
draws a multiple choice as a list of checkboxes that shows every option, a range as one row "from
… to …", and is rendered once per query string for every firm (``crm.views._filter_grid``), so
nothing here may depend on the firm. The filters whose choices do (advisor, group, household) are
drawn by the page itself (``PER_FIRM``).

The active filters are chips above the results: "Status: Prospect", "Born between 1950-01-01 and
1960-12-31", each a link to the same query without just that filter (the search, sort and page
size stay), plus one to clear them all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import django_filters as df
from django import forms

from crm.filters import ContactFilter
from crm.models import Contact

GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Status and type", ("status", "kind", "priority", "marketing_source", "prospect_account_type")),
    ("Person", ("gender", "marital_status", "citizenship", "language", "organization", "tag")),
    ("Address and tax residence", ("res_city", "res_state", "res_postal_code", "res_country", "tax_country")),
    ("Dates", ("date_of_birth", "created", "client_since", "last_contacted", "next_review")),
    (
        "Employment and money",
        (
            "employment_status",
            "source_of_funds",
            "employer",
            "occupation",
            "annual_income",
            "net_worth",
            "liquid_net_worth",
        ),
    ),
    (
        "Investment profile",
        ("risk_tolerance", "time_horizon", "investment_experience", "investment_objective", "trading_permission"),
    ),
    ("Contact details and accounts", ("has_email", "has_phone", "has_tax_id", "has_account")),
)
# Filters whose choices are the firm's people and the user's groups: the page draws these.
PER_FIRM = ("advisor", "group", "household")
# Their labels on the page, which offers names rather than the ids the API takes.
PER_FIRM_LABELS = {"group": "Group", "household": "Household"}
# Query parameters that are not filters and that removing a filter keeps.
KEPT = ("q", "sort", "size")


@dataclass(frozen=True)
class PanelField:
    field: forms.BoundField
    kind: str  # "checks" (a list of checkboxes), "range" (from … to …) or "single"


class FilterPanelForm(forms.Form):
    """The form of ``ContactFilter`` as the panel draws it: checkboxes for multiple choices, "from"
    and "to" labels on ranges, "Any" as the empty choice. The API's filters are untouched."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.MultipleChoiceField):
                choices: Any = field.choices
                field.widget = forms.CheckboxSelectMultiple(choices=choices)
            elif isinstance(field.widget, forms.MultiWidget):
                field.widget.template_name = "crm/widgets/filter_range.html"
                if not isinstance(field.widget, df.widgets.DateRangeWidget):
                    field.widget.attrs["inputmode"] = "decimal"
            elif isinstance(field, forms.ChoiceField):
                _empty_choice_is_any(field)

    def groups(self) -> list[tuple[str, list[PanelField]]]:
        return [
            (legend, [PanelField(self[name], _kind(self.fields[name])) for name in names if name in self.fields])
            for legend, names in GROUPS
        ]


def _empty_choice_is_any(field: Any) -> None:
    """django-filter's choice fields add the empty choice ("---------") as they list their choices;
    setting the choices again points the widget (a shallow copy of the filter's) at this field."""
    if getattr(field, "empty_label", None) is not None:
        field.empty_label = "Any"
        field.choices = [choice for choice in field.choices if choice[0] != ""]


def _kind(field: forms.Field) -> str:
    if isinstance(field.widget, forms.CheckboxSelectMultiple):
        return "checks"
    return "range" if isinstance(field.widget, forms.MultiWidget) else "single"


class PanelFilter(ContactFilter):
    class Meta(ContactFilter.Meta):
        form = FilterPanelForm


def panel_form(query: Any) -> FilterPanelForm:
    """The panel's form for these filter values (the per-firm filters left to the page)."""
    form = PanelFilter(data=query, queryset=Contact.objects.none()).form
    for name in PER_FIRM:
        form.fields.pop(name, None)
    assert isinstance(form, FilterPanelForm)
    return form


def label(name: str) -> str:
    """A filter's label ("Risk tolerance") for its name or one of its range ends (``net_worth_min``)."""
    if name in PER_FIRM_LABELS:
        return PER_FIRM_LABELS[name]
    found = ContactFilter.base_filters.get(name) or ContactFilter.base_filters.get(_range_of(name) or "")
    return str(found.label) if found is not None else name.replace("_", " ").capitalize()


_RANGE_SUFFIXES = ("_min", "_max", "_after", "_before")


def _range_of(key: str) -> str | None:
    for suffix in _RANGE_SUFFIXES:
        if key.endswith(suffix) and key.removesuffix(suffix) in ContactFilter.base_filters:
            return key.removesuffix(suffix)
    return None


@dataclass(frozen=True)
class Chip:
    text: str
    query: str  # the query string without this filter


def _range_text(label: str, low: str, high: str) -> str:
    if low and high:
        return f"{label} {low} and {high}" if label.endswith(" between") else f"{label}: {low} to {high}"
    short = label.removesuffix(" between")
    return f"{short}: from {low}" if low else f"{short}: up to {high}"


def active_filters(
    base: Mapping[str, Any], *, names: Mapping[str, Mapping[str, str]] | None = None
) -> tuple[list[Chip], str]:
    """The chips for the filters in ``base`` (the page's query: search, sort, size and filters, each
    a value or a list of values) and the query that clears every filter. ``names`` gives the
    display name of a value per filter (the advisor's name for an id); choices show their labels."""
    names = names or {}
    kept = {k: v for k, v in base.items() if k in KEPT}

    def without(drop: Sequence[tuple[str, str | None]]) -> str:
        query: dict[str, Any] = {}
        for key, value in base.items():
            values = value if isinstance(value, list) else [value]
            left = [v for v in values if not any(key == k and (d is None or v == d) for k, d in drop)]
            if left:
                query[key] = left
        return urlencode(query, doseq=True)

    chips: list[Chip] = []
    ranges_done: set[str] = set()
    for key, value in base.items():
        if key in KEPT:
            continue
        values = value if isinstance(value, list) else [value]
        range_name = _range_of(key)
        if range_name is not None:
            if range_name in ranges_done:
                continue
            ranges_done.add(range_name)
            flt = ContactFilter.base_filters[range_name]
            low_key, high_key = (
                (f"{range_name}_after", f"{range_name}_before")
                if isinstance(flt, df.DateFromToRangeFilter)
                else (f"{range_name}_min", f"{range_name}_max")
            )
            low, high = _first(base.get(low_key)), _first(base.get(high_key))
            text = _range_text(str(flt.label), low, high)
            chips.append(Chip(text, without([(low_key, None), (high_key, None)])))
            continue
        flt = ContactFilter.base_filters.get(key)
        if flt is None:
            continue  # not a filter: ignored by the filters, so not shown as one
        choices = {str(v): str(lbl) for v, lbl in (flt.extra.get("choices") or ())}
        for v in values:
            # An id (advisor, group, household) shows its name in the user's reach, or "unknown".
            shown = (names[key].get(str(v)) or "unknown") if key in names else (choices.get(str(v)) or str(v))
            chips.append(Chip(f"{label(key)}: {shown}", without([(key, str(v))])))
    return chips, urlencode(kept, doseq=True)


def _first(value: Any) -> str:
    if isinstance(value, list):
        return str(value[0]) if value else ""
    return "" if value is None else str(value)
