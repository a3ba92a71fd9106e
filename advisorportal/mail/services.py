"""Every write of outgoing email: queue one message (``email_send``), deliver it (the Celery task
calls ``email_deliver``), firm message templates, unsubscribes. See docs/email.md."""

from __future__ import annotations

import logging
from email.mime.image import MIMEImage
from email.utils import formataddr, parseaddr
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

from advisorportal import auditing
from advisorportal.mail import branding, delivery, rendering
from advisorportal.mail.models import EmailCategory, EmailStatus, MessageTemplate, OutgoingEmail, Unsubscribe
from advisorportal.pdf import Branding
from advisorportal.tenancy.context import firm_scope, require_firm_id

logger = logging.getLogger(__name__)

LOGO_CID = "firm-logo"
_UNSUBSCRIBE_SALT = "advisorportal.mail.unsubscribe"


def _brand_context(brand: Branding) -> dict[str, str]:
    return {
        "name": brand.name,
        "primary": brand.primary,
        "accent": brand.accent,
        "logo_url": f"cid:{LOGO_CID}" if brand.logo else "",
    }


def _advisor_context(actor: Any, brand: Branding) -> dict[str, str]:
    if actor is None:
        return {"name": brand.name, "email": "", "signature": brand.name}
    name = getattr(actor, "full_name", "") or getattr(actor, "email", "")
    return {"name": name, "email": getattr(actor, "email", ""), "signature": f"{name}\n{brand.name}"}


def unsubscribe_token(*, firm_id: int, email: str) -> str:
    # Not timestamped: the link in the body and in the List-Unsubscribe header are the same, and
    # an unsubscribe link keeps working for as long as the email is kept.
    return signing.Signer(salt=_UNSUBSCRIBE_SALT).sign_object({"f": firm_id, "e": email.lower()}, compress=True)


def unsubscribe_url(*, firm_id: int, email: str) -> str:
    path = reverse("mail:unsubscribe", args=[unsubscribe_token(firm_id=firm_id, email=email)])
    return settings.SITE_URL.rstrip("/") + path


def read_unsubscribe_token(token: str) -> tuple[int, str] | None:
    """The firm id and address a token names, or None for a token we did not sign."""
    try:
        data = signing.Signer(salt=_UNSUBSCRIBE_SALT).unsign_object(token)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("f"), int) or not isinstance(data.get("e"), str):
        return None
    return data["f"], data["e"]


def merge_context(
    *, firm_id: int, context: dict[str, Any], category: str, to: str, actor: Any, brand: Branding | None = None
) -> dict[str, Any]:
    """The caller's context plus what every email has: ``brand``, ``firm``, ``advisor`` and, for
    marketing, ``unsubscribe_url`` (these names are the service's; the caller cannot set them)."""
    brand = brand or branding.for_firm(firm_id)
    return {
        **context,
        "brand": _brand_context(brand),
        "firm": {"name": brand.name},
        "advisor": _advisor_context(actor, brand),
        "unsubscribe_url": unsubscribe_url(firm_id=firm_id, email=to) if category == EmailCategory.MARKETING else "",
    }


def is_unsubscribed(*, email: str) -> bool:
    return Unsubscribe.objects.filter(email=email.lower()).exists()


def _check_address(to: str) -> str:
    to = (to or "").strip()
    try:
        validate_email(to)
    except ValidationError:
        raise ValidationError({"to": f"{to!r} is not an email address."}) from None
    return to


def _check_category(category: str) -> None:
    if category not in EmailCategory.values:
        raise ValidationError({"category": f"Unknown category {category!r}: use service or marketing."})


@transaction.atomic
def email_send(
    *,
    to: str,
    template: str,
    context: dict[str, Any],
    category: str = EmailCategory.SERVICE,
    contact_id: int | None = None,
    actor: Any = None,
) -> OutgoingEmail:
    """Queue one email from the registered ``template`` to ``to`` in the current firm; Celery
    delivers it after commit. An unknown merge field raises ``rendering.MergeFieldError`` naming it
    and nothing is stored or sent. A marketing email to an address that unsubscribed is stored as
    skipped and not sent."""
    firm_id = require_firm_id()
    to = _check_address(to)
    _check_category(category)
    if category == EmailCategory.MARKETING and is_unsubscribed(email=to):
        rendered = rendering.Rendered(subject="(not sent: unsubscribed)", text="", html="")
        status = EmailStatus.SKIPPED
    else:
        ctx = merge_context(firm_id=firm_id, context=context, category=category, to=to, actor=actor)
        rendered = rendering.render_registered(template, ctx)
        status = EmailStatus.QUEUED
    return _queue(
        to=to,
        template=template,
        category=category,
        contact_id=contact_id,
        actor=actor,
        rendered=rendered,
        status=status,
    )


def _queue(
    *,
    to: str,
    template: str,
    category: str,
    contact_id: int | None,
    actor: Any,
    rendered: rendering.Rendered,
    status: str = EmailStatus.QUEUED,
) -> OutgoingEmail:
    firm_id = require_firm_id()
    email = OutgoingEmail(
        to=to,
        reply_to=getattr(actor, "email", "") or "",
        subject=rendered.subject or "(no subject)",
        template=template,
        category=category,
        status=status,
        contact_id=contact_id,
        sent_by=actor if getattr(actor, "pk", None) else None,
        text_body=rendered.text,
        html_body=rendered.html,
    )
    email.full_clean()
    email.save()
    auditing.record(
        action=auditing.CREATE,
        obj=email,
        object_repr=f"Email {email.get_status_display().lower()}: {email.subject} to {to}",
        changes={"template": template, "category": category, "contact_id": contact_id},
        actor_id=getattr(actor, "pk", None),
    )
    if status == EmailStatus.QUEUED:
        from advisorportal.mail.tasks import deliver_email

        email_id = email.pk
        transaction.on_commit(lambda: deliver_email.delay(firm_id, email_id), robust=True)
    return email


@transaction.atomic
def email_send_message(
    *,
    to: str,
    template: MessageTemplate,
    contact_id: int | None,
    context: dict[str, Any],
    actor: Any,
    code: str = "",
) -> OutgoingEmail:
    """Queue one email from a firm's message template (subject and body with merge fields; it may
    be unsaved: a message written for one contact). ``code`` is stored as the email's template
    (default ``firm:<pk>``)."""
    firm_id = require_firm_id()
    to = _check_address(to)
    if template.category == EmailCategory.MARKETING and is_unsubscribed(email=to):
        rendered = rendering.Rendered(subject="(not sent: unsubscribed)", text="", html="")
        status = EmailStatus.SKIPPED
    else:
        ctx = merge_context(firm_id=firm_id, context=context, category=template.category, to=to, actor=actor)
        rendered = rendering.render_firm_template(subject=template.subject, body=template.body, context=ctx)
        status = EmailStatus.QUEUED
    return _queue(
        to=to,
        template=code or f"firm:{template.pk}",
        category=template.category,
        contact_id=contact_id,
        actor=actor,
        rendered=rendered,
        status=status,
    )


def build_message(email: OutgoingEmail, brand: Branding, connection: Any = None) -> EmailMultiAlternatives:
    from_address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    headers = {"X-AdvisorPortal-Email": str(email.pk)}
    if email.category == EmailCategory.MARKETING:
        headers["List-Unsubscribe"] = f"<{unsubscribe_url(firm_id=email.firm_id, email=email.to)}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.text_body,
        from_email=formataddr((brand.name, from_address)),
        to=[email.to],
        reply_to=[email.reply_to] if email.reply_to else None,
        headers=headers,
        connection=connection,
    )
    message.attach_alternative(email.html_body, "text/html")
    delivery.tag(message, email)
    if brand.logo and f"cid:{LOGO_CID}" in email.html_body:
        message.mixed_subtype = "related"
        image = MIMEImage(brand.logo)
        image.add_header("Content-ID", f"<{LOGO_CID}>")
        image.add_header("Content-Disposition", "inline", filename="logo")
        message.attach(image)
    return message


def _claim(email_id: int) -> bool:
    return bool(
        OutgoingEmail.objects.filter(pk=email_id, status=EmailStatus.QUEUED).update(
            status=EmailStatus.SENDING, attempts=models.F("attempts") + 1
        )
    )


def email_deliver(*, email_id: int, connection: Any = None, brand: Branding | None = None) -> bool:
    """Send a queued email (claimed by one conditional UPDATE: a message is handed to the backend
    at most once). Returns False when it was not queued (sent, cancelled, claimed elsewhere). A
    failure puts it back in the queue with the error and raises, for the task to retry."""
    if not _claim(email_id):
        return False
    email = OutgoingEmail.objects.get(pk=email_id)
    message = build_message(email, brand or branding.for_firm(email.firm_id), connection)
    try:
        message.send()
    except Exception as exc:
        OutgoingEmail.objects.filter(pk=email_id, status=EmailStatus.SENDING).update(
            status=EmailStatus.QUEUED, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    OutgoingEmail.objects.filter(pk=email_id, status=EmailStatus.SENDING).update(
        status=EmailStatus.SENT, sent_at=timezone.now(), error="", message_id=delivery.provider_id(message)
    )
    return True


def _claim_many(email_ids: list[int]) -> list[int]:
    """``_claim`` for a batch: the rows still queued, locked (rows another worker is claiming are
    skipped) and moved to sending in one transaction."""
    with transaction.atomic():
        queued = OutgoingEmail.objects.select_for_update(skip_locked=True).filter(
            pk__in=email_ids, status=EmailStatus.QUEUED
        )
        ids = list(queued.values_list("pk", flat=True))
        OutgoingEmail.objects.filter(pk__in=ids).update(status=EmailStatus.SENDING, attempts=models.F("attempts") + 1)
    return ids


def email_deliver_many(
    *, email_ids: list[int], connection: Any = None, brand: Branding | None = None
) -> tuple[int, int]:
    """Send queued emails over one backend connection (a bulk email's batch), each claimed as
    ``email_deliver`` claims one (handed to the backend at most once). A message that fails goes
    back to the queue with its error. Returns (sent, failed)."""
    ids = _claim_many(email_ids)
    if not ids:
        return 0, 0
    emails = list(OutgoingEmail.objects.filter(pk__in=ids).order_by("pk"))
    brand = brand or branding.for_firm(emails[0].firm_id)
    connection = connection or delivery_connection()
    sent: list[int] = []
    provider_ids: dict[int, str] = {}  # the provider's ids (an email service provider; not SMTP)
    failed: dict[int, str] = {}
    connection.open()
    try:
        for email in emails:
            message = build_message(email, brand, connection)
            try:
                connection.send_messages([message])
            except Exception as exc:  # noqa: BLE001 - one refused message must not stop the batch
                failed[email.pk] = f"{type(exc).__name__}: {exc}"[:2000]
            else:
                sent.append(email.pk)
                if provider_id := delivery.provider_id(message):
                    provider_ids[email.pk] = provider_id
    finally:
        connection.close()
        now = timezone.now()
        OutgoingEmail.objects.filter(pk__in=sent, status=EmailStatus.SENDING).update(
            status=EmailStatus.SENT, sent_at=now, error=""
        )
        for pk, provider_id in provider_ids.items():
            OutgoingEmail.objects.filter(pk=pk).update(message_id=provider_id)
        for pk, error in failed.items():
            OutgoingEmail.objects.filter(pk=pk, status=EmailStatus.SENDING).update(
                status=EmailStatus.QUEUED, error=error
            )
    return len(sent), len(failed)


def email_fail(*, email_id: int) -> None:
    """The retries are spent: the email is failed (its last error kept)."""
    OutgoingEmail.objects.filter(pk=email_id, status__in=[EmailStatus.QUEUED, EmailStatus.SENDING]).update(
        status=EmailStatus.FAILED
    )


def delivery_connection() -> Any:
    return get_connection()


@transaction.atomic
def unsubscribe(*, firm_id: int, email: str) -> bool:
    """Record the address's opt-out of the firm's marketing emails (again: no change). Returns
    whether it was new. Called from the unsubscribe page, which has no signed-in user."""
    with firm_scope(firm_id):
        contact_id = (
            OutgoingEmail.objects.filter(to__iexact=email, contact_id__isnull=False)
            .order_by("-created_at")
            .values_list("contact_id", flat=True)
            .first()
        )
        row, created = Unsubscribe.objects.get_or_create(email=email.lower(), defaults={"contact_id": contact_id})
        if created:
            auditing.record(action=auditing.CREATE, obj=row, object_repr=f"Unsubscribed from marketing: {row.email}")
        return created
