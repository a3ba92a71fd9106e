"""What is left out of an account's billed value, and the proration of large flows (issue #18,
point 1). Reads only; ``billing.runs`` calls it for every line of a run at once. The writes are
in ``billing.exclusion_services``.

**Exclusions** are kept on a schedule version (for every account it bills) and on a fee assignment
(for the accounts it bills), as ``{"symbols": ["AAPL"], "asset_classes": ["cash_equivalent"],
"cash": true, "positions": [{"symbol": "MSFT", "pct": "50"}]}``; an account's line leaves out the
union of its version's and its assignments' (a security named twice is left out at the larger
share). What is left out is valued on the same days, and by the same method, as the account's
value (period end, average daily balance or average of month-ends): each holding's quantity at the
end of each business day (the sum of its transactions up to that day, as the daily values count
them) at the close, carried forward, converted to the account's base currency at the day's rate
(``portfolios.series_store``), times the share left out. Cash is the account's cash in every
currency (the sum of its transactions' amounts, as the ledger holds it), when positive: a debit
balance is never "left out" to raise the value. The billed value never falls below zero.

It is read in bulk: one query for the holdings of every account with an exclusion, one for their
cash, the closes and rates of the window once — never a query per account.

**Large flows**: a schedule version's flow threshold (an amount in the account's currency, or a
percentage of its billed value). A day's net external flow above it (a deposit or a withdrawal,
from the stored daily values' flows) during a period billed in arrears on its value at the
period's end is prorated by the days it was not in the account: the value falls by a deposit × the
days before it ÷ the billed days, and rises by a withdrawal × the days it was still in ÷ the
billed days (calendar days, whatever the schedule's day count: within one period every count
gives the same share). An average daily balance already counts each flow by its days, and a fee
billed in advance is valued before the period's flows, so neither is prorated again (the line
says so).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError
from django.db.models import Sum, Value
from django.db.models.functions import Greatest

from portfolios.models import AssetClass, DailySeries, Security, Transaction
from portfolios.series_store import business_days, fx_matrix, price_matrix, quarter_of

FULL = Decimal(100)
MAX_ITEMS = 200


def clean(raw: Any) -> dict[str, Any]:
    """Exclusions as stored (``{}`` when nothing is excluded); bad input is a ``ValidationError``
    on ``exclusions`` naming the symbol, class or share."""
    if raw in (None, "", {}):
        return {}
    if not isinstance(raw, dict):
        raise ValidationError({"exclusions": "Exclusions are an object: symbols, asset_classes, cash, positions."})
    unknown = set(raw) - {"symbols", "asset_classes", "cash", "positions"}
    if unknown:
        raise ValidationError({"exclusions": f"Unknown exclusions: {', '.join(sorted(unknown))}."})
    errors: list[str] = []
    symbols = _texts(raw.get("symbols"), "symbols", errors)
    classes = _texts(raw.get("asset_classes"), "asset_classes", errors)
    bad_classes = [c for c in classes if c not in AssetClass.values]
    if bad_classes:
        errors.append(f"Unknown asset class: {', '.join(bad_classes)} (use {', '.join(AssetClass.values)}).")
    cash = raw.get("cash", False)
    if not isinstance(cash, bool):
        errors.append("cash is true or false.")
    positions: dict[str, Decimal] = {}
    parts = raw.get("positions") or []
    if not isinstance(parts, list) or len(parts) > MAX_ITEMS:
        errors.append(f"positions is a list of at most {MAX_ITEMS} {{symbol, pct}}.")
        parts = []
    for index, part in enumerate(parts):
        try:
            symbol = str(part["symbol"]).strip()
            pct = Decimal(str(part["pct"]).strip().rstrip("%"))
        except (KeyError, TypeError, InvalidOperation):
            errors.append(f"Position {index + 1}: give a symbol and the percentage left out.")
            continue
        if not symbol or not pct.is_finite() or not 0 < pct <= FULL or pct != round(pct, 6):
            errors.append(f"Position {index + 1} ({symbol or 'no symbol'}): the share left out is above 0 and at "
                          "most 100 %, with at most 6 decimals.")  # fmt: skip
            continue
        positions[symbol] = max(pct, positions.get(symbol, Decimal(0)))
    named = set(symbols) | set(positions)
    known = set(Security.objects.filter(symbol__in=named).values_list("symbol", flat=True)) if named else set()
    missing = sorted(named - known)
    if missing:
        errors.append(f"No such security: {', '.join(missing[:10])}.")
    if errors:
        raise ValidationError({"exclusions": errors})
    out: dict[str, Any] = {}
    if symbols:
        out["symbols"] = sorted(set(symbols))
    if classes:
        out["asset_classes"] = sorted(set(classes))
    if cash:
        out["cash"] = True
    if positions:
        out["positions"] = [{"symbol": s, "pct": f"{p.normalize():f}"} for s, p in sorted(positions.items())]
    return out


def _texts(raw: Any, name: str, errors: list[str]) -> list[str]:
    if raw in (None, ""):
        return []
    if isinstance(raw, str):
        raw = raw.replace(";", ",").replace("\n", ",").split(",")
    if not isinstance(raw, list) or len(raw) > MAX_ITEMS or not all(isinstance(x, str) for x in raw):
        errors.append(f"{name} is a list of at most {MAX_ITEMS} texts.")
        return []
    return [x.strip() for x in raw if x.strip()]


def merged(*parts: dict[str, Any] | None) -> dict[str, Any]:
    """The union of several exclusions (a security at the largest share it is left out at)."""
    symbols: set[str] = set()
    classes: set[str] = set()
    positions: dict[str, Decimal] = {}
    cash = False
    for part in parts:
        if not part:
            continue
        symbols |= set(part.get("symbols", []))
        classes |= set(part.get("asset_classes", []))
        cash = cash or bool(part.get("cash"))
        for p in part.get("positions", []):
            positions[p["symbol"]] = max(Decimal(p["pct"]), positions.get(p["symbol"], Decimal(0)))
    out: dict[str, Any] = {}
    if symbols:
        out["symbols"] = sorted(symbols)
    if classes:
        out["asset_classes"] = sorted(classes)
    if cash:
        out["cash"] = True
    kept = {s: p for s, p in positions.items() if s not in symbols}
    if kept:
        out["positions"] = [{"symbol": s, "pct": f"{p.normalize():f}"} for s, p in sorted(kept.items())]
    return out


def describe(exclusions: dict[str, Any] | None) -> str:
    """The exclusions in words ("" when none)."""
    if not exclusions:
        return ""
    words = [*exclusions.get("symbols", [])]
    words += [f"{AssetClass(c).label.lower()}" for c in exclusions.get("asset_classes", [])]
    words += [f"{p['pct']} % of {p['symbol']}" for p in exclusions.get("positions", [])]
    if exclusions.get("cash"):
        words.append("cash")
    return ", ".join(words)


def as_text(exclusions: dict[str, Any] | None) -> dict[str, Any]:
    """Exclusions as the forms type them."""
    exclusions = exclusions or {}
    return {
        "exclude_symbols": ", ".join(exclusions.get("symbols", [])),
        "exclude_asset_classes": list(exclusions.get("asset_classes", [])),
        "exclude_cash": bool(exclusions.get("cash")),
        "exclude_positions": ", ".join(f"{p['symbol']} {p['pct']}" for p in exclusions.get("positions", [])),
    }


@dataclass
class Ask:
    """The excluded values wanted for one account: on ``days`` (its valued business days)."""

    account_id: int
    currency: str
    exclusions: dict[str, Any]
    days: np.ndarray  # datetime64[D]


def excluded_series(asks: list[Ask]) -> dict[int, dict[str, np.ndarray]]:
    """For each account asked, what is left out on each of its days, by item ("AAPL", "50 % of
    MSFT", "cash", "fixed income: BND"), in its base currency (float; the caller rounds)."""
    asks = [a for a in asks if a.exclusions and len(a.days)]
    if not asks:
        return {}
    low = min(a.days[0] for a in asks).astype(date)
    high = max(a.days[-1] for a in asks).astype(date)
    grid = business_days(low, high)
    symbols = {s for a in asks for s in a.exclusions.get("symbols", [])}
    symbols |= {p["symbol"] for a in asks for p in a.exclusions.get("positions", [])}
    classes = {c for a in asks for c in a.exclusions.get("asset_classes", [])}
    securities = {}
    if symbols or classes:
        found = Security.objects.filter(symbol__in=symbols) | Security.objects.filter(asset_class__in=classes)
        securities = {pk: (symbol, klass, ccy) for pk, symbol, klass, ccy in
                      found.values_list("pk", "symbol", "asset_class", "currency")}  # fmt: skip
    by_symbol = {symbol: pk for pk, (symbol, _, _) in securities.items()}
    # The share of each (account, security) left out, and its label.
    weights: dict[tuple[int, int], tuple[float, str]] = {}
    for ask in asks:
        ex = ask.exclusions
        for pk, (symbol, klass, _) in securities.items():
            if klass in ex.get("asset_classes", []):
                weights[(ask.account_id, pk)] = (1.0, f"{AssetClass(klass).label.lower()}: {symbol}")
        for p in ex.get("positions", []):
            if p["symbol"] in by_symbol:
                pk = by_symbol[p["symbol"]]
                if (ask.account_id, pk) not in weights:
                    weights[(ask.account_id, pk)] = (float(Decimal(p["pct"]) / FULL), f"{p['pct']} % of {p['symbol']}")
        for symbol in ex.get("symbols", []):
            if symbol in by_symbol:
                weights[(ask.account_id, by_symbol[symbol])] = (1.0, symbol)
    account_ids = sorted({a.account_id for a in asks})
    cash_ids = sorted({a.account_id for a in asks if a.exclusions.get("cash")})
    held = _holdings(account_ids, sorted({pk for _, pk in weights}), low, high, grid) if weights else {}
    cash = _cash(cash_ids, low, high, grid) if cash_ids else {}
    currencies = sorted({a.currency for a in asks} | {c for _, _, c in securities.values()} | {c for _, c in cash})
    usd = fx_matrix(currencies, grid) if len(grid) else np.zeros((len(currencies), 0))
    row_of = {c: i for i, c in enumerate(currencies)}
    sec_list = sorted(securities)
    prices = np.nan_to_num(price_matrix(sec_list, grid)) if sec_list and len(grid) else np.zeros((0, len(grid)))
    price_row = {pk: i for i, pk in enumerate(sec_list)}
    base_of = {a.account_id: a.currency for a in asks}

    def to_base(ccy: str, account_id: int) -> np.ndarray:
        rate = usd[row_of[ccy]] / usd[row_of[base_of[account_id]]]
        return np.nan_to_num(rate)

    out: dict[int, dict[str, np.ndarray]] = defaultdict(dict)
    for (account_id, pk), quantity in held.items():
        weight, label = weights[(account_id, pk)]
        value = quantity * prices[price_row[pk]] * to_base(securities[pk][2], account_id) * weight
        out[account_id][label] = out[account_id].get(label, 0) + value
    for (account_id, ccy), amount in cash.items():
        out[account_id]["cash"] = out[account_id].get("cash", 0) + amount * to_base(ccy, account_id)
    for series in out.values():  # only positive cash is left out
        if "cash" in series:
            series["cash"] = np.maximum(series["cash"], 0)
    result: dict[int, dict[str, np.ndarray]] = {}
    for ask in asks:
        mine = out.get(ask.account_id)
        if not mine:
            continue
        at = np.searchsorted(grid, ask.days)
        result[ask.account_id] = {label: np.asarray(series)[at] for label, series in mine.items()}
    return result


def _running(rows: Any, grid: np.ndarray) -> dict[tuple[int, Any], np.ndarray]:
    """Running sums over the business days of ``(account, key, day, amount)`` rows: an event on a
    day off counts from the next business day, as the daily values count it."""
    events: dict[tuple[int, Any], list[tuple[date, float]]] = defaultdict(list)
    for account_id, key, day, amount in rows:
        events[(account_id, key)].append((day, float(amount)))
    out = {}
    for pair, items in events.items():
        at = np.searchsorted(grid, np.array([d for d, _ in items], dtype="datetime64[D]"))
        daily = np.zeros(len(grid) + 1)
        np.add.at(daily, at, [a for _, a in items])
        out[pair] = np.cumsum(daily[:-1])
    return out


def _holdings(account_ids: list[int], security_ids: list[int], low: date, high: date, grid: np.ndarray) -> Any:
    """Quantities held of ``security_ids`` by ``account_ids`` on each day (one query)."""
    rows = (
        Transaction.objects.filter(account_id__in=account_ids, security_id__in=security_ids, trade_date__lte=high)
        .annotate(day=Greatest("trade_date", Value(low)))
        .values_list("account_id", "security_id", "day")
        .annotate(total=Sum("quantity"))
        .order_by()
    )
    return _running(rows, grid)


def _cash(account_ids: list[int], low: date, high: date, grid: np.ndarray) -> Any:
    """Cash of ``account_ids`` by currency on each day (one query)."""
    rows = (
        Transaction.objects.filter(account_id__in=account_ids, trade_date__lte=high)
        .annotate(day=Greatest("trade_date", Value(low)))
        .values_list("account_id", "currency", "day")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    return _running(rows, grid)


def flows_between(*, account_ids: list[int], start: date, end: date) -> dict[int, list[tuple[date, float]]]:
    """Each account's days with a net external flow from ``start`` to ``end`` (inclusive), in its
    base currency, from the stored daily values (one query)."""
    if not account_ids:
        return {}
    first_quarter = quarter_of(np.array([start], dtype="datetime64[D]"))[0].astype(date)
    rows = DailySeries.objects.filter(
        account_id__in=account_ids, quarter__gte=first_quarter, quarter__lte=end
    ).values_list("account_id", "first_date", "net_flow")
    low, high = np.datetime64(start, "D"), np.datetime64(end, "D")
    out: dict[int, list[tuple[date, float]]] = defaultdict(list)
    for account_id, first, flows in rows.iterator(chunk_size=2000):
        values = np.asarray(flows, dtype=np.float64)
        days = np.busday_offset(np.datetime64(first, "D"), np.arange(len(values)))
        keep = (days >= low) & (days <= high) & (values != 0)
        out[account_id].extend(zip(days[keep].astype(date).tolist(), values[keep].tolist(), strict=True))
    return {pk: sorted(items) for pk, items in out.items()}
