from __future__ import annotations

from django.apps import AppConfig, apps
from django.conf import settings
from django.db import models
from django.db.models.signals import post_migrate


def is_user_model(model: object) -> bool:
    """The user model (``AUTH_USER_MODEL``): global by the way it is found at sign-in, but each user
    belongs to one firm (its ``firm`` field), so it gets row-level security and ``UNIQUE (firm_id,
    id)``, and every key to it from firm-owned data is same-firm."""
    return (
        isinstance(model, type)
        and issubclass(model, models.Model)
        and (model._meta.label_lower == settings.AUTH_USER_MODEL.lower())
    )


def links_within_firm(model: object) -> bool:
    """Whether a foreign key to ``model`` must point into the row's own firm."""
    from advisorportal.tenancy.models import FirmOwnedModel

    return (isinstance(model, type) and issubclass(model, FirmOwnedModel)) or is_user_model(model)


def tenancy_constraints(model: type[models.Model]) -> list[models.BaseConstraint]:
    """The constraints every concrete firm-owned model (and the user model) must carry (layers 3 and 4)."""
    from advisorportal.tenancy.constraints import FirmIdUnique, FirmRowLevelSecurity, SameFirmForeignKey
    from advisorportal.tenancy.constraints import constraint_name as _name

    table = model._meta.db_table
    rls = FirmRowLevelSecurity(name=_name("firm_rls", table))
    if getattr(model, "derived_index", False):
        return [rls]
    wanted: list[models.BaseConstraint] = [FirmIdUnique(name=_name("firm_uniq", table)), rls]
    if is_user_model(model):
        return wanted  # its only link, to the firm, is the firm itself
    for field in model._meta.local_concrete_fields:
        if field.is_relation and field.name != "firm" and links_within_firm(field.related_model):
            wanted.append(SameFirmForeignKey(field=field.name, name=_name("firm_fk", table, field.column)))
    return wanted


def add_tenancy_constraints() -> None:
    from advisorportal.tenancy.models import FirmOwnedModel

    for model in apps.get_models(include_auto_created=True):
        if not (issubclass(model, FirmOwnedModel) or is_user_model(model)) or model._meta.proxy:
            continue
        present = {c.name for c in model._meta.constraints}
        additions = [c for c in tenancy_constraints(model) if c.name not in present]
        model._meta.constraints = [*model._meta.constraints, *additions]
        # The migration autodetector only looks at constraints that were declared in Meta.
        model._meta.original_attrs["constraints"] = model._meta.constraints


class TenancyConfig(AppConfig):
    name = "advisorportal.tenancy"
    label = "tenancy"
    verbose_name = "Firm tenancy"

    def ready(self) -> None:
        add_tenancy_constraints()
        from advisorportal.tenancy import grants

        post_migrate.connect(grants.grant_application_role, dispatch_uid="tenancy-grants")
