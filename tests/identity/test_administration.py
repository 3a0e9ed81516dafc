"""Clinic and user administration, and the scoping that keeps clinics apart."""

from __future__ import annotations

import uuid

import pytest
from factories import PASSWORD, ClinicFactory, InvitationFactory, member, system_admin
from helpers import CLINICS, PATIENTS, USERS, as_user, is_problem, login, refresh, tokens_for
from rest_framework.test import APIClient

from identity.accounts.errors import AccountConflict
from identity.accounts.models import Clinic, Invitation, Membership, User
from identity.accounts.services import membership_grant, user_reactivate
from identity.authn.models import RefreshToken
from shared.audit.models import AuditEntry
from shared.outbox.models import OutboxEvent

pytestmark = pytest.mark.django_db


# --- Clinics --------------------------------------------------------------------------------


def test_system_admin_creates_and_lists_clinics() -> None:
    client = as_user(system_admin().email)
    ClinicFactory(name="Alpha Clinic")

    created = client.post(
        CLINICS, {"name": "Beta Clinic", "timezone": "Europe/Berlin"}, format="json"
    )

    assert created.status_code == 201
    assert created.json()["timezone"] == "Europe/Berlin"
    names = [clinic["name"] for clinic in client.get(CLINICS).json()["results"]]
    assert names == ["Alpha Clinic", "Beta Clinic"]
    assert client.get(f"{CLINICS}{created.json()['id']}/").json()["name"] == "Beta Clinic"


def test_clinic_needs_a_valid_timezone_and_a_unique_name() -> None:
    client = as_user(system_admin().email)
    ClinicFactory(name="Taken")
    bad_zone = client.post(CLINICS, {"name": "X", "timezone": "Moon/Base"}, format="json")
    duplicate = client.post(CLINICS, {"name": "taken", "timezone": "UTC"}, format="json")
    assert is_problem(bad_zone, 400, "validation-error")
    assert is_problem(duplicate, 409, "conflict")
    assert Clinic.objects.count() == 1


@pytest.mark.parametrize("role", ["patient", "clinician", "clinic_admin"])
def test_only_system_admins_manage_clinics(role: str) -> None:
    client = as_user(member(role).email)
    assert is_problem(client.get(CLINICS), 403, "forbidden")
    assert is_problem(client.post(CLINICS, {"name": "N", "timezone": "UTC"}, format="json"), 403)


# --- Users of a clinic ----------------------------------------------------------------------


def test_clinic_admin_lists_the_users_of_their_clinic_only() -> None:
    clinic = ClinicFactory()
    admin = member("clinic_admin", clinic, email="a-admin@example.org")
    clinician = member("clinician", clinic, email="b-clinician@example.org")
    patient = member("patient", clinic, email="c-patient@example.org")
    member("patient")  # another clinic

    results = as_user(admin.email).get(USERS).json()["results"]

    assert [(row["id"], row["roles"]) for row in results] == [
        (str(admin.id), ["clinic_admin"]),
        (str(clinician.id), ["clinician"]),
        (str(patient.id), ["patient"]),
    ]
    patients_only = as_user(admin.email).get(USERS, {"role": "patient"}).json()["results"]
    assert [row["id"] for row in patients_only] == [str(patient.id)]


def test_patient_and_clinician_cannot_list_users() -> None:
    clinic = ClinicFactory()
    assert is_problem(as_user(member("patient", clinic).email).get(USERS), 403, "forbidden")
    assert is_problem(as_user(member("clinician", clinic).email).get(USERS), 403, "forbidden")


def test_another_clinics_user_is_not_found() -> None:
    admin = member("clinic_admin")
    stranger = member("clinician")
    client = as_user(admin.email)
    assert is_problem(client.get(f"{USERS}{stranger.id}/"), 404, "not-found")
    assert is_problem(client.post(f"{USERS}{stranger.id}/deactivate/"), 404, "not-found")
    assert is_problem(client.get(f"{USERS}{uuid.uuid4()}/"), 404, "not-found")
    assert User.objects.get(pk=stranger.pk).is_active


def test_clinic_admin_deactivates_a_user_and_their_sign_ins_end(api_client: APIClient) -> None:
    clinic = ClinicFactory()
    admin = member("clinic_admin", clinic)
    clinician = member("clinician", clinic)
    their_refresh = tokens_for(clinician.email)["refresh"]

    response = as_user(admin.email).post(f"{USERS}{clinician.id}/deactivate/")

    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert is_problem(login(api_client, clinician.email), 401)
    assert is_problem(refresh(api_client, their_refresh), 401)
    assert AuditEntry.objects.filter(
        action="user.deactivate", actor_id=admin.id, target_id=str(clinician.id)
    ).exists()


def test_deactivating_a_patient_tells_the_other_services_once() -> None:
    clinic = ClinicFactory()
    admin = member("clinic_admin", clinic)
    patient = member("patient", clinic)
    client = as_user(admin.email)

    first = client.post(f"{USERS}{patient.id}/deactivate/")
    again = client.post(f"{USERS}{patient.id}/deactivate/")

    assert (first.status_code, again.status_code) == (200, 200)
    [event] = OutboxEvent.objects.filter(type="identity.patient.deactivated")
    assert event.subject == str(patient.id)
    deactivated = User.objects.get(pk=patient.pk)
    assert event.data == {
        "patient_id": str(patient.id),
        "clinic_id": str(clinic.id),
        "deactivated_at": deactivated.updated_at.isoformat().replace("+00:00", "Z"),
    }


def test_a_deactivated_patient_stays_on_the_clinicians_list_marked_inactive() -> None:
    clinic = ClinicFactory()
    admin = member("clinic_admin", clinic)
    clinician = member("clinician", clinic)
    patient = member("patient", clinic)
    assert as_user(admin.email).post(f"{USERS}{patient.id}/deactivate/").status_code == 200

    client = as_user(clinician.email)
    listed = client.get(PATIENTS).json()["results"]
    one = client.get(f"{PATIENTS}{patient.id}/")

    assert [(row["id"], row["is_active"]) for row in listed] == [(str(patient.id), False)]
    assert one.status_code == 200
    assert one.json()["is_active"] is False


def test_deactivating_staff_announces_nothing() -> None:
    clinic = ClinicFactory()
    admin = member("clinic_admin", clinic)
    clinician = member("clinician", clinic)

    assert as_user(admin.email).post(f"{USERS}{clinician.id}/deactivate/").status_code == 200

    assert not OutboxEvent.objects.filter(type="identity.patient.deactivated").exists()


def test_a_deactivated_account_cannot_join_a_clinic() -> None:
    clinic = ClinicFactory()
    admin = member("clinic_admin", clinic)
    clinician = member("clinician", clinic)
    assert as_user(admin.email).post(f"{USERS}{clinician.id}/deactivate/").status_code == 200

    with pytest.raises(AccountConflict):
        membership_grant(actor_id=admin.id, user=clinician, clinic=clinic, role="patient")

    assert not Membership.objects.filter(user=clinician, role="patient").exists()
    assert not OutboxEvent.objects.filter(type="identity.patient.enrolled").exists()


def test_a_reactivated_clinician_signs_in_again_with_their_password() -> None:
    clinic = ClinicFactory()
    admin = member("clinic_admin", clinic)
    clinician = member("clinician", clinic)
    client = as_user(admin.email)
    assert client.post(f"{USERS}{clinician.id}/deactivate/").status_code == 200
    assert is_problem(login(APIClient(), clinician.email), 401)

    response = client.post(f"{USERS}{clinician.id}/reactivate/")

    assert response.status_code == 200
    assert response.json()["is_active"] is True
    assert login(APIClient(), clinician.email).status_code == 200
    assert AuditEntry.objects.filter(
        action="user.reactivate", actor_id=admin.id, target_id=str(clinician.id)
    ).exists()
    # Staff are nobody's patients: nothing is announced.
    assert not OutboxEvent.objects.filter(type="identity.patient.reactivated").exists()


def test_reactivating_a_patient_tells_reminders_once() -> None:
    clinic = ClinicFactory()
    admin = member("clinic_admin", clinic)
    patient = member("patient", clinic)
    client = as_user(admin.email)
    client.post(f"{USERS}{patient.id}/deactivate/")

    first = client.post(f"{USERS}{patient.id}/reactivate/")
    again = client.post(f"{USERS}{patient.id}/reactivate/")

    assert (first.status_code, again.status_code) == (200, 200)
    [event] = OutboxEvent.objects.filter(type="identity.patient.reactivated")
    reactivated = User.objects.get(pk=patient.pk)
    assert event.subject == str(patient.id)
    assert event.data == {
        "patient_id": str(patient.id),
        "clinic_id": str(clinic.id),
        "reactivated_at": reactivated.updated_at.isoformat().replace("+00:00", "Z"),
    }
    assert AuditEntry.objects.filter(action="user.reactivate").count() == 1


def test_only_the_clinics_admin_reactivates_and_never_an_erased_patient() -> None:
    clinic = ClinicFactory()
    admin = member("clinic_admin", clinic)
    clinician = member("clinician", clinic)
    patient = member("patient", clinic)
    elsewhere = member("clinic_admin")
    as_user(admin.email).post(f"{USERS}{patient.id}/deactivate/")

    by_clinician = as_user(clinician.email).post(f"{USERS}{patient.id}/reactivate/")
    by_other_clinic = as_user(elsewhere.email).post(f"{USERS}{patient.id}/reactivate/")
    erased = as_user(admin.email).post(f"{PATIENTS}{patient.id}/erase/")
    after_erasure = as_user(admin.email).post(f"{USERS}{patient.id}/reactivate/")

    assert is_problem(by_clinician, 403, "forbidden")
    assert is_problem(by_other_clinic, 404)
    assert erased.status_code == 204
    assert is_problem(after_erasure, 404)  # an erased account is nobody's to find
    with pytest.raises(AccountConflict):  # not even from identity's own admin
        user_reactivate(actor_id=None, user=patient)
    assert User.objects.get(pk=patient.pk).is_active is False
    assert not OutboxEvent.objects.filter(type="identity.patient.reactivated").exists()


def test_clinic_admin_cannot_deactivate_themselves() -> None:
    admin = member("clinic_admin")
    response = as_user(admin.email).post(f"{USERS}{admin.id}/deactivate/")
    assert is_problem(response, 409, "conflict")


# --- Patients -------------------------------------------------------------------------------


def test_clinician_lists_the_patients_of_their_clinic() -> None:
    clinic_a = ClinicFactory()
    clinician = member("clinician", clinic_a)
    patient = member("patient", clinic_a, sex="female", birth_year=1960, timezone="Europe/Rome")
    member("patient")  # clinic B

    results = as_user(clinician.email).get(PATIENTS).json()["results"]

    assert results == [
        {
            "id": str(patient.id),
            "full_name": patient.full_name,
            "email": patient.email,
            "timezone": "Europe/Rome",
            "locale": patient.locale,
            "sex": "female",
            "birth_year": 1960,
            "is_active": True,
        }
    ]
    assert AuditEntry.objects.filter(action="patient.list", actor_id=clinician.id).exists()


def test_clinician_cannot_see_another_clinics_patient() -> None:
    clinician = member("clinician")
    other_patient = member("patient")
    response = as_user(clinician.email).get(f"{PATIENTS}{other_patient.id}/")
    assert is_problem(response, 404, "not-found")


def test_clinician_reads_one_patient_and_the_read_is_audited() -> None:
    clinic = ClinicFactory()
    clinician = member("clinician", clinic)
    patient = member("patient", clinic)
    response = as_user(clinician.email).get(f"{PATIENTS}{patient.id}/")
    assert response.status_code == 200
    entry = AuditEntry.objects.get(action="patient.read")
    assert (entry.actor_id, entry.subject_patient_id) == (clinician.id, patient.id)


def test_clinician_corrects_a_patients_details_and_the_other_services_hear_of_it() -> None:
    clinic = ClinicFactory()
    clinician = member("clinician", clinic)
    patient = member("patient", clinic, sex="unknown", birth_year=None, full_name="Nora Newcom")
    client = as_user(clinician.email)

    response = client.patch(
        f"{PATIENTS}{patient.id}/",
        {"full_name": "  Nora Newcome ", "sex": "female", "birth_year": 1968},
        format="json",
    )

    assert response.status_code == 200
    assert (response.json()["full_name"], response.json()["sex"]) == ("Nora Newcome", "female")
    assert response.json()["birth_year"] == 1968
    stored = User.objects.get(pk=patient.pk)
    assert (stored.full_name, stored.sex, stored.birth_year) == ("Nora Newcome", "female", 1968)
    # outcomes groups cohorts by sex and age band: it is told; the name stays with identity.
    [event] = OutboxEvent.objects.filter(type="identity.patient.updated")
    assert event.data["changed"] == ["birth_year", "sex"]
    assert (event.data["sex"], event.data["birth_year"]) == ("female", 1968)
    assert "full_name" not in event.data
    entry = AuditEntry.objects.get(action="user.update")
    assert (entry.actor_id, entry.subject_patient_id) == (clinician.id, patient.id)
    assert set(entry.changed_fields) == {"full_name", "sex", "birth_year"}


def test_a_patients_details_are_checked_and_only_their_clinics_clinicians_change_them() -> None:
    clinic = ClinicFactory()
    clinician = member("clinician", clinic)
    admin = member("clinic_admin", clinic)
    patient = member("patient", clinic, full_name="Nora Newcome")
    other_clinician = member("clinician")
    client = as_user(clinician.email)
    url = f"{PATIENTS}{patient.id}/"

    bad = [
        client.patch(url, body, format="json")
        for body in (
            {"sex": "robot"},
            {"birth_year": 2999},
            {"full_name": "   "},
            {"email": "taken@example.org"},  # not a detail a clinician changes here
            {"timezone": "Europe/Paris"},  # the patient's own setting
        )
    ]
    foreign = as_user(other_clinician.email).patch(url, {"sex": "male"}, format="json")
    not_clinician = as_user(admin.email).patch(url, {"sex": "male"}, format="json")
    own = as_user(patient.email).patch(url, {"sex": "male"}, format="json")

    assert [response.status_code for response in bad] == [400] * 5
    assert all(is_problem(response, 400) for response in bad)
    assert is_problem(foreign, 404, "not-found")
    assert (not_clinician.status_code, own.status_code) == (403, 403)
    assert User.objects.get(pk=patient.pk).full_name == "Nora Newcome"
    assert not OutboxEvent.objects.filter(type="identity.patient.updated").exists()


def test_patient_cannot_list_patients() -> None:
    patient = member("patient")
    assert is_problem(as_user(patient.email).get(PATIENTS), 403, "forbidden")


def test_clinic_admin_erases_a_patient(api_client: APIClient) -> None:
    clinic = ClinicFactory()
    admin = member("clinic_admin", clinic)
    patient = member("patient", clinic, email="erase.me@example.org", full_name="Erin Rase")
    InvitationFactory(
        clinic=clinic, email=patient.email, full_name="Erin Rase", accepted_user=patient
    )
    their_refresh = tokens_for(patient.email)["refresh"]

    response = as_user(admin.email).post(f"{PATIENTS}{patient.id}/erase/")

    assert response.status_code == 204
    erased = User.objects.get(pk=patient.pk)
    assert erased.email != "erase.me@example.org"
    assert erased.email.endswith("@erased.invalid")
    assert (erased.full_name, erased.birth_year, erased.sex) == ("", None, "unknown")
    assert not erased.has_usable_password()
    assert not erased.is_active
    assert erased.erased_at is not None
    assert Membership.objects.filter(user=patient, clinic=clinic, role="patient").exists()
    assert not Invitation.objects.filter(email="erase.me@example.org").exists()
    assert not RefreshToken.objects.filter(user=patient, revoked_at__isnull=True).exists()
    assert is_problem(refresh(api_client, their_refresh), 401)
    assert is_problem(login(api_client, "erase.me@example.org", PASSWORD), 401)
    event = OutboxEvent.objects.get(type="identity.patient.erased")
    assert event.subject == str(patient.id)
    assert event.data == {"patient_id": str(patient.id), "clinic_id": str(clinic.id)}
    # Gone from the lists, still counted by membership.
    assert as_user(admin.email).get(USERS).json()["count"] == 1


def test_erasing_twice_announces_once() -> None:
    clinic = ClinicFactory()
    admin = member("clinic_admin", clinic)
    patient = member("patient", clinic)
    client = as_user(admin.email)
    assert client.post(f"{PATIENTS}{patient.id}/erase/").status_code == 204
    assert is_problem(client.post(f"{PATIENTS}{patient.id}/erase/"), 404)
    assert OutboxEvent.objects.filter(type="identity.patient.erased").count() == 1


def test_staff_accounts_cannot_be_erased_as_patients() -> None:
    clinic = ClinicFactory()
    admin = member("clinic_admin", clinic)
    clinician_patient = member("clinician", clinic)
    Membership.objects.create(user=clinician_patient, clinic=clinic, role="patient")
    response = as_user(admin.email).post(f"{PATIENTS}{clinician_patient.id}/erase/")
    assert is_problem(response, 409, "conflict")
    assert User.objects.get(pk=clinician_patient.pk).erased_at is None


def test_clinician_cannot_erase_and_admin_cannot_erase_another_clinics_patient() -> None:
    clinic = ClinicFactory()
    clinician = member("clinician", clinic)
    patient = member("patient", clinic)
    other_admin = member("clinic_admin")
    assert is_problem(as_user(clinician.email).post(f"{PATIENTS}{patient.id}/erase/"), 403)
    assert is_problem(as_user(other_admin.email).post(f"{PATIENTS}{patient.id}/erase/"), 404)
    assert User.objects.get(pk=patient.pk).erased_at is None
    assert not OutboxEvent.objects.exists()
