"""The development outbox: the emails Django's file backend wrote to ``settings.EMAIL_FILE_PATH``.

Outside production every email the app sends lands in ``var/mail`` (one ``.log`` file per
connection; a file holds every message of that connection, each followed by a line of 79 dashes).
These reads let the ``/dev/outbox/`` pages list them, newest first, and show one, so a person
trying the product can follow every emailed link. Nothing here runs in production (the pages are
not mounted there, and their views refuse).

A message is named by its file and its place in the file (``<file name without .log>~<n>``). A name
is accepted only if it is one of the directory's own file names: a path never comes from the
request. Listing reads the newest files first and parses the headers of the messages it shows, so
it stays fast with thousands of files.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser, BytesParser
from html.parser import HTMLParser
from pathlib import Path

from django.conf import settings

LIST_LIMIT = 200  # messages a listing shows
SEARCH_SCAN_LIMIT = 5000  # messages a search reads at most, newest first
INLINE_IMAGE_MAX_BYTES = 2 * 1024 * 1024  # larger ``cid:`` images are not inlined as data: URIs

# The file backend ends each message with "\n" + 79 dashes + "\n". A body line of dashes is told
# apart by what follows: the next message starts with a header line (or the file ends).
_SEPARATOR = re.compile(rb"\n-{79}\n(?=[!-9;-~]+:|\Z)")
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,150}\.log")
_MESSAGE_ID = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]{0,150})~([0-9]{1,6})")
_CID = re.compile(r"cid:([^\s\"'<>()]+)", re.IGNORECASE)
CATEGORY_HEADER = "X-AdvisorPortal-Category"


@dataclass(frozen=True)
class Summary:
    """One stored message as the list shows it."""

    id: str
    sent_at: datetime
    sender: str
    to: str
    subject: str
    category: str


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class StoredMessage:
    """One stored message with its headers and parts."""

    summary: Summary
    headers: list[tuple[str, str]]
    text: str | None
    html: str | None
    links: list[str] = field(default_factory=list)  # the HTML part's links, in order, once each
    attachments: list[Attachment] = field(default_factory=list)

    @property
    def reply_to(self) -> str:
        return next((value for name, value in self.headers if name.lower() == "reply-to"), "")


@dataclass(frozen=True)
class Listing:
    messages: list[Summary]
    query: str
    more: bool  # more messages (or matches) exist than are shown
    scanned: int  # messages read (a search stops after SEARCH_SCAN_LIMIT)
    directory: str


def mail_directory() -> Path | None:
    path = getattr(settings, "EMAIL_FILE_PATH", None)
    return Path(path) if path else None


def _log_files(directory: Path) -> list[str]:
    """The directory's message files, newest first (modification time, then name)."""
    found: list[tuple[int, str]] = []
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if not _FILE_NAME.fullmatch(entry.name):
                    continue
                try:
                    if entry.is_file(follow_symlinks=False):
                        found.append((entry.stat(follow_symlinks=False).st_mtime_ns, entry.name))
                except OSError:  # removed while we looked
                    continue
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return []
    found.sort(reverse=True)
    return [name for _, name in found]


def _read(directory: Path, name: str) -> bytes | None:
    try:
        return (directory / name).read_bytes()
    except OSError:
        return None


def split_messages(data: bytes) -> list[bytes]:
    """The messages of one file, oldest first (a partly written last one included)."""
    return [chunk for chunk in _SEPARATOR.split(data) if chunk.strip()]


def _message_id(file_name: str, index: int) -> str:
    return f"{file_name.removesuffix('.log')}~{index}"


def _header(message: Message, name: str) -> str:
    value = message.get(name)
    return " ".join(str(value).split()) if value is not None else ""


def _sent_at(message: Message, fallback: datetime) -> datetime:
    value = message.get("Date")
    when = getattr(value, "datetime", None)
    if not isinstance(when, datetime):
        return fallback
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _summary(message: Message, message_id: str, fallback: datetime) -> Summary:
    return Summary(
        id=message_id,
        sent_at=_sent_at(message, fallback),
        sender=_header(message, "From"),
        to=", ".join(filter(None, (_header(message, "To"), _header(message, "Cc")))),
        subject=_header(message, "Subject"),
        category=_header(message, CATEGORY_HEADER),
    )


def _mtime(directory: Path, name: str) -> datetime:
    try:
        return datetime.fromtimestamp((directory / name).stat().st_mtime, tz=UTC)
    except OSError:
        return datetime.now(tz=UTC)


def list_messages(*, query: str = "", limit: int = LIST_LIMIT, directory: Path | None = None) -> Listing:
    """The newest ``limit`` stored messages, newest first; with ``query``, those whose recipients
    or subject contain it (case-insensitive), among the newest ``SEARCH_SCAN_LIMIT``."""
    directory = directory or mail_directory()
    query = " ".join(query.split())
    shown: list[Summary] = []
    scanned = 0
    more = False
    if directory is None:
        return Listing(messages=[], query=query, more=False, scanned=0, directory="")
    needle = query.casefold()
    parser = BytesHeaderParser(policy=policy.default)
    for name in _log_files(directory):
        data = _read(directory, name)
        if data is None:
            continue
        chunks = split_messages(data)
        fallback = _mtime(directory, name)
        for index in range(len(chunks) - 1, -1, -1):  # the last one in a file is its newest
            if len(shown) >= limit or (needle and scanned >= SEARCH_SCAN_LIMIT):
                more = True
                break
            scanned += 1
            headers = parser.parsebytes(chunks[index])
            summary = _summary(headers, _message_id(name, index), fallback)
            if needle and needle not in f"{summary.to}\n{summary.subject}".casefold():
                continue
            shown.append(summary)
        if more:
            break
    return Listing(messages=shown, query=query, more=more, scanned=scanned, directory=str(directory))


def _locate(message_id: object, directory: Path) -> tuple[str, int] | None:
    """The file name and index a message id names, if that file is one of the directory's."""
    if not isinstance(message_id, str) or not (match := _MESSAGE_ID.fullmatch(message_id)):
        return None
    name = match.group(1) + ".log"
    if name not in _log_files(directory):  # only names the directory lists; never a joined request path
        return None
    return name, int(match.group(2))


class _LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        href = (dict(attrs).get("href") or "").strip()
        if href.lower().startswith(("http://", "https://", "mailto:")) and href not in self.links:
            self.links.append(href)


def html_links(html: str) -> list[str]:
    collector = _LinkCollector()
    collector.feed(html)
    collector.close()
    return collector.links


def _inline_images(message: EmailMessage, html: str) -> str:
    """``cid:`` references to the message's own images as data: URIs (the frame loads nothing else)."""
    images: dict[str, str] = {}
    for part in message.walk():
        content_id = part.get("Content-ID")
        if content_id is None or part.get_content_maintype() != "image":
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes) or len(payload) > INLINE_IMAGE_MAX_BYTES:
            continue
        encoded = base64.b64encode(payload).decode("ascii")
        images[str(content_id).strip().strip("<>")] = f"data:{part.get_content_type()};base64,{encoded}"
    if not images:
        return html
    return _CID.sub(lambda m: images.get(m.group(1), m.group(0)), html)


def _part_text(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_type() != f"text/{subtype}":
        return None
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset or a broken encoding
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)
    return str(content)


def _attachments(message: EmailMessage) -> list[Attachment]:
    found = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        size = len(payload) if isinstance(payload, bytes) else 0
        found.append(Attachment(part.get_filename() or "(no name)", part.get_content_type(), size))
    return found


def read_message(message_id: object, *, directory: Path | None = None) -> StoredMessage | None:
    """One stored message by its id from a listing, or None (unknown, malformed or gone)."""
    directory = directory or mail_directory()
    if directory is None or (located := _locate(message_id, directory)) is None:
        return None
    name, index = located
    data = _read(directory, name)
    if data is None:
        return None
    chunks = split_messages(data)
    if index >= len(chunks):
        return None
    parsed = BytesParser(policy=policy.default).parsebytes(chunks[index])
    assert isinstance(parsed, EmailMessage)  # policy.default builds EmailMessage objects
    html = _part_text(parsed, "html")
    return StoredMessage(
        summary=_summary(parsed, _message_id(name, index), _mtime(directory, name)),
        headers=[(key, " ".join(str(value).split())) for key, value in parsed.items()],
        text=_part_text(parsed, "plain"),
        html=_inline_images(parsed, html) if html is not None else None,
        links=html_links(html) if html is not None else [],
        attachments=_attachments(parsed),
    )
