"""The figures of one statement, computed once by the worker and stored on it (``Statement.figures``):
the PDF, the CSV and the Excel workbook are all drawn from them, so the three always agree.

Everything is JSON: amounts and rates are decimal strings (amounts to the currency's minor unit,
rates to ten places), dates ISO 8601. Conventions are those of the performance pages
(docs/reports.md, "Performance"): a period runs from the close of its base day (the last close
before its first day) to its last close; the base day's flows are in the opening value.

- **Balances** (in the subject's currency, from the daily values): opening value, net deposits and
  withdrawals (external flows), fees (less refunds), the investment result (the change in value
  less the flows: net of fees), closing value; income (dividends and interest) is shown as part
  of that result.
- **Positions** at the period's end: each security's quantity and cost (the sum of its
  transactions to that day), its last close on or before that day, the market value in the
  position's currency and in the subject's; cash per currency.
- **Transactions** and **fees** of the period, by trade date, in their own currency.
- **Performance**: the period itself and MTD … since inception as of its end, net and gross of
  fees, time-weighted, money-weighted and Modified Dietz, beside the benchmark; and why the time-
  and money-weighted returns differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import OuterRef, Subquery, Sum

from advisorportal import formats
from portfolios import selectors as book
from portfolios.accounting import FEE_KINDS
from portfolios.models import AssetClass, SecurityPrice, Transaction
from reports import charts
from reports import selectors as performance_reads
from reports.performance import PerformanceInputError, PeriodPerformance
from reports.selectors import Subject

ZERO = Decimal(0)
INCOME_KINDS = ("dividend", "interest")
MAX_TRANSACTIONS = 2000  # a statement lists at most this many (the count says how many more)


class StatementInputError(ValueError):
    """A period that cannot be reported on, with the field it is about (start, end, benchmark)."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _plain(value: Decimal) -> str:
    """A quantity or price as written, without trailing zeros or an exponent: 500, 0.125."""
    return f"{value.normalize():f}"


def _money(value: Decimal | None, currency: str) -> str | None:
    return None if value is None else str(formats.round_money(value, currency))


@dataclass(frozen=True)
class Request:
    subject: Subject
    start: date
    end: date
    benchmark: str
    today: date
    date_format: str


def check_period(*, start: date, end: date, inception: date, today: date, date_format: str) -> None:
    """The period's own rules, before anything is made: not in the future, not before the
    subject's inception, the end on or after the start."""

    def day(value: date) -> str:
        return formats.day(value, date_format)

    if end > today:
        raise StatementInputError(f"The end, {day(end)}, is in the future: choose today or earlier.", field="end")
    if start > today:
        raise StatementInputError(f"The start, {day(start)}, is in the future: choose today or earlier.", field="start")
    if end < start:
        raise StatementInputError("The end is before the start: choose an end on or after the start.", field="end")
    if start < inception:
        raise StatementInputError(
            f"The start, {day(start)}, is before inception ({day(inception)}): choose a start on or after it.",
            field="start",
        )


def compute(request: Request) -> dict[str, Any]:
    """Every figure of the statement (see the module's doc). ``StatementInputError`` when the
    period cannot be measured (no daily values in it yet, an unknown benchmark)."""
    subject, start, end = request.subject, request.start, request.end

    def day(value: date) -> str:
        return formats.day(value, request.date_format)

    notes: list[str] = []
    try:
        page = performance_reads.performance(
            subject=subject, start=start, end=end, benchmark=request.benchmark, today=request.today, day=day
        )
    except PerformanceInputError as error:
        if error.field != "start":
            raise StatementInputError(error.message, field=error.field) from None
        # The start is on or after inception (checked before) but before the first daily value (a
        # holiday, a first deposit days later): measure from the first value.
        whole = performance_reads.performance(
            subject=subject, benchmark=request.benchmark, today=request.today, day=day
        )
        if whole.series is None:
            raise StatementInputError("There are no daily values yet: nothing to report.", field="start") from None
        first = whole.series.days[0]
        if end < first:
            raise StatementInputError(
                f"The period ends before the daily values begin ({day(first)}): choose a later period.", field="end"
            ) from None
        notes.append(f"The daily values begin on {day(first)}: the period is measured from then.")
        try:
            page = performance_reads.performance(
                subject=subject, start=first, end=end, benchmark=request.benchmark, today=request.today, day=day,
                choices=whole.benchmark_choices,
            )  # fmt: skip
        except PerformanceInputError as again:
            raise StatementInputError(again.message, field=again.field) from None
    if page.series is None or page.performance is None:
        raise StatementInputError("There are no daily values yet: nothing to report.", field="start")
    result = page.performance
    assert result is not None and page.series is not None
    custom = result.custom
    assert custom is not None
    currency = subject.currency
    ids = [a.pk for a in subject.accounts]
    numbers = {a.pk: a.number for a in subject.accounts}
    if custom.end < end:
        notes.append(f"Daily values are in to {day(custom.end)}: the figures stop there.")
    if subject.left_out:
        left = ", ".join(a.number for a in subject.left_out)
        notes.append(f"Accounts in another base currency are not included: {left}.")
    income = _sum(ids, start, end, INCOME_KINDS, currency)
    positions, cash, allocation = _positions(ids, numbers, end, currency)
    transactions, more = _transactions(ids, numbers, start, end)
    fees = [t for t in transactions if t["kind_code"] in FEE_KINDS]
    chart = None
    if page.window is not None:
        drawn = charts.growth_chart(page.series, page.window, page.levels)
        if drawn is not None:
            chart = {
                "points": drawn.points, "benchmark_points": drawn.benchmark_points, "baseline_y": drawn.baseline_y,
                "first": _s(drawn.first.growth), "last": _s(drawn.last.growth), "low": _s(drawn.low),
                "high": _s(drawn.high), "first_date": drawn.first.date.isoformat(),
                "last_date": drawn.last.date.isoformat(),
            }  # fmt: skip
    return {
        "version": 1,
        "currency": currency,
        "subject": {
            "kind": subject.kind,
            "name": subject.name,
            "accounts": [
                {"number": a.number, "title": a.title, "type": a.get_account_type_display()} for a in subject.accounts
            ],
        },
        "period": {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "base": custom.base.isoformat() if custom.base else None,
            "as_of": custom.end.isoformat(),
        },
        "benchmark": result.benchmark,
        "summary": {
            "opening": _money(custom.start_value, currency),
            "flows": _money(custom.flows, currency),
            "fees": _money(custom.fees, currency),
            "gain": _money(custom.gain, currency),
            "income": _money(income, currency),
            "closing": _money(custom.end_value, currency),
            "cash": _money(sum((c["value_base"] for c in cash if c["value_base"] is not None), ZERO), currency),
        },
        "performance": [_period(custom, "This period"), *(_period(p, p.label) for p in result.periods)],
        "timing": custom.timing.text if custom.timing else "",
        "undefined": custom.undefined,
        "performance_notes": custom.notes,
        "positions": positions,
        "cash": [{**c, "value": _s(c["value"]), "value_base": _s(c["value_base"])} for c in cash],
        "allocation": allocation,
        "transactions": transactions,
        "transactions_more": more,
        "fees": fees,
        "fees_total": _money(sum((Decimal(t["amount"]) for t in fees if t["currency"] == currency), ZERO), currency),
        "chart": chart,
        "notes": notes,
    }


def _period(p: PeriodPerformance, label: str) -> dict[str, Any]:
    net, gross = p.net, p.gross
    return {
        "code": p.code,
        "label": label,
        "base": p.base.isoformat() if p.base else None,
        "end": p.end.isoformat(),
        "twr": _s(net.twr) if net else None,
        "twr_annualised": _s(net.twr_annualised) if net else None,
        "mwr": _s(net.mwr) if net else None,
        "mwr_annualised": _s(net.mwr_annualised) if net else None,
        "modified_dietz": _s(net.modified_dietz) if net else None,
        "gross_twr": _s(gross.twr) if gross else None,
        "gross_mwr": _s(gross.mwr) if gross else None,
        "benchmark": _s(p.benchmark),
        "benchmark_annualised": _s(p.benchmark_annualised),
        "undefined": p.undefined,
    }


def _sum(ids: Sequence[int], start: date, end: date, kinds: Sequence[str], currency: str) -> Decimal:
    rows = (
        Transaction.objects.filter(account__in=ids, trade_date__gte=start, trade_date__lte=end, kind__in=kinds)
        .values_list("currency")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    total = ZERO
    for code, amount in rows:
        value = book.convert(amount, from_currency=code, to_currency=currency, on=end)
        total += value if value is not None else ZERO
    return total


ASSET_CLASSES = dict(AssetClass.choices)


def _positions(
    ids: Sequence[int], numbers: dict[int, str], end: date, currency: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Holdings at the close of ``end`` from the transactions to that day (two queries: the sums
    with each security's last close as a per-row index probe, and the cash)."""
    last_close = SecurityPrice.objects.filter(security=OuterRef("security_id"), date__lte=end).order_by("-date")
    held = (
        Transaction.objects.filter(account__in=ids, trade_date__lte=end, security__isnull=False)
        .values("account_id", "security_id", "security__symbol", "security__name", "security__asset_class", "currency")
        .annotate(quantity_held=Sum("quantity"), cost=Sum("cost_change"))
        .exclude(quantity_held=0)
        .annotate(close=Subquery(last_close.values("close")[:1]), close_date=Subquery(last_close.values("date")[:1]))
        .order_by("security__symbol", "account_id")
    )
    positions: list[dict[str, Any]] = []
    weights: dict[str, Decimal] = {}
    for row in held:
        code = row["currency"]
        quantity, cost, close = row["quantity_held"], row["cost"] or ZERO, row["close"]
        value = formats.round_money(quantity * close, code) if close is not None else None
        value_base = (
            book.convert(value, from_currency=code, to_currency=currency, on=end) if value is not None else None
        )
        value_base = formats.round_money(value_base, currency) if value_base is not None else None
        asset_class = ASSET_CLASSES.get(row["security__asset_class"], row["security__asset_class"] or "Other")
        if value_base is not None:
            weights[asset_class] = weights.get(asset_class, ZERO) + value_base
        positions.append({
            "account": numbers.get(row["account_id"], ""),
            "symbol": row["security__symbol"],
            "name": row["security__name"],
            "asset_class": asset_class,
            "currency": code,
            "quantity": _plain(quantity),
            "price": _s(close),
            "price_date": row["close_date"].isoformat() if row["close_date"] else None,
            "value": _s(value),
            "value_base": _s(value_base),
            "cost": str(formats.round_money(cost, code)),
            "unrealized": _s(value - formats.round_money(cost, code)) if value is not None else None,
        })  # fmt: skip
    cash_rows = (
        Transaction.objects.filter(account__in=ids, trade_date__lte=end)
        .values_list("currency")
        .annotate(total=Sum("amount"))
        .order_by("currency")
    )
    cash: list[dict[str, Any]] = []
    for code, total in cash_rows:
        if not total:
            continue
        value = formats.round_money(total, code)
        converted = book.convert(value, from_currency=code, to_currency=currency, on=end)
        value_base = formats.round_money(converted, currency) if converted is not None else None
        cash.append({"currency": code, "value": value, "value_base": value_base})
        if value_base is not None:
            weights["Cash"] = weights.get("Cash", ZERO) + value_base
    whole = sum(weights.values(), ZERO)
    allocation = [
        {"asset_class": name, "value": str(value), "weight": str((value / whole).quantize(Decimal("1e-6")))}
        for name, value in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))
        if whole > 0
    ]
    return positions, cash, allocation


def _transactions(
    ids: Sequence[int], numbers: dict[int, str], start: date, end: date
) -> tuple[list[dict[str, Any]], int]:
    rows = (
        Transaction.objects.filter(account__in=ids, trade_date__gte=start, trade_date__lte=end)
        .select_related("security")
        .order_by("trade_date", "id")
    )
    out: list[dict[str, Any]] = []
    count = 0
    for t in rows.iterator(chunk_size=1000):
        count += 1
        if len(out) >= MAX_TRANSACTIONS:
            continue
        out.append({
            "date": t.trade_date.isoformat(),
            "account": numbers.get(t.account_id, ""),
            "kind_code": t.kind,
            "kind": t.get_kind_display(),
            "symbol": t.security.symbol if t.security_id and t.security else "",
            "description": t.description,
            "quantity": _plain(t.quantity) if t.quantity else "",
            "price": _plain(t.price) if t.price is not None else "",
            "amount": str(formats.round_money(t.amount, t.currency)),
            "currency": t.currency,
        })  # fmt: skip
    return out, count - len(out)
