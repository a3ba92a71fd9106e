"""Labels of notification categories for people. Apps register theirs in ``AppConfig.ready``;
an unregistered category shows its code."""

from __future__ import annotations

_LABELS: dict[str, str] = {"imports.finished": "Import finished", "general": "General"}


def register(code: str, label: str) -> None:
    if not code or len(code) > 60:
        raise ValueError(f"A category code has 1 to 60 characters: {code!r}.")
    _LABELS[code] = label


def label(code: str) -> str:
    return _LABELS.get(code, code)
