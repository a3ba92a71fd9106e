"""Schema fuzzing (issue #14): Schemathesis over every operation of the live OpenAPI schema, as each
kind of user, through Django's request handler in this process.

Each operation gets requests generated from its schema (path ids of real objects of the book, so
most requests reach data), sent with a personal API token, and every answer must be no server
error, a documented status code, a documented content type and a body of the documented shape.
Every example runs in a savepoint that is rolled back, so a DELETE or an undo leaves the next
example (and the next test) the same book.

The suite runs a bounded number of examples so `make test` stays quick; `make fuzz` runs the same
test deeper (``FUZZ_EXAMPLES`` examples per operation and role, negative data too). A new endpoint
is fuzzed without being listed here.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core.signals import got_request_exception
from django.db import transaction
from django.test.client import ClientHandler
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts import services as account_services
from accounts.models import AccountScope
from accounts.policy import has_right
from accounts.rights import Right, Role
from tests.conftest import Persona
from tests.factories import UserFactory
from tests.test_secrets_never_by_token import Firm, book  # noqa: F401 - the book fixture

pytestmark = pytest.mark.django_db

# FUZZ_EXAMPLES (make fuzz) sets the examples per operation for every role and adds negative data.
DEEP = int(os.environ.get("FUZZ_EXAMPLES", "0") or 0)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


class DjangoWSGI:
    """Django's handler as a WSGI application, the way the test client runs it: the database
    connection of the test (and its transaction) stays open across requests, and an exception a
    view raised is kept for the report."""

    def __init__(self) -> None:
        self.handler = ClientHandler(enforce_csrf_checks=False)
        self.last_exception = ""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.last_exception = ""

        def keep(sender: Any, request: Any = None, **kwargs: Any) -> None:
            self.last_exception = traceback.format_exc(limit=-3)

        got_request_exception.connect(keep)
        try:
            response = self.handler(environ)
        finally:
            got_request_exception.disconnect(keep)
        headers = [*response.items(), *(("Set-Cookie", c.output(header="").strip()) for c in response.cookies.values())]
        start_response(f"{response.status_code} {response.reason_phrase}", headers)
        return response


@dataclass
class Run:
    operations: int = 0
    examples: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    no_negative: list[str] = field(default_factory=list)  # operations without a possible invalid request


def _path_values(path: str, name: str, firm: Firm) -> list[Any] | None:
    """Real values for a path parameter: the ids of the objects named by the segment before it."""
    segment = path.split("{" + name + "}")[0].rstrip("/").rsplit("/", 1)[-1]
    return firm.ids.get(segment) or None


def operations(persona: Persona) -> Iterator[Any]:
    raw = persona.api().get("/api/schema/", {"format": "json"})
    assert raw.status_code == 200
    schema = schemathesis.openapi.from_dict(raw.json())
    for result in schema.get_all_operations():
        yield result.ok()


def strategy(operation: Any, firm: Firm, mode: GenerationMode) -> Any:
    known = {}
    for parameter in operation.path_parameters:
        values = _path_values(operation.path, parameter.name, firm)
        if values:
            known[parameter.name] = st.sampled_from(values)
    if not known:
        return operation.as_strategy(generation_mode=mode)
    return st.fixed_dictionaries(known).flatmap(
        lambda path: operation.as_strategy(generation_mode=mode, path_parameters=path)
    )


def fuzz_operation(operation: Any, *, firm: Firm, mode: GenerationMode, examples: int, app: DjangoWSGI,
                   headers: dict[str, str], run: Run) -> None:  # fmt: skip
    """``examples`` generated requests to ``operation``, each in a rolled-back savepoint; what
    fails is kept in ``run`` (first example per operation and kind of failure)."""

    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=strategy(operation, firm, mode))
    def example(case: Any) -> None:
        run.examples += 1
        with transaction.atomic():
            response = case.call(app=app, headers=headers)
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except FailureGroup as failed:
                for failure in failed.exceptions:
                    detail = f"{failure.message[:600]}\n{case.as_curl_command(headers=headers)}"
                    if response.status_code >= 500 and app.last_exception:
                        detail += f"\n{app.last_exception}"
                    run.failures.setdefault(f"{operation.label}: {failure.title}", detail)
            transaction.set_rollback(True)

    try:
        example()
    except hypothesis.errors.Unsatisfiable:
        if mode != GenerationMode.NEGATIVE:
            raise
        run.no_negative.append(operation.label)  # nothing of it can be made invalid (only fixed ids)


def fuzz(persona: Persona, firm: Firm, *, examples: int, every: int = 1) -> Run:
    """Fuzz every ``every``-th operation with ``examples`` examples as ``persona``."""
    app = DjangoWSGI()
    _, token = account_services.api_token_create(user=persona.user, name="fuzz")
    headers = {"Authorization": f"Token {token}"}
    run = Run()
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE] if DEEP else [GenerationMode.POSITIVE]
    for index, operation in enumerate(operations(persona)):
        if index % every:
            continue
        run.operations += 1
        for mode in modes:
            fuzz_operation(
                operation, firm=firm, mode=mode, examples=DEEP or examples, app=app, headers=headers, run=run
            )
    return run


def _report(run: Run) -> str:
    return f"{len(run.failures)} failures:\n\n" + "\n\n".join(f"{k}\n{v}" for k, v in sorted(run.failures.items()))


@pytest.fixture
def scoped(alice: Persona, book: Firm) -> Persona:  # noqa: F811 - the imported fixture
    """A same-firm advisor whose scope is the book's household only."""
    user = UserFactory(firm=alice.firm, email="dora@alpha.test", full_name="Dora Scoped", role=Role.ADVISOR)
    account_services.account_scope_set(
        actor=alice.user,
        user=user,
        scope=AccountScope.SELECTED,
        account_ids=frozenset(),
        household_ids=frozenset(book.ids["households"]),
    )
    return Persona(user, alice.firm)


def test_fuzz_as_the_owner(alice: Persona, book: Firm) -> None:  # noqa: F811
    run = fuzz(alice, book, examples=3)
    print(f"owner: {run.operations} operations, {run.examples} examples")
    assert run.operations > 90
    assert not run.failures, _report(run)


def test_fuzz_as_a_scoped_advisor_and_a_crm_only_user(scoped: Persona, bob: Persona, book: Firm) -> None:  # noqa: F811
    with bob.scope():
        assert [right for right in Right if has_right(bob.user, right)] == [Right.CRM]
    runs = {name: fuzz(persona, book, examples=1) for name, persona in (("scoped advisor", scoped), ("CRM only", bob))}
    for name, run in runs.items():
        print(f"{name}: {run.operations} operations, {run.examples} examples")
    failures = {f"{name} — {key}": value for name, run in runs.items() for key, value in run.failures.items()}
    assert not failures, _report(Run(failures=failures))
