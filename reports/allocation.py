"""Allocation at a period's end and contribution by position over a period (issue #19, point 1).

Both value holdings exactly as the daily values do (``portfolios.performance``): a holding is the
sum of its transactions up to the day (a weekend's count on the next business day), worth its
quantity × the security's last close on or before the day (before its first close: its last trade
price in the subject's accounts), converted to the subject's base currency at the last rates on or
before the day (US dollars per unit, so a → b is usd(a) ÷ usd(b)); cash is the sum of the amounts
per currency, converted the same way. A currency without a rate yet is left out, as from the NAV.

Reads, in a handful of statements whatever the length of the history:

1. the holdings of every measured account on the wanted days (at most two: the period's base and
   end) in one statement: each account's ``SeriesState`` (its holdings at its last computed day,
   as exact integers) less the transactions after the day, or plus those up to it when the
   account's state is older, summed per security and per cash currency in SQL;
2. the securities' descriptions and closes on those days (one statement, a per-row index probe);
3. the exchange rates on those days (one statement);
4. for contribution, the period's transactions in securities, dividends and interest summed per
   security and currency in SQL (per day only where a conversion or a market value needs the
   day), and the closes and rates of those days when there are any (one statement each).

So a household of ten accounts over five years is five or six small queries, not a loop over days.

**Contribution** of position i over a period from the close of ``base`` to that of ``end``:

    gain_i = MV_i(end) - MV_i(base) + cash_i - moved_i
    contribution_i = gain_i / (V(base) + Σ F_d × (CD - D) / CD)

``cash_i`` is what the position put into (sales, dividends) or took out of (purchases) the cash,
each amount converted at its day's rates; ``moved_i`` is what was transferred in as positions
(less what went out), at market value, as the daily values count it. The denominator is the
subject's Modified Dietz capital (starting value plus the day-weighted external flows), so the
contributions of the positions, of the interest, of the fees and of the rest (exchange-rate changes
on cash) add up to the subject's Modified Dietz return net of fees over the period, exactly up to
rounding; they are not a split of the time-weighted return (which has no such additive split when
money comes and goes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import QuerySet

from advisorportal.formats import round_money
from advisorportal.tenancy.context import require_firm_id
from portfolios.accounting import EXTERNAL_POSITION_KINDS
from portfolios.models import AssetClass, ClientAccount, FxRate, Security, SecurityPrice, SeriesState, Transaction
from reports.performance import RATE_PLACES, PeriodPerformance, Series

ZERO = Decimal(0)
UNCLASSIFIED = "Unclassified"
CASH = "Cash"
ASSET_CLASSES = dict(AssetClass.choices)
DIMENSIONS = (("asset_class", "Asset class"), ("sector", "Sector"), ("region", "Region"), ("currency", "Currency"))
SHOWN = 5  # top and bottom contributors


@dataclass(frozen=True)
class Line:
    label: str
    value: Decimal  # in the subject's currency, to its minor unit
    weight: Decimal | None  # of the total; None when the total is not positive
    cash: bool = False  # the cash line (or, by currency, how much of the line is cash: ``cash_value``)
    cash_value: Decimal = ZERO

    @property
    def percent(self) -> Decimal | None:
        return None if self.weight is None else self.weight * 100


@dataclass(frozen=True)
class Breakdown:
    key: str  # asset_class, sector, region, currency
    label: str
    lines: list[Line]


@dataclass(frozen=True)
class Allocation:
    as_of: date
    currency: str
    total: Decimal
    breakdowns: list[Breakdown]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PositionContribution:
    security_id: int | None  # None: a line that is not a position (interest, fees, other)
    symbol: str
    name: str
    start_value: Decimal
    end_value: Decimal
    net_bought: Decimal  # purchases less sales (and positions moved in less out), at their day's value
    income: Decimal  # dividends
    gain: Decimal  # price change plus income
    contribution: Decimal | None  # gain / the Modified Dietz capital

    @property
    def label(self) -> str:
        return f"{self.symbol} · {self.name}" if self.symbol else self.name


@dataclass(frozen=True)
class Contribution:
    code: str
    label: str
    base: date
    end: date
    capital: Decimal  # V(base) + the day-weighted flows
    total_gain: Decimal  # V(end) - V(base) - flows, net of fees
    total: Decimal | None  # the sum of every line's contribution (the Modified Dietz return)
    positions: list[PositionContribution]  # by contribution, highest first
    others: list[PositionContribution]  # interest, fees, the rest
    top: list[PositionContribution]
    bottom: list[PositionContribution]
    undefined: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def method(self) -> str:
        return METHOD


METHOD = (
    "Each position's gain over the period (value at the end - value at the start + what it paid into cash: sales "
    "and dividends less purchases - positions moved in at market value), divided by the subject's Modified Dietz "
    "capital (starting value + each external flow weighted by (CD - D) / CD). With the interest, the fees and the "
    "rest (exchange-rate changes on cash, rounding) the lines add up to the Modified Dietz return net of fees."
)


# --- Reads ----------------------------------------------------------------------------------------


def _accounts(subject: Any) -> tuple[str, dict[str, Any]]:
    """The SQL condition on ``account_id`` for the subject's measured accounts, and its parameters."""
    measured: QuerySet[ClientAccount] | None = subject.measured
    if measured is None:
        return "= ANY(%(ids)s::bigint[])", {"ids": [a.pk for a in subject.accounts]}
    sql, params = measured.order_by().values("pk").query.sql_with_params()
    names = {f"a{i}": value for i, value in enumerate(params)}
    return f"IN ({sql % tuple(f'%({name})s' for name in names)})", names


_STATE, _TX = SeriesState._meta.db_table, Transaction._meta.db_table


def _holdings(subject: Any, days: Sequence[date]) -> dict[date, tuple[dict[int, Decimal], dict[str, Decimal]]]:
    """The measured accounts' securities (units) and cash (per currency) at the close of each of
    ``days``, summed over the accounts, in one statement."""
    condition, params = _accounts(subject)
    sql = f"""
        WITH st AS (
            SELECT account_id, as_of, security_ids, quantities, currencies, cash FROM {_STATE}
            WHERE firm_id = %(firm)s AND account_id {condition}
        ), d AS (SELECT unnest(%(days)s::date[]) AS day),
        moves AS (
            SELECT d.day, t.security_id, t.currency,
                sum(CASE WHEN t.trade_date > st.as_of THEN t.quantity ELSE -t.quantity END) AS qty,
                sum(CASE WHEN t.trade_date > st.as_of THEN t.amount ELSE -t.amount END) AS cash
            FROM st CROSS JOIN d
            JOIN {_TX} t ON t.firm_id = %(firm)s AND t.account_id = st.account_id
                AND t.trade_date > least(d.day, st.as_of) AND t.trade_date <= greatest(d.day, st.as_of)
            GROUP BY 1, 2, 3
        )
        SELECT day, 's', key, sum(units) FROM (
            SELECT d.day, u.sec::text AS key, u.qty::numeric / 1000000 AS units
            FROM st CROSS JOIN d CROSS JOIN LATERAL unnest(st.security_ids, st.quantities) AS u(sec, qty)
            UNION ALL SELECT day, security_id::text, qty FROM moves WHERE security_id IS NOT NULL
        ) s GROUP BY 1, 3 HAVING sum(units) <> 0
        UNION ALL
        SELECT day, 'c', key, sum(units) FROM (
            SELECT d.day, u.ccy::text AS key, u.units::numeric / 10000 AS units
            FROM st CROSS JOIN d CROSS JOIN LATERAL unnest(st.currencies, st.cash) AS u(ccy, units)
            UNION ALL SELECT day, currency::text, cash FROM moves
        ) c GROUP BY 1, 3 HAVING sum(units) <> 0
    """  # noqa: S608 - table names from model metadata, the condition from the ORM
    out: dict[date, tuple[dict[int, Decimal], dict[str, Decimal]]] = {d: ({}, {}) for d in days}
    with connection.cursor() as cursor:
        cursor.execute(sql, {"firm": require_firm_id(), "days": list(days), **params})
        for day, what, key, units in cursor.fetchall():
            securities, cash = out[day]
            if what == "s":
                securities[int(key)] = units
            else:
                cash[key] = units
    return out


@dataclass(frozen=True)
class _Security:
    symbol: str
    name: str
    asset_class: str
    sector: str
    region: str
    currency: str


_PRICE_SQL = "coalesce(t.price, CASE WHEN t.quantity <> 0 THEN abs(t.cost_change / t.quantity) END, 0)"


def _securities(
    subject: Any, pairs: Sequence[tuple[int, date]]
) -> tuple[dict[int, _Security], dict[tuple[int, date], Decimal | None]]:
    """The securities of ``pairs`` and each pair's price on its day: the last close on or before
    it, else (no close yet) the last trade price in the subject's accounts up to it. One statement."""
    if not pairs:
        return {}, {}
    condition, params = _accounts(subject)
    security, price = Security._meta.db_table, SecurityPrice._meta.db_table
    sql = f"""
        SELECT s.id, s.symbol, s.name, s.asset_class, s.sector, s.region, s.currency, x.day, coalesce(
            (SELECT p.close FROM {price} p WHERE p.security_id = s.id AND p.date <= x.day ORDER BY p.date DESC LIMIT 1),
            (SELECT {_PRICE_SQL} FROM {_TX} t WHERE t.firm_id = %(firm)s AND t.account_id {condition}
                AND t.security_id = s.id AND t.trade_date <= x.day AND {_PRICE_SQL} > 0
                ORDER BY t.trade_date DESC, t.id DESC LIMIT 1))
        FROM unnest(%(ids)s::bigint[], %(days)s::date[]) AS x(id, day) JOIN {security} s ON s.id = x.id
    """  # noqa: S608 - table names from model metadata, the condition from the ORM
    described: dict[int, _Security] = {}
    prices: dict[tuple[int, date], Decimal | None] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            sql, {"firm": require_firm_id(), **params, "ids": [p[0] for p in pairs], "days": [p[1] for p in pairs]}
        )
        for pk, symbol, name, asset_class, sector, region, currency, day, close in cursor.fetchall():
            described[pk] = _Security(symbol, name, asset_class, sector, region, currency)
            prices[(pk, day)] = close
    return described, prices


def _rates(pairs: set[tuple[str, date]]) -> dict[tuple[str, date], Decimal | None]:
    """US dollars per unit of each currency on each day (the last rate on or before it; None: none,
    or zero). One statement."""
    wanted = sorted(p for p in pairs if p[0] != "USD")
    out: dict[tuple[str, date], Decimal | None] = {p: Decimal(1) for p in pairs if p[0] == "USD"}
    if not wanted:
        return out
    table = FxRate._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT x.ccy, x.day, (SELECT r.rate_to_usd FROM {table} r WHERE r.currency = x.ccy AND r.date <= x.day "  # noqa: S608
            "ORDER BY r.date DESC LIMIT 1) FROM unnest(%s::text[], %s::date[]) AS x(ccy, day)",
            [[p[0] for p in wanted], [p[1] for p in wanted]],
        )
        for currency, day, rate in cursor.fetchall():
            out[(currency, day)] = rate if rate else None
    return out


def _business(day: date) -> date:
    """The business day a transaction dated ``day`` counts on (a weekend's: the Monday after)."""
    result: date = np.busday_offset(np.datetime64(day, "D"), 0, roll="forward").astype(date)
    return result


class _Valuer:
    """Converts into the subject's currency at the rates of a day (read in bulk beforehand)."""

    def __init__(self, currency: str, rates: dict[tuple[str, date], Decimal | None]) -> None:
        self.currency, self.rates = currency, rates

    def convert(self, amount: Decimal, currency: str, day: date) -> Decimal | None:
        if currency == self.currency:
            return amount
        source, target = self.rates.get((currency, day)), self.rates.get((self.currency, day))
        if source is None or target is None:
            return None
        return amount * source / target


def _label(value: str) -> str:
    return value.strip() or UNCLASSIFIED


def _values(
    holdings: tuple[dict[int, Decimal], dict[str, Decimal]], day: date, described: dict[int, _Security],
    prices: dict[tuple[int, date], Decimal | None], valuer: _Valuer, notes: list[str],
) -> tuple[dict[int, Decimal], dict[str, Decimal]]:  # fmt: skip
    """Each security's and each cash currency's value on ``day`` in the subject's currency
    (unrounded); what cannot be valued is named in ``notes`` and left out."""
    securities, cash = holdings
    by_security: dict[int, Decimal] = {}
    for pk, units in securities.items():
        security, price = described[pk], prices.get((pk, day))
        if price is None:
            notes.append(f"{security.symbol} has no price on or before {day.isoformat()}: left out.")
            continue
        value = valuer.convert(units * price, security.currency, day)
        if value is None:
            notes.append(f"{security.symbol} is in {security.currency}, which has no exchange rate yet: left out.")
            continue
        by_security[pk] = value
    by_currency: dict[str, Decimal] = {}
    for currency, units in cash.items():
        value = valuer.convert(units, currency, day)
        if value is None:
            notes.append(f"Cash in {currency} has no exchange rate yet: left out.")
            continue
        by_currency[currency] = value
    return by_security, by_currency


def _weight(value: Decimal, total: Decimal) -> Decimal | None:
    return (value / total).quantize(RATE_PLACES, rounding=ROUND_HALF_UP) if total > 0 else None


def _allocation(
    day: date, currency: str, described: dict[int, _Security], by_security: dict[int, Decimal],
    by_cash: dict[str, Decimal], notes: list[str],
) -> Allocation:  # fmt: skip
    money = lambda value: round_money(value, currency)  # noqa: E731
    cash_total = sum(by_cash.values(), ZERO)
    total = money(sum(by_security.values(), ZERO) + cash_total)
    breakdowns = []
    for key, title in DIMENSIONS:
        sums: dict[str, Decimal] = {}
        in_cash: dict[str, Decimal] = {}
        for pk, value in by_security.items():
            security = described[pk]
            raw = getattr(security, key)
            label = ASSET_CLASSES.get(raw, _label(raw)) if key == "asset_class" else _label(raw)
            sums[label] = sums.get(label, ZERO) + value
        if key == "currency":
            for code, value in by_cash.items():
                sums[code] = sums.get(code, ZERO) + value
                in_cash[code] = in_cash.get(code, ZERO) + value
        lines = [
            Line(label, money(value), _weight(money(value), total), cash_value=money(in_cash.get(label, ZERO)))
            for label, value in sorted(sums.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        if key != "currency" and by_cash:
            lines.append(Line(CASH, money(cash_total), _weight(money(cash_total), total), cash=True))
        breakdowns.append(Breakdown(key, title, lines))
    if total <= 0 and (by_security or by_cash):
        notes.append("The total is not positive (borrowing exceeds the holdings): no weights are shown.")
    return Allocation(day, currency, total, breakdowns, notes)


def allocation(*, subject: Any, as_of: date) -> Allocation:
    """The subject's allocation at the close of ``as_of`` by asset class, sector, region and
    currency (cash its own line, and by currency in its own currency)."""
    held = _holdings(subject, [as_of])[as_of]
    described, prices = _securities(subject, [(pk, as_of) for pk in sorted(held[0])])
    currencies = {subject.currency, *held[1], *(s.currency for s in described.values())}
    valuer = _Valuer(subject.currency, _rates({(c, as_of) for c in currencies}))
    notes: list[str] = []
    by_security, by_cash = _values(held, as_of, described, prices, valuer, notes)
    return _allocation(as_of, subject.currency, described, by_security, by_cash, notes)


def _period_activity(subject: Any, base: date, end: date) -> list[tuple[Any, ...]]:
    """The period's transactions that belong to a position or are income, summed per (security,
    currency, kind of row) in SQL, per day only where the day matters (another currency, or a
    position moved at its day's market value): (security, currency, what, day, amount, quantity,
    price)."""
    condition, params = _accounts(subject)
    sql = f"""
        SELECT t.security_id, t.currency,
            CASE WHEN t.kind = ANY(%(moved)s::text[]) THEN 'moved' WHEN t.kind = 'dividend' THEN 'income'
                 WHEN t.kind = 'interest' THEN 'interest' ELSE 'trade' END AS what,
            CASE WHEN t.currency = %(base)s AND NOT t.kind = ANY(%(moved)s::text[]) THEN NULL ELSE t.trade_date END,
            sum(t.amount), sum(t.quantity), max({_PRICE_SQL})
        FROM {_TX} t
        WHERE t.firm_id = %(firm)s AND t.account_id {condition}
            AND EXISTS (SELECT 1 FROM {_STATE} s WHERE s.firm_id = t.firm_id AND s.account_id = t.account_id)
            AND t.trade_date > %(start)s AND t.trade_date <= %(end)s
            AND (t.security_id IS NOT NULL OR t.kind IN ('dividend', 'interest'))
        GROUP BY 1, 2, 3, 4
    """  # noqa: S608 - table names from model metadata, the condition from the ORM
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {"firm": require_firm_id(), "moved": sorted(EXTERNAL_POSITION_KINDS), "base": subject.currency,
             "start": base, "end": end, **params},
        )  # fmt: skip
        return list(cursor.fetchall())


def _capital(series: Series, base: int, end: int) -> Decimal:
    """V(base) + Σ F_d × (CD - D) / CD: the Modified Dietz capital, as ``reports.returns`` weighs it."""
    start = series.days[base]
    days = Decimal((series.days[end] - start).days)
    weighted = sum(
        (series.flow[i] * (days - (series.days[i] - start).days) / days for i in range(base + 1, end + 1)), ZERO
    )
    return series.nav[base] + weighted


def contribution(*, subject: Any, series: Series, period: PeriodPerformance) -> Contribution:
    """Each position's contribution to the subject's return over ``period`` (one of the measured
    periods), with the interest, the fees and the rest, adding up to its Modified Dietz return."""
    assert period.base is not None
    base_day, end_day = period.base, period.end
    base, end = series.days.index(base_day), series.days.index(end_day)
    currency = subject.currency
    money = lambda value: round_money(value, currency)  # noqa: E731
    held = _holdings(subject, [base_day, end_day])
    rows = _period_activity(subject, base_day, end_day)
    moved_days = {(r[0], _business(r[3])) for r in rows if r[2] == "moved"}
    pairs = sorted({*((pk, d) for d in (base_day, end_day) for pk in held[d][0]), *moved_days,
                    *((r[0], base_day) for r in rows if r[0] is not None)})  # fmt: skip
    described, prices = _securities(subject, pairs)
    days_needed = {base_day, end_day, *(_business(r[3]) for r in rows if r[3] is not None)}
    currencies = {currency, *(s.currency for s in described.values()), *(r[1] for r in rows),
                  *held[base_day][1], *held[end_day][1]}  # fmt: skip
    valuer = _Valuer(currency, _rates({(c, d) for c in currencies for d in days_needed}))
    notes: list[str] = []
    start_values, _ = _values(held[base_day], base_day, described, prices, valuer, notes)
    end_values, _ = _values(held[end_day], end_day, described, prices, valuer, notes)
    cash: dict[int, Decimal] = {}
    moved: dict[int, Decimal] = {}
    income: dict[int, Decimal] = {}
    interest = ZERO
    for security_id, code, what, day, amount, quantity, price in rows:
        on = _business(day) if day is not None else end_day
        if what == "moved":
            close = prices.get((security_id, on))
            unit = close if close is not None else (price or None)
            worth = valuer.convert(quantity * unit, described[security_id].currency, on) if unit is not None else None
            if worth is None:
                notes.append(f"A position transfer of {described[security_id].symbol} could not be valued.")
                continue
            moved[security_id] = moved.get(security_id, ZERO) + worth
            continue
        converted = valuer.convert(amount, code, on)
        if converted is None:
            notes.append(f"Amounts in {code} have no exchange rate: left to the rest.")
            continue
        if security_id is None or what == "interest":
            interest += converted  # interest, and a dividend recorded without its security
            continue
        cash[security_id] = cash.get(security_id, ZERO) + converted
        if what == "income":
            income[security_id] = income.get(security_id, ZERO) + converted
    total_gain = series.nav[end] - series.nav[base] - sum(series.flow[base + 1 : end + 1], ZERO)
    fees = sum(series.fee[base + 1 : end + 1], ZERO)
    capital = _capital(series, base, end)
    undefined = ""
    if capital <= 0:
        undefined = (
            f"The capital invested over the period (the starting value plus the day-weighted flows, "
            f"{money(capital):,.2f} {currency}) is not positive, so no contribution can be measured."
        )

    def share(gain: Decimal) -> Decimal | None:
        return (gain / capital).quantize(RATE_PLACES, rounding=ROUND_HALF_UP) if capital > 0 else None

    positions = []
    for pk in sorted(set(start_values) | set(end_values) | set(cash) | set(moved)):
        security = described[pk]
        first, last = start_values.get(pk, ZERO), end_values.get(pk, ZERO)
        bought = moved.get(pk, ZERO) - cash.get(pk, ZERO) + income.get(pk, ZERO)
        gain = last - first + cash.get(pk, ZERO) - moved.get(pk, ZERO)
        positions.append(
            PositionContribution(pk, security.symbol, security.name, money(first), money(last), money(bought),
                                 money(income.get(pk, ZERO)), money(gain), share(gain))
        )  # fmt: skip
    positions.sort(key=lambda p: (-(p.contribution or ZERO), -p.gain, p.symbol))
    rest = total_gain - sum((p.gain for p in positions), ZERO) - money(interest) - fees
    others = [
        PositionContribution(None, "", "Interest on cash", ZERO, ZERO, ZERO, money(interest), money(interest),
                             share(money(interest))),
        PositionContribution(None, "", "Fees", ZERO, ZERO, ZERO, ZERO, fees, share(fees)),
        PositionContribution(None, "", "Cash: exchange-rate changes and rounding", ZERO, ZERO, ZERO, ZERO,
                             money(rest), share(money(rest))),
    ]  # fmt: skip
    total = (total_gain / capital).quantize(RATE_PLACES, rounding=ROUND_HALF_UP) if capital > 0 else None
    if notes:
        notes.append("What could not be valued is in the last line, so the lines still add up to the total.")
    ranked = [p for p in positions if p.contribution is not None]
    top = ranked[:SHOWN]
    bottom = [p for p in reversed(ranked) if p not in top][:SHOWN]
    return Contribution(
        period.code, period.label, base_day, end_day, money(capital), money(total_gain), total, positions, others,
        top, bottom, undefined, notes,
    )  # fmt: skip
