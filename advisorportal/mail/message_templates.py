"""A firm's message templates: its own subject and body with merge fields, used for individual and
bulk emails. Writes (save, copy, delete), the merge-field check and the preview. The floor does
not know contacts: the caller passes ``sample``, a recipient's merge fields (``{"contact": {...}}``),
against which every ``{{ field }}`` of the template must resolve. See docs/email.md."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.loader import get_template

from advisorportal.mail import rendering, services
from advisorportal.mail.models import BulkEmail, EmailCategory, MessageTemplate
from advisorportal.tenancy.context import require_firm_id

FIELDS = ("name", "category", "subject", "body")


@dataclass(frozen=True)
class Compiled:
    subject: Any
    body: Any
    layout: Any


def compile_template(template: MessageTemplate) -> Compiled:
    """Subject and body compiled once (a bulk email renders them for every recipient)."""
    try:
        return Compiled(
            subject=rendering.compile_firm_template(template.subject, html=False),
            body=rendering.compile_firm_template(template.body, html=False),
            layout=get_template("mail/email/firm_message.html"),
        )
    except rendering.MergeFieldError as error:
        raise ValidationError({"template": str(error)}) from None


def check_template(
    *, template: MessageTemplate, sample: Mapping[str, Any], actor: Any, field: str = "template"
) -> None:
    """Refuse a template with a merge field that recipients do not have (``ValidationError`` on
    ``field`` naming it): ``sample`` is a recipient's merge fields. A template of a category
    that is neither service nor marketing is refused the same way."""
    if template.category not in EmailCategory.values:
        raise ValidationError(
            {
                field: f"The template “{template.name}” has the unknown category {template.category!r}: "
                "choose a service or marketing template."
            }
        )
    try:
        compiled = compile_template(template)
    except ValidationError as error:
        raise ValidationError({field: error.message_dict["template"]}) from None
    context = services.merge_context(
        firm_id=require_firm_id(), context=dict(sample), category=template.category, to="sample@example.com",
        actor=actor,
    )  # fmt: skip
    try:
        rendering.check_fields([compiled.subject, compiled.body], context)
    except rendering.MergeFieldError as error:
        raise ValidationError({field: str(error).replace("nothing was sent", "nothing was created")}) from None


def preview(*, template: MessageTemplate, context: Mapping[str, Any], to: str, actor: Any) -> rendering.Rendered:
    """What ``to`` (with merge fields ``context``) would receive: subject, text and the branded HTML."""
    check_template(template=template, sample=context, actor=actor)
    merged = services.merge_context(
        firm_id=require_firm_id(), context=dict(context), category=template.category, to=to or "sample@example.com",
        actor=actor,
    )  # fmt: skip
    return rendering.render_firm_template(subject=template.subject, body=template.body, context=merged)


@transaction.atomic
def message_template_save(
    *, actor: Any, template: MessageTemplate | None = None, data: Mapping[str, Any], sample: Mapping[str, Any]
) -> MessageTemplate:
    """Create (``template`` None) or edit a message template from ``data`` (``FIELDS``). A name
    another template has, an unknown category, a merge field recipients lack (``{{ contact.frist_name }}``)
    or a ``{% tag %}``: ``ValidationError`` naming the field, nothing saved. Bulk emails already
    sent keep what they sent (each message is stored as rendered)."""
    unknown = set(data) - set(FIELDS)
    if unknown:
        raise ValidationError({"__all__": f"Unknown fields: {', '.join(sorted(unknown))}."})
    template = template or MessageTemplate()
    for name in FIELDS:
        if name in data:
            value = data[name]
            setattr(template, name, value.strip() if isinstance(value, str) and name != "body" else value)
    if MessageTemplate.objects.filter(name__iexact=template.name).exclude(pk=template.pk).exists():
        raise ValidationError({"name": "Another template has this name."})
    template.full_clean()
    if "\n" in template.subject or "\r" in template.subject:
        raise ValidationError({"subject": "A subject is one line."})
    for field, source in (("subject", template.subject), ("body", template.body)):
        probe = MessageTemplate(name=template.name, category=template.category, subject="", body="")
        setattr(probe, field, source)
        check_template(template=probe, sample=sample, actor=actor, field=field)
    template.save()
    return template


def _copy_name(name: str) -> str:
    base, n = f"{name} (copy)"[:120], 2
    candidate = base
    while MessageTemplate.objects.filter(name__iexact=candidate).exists():
        candidate, n = f"{name} (copy {n})"[:120], n + 1
    return candidate


def message_template_copy(*, actor: Any, template: MessageTemplate, sample: Mapping[str, Any]) -> MessageTemplate:
    data = {"name": _copy_name(template.name), "category": template.category, "subject": template.subject,
            "body": template.body}  # fmt: skip
    return message_template_save(actor=actor, data=data, sample=sample)


@transaction.atomic
def message_template_delete(*, actor: Any, template: MessageTemplate) -> None:
    """Delete a template no bulk email used (one that was used stays, so that the bulk email's
    record names what it sent: ``ValidationError``). Individual emails keep their rendered copy."""
    used = BulkEmail.objects.filter(template=template).count()
    if used:
        raise ValidationError(
            {
                "template": f"“{template.name}” was used by {used} bulk email{'s' if used != 1 else ''}, so it is kept "
                "with their record. Rename it or edit it instead."
            }
        )
    template.delete()
