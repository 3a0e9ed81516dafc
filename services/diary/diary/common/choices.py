from __future__ import annotations

from django.db import models


class CoTreatment(models.TextChoices):
    """Treatments alongside the injections: prolotherapy helped in trials only in combination
    with them (Cochrane review, Dagenais 2007; seed 004), so cohorts must split by them."""

    PHYSIOTHERAPY = "physiotherapy", "Physiotherapy (incl. core and pelvic-floor strengthening)"
    EXERCISE = "exercise", "Exercise programme"
    MANIPULATION = "manipulation", "Spinal manipulation"
    SIJ_BELT = "sij_belt", "Sacroiliac belt"


def code_set(choices: type[models.TextChoices]) -> frozenset[str]:
    return frozenset(str(value) for value in choices.values)
