"""Client data queries and account queries (issue #19, point 4; the seed's Tools tab).

Each query reads the accounts of the user's PortfolioAnalyst scope (``portfolios.scope``) and
answers a ``QueryResult``: its columns and rows (plain values: the page formats them, the CSV and
the API write them as they are), how many matched, and notes on what was left out and why.

- **Performance**: accounts whose time-weighted return (net of fees, the stored index) over a
  period is above and/or below a threshold. One SQL statement for every account: for each, the
  quarter row of ``DailySeries`` holding the period's base day and the one holding its end, the
  element of the business day wanted picked in SQL (only two numbers per account travel).
- **Symbol**: accounts that held a security at the start of a period or had a transaction in it.
- **Activity**: accounts with more transactions in a period than a threshold: trades (buys and
  sells), dividends and position transfers; not interest, cash flows or fees. A correction and
  the transaction it reverses count as none.
- **RMD**: the primary owners of Traditional, Rollover and SEP IRAs with an RMD due for a tax
  year (``reports.returns.rmd``, the Uniform Lifetime Table), the balance of December 31 before.
- **Accounts**: by type, status, margin type, trading permission, base currency, inception and
  value; behind a fresh second-factor confirmation (the seed's "Secure Login System").

``QueryInputError`` names the field of bad input; nothing is ever written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Sum

from accounts.rights import Right
from advisorportal.formats import round_money
from advisorportal.tenancy.context import require_firm_id
from portfolios import performance as daily_values
from portfolios.models import (
    AccountOwner,
    AccountStatus,
    AccountType,
    ClientAccount,
    DailySeries,
    OwnerRole,
    Security,
    Transaction,
)
from portfolios.returns import base_day, periods
from portfolios.scope import scope_accounts
from reports import returns

RMD_TYPES = (AccountType.TRADITIONAL_IRA, AccountType.ROLLOVER_IRA, AccountType.SEP_IRA)
ACTIVITY_KINDS = {
    "trades": ("buy", "sell"),
    "dividends": ("dividend",),
    "position_transfers": ("position_transfer_in", "position_transfer_out"),
}
WITHDRAWAL_KINDS = ("withdrawal", "transfer_out", "internal_transfer_out")
PERIOD_CODES = ("MTD", "QTD", "YTD", "1Y", "3Y", "5Y", "ITD", "CUSTOM")
RATE_PLACES = Decimal("1e-10")


class QueryInputError(ValueError):
    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "text"  # text, rate, money, number, date (how the page shows it)


@dataclass
class QueryResult:
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    summary: str = ""

    @property
    def count(self) -> int:
        return len(self.rows)


ACCOUNT_COLUMNS = [Column("id", "Id", "number"), Column("number", "Account"), Column("title", "Title")]


def scoped_accounts(*, user: Any) -> QuerySet[ClientAccount]:
    return scope_accounts(ClientAccount.objects.all(), user=user, right=Right.PORTFOLIO_ANALYST)


def _inner_sql(queryset: QuerySet[Any]) -> tuple[str, dict[str, Any]]:
    """A queryset's SQL with its positional parameters named, to embed in one statement."""
    sql, params = queryset.query.sql_with_params()
    named = {f"p{i}": value for i, value in enumerate(params)}
    return sql % tuple(f"%(p{i})s" for i in range(len(params))), named


# --- Performance ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    code: str
    label: str
    base: date  # the close measured from (a business day)
    end: date  # the last close measured (a business day)
    trailing: bool  # needs values from ``base`` on (1, 3, 5 years and a custom range)


def window(*, code: str, as_of: date, start: date | None = None, end: date | None = None) -> Window:
    """The days a period is measured over, as the performance report measures them."""
    if code == "CUSTOM":
        if start is None:
            raise QueryInputError("Give the start of the custom range.", field="start")
        last = min(end or as_of, as_of)
        if last < start:
            raise QueryInputError("The end is before the start: choose an end on or after the start.", field="end")
        return Window(code, "Custom range", base_day(start - timedelta(days=1)), base_day(last), True)
    if code == "ITD":
        return Window(code, "Since inception", date(1900, 1, 1), base_day(as_of), False)
    for period in periods(as_of):
        if period.name == code:
            return Window(code, period.label, base_day(period.start), base_day(as_of), period.trailing)
    raise QueryInputError(f"Unknown period {code!r}: choose one of {', '.join(PERIOD_CODES)}.", field="period")


def _element(alias: str) -> str:
    """The 1-based position in a quarter row's arrays of the business day %(<alias>)s (a business
    day on or after ``first_date``): whole weeks of 5 days, plus the days left, less a weekend
    crossed."""
    d = f"(%({alias})s::date - s.first_date)"
    weekend = f"CASE WHEN extract(isodow FROM s.first_date)::int + mod({d}, 7) > 5 THEN 2 ELSE 0 END"
    return f"(5 * ({d} / 7) + mod({d}, 7) - {weekend} + 1)"


def _twr_rows(accounts: QuerySet[ClientAccount], span: Window) -> list[tuple[Any, ...]]:
    """(id, number, title, currency, base day offset, base index, end offset, end index, first
    index, first day) for every account of ``accounts`` with a value on or before the end."""
    inner, params = _inner_sql(accounts.values("pk"))
    series, table = DailySeries._meta.db_table, ClientAccount._meta.db_table
    quarter = "date_trunc('quarter', %({0})s::date)::date"

    def row(alias: str) -> str:
        position = _element(alias)
        return (
            f"SELECT s.first_date, s.return_index[least({position}, cardinality(s.return_index))] AS value, "  # noqa: S608
            f"least({position}, cardinality(s.return_index)) AS at, {position} AS wanted "
            f"FROM {series} s WHERE s.firm_id = %(firm)s AND s.account_id = a.id "
            f"AND s.quarter <= {quarter.format(alias)} ORDER BY s.quarter DESC LIMIT 1"
        )

    sql = (
        f"SELECT a.id, a.number, a.title, a.base_currency, b.first_date, b.value, b.at, b.wanted, "  # noqa: S608
        f"e.first_date, e.value, e.at, f.first_date, f.return_index[1] "
        f"FROM {table} a "
        f"JOIN LATERAL ({row('end')}) e ON e.wanted >= 1 "
        f"LEFT JOIN LATERAL ({row('base')}) b ON b.wanted >= 1 "
        f"LEFT JOIN LATERAL (SELECT s.first_date, s.return_index FROM {series} s WHERE s.firm_id = %(firm)s "
        f"AND s.account_id = a.id ORDER BY s.quarter LIMIT 1) f ON true "
        f"WHERE a.firm_id = %(firm)s AND a.id IN ({inner}) ORDER BY a.number, a.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {"firm": require_firm_id(), "base": span.base, "end": span.end, **params})
        return list(cursor.fetchall())


def _day(first: date, at: int) -> date:
    day: date = np.busday_offset(np.datetime64(first, "D"), at - 1).astype(date)
    return day


def _index(value: float) -> Decimal:
    return Decimal(repr(float(value))).quantize(daily_values.INDEX_PLACES)


def performance_query(
    *, user: Any, code: str, above: Decimal | None, below: Decimal | None, start: date | None = None,
    end: date | None = None, today: date | None = None,
) -> QueryResult:  # fmt: skip
    """Accounts whose TWR over the period is above ``above`` and/or below ``below`` (fractions:
    0.05 is 5 %; both given: between them). A period to date (and since inception) that began
    before an account did is measured from its first day, as on the account's page; a trailing
    period (1, 3, 5 years, a custom range) needs values from its start."""
    if above is None and below is None:
        raise QueryInputError("Give a return to be above, below, or both.", field="above")
    if above is not None and below is not None and above >= below:
        raise QueryInputError(
            "With both thresholds, the return must be above the first and below the second: make the 'above' "
            "figure lower than the 'below' one.",
            field="below",
        )
    accounts = scoped_accounts(user=user)
    as_of = accounts.aggregate(last=Max("nav_date"))["last"]
    if today is not None and end is not None and end > today:
        raise QueryInputError("The end is in the future: choose today or earlier.", field="end")
    if as_of is None:
        return QueryResult(
            "Accounts by time-weighted return", [], [], ["No account in your scope has daily values yet."]
        )
    span = window(code=code, as_of=as_of, start=start, end=end)
    measured, short = [], 0
    for (
        pk,
        number,
        title,
        currency,
        b_first,
        b_value,
        b_at,
        _b_wanted,
        e_first,
        e_value,
        e_at,
        f_first,
        f_value,
    ) in _twr_rows(accounts, span):
        end_day = _day(e_first, e_at)
        if b_value is not None:
            start_day, start_index = _day(b_first, b_at), b_value
        elif span.trailing:
            short += 1
            continue
        else:
            start_day, start_index = f_first, f_value
        if end_day <= start_day or start_index is None or start_index <= 0:
            short += 1
            continue
        twr = (_index(e_value) / _index(start_index) - 1).quantize(RATE_PLACES)
        if (above is not None and twr <= above) or (below is not None and twr >= below):
            continue
        measured.append(
            {"id": pk, "number": number, "title": title, "currency": currency, "start": start_day, "end": end_day,
             "twr": twr}
        )  # fmt: skip
    measured.sort(key=lambda r: (-r["twr"], r["number"]))
    notes = []
    if short:
        notes.append(
            f"{short:,} account{'s' if short != 1 else ''} without values over the whole period "
            f"{'were' if short != 1 else 'was'} left out."
        )
    wanted = " and ".join(
        part for part in (
            f"above {returns.percent(above)}" if above is not None else "",
            f"below {returns.percent(below)}" if below is not None else "",
        ) if part
    )  # fmt: skip
    start_text = "each account's first value" if code == "ITD" else f"the close of {span.base.isoformat()}"
    columns = [*ACCOUNT_COLUMNS, Column("currency", "Currency"), Column("start", "From the close of", "date"),
               Column("end", "To the close of", "date"), Column("twr", "TWR (net of fees)", "rate")]  # fmt: skip
    return QueryResult(
        "Accounts by time-weighted return", columns, measured, notes,
        summary=f"{span.label}, from {start_text} to the close of {span.end.isoformat()}: TWR {wanted}.",
    )  # fmt: skip


# --- Symbol --------------------------------------------------------------------------------------


def security_by_symbol(symbol: str) -> Security:
    wanted = symbol.strip().upper()
    if not wanted:
        raise QueryInputError("Give a symbol, e.g. AAPL.", field="symbol")
    found = Security.objects.filter(symbol__iexact=wanted).order_by("pk").first()
    if found is None:
        raise QueryInputError(
            f"No security has the symbol {wanted!r}: check the spelling (the symbol as the custodian reports it).",
            field="symbol",
        )
    return found


def _period_dates(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    if start is None:
        raise QueryInputError("Give the first day of the period.", field="start")
    end = end or today
    if start > today:
        raise QueryInputError("The start is in the future: choose today or earlier.", field="start")
    if end > today:
        raise QueryInputError("The end is in the future: choose today or earlier.", field="end")
    if end < start:
        raise QueryInputError("The end is before the start: choose an end on or after the start.", field="end")
    return start, end


def symbol_query(*, user: Any, symbol: str, start: date | None, end: date | None, today: date) -> QueryResult:
    """Accounts that held the security at the start of the period (its transactions before the
    start sum to a position) or had a transaction in it from ``start`` to ``end``."""
    security = security_by_symbol(symbol)
    start, end = _period_dates(start, end, today)
    rows = (
        Transaction.objects.filter(
            security=security, trade_date__lte=end, account__in=scoped_accounts(user=user).values("pk")
        )
        .values("account_id", "account__number", "account__title")
        .annotate(
            held=Sum("quantity", filter=Q(trade_date__lt=start), default=Decimal(0)),
            moves=Count("pk", filter=Q(trade_date__gte=start)),
            quantity=Sum("quantity", default=Decimal(0)),
        )
        .filter(Q(moves__gt=0) | ~Q(held=0))
        .order_by("account__number", "account_id")
    )
    out = [
        {"id": r["account_id"], "number": r["account__number"], "title": r["account__title"],
         "held_at_start": r["held"], "transactions": r["moves"], "held_at_end": r["quantity"]}
        for r in rows
    ]  # fmt: skip
    columns = [*ACCOUNT_COLUMNS, Column("held_at_start", "Held at the start", "number"),
               Column("transactions", "Transactions in the period", "number"),
               Column("held_at_end", "Held at the end", "number")]  # fmt: skip
    return QueryResult(
        f"Accounts with {security.symbol}", columns, out,
        summary=f"{security.symbol} ({security.name}) held or traded from {start.isoformat()} to {end.isoformat()}.",
    )  # fmt: skip


# --- Activity ------------------------------------------------------------------------------------


def activity_query(*, user: Any, start: date | None, end: date | None, threshold: int, today: date) -> QueryResult:
    """Accounts with more than ``threshold`` trades, dividends and position transfers together
    from ``start`` to ``end`` (not interest, cash flows or fees; a correction cancels the
    transaction it reverses, so neither counts)."""
    if threshold < 0:
        raise QueryInputError("The threshold cannot be negative.", field="threshold")
    start, end = _period_dates(start, end, today)
    counted = [kind for kinds in ACTIVITY_KINDS.values() for kind in kinds]
    reversed_later = Transaction.objects.filter(reverses=OuterRef("pk"))
    filters = {name: Count("pk", filter=Q(kind__in=kinds)) for name, kinds in ACTIVITY_KINDS.items()}
    rows = (
        Transaction.objects.filter(
            kind__in=counted, trade_date__gte=start, trade_date__lte=end, reverses__isnull=True,
            account__in=scoped_accounts(user=user).values("pk"),
        )
        .exclude(Exists(reversed_later))
        .values("account_id", "account__number", "account__title")
        .annotate(total=Count("pk"), **filters)
        .filter(total__gt=threshold)
        .order_by("-total", "account__number")
    )  # fmt: skip
    out = [
        {"id": r["account_id"], "number": r["account__number"], "title": r["account__title"],
         **{name: r[name] for name in ACTIVITY_KINDS}, "total": r["total"]}
        for r in rows
    ]  # fmt: skip
    columns = [*ACCOUNT_COLUMNS, Column("trades", "Trades", "number"), Column("dividends", "Dividends", "number"),
               Column("position_transfers", "Position transfers", "number"),
               Column("total", "Total", "number")]  # fmt: skip
    return QueryResult(
        "Accounts by activity", columns, out,
        summary=f"More than {threshold:,} trades, dividends and position transfers from {start.isoformat()} to "
        f"{end.isoformat()} (interest, cash flows and fees are not counted).",
    )  # fmt: skip


# --- RMD -----------------------------------------------------------------------------------------


def _year_end_values(account_ids: Sequence[int], year: int) -> dict[int, Decimal]:
    """Each account's value at the close of the last business day of ``year`` (one query)."""
    end = date(year, 12, 31)
    navs = daily_values.navs_between(account_ids=account_ids, start=end - timedelta(days=10), end=end)
    return {pk: Decimal(repr(float(values[-1]))) for pk, (_, values) in navs.items()}


def rmd_query(*, user: Any, year: int, today: date) -> QueryResult:
    """The primary owners of the Traditional, Rollover and SEP IRAs in scope (not closed) with an
    RMD due for ``year``: the balance at the close of December 31 of the year before (the last
    business day's), divided by the Uniform Lifetime Table's period; what was withdrawn in the
    year so far and what is left. Owners without a birth date, and accounts without a value at
    that close, are counted in the notes."""
    if year < 1990 or year > today.year + 1:
        raise QueryInputError(f"Choose a tax year from 1990 to {today.year + 1}.", field="year")
    accounts = scoped_accounts(user=user).filter(account_type__in=RMD_TYPES).exclude(status=AccountStatus.CLOSED)
    owners = list(
        AccountOwner.objects.filter(role=OwnerRole.PRIMARY, account__in=accounts.values("pk"))
        .select_related("account", "contact")
        .order_by("contact__last_name", "contact__first_name", "account__number")
    )
    balances = _year_end_values([o.account_id for o in owners], year - 1)
    withdrawn: dict[int, Decimal] = dict(
        Transaction.objects.filter(
            account__in=[o.account_id for o in owners], kind__in=WITHDRAWAL_KINDS, trade_date__gte=date(year, 1, 1),
            trade_date__lte=date(year, 12, 31),
        ).values("account_id").annotate(total=Sum("amount")).values_list("account_id", "total")
    )  # fmt: skip
    rows, no_birth, no_value = [], 0, 0
    for owner in owners:
        contact, account = owner.contact, owner.account
        if contact.date_of_birth is None:
            no_birth += 1
            continue
        balance = balances.get(account.pk)
        if balance is None:
            no_value += 1
            continue
        try:
            answer = returns.rmd(contact.date_of_birth, year, round_money(balance, account.base_currency))
        except returns.CalculationError:
            continue  # a birth after the year: no RMD
        if not answer.required or answer.rmd is None:
            continue
        taken = round_money(-(withdrawn.get(account.pk) or Decimal(0)), account.base_currency)
        deadline = answer.first_deadline if year == answer.first_rmd_year else date(year, 12, 31)
        rows.append({
            "contact_id": contact.pk, "client": contact.display_name, "date_of_birth": contact.date_of_birth,
            "age": answer.age, "id": account.pk, "number": account.number,
            "account_type": AccountType(account.account_type).label, "currency": account.base_currency,
            "balance": round_money(balance, account.base_currency), "distribution_period": answer.distribution_period,
            "rmd": answer.rmd, "withdrawn": taken, "remaining": max(answer.rmd - taken, Decimal(0)),
            "deadline": deadline,
        })  # fmt: skip
    notes = [
        "The Uniform Lifetime Table is used: where the sole beneficiary is a spouse more than 10 years younger, "
        "the Joint and Last Survivor Table gives a smaller RMD (the RMD calculator takes the spouse's birth date)."
    ]
    if no_birth:
        notes.append(f"{no_birth:,} IRA owner{'s have' if no_birth != 1 else ' has'} no birth date on file.")
    if no_value:
        notes.append(
            f"{no_value:,} IRA{'s have' if no_value != 1 else ' has'} no value at the close of {year - 1}-12-31."
        )
    columns = [Column("client", "Client"), Column("date_of_birth", "Born", "date"), Column("age", "Age", "number"),
               Column("number", "Account"), Column("account_type", "Type"),
               Column("balance", f"Balance {year - 1}-12-31", "money"),
               Column("distribution_period", "Distribution period", "number"), Column("rmd", "RMD", "money"),
               Column("withdrawn", "Withdrawn so far", "money"), Column("remaining", "Remaining", "money"),
               Column("deadline", "Due by", "date")]  # fmt: skip
    return QueryResult(
        f"RMDs due for {year}", columns, rows, notes,
        summary=f"Primary owners of Traditional, Rollover and SEP IRAs with a required minimum distribution for "
        f"{year}.",
    )  # fmt: skip


# --- Account queries -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountCriteria:
    account_types: Sequence[str] = ()
    statuses: Sequence[str] = ()
    margin_types: Sequence[str] = ()
    permissions: Sequence[str] = ()
    currencies: Sequence[str] = ()
    opened_from: date | None = None
    opened_to: date | None = None
    value_min: Decimal | None = None
    value_max: Decimal | None = None
    in_household: bool | None = None
    sub_accounts: bool | None = None  # True: only sub-accounts; False: only top-level accounts


def account_query(*, user: Any, criteria: AccountCriteria) -> QueryResult:
    """The accounts in scope matching every criterion given (each list: any of its values)."""
    c = criteria
    if c.opened_from and c.opened_to and c.opened_to < c.opened_from:
        raise QueryInputError("'Opened to' is before 'opened from'.", field="opened_to")
    if c.value_min is not None and c.value_max is not None and c.value_max < c.value_min:
        raise QueryInputError("The largest value is below the smallest.", field="value_max")
    accounts = scoped_accounts(user=user).select_related("household")
    if c.account_types:
        accounts = accounts.filter(account_type__in=list(c.account_types))
    if c.statuses:
        accounts = accounts.filter(status__in=list(c.statuses))
    if c.margin_types:
        accounts = accounts.filter(margin_type__in=list(c.margin_types))
    if c.permissions:
        accounts = accounts.filter(trading_permissions__overlap=list(c.permissions))
    if c.currencies:
        accounts = accounts.filter(base_currency__in=list(c.currencies))
    if c.opened_from:
        accounts = accounts.filter(inception_date__gte=c.opened_from)
    if c.opened_to:
        accounts = accounts.filter(inception_date__lte=c.opened_to)
    if c.value_min is not None:
        accounts = accounts.filter(nav__gte=c.value_min)
    if c.value_max is not None:
        accounts = accounts.filter(nav__lte=c.value_max)
    if c.in_household is not None:
        accounts = accounts.filter(household__isnull=not c.in_household)
    if c.sub_accounts is not None:
        accounts = accounts.filter(parent__isnull=not c.sub_accounts)
    rows = [
        {"id": a.pk, "number": a.number, "title": a.title, "account_type": a.get_account_type_display(),
         "status": a.get_status_display(), "margin_type": a.get_margin_type_display(),
         "permissions": ", ".join(a.trading_permissions), "currency": a.base_currency, "opened": a.inception_date,
         "household": a.household.name if a.household else "", "value": a.nav, "value_date": a.nav_date}
        for a in accounts.order_by("number", "pk")
    ]  # fmt: skip
    columns = [*ACCOUNT_COLUMNS, Column("account_type", "Type"), Column("status", "Status"),
               Column("margin_type", "Margin"), Column("permissions", "Trading permissions"),
               Column("currency", "Currency"), Column("opened", "Opened", "date"), Column("household", "Household"),
               Column("value", "Value", "money"), Column("value_date", "Value on", "date")]  # fmt: skip
    return QueryResult(
        "Account query", columns, rows,
        ["Application type is not recorded on accounts yet (account applications are not built), so it cannot be "
         "queried."],
    )  # fmt: skip
