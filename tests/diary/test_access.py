"""Who reaches whose diary: every endpoint, every role.

A patient reaches only their own diary; a clinician the diaries of their own clinic's patients;
clinic and system administrators reach no diary. Outside one's scope a single object answers 404
(its existence does not leak) and a list leaves it out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from helpers import (
    ENTRIES,
    INJECTIONS,
    QUESTIONNAIRES,
    World,
    create_entry,
    create_odi,
    entry_body,
    entry_url,
    ids,
    injection_body,
    injection_url,
    odi_body,
    patient_url,
    questionnaire_url,
    record_injection,
)
from rest_framework.test import APIClient

from diary.entries.models import PainEntry
from diary.injections.models import Injection

pytestmark = pytest.mark.django_db

ROLES = ["patient_a", "patient_b", "clinician", "other_clinician", "clinic_admin", "system_admin"]
# Who may read patient A's diary.
READERS_OF_A = {"patient_a", "clinician"}


@dataclass(frozen=True)
class Diary:
    entry: str
    injection: str
    response: str


def _diary_of(world: World, patient: Any) -> Diary:
    return Diary(
        entry=create_entry(patient)["id"],
        injection=record_injection(world.clinician, patient)["id"],
        response=create_odi(patient, [1, 2, 3, 2, 1, 0, 1, 2, 3, 2])["id"],
    )


@pytest.fixture
def diaries(world: World) -> tuple[Diary, Diary]:
    return _diary_of(world, world.patient_a), _diary_of(world, world.patient_b)


@pytest.mark.parametrize("role", ROLES)
def test_lists_hold_only_what_the_caller_may_read(
    world: World, diaries: tuple[Diary, Diary], role: str
) -> None:
    a, b = diaries
    client = getattr(world, role).client()
    readers_of_b = {"patient_b", "clinician"}
    for url, a_id, b_id in (
        (ENTRIES, a.entry, b.entry),
        (INJECTIONS, a.injection, b.injection),
        (QUESTIONNAIRES, a.response, b.response),
    ):
        response = client.get(url)
        assert response.status_code == 200
        listed = ids(response)
        assert (a_id in listed) == (role in READERS_OF_A), (url, role)
        assert (b_id in listed) == (role in readers_of_b), (url, role)


@pytest.mark.parametrize("role", ROLES)
def test_single_objects_outside_the_callers_scope_are_not_found(
    world: World, diaries: tuple[Diary, Diary], role: str
) -> None:
    a, _ = diaries
    client = getattr(world, role).client()
    for url in (entry_url(a.entry), injection_url(a.injection), questionnaire_url(a.response)):
        response = client.get(url)
        expected = 200 if role in READERS_OF_A else 404
        assert response.status_code == expected, (url, role)
        if expected == 200:
            assert response.json()["patient_id"] == str(world.patient_a.id)


@pytest.mark.parametrize("role", ROLES)
def test_a_patients_lists_by_patient_id_are_for_the_patient_and_their_clinicians_only(
    world: World, diaries: tuple[Diary, Diary], role: str
) -> None:
    a, _ = diaries
    client = getattr(world, role).client()
    for resource, a_id in (
        ("entries", a.entry),
        ("injections", a.injection),
        ("questionnaires", a.response),
    ):
        response = client.get(patient_url(world.patient_a.id, resource))
        if role in READERS_OF_A:
            assert response.status_code == 200
            assert ids(response) == [a_id]
        else:
            assert response.status_code == 404, (resource, role)


@pytest.mark.parametrize("role", ROLES)
def test_a_filter_on_someone_elses_patient_finds_nothing(
    world: World, diaries: tuple[Diary, Diary], role: str
) -> None:
    client = getattr(world, role).client()
    for url in (ENTRIES, INJECTIONS, QUESTIONNAIRES):
        response = client.get(url, {"patient": str(world.patient_a.id)})
        assert response.status_code == 200
        assert bool(response.json()["results"]) == (role in READERS_OF_A)


# Changing patient A's entry: only patient A. A clinician reads it but does not write in it.
ENTRY_WRITE = {
    "patient_a": 200,
    "patient_b": 404,
    "clinician": 403,
    "other_clinician": 403,
    "clinic_admin": 403,
    "system_admin": 403,
}


@pytest.mark.parametrize("role", ROLES)
def test_only_the_patient_corrects_or_deletes_their_entry(
    world: World, diaries: tuple[Diary, Diary], role: str
) -> None:
    a, _ = diaries
    client = getattr(world, role).client()
    patch = client.patch(entry_url(a.entry), {"nrs_now": 0}, format="json", HTTP_IF_MATCH='"1"')
    assert patch.status_code == ENTRY_WRITE[role]
    delete = client.delete(entry_url(a.entry))
    assert delete.status_code == (204 if role == "patient_a" else ENTRY_WRITE[role])
    entry = PainEntry.objects.get(pk=a.entry)
    assert (entry.deleted_at is not None) == (role == "patient_a")
    assert (entry.nrs_now == 0) == (role == "patient_a")


# Changing patient A's injection: a clinician of A's clinic only.
INJECTION_WRITE = {
    "patient_a": 403,
    "patient_b": 403,
    "clinician": 200,
    "other_clinician": 404,
    "clinic_admin": 403,
    "system_admin": 403,
}


@pytest.mark.parametrize("role", ROLES)
def test_only_a_clinician_of_the_clinic_corrects_verifies_or_deletes_an_injection(
    world: World, diaries: tuple[Diary, Diary], role: str
) -> None:
    a, _ = diaries
    client = getattr(world, role).client()
    url = injection_url(a.injection)
    patch = client.patch(url, {"laterality": "right"}, format="json", HTTP_IF_MATCH='"1"')
    assert patch.status_code == INJECTION_WRITE[role]
    verify = client.post(url + "verify/")
    assert verify.status_code == INJECTION_WRITE[role]
    delete = client.delete(url)
    assert delete.status_code == (204 if role == "clinician" else INJECTION_WRITE[role])
    injection = Injection.objects.get(pk=a.injection)
    assert (injection.laterality == "right") == (role == "clinician")
    assert (injection.deleted_at is not None) == (role == "clinician")


@pytest.mark.parametrize("role", ROLES)
def test_only_a_clinician_of_the_clinic_records_an_injection_for_a_patient(
    world: World, role: str
) -> None:
    client = getattr(world, role).client()
    response = client.post(
        patient_url(world.patient_a.id, "injections"), injection_body(), format="json"
    )
    expected = 201 if role == "clinician" else INJECTION_WRITE[role]
    assert response.status_code == expected
    assert Injection.objects.filter(patient_id=world.patient_a.id).exists() == (role == "clinician")


@pytest.mark.parametrize("role", ROLES)
def test_only_patients_create_entries_questionnaires_and_self_reported_injections(
    world: World, role: str
) -> None:
    client = getattr(world, role).client()
    expected = 201 if role.startswith("patient") else 403
    assert client.post(ENTRIES, entry_body(), format="json").status_code == expected
    assert client.post(QUESTIONNAIRES, odi_body([1] * 10), format="json").status_code == expected
    assert client.post(INJECTIONS, injection_body(), format="json").status_code == expected


def test_unknown_ids_are_not_found_for_everyone(world: World) -> None:
    missing = uuid.uuid4()
    for role in ROLES:
        client = getattr(world, role).client()
        for url in (entry_url(missing), injection_url(missing), questionnaire_url(missing)):
            assert client.get(url).status_code == 404


def test_anonymous_callers_are_refused(world: World) -> None:
    client = APIClient()
    for url in (ENTRIES, INJECTIONS, QUESTIONNAIRES, patient_url(world.patient_a.id, "entries")):
        response = client.get(url)
        assert response.status_code == 401
        assert response["Content-Type"] == "application/problem+json"
