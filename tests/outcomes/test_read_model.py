from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from helpers import T0, Clinic, deliver, envelope

from outcomes.analytics.cohorts import CohortFilter
from outcomes.analytics.selectors import cohort_curve
from outcomes.readmodel.models import (
    Course,
    CourseCoTreatment,
    Entry,
    ErasedPatient,
    Injection,
    Observation,
    ObservationKind,
    Patient,
    Prompt,
)

pytestmark = pytest.mark.django_db


def _course(patient_id: uuid.UUID) -> Course:
    return Course.objects.get(patient_id=patient_id)


def _placed(patient_id: uuid.UUID) -> list[tuple[int | None, float]]:
    return list(
        Observation.objects.filter(patient_id=patient_id, deleted=False, kind=ObservationKind.NRS)
        .order_by("occurred_at")
        .values_list("day", "value")
    )


def test_enrolment_records_the_patients_cohort_attributes() -> None:
    clinic = Clinic()
    patient = clinic.enrol(sex="male", birth_year=1961, timezone="America/New_York")
    stored = Patient.objects.get(patient_id=patient)
    assert (stored.clinic_id, stored.sex, stored.birth_year, stored.timezone) == (
        clinic.clinic_id,
        "male",
        1961,
        "America/New_York",
    )


def test_a_course_takes_its_baseline_from_the_last_nrs_before_the_first_injection() -> None:
    clinic = Clinic()
    patient = clinic.enrol(birth_year=1980)
    clinic.log(patient, T0 - timedelta(days=10), 5)
    clinic.log(patient, T0 - timedelta(hours=2), 7)
    clinic.inject(patient, T0, co_treatments=["physiotherapy"])
    clinic.log(patient, T0 + timedelta(days=7), 6)
    course = _course(patient)
    assert course.baseline_nrs == 7
    assert course.age_band == "40_49"
    assert course.first_injection_date == T0.date()
    assert list(CourseCoTreatment.objects.values_list("code", flat=True)) == ["physiotherapy"]
    # The pre-injection scores belong to no course; the later one is day 7 of this one.
    assert _placed(patient) == [(None, 5), (None, 7), (7, 6)]


def test_a_score_older_than_the_lookback_is_not_a_baseline() -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    clinic.log(patient, T0 - timedelta(days=91), 7)
    clinic.inject(patient, T0)
    assert _course(patient).baseline_nrs is None


def test_days_count_calendar_days_in_the_patients_time_zone() -> None:
    clinic = Clinic()
    patient = clinic.enrol(timezone="Australia/Sydney")
    # 22:00 UTC on the 6th is 09:00 on the 7th in Sydney; 12:00 UTC on the 7th is 23:00 there.
    injected = T0.replace(hour=22)
    clinic.inject(patient, injected)
    clinic.log(patient, injected + timedelta(hours=14), 4)
    clinic.log(patient, injected + timedelta(hours=16), 4)
    assert [day for day, _ in _placed(patient)] == [0, 1]


def test_a_corrected_entry_replaces_its_score_and_a_deleted_one_leaves_the_analysis() -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    baseline = clinic.log(patient, T0 - timedelta(days=1), 8)
    clinic.inject(patient, T0)
    later = clinic.log(patient, T0 + timedelta(days=14), 6)
    clinic.correct_entry(later, nrs=3)
    assert _placed(patient) == [(None, 8), (14, 3)]
    clinic.correct_entry(baseline, nrs=6)
    assert _course(patient).baseline_nrs == 6
    clinic.delete_entry(baseline)
    assert _course(patient).baseline_nrs is None
    clinic.delete_entry(later)
    assert _placed(patient) == []


def test_a_correction_that_arrives_before_the_original_is_not_overwritten_by_it() -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    clinic.inject(patient, T0)
    data = clinic.entry_data(patient, T0 + timedelta(days=3), 7)
    logged = envelope("diary.entry.logged", data)
    corrected = envelope("diary.entry.corrected", {**data, "nrs": 4, "changed": ["nrs"]})
    deliver(corrected)
    deliver(logged)
    assert _placed(patient) == [(3, 4)]


def test_a_deletion_before_the_entry_arrives_keeps_it_deleted() -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    clinic.inject(patient, T0)
    data = clinic.entry_data(patient, T0 + timedelta(days=3), 7)
    logged = envelope("diary.entry.logged", data)
    clinic.delete_entry(data)
    deliver(logged)
    assert _placed(patient) == []
    assert Entry.objects.get(entry_id=data["entry_id"]).deleted


def test_a_redelivered_event_changes_nothing() -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    clinic.inject(patient, T0)
    body = envelope("diary.entry.logged", clinic.entry_data(patient, T0 + timedelta(days=1), 5))
    assert deliver(body) is True
    assert deliver(body) is False
    assert Observation.objects.filter(patient_id=patient).count() == 1


def test_correcting_the_first_injection_moves_every_score_of_the_course() -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    data = clinic.inject(patient, T0)
    clinic.log(patient, T0 + timedelta(days=10), 5)
    moved = {**data, "injected_at": (T0 + timedelta(days=3)).isoformat().replace("+00:00", "Z")}
    deliver(envelope("diary.injection.corrected", {**moved, "changed": ["injected_at"]}))
    assert _placed(patient) == [(7, 5)]
    assert _course(patient).first_injection_date == (T0 + timedelta(days=3)).date()


def test_deleting_the_first_injection_starts_the_course_at_the_second() -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    course_id = uuid.uuid4()
    first = clinic.inject(patient, T0, course_id=course_id, site="iliolumbar")
    clinic.inject(patient, T0 + timedelta(days=14), course_id=course_id, site="lumbosacral")
    clinic.log(patient, T0 + timedelta(days=7), 6)
    clinic.log(patient, T0 + timedelta(days=21), 4)
    deliver(
        envelope(
            "diary.injection.deleted",
            {k: first[k] for k in ("injection_id", "patient_id", "clinic_id", "course_id")},
        )
    )
    course = _course(patient)
    assert (course.injection_count, course.site) == (1, "lumbosacral")
    # The day-7 score now comes before the course: it is its baseline.
    assert course.baseline_nrs == 6
    assert _placed(patient) == [(None, 6), (7, 4)]


def test_deleting_every_injection_of_a_course_removes_the_course() -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    data = clinic.inject(patient, T0)
    clinic.log(patient, T0 + timedelta(days=7), 6)
    deliver(
        envelope(
            "diary.injection.deleted",
            {k: data[k] for k in ("injection_id", "patient_id", "clinic_id", "course_id")},
        )
    )
    assert not Course.objects.filter(patient_id=patient).exists()
    assert _placed(patient) == [(None, 6)]


def test_a_second_course_takes_the_scores_after_its_first_injection() -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    clinic.log(patient, T0 - timedelta(days=1), 8)
    clinic.inject(patient, T0)
    clinic.log(patient, T0 + timedelta(days=200), 6)
    clinic.inject(patient, T0 + timedelta(days=210))
    clinic.log(patient, T0 + timedelta(days=217), 3)
    first, second = Course.objects.filter(patient_id=patient).order_by("first_injected_at")
    assert (first.baseline_nrs, second.baseline_nrs) == (8, 6)
    refs = list(
        Observation.objects.filter(patient_id=patient)
        .order_by("occurred_at")
        .values_list("course_ref", "day")
    )
    assert refs == [(None, None), (first.pk, 200), (second.pk, 7)]


def test_questionnaires_become_observations_of_their_instrument() -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    clinic.questionnaire(patient, T0 - timedelta(days=2), "odi", 44.0, section_scores=[3] * 10)
    clinic.inject(patient, T0)
    clinic.questionnaire(patient, T0 + timedelta(days=30), "odi", 30.0)
    clinic.questionnaire(patient, T0 + timedelta(days=30), "pgic", 2)
    clinic.questionnaire(patient, T0 + timedelta(days=31), "nrs", 3)
    assert _course(patient).baseline_odi == 44.0
    kinds = sorted(
        Observation.objects.filter(patient_id=patient, day__isnull=False).values_list(
            "kind", "value"
        )
    )
    assert kinds == [(ObservationKind.NRS, 3), (ObservationKind.ODI, 30), (ObservationKind.PGIC, 2)]


def test_diary_events_before_the_enrolment_are_placed_once_the_patient_arrives() -> None:
    clinic = Clinic()
    patient = uuid.uuid4()
    clinic.inject(patient, T0)
    clinic.log(patient, T0 + timedelta(hours=20), 5)
    clinic.enrol(patient, timezone="Pacific/Auckland", sex="male")
    # 10:00 UTC + 20 h is the next calendar day in Auckland but not in UTC.
    assert _placed(patient) == [(1, 5)]
    assert _course(patient).sex == "male"


def test_erasure_removes_the_patient_and_ignores_later_events() -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    clinic.inject(patient, T0)
    entry = clinic.entry_data(patient, T0 + timedelta(days=1), 5)
    late = envelope("diary.entry.logged", entry)
    clinic.prompt(patient, T0 + timedelta(days=1), answered=True)
    deliver(
        envelope(
            "identity.patient.erased",
            {"patient_id": str(patient), "clinic_id": str(clinic.clinic_id)},
        )
    )
    deliver(late)
    for model in (Patient, Course, Injection, Entry, Observation, Prompt):
        assert not model.objects.filter(patient_id=patient).exists(), model
    assert ErasedPatient.objects.filter(patient_id=patient).exists()


def test_a_move_to_another_clinic_moves_the_patients_rows() -> None:
    clinic, other = Clinic(), Clinic()
    patient = clinic.enrol()
    clinic.inject(patient, T0)
    clinic.log(patient, T0 + timedelta(days=1), 5)
    deliver(
        envelope(
            "identity.patient.updated",
            {
                "patient_id": str(patient),
                "clinic_id": str(other.clinic_id),
                "timezone": "Europe/London",
                "locale": "en-GB",
                "sex": "female",
                "birth_year": 1970,
                "changed": ["clinic_id"],
            },
        )
    )
    assert _course(patient).clinic_id == other.clinic_id
    assert set(
        Observation.objects.filter(patient_id=patient).values_list("clinic_id", flat=True)
    ) == {other.clinic_id}


def test_the_analysis_sees_corrected_and_deleted_scores(
    django_capture_on_commit_callbacks: Any,
) -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    with django_capture_on_commit_callbacks(execute=True):
        clinic.log(patient, T0 - timedelta(days=1), 8)
        clinic.inject(patient, T0, solution="dextrose_25")
        first = clinic.log(patient, T0 + timedelta(days=7), 6)
        second = clinic.log(patient, T0 + timedelta(days=14), 4)

    def weeks() -> list[tuple[int, float]]:
        cohort = CohortFilter(solution=("dextrose_25",))
        points = cohort_curve(clinic_id=clinic.clinic_id, cohort=cohort)["nrs_percent_change"]
        return [(p["week"], p["median"]) for p in points]

    assert weeks() == [(1, 25.0), (2, 50.0)]
    with django_capture_on_commit_callbacks(execute=True):
        clinic.correct_entry(first, nrs=2)
        clinic.delete_entry(second)
    assert weeks() == [(1, 75.0)]
    course = _course(patient)
    assert (course.solution, course.dextrose_percent) == ("dextrose", 25.0)


def test_each_course_keeps_the_key_of_its_cohort_attributes_through_corrections() -> None:
    from outcomes.analytics import frame as frames

    clinic = Clinic()
    first, second = clinic.enrol(sex="female"), clinic.enrol(sex="female")
    data = clinic.inject(first, T0, site="sij_intra_articular")
    clinic.inject(second, T0, site="sij_intra_articular")
    a, b = _course(first), _course(second)
    assert a.cohort_key == b.cohort_key != 0
    corrected = {**data, "site": "iliolumbar", "changed": ["site"]}
    deliver(envelope("diary.injection.corrected", corrected))
    moved = _course(first)
    assert moved.cohort_key not in (0, b.cohort_key)
    # The analysis reads the keys (no fallback to the plain fetch) and splits by them.
    courses = frames._courses_copy(clinic.clinic_id)
    assert courses is not None
    codes, sites = courses.attributes["site"]
    assert sorted(sites) == ["iliolumbar", "sij_intra_articular"]
    assert codes.tolist() == [sites["iliolumbar"], sites["sij_intra_articular"]]
