"""The one PDF renderer: a Django template to PDF bytes, in the firm's name and colours, fetching
nothing but what it was given.

Every document (client information, invoices, statements, reports) goes through ``render_pdf``:

- **Branding.** The template gets ``brand``: the firm's ``name``, ``primary`` and ``accent``
  colours (checked to be ``#rrggbb``, so they are safe inside CSS), ``logo_url`` (empty when the
  firm has none) and ``css_name`` (the name escaped for a CSS string, e.g. a page footer's
  ``content:``). ``accounts.selectors.firm_branding`` builds it from a firm; the floor does not
  know the firm model.
- **Nothing fetched.** WeasyPrint fetches what a template names (images, stylesheets, fonts,
  ``<link rel="attachment">``, which embeds the fetched file in the PDF). Templates print client
  data, and client data can contain URLs, so the fetcher answers only three kinds: the firm's
  logo (``brand.logo_url``, served from the bytes in ``Branding``), our own static files
  (``{% static %}`` paths, read through the staticfiles finders, which refuse paths outside the
  static folders) and inline ``data:`` URIs (charts). Every other URL — ``http(s)`` to anywhere,
  ``file:``, ``ftp:`` — is refused without being opened, and logged. Relative URLs resolve
  against ``BASE_URL`` on the reserved ``.invalid`` domain, which never resolves: a URL that got
  past the fetcher would still reach nobody.
- **Fixed fonts.** A base stylesheet sets DejaVu Sans (and DejaVu Sans Mono for code: Debian's
  ``fonts-dejavu-core``, which WeasyPrint's own packages bring), so a document looks the same on
  every machine. ``@font-face`` in the ``stylesheet`` template is ignored (WeasyPrint reads it
  only with a font configuration, which we do not give); in a ``<style>`` of the HTML its URL
  gets the same refusal as every other URL.
- **Metadata.** Title (the caller's), author and creator (the firm), creation date.
- **Dates.** Templates format dates with ``{% load formats %}`` (``|day``, ``|moment``) in the
  date format in use: the reader's, during a request. A document rendered for someone else, or in
  a background job, names its format (``date_format``).
- ``content_hash(pdf)`` is the SHA-256 to store beside a document that was sent, to show later
  that a file is the one sent.

WeasyPrint is imported on first use: importing it takes about a second (it parses its own
stylesheets), which every process start would otherwise pay.
"""

from __future__ import annotations

import functools
import logging
import mimetypes
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import SuspiciousFileOperation
from django.template.loader import render_to_string
from django.utils import timezone

from advisorportal.formats import date_format_used, date_style
from advisorportal.hashing import sha256_hex

logger = logging.getLogger(__name__)

BASE_URL = "https://pdf.invalid/"
LOGO_URL = BASE_URL + "brand/logo"
LOGO_MAX_BYTES = 2_000_000
STATIC_MAX_BYTES = 5_000_000
STATIC_TYPES = frozenset({".css", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".ttf", ".otf", ".woff", ".woff2"})
BASE_CSS = """
@page { size: A4; margin: 18mm 16mm 20mm; }
html { font-family: "DejaVu Sans", sans-serif; font-size: 10pt; color: #1b1b1b; }
code, pre, kbd, samp { font-family: "DejaVu Sans Mono", monospace; }
"""
_HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


@dataclass(frozen=True)
class Branding:
    """What a document shows of the firm."""

    name: str
    primary: str = "#1f4e79"
    accent: str = "#c8902b"
    logo: bytes = b""
    logo_type: str = "image/png"

    def __post_init__(self) -> None:
        for colour in (self.primary, self.accent):
            if not _HEX_COLOUR.fullmatch(colour):
                raise ValueError(f"A brand colour must be #rrggbb, got {colour!r}.")
        if len(self.logo) > LOGO_MAX_BYTES:
            raise ValueError(f"A logo may have at most {LOGO_MAX_BYTES} bytes.")

    @property
    def logo_url(self) -> str:
        return LOGO_URL if self.logo else ""

    @property
    def css_name(self) -> str:
        """The firm's name, safe inside a double-quoted CSS string."""
        return css_string(self.name)

    @classmethod
    def with_logo_file(cls, *, name: str, primary: str, accent: str, logo: Any) -> Branding:
        """``logo`` a Django ``FieldFile`` (possibly empty); an unreadable or oversized logo is left out."""
        data = b""
        if logo:
            try:
                with logo.open("rb") as handle:
                    data = handle.read(LOGO_MAX_BYTES + 1)
            except OSError:
                logger.warning("The logo %s could not be read; the document shows the firm's name alone.", logo.name)
            if len(data) > LOGO_MAX_BYTES:
                logger.warning("The logo %s is over %d bytes; left out.", logo.name, LOGO_MAX_BYTES)
                data = b""
        kind = (mimetypes.guess_type(logo.name)[0] if logo else None) or "image/png"
        if not kind.startswith("image/"):
            data, kind = b"", "image/png"
        return cls(name=name, primary=primary, accent=accent, logo=data, logo_type=kind)


def css_string(text: str) -> str:
    """``text`` safe inside a double-quoted CSS string: quotes, backslashes, angle brackets and
    control characters as CSS escapes."""
    return "".join(f"\\{ord(ch):x} " if ch in '"\\<>' or ord(ch) < 32 else ch for ch in text)


def content_hash(pdf: bytes) -> str:
    """The SHA-256 of a rendered document (64 hex digits), to store beside what was sent."""
    return sha256_hex(pdf)


def render_pdf(
    *,
    template: str,
    context: dict[str, Any],
    branding: Branding,
    title: str,
    stylesheet: str = "",
    date_format: str | None = None,
) -> bytes:
    """Render the HTML ``template`` (and the CSS template ``stylesheet``, if any) with ``context``
    plus ``brand`` to PDF bytes; dates in ``date_format`` (default: the one in use)."""
    context = {**context, "brand": branding}
    with date_format_used(date_format or date_style().code):
        html = render_to_string(template, context)
        css = render_to_string(stylesheet, context) if stylesheet else ""
    from weasyprint import CSS, HTML

    fetcher = _fetcher_class()(branding)
    document = HTML(string=html, base_url=BASE_URL, url_fetcher=fetcher).render(
        stylesheets=[
            CSS(string=BASE_CSS, base_url=BASE_URL, url_fetcher=fetcher),
            *([CSS(string=css, base_url=BASE_URL, url_fetcher=fetcher)] if css else []),
        ]
    )
    document.metadata.title = title
    document.metadata.authors = [branding.name]
    document.metadata.generator = branding.name
    document.metadata.created = timezone.now().replace(microsecond=0).isoformat()
    return document.write_pdf()


@functools.cache
def _fetcher_class() -> type:
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class BrandFetcher(URLFetcher):
        """Answers the logo, our static files and ``data:`` URIs; refuses everything else unopened."""

        def __init__(self, branding: Branding) -> None:
            super().__init__(allowed_protocols=("data",), allow_redirects=False)
            self.branding = branding

        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("data:"):
                return super().fetch(url, headers)
            if url == LOGO_URL and self.branding.logo:
                return URLFetcherResponse(url, self.branding.logo, {"Content-Type": self.branding.logo_type})
            static_prefix = urljoin(BASE_URL, settings.STATIC_URL)
            if url.startswith(static_prefix):
                body = _static_file(url[len(static_prefix) :])
                if body is not None:
                    kind = mimetypes.guess_type(urlsplit(url).path)[0] or "application/octet-stream"
                    return URLFetcherResponse(url, body, {"Content-Type": kind})
            logger.warning("PDF: refused to fetch %.200s", url)
            raise ValueError(f"PDF documents fetch nothing from outside: {url[:200]}")

    return BrandFetcher


def _static_file(relative_url: str) -> bytes | None:
    """The bytes of a file of our static folders at ``relative_url``, or None."""
    parts = urlsplit(relative_url)
    path = unquote(parts.path)
    if (
        parts.query
        or parts.fragment
        or "\\" in path
        or "\x00" in path
        or any(seg in {"", ".", ".."} for seg in path.split("/"))
    ):
        return None
    if not any(path.lower().endswith(ext) for ext in STATIC_TYPES):
        return None
    try:
        found = finders.find(path)
    except SuspiciousFileOperation:
        return None
    if not isinstance(found, str):
        return None
    with open(found, "rb") as handle:
        data = handle.read(STATIC_MAX_BYTES + 1)
    return data if len(data) <= STATIC_MAX_BYTES else None
