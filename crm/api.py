from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import mixins
from rest_framework.serializers import BaseSerializer

from accounts.rights import Right
from advisorportal.tenancy.api import FirmScopedViewSet
from crm import selectors, services
from crm.models import Contact, Household
from crm.serializers import ContactSerializer, HouseholdSerializer


class ContactViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, FirmScopedViewSet):
    """Contacts (prospects and clients) of the caller's firm."""

    required_right = Right.CRM
    serializer_class = ContactSerializer
    keyset = selectors.CONTACT_ORDER
    filterset_fields = ["status", "kind"]

    def get_queryset(self) -> QuerySet[Contact]:
        if self.describing_schema():
            return Contact.objects.unscoped().none()
        return selectors.contact_list(user=self.request.user)

    def perform_create(self, serializer: BaseSerializer[Contact]) -> None:
        serializer.instance = services.contact_create(actor=self.request.user, **serializer.validated_data)


class HouseholdViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    """Households of the caller's firm, with their member counts."""

    required_right = Right.CRM
    serializer_class = HouseholdSerializer

    def get_queryset(self) -> QuerySet[Household]:
        if self.describing_schema():
            return Household.objects.unscoped().none()
        return selectors.household_list(user=self.request.user)
