"""Contacts (prospects and clients), households, groups, saved views and the activity timeline.

Search under RLS (see docs/architecture.md): every searchable word of a contact is a row of
``ContactSearchKey`` in the "C" collation, found by a leakproof prefix range on an index leading
with ``firm_id``. ``services`` keeps the keys in step with every write; nothing else writes them.

Tax ids are encrypted at rest (``crm.crypto``): the ciphertext, the last four characters for
display and a keyed digest for matching on import and merge. The clear value is never stored.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower

from advisorportal.tenancy.models import FirmOwnedModel

country_code = RegexValidator(r"^[A-Z]{2}$", "Enter a two-letter ISO 3166 country code, e.g. US.")
phone_number = RegexValidator(
    r"^\+?[0-9 ().\-/]{5,30}([ ]?(x|ext\.?)[ ]?[0-9]{1,6})?$",
    "Enter a phone number: digits, spaces and + ( ) . - / only, e.g. +1 212 555 0100.",
)


def CountryField(**kwargs: Any) -> models.CharField[str, str]:
    return models.CharField(max_length=2, blank=True, validators=[country_code], **kwargs)


def PhoneField(**kwargs: Any) -> models.CharField[str, str]:
    return models.CharField(max_length=40, blank=True, validators=[phone_number], **kwargs)


def AmountField(**kwargs: Any) -> models.DecimalField[Any, Any]:
    return models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True, **kwargs)


def not_negative(label: str) -> MinValueValidator:
    return MinValueValidator(0, f"{label} cannot be negative.")


# Free text people write (a contact's notes, an activity's body): long enough for any real note,
# short enough that one row cannot weigh megabytes in every page, export and audit entry.
FREE_TEXT_MAX = 20_000


class TradingPermission(models.TextChoices):
    """The products a client (and an account) may trade."""

    STOCKS = "stocks", "Stocks"
    BONDS = "bonds", "Bonds"
    FUNDS = "funds", "Mutual funds"
    OPTIONS = "options", "Options"
    FUTURES = "futures", "Futures"
    FOREX = "forex", "Forex"


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


class Salutation(models.TextChoices):
    MR = "Mr", "Mr"
    MRS = "Mrs", "Mrs"
    MS = "Ms", "Ms"
    MX = "Mx", "Mx"
    DR = "Dr", "Dr"


class Gender(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"


class MaritalStatus(models.TextChoices):
    SINGLE = "single", "Single"
    MARRIED = "married", "Married"
    DIVORCED = "divorced", "Divorced"
    WIDOWED = "widowed", "Widowed"
    PARTNERSHIP = "partnership", "Domestic partnership"


class TaxIdType(models.TextChoices):
    SSN = "ssn", "SSN"
    ITIN = "itin", "ITIN"
    EIN = "ein", "EIN"
    FOREIGN = "foreign", "Foreign tax id"


class EmploymentStatus(models.TextChoices):
    EMPLOYED = "employed", "Employed"
    SELF_EMPLOYED = "self_employed", "Self-employed"
    RETIRED = "retired", "Retired"
    STUDENT = "student", "Student"
    UNEMPLOYED = "unemployed", "Not employed"
    HOMEMAKER = "homemaker", "Homemaker"


class SourceOfFunds(models.TextChoices):
    EMPLOYMENT = "employment", "Employment income"
    SAVINGS = "savings", "Savings"
    INHERITANCE = "inheritance", "Inheritance"
    BUSINESS = "business", "Business income"
    INVESTMENTS = "investments", "Investments"
    PENSION = "pension", "Pension / retirement"
    PROPERTY_SALE = "property_sale", "Sale of property"
    OTHER = "other", "Other"


class InvestmentObjective(models.TextChoices):
    PRESERVATION = "preservation", "Capital preservation"
    INCOME = "income", "Income"
    GROWTH = "growth", "Growth"
    SPECULATION = "speculation", "Speculation"
    HEDGING = "hedging", "Hedging"


class TimeHorizon(models.TextChoices):
    SHORT = "short", "Under 3 years"
    MEDIUM = "medium", "3 to 10 years"
    LONG = "long", "Over 10 years"


class RiskTolerance(models.TextChoices):
    CONSERVATIVE = "conservative", "Conservative"
    MODERATE = "moderate", "Moderate"
    BALANCED = "balanced", "Balanced"
    GROWTH = "growth", "Growth"
    AGGRESSIVE = "aggressive", "Aggressive"


class Experience(models.TextChoices):
    NONE = "none", "None"
    LIMITED = "limited", "Limited"
    GOOD = "good", "Good"
    EXTENSIVE = "extensive", "Extensive"


class ProspectAccountType(models.TextChoices):
    INDIVIDUAL = "individual", "Individual"
    JOINT = "joint", "Joint"
    IRA = "ira", "IRA"
    TRUST = "trust", "Trust"
    CORPORATE = "corporate", "Corporate"
    PARTNERSHIP = "partnership", "Partnership"


class Priority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"


class MarketingSource(models.TextChoices):
    REFERRAL = "referral", "Client referral"
    WEBSITE = "website", "Website"
    EVENT = "event", "Event / seminar"
    SOCIAL = "social", "Social media"
    ADVERTISING = "advertising", "Advertising"
    PARTNER = "partner", "Professional partner"
    OTHER = "other", "Other"


class Contact(FirmOwnedModel):
    """A prospect or client. A prospect needs only a first and last name (an entity only its name
    in ``last_name``); everything else fills in as the relationship develops."""

    audit_masked_fields = frozenset({"tax_id_encrypted", "tax_id_digest", "tax_id_last4", "picture"})
    name_fields = frozenset({"first_name", "middle_name", "last_name", "suffix", "preferred_name", "organization"})

    # Contact information
    kind = models.CharField(max_length=12, choices=ContactKind.choices, default=ContactKind.INDIVIDUAL)
    status = models.CharField(max_length=24, choices=ContactStatus.choices, default=ContactStatus.PROSPECT)
    salutation = models.CharField(max_length=4, choices=Salutation.choices, blank=True)
    first_name = models.CharField(max_length=100, blank=True)
    middle_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=200, help_text="For an entity: its legal name.")
    suffix = models.CharField(max_length=20, blank=True)
    preferred_name = models.CharField(max_length=100, blank=True)
    organization = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    email_alt = models.EmailField("Other email", blank=True)
    phone = PhoneField()
    mobile_phone = PhoneField()
    work_phone = PhoneField()
    username = models.CharField(max_length=64, blank=True, help_text="The client's portal username.")
    date_of_birth = models.DateField(null=True, blank=True)
    gender = models.CharField(max_length=8, choices=Gender.choices, blank=True)
    marital_status = models.CharField(max_length=12, choices=MaritalStatus.choices, blank=True)
    dependents = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(30)])
    citizenship = CountryField()
    country_of_birth = CountryField()
    language = models.CharField(max_length=8, blank=True, help_text="Preferred language, e.g. en or fr-CA.")
    # Residential address
    res_street = models.CharField("Street", max_length=200, blank=True)
    res_street2 = models.CharField("Street (line 2)", max_length=200, blank=True)
    res_city = models.CharField("City", max_length=100, blank=True)
    res_state = models.CharField("State / province", max_length=100, blank=True)
    res_postal_code = models.CharField("Postal code", max_length=20, blank=True)
    res_country = CountryField(verbose_name="Country")
    # Mailing address
    mailing_same = models.BooleanField("Mailing address is the residential address", default=True)
    mail_street = models.CharField("Mailing street", max_length=200, blank=True)
    mail_street2 = models.CharField("Mailing street (line 2)", max_length=200, blank=True)
    mail_city = models.CharField("Mailing city", max_length=100, blank=True)
    mail_state = models.CharField("Mailing state / province", max_length=100, blank=True)
    mail_postal_code = models.CharField("Mailing postal code", max_length=20, blank=True)
    mail_country = CountryField(verbose_name="Mailing country")
    # Tax information (see crm.crypto)
    tax_id_type = models.CharField(max_length=8, choices=TaxIdType.choices, blank=True)
    tax_id_encrypted = models.BinaryField(null=True, blank=True, editable=False)
    tax_id_last4 = models.CharField(max_length=4, blank=True, editable=False)
    tax_id_digest = models.CharField(max_length=64, blank=True, editable=False)
    tax_country = CountryField(verbose_name="Tax residence")
    # Employment
    employment_status = models.CharField(max_length=16, choices=EmploymentStatus.choices, blank=True)
    employer = models.CharField(max_length=200, blank=True)
    occupation = models.CharField(max_length=100, blank=True)
    employer_business = models.CharField("Nature of business", max_length=100, blank=True)
    # Financial (in the firm's reporting currency, USD unless said otherwise)
    annual_income = AmountField(validators=[not_negative("Annual income")])
    net_worth = AmountField(validators=[not_negative("Net worth")])
    liquid_net_worth = AmountField(validators=[not_negative("Liquid net worth")])
    source_of_funds = models.CharField(max_length=16, choices=SourceOfFunds.choices, blank=True)
    # Investment objectives, risk and experience
    investment_objectives = ArrayField(
        models.CharField(max_length=16, choices=InvestmentObjective.choices), default=list, blank=True
    )
    time_horizon = models.CharField(max_length=8, choices=TimeHorizon.choices, blank=True)
    risk_tolerance = models.CharField(max_length=16, choices=RiskTolerance.choices, blank=True)
    investment_experience = models.CharField(max_length=12, choices=Experience.choices, blank=True)
    trading_permissions = ArrayField(
        models.CharField(max_length=8, choices=TradingPermission.choices), default=list, blank=True
    )
    # Prospect information
    prospect_account_type = models.CharField(
        "Account type", max_length=16, choices=ProspectAccountType.choices, blank=True
    )
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    marketing_source = models.CharField(max_length=16, choices=MarketingSource.choices, blank=True)
    advisor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Tags, dates and notes
    tags = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    client_since = models.DateField(null=True, blank=True)
    last_contacted = models.DateField(null=True, blank=True)
    next_review = models.DateField(null=True, blank=True)
    closed_on = models.DateField(null=True, blank=True, editable=False)
    notes = models.TextField(max_length=FREE_TEXT_MAX, blank=True)
    picture = models.BinaryField(null=True, blank=True, editable=False)
    picture_type = models.CharField(max_length=40, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Sort keys: lower-cased, "C" collation, so a sort is an index walk and a keyset is exact.
    email_key = models.GeneratedField(
        expression=Lower("email"), output_field=models.CharField(max_length=254, db_collation="C"), db_persist=True
    )

    class Meta(FirmOwnedModel.Meta):
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            models.Index(fields=["firm", "last_name", "first_name", "id"], name="crm_contact_name_idx"),
            models.Index(fields=["firm", "status", "last_name", "first_name", "id"], name="crm_contact_status_idx"),
            models.Index(fields=["firm", "created_at", "id"], name="crm_contact_created_idx"),
            models.Index(fields=["firm", "email_key", "id"], name="crm_contact_email_idx"),
            models.Index(fields=["firm", "tax_id_digest"], name="crm_contact_taxid_idx"),
            models.Index(fields=["firm", "updated_at", "id"], name="crm_contact_updated_idx"),
        ]

    def __str__(self) -> str:
        return self.display_name

    def clean(self) -> None:
        super().clean()
        if self.kind == ContactKind.INDIVIDUAL and not self.first_name.strip():
            raise ValidationError({"first_name": "A person needs a first name (an entity only its name)."})
        if not self.last_name.strip():
            raise ValidationError({"last_name": "Enter a last name (for an entity: its name)."})

    @property
    def display_name(self) -> str:
        if self.kind == ContactKind.ENTITY:
            return self.last_name
        return " ".join(p for p in (self.first_name, self.middle_name, self.last_name, self.suffix) if p)

    @property
    def is_client(self) -> bool:
        return self.status != ContactStatus.PROSPECT

    @property
    def tax_id_masked(self) -> str:
        return f"•••-••-{self.tax_id_last4}" if self.tax_id_last4 else ""


# The fields a contact's name needs (``Contact.__str__``): lists of tasks, steps, notes, documents
# and events load only these of their contacts (``contact_label_defer``), not all 71 columns.
CONTACT_LABEL_FIELDS = frozenset({"id", "firm", "kind", "first_name", "middle_name", "last_name", "suffix"})


def contact_label_defer(path: str = "contact") -> list[str]:
    """``QuerySet.defer`` arguments that leave only a related contact's label fields loaded (for a
    ``select_related(path)`` of rows shown with their contact's name and link)."""
    return [f"{path}__{f.name}" for f in Contact._meta.concrete_fields if f.name not in CONTACT_LABEL_FIELDS]


class ContactSearchKey(FirmOwnedModel):
    """One searchable word of a contact (name words, emails, their local parts and domains, phone
    digits and their suffixes, username), lower-cased. Written only by ``crm.search``."""

    audited = False  # derived from the contact, which is audited
    # An index of the contacts (see FirmOwnedModel.derived_index): no foreign keys and no
    # UNIQUE (firm_id, id). A search joins the keys back to crm_contact under row-level security,
    # so a key of a deleted (or another firm's) contact finds nothing; deleting a contact through
    # the ORM deletes its keys (on_delete). At 1.1M keys for 100k imported contacts the two
    # saved about 4 s of foreign-key checks and 1.5 s of index entries.
    derived_index = True

    firm = models.ForeignKey(
        "accounts.Firm", on_delete=models.PROTECT, related_name="+", editable=False, db_index=False,
        db_constraint=False,
    )  # fmt: skip
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    key = models.CharField(max_length=254, db_collation="C")

    class Meta(FirmOwnedModel.Meta):
        indexes = [
            models.Index(fields=["firm", "key", "contact"], name="crm_search_key_idx"),
            models.Index(fields=["firm", "contact"], name="crm_search_contact_idx"),
        ]


class Household(FirmOwnedModel):
    name_fields = frozenset({"name"})

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


class Group(FirmOwnedModel):
    """A named set of contacts: public to the firm, or private to the user who made it."""

    name_fields = frozenset({"name"})

    name = models.CharField(max_length=120)
    description = models.CharField(max_length=300, blank=True)
    is_private = models.BooleanField(default=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    members: models.ManyToManyField[Contact, GroupMember] = models.ManyToManyField(
        Contact, through="GroupMember", related_name="contact_groups"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["firm", "name"], condition=models.Q(is_private=False), name="crm_group_public_name_uniq"
            ),
            models.UniqueConstraint(
                fields=["firm", "owner", "name"],
                condition=models.Q(is_private=True),
                name="crm_group_private_name_uniq",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class GroupMember(FirmOwnedModel):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, db_index=False, db_constraint=False)
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="group_memberships", db_index=False, db_constraint=False
    )

    class Meta(FirmOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["firm", "group", "contact"], name="crm_group_member_uniq")]
        indexes = [models.Index(fields=["firm", "contact"], name="crm_group_member_contact_idx")]


class SavedView(FirmOwnedModel):
    """A named contacts-table query (filters, sort, columns), private or shared with the firm."""

    name = models.CharField("view name", max_length=120)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    is_shared = models.BooleanField(default=False)
    # Blank is the whole list (in the user's scope) with the default sort: a view worth saving too.
    query = models.CharField(
        "search and filters", max_length=2000, blank=True, help_text="The contacts page's query string."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["firm", "owner", "name"], name="crm_saved_view_uniq")]

    def __str__(self) -> str:
        return self.name


class TablePreference(FirmOwnedModel):
    """The contacts-table columns a user chose, in their order."""

    audited = False  # a display preference

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    columns = ArrayField(models.CharField(max_length=40))

    class Meta(FirmOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["firm", "user"], name="crm_table_pref_uniq")]


class ActivityKind(models.TextChoices):
    NOTE = "note", "Note"
    CALL = "call", "Call"
    MEETING = "meeting", "Meeting"
    EMAIL = "email", "Email"
    STATUS = "status", "Status change"
    SYSTEM = "system", "System"


class Activity(FirmOwnedModel):
    """One entry of a contact's timeline: notes and calls advisors log, and what the system did
    (status changes, imports, merges)."""

    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="activities", db_index=False, db_constraint=False
    )
    kind = models.CharField(max_length=8, choices=ActivityKind.choices, default=ActivityKind.NOTE)
    summary = models.CharField(max_length=300)
    body = models.TextField(max_length=FREE_TEXT_MAX, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    occurred_at = models.DateTimeField()

    class Meta(FirmOwnedModel.Meta):
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["firm", "contact", "occurred_at", "id"], name="crm_activity_contact_idx")]
