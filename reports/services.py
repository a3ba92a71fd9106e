"""Every write of the reports app itself: the firm's blended benchmarks (issue #19, point 1).

Keyword-only and transactional; each row passes ``full_clean()``; the audit trail's signals record
every row created, changed or deleted. A blend's components are replaced as a whole when it is
edited, so what a blend held is always one consistent set whose weights add up to 100 %.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from portfolios.models import Benchmark
from reports.models import HUNDRED, BlendComponent, BlendedBenchmark

MAX_COMPONENTS = 8
CENT = Decimal("0.01")
TAKEN = "Your firm already has a blended benchmark of that name."


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


def _check_components(components: Sequence[tuple[str, Decimal]]) -> list[tuple[Benchmark, Decimal]]:
    """(symbol, weight in percent) pairs: at least two different index series, each weight above 0,
    adding up to exactly 100; ``ValidationError`` on ``components`` otherwise."""
    if len(components) < 2:
        raise ValidationError({"components": ["A blend needs at least two index series."]})
    if len(components) > MAX_COMPONENTS:
        raise ValidationError({"components": [f"A blend holds at most {MAX_COMPONENTS} index series."]})
    symbols = [symbol for symbol, _ in components]
    if len(set(symbols)) != len(symbols):
        raise ValidationError({"components": ["Each index series may appear only once in a blend."]})
    known = {b.symbol: b for b in Benchmark.objects.filter(symbol__in=symbols)}
    unknown = [s for s in symbols if s not in known]
    if unknown:
        raise ValidationError({"components": [f"No index series has the symbol {', '.join(map(repr, unknown))}."]})
    for symbol, weight in components:
        if weight <= 0 or weight > HUNDRED or weight != weight.quantize(CENT):
            raise ValidationError(
                {"components": [f"The weight of {symbol} must be more than 0 and at most 100, in hundredths."]}
            )
    total = sum((w for _, w in components), Decimal(0)).quantize(CENT)  # each weight is in hundredths
    if total != HUNDRED:
        raise ValidationError({"components": [f"The weights add up to {total:f} %: they must add up to 100 %."]})
    return [(known[s], w) for s, w in components]


def _save_components(blend: BlendedBenchmark, checked: list[tuple[Benchmark, Decimal]]) -> None:
    for benchmark, weight in checked:
        component = BlendComponent(blend=blend, benchmark=benchmark, weight=weight)
        component.full_clean()
        component.save()


def _save_blend(blend: BlendedBenchmark) -> None:
    # Checked here so the error names the field (full_clean would report the firm-and-name
    # constraint as a whole); a concurrent twin still meets the constraint on save.
    if BlendedBenchmark.objects.filter(name=blend.name).exclude(pk=blend.pk).exists():
        raise ValidationError({"name": [TAKEN]})
    blend.full_clean()
    try:
        with transaction.atomic():
            blend.save()
    except IntegrityError:
        raise ValidationError({"name": [TAKEN]}) from None


@transaction.atomic
def blend_create(
    *, actor: Any, name: str, rebalance: str, components: Sequence[tuple[str, Decimal]]
) -> BlendedBenchmark:
    """A new blend of ``components`` ((index symbol, weight in percent), weights adding up to 100)."""
    checked = _check_components(components)
    blend = BlendedBenchmark(name=name.strip(), rebalance=rebalance, created_by=_user(actor))
    _save_blend(blend)
    _save_components(blend, checked)
    return blend


@transaction.atomic
def blend_update(
    *, actor: Any, blend: BlendedBenchmark, name: str, rebalance: str, components: Sequence[tuple[str, Decimal]]
) -> BlendedBenchmark:
    """Rename, re-weight or change the rebalancing of ``blend`` (its components replaced as a whole)."""
    blend = BlendedBenchmark.objects.select_for_update().get(pk=blend.pk)
    checked = _check_components(components)
    blend.name, blend.rebalance = name.strip(), rebalance
    _save_blend(blend)
    for component in BlendComponent.objects.filter(blend=blend):
        component.delete()  # one by one: each deletion is audited
    _save_components(blend, checked)
    return blend


@transaction.atomic
def blend_delete(*, actor: Any, blend: BlendedBenchmark) -> None:
    """Delete ``blend`` and its components (nothing else refers to a blend: reports read it by id)."""
    for component in BlendComponent.objects.filter(blend=blend):
        component.delete()
    blend.delete()
