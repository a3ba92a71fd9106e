"""Sections whose capability is not built yet say so plainly (issue #13, point 4) instead of an
empty state that reads as if the capability worked and had nothing to show."""

from __future__ import annotations

import pytest

from tests.conftest import Persona


@pytest.mark.parametrize("path", ["/onboarding/", "/billing/", "/reports/"])
def test_a_section_not_built_yet_says_so(alice: Persona, path: str) -> None:
    page = alice.client().get(path)
    text = page.content.decode()
    assert page.status_code == 200 and "not built yet" in text
    for pretending in ("No fee runs have been prepared", "Nothing is waiting on anyone",
                       "No applications are in progress", "No reports have been defined"):  # fmt: skip
        assert pretending not in text
