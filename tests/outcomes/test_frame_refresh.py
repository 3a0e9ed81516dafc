"""After events change a few courses, a worker reads again only those rows, and the frame it
builds is the one a full load would give. These need committed rows (revisions are per
transaction), so each test commits its own data."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from django.core.cache import cache
from helpers import T0, Clinic, deliver, envelope

from outcomes.analytics import frame as frames
from outcomes.analytics.cache import clinic_version
from outcomes.analytics.cohorts import CohortFilter
from outcomes.analytics.selectors import cohort_curve, cohort_responders, cohort_survival
from outcomes.readmodel.models import Course

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _clinic(patients: int) -> tuple[Clinic, list[uuid.UUID], list[dict[str, Any]]]:
    clinic = Clinic()
    enrolled, injections = [], []
    for i in range(patients):
        patient = clinic.enrol(sex=("female", "male")[i % 2])
        clinic.log(patient, T0 - timedelta(days=2), 8)
        injections.append(
            clinic.inject(patient, T0, site=("sij_intra_articular", "iliolumbar")[i % 2])
        )
        for week in range(1, 8):
            clinic.log(patient, T0 + timedelta(days=7 * week + i % 3), (8 - week // 2 + i) % 11)
        clinic.questionnaire(patient, T0 - timedelta(days=1), "odi", 40.0)
        clinic.questionnaire(patient, T0 + timedelta(days=90), "odi", 20.0 + i)
        enrolled.append(patient)
    return clinic, enrolled, injections


def _courses_of(*patients: uuid.UUID) -> set[int]:
    return set(Course.objects.filter(patient_id__in=patients).values_list("pk", flat=True))


def _same_frame(mine: frames.ClinicFrame, theirs: frames.ClinicFrame) -> None:
    assert np.array_equal(mine.course_pk, theirs.course_pk)
    same_patient = mine.patient_index[:, None] == mine.patient_index[None, :]
    assert np.array_equal(same_patient, theirs.patient_index[:, None] == theirs.patient_index)
    for name in ("first_date", "baseline_nrs", "baseline_odi", "dextrose_percent"):
        assert np.array_equal(getattr(mine, name), getattr(theirs, name), equal_nan=True), name
    assert np.array_equal(mine.last_injection_day, theirs.last_injection_day)
    assert np.array_equal(mine.revision, theirs.revision)
    for name, (codes, lookup) in theirs.attributes.items():
        my_codes, my_lookup = mine.attributes[name]
        for value, code in lookup.items():
            assert np.array_equal(my_codes == my_lookup[value], codes == code), (name, value)
    assert {k: v.tolist() for k, v in mine.co_treatments.items() if v.any()} == {
        k: v.tolist() for k, v in theirs.co_treatments.items() if v.any()
    }
    for instrument in ("nrs", "odi"):
        for name in ("course", "day", "score", "starts", "ends"):
            assert np.array_equal(
                getattr(getattr(mine, instrument), name), getattr(getattr(theirs, instrument), name)
            ), (instrument, name)


def _reads(monkeypatch: pytest.MonkeyPatch) -> list[list[int] | None]:
    """The course ids each COPY of course rows asked for (None: the whole clinic)."""
    asked: list[list[int] | None] = []
    real = frames._courses_copy

    def spy(clinic_id: uuid.UUID, only: Any = None) -> Any:
        asked.append(None if only is None else sorted(only.tolist()))
        return real(clinic_id, only=only)

    monkeypatch.setattr(frames, "_courses_copy", spy)
    return asked


def test_after_events_only_the_changed_courses_are_read_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clinic, patients, injections = _clinic(8)
    held = frames.frame_load(clinic.clinic_id, 1)
    assert held.revision is not None
    # A new score, a site corrected, a score deleted, a co-treatment logged without a score,
    # a new patient, and a patient erased.
    clinic.log(patients[0], T0 + timedelta(days=100), 2)
    corrected = {**injections[1], "site": "sacroiliac_posterior", "changed": ["site"]}
    deliver(envelope("diary.injection.corrected", corrected))
    deleted = clinic.log(patients[2], T0 + timedelta(days=60), 9)
    clinic.delete_entry(deleted)
    clinic.log(patients[3], T0 + timedelta(days=20), None, co_treatments=["physiotherapy"])
    newcomer = clinic.enrol()
    clinic.inject(newcomer, T0 + timedelta(days=3), site="sacroiliac_posterior")
    clinic.log(newcomer, T0 + timedelta(days=10), 4)
    erased = {"patient_id": str(patients[4]), "clinic_id": str(clinic.clinic_id)}
    deliver(envelope("identity.patient.erased", erased))
    touched = _courses_of(*patients[:4], newcomer)

    asked = _reads(monkeypatch)
    refreshed = frames.frame_refresh(held, 2)
    assert refreshed is not None
    (read,) = asked
    assert read is not None
    assert _courses_of(patients[0], newcomer) <= set(read) <= touched
    monkeypatch.undo()
    _same_frame(refreshed, frames.frame_load(clinic.clinic_id, 2))
    assert refreshed.attribute_in("site", ["sacroiliac_posterior"]).sum() == 2
    assert refreshed.co_treatments["physiotherapy"].sum() == 1
    assert refreshed.courses == held.courses


def test_without_changes_a_refresh_reads_no_course_row(monkeypatch: pytest.MonkeyPatch) -> None:
    clinic, _, _ = _clinic(3)
    held = frames.frame_load(clinic.clinic_id, 1)
    asked = _reads(monkeypatch)
    refreshed = frames.frame_refresh(held, 2)
    assert refreshed is not None
    assert asked == []
    _same_frame(refreshed, held)


def test_when_most_courses_changed_the_clinic_is_loaded_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clinic, patients, _ = _clinic(4)
    cohort_curve(clinic_id=clinic.clinic_id, cohort=CohortFilter())  # held by this process
    for patient in patients[:3]:
        clinic.log(patient, T0 + timedelta(days=120), 1)
    asked = _reads(monkeypatch)
    points = cohort_curve(clinic_id=clinic.clinic_id, cohort=CohortFilter())["nrs_percent_change"]
    assert asked == [None]
    assert points[-1]["week"] == 17


def test_the_figures_after_an_event_are_those_of_a_fresh_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clinic, patients, _ = _clinic(8)
    everyone, women = CohortFilter(), CohortFilter(sex=("female",))

    def figures() -> list[dict[str, Any]]:
        return [
            analysis(clinic_id=clinic.clinic_id, cohort=cohort)
            for cohort in (everyone, women)
            for analysis in (cohort_curve, cohort_responders, cohort_survival)
        ]

    figures()  # this process now holds the clinic's frame
    before = clinic_version(clinic.clinic_id)
    clinic.log(patients[5], T0 + timedelta(days=95), 0)  # committed: the version moves on
    assert clinic_version(clinic.clinic_id) > before
    asked = _reads(monkeypatch)
    refreshed = figures()
    assert asked == [sorted(_courses_of(patients[5]))]
    monkeypatch.undo()
    cache.clear()
    frames.frames_forget()
    assert refreshed == figures()
