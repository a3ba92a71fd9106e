"""Identity: firms (the tenants), their users, access grants and API tokens.

``Firm``, ``User`` and ``ApiToken`` are the global identity tables: authentication has to find
a user or token before any firm is known, so they carry no row-level security. They are only
read through ``accounts.selectors`` (which always filter by firm) and by the authentication
backends. Everything else a firm owns inherits ``FirmOwnedModel``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from accounts.rights import Right, Role
from advisorportal.tenancy.models import FirmOwnedModel

hex_colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Enter a colour as #RRGGBB.")


class TwoFactorPolicy(models.TextChoices):
    OFFICERS = "officers", "Required for the primary user and security officers"
    EVERYONE = "everyone", "Required for everyone"


class Firm(models.Model):
    """A registered investment advisory firm: the tenant."""

    name = models.CharField(max_length=200)
    two_factor_policy = models.CharField(
        "two-factor policy", max_length=10, choices=TwoFactorPolicy.choices, default=TwoFactorPolicy.OFFICERS
    )
    session_idle_minutes = models.PositiveSmallIntegerField(
        "sign out after idle minutes", default=30, validators=[MinValueValidator(5), MaxValueValidator(240)]
    )
    session_absolute_hours = models.PositiveSmallIntegerField(
        "sign out after hours in any case", default=12, validators=[MinValueValidator(1), MaxValueValidator(24)]
    )
    slug = models.SlugField(max_length=50, unique=True)
    brand_primary = models.CharField("primary colour", max_length=7, default="#1f4e79", validators=[hex_colour])
    brand_accent = models.CharField("accent colour", max_length=7, default="#c8902b", validators=[hex_colour])
    logo = models.FileField(upload_to="firm-logos/", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        if not email:
            raise ValueError("A user needs an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user


class User(AbstractBaseUser):
    """A person who logs in with an email address and belongs to exactly one firm."""

    email = models.EmailField(max_length=254, unique=True)
    full_name = models.CharField(max_length=200)
    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="users")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.STAFF)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(auto_now_add=True)

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        ordering = ["full_name"]

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def is_staff(self) -> bool:
        # Django's admin is not used; nobody is "staff" in its sense.
        return False

    @property
    def is_superuser(self) -> bool:
        return False


class AccountScope(models.TextChoices):
    ALL = "all", "All client accounts"
    SELECTED = "selected", "Selected accounts, households and groups"


class AccessGrant(FirmOwnedModel):
    """One user access right (UAR component) granted to a user, with its account scope."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="grants")
    right = models.CharField(max_length=32, choices=Right.choices)
    scope = models.CharField(max_length=10, choices=AccountScope.choices, default=AccountScope.ALL)

    class Meta(FirmOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["firm", "user", "right"], name="accounts_grant_user_right_uniq")]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_right_display()}"


class GrantAccount(FirmOwnedModel):
    """A client account inside a grant's selected scope."""

    grant = models.ForeignKey(AccessGrant, on_delete=models.CASCADE, related_name="scope_accounts")
    account = models.ForeignKey("portfolios.ClientAccount", on_delete=models.CASCADE, related_name="+")

    class Meta(FirmOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["firm", "grant", "account"], name="accounts_grant_account_uniq")]


class GrantHousehold(FirmOwnedModel):
    """A household whose accounts are inside a grant's selected scope."""

    grant = models.ForeignKey(AccessGrant, on_delete=models.CASCADE, related_name="scope_households")
    household = models.ForeignKey("crm.Household", on_delete=models.CASCADE, related_name="+")

    class Meta(FirmOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["firm", "grant", "household"], name="accounts_grant_household_uniq")
        ]


class GrantGroup(FirmOwnedModel):
    """A contact group inside a grant's selected scope: its contacts and the accounts they own."""

    grant = models.ForeignKey(AccessGrant, on_delete=models.CASCADE, related_name="scope_groups")
    group = models.ForeignKey("crm.Group", on_delete=models.CASCADE, related_name="+")

    class Meta(FirmOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["firm", "grant", "group"], name="accounts_grant_group_uniq")]


class ApiToken(models.Model):
    """A personal API token. Only a SHA-256 digest of the secret is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    digest = models.CharField(max_length=64)
    # The token may do only these, and only while its user still holds them.
    rights = ArrayField(models.CharField(max_length=32, choices=Right.choices), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class AuditAction(models.TextChoices):
    CREATE = "create", "Created"
    UPDATE = "update", "Changed"
    DELETE = "delete", "Deleted"
    READ = "read", "Viewed or exported"
    LOGIN = "login", "Signed in"
    LOGOUT = "logout", "Signed out"


class AuditEntry(FirmOwnedModel):
    """One recorded change or sensitive read. Append-only: the application role may only INSERT
    and SELECT (see advisorportal/tenancy/grants.py), and a trigger refuses UPDATE and DELETE."""

    append_only: ClassVar[bool] = True
    audited: ClassVar[bool] = False

    created_at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=10, choices=AuditAction.choices)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta(FirmOwnedModel.Meta):
        indexes = [
            models.Index(fields=["firm", "object_type", "object_id", "id"], name="accounts_audit_object_idx"),
            models.Index(fields=["firm", "actor", "id"], name="accounts_audit_actor_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.object_type} {self.object_id}"


class UserSession(models.Model):
    """A signed-in browser session, so people can see and end their sessions.

    Global like ``User``: it is looked up by session key on every request, before the firm is known.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sessions")
    session_key = models.CharField(max_length=40, unique=True)
    device = models.CharField(max_length=64, blank=True, help_text="Random id of the browser (a long-lived cookie).")
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now_add=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["-last_seen_at"]
        indexes = [models.Index(fields=["user", "ended_at"], name="accounts_session_user_idx")]

    def __str__(self) -> str:
        return f"{self.user} · {self.user_agent[:40]}"
