"""The stateless calculators' API (issue #19), under /api/v1/tools/: XIRR, XNPV, IRR, the returns
of a held-away account (TWR, MWR, Modified Dietz) and required minimum distributions. Nothing is
read from or written to the database beyond the caller's identity; the rules are in
``reports.returns`` and docs/reports.md.

Right: PortfolioAnalyst (a signed-in user of the firm, or an API token that carries it). Bad input
(a malformed date or amount, a JSON number instead of a decimal string, more than 10,000 rows,
flows outside the period, cash flows all of one sign, a rate without a solution) answers 400 in the
one error shape, naming the field.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_access import FirmScopedAPIView, require_stepped_up_session
from accounts.rights import Right
from advisorportal.api_schema import object_filter
from reports import queries, returns, selectors, services
from reports.performance import PerformanceInputError
from reports.serializers import (
    AccountQueryAnswerSerializer,
    AccountQueryParamsSerializer,
    ActivityQueryAnswerSerializer,
    ActivityQueryParamsSerializer,
    BlendSerializer,
    BlendWriteSerializer,
    PerformanceQueryAnswerSerializer,
    PerformanceQueryParamsSerializer,
    PerformanceQuerySerializer,
    PerformanceSerializer,
    RmdQueryAnswerSerializer,
    RmdQueryParamsSerializer,
    SymbolQueryAnswerSerializer,
    SymbolQueryParamsSerializer,
    ToolIrrRequestSerializer,
    ToolRateSerializer,
    ToolReturnsRequestSerializer,
    ToolReturnsSerializer,
    ToolRmdQuerySerializer,
    ToolRmdSerializer,
    ToolValueSerializer,
    ToolXirrRequestSerializer,
    ToolXnpvRequestSerializer,
    decimal_text,
)

T = TypeVar("T")


def calculate(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a calculator; its refusal is the API's 400 naming the field."""
    try:
        return call(*args, **kwargs)
    except returns.CalculationError as error:
        raise exceptions.ValidationError({error.field: [error.message]}) from None


class ToolView(FirmScopedAPIView):
    required_right = Right.PORTFOLIO_ANALYST

    def body(self, serializer_class: type[Any], request: Request) -> dict[str, Any]:
        body = serializer_class(data=request.data)
        body.is_valid(raise_exception=True)
        return dict(body.validated_data)


class XirrView(ToolView):
    @extend_schema(
        request=ToolXirrRequestSerializer,
        responses=ToolRateSerializer,
        examples=[
            OpenApiExample(
                "The spreadsheet example",
                request_only=True,
                value={"cashflows": [
                    {"date": "2008-01-01", "amount": "-10000"}, {"date": "2008-03-01", "amount": "2750"},
                    {"date": "2008-10-30", "amount": "4250"}, {"date": "2009-02-15", "amount": "3250"},
                    {"date": "2009-04-01", "amount": "2750"},
                ]},
            ),
            OpenApiExample("Its answer", response_only=True, value={"rate": "0.373362533519"}),
        ],
    )  # fmt: skip
    def post(self, request: Request) -> Response:
        """The rate per year r with sum(amount_i / (1 + r)^((d_i - d_0) / 365)) = 0, d_0 the first row's
        date: the spreadsheet XIRR (actual days over 365). Solved by Newton's method from 10 % with a
        bracketing fallback (Brent's method on the first sign change found outwards from 10 %), then
        refined in 28-digit decimals; answered to 12 significant digits. Needs at least 2 rows, one
        positive and one negative amount, no date before the first; 400 when no rate solves it."""
        data = self.body(ToolXirrRequestSerializer, request)
        return Response({"rate": decimal_text(calculate(returns.xirr, data["cashflows"]))})


class XnpvView(ToolView):
    @extend_schema(request=ToolXnpvRequestSerializer, responses=ToolValueSerializer)
    def post(self, request: Request) -> Response:
        """sum(amount_i / (1 + rate)^((d_i - d_0) / 365)), d_0 the first row's date: the spreadsheet
        XNPV. Computed in 28-digit decimals, answered to six decimal places (half up). The rate is
        per year and more than -1."""
        data = self.body(ToolXnpvRequestSerializer, request)
        return Response({"value": decimal_text(calculate(returns.xnpv, data["rate"], data["cashflows"]))})


class IrrView(ToolView):
    @extend_schema(request=ToolIrrRequestSerializer, responses=ToolRateSerializer)
    def post(self, request: Request) -> Response:
        """The rate per period r with sum(amount_k / (1 + r)^k) = 0 for amounts at equal periods
        k = 0, 1, …: the spreadsheet IRR. Same solver and precision as XIRR."""
        data = self.body(ToolIrrRequestSerializer, request)
        return Response({"rate": decimal_text(calculate(returns.irr, data["cashflows"]))})


class ReturnsView(ToolView):
    @extend_schema(
        request=ToolReturnsRequestSerializer,
        responses=ToolReturnsSerializer,
        examples=[
            OpenApiExample(
                "A contribution half way",
                request_only=True,
                value={
                    "valuations": [{"date": "2023-01-01", "value": "1000"}, {"date": "2023-07-01", "value": "1100"},
                                   {"date": "2024-01-01", "value": "2200"}],
                    "flows": [{"date": "2023-07-01", "amount": "1000"}],
                },
            )
        ],
    )  # fmt: skip
    def post(self, request: Request) -> Response:
        """The returns of an account from its valuations and external flows.

        Convention: each valuation is the market value at the END of its date, BEFORE that date's
        flows; each flow happens AFTER its date's valuation (positive: contribution). A flow on the
        first date is invested for the whole period; a flow may not fall on the last date (it comes
        after the closing value).

        - `twr`: sub-period returns V_i / (V_{i-1} + F_{i-1}) - 1 linked geometrically; it needs a
          valuation on every flow's date, else null (the explanation says which dates).
        - `mwr`: (1 + x)^(days / 365) - 1 with x the XIRR of -V_start at the start, -F_i at their
          dates and +V_end at the end; `mwr_annualized` is x.
        - `modified_dietz`: (V_end - V_start - sum F) / (V_start + sum F_i w_i), w_i = (CD - D_i) / CD,
          D_i the flow's day counted from the start, CD the days of the period; never annualised.
        - Annualised figures, (1 + r)^(365 / days) - 1, only for periods longer than 365 days (else null).

        Rates: 12 significant digits. Figures are null (and the explanation says why) for a negative
        start, a start at zero with nothing invested that day, a sub-period starting at zero, a
        withdrawal larger than the account, no XIRR solution. Fewer than 2 valuations, dates out of
        order, negative valuations, zero flows or flows outside the period: 400 naming the field."""
        data = self.body(ToolReturnsRequestSerializer, request)
        result = calculate(returns.returns, data["valuations"], data.get("flows") or [])
        return Response(
            {
                "twr": decimal_text(result.twr),
                "twr_annualized": decimal_text(result.twr_annualized),
                "mwr": decimal_text(result.mwr),
                "mwr_annualized": decimal_text(result.mwr_annualized),
                "modified_dietz": decimal_text(result.modified_dietz),
                "days": result.days,
                "explanation": result.explanation,
            }
        )


class RmdView(ToolView):
    @extend_schema(parameters=[ToolRmdQuerySerializer], responses=ToolRmdSerializer)
    def get(self, request: Request) -> Response:
        """The required minimum distribution of an IRA owner for a year: balance (December 31 of the
        year before) / distribution period, to the cent, half up.

        Applicable age (SECURE 2.0): 70½ for those born before 1949-07-01, 72 for 1949-07-01 to
        1950-12-31, 73 for 1951 to 1959, 75 for 1960 or later; the first RMD year is the year it is
        reached, due April 1 of the next year, later years by December 31. No RMD for 2020 (CARES
        Act). Tables (IRS Publication 590-B, Appendix B): the Uniform Lifetime Table of 2022 for 2022
        and later, the earlier one before; the Joint and Last Survivor Table when the spouse is the
        sole beneficiary and more than 10 years younger (ages attained in the year). A combination
        of ages this calculator does not hold is a 400 naming `spouse_birth_date`, never a guess.
        Before the first RMD year `required` is false and `table`, `distribution_period`, `rmd` are null."""
        query = ToolRmdQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        answer = calculate(
            returns.rmd,
            data["birth_date"],
            data["year"],
            data["balance"],
            spouse_birth_date=data.get("spouse_birth_date"),
            spouse_sole_beneficiary=data.get("spouse_sole_beneficiary", False),
        )
        return Response(ToolRmdSerializer(answer).data)


CONVENTION = (
    "A day's value is its close; external flows (deposits, withdrawals, transfers) happen at the end of their day; "
    "dividends, interest and fees are not flows. A period runs from the close of `start` (its flows are in the "
    "starting value) to the close of `end` (its flows are in the period). Time-weighted: the daily returns "
    "(value - flows) / value the day before - 1, linked geometrically (a household: its accounts' daily returns "
    "weighted by their values the day before). Money-weighted: XIRR of -start value, -flows, +end value, actual/365. "
    "Modified Dietz: gain / (start value + sum of flows x (CD - D) / CD), a flow on day D of CD days; never "
    "annualised. Net of fees: fees lower the return; gross: fees count as money taken out. Annualised only over "
    "more than a year (3 and 5 years always; since inception and a custom range when they end after the same date a "
    "year after their start; never the periods to date or 1 year): (1 + r)^(365 / days) - 1, the XIRR's basis."
)


class PerformanceView(FirmScopedAPIView):
    required_right = Right.PORTFOLIO_ANALYST

    @extend_schema(
        parameters=[
            PerformanceQuerySerializer,
            object_filter("account", "The account to measure (give one of account, household, group, firm)"),
            object_filter("household", "The household to measure: its accounts in your scope"),
            object_filter("group", "The CRM group to measure: its members' accounts in your scope"),
            object_filter("blend", "One of your firm's blended benchmarks, measured beside every period"),
        ],
        responses=PerformanceSerializer,
    )
    def get(self, request: Request) -> Response:
        """The performance of an account, a household, a CRM group (`group`: its members' accounts) or the
        whole firm (`firm=true`: every account of your scope) from its daily values: month, quarter and year to
        date, 1, 3 and 5 years, since inception, and a custom range (`start`, `end`), each time-weighted,
        money-weighted (XIRR) and Modified Dietz, net and gross of fees, beside a benchmark (`benchmark`,
        default SPX or the demo index), with the reason the time- and money-weighted returns differ.

        Rates are decimal strings to 10 decimal places, amounts to the currency's minor unit, dates ISO
        8601. A household, a group and the firm are their accounts in your scope in their main base currency
        (others are listed in `left_out`; a group and the firm list at most 100 of each and count them all in
        `account_count` and `left_out_count`). A group and the firm link their summed values' daily growth,
        (NAV - flows) / NAV the day before: the household's value-weighted linking. A period longer than the
        history, or one that starts at a value of zero or less, has null figures and says why in `undefined`.
        A start before inception or a date in the future, an end before the start, or an unknown benchmark:
        400 naming the field. An account, household or group outside your firm or scope (or another user's
        private group): 404."""
        query = PerformanceQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        try:
            if "household" in data:
                subject = selectors.performance_household(user=request.user, pk=data["household"])
            elif "group" in data:
                subject = selectors.performance_group(user=request.user, pk=data["group"])
            elif data.get("firm"):
                subject = selectors.performance_firm(user=request.user)
            else:
                subject = selectors.performance_account(user=request.user, pk=data["account"])
        except selectors.SubjectNotFound:
            raise exceptions.NotFound("No such account, household or group.") from None
        try:
            blend = selectors.blend_get(pk=data["blend"]) if "blend" in data else None
        except selectors.BlendNotFound:
            raise exceptions.NotFound("No such blended benchmark.") from None
        try:
            page = selectors.performance(
                subject=subject, start=data.get("start"), end=data.get("end"), benchmark=data.get("benchmark", ""),
                day=date.isoformat, user=request.user, blend=blend, contribution=data.get("contribution", ""),
            )  # fmt: skip
        except PerformanceInputError as error:
            raise exceptions.ValidationError({error.field: [error.message]}) from None
        result = page.performance
        body = {
            "kind": subject.kind, "id": subject.pk, "name": subject.name, "currency": subject.currency,
            "accounts": subject.accounts, "left_out": subject.left_out,
            "account_count": subject.account_count or len(subject.accounts),
            "left_out_count": subject.left_out_count or len(subject.left_out),
            "first": result.first if result else None, "as_of": result.as_of if result else None,
            "benchmark": result.benchmark if result else "", "periods": result.periods if result else [],
            "custom": result.custom if result else None, "blend": blend, "allocation": page.allocation,
            "contribution": page.contribution, "contribution_undefined": page.contribution_undefined,
            "convention": CONVENTION,
        }  # fmt: skip
        return Response(PerformanceSerializer(body).data)


# --- Client data queries and account queries (issue #19, point 4) -------------------------------------


class QueryView(FirmScopedAPIView):
    """A query over the accounts of the caller's PortfolioAnalyst scope; its answer is ``count``,
    ``truncated``, ``summary``, ``notes`` and the first ``limit`` rows in ``results``."""

    required_right = Right.PORTFOLIO_ANALYST
    params: type[Any]
    answer: type[Any]

    def run(self, request: Request, data: dict[str, Any]) -> queries.QueryResult:
        raise NotImplementedError

    def get(self, request: Request) -> Response:
        query = self.params(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = dict(query.validated_data)
        try:
            result = self.run(request, data)
        except queries.QueryInputError as error:
            raise exceptions.ValidationError({error.field: [error.message]}) from None
        limit = data["limit"]
        body = {"count": result.count, "truncated": result.count > limit, "summary": result.summary,
                "notes": result.notes, "results": result.rows[:limit]}  # fmt: skip
        return Response(self.answer(body).data)


class PerformanceQueryView(QueryView):
    params, answer = PerformanceQueryParamsSerializer, PerformanceQueryAnswerSerializer

    @extend_schema(parameters=[PerformanceQueryParamsSerializer], responses=PerformanceQueryAnswerSerializer)
    def get(self, request: Request) -> Response:
        """Accounts whose time-weighted return (net of fees, the stored daily index) over `period` is above
        `above` and/or below `below` (fractions; both: between them), highest first. A period to date and
        since inception that began before an account did is measured from its first day; 1, 3 and 5 years
        and CUSTOM need values from their start (others are counted in `notes`). Give at least one of
        above and below; with both, above must be lower: else 400 naming the field."""
        return super().get(request)

    def run(self, request: Request, data: dict[str, Any]) -> queries.QueryResult:
        return queries.performance_query(
            user=request.user, code=data["period"], above=data.get("above"), below=data.get("below"),
            start=data.get("start"), end=data.get("end"), today=timezone.localdate(),
        )  # fmt: skip


class SymbolQueryView(QueryView):
    params, answer = SymbolQueryParamsSerializer, SymbolQueryAnswerSerializer

    @extend_schema(parameters=[SymbolQueryParamsSerializer], responses=SymbolQueryAnswerSerializer)
    def get(self, request: Request) -> Response:
        """Accounts that held the security at the start of the period or had a transaction in it. An unknown
        symbol is a 400 naming `symbol`."""
        return super().get(request)

    def run(self, request: Request, data: dict[str, Any]) -> queries.QueryResult:
        return queries.symbol_query(
            user=request.user, symbol=data["symbol"], start=data["start"], end=data.get("end"),
            today=timezone.localdate(),
        )  # fmt: skip


class ActivityQueryView(QueryView):
    params, answer = ActivityQueryParamsSerializer, ActivityQueryAnswerSerializer

    @extend_schema(parameters=[ActivityQueryParamsSerializer], responses=ActivityQueryAnswerSerializer)
    def get(self, request: Request) -> Response:
        """Accounts with more than `threshold` trades (buys and sells), dividends and position transfers
        together in the period, most first; interest, cash flows and fees are not counted, and a correction
        and the transaction it reverses count as none."""
        return super().get(request)

    def run(self, request: Request, data: dict[str, Any]) -> queries.QueryResult:
        return queries.activity_query(
            user=request.user, start=data["start"], end=data.get("end"), threshold=data["threshold"],
            today=timezone.localdate(),
        )  # fmt: skip


class RmdQueryView(QueryView):
    params, answer = RmdQueryParamsSerializer, RmdQueryAnswerSerializer

    @extend_schema(parameters=[RmdQueryParamsSerializer], responses=RmdQueryAnswerSerializer)
    def get(self, request: Request) -> Response:
        """The primary owners of Traditional, Rollover and SEP IRAs (not closed) with a required minimum
        distribution for `year`: the balance at the close of December 31 before over the Uniform Lifetime
        Table's period, withdrawn so far in the year and what is left."""
        return super().get(request)

    def run(self, request: Request, data: dict[str, Any]) -> queries.QueryResult:
        return queries.rmd_query(user=request.user, year=data["year"], today=timezone.localdate())


class AccountQueryView(QueryView):
    params, answer = AccountQueryParamsSerializer, AccountQueryAnswerSerializer

    @extend_schema(parameters=[AccountQueryParamsSerializer], responses=AccountQueryAnswerSerializer)
    def get(self, request: Request) -> Response:
        """Accounts by type, status, margin type, trading permissions, base currency, opening date, value,
        household and sub-account (each list: any of its values; all criteria together). Only from a
        signed-in browser session that confirmed its second factor in the last minutes, never with an API
        token (403)."""
        require_stepped_up_session(request, what="An account query")
        return super().get(request)

    def run(self, request: Request, data: dict[str, Any]) -> queries.QueryResult:
        criteria = queries.AccountCriteria(
            account_types=data.get("account_type", []), statuses=data.get("status", []),
            margin_types=data.get("margin_type", []), permissions=data.get("permission", []),
            currencies=data.get("currency", []), opened_from=data.get("opened_from"),
            opened_to=data.get("opened_to"), value_min=data.get("value_min"), value_max=data.get("value_max"),
            in_household=data.get("household"), sub_accounts=data.get("sub_account"),
        )  # fmt: skip
        return queries.account_query(user=request.user, criteria=criteria)


# --- Blended benchmarks ---------------------------------------------------------------------------


def _blend_write(request: Request) -> dict[str, Any]:
    body = BlendWriteSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


def _blend_saved(call: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return call(**kwargs)
    except DjangoValidationError as error:
        raise exceptions.ValidationError(error.message_dict) from None


class BlendListView(FirmScopedAPIView):
    """Your firm's blended benchmarks: index series mixed by weight (GET), or a new one (POST)."""

    required_right = Right.PORTFOLIO_ANALYST

    @extend_schema(responses=BlendSerializer(many=True))
    def get(self, request: Request) -> Response:
        """Every blend of your firm by name (at most 200), with its components and rebalancing."""
        return Response(BlendSerializer(selectors.blend_list(), many=True).data)

    @extend_schema(request=BlendWriteSerializer, responses={201: BlendSerializer})
    def post(self, request: Request) -> Response:
        """A new blend: at least two index series (by symbol), weights in percent (decimal strings, to the
        hundredth) adding up to exactly 100, rebalanced daily, monthly (default), quarterly or annually
        (back to the target weights at the close of each period's last day with levels). Names are unique
        in the firm. Bad input: 400 naming the field; nothing is saved."""
        data = _blend_write(request)
        blend = _blend_saved(services.blend_create, actor=request.user, **data)
        return Response(BlendSerializer(selectors.blend_get(pk=blend.pk)).data, status=201)


class BlendDetailView(FirmScopedAPIView):
    """One blend of your firm: read, replace (PUT: every field, the components as a whole) or delete.
    Another firm's blend and a missing one are the same 404."""

    required_right = Right.PORTFOLIO_ANALYST

    def blend(self, pk: int) -> Any:
        try:
            return selectors.blend_get(pk=pk)
        except selectors.BlendNotFound:
            raise exceptions.NotFound("No such blended benchmark.") from None

    @extend_schema(responses=BlendSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(BlendSerializer(self.blend(pk)).data)

    @extend_schema(request=BlendWriteSerializer, responses=BlendSerializer)
    def put(self, request: Request, pk: int) -> Response:
        blend = self.blend(pk)
        data = _blend_write(request)
        _blend_saved(services.blend_update, actor=request.user, blend=blend, **data)
        return Response(BlendSerializer(selectors.blend_get(pk=blend.pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.blend_delete(actor=request.user, blend=self.blend(pk))
        return Response(status=204)
