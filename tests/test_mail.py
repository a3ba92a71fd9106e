"""Outgoing email (advisorportal/mail): the service, merge fields, delivery, rate limit, unsubscribe."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail as django_mail
from django.core.exceptions import ValidationError
from django.test import Client, TestCase

from accounts.models import AuditEntry
from advisorportal.mail import rate, rendering, selectors, services, templates
from advisorportal.mail.models import EmailStatus, OutgoingEmail, Unsubscribe
from tests.conftest import Persona
from tests.factories import ContactFactory


@pytest.fixture(autouse=True)
def _locmem(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def greeting() -> str:
    templates.register(
        "tests.greeting",
        subject="Hello {{ contact.first_name }}",
        html="mail/email/generic.html",
        text="mail/email/generic.txt",
    )
    return "tests.greeting"


def send(persona: Persona, template: str, *, commit: bool = True, **kwargs: Any) -> OutgoingEmail:
    """Queue an email; with ``commit`` the after-commit delivery runs as if the transaction committed."""
    if commit:
        with TestCase.captureOnCommitCallbacks(execute=True):
            return send(persona, template, commit=False, **kwargs)
    with persona.scope():
        contact = kwargs.pop("contact", None) or ContactFactory(first_name="Cora")
        values: dict[str, Any] = {
            "to": contact.email,
            "template": template,
            "context": {"contact": contact, "body": "Your review is on Monday.", "subject": "Hi"},
            "contact_id": contact.pk,
            "actor": persona.user,
        }
        values.update(kwargs)
        return services.email_send(**values)


@pytest.mark.django_db
def test_email_send_queues_then_delivers_after_commit(alice: Persona, greeting: str) -> None:
    email = send(alice, greeting)
    with alice.scope():
        email.refresh_from_db()
        assert email.status == EmailStatus.SENT
        assert email.sent_at is not None and email.attempts == 1
        assert email.subject == "Hello Cora"
        assert "Dear Cora" in email.text_body and "Alice Able" in email.text_body
        assert "Alpha Advisors" in email.html_body and "#123456" in email.html_body
        assert AuditEntry.objects.filter(object_type="mail.outgoingemail", object_id=str(email.pk)).exists()
        assert list(selectors.emails_for_contact(email.contact_id)) == [email]
    assert len(django_mail.outbox) == 1
    message = django_mail.outbox[0]
    assert message.to == [email.to] and message.subject == "Hello Cora"
    assert "Alpha Advisors" in message.from_email
    assert message.reply_to == ["alice@alpha.test"]
    assert "List-Unsubscribe" not in message.extra_headers  # service email


@pytest.mark.django_db
def test_nothing_is_sent_before_commit(alice: Persona, greeting: str) -> None:
    email = send(alice, greeting, commit=False)  # the transaction never commits
    assert email.status == EmailStatus.QUEUED
    assert django_mail.outbox == []


@pytest.mark.django_db
def test_unknown_merge_field_is_refused_by_name(alice: Persona) -> None:
    templates.register(
        "tests.typo",
        subject="Hi {{ contact.frist_name }}",
        html="mail/email/generic.html",
        text="mail/email/generic.txt",
    )
    with pytest.raises(rendering.MergeFieldError) as refused:
        send(alice, "tests.typo")
    assert "contact.frist_name" in str(refused.value)
    with alice.scope():
        assert not OutgoingEmail.objects.exists()
    assert django_mail.outbox == []


@pytest.mark.django_db
def test_missing_context_and_bad_input(alice: Persona, greeting: str) -> None:
    with alice.scope():
        with pytest.raises(rendering.MergeFieldError, match=r"contact\.first_name"):
            services.email_send(to="x@example.test", template=greeting, context={"body": "b", "subject": "s"})
        with pytest.raises(ValidationError, match="not an email address"):
            services.email_send(to="not-an-address", template=greeting, context={})
        with pytest.raises(ValidationError, match="Unknown category"):
            services.email_send(to="x@example.test", template=greeting, context={}, category="spam")
        with pytest.raises(LookupError, match="No email template"):
            services.email_send(to="x@example.test", template="nope.nothing", context={})
        assert not OutgoingEmail.objects.exists()


@pytest.mark.django_db
def test_marketing_carries_unsubscribe_link_that_is_honoured(alice: Persona, greeting: str) -> None:
    email = send(alice, greeting, category="marketing")
    message = django_mail.outbox[0]
    assert "List-Unsubscribe" in message.extra_headers
    url = message.extra_headers["List-Unsubscribe"].strip("<>")
    assert url in email.text_body
    path = url.split("127.0.0.1:8000", 1)[1] if "127.0.0.1:8000" in url else url
    client = Client()
    assert b"Unsubscribe" in client.get(path).content
    with alice.scope():
        assert not Unsubscribe.objects.exists()  # GET changes nothing
    assert client.post(path).status_code == 200
    with alice.scope():
        assert Unsubscribe.objects.filter(email=email.to.lower(), contact_id=email.contact_id).exists()
        contact_email = email.to
    again = send(alice, greeting, category="marketing", to=contact_email)
    assert again.status == EmailStatus.SKIPPED
    assert len(django_mail.outbox) == 1
    service = send(alice, greeting, to=contact_email)  # service mail still reaches them
    with alice.scope():
        service.refresh_from_db()
    assert service.status == EmailStatus.SENT
    assert len(django_mail.outbox) == 2


@pytest.mark.django_db
def test_bad_unsubscribe_token_is_404(alice: Persona) -> None:
    client = Client()
    assert client.get("/mail/unsubscribe/forged/").status_code == 404
    token = services.unsubscribe_token(firm_id=alice.firm.pk, email="a@example.test")
    assert client.post(f"/mail/unsubscribe/{token[:-2]}xx/").status_code == 404


@pytest.mark.django_db
def test_failed_delivery_is_requeued_with_error_then_failed(alice: Persona, greeting: str, settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 1  # nothing listens
    email = send(alice, greeting)
    with alice.scope():
        email.refresh_from_db()
        assert email.status == EmailStatus.FAILED  # eager retries spent
        assert email.error and email.attempts >= 2


@pytest.mark.django_db
def test_delivery_claims_once(alice: Persona, greeting: str) -> None:
    email = send(alice, greeting, commit=False)
    with alice.scope():
        assert services.email_deliver(email_id=email.pk) is True
        assert services.email_deliver(email_id=email.pk) is False  # already sent: not handed over again
    assert len(django_mail.outbox) == 1


@pytest.mark.django_db
def test_outsider_sees_no_email(alice: Persona, charlie: Persona, greeting: str) -> None:
    email = send(alice, greeting, commit=False)
    with charlie.scope():
        assert not OutgoingEmail.objects.filter(pk=email.pk).exists()
        assert services.email_deliver(email_id=email.pk) is False


def test_rate_limit_counts_per_firm_and_minute(settings: Any) -> None:
    settings.MAIL_RATE_PER_MINUTE = 2
    now = 1_000_000 * 60.0 + 5 + (hash(object()) % 1000) * 60
    firm = 900_000 + int(now) % 1000
    assert rate.wait_seconds(firm, now=now) == 0
    assert rate.wait_seconds(firm, now=now) == 0
    assert rate.wait_seconds(firm, now=now) == pytest.approx(55)
    assert rate.wait_seconds(firm + 1, now=now) == 0  # another firm has its own allowance
    assert rate.wait_seconds(firm, now=now + 60) == 0  # the next minute


def test_firm_template_refuses_tags_and_unknown_fields() -> None:
    with pytest.raises(rendering.MergeFieldError, match="not"):
        rendering.render_firm_template(subject="Hi", body="{% load static %}", context={})
    with pytest.raises(rendering.MergeFieldError, match=r"contact\.nickname"):
        rendering.render_firm_template(subject="Hi", body="{{ contact.nickname }}", context={"contact": {"x": 1}})
    out = rendering.render_firm_template(
        subject="Hi {{ contact.first_name }}",
        body="<b>{{ contact.first_name }}</b>",
        context={"contact": {"first_name": "Al"}},
    )
    assert out.subject == "Hi Al" and out.text == "<b>Al</b>" and "&lt;b&gt;Al&lt;/b&gt;" in out.html
