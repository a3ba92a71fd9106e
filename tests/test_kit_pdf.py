"""The floor's PDF renderer: the firm's branding and metadata, fixed fonts, and nothing fetched
from the network or the disk whatever the template names."""

from __future__ import annotations

import io
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import override_settings
from PIL import Image
from pypdf import PdfReader

from accounts.selectors import firm_branding
from advisorportal import pdf
from advisorportal.hashing import sha256_hex
from tests.conftest import Persona

DOCUMENT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>From the template</title>
<link rel="stylesheet" href="http://127.0.0.1:{port}/remote.css">
<link rel="attachment" href="file:///etc/passwd" title="passwd">
<link rel="attachment" href="http://127.0.0.1:{port}/attached.txt" title="remote">
<style>@font-face {{ font-family: "Inline"; src: url("http://127.0.0.1:{port}/inline.ttf"); }}
p {{ font-family: "Inline"; }}</style>
</head><body>
<header>{{% if brand.logo_url %}}<img src="{{{{ brand.logo_url }}}}" alt="">{{% endif %}}
<span class="firm">{{{{ brand.name }}}}</span></header>
<h1>Quarterly statement</h1>
<img src="http://127.0.0.1:9/x" alt=""><img src="file:///etc/passwd" alt="">
<img src="http://127.0.0.1:{port}/pixel.png" alt=""><img src="{{% static 'favicon.svg' %}}" alt="">
<p class="note">{{{{ note }}}}</p>
</body></html>"""

STYLESHEET = """@import url("http://127.0.0.1:{port}/imported.css");
@font-face {{ font-family: "Remote"; src: url("http://127.0.0.1:{port}/font.ttf"); }}
@font-face {{ font-family: "Local"; src: url("file:///usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"); }}
@page {{ @bottom-left {{ content: "{{{{ brand.css_name|safe }}}} · Confidential"; }} }}
h1 {{ color: {{{{ brand.primary }}}}; font-family: "Remote", "Local"; }}
.firm {{ color: {{{{ brand.accent }}}}; background: url("file:///etc/passwd"); }}
"""


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A port on this machine that records whether anything connected to it."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    yield server
    server.close()


def templates(port: int) -> Any:
    loader = ("django.template.loaders.locmem.Loader", {
        "kit/document.html": DOCUMENT.format(port=port), "kit/document.css": STYLESHEET.format(port=port),
    })  # fmt: skip
    return override_settings(TEMPLATES=[{
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "OPTIONS": {"loaders": [loader], "builtins": ["django.templatetags.static"]},
    }])  # fmt: skip


def png(colour: str = "#123456") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), colour).save(out, format="PNG")
    return out.getvalue()


def render(port: int, branding: pdf.Branding, note: str = "") -> bytes:
    with templates(port):
        return pdf.render_pdf(template="kit/document.html", stylesheet="kit/document.css", context={"note": note},
                              branding=branding, title="Statement Q1 2026")  # fmt: skip


def text_of(document: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(document)).pages)


def font_names(document: bytes) -> set[str]:
    names = set()
    for page in PdfReader(io.BytesIO(document)).pages:
        for font in page["/Resources"]["/Font"].values():
            names.add(str(font.get_object()["/BaseFont"]).split("+")[-1])
    return names


def test_nothing_outside_is_fetched_and_the_branding_is_in(listener: socket.socket, caplog: Any) -> None:
    port = listener.getsockname()[1]
    branding = pdf.Branding(name='Zeta & "Partners" <Wealth>', primary="#123456", accent="#abcdef", logo=png())
    with caplog.at_level(logging.WARNING, logger="advisorportal.pdf"):
        document = render(port, branding, note="file:///etc/passwd")
    assert document.startswith(b"%PDF")
    with pytest.raises(BlockingIOError):
        listener.accept()  # nobody connected
    refused = " ".join(r.getMessage() for r in caplog.records if r.name == "advisorportal.pdf")
    for url in ("http://127.0.0.1:9/x", "file:///etc/passwd", f"http://127.0.0.1:{port}/remote.css",
                f"http://127.0.0.1:{port}/imported.css", f"http://127.0.0.1:{port}/inline.ttf",
                f"http://127.0.0.1:{port}/pixel.png", f"http://127.0.0.1:{port}/attached.txt"):  # fmt: skip
        assert url in refused, url
    # @font-face in a stylesheet template is not even read (no font configuration is given).
    assert "font.ttf" not in refused and "DejaVuSerif.ttf" not in refused
    assert "favicon.svg" not in refused and pdf.LOGO_URL not in refused  # ours are served

    reader = PdfReader(io.BytesIO(document))
    assert reader.attachments == {}  # <link rel="attachment"> embedded neither file
    text = text_of(document)
    assert 'Zeta & "Partners" <Wealth>' in text  # in the letterhead
    assert 'Zeta & "Partners" <Wealth> · Confidential' in text  # through the CSS string, escaped
    assert "Quarterly statement" in text and "root:" not in text
    assert len(reader.pages[0].images) == 1  # the logo
    assert reader.metadata is not None
    assert reader.metadata.title == "Statement Q1 2026"
    assert reader.metadata.author == 'Zeta & "Partners" <Wealth>'
    assert reader.metadata.creator == 'Zeta & "Partners" <Wealth>'
    assert font_names(document) <= {"DejaVu-Sans", "DejaVu-Sans-Bold"}, font_names(document)


def test_static_files_are_served_only_from_the_static_folders() -> None:
    assert pdf._static_file("favicon.svg") is not None
    assert pdf._static_file("css/app.css") is not None
    for path in ("../advisorportal/settings.py", "%2e%2e/advisorportal/settings.py", "css/../../manage.py",
                 "%2e%2e/%2e%2e/etc/passwd", "/etc/passwd.css", "css\\..\\app.css", "css/app.css?x=1",
                 "missing.css", "vendor/README.md", "css//app.css"):  # fmt: skip
        assert pdf._static_file(path) is None, path


def test_brand_colours_must_be_hex_so_they_are_safe_in_css() -> None:
    for colour in ("red", "#12345", "#1234567", "#12345g", "#123456; } body { display: none"):
        with pytest.raises(ValueError):
            pdf.Branding(name="Firm", primary=colour)
    with pytest.raises(ValueError):
        pdf.Branding(name="Firm", logo=b"x" * (pdf.LOGO_MAX_BYTES + 1))
    assert pdf.css_string('a"b\\c<d>\n') == "a\\22 b\\5c c\\3c d\\3e \\a "


def test_content_hash_is_the_sha256_of_the_file() -> None:
    assert pdf.content_hash(b"%PDF-1.7 x") == sha256_hex(b"%PDF-1.7 x")
    assert len(pdf.content_hash(b"")) == 64 and pdf.content_hash(b"a") != pdf.content_hash(b"b")


def test_each_firm_gets_its_own_branding(
    alice: Persona, charlie: Persona, listener: socket.socket, tmp_path: Path
) -> None:
    """The outsider case: one process renders for two firms in turn; each document shows its own
    firm's name and logo only (the fetcher keeps nothing between documents)."""
    port = listener.getsockname()[1]
    with override_settings(MEDIA_ROOT=tmp_path):
        alice.firm.logo.save("alpha.png", ContentFile(png("#ff0000")))
        alpha = firm_branding(firm=alice.firm)
        beta = firm_branding(firm=charlie.firm)
    assert alpha.logo == png("#ff0000") and alpha.logo_type == "image/png" and alpha.primary == "#123456"
    assert beta.logo == b"" and beta.logo_url == ""

    first, second = render(port, alpha), render(port, beta)
    assert "Alpha Advisors" in text_of(first) and "Beta Capital" not in text_of(first)
    assert "Beta Capital" in text_of(second) and "Alpha Advisors" not in text_of(second)
    assert len(PdfReader(io.BytesIO(first)).pages[0].images) == 1
    assert len(PdfReader(io.BytesIO(second)).pages[0].images) == 0


def test_an_unreadable_or_non_image_logo_is_left_out(alice: Persona, tmp_path: Path) -> None:
    with override_settings(MEDIA_ROOT=tmp_path):
        alice.firm.logo.save("logo.html", ContentFile(b"<script>alert(1)</script>"))
        assert firm_branding(firm=alice.firm).logo == b""
        alice.firm.logo.save("logo.png", ContentFile(png()))
        Path(alice.firm.logo.path).unlink()
        assert firm_branding(firm=alice.firm).logo == b""
