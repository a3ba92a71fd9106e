"""Tax ids at rest: Fernet (AES-128-CBC + HMAC-SHA256) ciphertext, a keyed digest for matching
and the last four characters for display.

Keys come from ``settings.FIELD_ENCRYPTION_KEYS`` (newest first; older keys still decrypt, so a
key can be rotated in and the rows re-encrypted at leisure). Outside production, when none are
set, one key is derived from ``SECRET_KEY``. The digest key is derived from the newest key, so
digests are stable for as long as that key is the newest one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

TAX_ID_FORMATS = {
    "ssn": (re.compile(r"^\d{9}$"), "An SSN has 9 digits, e.g. 123-45-6789."),
    "itin": (re.compile(r"^9\d{8}$"), "An ITIN has 9 digits and starts with 9, e.g. 912-70-1234."),
    "ein": (re.compile(r"^\d{9}$"), "An EIN has 9 digits, e.g. 12-3456789."),
    "foreign": (re.compile(r"^[A-Z0-9]{4,20}$"), "A foreign tax id has 4 to 20 letters or digits."),
}


def _derive(material: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(material)


@cache
def _keys() -> tuple[MultiFernet, bytes]:
    configured = list(settings.FIELD_ENCRYPTION_KEYS)
    if not configured:
        if getattr(settings, "PRODUCTION", False):
            raise ImproperlyConfigured("Environment variable FIELD_ENCRYPTION_KEYS must be set in production.")
        derived = _derive(settings.SECRET_KEY.encode(), b"advisorportal field encryption")
        configured = [base64.urlsafe_b64encode(derived).decode()]
    try:
        fernets = [Fernet(key.encode()) for key in configured]
    except ValueError as error:
        raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS holds a malformed Fernet key: {error}") from None
    digest_key = _derive(base64.urlsafe_b64decode(configured[0]), b"advisorportal tax id digest")
    return MultiFernet(fernets), digest_key


def normalise_tax_id(value: str) -> str:
    """Upper-case letters and digits only: ``123-45-6789`` and ``123 45 6789`` are the same id."""
    return re.sub(r"[^0-9A-Za-z]", "", value).upper()


def tax_id_error(value: str, id_type: str) -> str | None:
    """Why ``value`` is not a valid tax id of ``id_type``, or None."""
    pattern, message = TAX_ID_FORMATS.get(id_type or "ssn", TAX_ID_FORMATS["foreign"])
    normalised = normalise_tax_id(value)
    if not pattern.match(normalised):
        return message
    if id_type in ("", "ssn", "itin") and (normalised[:3] in ("000", "666") or normalised[3:5] == "00"):
        return "This is not a valid US taxpayer number."
    return None


@dataclass(frozen=True)
class SealedTaxId:
    ciphertext: bytes
    digest: str
    last4: str


def seal_tax_id(value: str) -> SealedTaxId:
    normalised = normalise_tax_id(value)
    fernet, _ = _keys()
    return SealedTaxId(
        ciphertext=fernet.encrypt(normalised.encode()),
        digest=tax_id_digest(normalised),
        last4=normalised[-4:],
    )


def tax_id_digest(value: str) -> str:
    _, digest_key = _keys()
    return hmac.new(digest_key, normalise_tax_id(value).encode(), hashlib.sha256).hexdigest()


def open_tax_id(ciphertext: bytes | memoryview | None) -> str:
    if not ciphertext:
        return ""
    fernet, _ = _keys()
    try:
        return fernet.decrypt(bytes(ciphertext)).decode()
    except InvalidToken:
        raise ImproperlyConfigured("A tax id cannot be decrypted with FIELD_ENCRYPTION_KEYS (key removed?).") from None


def format_tax_id(value: str, id_type: str) -> str:
    if id_type in ("", "ssn", "itin") and len(value) == 9:
        return f"{value[:3]}-{value[3:5]}-{value[5:]}"
    if id_type == "ein" and len(value) == 9:
        return f"{value[:2]}-{value[2:]}"
    return value


def seal_secret(value: str) -> bytes:
    """Any other secret at rest (a bank account number): Fernet ciphertext with the same keys."""
    fernet, _ = _keys()
    return fernet.encrypt(value.encode())


def open_secret(ciphertext: bytes | memoryview | None) -> str:
    if not ciphertext:
        return ""
    fernet, _ = _keys()
    try:
        return fernet.decrypt(bytes(ciphertext)).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS (key removed?)."
        ) from None
