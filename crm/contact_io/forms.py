from __future__ import annotations

from django import forms

from crm.contact_io.parsers import MAX_FILE_BYTES


class UploadForm(forms.Form):
    file = forms.FileField(
        label="Contacts file",
        help_text="The Excel template (.xlsx), a CSV file or a vCard file (.vcf) with one or many cards.",
    )

    def clean_file(self) -> object:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_FILE_BYTES:
            raise forms.ValidationError(f"The file is over {MAX_FILE_BYTES // 2**20} MB.")
        return upload
