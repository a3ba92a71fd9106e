"""Delivery reports (advisorportal/mail/delivery.py): with an email service provider through
django-anymail, each message carries its firm and row in the provider's metadata and keeps the
provider's id; the provider's tracking webhook (here Postmark's, through anymail's real view and
our URL) marks a bounced email bounced and unsubscribes an address that complained. Forged or
unauthenticated reports change nothing."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.core import mail as django_mail
from django.test import Client, TestCase

from advisorportal.mail import services
from advisorportal.mail.models import EmailCategory, EmailStatus, OutgoingEmail, Unsubscribe
from tests.conftest import Persona
from tests.factories import ContactFactory

SECRET = "postmark:report-secret-for-tests"
URL = "/mail/anymail/postmark/tracking/"


@pytest.fixture(autouse=True)
def _provider(settings: Any) -> None:
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.EMAIL_PROVIDER = "postmark"
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": SECRET}
    django_mail.outbox = []


def _send(persona: Persona, email: str = "cora@example.test", category: str = EmailCategory.SERVICE) -> OutgoingEmail:
    with TestCase.captureOnCommitCallbacks(execute=True), persona.scope():
        contact = ContactFactory(first_name="Cora", email=email)
        queued = services.email_send(
            to=contact.email, template="mail.generic", category=category, contact_id=contact.pk, actor=persona.user,
            context={"contact": contact, "body": "Your review is on Monday.", "subject": "Your review"},
        )  # fmt: skip
    with persona.scope():
        queued.refresh_from_db()
    return queued


def _report(record: dict[str, Any], *, secret: str | None = SECRET) -> Any:
    headers = {}
    if secret is not None:
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(secret.encode()).decode()
    return Client().post(URL, data=json.dumps(record), content_type="application/json", **headers)


def _bounce(email: OutgoingEmail, **changes: Any) -> dict[str, Any]:
    return {
        "RecordType": "Bounce", "Type": "HardBounce", "ID": 42, "MessageID": email.message_id,
        "Email": email.to, "Description": "The server was unable to deliver your message",
        "Details": "smtp;550 5.1.1 The email account does not exist", "BouncedAt": "2026-12-06T10:00:00Z",
        "Metadata": {"firm": str(email.firm_id), "email": str(email.pk)}, **changes,
    }  # fmt: skip


def test_a_sent_message_carries_our_metadata_and_keeps_the_providers_id(alice: Persona) -> None:
    email = _send(alice)
    assert email.status == EmailStatus.SENT
    (message,) = django_mail.outbox
    assert message.metadata == {"firm": str(alice.firm.pk), "email": str(email.pk)}
    assert email.message_id == str(message.anymail_status.message_id) != ""


def test_a_bounce_report_marks_the_email_bounced_with_the_reason_once(alice: Persona) -> None:
    email = _send(alice)
    assert _report(_bounce(email)).status_code == 200
    with alice.scope():
        email.refresh_from_db()
    assert email.status == EmailStatus.BOUNCED
    assert "bounced" in email.error and "550 5.1.1" in email.error
    assert _report(_bounce(email)).status_code == 200  # providers resend reports: nothing more changes
    with alice.scope():
        assert OutgoingEmail.objects.get(pk=email.pk).error == email.error


def test_a_delivery_report_changes_nothing(alice: Persona) -> None:
    email = _send(alice)
    delivered = {"RecordType": "Delivery", "MessageID": email.message_id, "Recipient": email.to,
                 "DeliveredAt": "2026-12-06T10:00:00Z", "Metadata": _bounce(email)["Metadata"]}  # fmt: skip
    assert _report(delivered).status_code == 200
    with alice.scope():
        assert OutgoingEmail.objects.get(pk=email.pk).status == EmailStatus.SENT


def test_a_complaint_unsubscribes_the_address_from_marketing(alice: Persona) -> None:
    email = _send(alice, email="cross@example.test", category=EmailCategory.MARKETING)
    assert _report(_bounce(email, RecordType="SpamComplaint", Type="SpamComplaint")).status_code == 200
    with alice.scope():
        assert Unsubscribe.objects.filter(email="cross@example.test").exists()
        assert OutgoingEmail.objects.get(pk=email.pk).status == EmailStatus.SENT


def test_unauthenticated_or_forged_reports_change_nothing(alice: Persona, charlie: Persona, settings: Any) -> None:
    email = _send(alice)
    settings.EMAIL_PROVIDER = "sendgrid"  # another provider's webhook is not there
    assert _report(_bounce(email)).status_code == 404
    settings.EMAIL_PROVIDER = "postmark"
    assert _report(_bounce(email), secret=None).status_code in {400, 401, 403}
    assert _report(_bounce(email), secret="postmark:wrong").status_code in {400, 401, 403}
    # Authenticated, but the row and the provider's id do not belong together, or another firm's.
    assert _report(_bounce(email, MessageID="someone-elses-id")).status_code == 200
    other = _send(charlie, email="dan@example.test")
    assert _report(_bounce(email, Metadata={"firm": str(other.firm_id), "email": str(email.pk)})).status_code == 200
    assert _report(_bounce(email, Metadata={})).status_code == 200
    with alice.scope():
        assert OutgoingEmail.objects.get(pk=email.pk).status == EmailStatus.SENT
    with charlie.scope():
        assert OutgoingEmail.objects.get(pk=other.pk).status == EmailStatus.SENT


def test_a_bulk_batch_keeps_each_providers_id(alice: Persona) -> None:
    with alice.scope():
        contacts = [ContactFactory(first_name=f"Reader{n}", email=f"reader{n}@example.test") for n in range(3)]
        ids = [
            services.email_send(to=c.email, template="mail.generic", contact_id=c.pk, actor=alice.user,
                                context={"contact": c, "body": "Letter", "subject": "Letter"}).pk
            for c in contacts
        ]  # fmt: skip
        sent, failed = services.email_deliver_many(email_ids=ids)
        assert (sent, failed) == (3, 0)
        stored = dict(OutgoingEmail.objects.filter(pk__in=ids).values_list("pk", "message_id"))
    by_row = {int(m.metadata["email"]): str(m.anymail_status.message_id) for m in django_mail.outbox}
    assert stored == by_row and len(set(stored.values())) == 3
