"""The CRM API: contacts (search, filters, sort, CRUD, bulk actions, timeline, tax id), groups,
households and saved views. Same selectors, services and scope as the pages."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from accounts import audit
from accounts.api_access import FirmScopedViewSet, require_stepped_up_session
from accounts.rights import Right
from crm import selectors, services
from crm.crypto import format_tax_id, open_tax_id
from crm.models import Contact, Group, Household, SavedView
from crm.serializers import (
    ActivitySerializer,
    BulkSerializer,
    ContactSerializer,
    GroupSerializer,
    HouseholdSerializer,
    MembersSerializer,
    SavedViewSerializer,
)
from portfolios import selectors as portfolio_selectors

NOT_FILTERS = {"q", "ordering", "cursor", "page_size", "format"}


class ContactViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    FirmScopedViewSet,
):
    """Contacts (prospects and clients) in the caller's scope. List: `q` searches name words,
    email, phone digits, username and account number by prefix; every filter of the contacts page
    applies (e.g. `status=active&risk_tolerance=growth&net_worth_min=1000000`); `ordering` is one
    of name, -name, status, -status, email, -email, created, -created, updated, -updated. Contacts
    are never deleted: close them (status=closed) to keep their history."""

    required_right = Right.CRM
    serializer_class = ContactSerializer

    @property
    def keyset(self) -> tuple[str, ...]:
        return selectors.SORTS[self._ordering()]

    def _ordering(self) -> str:
        ordering = self.request.query_params.get("ordering", "name")
        if ordering not in selectors.SORTS:
            raise ValidationError({"ordering": [f"Choose one of {', '.join(selectors.SORTS)}."]})
        return ordering

    def get_queryset(self) -> QuerySet[Contact]:
        if self.describing_schema():
            return Contact.objects.unscoped().none()
        params = self.request.query_params
        if self.action != "list":
            return selectors.contact_list(user=self.request.user)
        filters = params.copy()
        for name in NOT_FILTERS:
            filters.pop(name, None)
        self._ordering()
        contacts = selectors.contact_list(
            user=self.request.user, q=params.get("q", ""), filters=filters, request=self.request
        )
        return portfolio_selectors.with_accounts(contacts, user=self.request.user)

    def get_object(self) -> Contact:
        try:
            return selectors.contact_get(user=self.request.user, pk=self.kwargs["pk"])
        except Contact.DoesNotExist:
            raise Http404 from None

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        contact = self.get_object()
        portfolio_selectors.attach_accounts([contact], user=request.user)
        return Response(self.get_serializer(contact).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, description="Search: name, email, phone, username, account number"),
            OpenApiParameter("ordering", OpenApiTypes.STR, enum=list(selectors.SORTS)),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    def perform_create(self, serializer: BaseSerializer[Contact]) -> None:
        data = dict(serializer.validated_data)
        tax_id = data.pop("tax_id", None) or None
        serializer.instance = services.contact_create(actor=self.request.user, tax_id=tax_id, **data)

    def perform_update(self, serializer: BaseSerializer[Contact]) -> None:
        data = dict(serializer.validated_data)
        tax_id = data.pop("tax_id", None)
        serializer.instance = services.contact_update(
            actor=self.request.user, contact=self.get_object(), tax_id=tax_id, **data
        )

    @extend_schema(request=BulkSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        """One action on many contacts: status, tag, untag, group (add to) or field (edit one of
        priority, risk_tolerance, marketing_source, prospect_account_type, advisor, next_review).
        All or nothing; ids outside the caller's scope are refused as unknown."""
        serializer = BulkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        ids = data.pop("ids")
        contacts = selectors.contacts_by_ids(user=request.user, ids=ids)
        if len(contacts) != len(set(ids)):
            raise ValidationError({"ids": ["Some of these contacts do not exist."]})
        message = services.contacts_bulk_action(actor=request.user, contacts=contacts, **data)
        return Response({"message": message, "count": len(contacts)})

    @extend_schema(methods=["GET"], responses={200: ActivitySerializer(many=True)})
    @extend_schema(methods=["POST"], request=ActivitySerializer, responses={201: ActivitySerializer})
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def activities(self, request: Request, pk: Any = None) -> Response:
        """The contact's timeline (newest first); POST adds a note, call, meeting or email."""
        contact = self.get_object()
        if request.method == "POST":
            serializer = ActivitySerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            activity = services.activity_add(actor=request.user, contact=contact, **serializer.validated_data)
            return Response(ActivitySerializer(activity).data, status=status.HTTP_201_CREATED)
        return Response(ActivitySerializer(selectors.timeline(contact=contact), many=True).data)

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"], url_path="tax-id")
    def tax_id(self, request: Request, pk: Any = None) -> Response:
        """The full tax id. Needs a browser session verified with two-factor in the last minutes
        (step-up); API tokens cannot read it. Audited."""
        contact = self.get_object()
        require_stepped_up_session(request, what="Reading a full tax id")
        audit.record_read(what="tax id", obj=contact)
        value = format_tax_id(open_tax_id(contact.tax_id_encrypted), contact.tax_id_type)
        return Response({"tax_id_type": contact.tax_id_type, "tax_id": value}, headers={"Cache-Control": "no-store"})


class HouseholdViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, FirmScopedViewSet):
    """Households with at least one member in the caller's scope, with member and account counts
    and assets (NAV of their accounts in the caller's account scope)."""

    required_right = Right.CRM
    serializer_class = HouseholdSerializer
    keyset = ("name", "id")

    def get_queryset(self) -> QuerySet[Household]:
        if self.describing_schema():
            return Household.objects.unscoped().none()
        return selectors.household_list(user=self.request.user)

    def get_object(self) -> Household:
        try:
            return selectors.household_get(user=self.request.user, pk=self.kwargs["pk"])
        except (Household.DoesNotExist, ValueError):
            raise Http404 from None

    def perform_create(self, serializer: BaseSerializer[Household]) -> None:
        data = serializer.validated_data
        try:
            head = selectors.contact_get(user=self.request.user, pk=data["head_id"])
        except Contact.DoesNotExist:
            raise ValidationError({"head": ["No such contact."]}) from None
        household = services.household_create(actor=self.request.user, name=data["name"], head=head)
        serializer.instance = selectors.household_get(user=self.request.user, pk=household.pk)

    @extend_schema(request=MembersSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post", "delete"])
    def members(self, request: Request, pk: Any = None) -> Response:
        """POST adds the contacts to the household; DELETE removes them (not the head)."""
        household = self.get_object()
        contacts = _members(request)
        if request.method == "POST":
            count = services.household_add_members(actor=request.user, household=household, contacts=contacts)
        else:
            for contact in contacts:
                services.household_remove_member(actor=request.user, household=household, contact=contact)
            count = len(contacts)
        return Response({"count": count})


def _members(request: Request) -> list[Contact]:
    serializer = MembersSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    ids = serializer.validated_data["contacts"]
    contacts = selectors.contacts_by_ids(user=request.user, ids=ids)
    if len(contacts) != len(set(ids)):
        raise ValidationError({"contacts": ["Some of these contacts do not exist."]})
    return contacts


class GroupViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    FirmScopedViewSet,
):
    """The firm's public groups and the caller's private ones."""

    required_right = Right.CRM
    serializer_class = GroupSerializer
    keyset = ("name", "id")

    def get_queryset(self) -> QuerySet[Group]:
        if self.describing_schema():
            return Group.objects.unscoped().none()
        return selectors.group_list(user=self.request.user)

    def get_object(self) -> Group:
        try:
            return selectors.group_get(user=self.request.user, pk=self.kwargs["pk"])
        except (Group.DoesNotExist, ValueError):
            raise Http404 from None

    def perform_create(self, serializer: BaseSerializer[Group]) -> None:
        group = services.group_create(actor=self.request.user, **serializer.validated_data)
        serializer.instance = selectors.group_get(user=self.request.user, pk=group.pk)

    def perform_destroy(self, instance: Group) -> None:
        services.group_delete(actor=self.request.user, group=instance)

    @extend_schema(request=MembersSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post", "delete"])
    def members(self, request: Request, pk: Any = None) -> Response:
        """POST adds the contacts to the group; DELETE removes them."""
        group = self.get_object()
        contacts = _members(request)
        if request.method == "POST":
            count = services.group_add_members(actor=request.user, group=group, contacts=contacts)
        else:
            count = services.group_remove_members(actor=request.user, group=group, contacts=contacts)
        return Response({"count": count})


class SavedViewViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin, FirmScopedViewSet):
    """Named contact queries (the contacts page's query string): the caller's and shared ones."""

    required_right = Right.CRM
    serializer_class = SavedViewSerializer
    keyset = ("name", "id")

    def get_queryset(self) -> QuerySet[SavedView]:
        if self.describing_schema():
            return SavedView.objects.unscoped().none()
        from django.db.models import Q

        return SavedView.objects.filter(Q(owner=self.request.user) | Q(is_shared=True))

    def perform_create(self, serializer: BaseSerializer[SavedView]) -> None:
        serializer.instance = services.saved_view_save(actor=self.request.user, **serializer.validated_data)

    def perform_destroy(self, instance: SavedView) -> None:
        try:
            services.saved_view_delete(actor=self.request.user, view=instance)
        except SavedView.DoesNotExist:
            raise Http404 from None
