"""Every read of client accounts and portfolio data, from the firm-scoped managers.

Search under RLS: ``ILIKE`` cannot use an index beneath a row-level security policy, so account
search is a prefix *range* (``>=``/``<``, leakproof) on ``number`` and on the generated
``title_key`` (lower-cased title), both in the "C" collation so the range is exact, each with an
index leading with ``firm_id``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import (
    Case,
    CharField,
    Count,
    DecimalField,
    Exists,
    F,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce
from django.db.models.lookups import GreaterThan, LessThan
from django.urls import reverse
from django.utils import timezone

from accounts import selectors as account_selectors
from accounts.models import GrantAccount, GrantHousehold
from accounts.rights import Right
from advisorportal.formats import round_money
from advisorportal.tenancy.pagination import KeysetPage, Row, decode_cursor, encode_cursor, keyset_page
from crm.search import prefix_range
from portfolios import performance, returns
from portfolios.models import (
    AccountOwner,
    AccountStatus,
    AccountType,
    Benchmark,
    CashHold,
    ClientAccount,
    FxRate,
    LedgerEntry,
    LedgerPosting,
    Position,
    SecurityPrice,
    Transaction,
    TransactionKind,
)
from portfolios.scope import scope_accounts

M = TypeVar("M", bound=Model)
ZERO = Decimal(0)
TRANSACTION_ORDER = ("-trade_date", "-id")
TRANSACTION_DEFAULT_DAYS = 90


def _prefix_upper_bound(prefix: str) -> str:
    """The smallest string greater than every string starting with ``prefix`` (code-point order)."""
    last = ord(prefix[-1])
    return prefix[:-1] + chr(last + 1) if last < 0x10FFFF else prefix + "\U0010ffff"


class BadOrdering(ValueError):
    """An ordering that is not one of ``ACCOUNT_ORDERINGS``."""


# Sort orders of the accounts list: name → keyset keys (ending in ``id``). Each is backed by an index
# leading with ``firm_id`` and the same keys, so every page is an index range scan; "-name" is the
# same keys descending (a backward scan of the same index).
ACCOUNT_ORDERINGS: dict[str, tuple[str, ...]] = {
    "number": ("number", "id"),  # UNIQUE (firm, number)
    "title": ("title_key", "id"),  # (firm, title_key, id)
    "type": ("account_type", "number", "id"),  # (firm, account_type, number, id)
    "status": ("status", "number", "id"),  # (firm, status, number)
    "nav": ("nav", "id"),  # (firm, nav, id); accounts without a NAV yet come last either way
    "inception": ("inception_date", "id"),  # (firm, inception_date, id)
}
ACCOUNT_ORDERING_CHOICES = [*ACCOUNT_ORDERINGS, *(f"-{name}" for name in ACCOUNT_ORDERINGS)]
NULLABLE_SORT_KEYS = frozenset({"nav"})


def account_ordering_keys(ordering: str) -> tuple[str, ...]:
    """The keyset keys of ``ordering`` ("nav", "-inception"…); ``BadOrdering`` for anything else."""
    name = ordering.removeprefix("-")
    if name not in ACCOUNT_ORDERINGS or ordering.count("-") > 1:
        raise BadOrdering(f"Unknown ordering {ordering!r}; use one of: {', '.join(ACCOUNT_ORDERING_CHOICES)}.")
    keys = ACCOUNT_ORDERINGS[name]
    return tuple(f"-{key}" for key in keys) if ordering.startswith("-") else keys


def account_list(
    *,
    user: Any,
    q: str = "",
    account_type: str = "",
    status: str = "",
    household: int | str | None = None,
    owner: int | str | None = None,
) -> QuerySet[ClientAccount]:
    """The user's accounts (with the denormalised ``nav``, ``nav_date``, ``day_change`` columns that
    ``performance`` keeps current), filtered; unordered (pages order them). ``owner`` is a contact:
    the accounts it owns or co-owns (an index probe on ``(firm, contact)`` of the owners)."""
    accounts = ClientAccount.objects.select_related("household")
    accounts = scope_accounts(accounts, user=user, right=Right.ACCOUNT_INFORMATION)
    q = q.strip()
    if q:
        number, title = q.upper(), q.lower()
        accounts = accounts.filter(
            Q(number__gte=number, number__lt=_prefix_upper_bound(number))
            | Q(title_key__gte=title, title_key__lt=_prefix_upper_bound(title))
        )
    if account_type in AccountType.values:
        accounts = accounts.filter(account_type=account_type)
    if status in AccountStatus.values:
        accounts = accounts.filter(status=status)
    for name, value in (("household_id", household), ("owner", owner)):
        if not value:
            continue
        try:
            pk = int(value)
        except (TypeError, ValueError):
            return accounts.none()
        if name == "owner":
            accounts = accounts.filter(pk__in=AccountOwner.objects.filter(contact_id=pk).values("account_id"))
        else:
            accounts = accounts.filter(household_id=pk)
    return accounts


def account_page(
    *, user: Any, ordering: str = "number", after: str = "", size: int = 50, **filters: Any
) -> KeysetPage[ClientAccount]:
    """One page of the user's accounts in ``ordering`` (see ``ACCOUNT_ORDERINGS``)."""
    return ordered_account_page(account_list(user=user, **filters), ordering=ordering, after=after, size=size)


def ordered_account_page(
    accounts: QuerySet[ClientAccount], *, ordering: str, after: str = "", size: int = 50
) -> KeysetPage[ClientAccount]:
    """One page of ``accounts`` (from ``account_list``) in ``ordering``, after the cursor ``after``."""
    keys = account_ordering_keys(ordering)
    if keys[0].lstrip("-") in NULLABLE_SORT_KEYS:
        return _nulls_last_page(accounts, keys=keys, after=after, size=size)
    return keyset_page(accounts, keys=keys, after=after, size=size)


def _nulls_last_page(
    queryset: QuerySet[ClientAccount], *, keys: tuple[str, ...], after: str, size: int
) -> KeysetPage[ClientAccount]:
    """Keyset pages on ``(nullable, id)`` with the NULLs last in both directions, in one query.

    A row-value comparison is never true when one side is NULL, so the page is ``UNION ALL`` of the
    next rows with a value by ``(key, id)`` (``IS NOT NULL`` lets a descending sort be a backward scan
    of the ``(firm, key, id)`` index) and the first rows without one by ``id`` (the same index, at its
    NULL end), each ``LIMIT size + 1``; the two are put in order here.
    """
    key, id_key = keys[0].lstrip("-"), keys[-1]
    descending = id_key.startswith("-")
    position = decode_cursor(queryset, keys, after) if after else None
    missing = queryset.filter(**{f"{key}__isnull": True})
    if position is not None and position[0] is None:
        missing = missing.filter(**{"pk__lt" if descending else "pk__gt": position[-1]})
        found = list(missing.order_by(id_key)[: size + 1])
    else:
        valued = queryset.filter(**{f"{key}__isnull": False})
        if position is not None:
            lookup = LessThan if descending else GreaterThan
            valued = valued.filter(lookup(Row(F(key), F("id")), Row(Value(position[0]), Value(position[-1]))))
        found = list(valued.order_by(*keys)[: size + 1].union(missing.order_by(id_key)[: size + 1], all=True))
    with_value = sorted((r for r in found if getattr(r, key) is not None), key=lambda r: (getattr(r, key), r.pk))
    without = sorted((r for r in found if getattr(r, key) is None), key=lambda r: r.pk)
    if descending:
        with_value.reverse()
        without.reverse()
    ordered = with_value + without
    rows = ordered[:size]
    next_cursor = encode_cursor(rows[-1], keys) if len(ordered) > size else None
    return KeysetPage(rows=rows, next_cursor=next_cursor)


def household_in_scope(*, user: Any, pk: int | None) -> Any:
    """The household ``pk`` if the user sees one of its accounts (to name a household filter)."""
    if not pk:
        return None
    account = account_list(user=user, household=pk).only("household").first()
    return account.household if account else None


def owner_in_scope(*, user: Any, contact_id: int | None) -> Any:
    """The contact ``contact_id`` if it owns an account the user sees (to name an owner filter)."""
    if not contact_id:
        return None
    ownerships = AccountOwner.objects.filter(contact_id=contact_id).select_related("contact")
    ownership = scope_accounts(ownerships, user=user, right=Right.ACCOUNT_INFORMATION, account_field="account").first()
    return ownership.contact if ownership else None


def account_get(*, user: Any, pk: Any, right: Right = Right.ACCOUNT_INFORMATION) -> ClientAccount:
    """One account of the firm in the user's scope for ``right`` (raises ``ClientAccount.DoesNotExist``
    for another firm's, an out-of-scope or a missing one alike)."""
    accounts = ClientAccount.objects.select_related("household", "parent")
    return scope_accounts(accounts, user=user, right=right).get(pk=pk)


def cash_balances(*, account: ClientAccount) -> dict[str, Decimal]:
    """Cash by currency, from the ledger (an index-only scan of the account's cash postings)."""
    rows = (
        LedgerPosting.objects.filter(account=account, ledger_account="cash")
        .values_list("currency")
        .annotate(total=Sum("amount"))
        .order_by("currency")
    )
    return dict(rows)


@dataclass(frozen=True)
class CashRow:
    """An account's cash in one currency. ``total`` is the ledger's cash; ``pending`` the part of
    it whose settle date is after today (a sale's proceeds, a deposit in transit; negative for a
    purchase not yet paid); ``settled`` the rest; ``held`` the open holds; ``available`` what may
    leave the account: settled cash less holds."""

    currency: str
    total: Decimal = ZERO
    pending: Decimal = ZERO
    held: Decimal = ZERO

    @property
    def settled(self) -> Decimal:
        return self.total - self.pending

    @property
    def available(self) -> Decimal:
        return self.settled - self.held


def _pending_settlement(accounts: Sequence[ClientAccount], today: date) -> QuerySet[Transaction]:
    # Settling after today. The first branch is a range of the partial index on settle dates
    # (rows settling after their trade date); the second, rows dated in the future.
    return Transaction.objects.filter(
        Q(settle_date__gt=today) & (Q(settle_date__gt=F("trade_date")) | Q(trade_date__gt=today)),
        account__in=accounts,
    )


def cash_summary(
    *, account: ClientAccount, today: date | None = None, total: dict[str, Decimal] | None = None
) -> list[CashRow]:
    """The account's cash per currency (those with cash, pending cash or a hold), by currency:
    total, settled and pending settlement as of ``today``, held, available (three aggregates:
    the ledger's cash, unless ``total`` gives it, e.g. from ``account_summary``; the
    transactions settling after today; the open holds)."""
    return cash_summaries(accounts=[account], today=today, totals=None if total is None else {account.pk: total})[
        account.pk
    ]


def cash_summaries(
    *, accounts: Sequence[ClientAccount], today: date | None = None, totals: dict[int, dict[str, Decimal]] | None = None
) -> dict[int, list[CashRow]]:
    """``cash_summary`` of many accounts in three queries (a list page's), by account id."""
    today = today or timezone.localdate()
    by_account: dict[int, dict[str, dict[str, Decimal]]] = {
        a.pk: {"total": {}, "pending": {}, "held": {}} for a in accounts
    }
    if totals is None:
        rows = (
            LedgerPosting.objects.filter(account__in=accounts, ledger_account="cash")
            .values_list("account_id", "currency")
            .annotate(t=Sum("amount"))
            .order_by()
        )
        for account_id, currency, amount in rows:
            by_account[account_id]["total"][currency] = amount
    else:
        for account_id, total in totals.items():
            by_account[account_id]["total"] = dict(total)
    pending = _pending_settlement(accounts, today).values_list("account_id", "currency").annotate(t=Sum("amount"))
    for account_id, currency, amount in pending.order_by():
        by_account[account_id]["pending"][currency] = amount
    held = (
        CashHold.objects.filter(account__in=accounts, released_at__isnull=True)
        .values_list("account_id", "currency")
        .annotate(t=Sum("amount"))
        .order_by()
    )
    for account_id, currency, amount in held:
        by_account[account_id]["held"][currency] = amount
    return {
        account_id: [
            CashRow(
                currency=c,
                total=f["total"].get(c, ZERO),
                pending=f["pending"].get(c, ZERO),
                held=f["held"].get(c, ZERO),
            )
            for c in sorted(set(f["total"]) | set(f["pending"]) | set(f["held"]))
        ]
        for account_id, f in by_account.items()
    }


def cash_position(*, account: ClientAccount, currency: str, today: date | None = None) -> CashRow:
    """The account's cash in one currency (as in ``cash_summary``). Money-moving services call it
    under the account's row lock, which every posting and hold takes first, so the figures cannot
    change before their write."""
    today = today or timezone.localdate()
    total = LedgerPosting.objects.filter(account=account, ledger_account="cash", currency=currency).aggregate(
        t=Sum("amount")
    )["t"]
    pending = _pending_settlement([account], today).filter(currency=currency).aggregate(t=Sum("amount"))["t"]
    held = CashHold.objects.filter(account=account, currency=currency, released_at__isnull=True).aggregate(
        t=Sum("amount")
    )["t"]
    return CashRow(currency=currency, total=total or ZERO, pending=pending or ZERO, held=held or ZERO)


def cash_positions(*, pairs: Iterable[tuple[int, str]], today: date | None = None) -> dict[tuple[int, str], CashRow]:
    """``cash_position`` of many (account id, currency) pairs, in three grouped queries (a fee
    run's chunk); a pair without cash gets a row of zeros. Read under the accounts' row locks."""
    today = today or timezone.localdate()
    wanted = set(pairs)
    ids = sorted({pk for pk, _ in wanted})
    sums: dict[str, dict[tuple[int, str], Decimal]] = {}
    for name, rows in (
        ("total", LedgerPosting.objects.filter(account_id__in=ids, ledger_account="cash")),
        ("pending", _pending_settlement(ids, today)),  # type: ignore[arg-type]
        ("held", CashHold.objects.filter(account_id__in=ids, released_at__isnull=True)),
    ):
        grouped = rows.values_list("account_id", "currency").annotate(t=Sum("amount")).order_by()
        sums[name] = {(pk, currency): total or ZERO for pk, currency, total in grouped}
    return {
        key: CashRow(currency=key[1], total=sums["total"].get(key, ZERO), pending=sums["pending"].get(key, ZERO),
                     held=sums["held"].get(key, ZERO))
        for key in wanted
    }  # fmt: skip


def hold_list(*, account: ClientAccount, include_released: bool = False) -> QuerySet[CashHold]:
    """The account's holds, newest first; open ones only unless ``include_released``."""
    holds = CashHold.objects.filter(account=account).select_related("created_by", "released_by")
    return holds if include_released else holds.filter(released_at__isnull=True)


@dataclass(frozen=True)
class PositionRow:
    symbol: str
    name: str
    asset_class: str
    currency: str
    quantity: Decimal
    cost_basis: Decimal
    realized_gain: Decimal
    price: Decimal | None
    price_date: date | None

    @property
    def market_value(self) -> Decimal | None:
        # In the minor unit of the position's currency (JPY 0 places, BHD 3), like all money.
        return None if self.price is None else round_money(self.quantity * self.price, self.currency)

    @property
    def unrealized_gain(self) -> Decimal | None:
        value = self.market_value
        return None if value is None else value - self.cost_basis


def positions(*, account: ClientAccount, include_closed: bool = False) -> list[PositionRow]:
    """Holdings with their latest price (one query: the price is a per-row index probe)."""
    latest = SecurityPrice.objects.filter(security=OuterRef("security")).order_by("-date")
    rows = Position.objects.filter(account=account).select_related("security")
    if not include_closed:
        rows = rows.exclude(quantity=0)
    rows = rows.annotate(
        price=Subquery(latest.values("close")[:1]), price_date=Subquery(latest.values("date")[:1])
    ).order_by("security__symbol")
    return [
        PositionRow(
            symbol=p.security.symbol,
            name=p.security.name,
            asset_class=p.security.get_asset_class_display(),
            currency=p.currency,
            quantity=p.quantity,
            cost_basis=p.cost_basis,
            realized_gain=p.realized_gain,
            price=p.price,
            price_date=p.price_date,
        )
        for p in rows
    ]


@dataclass(frozen=True)
class RealizedPnl:
    """Realized gains and losses of sales in one currency, by period up to ``as_of``."""

    currency: str
    month: Decimal
    quarter: Decimal
    year: Decimal
    inception: Decimal


@dataclass
class AccountSummary:
    account: ClientAccount
    owners: list[AccountOwner]
    cash: dict[str, Decimal]
    positions: list[PositionRow]
    realized: list[RealizedPnl]
    as_of: date
    unrealized_by_currency: dict[str, Decimal] = field(default_factory=dict)

    # The latest NAV and the day's change, as ``performance`` keeps them on the account.
    @property
    def nav(self) -> Decimal | None:
        return self.account.nav

    @property
    def nav_date(self) -> date | None:
        return self.account.nav_date

    @property
    def day_change(self) -> Decimal | None:
        return self.account.day_change

    @property
    def day_return(self) -> Decimal | None:
        return self.account.day_return

    @property
    def currency(self) -> str:
        return self.account.base_currency


def period_starts(as_of: date) -> dict[str, date]:
    """First days of the month, quarter and year that contain ``as_of``."""
    return {
        "month": as_of.replace(day=1),
        "quarter": date(as_of.year, 3 * ((as_of.month - 1) // 3) + 1, 1),
        "year": date(as_of.year, 1, 1),
    }


def realized_by_period(*, account: ClientAccount, as_of: date | None = None) -> list[RealizedPnl]:
    """Realized P&L month-, quarter-, year-to-date and since inception, per currency: the sums of the
    transactions' ``realized_gain`` (one aggregate over the account's transactions)."""
    as_of = as_of or timezone.localdate()
    starts = period_starts(as_of)
    zero = Value(ZERO, output_field=DecimalField(max_digits=20, decimal_places=4))

    def total(since: date | None = None) -> Coalesce:
        condition = Q(trade_date__gte=since) if since else Q()
        return Coalesce(Sum("realized_gain", filter=condition & Q(trade_date__lte=as_of)), zero)

    rows = (
        Transaction.objects.filter(account=account, trade_date__lte=as_of)
        .exclude(realized_gain=0)
        .values("currency")
        .annotate(
            month=total(starts["month"]),
            quarter=total(starts["quarter"]),
            year=total(starts["year"]),
            inception=total(),
        )
        .order_by("currency")
    )
    return [RealizedPnl(**row) for row in rows]


def account_summary(*, user: Any, account: ClientAccount, as_of: date | None = None) -> AccountSummary:
    """Summary of one account (4 queries): owners, cash by currency from the ledger, open positions
    with unrealized P&L per currency, realized P&L by period; NAV and day change come with the row."""
    names = ("kind", "first_name", "middle_name", "last_name", "suffix")  # what str(contact) reads
    owners = list(
        AccountOwner.objects.filter(account=account)
        .select_related("contact")
        .only("account_id", "contact_id", "role", *(f"contact__{name}" for name in names))
        .order_by("id")
    )
    summary = AccountSummary(
        account=account,
        owners=owners,
        cash=cash_balances(account=account),
        positions=positions(account=account),
        realized=realized_by_period(account=account, as_of=as_of),
        as_of=as_of or timezone.localdate(),
    )
    unrealized: dict[str, Decimal] = defaultdict(Decimal)
    for row in summary.positions:
        if row.unrealized_gain is not None:
            unrealized[row.currency] += row.unrealized_gain
    summary.unrealized_by_currency = dict(unrealized)
    return summary


# Periods of the NAV chart: name → how far back from the latest value.
CHART_PERIODS = ("1M", "3M", "YTD", "1Y", "All")
DEFAULT_CHART_PERIOD = "1Y"
# The benchmark a chart compares with unless the user picks another: the first of these that exists,
# else the first benchmark by symbol.
PREFERRED_BENCHMARKS = ("SPX", "SPX-DEMO")


def benchmark_symbols() -> list[str]:
    """Every benchmark (global reference data: a handful of rows)."""
    return list(Benchmark.objects.order_by("symbol").values_list("symbol", flat=True))


def pick_benchmark(symbols: list[str], wanted: str = "") -> str:
    """``wanted`` if it is a benchmark, else the preferred default; "" when there are none."""
    if wanted in symbols:
        return wanted
    return next((s for s in PREFERRED_BENCHMARKS if s in symbols), symbols[0] if symbols else "")


def _months_back(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def chart_start(period: str, end: date) -> date | None:
    """The first day of ``period`` ending on ``end`` (None: since the first value)."""
    if period == "1M":
        return _months_back(end, 1)
    if period == "3M":
        return _months_back(end, 3)
    if period == "YTD":
        return date(end.year - 1, 12, 31)  # the year's return is measured from the last close of the year before
    if period == "1Y":
        return _months_back(end, 12)
    return None


@dataclass(frozen=True)
class ValueWindow:
    period: str
    values: list[performance.DayValue]
    benchmark_symbol: str
    benchmark_choices: list[str]
    benchmark: list[tuple[date, Decimal]]  # rebased: the benchmark's level scaled to the first NAV

    @property
    def period_return(self) -> Decimal | None:
        """Time-weighted return of the account over the window (external flows excluded)."""
        if len(self.values) < 2 or not self.values[0].return_index:
            return None
        return self.values[-1].return_index / self.values[0].return_index - 1

    @property
    def benchmark_return(self) -> Decimal | None:
        if len(self.benchmark) < 2 or not self.benchmark[0][1]:
            return None
        return self.benchmark[-1][1] / self.benchmark[0][1] - 1


def value_window(*, account: ClientAccount, period: str = DEFAULT_CHART_PERIOD, benchmark: str = "") -> ValueWindow:
    """The account's daily values over ``period`` up to its latest NAV, and a benchmark (``benchmark``
    or the default one) over the same days, rebased to the account's first NAV in the window
    (3 queries: the benchmarks, the values, the benchmark's levels)."""
    period = period if period in CHART_PERIODS else DEFAULT_CHART_PERIOD
    end = account.nav_date or timezone.localdate()
    choices = benchmark_symbols()
    symbol = pick_benchmark(choices, benchmark)
    start = chart_start(period, end)
    # From the last value on or before the window's start: a window starting on a weekend or
    # holiday keeps its first trading day (issue #15, defect 1).
    values = performance.value_history(account=account, start=returns.base_day(start) if start else None, end=end)
    rebased: list[tuple[date, Decimal]] = []
    if values and symbol:
        levels = performance.benchmark_history(symbol=symbol, start=values[0].date, end=values[-1].date)
        if levels and levels[0][1]:
            first_nav, first_level = values[0].nav, levels[0][1]
            rebased = [(day, level * first_nav / first_level) for day, level in levels]
    return ValueWindow(
        period=period, values=values, benchmark_symbol=symbol, benchmark_choices=choices, benchmark=rebased
    )


def transaction_list(
    *,
    user: Any,
    account: ClientAccount,
    date_from: date | None = None,
    date_to: date | None = None,
    kind: str = "",
    text: str = "",
    today: date | None = None,
) -> QuerySet[Transaction]:
    """An account's transactions; without dates, the last 90 days. The text matches description or
    symbol; it is a filter within one account's date range (an index range scan), so it needs no
    search index of its own."""
    if date_from is None and date_to is None:
        date_from = (today or date.today()) - timedelta(days=TRANSACTION_DEFAULT_DAYS)
    rows = Transaction.objects.filter(account=account).select_related("security")
    if date_from is not None:
        rows = rows.filter(trade_date__gte=date_from)
    if date_to is not None:
        rows = rows.filter(trade_date__lte=date_to)
    if kind in TransactionKind.values:
        rows = rows.filter(kind=kind)
    text = text.strip()
    if text:
        rows = rows.filter(Q(description__icontains=text) | Q(security__symbol=text.upper()))
    return rows


def transaction_page(*, after: str = "", size: int = 50, **filters: Any) -> KeysetPage[Transaction]:
    return keyset_page(transaction_list(**filters), keys=TRANSACTION_ORDER, after=after, size=size)


def reconciliation_problems(*, limit: int = 50) -> list[str]:
    """What does not reconcile in the current firm: entries that do not balance, cash that differs
    from the sum of transaction amounts, positions that differ from the sum of their transactions.
    Empty when the books are right. Three aggregate queries over the firm's rows."""
    problems: list[str] = []
    unbalanced = (
        LedgerPosting.objects.values("entry_id", "currency")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
        .order_by("entry_id")[:limit]
    )
    problems += [f"Entry {r['entry_id']} does not balance in {r['currency']}: {r['total']}" for r in unbalanced]
    # NOT EXISTS (an anti-join), not NOT IN: NOT IN a subquery of millions of ids that does not fit
    # in work_mem is probed row by row.
    orphans = Transaction.objects.exclude(Exists(LedgerEntry.objects.filter(transaction=OuterRef("pk"))))
    problems += [f"Transaction {pk} has no ledger entry" for pk in orphans.values_list("pk", flat=True)[:limit]]

    ledger_cash = {
        (r["account_id"], r["currency"]): r["total"]
        for r in LedgerPosting.objects.filter(ledger_account="cash")
        .values("account_id", "currency")
        .annotate(total=Sum("amount"))
        .order_by()
    }
    tx_cash = {
        (r["account_id"], r["currency"]): r["total"]
        for r in Transaction.objects.values("account_id", "currency").annotate(total=Sum("amount")).order_by()
    }
    for key in sorted(set(ledger_cash) | set(tx_cash)):
        ledger, txs = ledger_cash.get(key, ZERO), tx_cash.get(key, ZERO)
        if ledger != txs:
            problems.append(f"Account {key[0]} cash in {key[1]}: ledger {ledger}, transactions {txs}")

    held = {(p.account_id, p.security_id): (p.quantity, p.cost_basis, p.realized_gain) for p in Position.objects.all()}
    summed = {
        (r["account_id"], r["security_id"]): (r["q"], r["c"], r["r"])
        for r in Transaction.objects.filter(security__isnull=False)
        .values("account_id", "security_id")
        .annotate(q=Sum("quantity"), c=Sum("cost_change"), r=Sum(F("realized_gain")))
        .order_by()
    }
    for key in sorted(set(held) | set(summed)):
        have, want = held.get(key, (ZERO, ZERO, ZERO)), summed.get(key, (ZERO, ZERO, ZERO))
        if have != want:
            problems.append(f"Account {key[0]} security {key[1]}: position {have}, transactions {want}")
    return problems[: limit * 4]


def account_ids_by_number(*, numbers: list[str]) -> dict[str, int]:
    """The firm's accounts with these numbers (for choosing a user's account scope)."""
    return dict(ClientAccount.objects.filter(number__in=numbers).values_list("number", "pk"))


def account_numbers_by_id(*, ids: list[int]) -> list[str]:
    return sorted(ClientAccount.objects.filter(pk__in=ids).values_list("number", flat=True))


def assets_in_scope(*, user: Any) -> list[tuple[str, int, Decimal]]:
    """(base currency, open accounts, total NAV) of the accounts in the user's scope, for the
    dashboard: one aggregate over the scoped accounts (the denormalised NAV column)."""
    accounts = scope_accounts(
        ClientAccount.objects.exclude(status=AccountStatus.CLOSED), user=user, right=Right.ACCOUNT_INFORMATION
    )
    rows = accounts.values("base_currency").annotate(n=Count("*"), total=Sum("nav")).order_by("base_currency")
    return [(r["base_currency"], r["n"], r["total"] or ZERO) for r in rows]


@dataclass(frozen=True)
class Activity:
    """One line of the dashboard's Recent activity."""

    at: Any  # datetime
    title: str
    number: str
    url: str
    user: str
    what: str


def account_activity(*, user: Any, since: Any, limit: int = 50) -> list[Activity]:
    """Accounts opened, and accounts whose status changed (closed, restricted, reopened), since
    ``since`` within the user's scope for Account Information; newest first (three queries)."""
    scoped = scope_accounts(ClientAccount.objects.all(), user=user, right=Right.ACCOUNT_INFORMATION)
    opened = scoped.filter(created_at__gte=since).only("pk", "number", "title", "created_at").order_by("-created_at")
    rows = [
        Activity(
            a.created_at, a.title, a.number, reverse("portfolios:account-detail", args=[a.pk]), "", "Account opened"
        )
        for a in opened[:limit]
    ]
    ids = scoped.annotate(text_id=Cast("pk", CharField())).values("text_id")
    changes = list(
        account_selectors.recent_changes(
            object_type=ClientAccount._meta.label_lower, object_ids=ids, since=since, field="status", limit=limit
        )
    )
    changed = ClientAccount.objects.filter(pk__in=[int(e.object_id) for e in changes]).only("pk", "number", "title")
    accounts = {a.pk: a for a in changed} if changes else {}
    for entry in changes:
        after = entry.changes["status"][1]
        label = AccountStatus(after).label if after in AccountStatus.values else str(after)
        what = "Account closed" if after == AccountStatus.CLOSED else f"Account status: {label}"
        account = accounts.get(int(entry.object_id))
        rows.append(
            Activity(
                entry.created_at, account.title if account else entry.object_repr, account.number if account else "",
                reverse("portfolios:account-detail", args=[int(entry.object_id)]),
                entry.actor.full_name if entry.actor else "", what,
            )
        )  # fmt: skip
    return sorted(rows, key=lambda r: r.at, reverse=True)[:limit]


def master_accounts(*, user: Any, right: Right) -> QuerySet[ClientAccount]:
    """The master accounts in the user's scope for ``right``, with their own latest value (not
    their sub-accounts'), for the dashboard's Master account balance."""
    masters = ClientAccount.objects.filter(is_master=True).exclude(status=AccountStatus.CLOSED)
    return (
        scope_accounts(masters, user=user, right=right)
        .only("pk", "number", "title", "base_currency", "nav", "nav_date", "day_change")
        .order_by("number")[:5]
    )


# --- For the CRM (crm uses portfolios only through these) ----------------------------------------


def owners_in_grant(grant_id: int) -> QuerySet[Any]:
    """The contact ids owning an account the grant chose, directly or through a chosen household:
    the part of a contact scope that comes from accounts (``crm.scope.scope_contacts``)."""
    households = GrantHousehold.objects.filter(grant_id=grant_id).values("household_id")
    accounts = ClientAccount.objects.filter(
        Q(pk__in=GrantAccount.objects.filter(grant_id=grant_id).values("account_id")) | Q(household_id__in=households)
    )
    return AccountOwner.objects.filter(account__in=accounts.values("pk")).values("contact_id")


def owners_of_account_number(term: str) -> QuerySet[Any] | None:
    """Owners of accounts whose number starts with ``term`` (for the search box)."""
    number = term.upper()
    if len(number) < 3 or not any(ch.isdigit() for ch in number):
        return None  # ("1" would match every phone key too; see search.search_filter's UNION)
    accounts = ClientAccount.objects.filter(prefix_range("number", number)).values("pk")
    return AccountOwner.objects.filter(account__in=accounts).values("contact_id")


def with_accounts(contacts: QuerySet[M], *, user: Any) -> QuerySet[M]:
    """Annotate each contact with ``accounts`` (numbers of its accounts in the user's account scope)
    and ``nav`` (their total): correlated subqueries of the same statement, so a page of contacts is
    one query whatever its size."""
    owned = scope_accounts(
        AccountOwner.objects.filter(contact=OuterRef("pk")), user=user, right=Right.ACCOUNT_INFORMATION,
        account_field="account",
    )  # fmt: skip
    totals = owned.order_by().values("contact").annotate(total=Sum("account__nav")).values("total")[:1]
    return contacts.annotate(
        accounts=ArraySubquery(owned.order_by("account__number").values("account__number")),
        nav=Subquery(totals),
    )


def attach_accounts(contacts: Sequence[Any], *, user: Any) -> None:
    """Set ``accounts`` (numbers in the user's account scope) and ``nav`` (their total) on each contact."""
    by_contact: dict[int, list[tuple[str, Decimal | None, str]]] = defaultdict(list)
    if contacts:
        owners = scope_accounts(
            AccountOwner.objects.filter(contact_id__in=[c.pk for c in contacts]),
            user=user,
            right=Right.ACCOUNT_INFORMATION,
            account_field="account",
        ).values_list("contact_id", "account__number", "account__nav", "account__base_currency")
        for contact_id, number, nav, currency in owners.order_by("account__number"):
            by_contact[contact_id].append((number, nav, currency))
    for contact in contacts:
        rows = by_contact.get(contact.pk, [])
        contact.accounts = [number for number, _, _ in rows]
        navs = [nav for _, nav, _ in rows if nav is not None]
        contact.nav = sum(navs, Decimal(0)) if navs else None


def contact_accounts(*, user: Any, contact: Any) -> list[ClientAccount]:
    """The contact's accounts in the user's account scope, with their NAV."""
    accounts = ClientAccount.objects.filter(accountowner__contact=contact).order_by("number")
    return list(scope_accounts(accounts, user=user, right=Right.ACCOUNT_INFORMATION))


def household_account_totals(*, user: Any, household: Any) -> QuerySet[Any]:
    """Per household (``household`` is usually ``OuterRef("pk")``): ``n`` accounts in the user's account
    scope and ``aum``, their NAV total, for a correlated subquery."""
    accounts = scope_accounts(
        ClientAccount.objects.filter(household=household), user=user, right=Right.ACCOUNT_INFORMATION
    )
    return accounts.order_by().values("household").annotate(n=Count("*"), aum=Sum("nav"))


def account_owners(*, contact_ids: Any = None, numbers: Any = None) -> QuerySet[AccountOwner]:
    """Ownership rows (contact, account), optionally of the given contacts or account numbers
    (either may be a list or an SQL expression of ids / numbers)."""
    owners = AccountOwner.objects.all()
    if contact_ids is not None:
        owners = owners.filter(contact_id__in=contact_ids)
    if numbers is not None:
        owners = owners.filter(account__number__in=numbers)
    return owners


def convert(amount: Decimal, *, from_currency: str, to_currency: str, on: date | None = None) -> Decimal | None:
    """``amount`` in ``to_currency`` at the latest rates on or before ``on`` (today), through US
    dollars; None when a rate is missing."""
    if from_currency == to_currency:
        return amount
    on = on or timezone.localdate()
    rates: dict[str, Decimal] = {"USD": Decimal(1)}
    for currency in {from_currency, to_currency} - {"USD"}:
        rate = (
            FxRate.objects.filter(currency=currency, date__lte=on)
            .order_by("-date")
            .values_list("rate_to_usd", flat=True)
            .first()
        )
        if rate is None or rate <= 0:
            return None
        rates[currency] = rate
    return amount * rates[from_currency] / rates[to_currency]


def currency_known(code: str) -> bool:
    """Whether the product can value ``code``: US dollars, or a currency with an exchange rate (one
    index probe, where ``known_currencies`` reads the whole rate table)."""
    return code == "USD" or FxRate.objects.filter(currency=code).exists()


def known_currencies() -> frozenset[str]:
    """The currencies the product can value: US dollars and every currency with an exchange rate."""
    return frozenset({"USD", *FxRate.objects.values_list("currency", flat=True).distinct()})


def primary_owner(*, account: ClientAccount) -> Any:
    """The account's primary owner (else its first owner), or None."""
    owner = (
        AccountOwner.objects.filter(account=account)
        .select_related("contact")
        .order_by(Case(When(role="primary", then=0), default=1), "id")
        .first()
    )
    return owner.contact if owner is not None else None


def owner_ids(*, account: ClientAccount) -> set[int]:
    return set(AccountOwner.objects.filter(account=account).values_list("contact_id", flat=True))


def owner_ids_by_account(*, account_ids: Iterable[int]) -> dict[int, set[int]]:
    """``owner_ids`` of many accounts in one query (accounts without owners are left out)."""
    owners: dict[int, set[int]] = {}
    for account_id, contact_id in AccountOwner.objects.filter(account_id__in=set(account_ids)).values_list(
        "account_id", "contact_id"
    ):
        owners.setdefault(account_id, set()).add(contact_id)
    return owners


def held_quantity(*, account: ClientAccount, security: Any) -> Decimal:
    position = Position.objects.filter(account=account, security=security).only("quantity").first()
    return position.quantity if position is not None else Decimal(0)
