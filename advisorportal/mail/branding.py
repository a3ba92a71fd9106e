"""The firm's branding for emails, without importing identity (the layer above the floor):
``accounts`` registers a provider in its ``AppConfig.ready`` (as it registers the audit recorders
in ``advisorportal.auditing``). With none registered, sending raises: an email is never sent
unbranded by accident."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured

from advisorportal.pdf import Branding

Provider = Callable[[int], Branding]
_provider: list[Provider] = []


def register(provider: Provider) -> None:
    """Set the function that gives a firm's branding from its id (identity registers it once)."""
    _provider[:] = [provider]


def for_firm(firm_id: int) -> Branding:
    if not _provider:
        raise ImproperlyConfigured(
            "No email branding provider is registered (accounts registers it when Django starts)."
        )
    return _provider[0](firm_id)
