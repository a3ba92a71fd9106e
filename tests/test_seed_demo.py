"""seed_demo honours the demo data contract of PRODUCT.md."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from accounts.models import ApiToken, Firm, User
from accounts.rights import Right
from accounts.selectors import user_rights
from accounts.services import api_token_authenticate
from advisorportal.mail.models import MessageTemplate, OutgoingEmail
from advisorportal.tenancy.context import firm_scope
from crm.models import Contact, Household

pytestmark = pytest.mark.django_db


def test_seed_demo_builds_both_firms_and_writes_credentials(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    call_command("seed_demo", contacts=30, accounts=0, credentials=str(path), stdout=StringIO())
    creds = json.loads(path.read_text())
    assert set(creds["firms"]) == {"harbor", "summit"}
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    for slug, firm_creds in creds["firms"].items():
        firm = Firm.objects.get(slug=slug)
        emails = [u["email"] for u in firm_creds["users"]]
        assert emails == [f"owner@{slug}.example", f"advisor@{slug}.example", f"assistant@{slug}.example"]
        with firm_scope(firm):
            for entry in firm_creds["users"]:
                user = User.objects.get(email=entry["email"])
                assert user.check_password(entry["password"])
                token = api_token_authenticate(entry["api_token"])
                assert token is not None and token.user == user
            assert Contact.objects.count() == 30
            assert Household.objects.exists()
            owner, advisor, assistant = (User.objects.get(email=e) for e in emails)
            assert user_rights(user=owner) == frozenset(Right)
            assert Right.USER_MANAGEMENT not in user_rights(user=advisor)
            assert Right.CRM in user_rights(user=advisor)
            assert user_rights(user=assistant) == frozenset({Right.CRM})
            assert MessageTemplate.objects.filter(category="marketing").count() == 2
            assert MessageTemplate.objects.filter(category="service").count() == 3
            sent = OutgoingEmail.objects.filter(contact_id__isnull=False)
            assert sent.filter(sent_by=advisor).count() == 3 and sent.filter(sent_by=assistant).exists()
            assert not sent.filter(subject__contains="{{").exists()


def test_seed_demo_is_rerunnable_and_renews_credentials(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    call_command("seed_demo", contacts=10, accounts=0, credentials=str(path), stdout=StringIO())
    first = json.loads(path.read_text())
    call_command("seed_demo", contacts=10, accounts=0, credentials=str(path), stdout=StringIO())
    second = json.loads(path.read_text())
    assert first["firms"]["harbor"]["users"][0]["password"] != second["firms"]["harbor"]["users"][0]["password"]
    assert api_token_authenticate(first["firms"]["harbor"]["users"][0]["api_token"]) is None
    assert ApiToken.objects.filter(name="demo").count() == 6
    with firm_scope(Firm.objects.get(slug="harbor")):
        assert Contact.objects.count() == 10


def test_seed_demo_is_reproducible(tmp_path: Path) -> None:
    call_command(
        "seed_demo", contacts=20, accounts=0, firms="harbor", credentials=str(tmp_path / "c.json"), stdout=StringIO()
    )
    with firm_scope(Firm.objects.get(slug="harbor")):
        first = list(Contact.objects.order_by("id").values_list("first_name", "last_name", "status"))
    call_command(
        "seed_demo",
        contacts=20,
        accounts=0,
        firms="harbor",
        reset=True,
        credentials=str(tmp_path / "c.json"),
        stdout=StringIO(),
    )
    with firm_scope(Firm.objects.get(slug="harbor")):
        second = list(Contact.objects.order_by("id").values_list("first_name", "last_name", "status"))
    assert first == second


def test_seed_demo_builds_client_accounts_that_reconcile(tmp_path: Path) -> None:
    from portfolios.models import ClientAccount
    from portfolios.selectors import reconciliation_problems

    call_command(
        "seed_demo", contacts=40, accounts=5, firms="summit", credentials=str(tmp_path / "c.json"), stdout=StringIO()
    )
    with firm_scope(Firm.objects.get(slug="summit")):
        assert ClientAccount.objects.filter(is_master=False).count() == 5
        assert reconciliation_problems() == []


def test_seed_demo_makes_funding_requests_in_every_state(tmp_path: Path) -> None:
    from advisorportal.links.models import Link
    from funding.models import FundingRequest, Status

    for _ in range(2):  # the second run adds nothing
        call_command("seed_demo", contacts=120, accounts=30, credentials=str(tmp_path / "c.json"), stdout=StringIO())
    for slug in ("harbor", "summit"):
        with firm_scope(Firm.objects.get(slug=slug)):
            states = set(FundingRequest.objects.values_list("status", flat=True))
            assert states == set(Status.values), (slug, states)
            assert FundingRequest.objects.count() == 10
            waiting = FundingRequest.objects.get(status=Status.AWAITING_CLIENT)
            assert Link.objects.filter(subject_id=str(waiting.pk), used_at=None, revoked_at=None).exists()
