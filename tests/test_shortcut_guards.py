"""Guards for the speed shortcuts: one definition per contacts column, filter forms cached per
process only while they hold nothing of a firm, every Python-rendered cell escaped."""

from __future__ import annotations

import ast
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import django_filters as df
import pytest
from django import forms
from django.core.exceptions import ImproperlyConfigured
from django.urls import get_resolver

from advisorportal import cached_forms
from crm import cells as crm_cells
from crm.filters import ContactFilter
from crm.models import Contact, Group, Household, TablePreference
from crm.selectors import SORTS
from portfolios import cells as portfolio_cells
from portfolios.models import ClientAccount, Security, Transaction
from portfolios.selectors import PositionRow
from tests.conftest import Persona
from tests.factories import HouseholdFactory
from tests.factories_portfolios import ClientAccountFactory

ROOT = Path(__file__).resolve().parent.parent

# --- One definition per column -----------------------------------------------------------------


def test_each_contacts_column_is_defined_once_with_what_it_needs() -> None:
    contact_fields = {f.name for f in Contact._meta.get_fields()}
    for key, column in crm_cells.COLUMNS.items():
        assert column.key == key and column.label
        assert set(column.fields) <= contact_fields, key
        assert not column.sort or column.sort in SORTS, key
    assert set(crm_cells.DEFAULT_COLUMNS) <= set(crm_cells.COLUMNS)


# --- Filter forms cached per process -----------------------------------------------------------

QUERIES = ["", "status=active&kind=individual", "date_from=2025-01-01&kind=buy&text=x", "net_worth_min=oops"]


@pytest.mark.django_db
def test_cached_forms_hold_nothing_of_a_firm(alice: Persona, charlie: Persona) -> None:
    """Each form cached per process has no choices from the database, and renders the same for two
    firms whose data differ (groups, households, accounts)."""
    assert get_resolver().url_patterns  # imports every view module, so every cached form is registered
    assert {name.rsplit(".", 1)[-1] for name in cached_forms.CACHED_FORMS} >= {"_filter_grid", "_transaction_filters"}
    with alice.scope():
        Group.objects.create(name="Alpha golfers", owner=alice.user)
        HouseholdFactory(name="Alpha household")
        ClientAccountFactory(number="U1111111", title="Alpha account")
    for name, (build, render) in cached_forms.CACHED_FORMS.items():
        for query in QUERIES:
            assert cached_forms.firm_specific_fields(build(query)) == [], name
            with alice.scope():
                as_alice = cached_forms.uncached(render)(query)
            with charlie.scope():
                as_charlie = cached_forms.uncached(render)(query)
            assert as_alice == as_charlie, name
            assert "Alpha" not in as_alice


class _GroupFilter(ContactFilter):
    in_group = df.ModelChoiceFilter(queryset=Group.objects.all(), label="Group")


class _AdvisorForm(forms.Form):
    advisor = forms.ChoiceField(choices=lambda: [("1", "Alice")])


@pytest.mark.parametrize(
    "build",
    [
        lambda query: _GroupFilter(data={}, queryset=Contact.objects.none()).form,
        lambda query: _AdvisorForm(),
    ],
    ids=["queryset", "callable-choices"],
)
def test_the_cache_refuses_a_form_with_firm_specific_choices(build: Any) -> None:
    assert cached_forms.firm_specific_fields(build("")) in (["in_group"], ["advisor"])
    render = cached_forms.rendered_once("crm/_filter_grid.html", maxsize=1)(build)
    try:
        with pytest.raises(ImproperlyConfigured, match="differs between firms"):
            render("")
    finally:
        cached_forms.CACHED_FORMS.pop(f"{build.__module__}.{build.__qualname__}")


def _cached_renderers() -> list[str]:
    """Functions of the product under a cache decorator that render a template."""
    found = []
    for package in ("accounts", "advisorportal", "crm", "portfolios", "funding", "billing", "reports", "onboarding"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts or path == ROOT / "advisorportal" / "cached_forms.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.FunctionDef):
                    continue
                decorators = {ast.unparse(d).split("(")[0].rsplit(".", 1)[-1] for d in node.decorator_list}
                calls = {ast.unparse(c.func).rsplit(".", 1)[-1] for c in ast.walk(node) if isinstance(c, ast.Call)}
                if decorators & {"lru_cache", "cache"} and calls & {"render_to_string", "render"}:
                    found.append(f"{path.relative_to(ROOT)}:{node.name}")
    return found


def test_rendered_html_is_cached_only_through_the_guarded_decorator() -> None:
    assert _cached_renderers() == [], "cache rendered forms with advisorportal.cached_forms.rendered_once"


# --- Escaping of the Python-rendered cells -----------------------------------------------------

PAYLOAD = "<script>alert(1)</script>\"'&<b onmouseover='x'>"
ALLOWED_TAGS = {"table", "tr", "td", "th", "a", "span", "input"}


class _Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parsed(html: str) -> _Markup:
    markup = _Markup()
    markup.feed(f"<table><tr>{html}</tr></table>")
    markup.close()
    return markup


def _assert_escaped(html: str, *, shown: int) -> None:
    """Only the fixed markup's own tags and attributes; the payload shown as text ``shown`` times."""
    markup = _parsed(html)
    assert {tag for tag, _ in markup.tags} <= ALLOWED_TAGS, html
    for _, attrs in markup.tags:
        assert "onmouseover" not in attrs, html
        assert all(value is None or "<" not in value or value.endswith(PAYLOAD) for value in attrs.values())
    assert "".join(markup.text).count(PAYLOAD) >= shown, html


def _hostile_contact(pk: int = 1) -> Contact:
    choice = "<i>\"'&"
    contact = Contact(
        pk=pk, kind=choice, first_name=PAYLOAD, last_name=PAYLOAD, username=PAYLOAD, email=PAYLOAD, phone=PAYLOAD,
        res_city=PAYLOAD, res_country=PAYLOAD, tags=[PAYLOAD, PAYLOAD], status=choice, risk_tolerance=choice,
        priority=choice, prospect_account_type=choice, next_review=date(2026, 1, 2),
    )  # fmt: skip
    contact.accounts = [PAYLOAD]  # type: ignore[attr-defined]
    contact.nav = Decimal("1234.5")  # type: ignore[attr-defined]
    return contact


@pytest.mark.parametrize("key", list(crm_cells.COLUMNS))
def test_every_contacts_cell_escapes_what_it_shows(key: str) -> None:
    contact = _hostile_contact()
    crm_cells.render_rows([contact], [key])
    html = contact.html  # type: ignore[attr-defined]
    assert "<i>" not in html and "<script>" not in html
    text_columns = {"name", "username", "email", "phone", "city", "country", "accounts"}
    _assert_escaped(html, shown=1 if key in text_columns else 0)


def test_every_portfolio_cell_escapes_what_it_shows() -> None:
    household = Household(pk=7, name=PAYLOAD)
    account = ClientAccount(
        pk=3, number=PAYLOAD, title=PAYLOAD, account_type="<i>", status="<i>", base_currency=PAYLOAD,
        household=household, is_master=True, inception_date=date(2026, 1, 2), nav=Decimal("10"),
    )  # fmt: skip
    portfolio_cells.render_rows([account], ordering=PAYLOAD)
    _assert_escaped(account.html, shown=4)  # type: ignore[attr-defined]
    tx = Transaction(
        kind="<i>", security=Security(pk=5, symbol=PAYLOAD), quantity=Decimal("1"), price=Decimal("2"),
        amount=Decimal("-2"), currency=PAYLOAD, realized_gain=Decimal("0"), description=PAYLOAD,
        trade_date=date(2026, 1, 2),
    )  # fmt: skip
    portfolio_cells.render_transactions([tx])
    _assert_escaped(tx.html, shown=3)  # type: ignore[attr-defined]
    [position] = portfolio_cells.render_positions([
        PositionRow(symbol=PAYLOAD, name=PAYLOAD, asset_class=PAYLOAD, currency=PAYLOAD, quantity=Decimal("1"),
                    cost_basis=Decimal("1"), realized_gain=Decimal("0"), price=None, price_date=None),
    ])  # fmt: skip
    _assert_escaped(position, shown=4)


@pytest.mark.django_db
def test_pages_with_hostile_values_show_them_as_text(alice: Persona) -> None:
    with alice.scope():
        contact = Contact(first_name=PAYLOAD, last_name=PAYLOAD, res_city=PAYLOAD, tags=[PAYLOAD[:40]],
                          username=PAYLOAD, status="active")  # fmt: skip
        contact.save()  # not validated: values a bug or an old import could have stored
        household = HouseholdFactory(name=PAYLOAD, head=contact)
        account = ClientAccountFactory(number="U9999999", title=PAYLOAD, household=household)
        TablePreference.objects.create(user=alice.user, columns=list(crm_cells.COLUMNS))
    client = alice.client()
    for url in ("/contacts/", "/accounts/", f"/accounts/{account.pk}/"):
        page = client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in page and "<b onmouseover" not in page, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, url
