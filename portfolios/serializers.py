from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from advisorportal.formats import round_money
from portfolios import selectors
from portfolios.models import AccountStatus, AccountType, CashHold, ClientAccount, Transaction, TransactionKind


def money(value: Decimal | None, currency: str) -> str | None:
    """A money amount as a string rounded to the currency's minor unit (2 places; JPY 0, KWD 3…)."""
    return None if value is None else str(round_money(value, currency))


class ClientAccountSerializer(serializers.ModelSerializer[ClientAccount]):
    nav = serializers.SerializerMethodField(help_text="Latest net asset value, in the base currency.")
    nav_date = serializers.DateField(read_only=True, allow_null=True, help_text="Date of the latest NAV.")
    day_change = serializers.SerializerMethodField(help_text="Change of the NAV on its date (flows included).")
    day_return = serializers.DecimalField(
        max_digits=20, decimal_places=10, read_only=True, allow_null=True, help_text="Time-weighted return that day."
    )

    class Meta:
        model = ClientAccount
        fields = [
            "id",
            "number",
            "title",
            "account_type",
            "base_currency",
            "status",
            "closed_on",
            "margin_type",
            "trading_permissions",
            "household",
            "parent",
            "inception_date",
            "is_master",
            "nav",
            "nav_date",
            "day_change",
            "day_return",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True))
    def get_nav(self, account: ClientAccount) -> str | None:
        return money(account.nav, account.base_currency)

    @extend_schema_field(serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True))
    def get_day_change(self, account: ClientAccount) -> str | None:
        return money(account.day_change, account.base_currency)


class AccountListQuerySerializer(serializers.Serializer[Any]):
    """Query parameters of the accounts list: a bad value is a 400 naming the parameter."""

    q = serializers.CharField(required=False, max_length=100, allow_blank=True,
                              help_text="Account number or title starts with (case-insensitive).")  # fmt: skip
    account_type = serializers.ChoiceField(choices=AccountType.choices, required=False)
    status = serializers.ChoiceField(choices=AccountStatus.choices, required=False)
    household = serializers.IntegerField(required=False, min_value=1, help_text="Accounts of this household.")
    owner = serializers.IntegerField(required=False, min_value=1, help_text="Accounts this contact owns or co-owns.")
    ordering = serializers.ChoiceField(
        choices=selectors.ACCOUNT_ORDERING_CHOICES,
        required=False,
        help_text="Sort order; a leading '-' is descending. Accounts without a NAV yet come last either way.",
    )


class MoneySerializer(serializers.Serializer[Any]):
    currency = serializers.CharField()
    amount = serializers.DecimalField(max_digits=20, decimal_places=4, coerce_to_string=True)


def money_rows(amounts: dict[str, Decimal]) -> list[dict[str, str | None]]:
    return [{"currency": currency, "amount": money(amount, currency)} for currency, amount in amounts.items()]


class PositionSerializer(serializers.Serializer[Any]):
    symbol = serializers.CharField()
    name = serializers.CharField()
    asset_class = serializers.CharField()
    currency = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=20, decimal_places=6)
    cost_basis = serializers.DecimalField(max_digits=20, decimal_places=4)
    realized_gain = serializers.DecimalField(max_digits=20, decimal_places=4)
    price = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    price_date = serializers.DateField(allow_null=True)
    market_value = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    unrealized_gain = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)


class OwnerSerializer(serializers.Serializer[Any]):
    contact = serializers.IntegerField(source="contact_id")
    name = serializers.CharField(source="contact")
    role = serializers.CharField()


class RealizedPnlSerializer(serializers.Serializer[Any]):
    """Realized P&L of sales in one currency: month, quarter and year to date, and since inception."""

    currency = serializers.CharField()
    month = serializers.SerializerMethodField()
    quarter = serializers.SerializerMethodField()
    year = serializers.SerializerMethodField()
    inception = serializers.SerializerMethodField()

    def _amount(self, row: selectors.RealizedPnl, name: str) -> str | None:
        return money(getattr(row, name), row.currency)

    @extend_schema_field(serializers.DecimalField(max_digits=20, decimal_places=2))
    def get_month(self, row: selectors.RealizedPnl) -> str | None:
        return self._amount(row, "month")

    @extend_schema_field(serializers.DecimalField(max_digits=20, decimal_places=2))
    def get_quarter(self, row: selectors.RealizedPnl) -> str | None:
        return self._amount(row, "quarter")

    @extend_schema_field(serializers.DecimalField(max_digits=20, decimal_places=2))
    def get_year(self, row: selectors.RealizedPnl) -> str | None:
        return self._amount(row, "year")

    @extend_schema_field(serializers.DecimalField(max_digits=20, decimal_places=2))
    def get_inception(self, row: selectors.RealizedPnl) -> str | None:
        return self._amount(row, "inception")


class RealizedReportSerializer(serializers.Serializer[Any]):
    as_of = serializers.DateField(help_text="Periods end on this day.")
    periods = RealizedPnlSerializer(many=True)


class ClientAccountDetailSerializer(serializers.Serializer[Any]):
    """One account's summary: the account, its owners, the latest NAV (net liquidation value) and
    day change in the base currency, cash by currency from the ledger, unrealized P&L of the open
    positions and realized P&L by period per currency, and the positions. Amounts are decimal
    strings in the minor unit of the currency named beside them."""

    account = ClientAccountSerializer()
    owners = OwnerSerializer(many=True)
    currency = serializers.CharField(help_text="Base currency of nav and day_change.")
    nav = serializers.SerializerMethodField(help_text="Net liquidation value on nav_date.")
    nav_date = serializers.DateField(allow_null=True)
    day_change = serializers.SerializerMethodField()
    day_return = serializers.DecimalField(max_digits=20, decimal_places=10, allow_null=True)
    cash = serializers.SerializerMethodField()
    unrealized_pnl = serializers.SerializerMethodField()
    realized_pnl = RealizedPnlSerializer(many=True, source="realized")
    as_of = serializers.DateField(help_text="Realized P&L periods end on this day.")
    positions = PositionSerializer(many=True)

    @extend_schema_field(serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True))
    def get_nav(self, summary: selectors.AccountSummary) -> str | None:
        return money(summary.nav, summary.currency)

    @extend_schema_field(serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True))
    def get_day_change(self, summary: selectors.AccountSummary) -> str | None:
        return money(summary.day_change, summary.currency)

    @extend_schema_field(MoneySerializer(many=True))
    def get_cash(self, summary: selectors.AccountSummary) -> Any:
        return money_rows(summary.cash)

    @extend_schema_field(MoneySerializer(many=True))
    def get_unrealized_pnl(self, summary: selectors.AccountSummary) -> Any:
        return money_rows(summary.unrealized_by_currency)


class DayValueSerializer(serializers.Serializer[Any]):
    date = serializers.DateField()
    # Already rounded to the currency's minor unit by ``performance.value_history``.
    nav = serializers.CharField(help_text="Decimal string.")
    net_flow = serializers.CharField(help_text="Decimal string.")
    return_index = serializers.DecimalField(max_digits=20, decimal_places=10)
    gross_index = serializers.DecimalField(
        max_digits=20, decimal_places=10, help_text="The return index gross of fees (fees taken as flows)."
    )


class PeriodReturnSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(help_text="MTD, QTD, YTD, 1Y, 3Y, 5Y or ITD (since inception).")
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    base = serializers.DateField(help_text="The day whose close the return is measured from.")
    end = serializers.DateField()
    net = serializers.DecimalField(max_digits=20, decimal_places=10, allow_null=True, help_text="0.01 = 1 %.")
    gross = serializers.DecimalField(max_digits=20, decimal_places=10, allow_null=True)
    benchmark = serializers.DecimalField(max_digits=30, decimal_places=10, allow_null=True)
    annualised_net = serializers.DecimalField(
        max_digits=20, decimal_places=10, allow_null=True, help_text="Only over more than a year."
    )
    annualised_gross = serializers.DecimalField(max_digits=20, decimal_places=10, allow_null=True)


class ValuationGapSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=["price", "fx"])
    subject = serializers.CharField(help_text="The security's symbol or the currency.")
    since = serializers.DateField()
    until = serializers.DateField(allow_null=True, help_text="The first close or rate; null: none yet.")
    treatment = serializers.CharField()


class ReturnsSerializer(serializers.Serializer[Any]):
    """Time-weighted returns by period, net and gross of fees, beside a benchmark; what the figures
    lack (``valuation_gaps``, ``complete``) and whether a correction is being included
    (``updating_from``)."""

    currency = serializers.CharField()
    as_of = serializers.DateField(allow_null=True)
    benchmark = serializers.CharField(allow_blank=True)
    periods = PeriodReturnSerializer(many=True)
    inception = PeriodReturnSerializer(allow_null=True)
    complete = serializers.BooleanField()
    valuation_gaps = ValuationGapSerializer(many=True)
    updating_from = serializers.DateField(
        allow_null=True, help_text="A change dated this day is being included; the figures are being updated."
    )


class ReturnsQuerySerializer(serializers.Serializer[Any]):
    benchmark = serializers.CharField(required=False, max_length=32, help_text="A benchmark symbol.")


class ValueHistorySerializer(serializers.Serializer[Any]):
    """Daily values of one account, oldest first: NAV and net external flow in ``currency`` and the
    time-weighted return index (1 on the account's first day)."""

    currency = serializers.CharField()
    date_from = serializers.DateField(allow_null=True)
    date_to = serializers.DateField(allow_null=True)
    values = DayValueSerializer(many=True)


class DateRangeSerializer(serializers.Serializer[Any]):
    """A date range in the query string (both ends inclusive and optional)."""

    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("date_from") and attrs.get("date_to") and attrs["date_from"] > attrs["date_to"]:
            raise serializers.ValidationError({"date_to": "The end date is before the start date."})
        return attrs


class AsOfSerializer(serializers.Serializer[Any]):
    as_of = serializers.DateField(required=False, help_text="Last day of the periods (default: today).")


class TransactionSerializer(serializers.ModelSerializer[Transaction]):
    symbol = serializers.CharField(source="security.symbol", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Transaction
        fields = [
            "id",
            "account",
            "trade_date",
            "settle_date",
            "kind",
            "security",
            "symbol",
            "quantity",
            "price",
            "amount",
            "currency",
            "cost_change",
            "realized_gain",
            "description",
            "external_id",
            "reverses",
            "created_at",
        ]
        read_only_fields = fields


class TransactionFilterSerializer(serializers.Serializer[Any]):
    """Query parameters of an account's transaction list; without dates, the last 90 days."""

    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    kind = serializers.ChoiceField(choices=TransactionKind.choices, required=False)
    text = serializers.CharField(required=False, max_length=100)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("date_from") and attrs.get("date_to") and attrs["date_from"] > attrs["date_to"]:
            raise serializers.ValidationError({"date_to": "The end date is before the start date."})
        return attrs


# --- Cash and holds ---------------------------------------------------------------------------------


def _money_field() -> serializers.DecimalField:
    """How the schema describes an amount given as a string in its currency's minor unit."""
    return serializers.DecimalField(max_digits=20, decimal_places=3)


class CashRowSerializer(serializers.Serializer[Any]):
    """The account's cash in one currency (amounts in its minor unit): ``total`` is the ledger's
    cash; ``pending`` what settles after ``as_of``; ``settled`` = total - pending; ``held`` the open
    holds; ``available`` = settled - held, what a withdrawal or transfer out may take."""

    currency = serializers.CharField()
    total = serializers.SerializerMethodField()
    pending = serializers.SerializerMethodField()
    settled = serializers.SerializerMethodField()
    held = serializers.SerializerMethodField()
    available = serializers.SerializerMethodField()

    @extend_schema_field(_money_field())
    def get_total(self, row: selectors.CashRow) -> str | None:
        return money(row.total, row.currency)

    @extend_schema_field(_money_field())
    def get_pending(self, row: selectors.CashRow) -> str | None:
        return money(row.pending, row.currency)

    @extend_schema_field(_money_field())
    def get_settled(self, row: selectors.CashRow) -> str | None:
        return money(row.settled, row.currency)

    @extend_schema_field(_money_field())
    def get_held(self, row: selectors.CashRow) -> str | None:
        return money(row.held, row.currency)

    @extend_schema_field(_money_field())
    def get_available(self, row: selectors.CashRow) -> str | None:
        return money(row.available, row.currency)


class CashHoldSerializer(serializers.ModelSerializer[CashHold]):
    amount = serializers.SerializerMethodField()
    is_open = serializers.BooleanField(read_only=True)

    class Meta:
        model = CashHold
        fields = [
            "id",
            "account",
            "currency",
            "amount",
            "reason",
            "reference",
            "is_open",
            "created_at",
            "created_by",
            "released_at",
            "released_by",
            "release_reason",
        ]
        read_only_fields = fields

    @extend_schema_field(_money_field())
    def get_amount(self, hold: CashHold) -> str | None:
        return money(hold.amount, hold.currency)


class CashSerializer(serializers.Serializer[Any]):
    as_of = serializers.DateField(help_text="Cash settling after this day is pending.")
    currencies = CashRowSerializer(many=True)
    holds = CashHoldSerializer(many=True, help_text="Open holds, newest first (all with include_released).")


class CashQuerySerializer(serializers.Serializer[Any]):
    include_released = serializers.BooleanField(required=False, default=False, help_text="Released holds too.")


class HoldPlaceSerializer(serializers.Serializer[Any]):
    currency = serializers.CharField(max_length=3, help_text="ISO 4217 code, e.g. USD.")
    amount = serializers.DecimalField(max_digits=20, decimal_places=3, help_text="A positive amount.")
    reason = serializers.CharField(max_length=200)
    reference = serializers.CharField(
        max_length=100,
        help_text="What the hold is for, e.g. a withdrawal request's number; unique per account. The same "
        "reference with the same currency, amount and reason returns the first hold (200); with other "
        "content it is refused (422 idempotency_key_reused).",
    )


class AccountCloseSerializer(serializers.Serializer[Any]):
    closed_on = serializers.DateField(help_text="The last day the account was open (today or earlier).")


class AccountClosedSerializer(serializers.Serializer[Any]):
    account = ClientAccountSerializer()
    notes = serializers.ListField(
        child=serializers.CharField(), help_text="What closing it set going (e.g. fee refund runs to approve)."
    )


class HoldReleaseSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=200, help_text="Why the hold is released.")
