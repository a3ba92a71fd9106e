"""What every uploaded file goes through before a pipeline reads it: the size limit, a look at the
content (never the name) to say what the file is, and ONE way to turn a CSV file into rows.

CSV: UTF-8, with or without a byte-order mark, or UTF-16 with one (Excel's "Unicode text");
anything else is refused with the row and byte where it stops being UTF-8, since guessing a legacy
encoding turns names into mojibake without anyone noticing. The delimiter (comma, semicolon, tab,
vertical bar) is the one the header row uses most, outside quotes: the header is the one line
whose shape we know, where a sniffer over data rows trips on delimiters inside values.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import UploadedFile

from advisorportal.hashing import sha256_hex

DELIMITERS = (",", ";", "\t", "|")


class FileRefused(ValueError):
    """The file as a whole cannot be taken (too big, wrong type, not text…); the message says why
    and what to do, for the person who uploaded it."""


@dataclass(frozen=True)
class Upload:
    data: bytes
    sha256: str

    @property
    def size(self) -> int:
        return len(self.data)


def size_label(size: int) -> str:
    """``100 bytes``, ``12 KB``, ``50 MB``, ``1.5 MB``."""
    if size < 1024:
        return f"{size:,} bytes"
    if size < 2**20:
        return f"{size / 1024:,.0f} KB"
    return f"{size / 2**20:,.1f}".removesuffix(".0") + " MB"


def check_size(size: int, limit: int) -> None:
    if size > limit:
        raise FileRefused(
            f"The file is {size_label(size)}; the limit is {size_label(limit)}. Split it and upload the parts."
        )


def read_upload(upload: UploadedFile | bytes, *, limit: int) -> Upload:
    """The file's bytes and digest, refused once more than ``limit`` bytes have been read (whatever
    size the client declared) or when empty."""
    if isinstance(upload, bytes):
        check_size(len(upload), limit)
        chunks = [upload]
    else:
        check_size(int(upload.size or 0), limit)
        chunks, read = [], 0
        for chunk in upload.chunks():
            read += len(chunk)
            check_size(read, limit)
            chunks.append(chunk)
    data = b"".join(chunks)
    if not data.strip():
        raise FileRefused("The file is empty.")
    return Upload(data=data, sha256=sha256_hex(data))


# --- What the file is -----------------------------------------------------------------------------

# Magic numbers, the first bytes of each kind of file. ``zip`` covers .xlsx, .docx and plain
# archives alike: ``excel.check_archive`` tells a workbook from the rest.
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"PK\x03\x04", "zip", "a ZIP archive or an Excel/Word file"),
    (b"\x89PNG\r\n\x1a\n", "png", "a PNG image"),
    (b"\xff\xd8\xff", "jpeg", "a JPEG image"),
    (b"GIF8", "gif", "a GIF image"),
    (b"%PDF", "pdf", "a PDF document"),
    (b"\xd0\xcf\x11\xe0", "ole", "an old Excel/Word file (.xls, .doc)"),
    (b"\x1f\x8b", "gzip", "a gzip archive"),
    (b"Rar!", "rar", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "7z", "a 7-Zip archive"),
)
_TEXT_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


@dataclass(frozen=True)
class Sniffed:
    kind: str  # zip, png, jpeg, gif, webp, pdf, ole, gzip, rar, 7z, text or binary (identify: xlsx, docx, html…)
    label: str  # for a message: "The file is a PDF document, not …"


def sniff(head: bytes) -> Sniffed:
    """What the first bytes of a file (a few kB) say it is."""
    for signature, kind, label in _SIGNATURES:
        if head.startswith(signature):
            return Sniffed(kind, label)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed("webp", "a WebP image")
    if head.startswith(_TEXT_BOMS) or b"\x00" not in head:
        return Sniffed("text", "text")
    return Sniffed("binary", "binary data")


# The main part's content type in an Office Open XML package's ``[Content_Types].xml``.
_OFFICE_MAIN_PARTS: tuple[tuple[bytes, str, str], ...] = (
    (b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml", "xlsx",
     "an Excel workbook (.xlsx)"),
    (b"application/vnd.ms-excel.sheet.macroEnabled.main+xml", "xlsm", "a macro-enabled Excel workbook (.xlsm)"),
    (b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml", "docx",
     "a Word document (.docx)"),
    (b"application/vnd.ms-word.document.macroEnabled.main+xml", "docm", "a macro-enabled Word document (.docm)"),
    (b"application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml", "pptx",
     "a PowerPoint presentation (.pptx)"),
)  # fmt: skip
# Markup that a browser would run as a page or an image with scripts, whatever the file is called.
_MARKUP: tuple[tuple[bytes, str, str], ...] = (
    (b"<!doctype html", "html", "an HTML page"),
    (b"<html", "html", "an HTML page"),
    (b"<svg", "svg", "an SVG image"),
    (b"<?xml", "xml", "an XML file"),
)
_CONTENT_TYPES_LIMIT = 1024 * 1024


def _office_kind(data: bytes) -> Sniffed:
    """Which Office Open XML file a ZIP archive is, from its ``[Content_Types].xml`` (read with a size
    cap, nothing else unpacked), or a plain ZIP archive."""
    import zipfile

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        info = archive.getinfo("[Content_Types].xml")
        if info.file_size > _CONTENT_TYPES_LIMIT:
            return Sniffed("zip", "a ZIP archive")
        with archive.open(info) as member:
            types = member.read(_CONTENT_TYPES_LIMIT + 1)
    except KeyError:
        return Sniffed("zip", "a ZIP archive")
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return Sniffed("zip", "a damaged ZIP archive")
    for main, kind, label in _OFFICE_MAIN_PARTS:
        if main in types:
            return Sniffed(kind, label)
    return Sniffed("zip", "a ZIP archive")


def identify(data: bytes) -> Sniffed:
    """``sniff`` over the whole file, told apart further where the first bytes are not enough:
    a ZIP archive is an Excel workbook, a Word document (macro-enabled or not), a presentation or a
    plain archive (by its declared main part); text that is HTML, SVG or XML markup says so."""
    sniffed = sniff(data[:4096])
    if sniffed.kind == "zip":
        return _office_kind(data)
    if sniffed.kind == "text":
        start = data[:1024].lstrip(b"".join(_TEXT_BOMS) + b" \t\r\n").lower()
        for prefix, kind, label in _MARKUP:
            if start.startswith(prefix):
                if kind == "xml" and b"<svg" in data[:4096].lower():
                    return Sniffed("svg", "an SVG image")
                return Sniffed(kind, label)
    return sniffed


# --- Text and CSV ---------------------------------------------------------------------------------


def decode_text(data: bytes) -> str:
    """The file as text (see the module's docstring); ``FileRefused`` naming the row otherwise."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise FileRefused("The file starts as UTF-16 text but is damaged further on.") from None
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            line = data[: error.start].count(b"\n") + 1
            raise FileRefused(
                f"Row {line}: this file is not UTF-8 text (byte 0x{data[error.start]:02x} at position "
                f'{error.start}). Save it as "CSV UTF-8" and upload it again.'
            ) from None
    if "\x00" in text:
        raise FileRefused("The file contains NUL bytes: it is not a text file.")
    return text


def delimiter(text: str) -> str:
    """The delimiter the header row (the first line) uses most outside quotes; a comma if none."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in text[: text.find("\n") if "\n" in text else 65536]:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])  # ties: the first listed
    return best if counts[best] else ","


@dataclass(frozen=True)
class CsvText:
    text: str
    delimiter: str

    def reader(self, *, strict: bool = False) -> Any:
        """A ``csv.reader`` over the text (``line_num`` is the file line a row ends on)."""
        return csv.reader(io.StringIO(self.text, newline=""), delimiter=self.delimiter, strict=strict)

    def header(self) -> list[str]:
        return [name.strip() for name in next(self.reader(), [])]


def decode_csv(data: bytes) -> CsvText:
    text = decode_text(data)
    return CsvText(text, delimiter(text))


def rows(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """``(file row, cells)`` for each row after the header; a quoted cell spanning lines counts as the
    row it starts on. ``csv.Error`` propagates, with ``reader.line_num`` where it happened."""
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        yield start, cells
