"""Issue #17, money paths under real concurrency: committed rows, threads with their own
connections, and a process killed between the ledger posting and the status change."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client

from accounts.rights import Role
from advisorportal.links.models import LinkCode
from advisorportal.tenancy.context import firm_scope
from funding import services
from funding.models import Authorization, FundingRequest, RequestEvent, Status
from portfolios.models import CashHold, Transaction
from tests.concurrency import run_concurrently
from tests.conftest import Persona
from tests.factories import FirmFactory, UserFactory
from tests.test_funding import World, available, code_from_email, token_from_outbox
from tests.test_jobs_worker import _with_database

D = Decimal
BASE_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture
def world(committed_db: None) -> World:
    firm = FirmFactory(name="Delta Wealth", slug="delta")
    return World(Persona(UserFactory(firm=firm, email="dora@delta.test", role=Role.PRIMARY), firm))


def awaiting_authorizer(world: World, amount: str = "2500") -> FundingRequest:
    """A withdrawal the client need not approve (Full-Service with the power), sent to the authorizers."""
    with firm_scope(world.alice.firm):
        services.settings_update(actor=world.alice.user, program="full_service")
        services.enrollment_set(actor=world.advisor, contact=world.client, powers=["move_funds"], form_reference="F1")
        request = world.withdrawal(amount)
        services.request_send(actor=world.advisor, request=request)
        request.refresh_from_db()
        assert request.status == Status.AWAITING_AUTHORIZER
        return request


def test_two_authorizers_at_once_submit_once(world: World) -> None:
    request = awaiting_authorizer(world)
    people = [world.authorizer, world.authorizer2]

    def work(index: int) -> Any:
        with firm_scope(world.alice.firm):
            return services.request_authorize(actor=people[index], request=request).status

    results = run_concurrently(2, work)
    wins = [r for r in results if r == Status.SUBMITTED]
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert len(wins) == 1 and len(refused) == 1, results
    assert "cannot be authorized" in str(refused[0])
    with firm_scope(world.alice.firm):
        assert Authorization.objects.filter(request=request).count() == 1
        assert RequestEvent.objects.filter(request=request, action="authorize").count() == 1


def test_completions_at_once_post_once(world: World) -> None:
    request = awaiting_authorizer(world)
    with firm_scope(world.alice.firm):
        services.request_authorize(actor=world.authorizer, request=request)

    def work(index: int) -> Any:
        with firm_scope(world.alice.firm):
            return services.request_complete(actor=world.authorizer, request=request, custodian_reference="C1").status

    results = run_concurrently(6, work)
    assert results == [Status.COMPLETED] * 6, results
    with firm_scope(world.alice.firm):
        assert Transaction.objects.filter(external_id=request.reference).count() == 1
        assert available(world.account) == D("7500")
        assert RequestEvent.objects.filter(request=request, action="complete").count() == 1


def test_twenty_approvals_of_one_link_at_once_one_wins(world: World) -> None:
    with firm_scope(world.alice.firm):
        request = world.withdrawal()
        services.request_send(actor=world.advisor, request=request)
    token = token_from_outbox(world)
    assert Client().post(f"/approve/{token}/code/", {"destination": "0"}).status_code == 302
    code = code_from_email(world)

    def work(index: int) -> int:
        return Client().post(f"/approve/{token}/decide/", {"decision": "approve", "code": code}).status_code

    results = run_concurrently(20, work)
    assert sorted(results).count(200) == 1, results
    assert all(status in (400, 404) for status in results if status != 200), results
    with firm_scope(world.alice.firm):
        request.refresh_from_db()
        assert request.status == Status.AWAITING_AUTHORIZER
        assert RequestEvent.objects.filter(request=request, action="client_approve").count() == 1
        assert LinkCode.objects.filter(used_at__isnull=False).count() == 1
        assert CashHold.objects.filter(released_at__isnull=True).count() == 1


def test_a_process_killed_between_posting_and_status_change_posts_nothing(world: World) -> None:
    request = awaiting_authorizer(world)
    with firm_scope(world.alice.firm):
        services.request_authorize(actor=world.authorizer, request=request)
    database = connection.settings_dict["NAME"]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "advisorportal.settings", "APP_ENV": "test"}
    for name in ("DATABASE_URL", "DATABASE_OWNER_URL"):
        env[name] = _with_database(os.environ[name], database)
    done = subprocess.run(
        [sys.executable, "-m", "tests.funding_kill", str(world.alice.firm.pk), str(request.pk)],
        cwd=BASE_DIR, env=env, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    output = done.stdout.decode() + done.stderr.decode()
    assert done.returncode == -9 and "posted" in output and "not killed" not in output, output
    with firm_scope(world.alice.firm):
        request.refresh_from_db()
        assert request.status == Status.SUBMITTED  # the posting died with its transaction
        assert not Transaction.objects.filter(external_id=request.reference).exists()
        assert CashHold.objects.get(pk=request.hold_id).released_at is None
        services.request_complete(actor=world.authorizer, request=request, custodian_reference="C2")
        assert Transaction.objects.filter(external_id=request.reference).count() == 1
        assert available(world.account) == D("7500")
