from __future__ import annotations

from typing import Any

from django import forms

from portfolios.custodian.models import ImportKind
from portfolios.custodian.services import may_import_prices


class UploadForm(forms.Form):
    file = forms.FileField(
        label="File",
        help_text="CSV (UTF-8, or UTF-16 with a byte-order mark), Excel (.xlsx) or Flex XML",
        allow_empty_file=True,
    )
    kind = forms.ChoiceField(label="Kind of file", required=False, choices=[("", "Detect from the content")])

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kinds = [(value, label) for value, label in ImportKind.choices]
        if not may_import_prices(user):
            kinds = [(value, label) for value, label in kinds if value != ImportKind.PRICES_CSV]
        self.fields["kind"].choices = [("", "Detect from the content"), *kinds]  # type: ignore[attr-defined]
