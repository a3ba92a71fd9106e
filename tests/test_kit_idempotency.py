"""The floor's idempotency keys: the first result for a retry, a clear refusal for the same key
with another payload, exactly one run under concurrency; for services and through the API."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
from django.test import override_settings
from django.urls import path
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_access import FirmScopedAPIView
from accounts.rights import Right
from advisorportal.idempotency.api import HEADER, idempotent_view
from advisorportal.idempotency.models import IdempotencyKey
from advisorportal.idempotency.services import (
    IdempotencyKeyInProgress,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    idempotent,
)
from advisorportal.tenancy.context import firm_scope
from crm import services as crm_services
from crm.models import Contact
from tests.concurrency import run_concurrently
from tests.conftest import Persona
from tests.factories import FirmFactory, UserFactory

RUNS: list[int] = []
RUNS_LOCK = threading.Lock()
PAUSE = {"seconds": 0.0}  # widens the window in which concurrent requests overlap


class ContactIn(serializers.Serializer[Any]):
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    status = serializers.IntegerField(default=201)


class CreateContact(FirmScopedAPIView):
    """A money-like create: one contact per request, behind the Idempotency-Key header."""

    required_right = Right.CRM

    @idempotent_view("tests.contact_create")
    def post(self, request: Request) -> Response:
        data = ContactIn(data=request.data)
        data.is_valid(raise_exception=True)
        time.sleep(PAUSE["seconds"])
        with RUNS_LOCK:
            RUNS.append(1)
        if data.validated_data["status"] != 201:
            return Response({"refused": True}, status=data.validated_data["status"])
        contact = crm_services.contact_create(actor=request.user, first_name=data.validated_data["first_name"],
                                              last_name=data.validated_data["last_name"])  # fmt: skip
        return Response({"id": contact.pk, "name": contact.display_name}, status=status.HTTP_201_CREATED)


class OptionalKey(FirmScopedAPIView):
    required_right = Right.CRM

    @idempotent_view("tests.optional", required=False)
    def post(self, request: Request) -> Response:
        with RUNS_LOCK:
            RUNS.append(1)
        return Response({"ran": len(RUNS)})


urlpatterns = [path("kit/contacts/", CreateContact.as_view()), path("kit/optional/", OptionalKey.as_view())]
urls = override_settings(ROOT_URLCONF=__name__)


@pytest.fixture(autouse=True)
def fresh_counters() -> None:
    RUNS.clear()
    PAUSE["seconds"] = 0.0


def create(persona: Persona, key: str | None, **body: Any) -> Any:
    headers = {} if key is None else {HEADER: key}
    return persona.api().post("/kit/contacts/", body, format="json", headers=headers)


# --- Services ---------------------------------------------------------------------------------


def record_once(key: str, payload: Any, scope: str = "tests.transfer") -> Any:
    with idempotent(scope=scope, key=key, payload=payload) as attempt:
        if attempt.replayed:
            return attempt.body
        with RUNS_LOCK:
            RUNS.append(1)
        attempt.store({"run": len(RUNS), "amount": payload["amount"]}, status=201)
        return attempt.body


@pytest.mark.django_db
def test_a_retry_gets_the_first_result_and_runs_nothing(alice: Persona) -> None:
    with alice.scope():
        first = record_once("k-1", {"amount": "10.00", "currency": "USD"})
        again = record_once("k-1", {"currency": "USD", "amount": "10.00"})  # same content, other key order
        assert first == again == {"run": 1, "amount": "10.00"} and len(RUNS) == 1
        row = IdempotencyKey.objects.get(scope="tests.transfer", key="k-1")
        assert row.response_status == 201 and row.completed_at is not None and len(row.fingerprint) == 64
        # Another operation may use the same key for its own purposes.
        assert record_once("k-1", {"amount": "99.00"}, scope="tests.other") == {"run": 2, "amount": "99.00"}


@pytest.mark.django_db
def test_the_same_key_with_another_payload_is_refused(alice: Persona) -> None:
    with alice.scope():
        record_once("k-2", {"amount": "10.00"})
        for other in ({"amount": "10.01"}, {"amount": "10.0"}, {"amount": "10.00", "memo": ""}):
            with pytest.raises(IdempotencyKeyReused) as refused:
                record_once("k-2", other)
            assert refused.value.status_code == 422
            assert "idempotency key 'k-2' was already used with a different request" in str(refused.value.detail)
        assert len(RUNS) == 1


@pytest.mark.django_db
def test_a_failed_or_discarded_run_leaves_the_key_free(alice: Persona) -> None:
    with alice.scope():
        with pytest.raises(ZeroDivisionError), idempotent(scope="tests.transfer", key="k-3", payload={}) as attempt:
            assert not attempt.replayed
            _ = 1 / 0
        with idempotent(scope="tests.transfer", key="k-3", payload={"other": 1}) as attempt:
            assert not attempt.replayed  # the failed first use left nothing behind
            attempt.discard()
        with pytest.raises(RuntimeError, match="must store"), idempotent(scope="tests.transfer", key="k-3", payload={}):
            pass
        assert not IdempotencyKey.objects.filter(key="k-3").exists()
        assert record_once("k-3", {"amount": "1"}) == {"run": 1, "amount": "1"}


@pytest.mark.django_db
def test_keys_are_checked_and_a_key_in_use_in_its_own_transaction_conflicts(alice: Persona) -> None:
    with alice.scope():
        for key in ("", " ", "a b", "é", "x" * 256, "tab\there"):
            with pytest.raises(IdempotencyKeyInvalid), idempotent(scope="tests.transfer", key=key, payload={}):
                pass
        with idempotent(scope="tests.transfer", key="x" * 255, payload={}) as outer:
            with pytest.raises(IdempotencyKeyInProgress), idempotent(scope="tests.transfer", key="x" * 255, payload={}):
                pass
            outer.store({})
        with pytest.raises(TypeError, match="canonical JSON"):
            record_once("k-4", {"amount": object()})


@pytest.mark.django_db
def test_another_firm_has_its_own_keys(alice: Persona, charlie: Persona) -> None:
    with alice.scope():
        assert record_once("shared", {"amount": "5"}) == {"run": 1, "amount": "5"}
    with charlie.scope():
        assert not IdempotencyKey.objects.filter(key="shared").exists()
        # Charlie's request with the same key and even another payload runs: no replay of, and no
        # refusal about, Alpha's request.
        assert record_once("shared", {"amount": "7"}) == {"run": 2, "amount": "7"}
    with alice.scope():
        assert record_once("shared", {"amount": "5"}) == {"run": 1, "amount": "5"}


# --- The API header ---------------------------------------------------------------------------


@pytest.mark.django_db
@urls
def test_api_retry_replays_the_first_response(alice: Persona) -> None:
    key = str(uuid.uuid4())
    first = create(alice, key, first_name="Ann", last_name="Lee")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first
    again = create(alice, key, first_name="Ann", last_name="Lee")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json() and len(RUNS) == 1
    with alice.scope():
        assert Contact.objects.filter(last_name="Lee").count() == 1


@pytest.mark.django_db
@urls
def test_api_same_key_other_body_is_a_422_naming_the_header(alice: Persona) -> None:
    key = str(uuid.uuid4())
    assert create(alice, key, first_name="Ann", last_name="Lee").status_code == 201
    response = create(alice, key, first_name="Ann", last_name="Leigh")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "idempotency_key_reused"
    assert f"The Idempotency-Key header '{key}' was already used with a different request" in error["message"]
    # Another user of the same firm reusing the key is refused too, rather than handed Alice's result.
    bob_like = Persona(UserFactory(firm=alice.firm, email="dora@alpha.test"), alice.firm)
    assert create(bob_like, key, first_name="Ann", last_name="Lee").status_code == 422
    assert len(RUNS) == 1


@pytest.mark.django_db
@urls
def test_api_missing_or_bad_key_is_a_400_and_errors_are_not_stored(alice: Persona) -> None:
    missing = create(alice, None, first_name="Ann", last_name="Lee")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "idempotency_key_invalid"
    assert HEADER in missing.json()["error"]["message"]
    bad = create(alice, "x" * 300, first_name="Ann", last_name="Lee")
    assert bad.status_code == 400 and "Idempotency-Key header must be 1 to 255" in bad.json()["error"]["message"]
    key = str(uuid.uuid4())
    invalid = create(alice, key, first_name="Ann")
    assert invalid.status_code == 400 and invalid.json()["error"]["fields"]["last_name"]
    refused = create(alice, key, first_name="Ann", last_name="Lee", status=409)
    assert refused.status_code == 409 and "Idempotent-Replayed" not in refused
    # Neither error used the key up: the corrected request runs.
    assert create(alice, key, first_name="Ann", last_name="Lee").status_code == 201
    assert len(RUNS) == 2  # the 409 run and the successful one
    assert alice.api().post("/kit/optional/", {}, format="json").json() == {"ran": 3}  # no key, not required


@pytest.mark.django_db
@urls
def test_api_outsider_gets_its_own_result_for_the_same_key(alice: Persona, charlie: Persona) -> None:
    key = str(uuid.uuid4())
    alices = create(alice, key, first_name="Ann", last_name="Lee")
    charlies = create(charlie, key, first_name="Cy", last_name="Chu")
    assert alices.status_code == charlies.status_code == 201
    assert "Idempotent-Replayed" not in charlies and charlies.json()["name"] == "Cy Chu"
    with charlie.scope():
        assert IdempotencyKey.objects.get(key=key).response_body == charlies.json()


def test_the_schema_documents_the_header() -> None:
    from drf_spectacular.generators import SchemaGenerator

    with urls:
        schema = SchemaGenerator().get_schema(request=None, public=True)
    parameters = schema["paths"]["/kit/contacts/"]["post"]["parameters"]
    header = next(p for p in parameters if p["name"] == HEADER)
    assert (header["in"], header["required"]) == ("header", True)


# --- Real concurrency -------------------------------------------------------------------------


@pytest.fixture
def gamma(committed_db: None) -> Persona:
    firm = FirmFactory(name="Gamma Partners", slug="gamma")
    return Persona(UserFactory(firm=firm, email="gina@gamma.test", rights=frozenset({Right.CRM})), firm)


@pytest.mark.usefixtures("committed_db")
def test_concurrent_service_calls_with_one_key_run_once(gamma: Persona) -> None:
    def work(index: int) -> Any:
        with firm_scope(gamma.firm), idempotent(scope="tests.transfer", key="same", payload={"a": 1}) as attempt:
            if attempt.replayed:
                return attempt.body
            time.sleep(0.2)  # the others are already waiting on the key
            with RUNS_LOCK:
                RUNS.append(index)
            contact = crm_services.contact_create(actor=None, first_name="Once", last_name=str(index))
            attempt.store({"id": contact.pk})
            return attempt.body

    results = run_concurrently(10, work)
    assert len(RUNS) == 1, RUNS
    assert all(result == results[0] for result in results) and isinstance(results[0], dict)
    with firm_scope(gamma.firm):
        assert list(Contact.objects.values_list("pk", flat=True)) == [results[0]["id"]]


@pytest.mark.usefixtures("committed_db")
@urls
def test_concurrent_api_requests_with_one_key_create_one_contact(gamma: Persona) -> None:
    PAUSE["seconds"] = 0.2
    clients = [gamma.api() for _ in range(8)]
    key = str(uuid.uuid4())

    def post(index: int) -> Any:
        return clients[index].post("/kit/contacts/", {"first_name": "Ann", "last_name": "Lee"}, format="json",
                                   headers={HEADER: key})  # fmt: skip

    responses = run_concurrently(8, post)
    assert [r.status_code for r in responses] == [201] * 8, responses  # type: ignore[union-attr]
    assert sum(r.has_header("Idempotent-Replayed") for r in responses) == 7  # type: ignore[union-attr]
    assert len({r.content for r in responses}) == 1 and len(RUNS) == 1  # type: ignore[union-attr]
    with firm_scope(gamma.firm):
        assert Contact.objects.filter(last_name="Lee").count() == 1
