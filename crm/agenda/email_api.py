"""The email API: the firm's message templates (list, create, edit, delete, copy, preview) and
individual emails (the emails you may see, with their status; send one to a contact in your scope,
from a template or written, once per Idempotency-Key). Same services, right (CRM) and scope as
the pages (``crm.agenda.emails``, ``advisorportal.mail.message_templates``)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_access import FirmScopedViewSet
from accounts.rights import Right
from advisorportal.api_schema import object_filter
from advisorportal.idempotency.api import idempotent_view
from advisorportal.mail import message_templates
from advisorportal.mail.models import EmailCategory, EmailStatus, MessageTemplate, OutgoingEmail
from crm import selectors as crm_selectors
from crm.agenda import bulk_email, emails


def _or_404(getter: Any, **kwargs: Any) -> Any:
    try:
        return getter(**kwargs)
    except (ObjectDoesNotExist, ValueError, TypeError):
        raise Http404 from None


class MessageTemplateSerializer(serializers.ModelSerializer):
    class Meta:
        model = MessageTemplate
        fields = ("id", "name", "category", "subject", "body", "created_at", "updated_at")
        read_only_fields = ("id", "created_at", "updated_at")


class PreviewSerializer(serializers.Serializer):
    subject = serializers.CharField()
    text = serializers.CharField(help_text="The plain-text part")
    html = serializers.CharField(help_text="The branded HTML part")


class PreviewRequestSerializer(serializers.Serializer):
    contact = serializers.IntegerField(
        required=False, allow_null=True, default=None,
        help_text="A contact in your scope whose merge fields fill the preview; default a sample contact",
    )  # fmt: skip


class DraftPreviewSerializer(PreviewRequestSerializer):
    category = serializers.ChoiceField(choices=EmailCategory.choices, default=EmailCategory.SERVICE)
    subject = serializers.CharField(max_length=300, trim_whitespace=False)
    body = serializers.CharField(max_length=20_000, trim_whitespace=False)


def _preview(user: Any, draft: MessageTemplate, contact_pk: int | None) -> Response:
    if contact_pk is None:
        rendered = message_templates.preview(template=draft, context=bulk_email.SAMPLE, to="", actor=user)
    else:
        contact = _or_404(crm_selectors.contact_get, user=user, pk=contact_pk)
        rendered = emails.contact_email_preview(actor=user, contact=contact, template=draft)
    return Response(PreviewSerializer(rendered).data)


class MessageTemplateViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
    mixins.DestroyModelMixin, FirmScopedViewSet,
):  # fmt: skip
    """The firm's message templates, by name. A merge field recipients lack (`{{ contact.frist_name }}`)
    or a name another template has: 400 naming the field, nothing saved. Deleting one a bulk email
    used: 400 (it stays with that record)."""

    required_right = Right.CRM
    serializer_class = MessageTemplateSerializer
    keyset = ("name", "id")

    def get_queryset(self) -> QuerySet[MessageTemplate]:
        if self.describing_schema():
            return MessageTemplate.objects.unscoped().none()
        return emails.templates()

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = message_templates.message_template_save(
            actor=self.request.user, data=serializer.validated_data, sample=bulk_email.SAMPLE
        )

    def perform_update(self, serializer: Any) -> None:
        serializer.instance = message_templates.message_template_save(
            actor=self.request.user, template=serializer.instance, data=serializer.validated_data,
            sample=bulk_email.SAMPLE,
        )  # fmt: skip

    def perform_destroy(self, instance: MessageTemplate) -> None:
        message_templates.message_template_delete(actor=self.request.user, template=instance)

    @extend_schema(request=None, responses={201: MessageTemplateSerializer})
    @action(detail=True, methods=["post"])
    def copy(self, request: Request, pk: Any = None) -> Response:
        """A copy of the template named "… (copy)", to edit."""
        copy = message_templates.message_template_copy(
            actor=request.user, template=self.get_object(), sample=bulk_email.SAMPLE
        )
        return Response(MessageTemplateSerializer(copy).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="message_templates_preview", request=PreviewRequestSerializer, responses={200: PreviewSerializer}
    )
    @action(detail=True, methods=["post"], url_path="preview")
    def preview_one(self, request: Request, pk: Any = None) -> Response:
        """What a contact (`contact`, in your scope; default a sample contact) would receive."""
        body = PreviewRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return _preview(request.user, self.get_object(), body.validated_data["contact"])

    @extend_schema(
        operation_id="message_templates_preview_draft",
        request=DraftPreviewSerializer,
        responses={200: PreviewSerializer},
    )
    @action(detail=False, methods=["post"], url_path="preview")
    def preview_draft(self, request: Request) -> Response:
        """The preview of a template not saved yet (`category`, `subject`, `body`)."""
        body = DraftPreviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        draft = MessageTemplate(name="Draft", category=data["category"], subject=data["subject"], body=data["body"])
        return _preview(request.user, draft, data["contact"])


class EmailSerializer(serializers.ModelSerializer):
    contact = serializers.IntegerField(source="contact_id", read_only=True, allow_null=True)
    sent_by = serializers.IntegerField(source="sent_by_id", read_only=True, allow_null=True)
    template = serializers.CharField(
        read_only=True, help_text='"firm:<id>" for a message template, "written" for a written email, else the '
                                  "product's own email (its body is not shown)",
    )  # fmt: skip
    text_body = serializers.SerializerMethodField(help_text="The plain-text message; null for the product's own emails")
    error = serializers.CharField(read_only=True, help_text="Why it failed, if it did")

    class Meta:
        model = OutgoingEmail
        fields = ("id", "contact", "to", "subject", "category", "template", "status", "sent_by", "created_at",
                  "sent_at", "attempts", "error", "text_body")  # fmt: skip
        read_only_fields = fields

    def get_text_body(self, email: OutgoingEmail) -> str | None:
        return email.text_body if emails.body_visible(email) else None


class EmailSendSerializer(serializers.Serializer):
    contact = serializers.IntegerField(help_text="A contact in your scope with an email address")
    template = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="A message template of your firm"
    )
    subject = serializers.CharField(required=False, max_length=300, help_text="Default: the template's")
    body = serializers.CharField(required=False, max_length=20_000, trim_whitespace=False,
                                 help_text="Default: the template's")  # fmt: skip
    category = serializers.ChoiceField(
        choices=EmailCategory.choices, required=False, help_text="Default: the template's, else service"
    )


class EmailViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    """Emails to contacts in your scope and those you sent, newest first, with their status
    (queued, sent, failed, bounced, skipped); `create` sends one to a contact."""

    required_right = Right.CRM
    serializer_class = EmailSerializer
    keyset = ("-created_at", "-id")

    @extend_schema(
        parameters=[
            object_filter("contact", "Only the emails to this contact"),
            OpenApiParameter("status", OpenApiTypes.STR, enum=EmailStatus.values),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[OutgoingEmail]:
        if self.describing_schema():
            return OutgoingEmail.objects.unscoped().none()
        user, params = self.request.user, self.request.query_params
        if params.get("contact"):
            contact = _or_404(crm_selectors.contact_get, user=user, pk=params["contact"])
            return emails.contact_emails(user=user, contact=contact, status=params.get("status", ""))
        rows = emails.emails_for(user=user)
        if params.get("status"):
            if params["status"] not in EmailStatus.values:
                raise serializers.ValidationError({"status": f"Use one of {', '.join(EmailStatus.values)}."})
            rows = rows.filter(status=params["status"])
        return rows

    def get_object(self) -> OutgoingEmail:
        return _or_404(emails.email_get, user=self.request.user, pk=self.kwargs["pk"])

    @extend_schema(request=EmailSendSerializer, responses={201: EmailSerializer})
    @idempotent_view("agenda.email_send")
    def create(self, request: Request) -> Response:
        """Send one email to `contact` from `template` and/or a written `subject` and `body`. A
        contact outside your scope or of another firm, another firm's template: 404, nothing sent.
        No address, a merge field the contact lacks, no subject or body: 400 naming the field. The
        `Idempotency-Key` header is required: a retry never sends it twice."""
        body = EmailSendSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        user = request.user
        contact = _or_404(crm_selectors.contact_get, user=user, pk=data["contact"])
        template = None if data["template"] is None else _or_404(emails.templates().get, pk=data["template"])
        email = emails.contact_email_send(
            actor=user, contact=contact, template=template, subject=data.get("subject"), body=data.get("body"),
            category=data.get("category"),
        )  # fmt: skip
        return Response(EmailSerializer(email).data, status=status.HTTP_201_CREATED)
