"""Demo documents: a few realistic files on the first contacts of a demo firm (both in and out of
the assistant's group), so the documents pages, the dashboard panel and the agenda tab have content.

Two PDFs per firm come from the floor's renderer (``advisorportal.pdf``), each rendered once and
kept on one contact; the PNGs are drawn here (a few kB each); nothing else is rendered, so seeding
stays fast (under two seconds per firm)."""

from __future__ import annotations

import datetime
import struct
import zlib
from collections.abc import Callable

from django.utils import timezone

from accounts.models import Firm, User
from accounts.selectors import firm_branding
from advisorportal.pdf import render_pdf
from crm.documents import services
from crm.documents.models import Document
from crm.models import Contact
from crm.scope import scope_contacts

PDFS = (
    ("Investment policy statement", [
        ("Objectives", "Long-term growth with moderate income; a 60/40 balanced allocation reviewed yearly."),
        ("Constraints", "Liquidity of six months of expenses; no tobacco producers; rebalancing at 5 % drift."),
    ]),
    ("Advisory agreement", [
        ("Services", "Discretionary portfolio management and financial planning."),
        ("Fees", "0.90 % a year on the first $1,000,000 and 0.70 % above, billed quarterly in arrears."),
    ]),
)  # fmt: skip


def _png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    """A card-like image: a coloured band at the top and grey lines of 'text' on white."""
    rows = []
    for y in range(height):
        if y < height // 4:
            pixel = bytes(colour)
        elif y % 12 in (0, 1, 2) and y > height // 3:
            pixel = b"\xa0\xa0\xa0"
        else:
            pixel = b"\xff\xff\xff"
        line = pixel * (width * 2 // 3) + b"\xff\xff\xff" * (width - width * 2 // 3)
        rows.append(b"\x00" + line)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


def _hex(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)


def seed_documents(*, firm: Firm, log: Callable[[str], object] = print) -> int:
    """Documents on the firm's first contacts (call inside the firm's scope); none if it has any."""
    if Document.objects.exists():
        return 0
    assistant = User.objects.filter(email=f"assistant@{firm.slug}.example").first()
    inside = list(scope_contacts(Contact.objects.order_by("id"), user=assistant)[:2]) if assistant else []
    outside = [c for c in Contact.objects.order_by("id")[:12] if c not in inside][:3]
    chosen = inside + outside
    if not chosen:
        return 0
    advisor = User.objects.filter(email=f"advisor@{firm.slug}.example").first()
    branding = firm_branding(firm=firm)
    today = timezone.localdate()
    count = 0
    for index, contact in enumerate(chosen):
        name = f"{contact.first_name} {contact.last_name}".strip()
        files: list[tuple[str, bytes]] = []
        if index < len(PDFS):
            title, sections = PDFS[index]
            pdf = render_pdf(
                template="devtools/demo_document.html",
                context={"title": title, "sections": sections, "contact_name": name,
                         "date": (today - datetime.timedelta(days=3 * index)).isoformat()},
                branding=branding,
                title=title,
            )  # fmt: skip
            files.append((f"{title} - {name}.pdf", pdf))
        files.append((f"Photo ID - {name}.png", _png(240, 150, _hex(firm.brand_primary or "#1f4e79"))))
        if index % 2 == 0:
            files.append(
                (
                    "Beneficiaries.csv",
                    f"name,relationship,share\n{name} Jr.,child,50\nPat {contact.last_name},spouse,50\n".encode(),
                )
            )
        if index == 1:
            files.append(
                (
                    "Meeting notes.txt",
                    f"Review with {name}: risk profile unchanged; wants to add to the IRA before April.\n".encode(),
                )
            )
        count += len(services.document_upload(actor=advisor, contact=contact, files=files))
    log(f"{firm.name}: {count} documents")
    return count
