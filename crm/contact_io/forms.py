from __future__ import annotations

from django import forms

from advisorportal.jobs.uploads import FileRefused, check_size
from crm.contact_io.parsers import MAX_FILE_BYTES


class UploadForm(forms.Form):
    file = forms.FileField(
        label="Contacts file",
        help_text="The Excel template (.xlsx), a CSV file or a vCard file (.vcf) with one or many cards.",
    )

    def clean_file(self) -> object:
        upload = self.cleaned_data["file"]
        try:
            check_size(upload.size, MAX_FILE_BYTES)
        except FileRefused as error:
            raise forms.ValidationError(str(error)) from None
        return upload
