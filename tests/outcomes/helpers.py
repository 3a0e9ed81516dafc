"""Events as the other services publish them, delivered to outcomes' handlers; and bulk cohorts
written straight into the read model for the statistical tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from django.db import transaction
from rest_framework.test import APIClient

from outcomes.readmodel.derive import cohort_key, series_rebuild
from outcomes.readmodel.models import (
    COHORT_ATTRIBUTES,
    Course,
    Observation,
    ObservationKind,
    Patient,
)
from shared.events.catalogue import utc_isoformat, validate_envelope
from shared.events.services import event_handle
from shared.testing.tokens import access_token

PRODUCERS = {"identity": "identity", "diary": "diary", "reminders": "reminders"}
T0 = datetime(2025, 1, 6, 10, 0, tzinfo=UTC)

_clock = [datetime(2025, 1, 1, tzinfo=UTC)]


def _next_moment() -> datetime:
    # Each event is a little newer than the last, as the producers' clocks would make them.
    _clock[0] += timedelta(seconds=1)
    return _clock[0]


def envelope(
    type: str, data: dict[str, Any], *, occurred_at: datetime | None = None
) -> dict[str, Any]:
    body = {
        "id": str(uuid.uuid4()),
        "type": type,
        "version": 1,
        "occurred_at": utc_isoformat(occurred_at or _next_moment()),
        "producer": type.split(".")[0],
        "subject": data["patient_id"],
        "data": data,
    }
    validate_envelope(body)
    return body


def deliver(body: dict[str, Any]) -> bool:
    """Hand one envelope to outcomes as its worker would; True if it was handled now."""
    handled = event_handle(envelope=body)
    return handled


def _iso(moment: datetime) -> str:
    return utc_isoformat(moment)


@dataclass
class Clinic:
    """Builds and delivers the events of one clinic's patients."""

    clinic_id: uuid.UUID = field(default_factory=uuid.uuid4)

    def enrol(
        self,
        patient_id: uuid.UUID | None = None,
        *,
        timezone: str = "Europe/London",
        sex: str = "female",
        birth_year: int | None = 1970,
        deliver_now: bool = True,
    ) -> uuid.UUID:
        patient_id = patient_id or uuid.uuid4()
        body = envelope(
            "identity.patient.enrolled",
            {
                "patient_id": str(patient_id),
                "clinic_id": str(self.clinic_id),
                "timezone": timezone,
                "locale": "en-GB",
                "sex": sex,
                "birth_year": birth_year,
                "enrolled_at": _iso(T0 - timedelta(days=30)),
            },
        )
        if deliver_now:
            deliver(body)
        return patient_id

    def injection_data(
        self,
        patient_id: uuid.UUID,
        injected_at: datetime,
        *,
        injection_id: uuid.UUID | None = None,
        course_id: uuid.UUID | None = None,
        site: str | None = "sij_intra_articular",
        solution: str | None = "dextrose",
        protocol: str | None = "kim2010_intra_articular_sij",
        laterality: str | None = "left",
        guidance: str | None = "fluoroscopy",
        diagnosis: str | None = "sij_dysfunction",
        co_treatments: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "injection_id": str(injection_id or uuid.uuid4()),
            "patient_id": str(patient_id),
            "clinic_id": str(self.clinic_id),
            "course_id": str(course_id or uuid.uuid4()),
            "injected_at": _iso(injected_at),
            "site": site,
            "laterality": laterality,
            "solution": solution,
            "guidance": guidance,
            "protocol": protocol,
            "diagnosis": diagnosis,
        }
        if co_treatments is not None:
            data["co_treatments"] = list(co_treatments)
        return data

    def inject(self, patient_id: uuid.UUID, injected_at: datetime, **kwargs: Any) -> dict[str, Any]:
        data = self.injection_data(patient_id, injected_at, **kwargs)
        deliver(envelope("diary.injection.recorded", data))
        return data

    def entry_data(
        self,
        patient_id: uuid.UUID,
        recorded_at: datetime,
        nrs: int | None,
        *,
        entry_id: uuid.UUID | None = None,
        nsaid: bool = False,
        side_effects: Sequence[str] = (),
        red_flag: bool = False,
        co_treatments: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "entry_id": str(entry_id or uuid.uuid4()),
            "patient_id": str(patient_id),
            "clinic_id": str(self.clinic_id),
            "recorded_at": _iso(recorded_at),
            "nrs": nrs,
            "prompt_id": None,
            "nsaid": nsaid,
            "side_effects": list(side_effects),
            "red_flag": red_flag,
        }
        if co_treatments is not None:
            data["co_treatments"] = list(co_treatments)
        return data

    def log(
        self, patient_id: uuid.UUID, recorded_at: datetime, nrs: int | None, **kwargs: Any
    ) -> dict[str, Any]:
        data = self.entry_data(patient_id, recorded_at, nrs, **kwargs)
        deliver(envelope("diary.entry.logged", data))
        return data

    def correct_entry(self, data: dict[str, Any], **changes: Any) -> dict[str, Any]:
        corrected = {**data, **{k: v for k, v in changes.items()}}
        if "recorded_at" in changes:
            corrected["recorded_at"] = _iso(changes["recorded_at"])
        corrected["changed"] = sorted(changes)
        deliver(envelope("diary.entry.corrected", corrected))
        corrected.pop("changed")
        return corrected

    def delete_entry(self, data: dict[str, Any]) -> None:
        deliver(
            envelope(
                "diary.entry.deleted",
                {k: data[k] for k in ("entry_id", "patient_id", "clinic_id")},
            )
        )

    def questionnaire(
        self,
        patient_id: uuid.UUID,
        completed_at: datetime,
        instrument: str,
        score: float,
        *,
        section_scores: list[int | None] | None = None,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "response_id": str(uuid.uuid4()),
            "patient_id": str(patient_id),
            "clinic_id": str(self.clinic_id),
            "instrument": instrument,
            "completed_at": _iso(completed_at),
            "score": score,
            "prompt_id": None,
        }
        if section_scores is not None:
            data["section_scores"] = section_scores
        deliver(envelope("diary.questionnaire.completed", data))
        return data

    def prompt_answered_unsent(
        self, patient_id: uuid.UUID, due_at: datetime, *, says_when_due: bool = True
    ) -> uuid.UUID:
        """A prompt answered without ever being sent (planned after its window had closed, then
        answered by an entry made inside it): reminders publishes only its answer, which says
        when it was due (``says_when_due`` False: as it did before it carried that)."""
        prompt_id = uuid.uuid4()
        data = {
            "prompt_id": str(prompt_id),
            "patient_id": str(patient_id),
            "clinic_id": str(self.clinic_id),
            "answered_at": _iso(due_at + timedelta(hours=1)),
            "answer_id": None,
        }
        if says_when_due:
            data["due_at"] = _iso(due_at)
        deliver(envelope("reminders.prompt.answered", data))
        return prompt_id

    def prompt(
        self,
        patient_id: uuid.UUID,
        due_at: datetime,
        *,
        answered: bool,
        prompt_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        """A prompt sent and then answered or left to expire."""
        prompt_id = prompt_id or uuid.uuid4()
        ref = {
            "prompt_id": str(prompt_id),
            "patient_id": str(patient_id),
            "clinic_id": str(self.clinic_id),
        }
        deliver(
            envelope(
                "reminders.prompt.sent",
                {
                    **ref,
                    "injection_id": None,
                    "kind": "flare",
                    "due_at": _iso(due_at),
                    "sent_at": _iso(due_at),
                    "expires_at": _iso(due_at + timedelta(hours=12)),
                    "channel": "console",
                },
            )
        )
        if answered:
            deliver(
                envelope(
                    "reminders.prompt.answered",
                    {**ref, "answered_at": _iso(due_at + timedelta(hours=1)), "answer_id": None},
                )
            )
        else:
            deliver(
                envelope(
                    "reminders.prompt.expired",
                    {
                        **ref,
                        "due_at": _iso(due_at),
                        "expired_at": _iso(due_at + timedelta(hours=12)),
                    },
                )
            )
        return prompt_id


# --- Bulk cohorts for the statistics -------------------------------------------------------------


@dataclass
class BulkCourse:
    """A course as the read model derives it, written directly (no events) for speed."""

    baseline: float | None
    observations: list[tuple[int, float]]  # (day, NRS) in time order
    first: date = date(2024, 1, 8)
    last_injection_day: int = 28
    injections: int = 3
    odi_baseline: float | None = None
    odi: list[tuple[int, float]] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)


def bulk_cohort(clinic_id: uuid.UUID, courses: Iterable[BulkCourse]) -> list[Course]:
    """Write courses and their observations straight into the read model tables."""
    made = []
    with transaction.atomic():
        rows = []
        for spec in courses:
            patient_id = uuid.uuid4()
            Patient.objects.create(
                patient_id=patient_id, clinic_id=clinic_id, version=T0, timezone="UTC"
            )
            start = datetime(spec.first.year, spec.first.month, spec.first.day, 9, tzinfo=UTC)
            attributes = {
                **{name: "" for name in COHORT_ATTRIBUTES},
                "sex": "unknown",
                "age_band": "unknown",
                "site": "sij_intra_articular",
                "solution": "dextrose",
                "protocol": "kim2010_intra_articular_sij",
                **spec.attributes,
            }
            course = Course.objects.create(
                course_id=uuid.uuid4(),
                patient_id=patient_id,
                clinic_id=clinic_id,
                first_injected_at=start,
                first_injection_date=spec.first,
                last_injection_day=spec.last_injection_day,
                injection_count=spec.injections,
                baseline_nrs=spec.baseline,
                baseline_odi=spec.odi_baseline,
                cohort_key=cohort_key(attributes),
                **attributes,
            )
            made.append(course)
            for kind, series in (
                (ObservationKind.NRS, spec.observations),
                (ObservationKind.ODI, spec.odi),
            ):
                for order, (day, value) in enumerate(series):
                    rows.append(
                        Observation(
                            source_id=uuid.uuid4(),
                            kind=kind,
                            patient_id=patient_id,
                            clinic_id=clinic_id,
                            occurred_at=start + timedelta(days=day, minutes=order),
                            value=value,
                            course_ref=course.pk,
                            day=day,
                            version=T0,
                        )
                    )
        Observation.objects.bulk_create(rows, batch_size=2000)
        series_rebuild(course_pks=[course.pk for course in made])
    return made


def durability_cohort(
    rng: np.random.Generator,
    n: int,
    keep_at_15_months: float,
    *,
    follow_up_days: int = 730,
) -> list[BulkCourse]:
    """Courses of Kim 2010's schedule (injections on days 0, 14, 28; assessed from day 42) whose
    share still keeping >= 50 % relief at 15 months is about ``keep_at_15_months``.

    80 % have relief at the first assessment; relief is then lost at a constant rate chosen to
    hit the target at day 457. Scores are monthly; some patients stop reporting early.
    """
    relieved_at_start = 0.8
    rate = -np.log(keep_at_15_months / relieved_at_start) / (457 - 42)
    courses = []
    for _ in range(n):
        baseline = 7.0
        relieved = rng.random() < relieved_at_start
        loses_at = 42 + rng.exponential(1 / rate) if relieved else 42
        stops_at = follow_up_days if rng.random() < 0.85 else int(rng.integers(120, 600))
        days = [7, 14, 21, 28, *range(42, stops_at + 1, 30)]
        series = []
        for day in days:
            good = day >= 42 and day < loses_at
            series.append((day, 2.0 if good else 6.0))
        courses.append(BulkCourse(baseline=baseline, observations=series))
    return courses


# --- API clients ------------------------------------------------------------------------------


def clinician_client(clinic_id: uuid.UUID, user_id: uuid.UUID | None = None) -> APIClient:
    client = APIClient()
    token = access_token(user_id or uuid.uuid4(), roles=("clinician",), clinic_id=clinic_id)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def patient_client(patient_id: uuid.UUID, clinic_id: uuid.UUID) -> APIClient:
    client = APIClient()
    token = access_token(patient_id, roles=("patient",), clinic_id=clinic_id)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client
