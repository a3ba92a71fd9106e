"""``POST /api/v1/billing/uploads/`` (Fee Administration): a file of advisor-calculated fees.

Multipart: ``file`` (CSV or Excel, the columns of ``billing.upload``) and ``dry_run`` (default
false). A dry run answers 200 with what would post, row by row, and makes nothing. Otherwise a file
without errors answers 201 with its fee run (a preview: approve and post it through
``/api/v1/billing/runs/{id}/approve/`` and ``post/``); a file with errors answers 400 with one
message per problem naming its row and column under ``fields.file``, makes nothing, and keeps the
refused upload and its audit entry. Takes an ``Idempotency-Key``: a retried upload returns the first
answer."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_access import FirmScopedAPIView
from accounts.rights import Right
from advisorportal.hashing import sha256_hex
from advisorportal.idempotency.api import HEADER, REPLAYED_HEADER
from advisorportal.idempotency.services import IdempotencyKeyInvalid, idempotent
from billing import upload


class UploadBodySerializer(serializers.Serializer[Any]):
    file = serializers.FileField(
        help_text="CSV (UTF-8) or Excel: account, period_start, period_end, amount, description, currency."
    )
    dry_run = serializers.BooleanField(required=False, default=False, help_text="Check and show; make nothing.")


class UploadRowSerializer(serializers.Serializer[Any]):
    row = serializers.IntegerField(help_text="The file's row (the header is row 1).")
    account = serializers.CharField()
    currency = serializers.CharField()
    period_start = serializers.DateField(allow_null=True)
    period_end = serializers.DateField(allow_null=True)
    amount = serializers.CharField(help_text="Decimal string.")
    description = serializers.CharField(allow_blank=True)
    previously_billed = serializers.CharField(help_text="What posted runs already billed for the period.")
    to_post = serializers.CharField(help_text="What posting would move: amount less previously billed.")
    note = serializers.CharField(allow_blank=True)


class UploadIssueSerializer(serializers.Serializer[Any]):
    row = serializers.IntegerField(help_text="0: the file as a whole.")
    column = serializers.CharField(allow_blank=True)
    message = serializers.CharField()
    level = serializers.CharField(help_text="error (nothing is made) or conflict (the row is held back).")


class UploadResultSerializer(serializers.Serializer[Any]):
    dry_run = serializers.BooleanField()
    upload = serializers.IntegerField(allow_null=True, help_text="The upload kept (null for a dry run).")
    run = serializers.IntegerField(allow_null=True, help_text="The fee run made (null for a dry run).")
    period_start = serializers.DateField(allow_null=True)
    period_end = serializers.DateField(allow_null=True)
    total = serializers.CharField()
    to_post = serializers.CharField()
    rows = UploadRowSerializer(many=True)
    issues = UploadIssueSerializer(many=True)


def _answer(checked: upload.Checked, *, dry_run: bool, upload_id: int | None, run_id: int | None) -> dict[str, Any]:
    period = checked.period
    return {
        "dry_run": dry_run,
        "upload": upload_id,
        "run": run_id,
        "period_start": period[0] if period else None,
        "period_end": period[1] if period else None,
        "total": f"{checked.total:.2f}",
        "to_post": f"{checked.to_post:.2f}",
        "rows": [r.as_dict() for r in checked.rows],
        "issues": [i.as_dict() for i in checked.issues],
    }


def _refusal(checked: upload.Checked) -> Response:
    """400 answered (not raised) so that the refused upload's audit entry stays."""
    return Response(
        {
            "error": {
                "code": "invalid",
                "message": "The file has errors; nothing was made.",
                "fields": {"file": checked.messages()[:200]},
            }
        },
        status=400,
    )


class UploadAPIView(FirmScopedAPIView):
    required_right = Right.FEE_ADMINISTRATION
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary="Upload advisor-calculated fees (dry run, or made into a fee run)",
        request={"multipart/form-data": UploadBodySerializer},
        responses={200: UploadResultSerializer, 201: UploadResultSerializer},
        parameters=[
            OpenApiParameter(
                HEADER,
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="Required unless dry_run: a new random value (a UUID) per upload; "
                "a retry with the same key and file gets the first answer.",
            )
        ],
    )
    def post(self, request: Request) -> Response:
        body = UploadBodySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        received = body.validated_data["file"]
        name = received.name or "upload.csv"
        if body.validated_data["dry_run"]:
            checked = upload.check(user=request.user, data=received, file_name=name)
            if not checked.ok:
                return _refusal(checked)
            return Response(UploadResultSerializer(_answer(checked, dry_run=True, upload_id=None, run_id=None)).data)
        key = request.headers.get(HEADER)
        if key is None:
            raise IdempotencyKeyInvalid(f"Send an {HEADER} header (a new random value, e.g. a UUID, for each upload).")
        data = b"".join(received.chunks()) if (received.size or 0) <= upload.MAX_BYTES else received
        payload = {
            "path": request.path,
            "user": request.user.pk,
            "name": name,
            "file": sha256_hex(data) if isinstance(data, bytes) else f"size {received.size}",
        }
        with idempotent(
            scope="billing.upload", key=key, payload=payload, actor=request.user, name=f"{HEADER} header"
        ) as attempt:
            if attempt.replayed:
                return Response(attempt.body, status=attempt.status, headers={REPLAYED_HEADER: "true"})
            made, checked = upload.upload_create(actor=request.user, data=data, file_name=name)
            if made.run_id is None:
                attempt.discard()
                return _refusal(checked)
            answer = UploadResultSerializer(_answer(checked, dry_run=False, upload_id=made.pk, run_id=made.run_id)).data
            attempt.store(answer, status=201)
        return Response(answer, status=201)
