"""Layer 1 and 2 of tenancy: the firm-owned base model and its fail-closed manager."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, TypeVar

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models.expressions import RawSQL

from advisorportal import bulk, text
from advisorportal.tenancy.context import require_firm_id

M = TypeVar("M", bound=models.Model)


class CurrentFirmId(models.Expression):
    """The current firm's id, read when the SQL is compiled, so that building a queryset is free
    but running one without a firm in scope raises ``FirmScopeError``."""

    output_field = models.BigIntegerField()

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        return "%s", [require_firm_id()]


def _row_values(objs: Sequence[models.Model], attnames: Iterable[str]) -> dict[str, Any]:
    """What a bulk write set, per column: each row's value (few rows), the one value all rows got,
    or ``bulk.VARIES``."""
    values: dict[str, Any] = {}
    for attname in attnames:
        column = [getattr(obj, attname) for obj in objs]
        if len(objs) <= bulk.PER_ROW_LIMIT:
            values[attname] = bulk.PerRow(column)
            continue
        try:
            distinct = set(column)
        except TypeError:  # lists, dicts
            distinct = {repr(v) for v in column}
        values[attname] = column[0] if len(distinct) == 1 else bulk.VARIES
    return values


class FirmOwnedQuerySet(models.QuerySet[M]):
    """Firm-owned rows whose bulk writes (``bulk_create``, ``bulk_update``, ``update``) leave an
    audit entry each, as saves and deletes do through signals (see ``advisorportal.bulk``)."""

    def bulk_create(self, objs: Iterable[M], *args: Any, **kwargs: Any) -> list[M]:
        objs = list(objs)
        for obj in objs:  # as ``save`` does
            if obj.firm_id is None:  # type: ignore[attr-defined]
                obj.firm_id = require_firm_id()  # type: ignore[attr-defined]
        if not bulk.is_audited(self.model):
            return super().bulk_create(objs, *args, **kwargs)
        with bulk.recording() as outer, transaction.atomic(using=self.db, savepoint=False):
            created = super().bulk_create(objs, *args, **kwargs)
            if outer:
                rows = [obj for obj in created if obj.pk is not None]  # ignore_conflicts: skipped rows have none
                fields = [f.attname for f in self.model._meta.concrete_fields if f.attname not in ("id", "firm_id")]
                bulk.record("create", self.model, [obj.pk for obj in rows], _row_values(rows, fields), None)
        return created

    def bulk_update(self, objs: Iterable[M], fields: Iterable[str], batch_size: int | None = None) -> int:
        if not bulk.is_audited(self.model):
            return super().bulk_update(objs, fields, batch_size=batch_size)
        objs, fields = list(objs), list(fields)
        with bulk.recording() as outer, transaction.atomic(using=self.db, savepoint=False):
            count = super().bulk_update(objs, fields, batch_size=batch_size)
            if outer:
                attnames = [self.model._meta.get_field(name).attname for name in fields]  # type: ignore[union-attr]
                bulk.record("update", self.model, [obj.pk for obj in objs], _row_values(objs, attnames), None)
        return count

    def update(self, **kwargs: Any) -> int:
        if not bulk.is_audited(self.model):
            return super().update(**kwargs)
        with bulk.recording() as outer:
            if not outer:  # a batch of bulk_update, which records the whole
                return super().update(**kwargs)
            with transaction.atomic(using=self.db, savepoint=False):
                # The rows locked first (in id order), then exactly those updated: a row another
                # transaction changes or adds meanwhile is neither missed nor named wrongly.
                ids = list(self.select_for_update(of=("self",)).order_by("pk").values_list("pk", flat=True))
                if not ids:
                    return 0
                these = self.filter(pk__in=RawSQL("SELECT unnest(%s::bigint[])", [ids]))
                count = super(FirmOwnedQuerySet, these).update(**kwargs)
                values = {
                    self.model._meta.get_field(name).attname: value.pk if isinstance(value, models.Model) else value  # type: ignore[union-attr]
                    for name, value in kwargs.items()
                }
                bulk.record("update", self.model, ids, values, None)
        return count


class FirmScopedManager(models.Manager[M]):
    """Returns only the current firm's rows; running a query with no firm in scope raises.

    ``Model.objects.unscoped()`` is the one explicit, greppable escape hatch; row-level security
    in PostgreSQL still applies beneath it. Bulk writes through it are audited (``FirmOwnedQuerySet``).
    """

    _queryset_class = FirmOwnedQuerySet

    def get_queryset(self) -> models.QuerySet[M]:
        return super().get_queryset().filter(firm_id=CurrentFirmId())

    def unscoped(self) -> models.QuerySet[M]:
        return super().get_queryset()


class FirmOwnedModel(models.Model):
    """Base of every model a firm owns.

    Subclasses get, without writing anything: a non-null ``firm`` foreign key filled from the
    current scope, a ``UNIQUE (firm_id, id)`` constraint, a composite same-firm constraint for
    each foreign key to another firm-owned model, and a row-level security policy. The last three
    are added to ``Meta.constraints`` by ``advisorportal.tenancy.apps`` so ``makemigrations``
    writes them into migrations. Every other unique constraint must start with ``firm``.
    """

    # No index of its own: the UNIQUE (firm_id, id) index added to every firm-owned table leads with it.
    firm = models.ForeignKey(
        "accounts.Firm", on_delete=models.PROTECT, related_name="+", editable=False, db_index=False
    )

    objects: ClassVar[FirmScopedManager[Any]] = FirmScopedManager()

    # Audit trail (accounts/audit.py): every save and delete is recorded with a before/after diff,
    # unless a model opts out (append-only records that are their own trail); masked fields are
    # recorded as changed without their values.
    audited: ClassVar[bool] = True
    audit_masked_fields: ClassVar[frozenset[str]] = frozenset()

    # Rows that are an index of another firm-owned table, rebuilt from it and never referenced
    # (search keys): they keep row-level security but get no UNIQUE (firm_id, id) and no same-firm
    # foreign keys. Each is an index entry or a checked row per insert (~12 per contact in an
    # import); a row left pointing at nothing is never shown, as readers join back to the source
    # table under row-level security. Django's on_delete still removes them with their source.
    derived_index: ClassVar[bool] = False

    # Fields holding a name people read and compare, which refuse invisible format characters as
    # well (``advisorportal.text``); every text field refuses control characters.
    name_fields: ClassVar[frozenset[str]] = frozenset()

    class Meta:
        abstract = True
        base_manager_name = "objects"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.firm_id is None:
            self.firm_id = require_firm_id()
        super().save(*args, **kwargs)

    def clean_fields(self, exclude: Any = None) -> None:
        """Django's checks, then the floor's text check (``advisorportal.text``) on each text
        field they passed; errors in model field order, as Django gives them."""
        if self.firm_id is None:
            self.firm_id = require_firm_id()
        errors: dict[str, list[ValidationError]] = {}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as error:
            errors = error.error_dict
        exclude = set(exclude or ())
        found = False
        for field in self._meta.fields:
            if field.name in exclude or field.name in errors or field.generated:
                continue
            messages = text.field_errors(field, getattr(self, field.attname), name=field.name in self.name_fields)
            if messages:
                errors[field.name] = [ValidationError(m, code="invalid") for m in messages]
                found = True
        if found:
            order = {field.name: index for index, field in enumerate(self._meta.fields)}
            errors = dict(sorted(errors.items(), key=lambda item: order.get(item[0], len(order))))
        if errors:
            raise ValidationError(errors)

    def clean(self) -> None:
        super().clean()
        errors = {}
        for field in self._meta.concrete_fields:
            if field.is_relation and field.name != "firm" and issubclass(field.related_model, FirmOwnedModel):  # type: ignore[arg-type]
                related = getattr(self, field.name, None)
                if related is not None and related.firm_id != self.firm_id:
                    errors[field.name] = ValidationError(f"Select a valid {field.verbose_name}.", code="invalid")
        if errors:
            raise ValidationError(errors)

    @classmethod
    def from_db(cls, db: Any, field_names: Any, values: Any) -> Any:
        instance = super().from_db(db, field_names, values)
        # What was loaded, so the audit trail can tell what a save changed.
        instance._loaded_values = dict(zip(field_names, values, strict=True))  # type: ignore[attr-defined]
        return instance
