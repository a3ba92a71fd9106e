"""The billing API. Rights: Fee Administration.

The fee calculator (``POST /api/v1/billing/fee-calculator/``) computes, without storing anything,
the fee of a schedule on given values: the same calculation as the calculator page and, next, the
fee runs (``billing.fees``)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_access import FirmScopedAPIView
from accounts.rights import Right
from billing import fees
from billing.serializers import (
    RULES,
    FeeCalculatorResultSerializer,
    FeeCalculatorSerializer,
    calculate_body,
    result_data,
)

EXAMPLE = {
    "schedule": {
        "method": "tiered",
        "tiers": [{"up_to": "1000000.00", "annual_rate_pct": "1.00"}, {"up_to": None, "annual_rate_pct": "0.75"}],
        "minimum_annual_fee": "1000.00",
        "maximum_annual_fee": None,
        "flat_annual_fee": None,
    },
    "accounts": [{"ref": "U1234567", "value": "900000.00"}, {"ref": "U1234568", "value": "350000.00"}],
    "householding": True,
    "frequency": "quarterly",
}


class FeeCalculatorView(FirmScopedAPIView):
    required_right = Right.FEE_ADMINISTRATION

    @extend_schema(
        summary="The fee of a schedule on given values (nothing is stored)",
        description=RULES + "\n\nBad input (overlapping or unordered bands, negative values, an unknown method) "
        "answers 400 with `fields` naming each field by its path, e.g. `schedule.tiers[1].up_to`.",
        request=FeeCalculatorSerializer,
        responses=FeeCalculatorResultSerializer,
        examples=[OpenApiExample("Householded, tiered, quarterly", value=EXAMPLE, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        try:
            result = calculate_body(request.data)
        except fees.FeeInputError as error:
            raise exceptions.ValidationError({path: [message] for path, message in error.errors.items()}) from None
        return Response(result_data(result))
