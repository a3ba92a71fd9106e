from __future__ import annotations

from django.apps import AppConfig, apps
from django.db import models
from django.db.models.signals import post_migrate


def tenancy_constraints(model: type[models.Model]) -> list[models.BaseConstraint]:
    """The constraints every concrete firm-owned model must carry (layers 3 and 4)."""
    from advisorportal.tenancy.constraints import FirmIdUnique, FirmRowLevelSecurity, SameFirmForeignKey
    from advisorportal.tenancy.constraints import constraint_name as _name
    from advisorportal.tenancy.models import FirmOwnedModel

    table = model._meta.db_table
    rls = FirmRowLevelSecurity(name=_name("firm_rls", table))
    if getattr(model, "derived_index", False):
        return [rls]
    wanted: list[models.BaseConstraint] = [FirmIdUnique(name=_name("firm_uniq", table)), rls]
    for field in model._meta.local_concrete_fields:
        target = field.related_model
        if (
            field.is_relation
            and field.name != "firm"
            and isinstance(target, type)
            and issubclass(target, FirmOwnedModel)
        ):
            wanted.append(SameFirmForeignKey(field=field.name, name=_name("firm_fk", table, field.column)))
    return wanted


def add_tenancy_constraints() -> None:
    from advisorportal.tenancy.models import FirmOwnedModel

    for model in apps.get_models(include_auto_created=True):
        if not issubclass(model, FirmOwnedModel) or model._meta.proxy:
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
