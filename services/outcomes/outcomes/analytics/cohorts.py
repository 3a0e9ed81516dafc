"""Cohort filters: which courses of the clinic an analysis covers.

Every filter but the dates takes one or more values and keeps courses matching any of them.
The clinic is never a filter: it is always the caller's (or, for the phone, the patient's).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import date
from typing import Any

import numpy as np
from django.db.models import Q, QuerySet

from outcomes.analytics.frame import _EPOCH, BoolArray, ClinicFrame
from outcomes.readmodel.models import CourseCoTreatment
from outcomes.readmodel.services import solution_split

# co_treatment=none keeps the courses with no co-treatment at all (prolotherapy alone).
NO_CO_TREATMENT = "none"


@dataclass(frozen=True)
class CohortFilter:
    site: tuple[str, ...] = ()
    laterality: tuple[str, ...] = ()
    solution: tuple[str, ...] = ()
    protocol: tuple[str, ...] = ()
    guidance: tuple[str, ...] = ()
    diagnosis: tuple[str, ...] = ()
    co_treatment: tuple[str, ...] = ()
    age_band: tuple[str, ...] = ()
    sex: tuple[str, ...] = ()
    first_injection_from: date | None = None
    first_injection_to: date | None = None

    @classmethod
    def attribute_names(cls) -> tuple[str, ...]:
        return tuple(
            f.name
            for f in fields(cls)
            if f.name not in ("co_treatment", "first_injection_from", "first_injection_to")
        )

    def params(self) -> dict[str, Any]:
        """The filters that are set, as plain JSON values (cache keys, echoed in results)."""
        out: dict[str, Any] = {}
        for name, value in asdict(self).items():
            if value in ((), None):
                continue
            out[name] = value.isoformat() if isinstance(value, date) else sorted(value)
        return out

    def _solutions(self) -> tuple[list[str], list[tuple[str, float]]]:
        """Solution filters: whole families ("dextrose") and concentrations ("dextrose_25")."""
        families, strengths = [], []
        for code in self.solution:
            family, percent = solution_split(code)
            if percent is None:
                families.append(family)
            else:
                strengths.append((family, percent))
        return families, strengths

    def mask(self, frame: ClinicFrame) -> BoolArray:
        keep = np.ones(frame.courses, dtype=bool)
        for name in self.attribute_names():
            values = getattr(self, name)
            if not values:
                continue
            if name == "solution":
                families, strengths = self._solutions()
                match = frame.attribute_in("solution", families)
                for family, percent in strengths:
                    match |= frame.attribute_in("solution", [family]) & (
                        frame.dextrose_percent == percent
                    )
                keep &= match
            else:
                keep &= frame.attribute_in(name, values)
        if self.co_treatment:
            any_of = np.zeros(frame.courses, dtype=bool)
            for code in self.co_treatment:
                if code == NO_CO_TREATMENT:
                    with_any = np.zeros(frame.courses, dtype=bool)
                    for flags in frame.co_treatments.values():
                        with_any |= flags
                    any_of |= ~with_any
                elif code in frame.co_treatments:
                    any_of |= frame.co_treatments[code]
            keep &= any_of
        if self.first_injection_from is not None:
            keep &= frame.first_date >= (self.first_injection_from - _EPOCH).days
        if self.first_injection_to is not None:
            keep &= frame.first_date <= (self.first_injection_to - _EPOCH).days
        return keep

    def filter_courses(self, courses: QuerySet[Any]) -> QuerySet[Any]:
        """The same filter in SQL, over a queryset of courses (exports)."""
        for name in self.attribute_names():
            values = getattr(self, name)
            if not values:
                continue
            if name == "solution":
                families, strengths = self._solutions()
                match = Q(solution__in=families)
                for family, percent in strengths:
                    match |= Q(solution=family, dextrose_percent=percent)
                courses = courses.filter(match)
            else:
                courses = courses.filter(**{f"{name}__in": values})
        if self.co_treatment:
            condition = Q()
            codes = [c for c in self.co_treatment if c != NO_CO_TREATMENT]
            if codes:
                condition |= Q(
                    pk__in=CourseCoTreatment.objects.filter(code__in=codes).values("course_id")
                )
            if NO_CO_TREATMENT in self.co_treatment:
                condition |= ~Q(pk__in=CourseCoTreatment.objects.values("course_id"))
            courses = courses.filter(condition)
        if self.first_injection_from is not None:
            courses = courses.filter(first_injection_date__gte=self.first_injection_from)
        if self.first_injection_to is not None:
            courses = courses.filter(first_injection_date__lte=self.first_injection_to)
        return courses
