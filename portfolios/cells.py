"""The rows of the accounts, transactions and positions tables, rendered in Python: the template
loops with their tags and filters per cell were most of those pages' time (about 15 ms for 50
accounts). Every value goes through ``escape``; the markup around it is fixed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from advisorportal.cells import escape
from advisorportal.formats import amount, day, price, quantity
from portfolios.models import AccountStatus, AccountType, ClientAccount, Transaction, TransactionKind
from portfolios.selectors import PositionRow

DASH = "—"
TYPES = {value: escape(label) for value, label in AccountType.choices}
STATUSES = {value: escape(label) for value, label in AccountStatus.choices}
KINDS = {value: escape(label) for value, label in TransactionKind.choices}


def _date(value: date | None) -> str:
    return day(value) if value else DASH


def render_rows(rows: Iterable[ClientAccount], *, ordering: str) -> None:
    """Set ``row.html`` to the row's ``<td>`` elements (the household links keep the sort order)."""
    index = reverse("portfolios:index")
    keep = "" if ordering == "number" else "&amp;" + escape(urlencode({"ordering": ordering}))
    for a in rows:
        title = escape(a.title) + (' <span class="tag">Master</span>' if a.is_master else "")
        if a.household_id:
            name = escape(a.household.name)  # type: ignore[union-attr]
            household = (
                f'<a href="?household={a.household_id}{keep}" hx-boost="false" aria-label="Accounts of {name}">'
                f"{name}</a>"
            )
        else:
            household = DASH
        nav = DASH if a.nav is None else amount(a.nav)
        a.html = mark_safe(  # type: ignore[attr-defined]  # noqa: S308 - every value escaped above
            f'<td><a href="{index}{a.pk}/">{escape(a.number)}</a></td><td>{title}</td>'
            f"<td>{TYPES.get(a.account_type, '')}</td><td>{STATUSES.get(a.status, '')}</td>"
            f'<td>{household}</td><td>{escape(a.base_currency)}</td><td class="num">{nav}</td>'
            f"<td>{_date(a.inception_date)}</td><td>{_date(a.nav_date)}</td>"
        )


def render_transactions(rows: Iterable[Transaction]) -> None:
    """Set ``tx.html`` to the transaction row's ``<td>`` elements."""
    for tx in rows:
        kind = KINDS.get(tx.kind, "") + (' <span class="tag">Reversal</span>' if tx.reverses_id else "")
        symbol = escape(tx.security.symbol) if tx.security_id else ""  # type: ignore[union-attr]
        tx.html = mark_safe(  # type: ignore[attr-defined]  # noqa: S308 - every value escaped above
            f"<td>{_date(tx.trade_date)}</td><td>{kind}</td><td>{symbol}</td>"
            f'<td class="num">{quantity(tx.quantity) if tx.quantity else ""}</td>'
            f'<td class="num">{price(tx.price)}</td><td class="num">{amount(tx.amount)}</td>'
            f'<td>{escape(tx.currency)}</td><td class="num">{amount(tx.realized_gain) if tx.realized_gain else ""}</td>'
            f"<td>{escape(tx.description)}</td>"
        )


def render_positions(rows: Iterable[PositionRow]) -> list[SafeString]:
    """The position rows' ``<th>``/``<td>`` elements."""
    return [
        mark_safe(  # noqa: S308 - every value escaped
            f'<th scope="row">{escape(p.symbol)}</th><td>{escape(p.name)}</td><td>{escape(p.asset_class)}</td>'
            f"<td>{quantity(p.quantity)}</td><td>{DASH if p.price is None else price(p.price)}</td>"
            f"<td>{DASH if p.market_value is None else amount(p.market_value)}</td><td>{amount(p.cost_basis)}</td>"
            f"<td>{DASH if p.unrealized_gain is None else amount(p.unrealized_gain)}</td><td>{escape(p.currency)}</td>"
        )
        for p in rows
    ]
