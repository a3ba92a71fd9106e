"""Issue #13, points 8, 9, 12 and 13: page tests (browser tests are in tests/browser/)."""

from __future__ import annotations

import re

import pytest

from crm.models import Contact
from tests.conftest import Persona
from tests.factories import ContactFactory


@pytest.fixture
def book(alice: Persona) -> list[Contact]:
    with alice.scope():
        return [
            ContactFactory(first_name="Jane", last_name="Smith", email="jane@example.com", status="active"),
            ContactFactory(first_name="José", last_name="Núñez", status="prospect"),
        ]


# --- 8: fieldsets and legends for every checkbox or radio group --------------------------------------------


def _nested_labels(html: str) -> list[str]:
    """Labels that open inside another label (invalid HTML, and a screen reader reads one name)."""
    nested, depth = [], 0
    for m in re.finditer(r"<(/?)label\b[^>]*>", html):
        if m.group(1):
            depth = max(0, depth - 1)
        else:
            if depth:
                nested.append(html[m.start() : m.start() + 80])
            depth += 1
    return nested


def test_the_contact_form_groups_its_checkboxes_in_fieldsets(alice: Persona, book: list) -> None:
    for url in ("/contacts/new/", f"/contacts/{book[0].pk}/edit/"):
        html = alice.client().get(url).content.decode()
        assert _nested_labels(html) == []
        for legend, name in (
            ("Investment objectives", "investment_objectives"),
            ("Trading permissions", "trading_permissions"),
        ):
            group = re.search(
                rf'<fieldset class="choice-group">\s*<legend>{legend}</legend>(.*?)</fieldset>', html, re.S
            )
            assert group is not None, legend
            assert f'name="{name}"' in group.group(1)


def test_no_page_nests_labels(alice: Persona, book: list) -> None:
    client = alice.client()
    for url in ("/settings/api-tokens/", f"/settings/users/{alice.user.pk}/", "/contacts/", "/contacts/new/"):
        html = client.get(url).content.decode()
        assert _nested_labels(html) == [], url
