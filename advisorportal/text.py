"""What characters stored free text may hold: the floor's one check, for every write path.

``FirmOwnedModel.clean_fields`` applies ``field_errors`` to every text field (``CharField`` and
its kinds, ``TextField``, arrays of them) of every firm-owned model, so services (``full_clean``),
page forms, the API and imports (``crm.contact_io.planning`` calls it per distinct cell) refuse the
same values with the same message under the field's name. One check on the floor rather than a
validator per field: a field added later is covered without anyone remembering, and field
validators would be written into every migration of every app.

- Control characters (C0, DEL, C1), lone surrogates and the non-characters U+FFFE/U+FFFF are
  refused everywhere: nobody types them, PostgreSQL refuses NUL, Python cannot encode a lone
  surrogate, and spreadsheets and XML refuse the rest (one such contact broke the firm's Excel
  export). A ``TextField`` is multi-line, so it keeps tab, line feed and carriage return (a
  browser's text area sends CR LF); a one-line field refuses those too.
- In names (a model's ``name_fields``: a contact's first, middle and last name, organization...)
  the invisible format characters that change how text reads without being seen are refused:
  the Unicode ``Bidi_Control`` set (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069: a
  right-to-left override makes "Smith" display as another name) and the zero-width ones (U+200B..
  U+200D, U+2060, U+FEFF: two names that look identical would differ for search, duplicates and
  merges). Refused rather than shown or stripped: the person typing sees a clear message and
  types the name without them, and what is stored is what everyone sees. The price: zero-width
  (non-)joiners, which some Persian and Indic spellings use, cannot be stored in a name field.
  Notes and other free text keep them (right-to-left notes need the marks).
- ``TextField.max_length`` is checked here too: Django checks it only in forms.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models

_CONTROL = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff"
ONE_LINE_REFUSED = re.compile(f"[{_CONTROL}\t\n\r]")
MULTI_LINE_REFUSED = re.compile(f"[{_CONTROL}]")
NAME_REFUSED = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]")


def _describe(char: str) -> str:
    return {"\t": "a tab", "\n": "a line break", "\r": "a line break"}.get(char, f"U+{ord(char):04X}")


def text_errors(value: str, *, multi_line: bool = False, name: bool = False) -> list[str]:
    """Why ``value`` cannot be stored in such a field (nothing if it can)."""
    found = (MULTI_LINE_REFUSED if multi_line else ONE_LINE_REFUSED).search(value)
    if found:
        return [f"Remove the control character ({_describe(found.group())}); this field cannot hold it."]
    if name:
        found = NAME_REFUSED.search(value)
        if found:
            return [
                f"Remove the invisible character U+{ord(found.group()):04X}: it can make a name read as "
                "another one, so names cannot hold it."
            ]
    return []


def _values(field: models.Field[Any, Any], value: Any) -> Iterator[tuple[models.Field[Any, Any], str]]:
    if isinstance(field, ArrayField) and isinstance(value, list | tuple):
        for item in value:
            yield from _values(field.base_field, item)
    elif isinstance(field, models.CharField | models.TextField) and isinstance(value, str):
        yield field, value


def field_errors(field: models.Field[Any, Any], value: Any, *, name: bool = False) -> list[str]:
    """What the floor says about one field's value, as ``clean_fields`` reports it (after the
    field's own checks, which come first)."""
    for text_field, text in _values(field, value):
        multi_line = isinstance(text_field, models.TextField)
        errors = text_errors(text, multi_line=multi_line, name=name)
        if not errors and multi_line and text_field.max_length is not None:
            try:
                MaxLengthValidator(text_field.max_length)(text)
            except ValidationError as error:
                errors = error.messages
        if errors:
            return errors
    return []
