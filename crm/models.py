"""Contacts and households. The CRM issue extends these with the full segmentation fields."""

from __future__ import annotations

from django.db import models

from advisorportal.tenancy.models import FirmOwnedModel


class ContactStatus(models.TextChoices):
    PROSPECT = "prospect", "Prospect"
    APPLICATION_STARTED = "application_started", "Application started"
    APPLICATION_SUBMITTED = "application_submitted", "Application submitted"
    PENDING_APPROVAL = "pending_approval", "Pending approval"
    ACTIVE = "active", "Active client"
    CLOSED = "closed", "Closed"


class ContactKind(models.TextChoices):
    INDIVIDUAL = "individual", "Individual"
    ENTITY = "entity", "Entity (trust, company…)"


class Contact(FirmOwnedModel):
    kind = models.CharField(max_length=12, choices=ContactKind.choices, default=ContactKind.INDIVIDUAL)
    status = models.CharField(max_length=24, choices=ContactStatus.choices, default=ContactStatus.PROSPECT)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            models.Index(fields=["firm", "last_name", "first_name", "id"], name="crm_contact_name_idx"),
            models.Index(fields=["firm", "status"], name="crm_contact_status_idx"),
            models.Index(fields=["firm", "created_at", "id"], name="crm_contact_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_client(self) -> bool:
        return self.status != ContactStatus.PROSPECT


class Household(FirmOwnedModel):
    name = models.CharField(max_length=200)
    head = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="households_headed")
    members: models.ManyToManyField[Contact, HouseholdMember] = models.ManyToManyField(
        Contact, through="HouseholdMember", related_name="households"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class HouseholdMember(FirmOwnedModel):
    household = models.ForeignKey(Household, on_delete=models.CASCADE)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE)

    class Meta(FirmOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["firm", "household", "contact"], name="crm_household_member_uniq"),
        ]
