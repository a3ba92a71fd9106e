"""Which files may be kept as documents, decided by their content (``advisorportal.jobs.uploads``
says what a file is), never by the name or the type the browser claims. A name whose extension
contradicts the content is refused with a message saying what the file really is; a name with no
extension gets the content's."""

from __future__ import annotations

import posixpath
import re
import unicodedata
from dataclasses import dataclass

from advisorportal.jobs.uploads import FileRefused, decode_text, identify
from crm.documents.models import DocumentKind

NAME_LIMIT = 200


@dataclass(frozen=True)
class FileType:
    kind: DocumentKind
    content_type: str
    extensions: tuple[str, ...]  # the first is the one added to a name without any
    label: str


TYPES: dict[str, FileType] = {
    t.kind: t
    for t in (
        FileType(DocumentKind.PDF, "application/pdf", (".pdf",), "a PDF document"),
        FileType(DocumentKind.PNG, "image/png", (".png",), "a PNG image"),
        FileType(DocumentKind.JPEG, "image/jpeg", (".jpg", ".jpeg", ".jpe"), "a JPEG image"),
        FileType(DocumentKind.GIF, "image/gif", (".gif",), "a GIF image"),
        FileType(DocumentKind.WEBP, "image/webp", (".webp",), "a WebP image"),
        FileType(DocumentKind.TEXT, "text/plain", (".txt", ".text", ".md", ".log"), "a text file"),
        FileType(DocumentKind.CSV, "text/csv", (".csv",), "a CSV file"),
        FileType(
            DocumentKind.XLSX,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            (".xlsx",),
            "an Excel workbook (.xlsx)",
        ),
        FileType(
            DocumentKind.DOCX,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            (".docx",),
            "a Word document (.docx)",
        ),
    )
}
ALLOWED_SUMMARY = "PDF, PNG, JPEG, GIF or WebP images, text, CSV, Excel (.xlsx) or Word (.docx) files"
# For the file input's ``accept`` (a hint to the file picker only; the server decides by content).
ACCEPT = ",".join(ext for t in TYPES.values() for ext in t.extensions)
_BY_EXTENSION = {ext: t for t in TYPES.values() for ext in t.extensions}
_SPACES = re.compile(r"\s+")


def clean_name(raw: str) -> str:
    """The name people see: the last part of whatever path the browser sent, without control or
    invisible characters, spaces collapsed, no leading dots, at most ``NAME_LIMIT`` characters
    (the extension kept)."""
    name = unicodedata.normalize("NFC", str(raw or "")).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(" " if ch.isspace() else ch for ch in name if unicodedata.category(ch) not in {"Cc", "Cf", "Cs"})
    name = _SPACES.sub(" ", name).strip().lstrip(".").strip()
    if len(name) > NAME_LIMIT:
        stem, ext = posixpath.splitext(name)
        ext = ext if len(ext) <= 16 else ""
        name = stem[: NAME_LIMIT - len(ext)].rstrip() + ext
    return name or "document"


def extension(name: str) -> str:
    return posixpath.splitext(name)[1].lower()


def classify(name: str, data: bytes) -> tuple[FileType, str]:
    """The file's type and its name (with the content's extension added if it had none), or
    ``FileRefused`` saying what the file is and why it cannot be kept."""
    found = identify(data)
    ext = extension(name)
    if found.kind == "text":
        claimed = _BY_EXTENSION.get(ext)
        if claimed is None and ext:
            raise FileRefused(
                f"“{name}” is text, but files named {ext} are not accepted. Documents may be {ALLOWED_SUMMARY}."
            )
        if claimed is not None and claimed.kind not in (DocumentKind.TEXT, DocumentKind.CSV):
            raise FileRefused(
                f"“{name}” is text, not {claimed.label} as its name says. Upload the real file, "
                f"or rename it to end in .txt."
            )
        try:
            decode_text(data)
        except FileRefused:
            raise FileRefused(
                f"“{name}” is not UTF-8 text (nor UTF-16 with a byte-order mark). Save it as UTF-8 and upload it again."
            ) from None
        filetype = claimed or TYPES[DocumentKind.TEXT]
    elif found.kind in TYPES:
        filetype = TYPES[found.kind]
        if ext and ext not in filetype.extensions:
            raise FileRefused(
                f"“{name}” is {filetype.label}, not what its name ({ext}) says. Rename it to end in "
                f"{filetype.extensions[0]} and upload it again."
            )
    else:
        raise FileRefused(f"“{name}” is {found.label}; documents may be {ALLOWED_SUMMARY}.")
    if not ext:
        name = clean_name(name + filetype.extensions[0])
    return filetype, name
