from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from portfolios import selectors
from portfolios.models import ClientAccount, Transaction, TransactionKind


class ClientAccountSerializer(serializers.ModelSerializer[ClientAccount]):
    nav = serializers.DecimalField(
        max_digits=20, decimal_places=4, read_only=True, allow_null=True, help_text="Latest net asset value."
    )
    nav_date = serializers.DateField(read_only=True, allow_null=True, help_text="Date of the latest NAV.")

    class Meta:
        model = ClientAccount
        fields = [
            "id",
            "number",
            "title",
            "account_type",
            "base_currency",
            "status",
            "margin_type",
            "trading_permissions",
            "household",
            "parent",
            "inception_date",
            "is_master",
            "nav",
            "nav_date",
        ]
        read_only_fields = fields


class CashBalanceSerializer(serializers.Serializer[Any]):
    currency = serializers.CharField()
    amount = serializers.DecimalField(max_digits=20, decimal_places=4)


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


class DailyValueSerializer(serializers.Serializer[Any]):
    date = serializers.DateField()
    nav = serializers.DecimalField(max_digits=20, decimal_places=2)
    net_flow = serializers.DecimalField(max_digits=20, decimal_places=2)
    return_index = serializers.DecimalField(max_digits=20, decimal_places=10)


class ClientAccountDetailSerializer(serializers.Serializer[Any]):
    """One account's summary: the account, its owners, cash by currency (from the ledger),
    positions, the latest NAV, the day's change and the daily values of the last year."""

    account = ClientAccountSerializer()
    owners = OwnerSerializer(many=True)
    cash = serializers.SerializerMethodField()
    positions = PositionSerializer(many=True)
    nav = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    nav_date = serializers.DateField(allow_null=True)
    day_change = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    day_return = serializers.DecimalField(max_digits=20, decimal_places=10, allow_null=True)
    history = DailyValueSerializer(many=True)

    @extend_schema_field(CashBalanceSerializer(many=True))
    def get_cash(self, summary: selectors.AccountSummary) -> Any:
        return CashBalanceSerializer([{"currency": c, "amount": a} for c, a in summary.cash.items()], many=True).data


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
