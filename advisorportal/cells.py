"""What the Python-rendered table rows (``crm.cells``, ``portfolios.cells``) share."""

from __future__ import annotations

import html


def escape(value: object) -> str:
    """``django.utils.html.escape`` without its lazy-string wrapper and SafeString: the same text
    at a third of the cost, for the ~300 cells of a page."""
    return html.escape(str(value))
