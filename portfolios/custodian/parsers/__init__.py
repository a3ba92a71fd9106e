"""One parser per import format, plus the sniffer that recognises a file by its content."""

from __future__ import annotations

from portfolios.custodian.parsers import flex, positions, prices, transactions
from portfolios.custodian.parsers.base import FILE, Issue, ParseResult, decode_text

PARSERS = {
    "positions_csv": positions.parse,
    "transactions_csv": transactions.parse,
    "prices_csv": prices.parse,
    "broker_xml": flex.parse,
}
HEADERS = {
    "positions_csv": positions.FORMAT,
    "transactions_csv": transactions.FORMAT,
    "prices_csv": prices.FORMAT,
}
LABELS = {
    "positions_csv": "positions CSV",
    "transactions_csv": "transactions CSV",
    "prices_csv": "prices CSV",
    "broker_xml": "broker statement (Flex XML)",
}
# Magic numbers of files people upload by mistake.
_BINARY_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive or an Excel/Word file",
    b"\xd0\xcf\x11\xe0": "an old Excel/Word file",
    b"\x1f\x8b": "a gzip archive",
}


def binary_kind(content: bytes) -> str | None:
    for signature, label in _BINARY_SIGNATURES.items():
        if content.startswith(signature):
            return label
    return None


def sniff(text: str) -> str | None:
    """The kind of file ``text`` looks like, from its first line or root element; None if unknown."""
    head = text.lstrip()[:2000]
    if head.startswith("<"):
        return "broker_xml" if "<FlexQueryResponse" in head or "<FlexStatements" in head else "xml"
    first_line = head.splitlines()[0] if head else ""
    names = {name.strip().strip('"').lower().replace(" ", "_") for name in first_line.split(",")}
    for kind, fmt in HEADERS.items():
        if set(fmt.required) <= names and names <= set(fmt.columns):
            return kind
    return None


def parse(content: bytes, requested_kind: str) -> tuple[str, ParseResult]:
    """Recognise and parse ``content``; ``requested_kind`` blank means detect. Returns the kind used."""
    result = ParseResult()
    if not content.strip():
        result.issues.append(Issue(FILE, "", "The file is empty."))
        return requested_kind, result
    if label := binary_kind(content):
        result.issues.append(Issue(FILE, "", f"The file is {label}, not a CSV or XML file."))
        return requested_kind, result
    text, problem = decode_text(content)
    if problem is not None or text is None:
        result.issues.append(problem or Issue(FILE, "", "The file is not text."))
        return requested_kind, result
    detected = sniff(text)
    if detected == "xml":
        if requested_kind and requested_kind != "broker_xml":
            message = f"The file is XML, not a {LABELS[requested_kind]}."
        else:
            message = "The file is XML but not an Interactive Brokers Flex statement (no FlexQueryResponse)."
        result.issues.append(Issue(FILE, "", message))
        return requested_kind, result
    if requested_kind:
        if detected is not None and detected != requested_kind:
            result.issues.append(
                Issue(FILE, "", f"The file looks like a {LABELS[detected]}, not a {LABELS[requested_kind]}.")
            )
            return requested_kind, result
        kind = requested_kind
    elif detected is None:
        result.issues.append(
            Issue(
                FILE,
                "",
                "The kind of file could not be recognised from its first line: choose the kind, "
                "or use one of the documented headers.",
            )
        )
        return "", result
    else:
        kind = detected
    return kind, PARSERS[kind](text)
