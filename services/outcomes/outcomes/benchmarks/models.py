"""The library of published results that real-world cohorts are compared with.

One row is one published figure. The comparison finds the real-world figure to set beside it from
the row's endpoint kind, threshold and horizon alone, so a new study is added in the admin with no
code.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models


class EndpointKind(models.TextChoices):
    NRS_RESPONDERS = (
        "nrs_responders",
        "Responders: NRS reduced by at least the threshold (%) at the horizon",
    )
    NRS_POINTS = "nrs_points", "NRS reduced by at least the threshold (points) at the horizon"
    ODI_POINTS = "odi_points", "ODI reduced by at least the threshold (points) at the horizon"
    KM_DURABILITY = (
        "km_durability",
        "Kaplan-Meier: proportion still keeping at least the threshold (%) of relief",
    )
    KM_TIME_TO_RELIEF = (
        "km_time_to_relief",
        "Kaplan-Meier: proportion that has reached the threshold (%) of relief",
    )
    NOT_COMPARABLE = "not_comparable", "Context only: no figure a cohort can be compared with"


COMPARABLE_KINDS = frozenset(
    {
        EndpointKind.NRS_RESPONDERS,
        EndpointKind.NRS_POINTS,
        EndpointKind.ODI_POINTS,
        EndpointKind.KM_DURABILITY,
        EndpointKind.KM_TIME_TO_RELIEF,
    }
)


class Benchmark(models.Model):
    key = models.SlugField(max_length=64, unique=True, help_text="e.g. kim2010-prolo")
    study = models.CharField(max_length=64, help_text="Groups the figures of one study.")
    citation = models.CharField(max_length=300)
    design = models.CharField(max_length=120, help_text="e.g. RCT arm, prospective cohort.")
    n = models.PositiveIntegerField(null=True, blank=True, help_text="Patients behind the figure.")
    intervention = models.CharField(max_length=300)
    endpoint = models.CharField(max_length=300, help_text="The endpoint in the study's words.")
    endpoint_kind = models.CharField(max_length=24, choices=EndpointKind.choices)
    threshold = models.FloatField(
        null=True,
        blank=True,
        help_text="Percent for responders and Kaplan-Meier kinds; points for NRS and ODI points.",
    )
    horizon_months = models.FloatField(null=True, blank=True)
    figure = models.FloatField(null=True, blank=True, help_text="Percent of patients.")
    ci_low = models.FloatField(null=True, blank=True, help_text="Published 95 % interval, percent.")
    ci_high = models.FloatField(null=True, blank=True)
    responders = models.PositiveIntegerField(
        null=True, blank=True, help_text="Raw count behind the figure, where known."
    )
    notes = models.TextField(blank=True)
    source = models.CharField(max_length=200, blank=True, help_text="Where the figure was read.")

    class Meta:
        ordering = ["study", "horizon_months", "key"]

    def __str__(self) -> str:
        return self.key

    @property
    def is_comparable(self) -> bool:
        return (
            self.endpoint_kind in COMPARABLE_KINDS
            and self.figure is not None
            and self.horizon_months is not None
            and self.threshold is not None
        )

    def clean(self) -> None:
        if self.endpoint_kind in COMPARABLE_KINDS:
            missing = [
                name
                for name in ("threshold", "horizon_months", "figure")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValidationError(
                    {name: "Needed to compare a cohort with this figure." for name in missing}
                )
        if (self.ci_low is None) != (self.ci_high is None):
            raise ValidationError("Give both ends of the interval, or neither.")
        if self.responders is not None and (self.n is None or self.responders > self.n):
            raise ValidationError({"responders": "Cannot exceed n (and needs n)."})
