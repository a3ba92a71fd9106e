"""Client accounts and portfolio data.

Global reference data (not firm-owned): ``Security``, ``SecurityPrice``, ``FxRate``.
Firm-owned: ``ClientAccount`` (+ ``AccountOwner``), ``Transaction``, the double-entry cash ledger
(``LedgerEntry``, ``LedgerPosting``), ``Position`` (maintained by ``services``) and ``DailySeries``
(computed by ``performance``).

Number formats (see docs in ``portfolios/accounting.py``): quantities and prices have 6 decimal
places; cash amounts are stored with 4 places (room for the 3-decimal currencies) but are always
rounded to the currency's minor unit before they are written; FX rates have 10 places.

Foreign keys between firm-owned tables here carry ``db_constraint=False``: the same-firm composite
key ``(firm_id, x_id) -> (firm_id, id)`` that tenancy adds to every such link already enforces the
reference (and more), and it is backed by an index leading with ``firm_id``. A second,
single-column key would need its own index on every large table, or PostgreSQL would scan the
child table for each parent row deleted.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.postgres.fields import ArrayField
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower

from advisorportal.tenancy.models import FirmOwnedModel
from crm.models import TradingPermission

currency_code = RegexValidator(r"^[A-Z]{3}$", "Enter a three-letter ISO 4217 currency code, e.g. USD.")


def CurrencyField(**kwargs: Any) -> models.CharField[str, str]:
    return models.CharField(max_length=3, validators=[currency_code], **kwargs)


def QuantityField(**kwargs: Any) -> models.DecimalField[Any, Any]:
    return models.DecimalField(max_digits=20, decimal_places=6, **kwargs)


def MoneyField(**kwargs: Any) -> models.DecimalField[Any, Any]:
    return models.DecimalField(max_digits=20, decimal_places=4, **kwargs)


# --- Global reference data -----------------------------------------------------------------------


class AssetClass(models.TextChoices):
    EQUITY = "equity", "Equity"
    FIXED_INCOME = "fixed_income", "Fixed income"
    FUND = "fund", "Fund / ETF"
    CASH_EQUIVALENT = "cash_equivalent", "Cash equivalent"
    ALTERNATIVE = "alternative", "Alternative"


class Security(models.Model):
    """A tradable instrument. Shared reference data: every firm sees the same securities."""

    symbol = models.CharField(max_length=32, unique=True, db_collation="C")
    name = models.CharField(max_length=200)
    asset_class = models.CharField(max_length=20, choices=AssetClass.choices)
    currency = CurrencyField()
    sector = models.CharField(max_length=60, blank=True)
    region = models.CharField(max_length=60, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")

    class Meta:
        ordering = ["symbol"]
        verbose_name_plural = "securities"

    def __str__(self) -> str:
        return self.symbol


class SecurityPrice(models.Model):
    """Closing price of a security on a date, in the security's currency."""

    security = models.ForeignKey(Security, on_delete=models.CASCADE, related_name="prices")
    date = models.DateField()
    close = QuantityField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["security", "date"], name="portfolios_price_uniq")]
        indexes = [models.Index(fields=["date"], name="portfolios_price_date_idx")]

    def __str__(self) -> str:
        return f"{self.security_id} {self.date} {self.close}"


class Benchmark(models.Model):
    """A market index that account returns are compared with (shared reference data)."""

    symbol = models.CharField(max_length=32, unique=True, db_collation="C")
    name = models.CharField(max_length=200)
    currency = CurrencyField()

    class Meta:
        ordering = ["symbol"]

    def __str__(self) -> str:
        return self.symbol


class BenchmarkValue(models.Model):
    """Closing level of a benchmark on a business day."""

    benchmark = models.ForeignKey(Benchmark, on_delete=models.CASCADE, related_name="values", db_index=False)
    date = models.DateField()
    level = models.DecimalField(max_digits=20, decimal_places=6)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["benchmark", "date"], name="portfolios_benchmark_value_uniq")]

    def __str__(self) -> str:
        return f"{self.benchmark_id} {self.date} {self.level}"


class FxRate(models.Model):
    """How many US dollars one unit of ``currency`` bought on ``date`` (USD itself is 1)."""

    currency = CurrencyField()
    date = models.DateField()
    rate_to_usd = models.DecimalField(max_digits=20, decimal_places=10)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["currency", "date"], name="portfolios_fx_uniq")]

    def __str__(self) -> str:
        return f"{self.currency} {self.date} {self.rate_to_usd}"


# --- Client accounts -------------------------------------------------------------------------------


class AccountType(models.TextChoices):
    INDIVIDUAL = "individual", "Individual"
    JOINT = "joint", "Joint"
    TRADITIONAL_IRA = "traditional_ira", "Traditional IRA"
    ROTH_IRA = "roth_ira", "Roth IRA"
    SEP_IRA = "sep_ira", "SEP IRA"
    ROLLOVER_IRA = "rollover_ira", "Rollover IRA"
    TRUST = "trust", "Trust"
    CORPORATE = "corporate", "Corporate"
    PARTNERSHIP = "partnership", "Partnership"
    MASTER = "master", "Master (advisor)"


class AccountStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    OPEN = "open", "Open"
    RESTRICTED = "restricted", "Restricted"
    CLOSED = "closed", "Closed"


class MarginType(models.TextChoices):
    CASH = "cash", "Cash"
    MARGIN = "margin", "Margin"
    PORTFOLIO_MARGIN = "portfolio_margin", "Portfolio margin"


class ClientAccount(FirmOwnedModel):
    # "C" collation: numbers sort bytewise and the prefix search is an exact, leakproof range.
    number = models.CharField(max_length=32, db_collation="C")
    title = models.CharField(max_length=200)
    # Lower-cased title for prefix search by range (ILIKE cannot use an index beneath RLS).
    title_key = models.GeneratedField(
        expression=Lower("title"), output_field=models.CharField(max_length=200, db_collation="C"), db_persist=True
    )
    account_type = models.CharField(max_length=20, choices=AccountType.choices)
    base_currency = CurrencyField(default="USD")
    status = models.CharField(max_length=12, choices=AccountStatus.choices, default=AccountStatus.OPEN)
    # The last day the account was open (``services.account_close``); billing bills to it and
    # refunds what was prepaid for the days after it. Empty on accounts closed before it existed.
    closed_on = models.DateField("closed on", null=True, blank=True)
    margin_type = models.CharField(max_length=20, choices=MarginType.choices, default=MarginType.CASH)
    trading_permissions = ArrayField(
        models.CharField(max_length=12, choices=TradingPermission.choices), default=list, blank=True
    )
    owners: models.ManyToManyField[Any, AccountOwner] = models.ManyToManyField(
        "crm.Contact", through="AccountOwner", related_name="client_accounts"
    )
    household = models.ForeignKey(
        "crm.Household",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="client_accounts",
        db_index=False,  # (firm, household) index below
        db_constraint=False,
    )
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="sub_accounts")
    inception_date = models.DateField()
    is_master = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Denormalised from the daily series by every recompute and nightly update (``performance``),
    # so lists can show and sort by NAV without touching the series. In the base currency.
    nav = MoneyField(null=True, blank=True, editable=False)
    nav_date = models.DateField(null=True, blank=True, editable=False)
    day_change = MoneyField(null=True, blank=True, editable=False)
    day_return = models.DecimalField(max_digits=20, decimal_places=10, null=True, blank=True, editable=False)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["number", "id"]
        constraints = [
            models.UniqueConstraint(fields=["firm", "number"], name="portfolios_account_number_uniq"),
            models.UniqueConstraint(
                fields=["firm"], condition=models.Q(is_master=True), name="portfolios_one_master_per_firm"
            ),
            models.CheckConstraint(
                condition=models.Q(closed_on__isnull=True) | models.Q(status="closed"),
                name="portfolios_account_closed_on_only_closed",
            ),
        ]
        indexes = [
            models.Index(fields=["firm", "title_key", "id"], name="portfolios_account_title_idx"),
            models.Index(fields=["firm", "household"], name="portfolios_account_hh_idx"),
            models.Index(fields=["firm", "status", "number"], name="portfolios_account_status_idx"),
            # Sort keys of the accounts list (keyset pagination).
            models.Index(fields=["firm", "nav", "id"], name="portfolios_account_nav_idx"),
            models.Index(fields=["firm", "inception_date", "id"], name="portfolios_account_incept_idx"),
            models.Index(fields=["firm", "account_type", "number", "id"], name="portfolios_account_type_idx"),
            # The dashboard: accounts opened lately (newest first), and the open accounts' NAV per
            # currency read from the index alone.
            models.Index(fields=["firm", "-created_at"], name="portfolios_account_new_idx"),
            models.Index(
                fields=["firm", "base_currency"],
                include=["nav"],
                condition=~models.Q(status="closed"),
                name="portfolios_account_open_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class OwnerRole(models.TextChoices):
    PRIMARY = "primary", "Primary owner"
    JOINT = "joint", "Joint owner"
    TRUSTEE = "trustee", "Trustee"
    AUTHORIZED = "authorized", "Authorized signer"


class AccountOwner(FirmOwnedModel):
    # Composite indexes below cover both foreign keys (here and in the models that follow).
    account = models.ForeignKey(ClientAccount, on_delete=models.CASCADE, db_index=False, db_constraint=False)
    contact = models.ForeignKey(
        "crm.Contact", on_delete=models.PROTECT, related_name="account_ownerships", db_index=False, db_constraint=False
    )
    role = models.CharField(max_length=12, choices=OwnerRole.choices, default=OwnerRole.PRIMARY)

    class Meta(FirmOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["firm", "account", "contact"], name="portfolios_account_owner_uniq"),
        ]
        indexes = [models.Index(fields=["firm", "contact"], name="portfolios_owner_contact_idx")]


# --- Transactions -------------------------------------------------------------------------------


class TransactionKind(models.TextChoices):
    BUY = "buy", "Buy"
    SELL = "sell", "Sell"
    DIVIDEND = "dividend", "Dividend"
    INTEREST = "interest", "Interest"
    FEE = "fee", "Fee"
    DEPOSIT = "deposit", "Deposit"
    WITHDRAWAL = "withdrawal", "Withdrawal"
    TRANSFER_IN = "transfer_in", "Transfer in"
    TRANSFER_OUT = "transfer_out", "Transfer out"
    POSITION_TRANSFER_IN = "position_transfer_in", "Position transfer in"
    POSITION_TRANSFER_OUT = "position_transfer_out", "Position transfer out"
    CORPORATE_ACTION = "corporate_action", "Corporate action"
    # One side of a paired posting between two of the firm's accounts (``AccountTransfer``).
    FEE_INCOME = "fee_income", "Fee income"
    FEE_REFUND = "fee_refund", "Fee refund"
    INTERNAL_TRANSFER_IN = "internal_transfer_in", "Internal transfer in"
    INTERNAL_TRANSFER_OUT = "internal_transfer_out", "Internal transfer out"


class Transaction(FirmOwnedModel):
    """One business event on an account, as the custodian reports it. Append-only: a correction is
    a new transaction that ``reverses`` this one (all signed figures negated).

    ``quantity`` is the signed change of the position, ``amount`` the signed change of cash in
    ``currency``, ``cost_change`` the signed change of the position's cost basis and
    ``realized_gain`` what a sale realized (both in ``currency``). So a position is the plain sum
    of its transactions, and the cash ledger equals the sum of ``amount``.
    """

    append_only = True
    audited = False  # append-only: the transactions are their own trail

    account = models.ForeignKey(
        ClientAccount, on_delete=models.PROTECT, related_name="transactions", db_index=False, db_constraint=False
    )
    trade_date = models.DateField()
    settle_date = models.DateField()
    kind = models.CharField(max_length=24, choices=TransactionKind.choices)
    security = models.ForeignKey(Security, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    quantity = QuantityField(default=0)
    price = QuantityField(null=True, blank=True)
    amount = MoneyField(default=0)
    cost_change = MoneyField(default=0)
    realized_gain = MoneyField(default=0)
    currency = CurrencyField()
    description = models.CharField(max_length=300, blank=True)
    external_id = models.CharField(max_length=100, blank=True)
    reverses = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False, db_constraint=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["-trade_date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["firm", "account", "external_id"],
                condition=~models.Q(external_id=""),
                name="portfolios_tx_external_uniq",
            ),
            models.UniqueConstraint(
                fields=["firm", "reverses"],
                condition=models.Q(reverses__isnull=False),
                name="portfolios_tx_reversed_once",
            ),
        ]
        indexes = [
            models.Index(fields=["firm", "account", "trade_date", "id"], name="portfolios_tx_account_date_idx"),
            # Cash pending settlement (settle date after today) is a short range of this index:
            # only rows that settle after their trade date are in it.
            models.Index(
                fields=["firm", "account", "settle_date"],
                include=["currency", "amount"],
                condition=models.Q(settle_date__gt=models.F("trade_date")),
                name="portfolios_tx_settle_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.trade_date} {self.kind} {self.amount} {self.currency}"


class TransferKind(models.TextChoices):
    """What a paired posting between two accounts is; each pairs a debit kind with a credit kind
    (``accounting.TRANSFER_PAIRS``)."""

    FEE = "fee", "Fee charged (client to master account)"
    FEE_REFUND = "fee_refund", "Fee refund (master to client account)"
    INTERNAL = "internal_transfer", "Internal transfer (client to client account)"


class AccountTransfer(FirmOwnedModel):
    """A paired posting: cash debited from one of the firm's accounts and credited to another in
    one database transaction (``services.transfer_between_accounts``). Each side is an ordinary
    transaction of its account with its own balanced ledger entry; this row ties the two together.
    Append-only, like the transactions it names."""

    append_only = True

    kind = models.CharField(max_length=20, choices=TransferKind.choices)
    debit_account = models.ForeignKey(
        ClientAccount, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    credit_account = models.ForeignKey(
        ClientAccount, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    amount = MoneyField()
    currency = CurrencyField()
    trade_date = models.DateField()
    memo = models.CharField(max_length=300, blank=True)
    debit_transaction = models.ForeignKey(
        Transaction, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    credit_transaction = models.ForeignKey(
        Transaction, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    idempotency_key = models.CharField(max_length=255)
    created_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(FirmOwnedModel.Meta):
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="portfolios_transfer_amount_positive"),
            models.CheckConstraint(
                condition=~models.Q(debit_account=models.F("credit_account")), name="portfolios_transfer_two_accounts"
            ),
            models.UniqueConstraint(fields=["firm", "debit_transaction"], name="portfolios_transfer_debit_uniq"),
            models.UniqueConstraint(fields=["firm", "credit_transaction"], name="portfolios_transfer_credit_uniq"),
        ]
        indexes = [
            models.Index(fields=["firm", "debit_account"], name="portfolios_transfer_debit_idx"),
            models.Index(fields=["firm", "credit_account"], name="portfolios_transfer_credit_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.currency}"


class CashHold(FirmOwnedModel):
    """An amount of an account's cash reserved for a reason (a withdrawal awaiting approval, a fee
    to be collected): open until released. Available cash is settled cash less the open holds
    (``selectors.cash_summary``). Placed and released by ``services.hold_place`` and
    ``services.hold_release`` under the account's row lock; audited."""

    account = models.ForeignKey(
        ClientAccount, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    currency = CurrencyField()
    amount = MoneyField()
    reason = models.CharField(max_length=200)
    reference = models.CharField(max_length=100, help_text="What the hold is for, e.g. a withdrawal request's number")
    created_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    release_reason = models.CharField(max_length=200, blank=True)

    name_fields: ClassVar[frozenset[str]] = frozenset({"reason", "reference", "release_reason"})

    class Meta(FirmOwnedModel.Meta):
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="portfolios_hold_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(released_at__isnull=True, release_reason="", released_by__isnull=True)
                | (models.Q(released_at__isnull=False) & ~models.Q(release_reason="")),
                name="portfolios_hold_release_complete",
            ),
            models.UniqueConstraint(fields=["firm", "account", "reference"], name="portfolios_hold_reference_uniq"),
        ]
        indexes = [
            models.Index(
                fields=["firm", "account", "currency"],
                include=["amount"],
                condition=models.Q(released_at__isnull=True),
                name="portfolios_hold_open_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Hold of {self.amount} {self.currency}: {self.reason}"

    @property
    def is_open(self) -> bool:
        return self.released_at is None


# --- Double-entry cash ledger --------------------------------------------------------------------


class LedgerAccount(models.TextChoices):
    """Where a posting goes. ``cash`` is the client's cash; the others are its counterparts."""

    CASH = "cash", "Cash"
    SECURITIES = "securities", "Securities at cost"
    EXTERNAL = "external", "External (money and positions in or out)"
    INCOME = "income", "Income (dividends, interest)"
    FEES = "fees", "Fees"
    REALIZED = "realized", "Realized gains and losses"
    CORPORATE_ACTIONS = "corporate_actions", "Corporate actions"


class LedgerEntry(FirmOwnedModel):
    """One balanced business event. Append-only: corrections are reversing entries."""

    append_only = True
    audited = False  # append-only: the ledger is its own trail

    account = models.ForeignKey(
        ClientAccount, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    transaction = models.ForeignKey(
        Transaction,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    reverses = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False, db_constraint=False
    )
    memo = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(FirmOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["firm", "transaction"],
                condition=models.Q(transaction__isnull=False),
                name="portfolios_entry_tx_uniq",
            ),
            models.UniqueConstraint(
                fields=["firm", "reverses"],
                condition=models.Q(reverses__isnull=False),
                name="portfolios_entry_reversed_once",
            ),
        ]
        indexes = [models.Index(fields=["firm", "account"], name="portfolios_entry_account_idx")]

    def __str__(self) -> str:
        return f"Entry {self.pk}: {self.memo}"


class LedgerPosting(FirmOwnedModel):
    """One leg of an entry. The postings of an entry sum to zero in each currency; the database
    checks it at the end of every INSERT statement (trigger in migration 0002)."""

    append_only = True
    audited = False  # append-only: the ledger is its own trail

    entry = models.ForeignKey(
        LedgerEntry, on_delete=models.PROTECT, related_name="postings", db_index=False, db_constraint=False
    )
    account = models.ForeignKey(
        ClientAccount, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    ledger_account = models.CharField(max_length=20, choices=LedgerAccount.choices)
    currency = CurrencyField()
    amount = MoneyField()

    class Meta(FirmOwnedModel.Meta):
        indexes = [
            # Cash by currency of one account is an index-only scan.
            models.Index(
                fields=["firm", "account", "ledger_account", "currency"],
                include=["amount"],
                name="portfolios_posting_balance_idx",
            ),
            models.Index(fields=["firm", "entry"], name="portfolios_posting_entry_idx"),
        ]


# --- Derived data ----------------------------------------------------------------------------------


class Position(FirmOwnedModel):
    """Holding of one security in one account: the sum of the account's transactions in it,
    maintained by ``services`` under the account's row lock (and provable by ``check_portfolios``).
    Cost basis is average cost, in the security's currency."""

    audited = False  # derived from the transactions, which are the trail

    account = models.ForeignKey(
        ClientAccount, on_delete=models.CASCADE, related_name="positions", db_index=False, db_constraint=False
    )
    security = models.ForeignKey(Security, on_delete=models.PROTECT, related_name="+")
    quantity = QuantityField(default=0)
    cost_basis = MoneyField(default=0)
    realized_gain = MoneyField(default=0)
    currency = CurrencyField()

    class Meta(FirmOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["firm", "account", "security"], name="portfolios_position_uniq"),
        ]


class DailySeries(FirmOwnedModel):
    """Daily values of one account over one calendar quarter, as arrays over its business days.

    Element ``k`` of each array belongs to the ``k``-th business day (Monday to Friday) from
    ``first_date`` on; the arrays run without gaps to the last computed day of the quarter. ``nav``
    and ``net_flow`` are the end-of-day net asset value and the day's net external flow in the
    account's base currency, already rounded to cents; ``return_index`` is the time-weighted
    return index (1 on the account's first day) as computed. Float8 is exact enough for
    a derived series (15 significant digits: cents up to 10^13); what is shown is rounded to the
    currency's minor unit and handed out as ``Decimal`` by ``performance.value_history``. One row
    per quarter (at most 66 days: three arrays of 0.5 kB) stays under PostgreSQL's 2 kB TOAST
    threshold, so a nightly append rewrites one small inline row, while five years of history are
    20 rows (a full recompute writes and checks a third as many rows as with a row per month).
    Written only by ``performance``, in bulk.
    """

    audited = False  # derived data, recomputed in bulk

    account = models.ForeignKey(
        ClientAccount, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    quarter = models.DateField(help_text="First day of the calendar quarter")
    first_date = models.DateField(help_text="Business day of the arrays' first element")
    nav = ArrayField(models.FloatField())
    net_flow = ArrayField(models.FloatField())
    return_index = ArrayField(models.FloatField())
    # The same index with fees (``accounting.FEE_KINDS``) taken as external flows: gross of fees.
    gross_index = ArrayField(models.FloatField(), default=list)

    class Meta(FirmOwnedModel.Meta):
        verbose_name_plural = "daily series"
        constraints = [
            models.UniqueConstraint(fields=["firm", "account", "quarter"], name="portfolios_daily_series_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.quarter:%Y-%m}"


class SeriesState(FirmOwnedModel):
    """Where an account's daily series ends: its last computed business day (``as_of``), that day's
    NAV and return index, and the account's holdings at the end of it, as exact integers in the
    units of the books' columns (quantities in millionths, cash in ten-thousandths of the
    currency). The nightly update starts from here and reads only the transactions after
    ``as_of``: its cost does not grow with the length of the history, and integer holdings make it
    store exactly what a full recompute does. Written only by ``performance``; an account without
    one is computed from its first transaction.
    """

    audited = False  # derived data, recomputed in bulk

    account = models.ForeignKey(
        ClientAccount, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    as_of = models.DateField()
    nav = models.FloatField()
    return_index = models.FloatField()
    gross_index = models.FloatField(default=1.0)
    security_ids = ArrayField(models.BigIntegerField(), default=list)
    quantities = ArrayField(models.BigIntegerField(), default=list, help_text="Millionths of a unit")
    currencies = ArrayField(models.CharField(max_length=3), default=list)
    cash = ArrayField(models.BigIntegerField(), default=list, help_text="Ten-thousandths of the currency")

    class Meta(FirmOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["firm", "account"], name="portfolios_series_state_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} at {self.as_of}"


class SeriesChange(FirmOwnedModel):
    """A change to an account's inputs dated ``from_date``: written by a trigger on the transactions
    table (one row per account and statement, with the statement's earliest trade date) and by
    ``performance`` for market data revised for a day already computed. ``performance`` recomputes
    an account whose change is dated on or before its last computed day, then deletes the rows it
    read (a row written meanwhile stays for the next run); rows dated after it only go (the
    nightly update reads those days anyway)."""

    audited = False  # derived bookkeeping of the daily values

    account = models.ForeignKey(
        ClientAccount, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    from_date = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(FirmOwnedModel.Meta):
        indexes = [models.Index(fields=["firm", "account", "from_date"], name="portfolios_series_change_idx")]

    def __str__(self) -> str:
        return f"{self.account_id} from {self.from_date}"


class MarketRevision(models.Model):
    """Closes or FX rates written for ``from_date`` and later (global reference data, like the
    prices): one row per security or currency and statement, by triggers on the price and FX
    tables. Each firm's daily values read the revisions after its ``SeriesWatermark`` and mark
    the accounts that held the security or currency on a day already computed."""

    security = models.ForeignKey(Security, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    currency = models.CharField(max_length=3, blank=True)
    from_date = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.security_id or self.currency} from {self.from_date}"


class SeriesWatermark(FirmOwnedModel):
    """The last ``MarketRevision`` a firm's daily values have taken into account."""

    audited = False

    revision_id = models.BigIntegerField(default=0)

    class Meta(FirmOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["firm"], name="portfolios_series_watermark_uniq")]

    def __str__(self) -> str:
        return f"revision {self.revision_id}"


class AumDay(FirmOwnedModel):
    """The firm's assets under management on one business day in one base currency: the sum of
    every account's ``DailySeries`` value and net external flow that day. Derived, written only by
    ``portfolios.aum.refresh`` (in the background after each daily-values run), so the dashboard
    of a user who sees every account reads a year in ~260 rows instead of summing ~5 million
    account-days; a user with a selected scope gets the same sum computed over their accounts."""

    audited = False  # derived data, recomputed in bulk

    currency = models.CharField(max_length=3)
    date = models.DateField()
    nav = models.FloatField()
    net_flow = models.FloatField()

    class Meta(FirmOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["firm", "currency", "date"], name="portfolios_aum_day_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.date}"
