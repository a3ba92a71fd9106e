"""Forms rendered once per set of values and process, and shared by every firm and user.

The contacts filter panel (45 widgets) took longer to render than the rest of its page, so its
HTML is kept per process for each query string; so are an account's transaction filters. That is
safe only while nothing in such a form depends on the firm or the user: a choice field whose
choices come from the database (a ``ModelChoiceField``, a ``ModelChoiceFilter`` with a queryset,
choices given as a callable) would show the first firm's names to every other. ``rendered_once``
refuses such a form when it renders it, and keeps a registry (``CACHED_FORMS``) that a test walks.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from django import forms
from django.core.exceptions import ImproperlyConfigured
from django.template.loader import render_to_string
from django.utils.choices import CallableChoiceIterator

# name -> (the form builder, the cached renderer), for the guard test.
CACHED_FORMS: dict[str, tuple[Callable[[str], forms.Form], Callable[[str], str]]] = {}


def firm_specific_fields(form: forms.Form) -> list[str]:
    """The fields whose choices may differ from firm to firm or user to user."""
    return [
        name
        for name, field in form.fields.items()
        if isinstance(field, forms.ModelChoiceField)
        or isinstance(getattr(field, "choices", None), CallableChoiceIterator)
    ]


def rendered_once(template: str, *, maxsize: int) -> Callable[[Callable[[str], forms.Form]], Callable[[str], str]]:
    """Turn ``build(query) -> form`` into ``render(query) -> HTML`` of ``template`` with ``form``,
    kept per process for the last ``maxsize`` queries. A form with firm-specific choices is refused."""

    def decorate(build: Callable[[str], forms.Form]) -> Callable[[str], str]:
        @lru_cache(maxsize=maxsize)
        def render(query: str) -> str:
            form = build(query)
            refused = firm_specific_fields(form)
            if refused:
                raise ImproperlyConfigured(
                    f"{build.__qualname__}: {', '.join(refused)} take choices from the database, so the form "
                    "differs between firms and must not be rendered once for all of them."
                )
            return render_to_string(template, {"form": form})

        CACHED_FORMS[f"{build.__module__}.{build.__qualname__}"] = (build, render)
        return render

    return decorate


def uncached(render: Any) -> Callable[[str], str]:
    """The renderer without its cache (tests render as each firm)."""
    return render.__wrapped__
