from __future__ import annotations

import uuid

import factory
from factory.django import DjangoModelFactory

from diary.patients.models import Patient


class PatientFactory(DjangoModelFactory[Patient]):
    """A patient the diary knows from identity's enrolment event."""

    class Meta:
        model = Patient

    id = factory.LazyFunction(uuid.uuid4)
    clinic_id = factory.LazyFunction(uuid.uuid4)
    timezone = "Europe/London"
