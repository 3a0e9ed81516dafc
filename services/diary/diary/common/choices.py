from __future__ import annotations

from django.db import models

from shared.vocabulary import CoTreatment

__all__ = ["CoTreatment", "code_set"]


def code_set(choices: type[models.TextChoices]) -> frozenset[str]:
    return frozenset(str(value) for value in choices.values)
