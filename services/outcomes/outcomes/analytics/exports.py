"""Exports: a cohort's observations as CSV (streamed), a patient's record as a FHIR R4 Bundle.

FHIR: NRS scores are Observations coded LOINC 72514-3; ODI, PGIC and RMDQ are
QuestionnaireResponses (ODI with its section scores, never the licensed item wording). The
Bundle is built as plain data and validated through fhir.resources' R4B models (R4B shares
R4's Bundle, Observation, QuestionnaireResponse and Patient).
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterator
from typing import Any

from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle

from outcomes.analytics.cohorts import CohortFilter
from outcomes.analytics.patients import clinic_patient_get, percent_change
from outcomes.readmodel.models import Course, Observation, ObservationKind

LOINC = "http://loinc.org"
NRS_LOINC = "72514-3"
NRS_LOINC_DISPLAY = "Pain severity - 0-10 verbal numeric rating [Score] - Reported"
QUESTIONNAIRE_BASE = "https://clinic-recovery.example/fhir/Questionnaire/"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

KIND_CODES = {
    ObservationKind.NRS: "nrs",
    ObservationKind.ODI: "odi",
    ObservationKind.PGIC: "pgic",
    ObservationKind.RMDQ: "rmdq",
}

CSV_COLUMNS = (
    "patient_id",
    "course_id",
    "measure",
    "occurred_at",
    "day",
    "week",
    "value",
    "baseline_nrs",
    "nrs_percent_change",
    "baseline_odi",
    "site",
    "laterality",
    "solution",
    "dextrose_percent",
    "guidance",
    "protocol",
    "diagnosis",
    "sex",
    "age_band",
    "injections",
)

# Cost of one export step: the observations of this many courses are read in one query.
CSV_COURSES_PER_QUERY = 500


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer's output."""

    def write(self, value: str) -> str:
        return value


def cohort_csv_rows(*, clinic_id: uuid.UUID, cohort: CohortFilter) -> Iterator[str]:
    """The cohort's observations, one CSV line at a time, courses in order."""
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    courses = cohort.filter_courses(Course.objects.filter(clinic_id=clinic_id)).order_by("id")
    last_pk = 0
    while True:
        chunk = {c.pk: c for c in courses.filter(pk__gt=last_pk)[:CSV_COURSES_PER_QUERY]}
        if not chunk:
            return
        last_pk = max(chunk)
        observations = (
            Observation.objects.filter(course_ref__in=list(chunk), deleted=False)
            .order_by("course_ref", "occurred_at", "id")
            .values_list("course_ref", "kind", "occurred_at", "day", "value")
        )
        for course_ref, kind, occurred_at, day, value in observations:
            course = chunk[course_ref]
            relief = (
                percent_change(course.baseline_nrs, value) if kind == ObservationKind.NRS else None
            )
            yield writer.writerow(
                (
                    course.patient_id,
                    course.course_id,
                    KIND_CODES.get(ObservationKind(kind), str(kind)),
                    occurred_at.isoformat(),
                    day,
                    "" if day is None else day // 7,
                    _plain(value),
                    _plain(course.baseline_nrs),
                    "" if relief is None else f"{relief:.4f}",
                    _plain(course.baseline_odi),
                    course.site,
                    course.laterality,
                    course.solution,
                    _plain(course.dextrose_percent),
                    course.guidance,
                    course.protocol,
                    course.diagnosis,
                    course.sex,
                    course.age_band,
                    course.injection_count,
                )
            )


def _plain(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


# --- FHIR -------------------------------------------------------------------------------------


def _urn(value: uuid.UUID | str) -> str:
    return f"urn:uuid:{value}"


def _nrs_observation(observation: Observation, subject: str) -> dict[str, Any]:
    value: dict[str, Any]
    if float(observation.value).is_integer():
        value = {"valueInteger": int(observation.value)}
    else:
        value = {
            "valueQuantity": {
                "value": observation.value,
                "unit": "score",
                "system": "http://unitsofmeasure.org",
                "code": "{score}",
            }
        }
    return {
        "resourceType": "Observation",
        "id": str(observation.source_id),
        "status": "final",
        "category": [
            {"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]}
        ],
        "code": {
            "coding": [{"system": LOINC, "code": NRS_LOINC, "display": NRS_LOINC_DISPLAY}],
            "text": "Pain score (NRS 0-10)",
        },
        "subject": {"reference": subject},
        "effectiveDateTime": observation.occurred_at.isoformat(),
        **value,
    }


_QUESTIONNAIRE_TEXT = {
    ObservationKind.ODI: "Oswestry Disability Index total (%)",
    ObservationKind.PGIC: "Patient Global Impression of Change (1 very much improved - 7)",
    ObservationKind.RMDQ: "Roland-Morris Disability Questionnaire total (0-24)",
}


def _questionnaire_response(observation: Observation, subject: str) -> dict[str, Any]:
    code = KIND_CODES[ObservationKind(observation.kind)]
    total: dict[str, Any] = (
        {"valueDecimal": observation.value}
        if observation.kind == ObservationKind.ODI
        else {"valueInteger": int(observation.value)}
    )
    items: list[dict[str, Any]] = [
        {
            "linkId": f"{code}-total",
            "text": _QUESTIONNAIRE_TEXT[ObservationKind(observation.kind)],
            "answer": [total],
        }
    ]
    if observation.kind == ObservationKind.ODI and observation.sections:
        for number, score in enumerate(observation.sections, start=1):
            item: dict[str, Any] = {"linkId": f"odi-section-{number}"}
            if score is not None:  # a skipped section has no answer
                item["answer"] = [{"valueInteger": int(score)}]
            items.append(item)
    return {
        "resourceType": "QuestionnaireResponse",
        "id": str(observation.source_id),
        "status": "completed",
        "questionnaire": QUESTIONNAIRE_BASE + code,
        "subject": {"reference": subject},
        "authored": observation.occurred_at.isoformat(),
        "item": items,
    }


def patient_fhir_bundle(*, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> dict[str, Any]:
    """The patient's scores as a FHIR R4 collection Bundle, validated before it is returned."""
    patient = clinic_patient_get(clinic_id=clinic_id, patient_id=patient_id)
    subject = _urn(patient.patient_id)
    patient_resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(patient.patient_id),
        "gender": patient.sex if patient.sex in ("female", "male", "other") else "unknown",
    }
    if patient.birth_year:
        patient_resource["birthDate"] = str(patient.birth_year)
    entries = [{"fullUrl": subject, "resource": patient_resource}]
    observations = Observation.objects.filter(
        patient_id=patient.patient_id, deleted=False
    ).order_by("occurred_at", "id")
    for observation in observations:
        resource = (
            _nrs_observation(observation, subject)
            if observation.kind == ObservationKind.NRS
            else _questionnaire_response(observation, subject)
        )
        entries.append({"fullUrl": _urn(observation.source_id), "resource": resource})
    bundle = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "collection",
        "timestamp": timezone.now().isoformat(),
        "entry": entries,
    }
    # Raises if anything above does not make a valid resource: a bug, never the caller's input.
    Bundle.model_validate(bundle)
    return bundle
