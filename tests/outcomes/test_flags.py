from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from helpers import T0, Clinic, clinician_client, deliver, envelope

from outcomes.flags.models import Flag, FlagStatus
from outcomes.flags.services import flags_evaluate_patient
from shared.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


def _kinds(patient: uuid.UUID) -> list[str]:
    return sorted(Flag.objects.filter(patient_id=patient).values_list("kind", flat=True))


def _evaluate_again(clinic: Clinic, patient: uuid.UUID) -> None:
    flags_evaluate_patient(patient_id=patient, clinic_id=clinic.clinic_id)


def test_a_red_flag_side_effect_raises_an_urgent_flag_once() -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    clinic.inject(patient, T0)
    data = clinic.entry_data(
        patient, T0 + timedelta(days=2), 6, side_effects=["fever"], red_flag=True
    )
    logged = envelope("diary.entry.logged", data)
    deliver(logged)
    deliver(logged)
    clinic.correct_entry(data, nrs=7)
    _evaluate_again(clinic, patient)
    flag = Flag.objects.get(patient_id=patient)
    assert (flag.kind, flag.severity, flag.status) == ("red_flag", "urgent", "open")
    assert flag.evidence["side_effects"] == ["fever"]
    # A second red-flag entry is a second cause.
    clinic.log(patient, T0 + timedelta(days=3), 6, side_effects=["new_weakness"], red_flag=True)
    assert _kinds(patient) == ["red_flag", "red_flag"]


def test_nsaid_within_seven_days_of_an_injection_is_flagged_once_per_injection() -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    course = uuid.uuid4()
    first = clinic.inject(patient, T0, course_id=course)
    clinic.log(patient, T0 + timedelta(days=2), 6, nsaid=True)
    clinic.log(patient, T0 + timedelta(days=5), 6, nsaid=True)
    _evaluate_again(clinic, patient)
    assert _kinds(patient) == ["nsaid_after_injection"]
    assert Flag.objects.get(patient_id=patient).evidence["injection_id"] == first["injection_id"]
    # Eight days after the second injection is outside its window.
    clinic.inject(patient, T0 + timedelta(days=14), course_id=course)
    clinic.log(patient, T0 + timedelta(days=22, hours=1), 5, nsaid=True)
    assert _kinds(patient) == ["nsaid_after_injection"]


def test_an_injection_recorded_after_the_nsaid_entry_still_raises_the_flag() -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    clinic.log(patient, T0 + timedelta(days=1), 6, nsaid=True)
    clinic.inject(patient, T0)
    assert _kinds(patient) == ["nsaid_after_injection"]


def test_pain_still_above_baseline_four_weeks_after_an_injection_is_flagged_once() -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    clinic.log(patient, T0 - timedelta(days=1), 5)
    clinic.inject(patient, T0)
    clinic.log(patient, T0 + timedelta(days=7), 8)  # the expected flare: no flag
    assert _kinds(patient) == []
    clinic.log(patient, T0 + timedelta(days=29), 7)
    clinic.log(patient, T0 + timedelta(days=31), 7)
    _evaluate_again(clinic, patient)
    assert _kinds(patient) == ["flare_persisting"]
    assert Flag.objects.get(patient_id=patient).evidence["nrs"] == 7


def test_pain_back_to_baseline_after_four_weeks_raises_no_flare_flag() -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    clinic.log(patient, T0 - timedelta(days=1), 5)
    clinic.inject(patient, T0)
    clinic.log(patient, T0 + timedelta(days=29), 5)
    assert _kinds(patient) == []


def test_a_flare_check_is_left_to_the_next_injection_when_it_comes_first() -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    course = uuid.uuid4()
    clinic.log(patient, T0 - timedelta(days=1), 5)
    clinic.inject(patient, T0, course_id=course)
    clinic.inject(patient, T0 + timedelta(days=14), course_id=course)
    clinic.log(patient, T0 + timedelta(days=29), 7)  # 15 days after the second: still its flare
    assert _kinds(patient) == []
    clinic.log(patient, T0 + timedelta(days=43), 7)
    assert _kinds(patient) == ["flare_persisting"]


def test_no_clinically_important_improvement_after_three_injections_is_flagged_once() -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    course = uuid.uuid4()
    clinic.log(patient, T0 - timedelta(days=1), 6)
    for day in (0, 14, 28):
        clinic.inject(patient, T0 + timedelta(days=day), course_id=course)
    clinic.log(patient, T0 + timedelta(days=50), 5)  # 22 days after the third: too early
    assert "no_mcid_after_three_injections" not in _kinds(patient)
    clinic.log(patient, T0 + timedelta(days=58), 5)  # 1 point, 17 %: below both MCIDs
    clinic.log(patient, T0 + timedelta(days=88), 5)
    assert _kinds(patient).count("no_mcid_after_three_injections") == 1


def test_a_two_point_improvement_after_three_injections_is_not_flagged() -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    course = uuid.uuid4()
    clinic.log(patient, T0 - timedelta(days=1), 6)
    for day in (0, 14, 28):
        clinic.inject(patient, T0 + timedelta(days=day), course_id=course)
    clinic.log(patient, T0 + timedelta(days=58), 4)
    assert _kinds(patient) == []


def test_missed_prompts_raise_one_adherence_flag_per_episode() -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    clinic.prompt(patient, T0, answered=True)
    for day in (1, 2, 3):
        clinic.prompt(patient, T0 + timedelta(days=day), answered=False)
    flag = Flag.objects.get(patient_id=patient)
    assert flag.kind == "low_adherence"
    assert flag.evidence["adherence_percent"] == 25.0
    clinic.prompt(patient, T0 + timedelta(days=4), answered=False)
    assert Flag.objects.filter(patient_id=patient).count() == 1
    # Resolved, and the next missed prompt starts a new episode.
    client = clinician_client(clinic.clinic_id)
    assert client.post(f"/api/outcomes/v1/flags/{flag.id}/resolve/").status_code == 200
    _evaluate_again(clinic, patient)
    assert Flag.objects.filter(patient_id=patient).count() == 1
    clinic.prompt(patient, T0 + timedelta(days=5), answered=False)
    assert Flag.objects.filter(patient_id=patient).count() == 2


@pytest.mark.parametrize("says_when_due", [True, False])
def test_prompts_answered_without_being_sent_take_their_place_in_time(says_when_due: bool) -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    # Weeks ago: three prompts planned after their windows had closed (a history brought in),
    # answered by entries made inside them; reminders never sent them. Without a due time (as
    # answered events were before they carried one) they count as the oldest.
    for day in (1, 2, 3):
        clinic.prompt_answered_unsent(
            patient, T0 - timedelta(days=60 - day), says_when_due=says_when_due
        )
    # Lately: one answered, then missed ones. The latest six are what adherence judges.
    clinic.prompt(patient, T0, answered=True)
    for day in range(1, 6):
        clinic.prompt(patient, T0 + timedelta(days=day), answered=False)

    # Raised at the fourth miss: of the latest six, the four misses, the recent answer and the
    # latest of the old ones (before, the old ones counted as the latest and hid the misses).
    flag = Flag.objects.get(patient_id=patient)
    assert flag.kind == "low_adherence"
    assert (flag.evidence["answered"], flag.evidence["closed_prompts"]) == (2, 6)


def _statements_per_event(earlier_red_flags: int) -> tuple[int, int]:
    """Statements outcomes runs for a prompt event and for an ordinary entry of a patient who
    has had ``earlier_red_flags`` red-flag entries (each raised its flag)."""
    clinic = Clinic()
    patient = clinic.enrol()
    clinic.inject(patient, T0)
    for day in range(earlier_red_flags):
        clinic.log(patient, T0 + timedelta(days=day), 6, side_effects=["fever"], red_flag=True)
    assert Flag.objects.filter(patient_id=patient, kind="red_flag").count() == earlier_red_flags
    with CaptureQueriesContext(connection) as prompt_event:
        clinic.prompt(patient, T0 + timedelta(days=40), answered=True)
    with CaptureQueriesContext(connection) as entry_event:
        clinic.log(patient, T0 + timedelta(days=41), 4)
    return len(prompt_event.captured_queries), len(entry_event.captured_queries)


def test_the_work_per_event_does_not_grow_with_the_flags_already_raised() -> None:
    # Every event re-checks the patient's flags; flags raised long ago cost nothing more.
    few, many = _statements_per_event(2), _statements_per_event(10)
    assert few == many


def test_good_adherence_raises_nothing() -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    for day in range(6):
        clinic.prompt(patient, T0 + timedelta(days=day), answered=day != 2)
    assert _kinds(patient) == []


def test_a_clinician_acknowledges_then_resolves_a_flag() -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    clinic.log(patient, T0, 6, side_effects=["discharge_at_site"], red_flag=True)
    flag = Flag.objects.get(patient_id=patient)
    clinician = uuid.uuid4()
    client = clinician_client(clinic.clinic_id, clinician)
    listed = client.get("/api/outcomes/v1/flags/?status=open").json()
    assert [f["id"] for f in listed["results"]] == [str(flag.id)]
    acknowledged = client.post(f"/api/outcomes/v1/flags/{flag.id}/acknowledge/").json()
    assert (acknowledged["status"], acknowledged["acknowledged_by"]) == (
        "acknowledged",
        str(clinician),
    )
    resolved = client.post(f"/api/outcomes/v1/flags/{flag.id}/resolve/").json()
    assert resolved["status"] == FlagStatus.RESOLVED
    again = client.post(f"/api/outcomes/v1/flags/{flag.id}/acknowledge/")
    assert again.status_code == 409
    assert client.get("/api/outcomes/v1/flags/?status=open").json()["results"] == []
    actions = set(AuditEntry.objects.filter(actor_id=clinician).values_list("action", flat=True))
    assert {"flag.read", "flag.acknowledge", "flag.resolve"} <= actions


def test_another_clinics_flags_are_not_found() -> None:
    clinic, other = Clinic(), Clinic()
    patient = clinic.enrol()
    clinic.log(patient, T0, 6, side_effects=["fever"], red_flag=True)
    flag = Flag.objects.get(patient_id=patient)
    outsider = clinician_client(other.clinic_id)
    assert outsider.get("/api/outcomes/v1/flags/").json()["results"] == []
    response = outsider.post(f"/api/outcomes/v1/flags/{flag.id}/resolve/")
    assert response.status_code == 404
    flag.refresh_from_db()
    assert flag.status == FlagStatus.OPEN


def test_erasure_removes_the_patients_flags() -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    clinic.log(patient, T0, 6, side_effects=["fever"], red_flag=True)
    deliver(
        envelope(
            "identity.patient.erased",
            {"patient_id": str(patient), "clinic_id": str(clinic.clinic_id)},
        )
    )
    assert not Flag.objects.filter(patient_id=patient).exists()


def test_a_patient_who_moves_clinic_takes_their_flags_along() -> None:
    clinic, other = Clinic(), Clinic()
    patient = clinic.enrol()
    clinic.log(patient, T0, 6, side_effects=["fever"], red_flag=True)
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
    assert clinician_client(clinic.clinic_id).get("/api/outcomes/v1/flags/").json()["results"] == []
    moved = clinician_client(other.clinic_id).get("/api/outcomes/v1/flags/").json()["results"]
    assert [f["patient_id"] for f in moved] == [str(patient)]
