"""Issue #17, property: any sequence of requests, approvals, cancellations, completions and
repeated completions leaves the books equal to a full recompute from the completed requests, the
open holds equal to what waiting requests reserve, no cash below zero, and each completed request
posted exactly once."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funding import services
from funding.models import FundingRequest, Status
from portfolios import selectors as book
from portfolios.models import AccountTransfer, CashHold, LedgerEntry, Transaction
from tests.test_funding import World, world  # noqa: F401 - the fixture

D = Decimal
amounts = st.decimals(min_value=D("0.01"), max_value=D("6000"), places=2)
steps = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["withdraw", "transfer", "deposit"]), amounts),
        st.tuples(st.sampled_from(["authorize", "complete", "cancel", "reject"]), st.integers(0, 20)),
    ),
    max_size=14,
)


def _books() -> tuple[int, int, int, int]:
    return (Transaction.objects.count(), LedgerEntry.objects.count(), CashHold.objects.count(),
            AccountTransfer.objects.count())  # fmt: skip


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=steps)
def test_property_funding_matches_a_full_recompute(world: World, ops: list[tuple]) -> None:  # noqa: F811
    with world.alice.scope(), transaction.atomic():
        services.settings_update(actor=world.alice.user, program="full_service")
        services.enrollment_set(actor=world.advisor, contact=world.client, powers=["move_funds"], form_reference="F")
        start = {a.pk: book.cash_position(account=a, currency="USD").total for a in (world.account, world.other)}
        made: list[FundingRequest] = []
        for op in ops:
            before = (_books(), list(FundingRequest.objects.values_list("status", flat=True).order_by("pk")))
            try:
                if op[0] in ("withdraw", "transfer", "deposit"):
                    kind = {"withdraw": "withdrawal", "transfer": "internal_transfer", "deposit": "deposit"}[op[0]]
                    extra = {"bank_instruction": world.instruction, "method": "wire"} if kind == "withdrawal" else {}
                    if kind == "internal_transfer":
                        extra = {"to_account": world.other}
                    if kind == "deposit":
                        extra = {"method": "ach"}
                    with transaction.atomic():
                        request = services.request_create(actor=world.advisor, kind=kind, account=world.account,
                                                          amount=op[1], currency="USD", **extra)  # fmt: skip
                        services.request_send(actor=world.advisor, request=request)
                    made.append(request)
                elif made:
                    request = made[op[1] % len(made)]
                    with transaction.atomic():
                        if op[0] == "authorize":
                            services.request_authorize(actor=world.authorizer, request=request)
                        elif op[0] == "complete":
                            services.request_complete(actor=world.authorizer, request=request, custodian_reference="X")
                        elif op[0] == "cancel":
                            services.request_cancel(actor=world.advisor, request=request, reason="changed")
                        else:
                            services.request_reject(actor=world.authorizer, request=request, reason="no")
            except ValidationError:
                after = (_books(), list(FundingRequest.objects.values_list("status", flat=True).order_by("pk")))
                assert after == before  # a refused step changes nothing
        # Full recompute from the requests' final states.
        requests = list(FundingRequest.objects.filter(pk__in=[r.pk for r in made]))
        done = [r for r in requests if r.status == Status.COMPLETED]
        expected_source = start[world.account.pk] + sum(
            (r.amount if r.kind == "deposit" else -r.amount for r in done), start=D(0)
        )
        expected_other = start[world.other.pk] + sum((r.amount for r in done if r.kind == "internal_transfer"), D(0))
        assert book.cash_position(account=world.account, currency="USD").total == expected_source
        assert book.cash_position(account=world.other, currency="USD").total == expected_other
        reserving = [r for r in requests if r.kind != "deposit" and r.status in (Status.AWAITING_AUTHORIZER,
                                                                                  Status.SUBMITTED)]  # fmt: skip
        assert book.cash_position(account=world.account, currency="USD").held == sum((r.amount for r in reserving),
                                                                                      D(0))  # fmt: skip
        assert book.cash_position(account=world.account, currency="USD").available >= 0
        for r in done:
            if r.kind == "internal_transfer":
                assert AccountTransfer.objects.filter(idempotency_key=r.reference).count() == 1
            else:
                assert Transaction.objects.filter(external_id=r.reference).count() == 1
        assert book.reconciliation_problems() == []
        transaction.set_rollback(True)
