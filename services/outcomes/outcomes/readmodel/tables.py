"""The two sets of diary-derived tables: the live ones, and the staging twins a resync fills."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from outcomes.readmodel import models


@dataclass(frozen=True)
class Tables:
    # Typed loosely on purpose: code written for either set uses each model's own manager and
    # fields, which the type checker cannot follow through the abstract bases.
    injection: Any
    entry: Any
    observation: Any
    course: Any
    co_treatment: Any

    def all(self) -> tuple[Any, ...]:
        # Children before parents, so deleting in this order never trips the foreign key.
        return (self.co_treatment, self.course, self.observation, self.entry, self.injection)


LIVE = Tables(
    injection=models.Injection,
    entry=models.Entry,
    observation=models.Observation,
    course=models.Course,
    co_treatment=models.CourseCoTreatment,
)

STAGING = Tables(
    injection=models.ResyncInjection,
    entry=models.ResyncEntry,
    observation=models.ResyncObservation,
    course=models.ResyncCourse,
    co_treatment=models.ResyncCourseCoTreatment,
)
