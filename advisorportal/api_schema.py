"""The error answers of every API operation in the OpenAPI schema (a drf-spectacular
postprocessing hook, ``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]``).

drf-spectacular documents the answers a view declares, which is mostly its success. Every operation
can also answer with the one error shape of ``advisorportal.tenancy.errors`` — refused input, no or
a bad credential, a missing right, an object that is not there (or is another firm's), a reused
idempotency key, too many requests — and a client (or the schema fuzzer in ``tests/test_api_fuzz.py``)
needs those documented. The hook adds them from what the schema and the view already say, so a new
endpoint is documented without being listed here; an answer an operation documents itself is kept.

What the schema cannot tell is declared where the parameter is: a list's filter that names an object
by id (``object_filter``) is looked up like a path id, so one outside the caller's firm or scope
answers 404, not an empty list.
"""

from __future__ import annotations

import json
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

ERROR_COMPONENT = "Error"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every API error: a stable code, a message for people and, for refused input, the fields.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "Stable, e.g. invalid, not_found, permission_denied."},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": True,
                    "description": "For code invalid: the messages by field name (non_field_errors for the whole).",
                },
            },
        }
    },
}

DESCRIPTIONS = {
    "400": "The request is not valid: nothing was changed (the fields name what to fix).",
    "401": "No credential, or a token that is unknown, expired or revoked.",
    "403": "Signed in, but without the right this operation needs (or a second factor it needs).",
    "404": "No such object (in the path, a filter naming one or, for a write, the body) in your firm and "
    "scope; another firm's object answers the same.",
    "409": "The same idempotency key is still being used by another request.",
    "415": "The body is not of a media type (Content-Type) this operation reads: nothing was changed.",
    "422": "The idempotency key was used before with another request: nothing was run.",
    "429": "Too many requests: wait for the time in Retry-After.",
}

WRITES = {"post", "put", "patch", "delete"}
IDEMPOTENCY_HEADER = "idempotency-key"
IDEMPOTENCY_REFUSAL = "idempotency_key_reused"
NAMES_OBJECT = "x-names-object"  # on a query parameter: its value is an object's id (see object_filter)


def object_filter(name: str, description: str, *, required: bool = False) -> OpenApiParameter:
    """A list's query parameter whose value is the id of one object of the firm (``?contact=12``),
    which the view looks up in the caller's scope as it would a path id: one that is missing, outside
    the scope or another firm's answers 404 (the hook documents it), never a list of another's."""
    return OpenApiParameter(
        name,
        OpenApiTypes.INT,
        required=required,
        description=f"{description}; one outside your firm or scope answers 404.",
        extensions={NAMES_OBJECT: True},
    )


def _error(code: str) -> dict[str, Any]:
    return {
        "description": DESCRIPTIONS[code],
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}}},
    }


def _views(generator: Any) -> dict[tuple[str, str], Any]:
    """The view class behind each (path, method) of the schema."""
    views = {}
    for path, _regex, method, callback in getattr(generator, "endpoints", None) or []:
        view = getattr(callback, "cls", None)
        if view is not None:
            views[(path, method.lower())] = view
    return views


def _is_authenticated(operation: dict[str, Any]) -> bool:
    security = operation.get("security") or []
    return bool(security) and {} not in security


def _is_throttled(view: Any) -> bool:
    return view is None or bool(getattr(view, "throttle_classes", None))


def _takes_idempotency_key(operation: dict[str, Any], components: dict[str, Any]) -> bool:
    """A ``Idempotency-Key`` header, or a body whose documentation names the refusal of a reused key
    (a reference or external id that is the key)."""
    if any(
        p.get("in") == "header" and p.get("name", "").lower() == IDEMPOTENCY_HEADER
        for p in operation.get("parameters", [])
    ):
        return True
    body = json.dumps(operation.get("requestBody", {}))
    referenced = [components.get(ref.rsplit("/", 1)[-1], {}) for ref in _refs(operation.get("requestBody", {}))]
    return IDEMPOTENCY_REFUSAL in body + json.dumps(referenced) + str(operation.get("description", ""))


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [node["$ref"]] if "$ref" in node else [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def error_codes(operation: dict[str, Any], method: str, view: Any, components: dict[str, Any]) -> list[str]:
    """The error statuses ``operation`` can answer."""
    parameters = operation.get("parameters", [])
    codes = []
    if method in WRITES or any(p.get("in") == "query" for p in parameters):
        codes.append("400")
    if _is_authenticated(operation):
        codes += ["401", "403"]
    # A path id, a filter naming an object, or an id in a write's body, of an object outside the
    # caller's firm or scope.
    if method in WRITES or any(p.get("in") == "path" or p.get(NAMES_OBJECT) for p in parameters):
        codes.append("404")
    if method in WRITES and _takes_idempotency_key(operation, components):
        codes += ["409", "422"]
    # DRF refuses a body whose Content-Type none of the view's parsers reads (or none at all).
    if operation.get("requestBody"):
        codes.append("415")
    if _is_throttled(view):
        codes.append("429")
    return codes


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """The postprocessing hook: the shared ``Error`` component and the error answers of every
    operation. Listed after drf-spectacular's own enum hook, which the setting replaces otherwise."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(ERROR_COMPONENT, ERROR_SCHEMA)
    views = _views(generator)
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete", "head", "options"}:
                continue
            responses = operation.setdefault("responses", {})
            for code in error_codes(operation, method, views.get((path, method)), components):
                responses.setdefault(code, _error(code))
    return result
