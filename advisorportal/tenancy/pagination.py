"""Keyset pagination for pages and the API: a page costs the same however deep it is.

A page is ``ORDER BY <keys> LIMIT size + 1`` after ``WHERE (<keys>) > (<last row's keys>)``: a
row-value comparison that PostgreSQL answers from an index leading with ``firm_id`` and the keys.
The keys must end in a unique column (``id``) and share one direction.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.lookups import GreaterThan, LessThan
from rest_framework import exceptions
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.urls import remove_query_param, replace_query_param

M = TypeVar("M", bound=models.Model)


class Row(models.Func):
    """A row value ``(a, b, c)`` for lexicographic comparison."""

    template = "(%(expressions)s)"
    output_field = models.Field()


@dataclass(frozen=True)
class KeysetPage(Generic[M]):
    rows: list[M]
    next_cursor: str | None


def _fields(queryset: models.QuerySet[M], keys: Sequence[str]) -> tuple[list[str], bool]:
    descending = {key.startswith("-") for key in keys}
    if len(descending) != 1:
        raise ValueError("Keyset keys must all share one direction.")
    return [key.lstrip("-") for key in keys], descending.pop()


def encode_cursor(row: models.Model, keys: Sequence[str]) -> str:
    names = [key.lstrip("-") for key in keys]
    raw = json.dumps([getattr(row, name) for name in names], cls=DjangoJSONEncoder).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(queryset: models.QuerySet[M], keys: Sequence[str], cursor: str) -> list[Any] | None:
    """The key values in ``cursor``, typed by the model's fields; None for anything malformed."""
    names, _ = _fields(queryset, keys)
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(names):
            return None
        meta = queryset.model._meta
        fields = [cast("models.Field[Any, Any]", meta.get_field(name)) for name in names]
        return [field.to_python(value) for field, value in zip(fields, values, strict=True)]
    except (ValueError, TypeError, binascii.Error, ValidationError, UnicodeDecodeError):
        return None


def keyset_page(queryset: models.QuerySet[M], *, keys: Sequence[str], after: str = "", size: int) -> KeysetPage[M]:
    """One page of ``queryset`` in ``keys`` order, after the cursor ``after`` (a bad cursor restarts)."""
    names, descending = _fields(queryset, keys)
    queryset = queryset.order_by(*keys)
    position = decode_cursor(queryset, keys, after) if after else None
    if position is not None:
        lookup = LessThan if descending else GreaterThan
        row = Row(*[models.F(name) for name in names])
        queryset = queryset.filter(lookup(row, Row(*[models.Value(v) for v in position])))
    rows = list(queryset[: size + 1])
    next_cursor = encode_cursor(rows[size - 1], keys) if len(rows) > size else None
    return KeysetPage(rows=rows[:size], next_cursor=next_cursor)


class KeysetPagination(BasePagination):
    """DRF pagination over ``view.keyset`` (default ``("id",)``): ``?cursor=…&page_size=…``."""

    cursor_query_param = "cursor"
    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        self.request = request
        keys = getattr(view, "keyset", ("id",))
        page = keyset_page(
            queryset, keys=keys, after=request.query_params.get(self.cursor_query_param, ""), size=self._size(request)
        )
        self.next_cursor = page.next_cursor
        return page.rows

    def _size(self, request: Request) -> int:
        """The page size asked for; anything but a whole number from 1 to the maximum is refused
        (400 naming ``page_size``) rather than silently replaced, so a client learns its mistake."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None or raw == "":
            return api_settings.PAGE_SIZE or 50
        size = int(raw) if raw.strip().isdecimal() and raw.isascii() else 0
        if not 1 <= size <= self.max_page_size:
            raise exceptions.ValidationError(
                {self.page_size_query_param: [f"Ask for a whole number of rows from 1 to {self.max_page_size}."]}
            )
        return size

    def get_next_link(self) -> str | None:
        if self.next_cursor is None:
            return None
        return replace_query_param(self.request.build_absolute_uri(), self.cursor_query_param, self.next_cursor)

    def get_first_link(self) -> str:
        return remove_query_param(self.request.build_absolute_uri(), self.cursor_query_param)

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"next": self.get_next_link(), "first": self.get_first_link(), "results": data})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri", "description": "The next page, if any."},
                "first": {"type": "string", "format": "uri", "description": "The first page."},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Opaque position from a previous page's `next` link.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Rows per page, 1 to {self.max_page_size} (default {api_settings.PAGE_SIZE}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]
