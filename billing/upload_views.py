"""Fee billing → Upload (Fee Administration): a file of advisor-calculated fees, checked row by row.

``GET /billing/uploads/`` the form and the uploads so far; ``POST`` (multipart: ``file``,
``dry_run``) checks the file: a dry run shows what would post, row by row, and makes nothing;
otherwise a file without errors becomes a fee run (a preview) to approve and post on its page, and
a file with errors makes nothing and lists them by row and column (``billing.upload``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render

from accounts.access import FirmScopedView
from accounts.rights import Right
from advisorportal.jobs.uploads import size_label
from billing import selectors, upload
from billing.increase_models import FeeUpload


class UploadForm(forms.Form):
    file = forms.FileField(
        label="File (CSV or Excel)", help_text=f"At most {size_label(upload.MAX_BYTES)} and {upload.MAX_ROWS:,} rows."
    )
    dry_run = forms.BooleanField(label="Dry run: show what would be posted, make nothing", required=False, initial=True)


def _listed(user: Any) -> list[FeeUpload]:
    rows = upload.uploads(user=user)
    if not selectors.whole_firm(user):
        rows = rows.filter(created_by=user)
    return list(rows[:50])


class UploadView(FirmScopedView):
    required_right = Right.FEE_ADMINISTRATION
    template_name = "billing/upload.html"

    def _page(self, request: HttpRequest, form: UploadForm, status: int = 200, **extra: Any) -> HttpResponse:
        context = {
            "form": form,
            "uploads": _listed(self.user),
            "columns": upload.COLUMNS,
            "required": upload.REQUIRED,
            **extra,
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._page(request, UploadForm())

    def post(self, request: HttpRequest) -> HttpResponseBase:
        form = UploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return self._page(request, form, status=400)
        received = form.cleaned_data["file"]
        name, data = received.name or "upload.csv", received
        if form.cleaned_data["dry_run"]:
            checked = upload.check(user=self.user, data=data, file_name=name)
            return self._page(request, form, checked=checked, dry_run=True, status=200 if checked.ok else 400)
        made, checked = upload.upload_create(actor=self.user, data=data, file_name=name)
        if made.run_id is None:
            return self._page(request, form, checked=checked, dry_run=False, status=400)
        messages.success(
            request,
            f"{made.file_name} is fee run FEE-{made.run_id} ({len(checked.rows)} accounts): "
            "check it, have it approved and post it here.",
        )
        return redirect("billing:run", pk=made.run_id)
