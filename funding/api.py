"""The money-movement API (issue #17, point 8): funding requests and their actions, bank
instructions, the firm's funding settings and Full-Service enrolments. Same services, rights and
scope as the pages: every write goes through ``funding.services``, every object through the
funding selectors' scoped querysets.

Rights: Funding reads, creates and takes the client-side actions (send, resend, approve on the
client's behalf, cancel, edit); Funding Authorizer (with Funding) authorizes, rejects and
completes. Changing the firm's funding settings needs User Management.

Answers to a refused action, in the one error shape:

- ``illegal_transition`` (400): the request's status does not allow it (``funding.states``);
- ``refused`` (400): something else about the request or who asks stops it — the requester
  authorizing (maker-checker), a second authorization by the same person, a program that does not
  let the advisor approve for the client, a request already sent to the custodian;
- ``invalid`` (400): a field of the body, named in ``fields`` (an amount, a currency, the cash
  available, a bank instruction of someone who does not own the account…);
- ``not_found`` (404): the request in the path, or an account, contact or bank instruction named in
  the body, is not in your firm and Funding scope (another firm's object answers the same).

Every create and action takes a required ``Idempotency-Key`` header: a retry with the same key
and body answers the first result (``Idempotent-Replayed: true``) and moves nothing again.
The custodian instruction file is not offered here: it holds clear bank numbers (a page behind a
recent second factor).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet, prefetch_related_objects
from django.http import Http404
from django.utils.crypto import salted_hmac
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, permissions, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_access import FirmScopedAPIView, FirmScopedViewSet, HasRequiredRight
from accounts.rights import Right
from advisorportal.idempotency.api import HEADER, REPLAYED_HEADER, idempotent_view, request_payload
from advisorportal.idempotency.services import IdempotencyKeyInvalid, idempotent
from crm.models import Contact
from funding import selectors, services
from funding.models import Authorization, BankInstruction, Enrollment, FundingRequest, RequestEvent
from funding.serializers import (
    BankInstructionCreateSerializer,
    BankInstructionQuerySerializer,
    BankInstructionSerializer,
    CompleteSerializer,
    EnrollmentCreateSerializer,
    EnrollmentSerializer,
    EnrollmentSetSerializer,
    FundingRequestCreateSerializer,
    FundingRequestDetailSerializer,
    FundingRequestEditSerializer,
    FundingRequestQuerySerializer,
    FundingRequestSerializer,
    FundingSettingsSerializer,
    ReasonSerializer,
)
from portfolios.models import ClientAccount, Security

F = TypeVar("F", bound=Callable[..., Response])
ID_PATTERN = "[0-9]{1,19}"


class IllegalTransition(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "illegal_transition"


class Refused(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "refused"


def _service(call: Callable[..., Any], **kwargs: Any) -> Any:
    """Run a funding service; a refusal about the request's status or who asks (the services
    name it ``status``) answers as ``illegal_transition`` or ``refused`` with its message, any
    other ``ValidationError`` as the API's 400 with its fields."""
    try:
        return call(**kwargs)
    except DjangoValidationError as error:
        if hasattr(error, "error_dict") and set(error.error_dict) == {"status"}:
            found = error.error_dict["status"]
            message = " ".join(message for item in found for message in item.messages)
            if any(item.code == "illegal_transition" for item in found):
                raise IllegalTransition(message) from None
            raise Refused(message) from None
        raise


def _not_found(field: str, what: str) -> exceptions.NotFound:
    return exceptions.NotFound(f"{field}: no such {what} in your firm and Funding scope.")


def _pick(queryset: QuerySet[Any], pk: Any, field: str, what: str) -> Any:
    """The object ``pk`` of a scoped queryset, or a 404 naming the field of the body."""
    if pk is None:
        return None
    found = queryset.filter(pk=pk).first()
    if found is None:
        raise _not_found(field, what)
    return found


def _account(user: Any, pk: Any, field: str) -> ClientAccount | None:
    return _pick(selectors.accounts_in_scope(user=user), pk, field, "account")


def _contact(user: Any, pk: Any, field: str = "contact") -> Contact:
    return _pick(selectors.contacts_in_scope(user=user), pk, field, "contact")


def _instructions(user: Any) -> QuerySet[BankInstruction]:
    """Bank instructions of the clients in the user's Funding scope."""
    return BankInstruction.objects.filter(contact__in=selectors.contacts_in_scope(user=user).values("pk"))


def _instruction(user: Any, pk: Any, field: str) -> BankInstruction | None:
    return _pick(_instructions(user), pk, field, "bank instruction")


def _security(symbol: str | None) -> Security | None:
    """A security by its symbol (shared reference data: unknown is a 400, not a 404)."""
    if not symbol:
        return None
    found = Security.objects.filter(symbol=symbol.strip()).first()
    if found is None:
        raise exceptions.ValidationError({"security": [f"No security has the symbol {symbol.strip()!r}."]})
    return found


class FundingRights(HasRequiredRight):
    """Every right the view names for this action (``view.rights()``), each checked as
    ``HasRequiredRight`` checks one (the user holds it; a token carries it)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        for right in view.rights():
            self.message = HasRequiredRight.message
            if not super().has_permission(request, SimpleNamespace(required_right=right)):
                if self.message.endswith("this needs."):  # name the right
                    self.message = f"{self.message[:-1]}: {Right(right).label}."
                return False
        return True


PERMISSIONS = (permissions.IsAuthenticated, FundingRights)


def idempotent_sealed_view(scope: str, *, secret_fields: tuple[str, ...]) -> Callable[[F], F]:
    """``idempotent_view`` for a body that carries secrets (bank numbers): the payload the key is
    compared by holds a keyed digest of each secret field instead of its value, so the stored
    fingerprint (an unkeyed SHA-256) cannot be searched for the clear number. Otherwise the same:
    a required key, the first 2xx answer replayed, 422 for the same key with another body."""

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
            key = request.headers.get(HEADER)
            if key is None:
                raise IdempotencyKeyInvalid(
                    f"Send an {HEADER} header (a new random value, e.g. a UUID, for each new request)."
                )
            payload = request_payload(request)
            body = payload["body"]
            if isinstance(body, dict):
                payload["body"] = {
                    name: salted_hmac(f"funding.api.{name}", str(value)).hexdigest() if name in secret_fields else value
                    for name, value in body.items()
                }
            with idempotent(
                scope=scope, key=key, payload=payload, actor=request.user, name=f"{HEADER} header"
            ) as attempt:
                if attempt.replayed:
                    return Response(attempt.body, status=attempt.status, headers={REPLAYED_HEADER: "true"})
                response = method(view, request, *args, **kwargs)
                if 200 <= response.status_code < 300:
                    attempt.store(response.data, status=response.status_code)
                else:
                    attempt.discard()
                return response

        parameter = OpenApiParameter(
            HEADER, str, OpenApiParameter.HEADER, required=True,
            description="A new random value (e.g. a UUID) per request. A retry with the same value and the same "
            "request returns the first response; the same value with a different request is refused (422).",
        )  # fmt: skip
        return extend_schema(parameters=[parameter])(wrapper)  # type: ignore[return-value]

    return decorate


# --- Requests -------------------------------------------------------------------------------------


def request_detail(http: Request, request: FundingRequest, *, status_code: int = 200) -> Response:
    """The request as it is now (read again in the caller's scope), with the service program's
    decision, its timeline and its authorizations."""
    fresh = selectors.request_get(user=http.user, pk=request.pk)
    prefetch_related_objects(
        [fresh],
        Prefetch("events", queryset=RequestEvent.objects.select_related("actor").order_by("at", "id")),
        Prefetch("authorizations", queryset=Authorization.objects.select_related("user").order_by("at", "id")),
    )
    try:
        decision = services.decision(fresh)
    except DjangoValidationError:
        decision = None  # e.g. a transfer whose accounts no longer share an owner
    body = FundingRequestDetailSerializer(fresh, context={"decision": decision, "request": http}).data
    return Response(body, status=status_code)


AUTHORIZER_ACTIONS = {"authorize", "reject", "complete"}


@extend_schema_view(list=extend_schema(parameters=[FundingRequestQuerySerializer]))
class FundingRequestViewSet(mixins.ListModelMixin, FirmScopedViewSet):
    """Funding requests in your Funding scope (their account, or a bank instruction's client),
    newest first: deposit notifications, withdrawals to a saved bank instruction, internal and
    position transfers, and bank instruction changes. A request moves only through its actions
    (`send`, `resend`, `approve-on-behalf`, `authorize`, `reject`, `cancel`, `complete`) and PATCH
    edits it; each needs an `Idempotency-Key` header. Refusals: `illegal_transition` (its status
    does not allow it), `refused` (maker-checker and the like), `invalid` (a field), `not_found`."""

    required_right = Right.FUNDING
    permission_classes = PERMISSIONS
    serializer_class = FundingRequestSerializer
    keyset = ("-created_at", "-id")
    filter_backends: list[Any] = []
    lookup_value_regex = ID_PATTERN

    def rights(self) -> tuple[Right, ...]:
        if self.action in AUTHORIZER_ACTIONS:
            return (Right.FUNDING, Right.FUNDING_AUTHORIZER)
        return (Right.FUNDING,)

    def get_queryset(self) -> QuerySet[FundingRequest]:
        if self.describing_schema():
            return FundingRequest.objects.unscoped().none()
        user = self.request.user
        query = FundingRequestQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        filters = dict(query.validated_data)
        account = None
        if filters.get("account") is not None:
            account = selectors.accounts_in_scope(user=user).filter(pk=filters["account"]).first()
            if account is None:
                raise exceptions.ValidationError({"account": ["No such account in your Funding scope."]})
        rows = selectors.history(
            user=user, date_from=filters.get("date_from"), default_days=None, date_to=filters.get("date_to"),
            kind=filters.get("kind", ""), method=filters.get("method", ""), status=filters.get("status", ""),
            q=filters.get("q", ""), account=account,
        )  # fmt: skip
        return rows.select_related("bank_instruction")

    def request_object(self) -> FundingRequest:
        """The request of the URL in the caller's scope (404 for another firm's, out of scope or missing)."""
        try:
            return selectors.request_get(user=self.request.user, pk=self.kwargs["pk"])
        except (FundingRequest.DoesNotExist, ValueError, TypeError, OverflowError):
            raise Http404 from None

    def answer(self, request: FundingRequest, *, status_code: int = 200) -> Response:
        return request_detail(self.request, request, status_code=status_code)

    @extend_schema(responses=FundingRequestDetailSerializer)
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        """One request with the service program's decision (who must approve, how many
        authorizers, why), its hold, the actions its status allows, its timeline and authorizations."""
        return self.answer(self.request_object())

    @extend_schema(request=FundingRequestCreateSerializer, responses={201: FundingRequestDetailSerializer})
    @idempotent_view("funding.request_create")
    def create(self, request: Request) -> Response:
        """A new request in draft (`send` sends it on). `account` and `to_account` are accounts in
        your Funding scope and `bank_instruction` an instruction of a client in it (else 404);
        `security` is a symbol. The amount is a decimal string in the currency's minor unit: zero,
        negative, over-precise amounts, an unknown currency, more than the available cash, a bank
        instruction of someone who does not own the account, one still in its cooling-off period,
        transfers between accounts without an owner in common: 400 naming the field, nothing saved."""
        body = FundingRequestCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        user = request.user
        created = _service(
            services.request_create,
            actor=user,
            kind=data["kind"],
            account=_account(user, data["account"], "account"),
            to_account=_account(user, data.get("to_account"), "to_account"),
            bank_instruction=_instruction(user, data.get("bank_instruction"), "bank_instruction"),
            method=data.get("method", ""),
            amount=data.get("amount"),
            currency=data.get("currency", ""),
            security=_security(data.get("security")),
            quantity=data.get("quantity"),
            memo=data.get("memo", ""),
        )
        return self.answer(created, status_code=status.HTTP_201_CREATED)

    @extend_schema(request=FundingRequestEditSerializer, responses=FundingRequestDetailSerializer)
    @idempotent_view("funding.request_edit")
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        """Edit a draft, or a request awaiting its client (it goes back to draft, its hold is
        released and every approval link sent for it stops working: send it again). Only the fields
        sent change; an empty body changes nothing and answers the request."""
        current = self.request_object()
        body = FundingRequestEditSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        if not data:
            return self.answer(current)
        user = request.user
        if "to_account" in data:
            data["to_account"] = _account(user, data["to_account"], "to_account")
        if "bank_instruction" in data:
            data["bank_instruction"] = _instruction(user, data["bank_instruction"], "bank_instruction")
        if "security" in data:
            data["security"] = _security(data["security"])
        edited = _service(services.request_edit, actor=user, request=current, **data)
        return self.answer(edited)

    def _act(self, call: Callable[..., Any], **kwargs: Any) -> Response:
        current = self.request_object()
        _service(call, actor=self.request.user, request=current, **kwargs)
        return self.answer(current)

    @extend_schema(request=None, responses=FundingRequestDetailSerializer)
    @idempotent_view("funding.request_send")
    @action(detail=True, methods=["post"])
    def send(self, request: Request, pk: str | None = None) -> Response:
        """Send a draft on, as the service program says: to the client (an approval email with a
        link and a one-time code), to the authorizers, or (a deposit notification) to the custodian.
        A withdrawal or transfer holds its cash from now on (never more than the available cash)."""
        return self._act(services.request_send)

    @extend_schema(request=None, responses=FundingRequestDetailSerializer)
    @idempotent_view("funding.request_resend")
    @action(detail=True, methods=["post"])
    def resend(self, request: Request, pk: str | None = None) -> Response:
        """A new approval email to the client with a new link (earlier links stop working); only
        for a request awaiting its client."""
        return self._act(services.request_resend)

    @extend_schema(request=ReasonSerializer, responses=FundingRequestDetailSerializer)
    @idempotent_view("funding.request_approve_on_behalf")
    @action(detail=True, methods=["post"], url_path="approve-on-behalf")
    def approve_on_behalf(self, request: Request, pk: str | None = None) -> Response:
        """Approve for the client where the service program lets the advisor (Streamlined Plus:
        moves between accounts with the same owners); `reason` says how the client asked."""
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._act(services.request_approve_on_behalf, reason=body.validated_data["reason"])

    @extend_schema(request=None, responses=FundingRequestDetailSerializer)
    @idempotent_view("funding.request_authorize")
    @action(detail=True, methods=["post"])
    def authorize(self, request: Request, pk: str | None = None) -> Response:
        """One Funding Authorizer's approval (Funding Authorizer right): never the requester's
        (`refused`), once per person; with all it needs (two for a withdrawal at or above the
        firm's amount) it goes to the custodian, and a bank instruction becomes active."""
        return self._act(services.request_authorize)

    @extend_schema(request=ReasonSerializer, responses=FundingRequestDetailSerializer)
    @idempotent_view("funding.request_reject")
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        """An authorizer rejects a request awaiting authorization (Funding Authorizer right; `reason` required)."""
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._act(services.request_reject, reason=body.validated_data["reason"])

    @extend_schema(request=ReasonSerializer, responses=FundingRequestDetailSerializer)
    @idempotent_view("funding.request_cancel")
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Withdraw a request before it went to the custodian in an instruction file (`reason`
        required); its hold is released and its approval links stop working."""
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._act(services.request_cancel, reason=body.validated_data["reason"])

    @extend_schema(request=CompleteSerializer, responses=FundingRequestDetailSerializer)
    @idempotent_view("funding.request_complete")
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str | None = None) -> Response:
        """The custodian did it (Funding Authorizer right): the hold is released and the ledger
        posts it once, keyed by the request's reference. Completing a completed request changes nothing."""
        body = CompleteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        return self._act(
            services.request_complete,
            custodian_reference=data["custodian_reference"],
            completed_on=data["completed_on"],
        )


# --- Bank instructions --------------------------------------------------------------------------------


def _instruction_context() -> dict[str, Any]:
    return {"cooling_off_days": selectors.funding_settings().cooling_off_days}


@extend_schema_view(list=extend_schema(parameters=[BankInstructionQuerySerializer]))
class BankInstructionViewSet(mixins.ListModelMixin, FirmScopedViewSet):
    """Bank instructions of the clients in your Funding scope, newest first, with masked account
    and routing numbers only (the clear numbers are never answered). Adding or changing one
    (POST) creates a funding request of kind `bank_instruction` in draft: send it, and the
    client's approval and an authorizer's follow as for any request; it becomes active then."""

    required_right = Right.FUNDING
    permission_classes = PERMISSIONS
    serializer_class = BankInstructionSerializer
    keyset = ("-created_at", "-id")
    filter_backends: list[Any] = []
    lookup_value_regex = ID_PATTERN

    def rights(self) -> tuple[Right, ...]:
        return (Right.FUNDING,)

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if not self.describing_schema():
            context.update(_instruction_context())
        return context

    def get_queryset(self) -> QuerySet[BankInstruction]:
        if self.describing_schema():
            return BankInstruction.objects.unscoped().none()
        user = self.request.user
        rows = _instructions(user)
        if self.action == "list":
            query = BankInstructionQuerySerializer(data=self.request.query_params)
            query.is_valid(raise_exception=True)
            filters = query.validated_data
            if filters.get("contact") is not None:
                contact = selectors.contacts_in_scope(user=user).filter(pk=filters["contact"]).first()
                if contact is None:
                    raise exceptions.ValidationError({"contact": ["No such contact in your Funding scope."]})
                rows = selectors.bank_instructions(contact=contact, include_inactive=True)
            if filters.get("status"):
                rows = rows.filter(status=filters["status"])
        return rows.select_related("contact")

    @extend_schema(responses=BankInstructionSerializer)
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        try:
            instruction = self.get_queryset().get(pk=self.kwargs["pk"])
        except (ObjectDoesNotExist, ValueError, OverflowError):
            raise Http404 from None
        return Response(BankInstructionSerializer(instruction, context=_instruction_context()).data)

    @extend_schema(
        request=BankInstructionCreateSerializer,
        responses={201: OpenApiResponse(FundingRequestDetailSerializer, description="The new request, in draft")},
    )
    @idempotent_sealed_view("funding.bank_instruction_request", secret_fields=("account_number", "routing_number"))
    def create(self, request: Request) -> Response:
        """Add a client's bank instruction (or, with `replaces`, change one): saved awaiting
        approval with its numbers encrypted, and answered as the new funding request (kind
        `bank_instruction`, draft) that approves it. A contact outside your scope: 404. A bad
        account number (4 to 17 digits) or routing number (ABA check digit): 400 naming it."""
        body = BankInstructionCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        user = request.user
        data["contact"] = _contact(user, data["contact"])
        data["replaces"] = _instruction(user, data.get("replaces"), "replaces")
        created = _service(services.bank_instruction_request, actor=user, **data)
        return request_detail(request, created, status_code=status.HTTP_201_CREATED)


# --- Settings and enrolments -----------------------------------------------------------------------------


class FundingSettingsView(FirmScopedAPIView):
    """The firm's funding policy: its service program, the cooling-off period of new bank
    instructions, the amount from which a withdrawal needs two authorizers, and how long approval
    links last. Reading needs Funding; changing needs User Management."""

    required_right = Right.FUNDING
    permission_classes = PERMISSIONS

    def rights(self) -> tuple[Right, ...]:
        return (Right.USER_MANAGEMENT,) if self.request.method == "PATCH" else (Right.FUNDING,)

    @extend_schema(responses=FundingSettingsSerializer)
    def get(self, request: Request) -> Response:
        return Response(FundingSettingsSerializer(selectors.funding_settings()).data)

    @extend_schema(request=FundingSettingsSerializer, responses=FundingSettingsSerializer)
    def patch(self, request: Request) -> Response:
        """Change some settings (only those sent). Out-of-range values: 400 naming the setting."""
        body = FundingSettingsSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        if not body.validated_data:
            return Response(FundingSettingsSerializer(selectors.funding_settings()).data)
        saved = _service(services.settings_update, actor=request.user, **body.validated_data)
        return Response(FundingSettingsSerializer(saved).data)


class EnrollmentViewSet(mixins.ListModelMixin, FirmScopedViewSet):
    """Full-Service enrolments of the clients in your Funding scope, by client: the powers each
    granted the advisor on a signed form (move_funds, bank_instructions). What a client granted
    needs no client approval when the firm's program is Full-Service. The path names the client
    (`contact_id`); a client outside your scope: 404."""

    required_right = Right.FUNDING
    permission_classes = PERMISSIONS
    serializer_class = EnrollmentSerializer
    keyset = ("id",)
    filter_backends: list[Any] = []
    lookup_url_kwarg = "contact_id"
    lookup_value_regex = ID_PATTERN

    def rights(self) -> tuple[Right, ...]:
        return (Right.FUNDING,)

    def get_queryset(self) -> QuerySet[Enrollment]:
        if self.describing_schema():
            return Enrollment.objects.unscoped().none()
        contacts = selectors.contacts_in_scope(user=self.request.user)
        return Enrollment.objects.filter(contact__in=contacts.values("pk")).select_related("contact", "enrolled_by")

    def _client(self) -> Contact:
        try:
            return _contact(self.request.user, int(self.kwargs["contact_id"]), "contact_id")
        except (ValueError, OverflowError):
            raise Http404 from None

    def _answer(self, contact: Contact, status_code: int = 200) -> Response:
        record = self.get_queryset().filter(contact=contact).first()
        if record is None:
            raise exceptions.NotFound(f"{contact} is not enrolled in Full-Service.")
        return Response(EnrollmentSerializer(record).data, status=status_code)

    @extend_schema(responses=EnrollmentSerializer)
    def retrieve(self, request: Request, contact_id: str | None = None) -> Response:
        return self._answer(self._client())

    @extend_schema(request=EnrollmentCreateSerializer, responses={201: EnrollmentSerializer, 200: EnrollmentSerializer})
    def create(self, request: Request) -> Response:
        """Enrol a client (201), or change the powers of one enrolled already (200)."""
        body = EnrollmentCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        contact = _contact(request.user, data["contact"])
        new = selectors.enrollment_of(contact) is None
        _service(services.enrollment_set, actor=request.user, contact=contact, powers=data["powers"],
                 form_reference=data["form_reference"])  # fmt: skip
        return self._answer(contact, status.HTTP_201_CREATED if new else status.HTTP_200_OK)

    @extend_schema(request=EnrollmentSetSerializer, responses=EnrollmentSerializer)
    def update(self, request: Request, contact_id: str | None = None) -> Response:
        """Enrol the client of the path, or replace their powers and form reference."""
        contact = self._client()
        body = EnrollmentSetSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        _service(services.enrollment_set, actor=request.user, contact=contact, powers=data["powers"],
                 form_reference=data["form_reference"])  # fmt: skip
        return self._answer(contact)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, contact_id: str | None = None) -> Response:
        """End the client's enrolment: their requests need their approval again. Not enrolled: 404."""
        contact = self._client()
        if not _service(services.enrollment_end, actor=request.user, contact=contact):
            raise exceptions.NotFound(f"{contact} is not enrolled in Full-Service.")
        return Response(status=status.HTTP_204_NO_CONTENT)
