from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from helpers import T0, BulkCourse, Clinic, bulk_cohort, clinician_client, patient_client
from rest_framework.test import APIClient

from outcomes.analytics.cache import clinic_version
from outcomes.analytics.frame import frames_forget
from shared.audit.models import AuditEntry
from shared.testing.tokens import access_token

pytestmark = pytest.mark.django_db

API = "/api/outcomes/v1"


def _treated_patient(
    clinic: Clinic, *, baseline: int = 8, later: tuple[int, ...] = (6, 4)
) -> uuid.UUID:
    patient = clinic.enrol()
    clinic.log(patient, T0 - timedelta(days=1), baseline)
    clinic.inject(patient, T0)
    for week, score in enumerate(later, start=1):
        clinic.log(patient, T0 + timedelta(days=7 * week), score)
    return patient


def test_cohort_endpoints_answer_for_the_callers_clinic_only() -> None:
    clinic, other = Clinic(), Clinic()
    _treated_patient(clinic)
    ours = clinician_client(clinic.clinic_id).get(f"{API}/cohort/curve/").json()
    theirs = clinician_client(other.clinic_id).get(f"{API}/cohort/curve/").json()
    assert ours["cohort"]["courses"] == 1
    assert theirs["cohort"]["courses"] == 0
    assert theirs["nrs_percent_change"] == []


@pytest.mark.parametrize("path", ["curve", "fhir"])
def test_another_clinics_patient_is_not_found(path: str) -> None:
    clinic, other = Clinic(), Clinic()
    patient = _treated_patient(clinic)
    response = clinician_client(other.clinic_id).get(f"{API}/patients/{patient}/{path}/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_patients_and_admins_cannot_read_cohorts() -> None:
    clinic = Clinic()
    patient = _treated_patient(clinic)
    assert patient_client(patient, clinic.clinic_id).get(f"{API}/cohort/curve/").status_code == 403
    admin = APIClient()
    token = access_token(uuid.uuid4(), roles=("clinic_admin",), clinic_id=clinic.clinic_id)
    admin.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert admin.get(f"{API}/patients/").status_code == 403
    assert APIClient().get(f"{API}/cohort/curve/").status_code == 401


def test_unknown_cohort_filters_are_refused() -> None:
    response = clinician_client(uuid.uuid4()).get(f"{API}/cohort/curve/?sites=iliolumbar")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "sites"


def test_the_patient_list_shows_latest_score_relief_injections_adherence_and_flags() -> None:
    clinic = Clinic()
    patient = _treated_patient(clinic, baseline=8, later=(6, 4))
    clinic.prompt(patient, T0 + timedelta(days=1), answered=True)
    clinic.prompt(patient, T0 + timedelta(days=3), answered=False)
    clinic.log(patient, T0 + timedelta(days=15), 4, side_effects=["fever"], red_flag=True)
    quiet = clinic.enrol()
    clinician = uuid.uuid4()
    body = clinician_client(clinic.clinic_id, clinician).get(f"{API}/patients/").json()
    first, second = body["results"]
    assert first["patient_id"] == str(patient)
    assert (first["latest_nrs"], first["percent_change"], first["injections"]) == (4.0, 50.0, 1)
    assert (first["adherence_percent"], first["open_flags"]) == (50.0, 1)
    assert second["patient_id"] == str(quiet)
    assert second["latest_nrs"] is None
    flagged = clinician_client(clinic.clinic_id).get(f"{API}/patients/?flagged=true").json()
    assert [p["patient_id"] for p in flagged["results"]] == [str(patient)]
    audited = set(
        AuditEntry.objects.filter(actor_id=clinician).values_list("subject_patient_id", flat=True)
    )
    assert audited == {patient, quiet}


def test_a_patients_curve_is_weekly_and_audited() -> None:
    clinic = Clinic()
    patient = _treated_patient(clinic, baseline=8, later=(6, 4))
    clinician = uuid.uuid4()
    body = (
        clinician_client(clinic.clinic_id, clinician).get(f"{API}/patients/{patient}/curve/").json()
    )
    (course,) = body["courses"]
    assert course["baseline_nrs"] == 8
    assert [(w["week"], w["nrs"], w["percent_change"]) for w in course["weeks"]] == [
        (1, 6.0, 25.0),
        (2, 4.0, 50.0),
    ]
    entry = AuditEntry.objects.get(actor_id=clinician)
    assert (entry.action, entry.subject_patient_id) == ("outcomes_curve.read", patient)


def test_the_fhir_bundle_validates_and_codes_nrs_with_loinc() -> None:
    clinic = Clinic()
    patient = _treated_patient(clinic)
    clinic.questionnaire(
        patient,
        T0 + timedelta(days=30),
        "odi",
        32.0,
        section_scores=[3, 2, None, 4, 2, 3, 1, 2, 3, 2],
    )
    clinic.questionnaire(patient, T0 + timedelta(days=30), "pgic", 2)
    response = clinician_client(clinic.clinic_id).get(f"{API}/patients/{patient}/fhir/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    bundle = Bundle.model_validate(response.json())
    resources = [entry.resource for entry in bundle.entry]
    observations = [r for r in resources if r.get_resource_type() == "Observation"]
    responses = [r for r in resources if r.get_resource_type() == "QuestionnaireResponse"]
    assert len(observations) == 3
    assert {c.code for o in observations for c in o.code.coding} == {"72514-3"}
    assert {c.system for o in observations for c in o.code.coding} == {"http://loinc.org"}
    assert sorted(o.valueInteger for o in observations) == [4, 6, 8]
    assert sorted(r.questionnaire.split("/")[-1] for r in responses) == ["odi", "pgic"]
    odi = next(r for r in responses if r.questionnaire.endswith("odi"))
    skipped = next(item for item in odi.item if item.linkId == "odi-section-3")
    assert skipped.answer is None


def test_the_csv_export_streams_the_cohorts_observations() -> None:
    clinic = Clinic()
    patient = _treated_patient(clinic, baseline=8, later=(6, 4))
    _treated_patient(clinic)
    clinician = uuid.uuid4()
    response = clinician_client(clinic.clinic_id, clinician).get(
        f"{API}/cohort/export.csv?site=sij_intra_articular"
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    mine = [r for r in rows if r["patient_id"] == str(patient)]
    assert [(r["day"], r["value"], r["nrs_percent_change"]) for r in mine] == [
        ("7", "6", "25.0000"),
        ("14", "4", "50.0000"),
    ]
    assert len(rows) == 4
    assert AuditEntry.objects.filter(actor_id=clinician, action="outcomes_export.read").count() == 2
    none = clinician_client(clinic.clinic_id).get(f"{API}/cohort/export.csv?site=iliolumbar")
    assert b"".join(none.streaming_content).decode().count("\n") == 1  # the header only


def test_the_phone_shows_the_band_only_where_enough_comparable_patients_are_behind_it() -> None:
    clinic = Clinic()
    patient = _treated_patient(clinic, baseline=8, later=(6, 4))
    # Eleven comparable courses scored in week 1, five in week 2.
    courses = [BulkCourse(baseline=8, observations=[(7, 4.0)]) for _ in range(6)]
    courses += [BulkCourse(baseline=8, observations=[(7, 6.0), (14, 2.0)]) for _ in range(5)]
    bulk_cohort(clinic.clinic_id, courses)
    body = patient_client(patient, clinic.clinic_id).get(f"{API}/me/progress/").json()
    assert [(w["week"], w["percent_change"]) for w in body["course"]["weeks"]] == [
        (1, 25.0),
        (2, 50.0),
    ]
    band = body["band"]
    assert band["comparable_by"] == {
        "protocol": ["kim2010_intra_articular_sij"],
        "site": ["sij_intra_articular"],
    }
    assert [(w["week"], w["n"]) for w in band["weeks"]] == [(1, 12)]


def test_a_patient_without_treatment_sees_no_course() -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    body = patient_client(patient, clinic.clinic_id).get(f"{API}/me/progress/").json()
    assert body["course"] is None
    assert body["band"]["weeks"] == []


def test_a_repeated_cohort_request_is_answered_from_the_cache_until_the_clinic_changes(
    settings: Any, django_capture_on_commit_callbacks: Any, django_assert_num_queries: Any
) -> None:
    settings.OUTCOMES_CACHE_MIN_COURSES = 1
    clinic = Clinic()
    bulk_cohort(clinic.clinic_id, [BulkCourse(baseline=8, observations=[(7, 4.0)])])
    client = clinician_client(clinic.clinic_id)
    first = client.get(f"{API}/cohort/curve/").json()
    frames_forget()  # not even this process's arrays: the answer comes from the cache
    with django_assert_num_queries(0):
        assert client.get(f"{API}/cohort/curve/").json() == first
    before = clinic_version(clinic.clinic_id)
    other = Clinic()
    with django_capture_on_commit_callbacks(execute=True):
        _treated_patient(other)
    assert clinic_version(clinic.clinic_id) == before  # another clinic's change retires nothing
    with django_capture_on_commit_callbacks(execute=True):
        _treated_patient(clinic, baseline=8, later=(2,))
    assert clinic_version(clinic.clinic_id) > before
    fresh = client.get(f"{API}/cohort/curve/").json()
    assert fresh["cohort"]["courses"] == 2
    assert fresh["nrs_percent_change"][0]["n"] == 2


def test_benchmark_library_is_listed_for_clinic_staff() -> None:
    body = clinician_client(uuid.uuid4()).get(f"{API}/benchmarks/").json()
    kim = next(b for b in body if b["key"] == "kim2010-prolo")
    assert (kim["figure"], kim["endpoint_kind"]) == (58.7, "km_durability")


def test_cohort_analyses_answer_over_http_with_filters() -> None:
    clinic = Clinic()
    bulk_cohort(
        clinic.clinic_id,
        [BulkCourse(baseline=8, observations=[(91, 4.0), (183, 2.0)]) for _ in range(12)],
    )
    client = clinician_client(clinic.clinic_id)
    responders = client.get(f"{API}/cohort/responders/?protocol=kim2010_intra_articular_sij").json()
    three = next(h for h in responders["horizons"] if h["months"] == 3)
    half = next(
        e for e in three["endpoints"] if e["measure"] == "nrs_percent" and e["threshold"] == 50
    )
    assert (half["n"], half["responders"], half["percent"]) == (12, 12, 100.0)
    survival = client.get(f"{API}/cohort/survival/?threshold=30").json()
    assert survival["threshold"] == 30
    assert survival["time_to_relief"]["n"] == 12
    comparison = client.get(f"{API}/cohort/benchmarks/?sex=female,male").json()
    assert comparison["cohort"]["filters"] == {"sex": ["female", "male"]}
    assert {c["verdict"] for c in comparison["comparisons"]} <= {
        "consistent",
        "higher",
        "lower",
        "too few patients to say",
    }


def test_the_phones_band_may_lag_the_clinics_latest_data_for_a_few_minutes(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.OUTCOMES_CACHE_MIN_COURSES = 1
    clinic = Clinic()
    patient = _treated_patient(clinic, baseline=8, later=(6,))
    bulk_cohort(
        clinic.clinic_id, [BulkCourse(baseline=8, observations=[(7, 4.0)]) for _ in range(10)]
    )
    phone = patient_client(patient, clinic.clinic_id)
    assert [w["n"] for w in phone.get(f"{API}/me/progress/").json()["band"]["weeks"]] == [11]
    with django_capture_on_commit_callbacks(execute=True):
        _treated_patient(clinic, baseline=8, later=(2,))
    # The phone's band may show the data of a few minutes ago; the clinician sees it at once.
    assert [w["n"] for w in phone.get(f"{API}/me/progress/").json()["band"]["weeks"]] == [11]
    cohort = {"protocol": "kim2010_intra_articular_sij", "site": "sij_intra_articular"}
    curve = clinician_client(clinic.clinic_id).get(f"{API}/cohort/curve/", cohort).json()
    assert curve["nrs_percent_change"][0]["n"] == 12
    # Once a fresh answer exists, the phone gets it too.
    assert [w["n"] for w in phone.get(f"{API}/me/progress/").json()["band"]["weeks"]] == [12]
