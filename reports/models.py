"""Blended benchmarks (issue #19, point 1): a firm's mix of stored index series by weight, e.g.
60 % of an equity index and 40 % of a bond index, rebalanced to those weights at each period end.

The index series themselves (``portfolios.Benchmark`` and its daily levels) are global reference
data; a blend is the firm's own (``FirmOwnedModel``: row-level security, same-firm keys between
the blend and its components). Its levels are computed when read (``reports.benchmarks``), never
stored: a revised index level changes every blend that holds it at once.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from advisorportal.tenancy.models import FirmOwnedModel

HUNDRED = Decimal(100)


class Rebalance(models.TextChoices):
    DAILY = "daily", "Daily"
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"
    ANNUALLY = "annually", "Annually"


class BlendedBenchmark(FirmOwnedModel):
    """A weighted mix of index series; its components' weights add up to 100 % (``services``)."""

    name_fields = frozenset({"name"})

    name = models.CharField(max_length=100)
    rebalance = models.CharField(
        "rebalanced", max_length=12, choices=Rebalance.choices, default=Rebalance.MONTHLY,
        help_text="Back to the target weights at the close of each period's last day with levels.",
    )  # fmt: skip
    created_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["firm", "name"], name="reports_blend_name_uniq")]

    def __str__(self) -> str:
        return self.name


class BlendComponent(FirmOwnedModel):
    """One index series of a blend and its target weight, in percent (two decimal places)."""

    blend = models.ForeignKey(BlendedBenchmark, on_delete=models.CASCADE, related_name="components")
    benchmark = models.ForeignKey("portfolios.Benchmark", on_delete=models.PROTECT, related_name="+")
    weight = models.DecimalField(
        "weight (%)", max_digits=5, decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(HUNDRED)],
    )  # fmt: skip

    class Meta(FirmOwnedModel.Meta):
        ordering = ["-weight", "id"]
        constraints = [
            models.UniqueConstraint(fields=["firm", "blend", "benchmark"], name="reports_blend_component_uniq"),
            models.CheckConstraint(
                condition=models.Q(weight__gt=0, weight__lte=100), name="reports_blend_component_weight"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.weight} % {self.benchmark_id}"
