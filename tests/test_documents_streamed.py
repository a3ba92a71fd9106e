"""A document's download and preview through the real request path, with no test transaction
around it (the body is read after the view returned and the request's transaction committed),
as a browser or an API client would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from accounts.models import AuditEntry
from accounts.rights import Role
from crm.documents import services
from tests.concurrency import committed_db  # noqa: F401 - the fixture
from tests.conftest import Persona
from tests.factories import ContactFactory, FirmFactory, UserFactory

pytestmark = pytest.mark.usefixtures("committed_db")

PDF = b"%PDF-1.4\n" + b"0123456789" * 20_000 + b"\n%%EOF\n"  # ~200 KB: several chunks


@pytest.fixture(autouse=True)
def document_store(settings: Any, tmp_path: Path) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }


def _persona(slug: str) -> Persona:
    firm = FirmFactory(name=slug.title(), slug=slug)
    return Persona(UserFactory(firm=firm, email=f"owner@{slug}.test", role=Role.PRIMARY), firm)


def test_download_and_preview_stream_through_the_real_request_path() -> None:
    alice, charlie = _persona("docs-a"), _persona("docs-b")
    with alice.scope():
        contact = ContactFactory(first_name="Ann", last_name="Streamed")
        doc = services.document_upload(actor=alice.user, contact=contact, files=[("big.pdf", PDF)])[0]
    for response in (
        alice.client().get(f"/contacts/{contact.pk}/documents/{doc.pk}/download"),
        alice.client().get(f"/contacts/{contact.pk}/documents/{doc.pk}/file"),
        alice.api().get(f"/api/v1/documents/{doc.pk}/download/"),
    ):
        assert response.status_code == 200
        assert response.streaming
        assert b"".join(response.streaming_content) == PDF
    assert charlie.client().get(f"/contacts/{contact.pk}/documents/{doc.pk}/download").status_code == 404
    assert charlie.api().get(f"/api/v1/documents/{doc.pk}/download/").status_code == 404
    with alice.scope():  # the reads were committed with their requests
        assert AuditEntry.objects.filter(action="read", object_id=str(doc.pk)).count() == 3
