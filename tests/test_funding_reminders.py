"""Issue #17: reminder emails for approvals nobody answered, one-time codes in a request's
timeline, and the actions of funding requests in Pending items."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from advisorportal.links.models import Link
from advisorportal.mail.models import OutgoingEmail
from funding import selectors, services, tasks
from funding.models import FundingRequest, RequestEvent, Status
from tests.conftest import Persona
from tests.test_funding import World, available, code_from_email, last_email_text, token_from_outbox
from tests.test_funding_api import Api

D = Decimal


@pytest.fixture
def world(alice: Persona) -> World:
    return World(alice)


def _age_links(request: FundingRequest, hours: int) -> None:
    """As if the request's links were issued ``hours`` ago (their deadline unchanged)."""
    Link.objects.filter(subject_id=str(request.pk)).update(created_at=timezone.now() - timedelta(hours=hours))


def _sent_withdrawal(world: World) -> FundingRequest:
    request = world.withdrawal()
    services.request_send(actor=world.advisor, request=request)
    return request


@pytest.mark.django_db
def test_one_reminder_with_a_new_link_that_keeps_the_deadline(world: World, client: Client) -> None:
    with world.alice.scope():
        request = _sent_withdrawal(world)
        first = Link.objects.get(subject_id=str(request.pk))
        assert services.reminders_send_due() == 0  # the default: after 24 hours
        _age_links(request, 25)
        emails = OutgoingEmail.objects.count()
        assert services.reminders_send_due() == 1
        assert OutgoingEmail.objects.count() == emails + 1
        assert "A reminder: " in last_email_text() and "replaces the one in our first email" in last_email_text()
        newest = Link.objects.filter(subject_id=str(request.pk)).order_by("-pk").first()
        assert newest is not None and newest.pk != first.pk
        assert abs((newest.expires_at - first.expires_at).total_seconds()) < 1  # no more time to answer
        first.refresh_from_db()
        assert first.revoked_at is not None
        # Once per email: the next beats (even with the new link aged too) send nothing.
        assert services.reminders_send_due() == 0
        _age_links(request, 30)
        assert services.reminders_send_due() == 0
        assert OutgoingEmail.objects.count() == emails + 1
        events = list(RequestEvent.objects.filter(request=request).values_list("action", "actor_label"))
        assert ("reminder_sent", "Automatic reminder") in events
        request.refresh_from_db()
        assert request.status == Status.AWAITING_CLIENT and available(world.account) == D("7500")
    # The reminder's link works; the first one answers as a made-up one.
    token = token_from_outbox(world)
    assert client.get(f"/approve/{token}/").status_code == 200
    with world.alice.scope():
        services.request_resend(actor=world.advisor, request=request)  # a re-send starts again
        _age_links(request, 25)
        assert services.reminders_send_due() == 1


@pytest.mark.django_db
def test_no_reminder_when_turned_off_or_answered_or_about_to_expire(world: World) -> None:
    with world.alice.scope():
        request = _sent_withdrawal(world)
        _age_links(request, 25)
        services.settings_update(actor=world.alice.user, reminder_after_hours=0)
        assert services.reminders_send_due() == 0
        services.settings_update(actor=world.alice.user, reminder_after_hours=24)
        Link.objects.filter(subject_id=str(request.pk)).update(expires_at=timezone.now() + timedelta(minutes=5))
        assert services.reminders_send_due() == 0  # the expiry sweep comes first
        Link.objects.filter(subject_id=str(request.pk)).update(expires_at=timezone.now() + timedelta(hours=40))
        services.request_cancel(actor=world.advisor, request=request, reason="Client changed their mind")
        assert services.reminders_send_due() == 0
        assert not RequestEvent.objects.filter(action="reminder_sent").exists()


@pytest.mark.django_db
def test_the_reminder_setting_is_checked_on_the_page_and_the_api(world: World) -> None:
    with world.alice.scope():
        with pytest.raises(ValidationError, match="before the link expires"):
            services.settings_update(actor=world.alice.user, link_expiry_hours=24, reminder_after_hours=24)
        assert selectors.funding_settings().reminder_after_hours == 24
    owner = Api(world.alice)
    refused = owner.write("patch", "/api/v1/funding-settings/", {"link_expiry_hours": 12}, key=None)
    assert refused.status_code == 400 and "reminder_after_hours" in refused.json()["error"]["fields"]
    for value in (-1, 720, "soon"):
        response = owner.write("patch", "/api/v1/funding-settings/", {"reminder_after_hours": value}, key=None)
        assert response.status_code == 400 and "reminder_after_hours" in response.json()["error"]["fields"]
    saved = owner.write("patch", "/api/v1/funding-settings/", {"reminder_after_hours": 48}, key=None)
    assert saved.status_code == 200 and saved.json()["reminder_after_hours"] == 48
    page = world.alice.client().post(
        "/funding/settings/",
        {"program": "streamlined", "cooling_off_days": "3", "dual_authorization_amount": "50000",
         "dual_authorization_currency": "USD", "link_expiry_hours": "72", "reminder_after_hours": "80"},
    )  # fmt: skip
    assert page.status_code == 400 and "before the link expires" in page.content.decode()
    with world.alice.scope():
        assert selectors.funding_settings().reminder_after_hours == 48


@pytest.mark.django_db
def test_the_beat_sends_each_firms_reminders_in_its_scope(world: World) -> None:
    assert settings.CELERY_BEAT_SCHEDULE["funding-reminders"]["task"] == "funding.tasks.funding_reminders_all"
    with world.alice.scope():
        request = _sent_withdrawal(world)
        _age_links(request, 25)
    assert tasks.funding_reminders_firm(world.alice.firm.pk) == 1
    assert tasks.funding_reminders_firm(world.alice.firm.pk) == 0


@pytest.mark.django_db
def test_codes_sent_and_refused_are_in_the_timeline(world: World, client: Client) -> None:
    with world.alice.scope():
        request = _sent_withdrawal(world)
    token = token_from_outbox(world)
    assert client.post(f"/approve/{token}/code/", {"destination": "0"}).status_code == 302
    code = code_from_email(world)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert client.post(f"/approve/{token}/decide/", {"decision": "approve", "code": wrong}).status_code == 400
    with world.alice.scope():
        events = list(RequestEvent.objects.filter(request=request).order_by("pk").values_list("action", "reason"))
        request.refresh_from_db()
        assert request.status == Status.AWAITING_CLIENT
    assert ("code_sent", "Email to c•••@example.test") in events
    assert ("code_refused", "1 wrong or expired code so far") in events
    page = Persona(world.advisor, world.alice.firm).client().get(f"/funding/requests/{request.pk}/").content.decode()
    assert "Wrong one-time code" in page and "One-time code sent" in page


@pytest.mark.django_db
def test_pending_items_resend_from_the_row_and_come_back(world: World) -> None:
    with world.alice.scope():
        request = _sent_withdrawal(world)
        first = Link.objects.get(subject_id=str(request.pk))
    advisor = Persona(world.advisor, world.alice.firm).client()
    page = advisor.get("/pending/?kind=funding-request").content.decode()
    button = re.search(rf'action="/funding/requests/{request.pk}/resend/".*?name="form_key" value="(\w+)"', page)
    assert button is not None and f"/funding/requests/{request.pk}/#reason-cancel" in page
    with world.alice.scope():
        emails = OutgoingEmail.objects.count()
    form = {"form_key": button[1], "next": "/pending/?kind=funding-request"}
    answer = advisor.post(f"/funding/requests/{request.pk}/resend/", form)
    assert answer.status_code == 302 and answer["Location"] == "/pending/?kind=funding-request"
    again = advisor.post(f"/funding/requests/{request.pk}/resend/", form)  # the same button twice
    with world.alice.scope():
        assert again.status_code == 302 and OutgoingEmail.objects.count() == emails + 1
    followed = advisor.get("/pending/?kind=funding-request").content.decode()
    assert f'<span class="nowrap">{request.reference}</span>: a new approval email went to Carla Client' in followed
    with world.alice.scope():
        first.refresh_from_db()
        assert first.revoked_at is not None
    elsewhere = advisor.post(
        f"/funding/requests/{request.pk}/resend/", {"form_key": "k2", "next": "https://evil.test/"}
    )  # fmt: skip
    assert elsewhere.status_code == 302 and elsewhere["Location"] == f"/funding/requests/{request.pk}/"


@pytest.mark.django_db
def test_pending_items_offer_what_the_program_and_the_rights_allow(world: World) -> None:
    with world.alice.scope():
        services.settings_update(actor=world.alice.user, program="streamlined_plus")
        transfer = services.request_create(
            actor=world.advisor, kind="internal_transfer", account=world.account, to_account=world.other,
            amount="100", currency="USD",
        )  # fmt: skip
        services.request_send(actor=world.advisor, request=transfer)
        withdrawal = _sent_withdrawal(world)
        waiting = selectors.waiting(user=world.advisor)
        # The page's batch answer is the policy's answer for each request.
        assert (
            selectors.advisor_may_approve(waiting)
            == {r.pk for r in waiting if services.decision(r).advisor_may_approve}
            == {transfer.pk}
        )
    advisor = Persona(world.advisor, world.alice.firm).client()
    page = advisor.get("/pending/").content.decode()
    assert f"/funding/requests/{transfer.pk}/#reason-approve-on-behalf" in page
    assert f"/funding/requests/{withdrawal.pk}/#reason-approve-on-behalf" not in page
    with world.alice.scope():
        services.request_approve_on_behalf(actor=world.advisor, request=transfer, reason="Call on Dec 4")
    advisor = advisor.get("/pending/").content.decode()
    assert f"/funding/requests/{transfer.pk}/#actions-h" not in advisor  # the requester never authorizes
    officer = Persona(world.authorizer, world.alice.firm).client().get("/pending/").content.decode()
    assert f"/funding/requests/{transfer.pk}/#actions-h" in officer and "Authorize or reject…" in officer
