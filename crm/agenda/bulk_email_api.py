"""The bulk email API: your bulk emails with their counts and status; start one from a message
template and contacts (ids), a group or a saved view (any contact outside your scope or of
another firm: 404, nothing created); cancel one. Same services, right (CRM) and scope as the pages."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_access import FirmScopedViewSet
from accounts.rights import Right
from advisorportal.idempotency.api import idempotent_view
from advisorportal.jobs.models import Job
from advisorportal.mail import selectors as mail_selectors
from advisorportal.mail.models import BulkEmail, BulkStatus, EmailCategory
from crm import selectors as crm_selectors
from crm.agenda import bulk_email


def _or_404(getter: Any, **kwargs: Any) -> Any:
    try:
        return getter(**kwargs)
    except (ObjectDoesNotExist, ValueError, TypeError):
        raise Http404 from None


class BulkEmailCountsSerializer(serializers.Serializer):
    contacts = serializers.IntegerField(help_text="Contacts chosen")
    staged = serializers.IntegerField(help_text="Emails prepared (one per address)")
    queued = serializers.IntegerField(help_text="Prepared, not yet sent")
    sent = serializers.IntegerField()
    failed = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    skipped_no_address = serializers.IntegerField(help_text="Left out: no email address")
    skipped_unsubscribed = serializers.IntegerField(help_text="Left out: unsubscribed from marketing")
    skipped_duplicate = serializers.IntegerField(help_text="Left out: the same address as another recipient")


class BulkEmailSerializer(serializers.Serializer):
    """A bulk email; ``context`` carries its page's jobs and counts (``_page_context``: two queries
    per page, whatever its size)."""

    id = serializers.IntegerField(read_only=True)
    template = serializers.IntegerField(source="template_id", read_only=True)
    subject = serializers.CharField(read_only=True)
    category = serializers.ChoiceField(choices=EmailCategory.choices, read_only=True)
    selection = serializers.CharField(
        source="source", read_only=True, help_text="Whom it went to: a group, a saved view, contacts"
    )
    status = serializers.ChoiceField(choices=BulkStatus.choices, read_only=True)
    job = serializers.IntegerField(source="job_id", read_only=True, allow_null=True, help_text="Its background job")
    progress = serializers.SerializerMethodField(help_text="Percentage done; null while not known")
    cancelling = serializers.SerializerMethodField(help_text="A cancel was asked and the job has not stopped yet")
    counts = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)

    def get_progress(self, email: BulkEmail) -> int | None:
        job = self.context["jobs"].get(email.job_id)
        return None if job is None else job.percent

    def get_cancelling(self, email: BulkEmail) -> bool:
        job = self.context["jobs"].get(email.job_id)
        return bool(job is not None and job.cancelling)

    @extend_schema_field(BulkEmailCountsSerializer)
    def get_counts(self, email: BulkEmail) -> dict[str, int]:
        return self.context["counts"][email.pk]


def _page_context(emails: list[BulkEmail]) -> dict[str, Any]:
    jobs = {job.pk: job for job in Job.objects.filter(pk__in=[e.job_id for e in emails]).defer("issues")}
    return {"jobs": jobs, "counts": mail_selectors.counts_many(emails)}


def _answer(user: Any, email: BulkEmail, code: int = status.HTTP_200_OK) -> Response:
    email = bulk_email.bulk_email_get(user=user, pk=email.pk)
    return Response(BulkEmailSerializer(email, context=_page_context([email])).data, status=code)


class BulkEmailStartSerializer(serializers.Serializer):
    template = serializers.IntegerField(help_text="A message template of your firm")
    contacts = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    group = serializers.IntegerField(required=False, allow_null=True, default=None)
    saved_view = serializers.IntegerField(required=False, allow_null=True, default=None)


class BulkEmailViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    """The bulk emails you started, newest first, with their status and counts; `create` starts one
    (a background job prepares and sends it), `cancel` stops one."""

    required_right = Right.CRM
    serializer_class = BulkEmailSerializer
    keyset = ("-created_at", "-id")

    def get_queryset(self) -> QuerySet[BulkEmail]:
        if self.describing_schema():
            return BulkEmail.objects.unscoped().none()
        return bulk_email.bulk_emails_for(user=self.request.user)

    def get_object(self) -> BulkEmail:
        return _or_404(bulk_email.bulk_email_get, user=self.request.user, pk=self.kwargs["pk"])

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        if args and not self.describing_schema():
            items = args[0]
            emails = [items] if isinstance(items, BulkEmail) else list(items)
            kwargs["context"] = {**self.get_serializer_context(), **_page_context(emails)}
            args = (emails[0] if isinstance(items, BulkEmail) else emails, *args[1:])
        return super().get_serializer(*args, **kwargs)

    @extend_schema(request=BulkEmailStartSerializer, responses={201: BulkEmailSerializer})
    @idempotent_view("agenda.bulk_email_start")
    def create(self, request: Request) -> Response:
        """Send the message template `template` to `contacts` (ids), a `group` or a `saved_view`.
        Any contact outside your scope or of another firm, another firm's template: 404, nothing
        created. A merge field contacts lack, nobody chosen: 400 naming the field. The
        `Idempotency-Key` header is required: a retry never sends the emails a second time."""
        body = BulkEmailStartSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        user = request.user
        template = _or_404(bulk_email.templates().get, pk=data["template"])
        selection = _or_404(
            crm_selectors.contact_selection, user=user, contacts=data["contacts"], group=data["group"],
            saved_view=data["saved_view"],
        )  # fmt: skip
        email = bulk_email.bulk_email_start(actor=user, template=template, selection=selection)
        return _answer(user, email, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: BulkEmailSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: Any = None) -> Response:
        """Stop sending: at once if it waits for a worker, else after the current batch. What was
        sent stays sent. One that ended: 400 on `status`."""
        email = bulk_email.bulk_email_cancel(actor=request.user, email=self.get_object())
        return _answer(request.user, email)
