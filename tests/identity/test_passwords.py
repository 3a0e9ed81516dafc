"""Passwords: changing one's own, and the clinic's one-time reset code for a forgotten one.
Either way every earlier sign-in ends and the device that made the change is signed in."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from factories import PASSWORD, ClinicFactory, member
from helpers import API, ME, USERS, as_user, bearer, is_problem, login, refresh, tokens_for
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from identity.accounts.models import PasswordReset, User
from shared.audit.models import AuditEntry

pytestmark = pytest.mark.django_db

CHANGE = ME + "password/"
REDEEM = API + "password-reset/"
NEW_PASSWORD = "a-fresh-recovery-passphrase-7"


def _change(client: APIClient, current: str = PASSWORD, new: str = NEW_PASSWORD) -> object:
    return client.post(CHANGE, {"current_password": current, "new_password": new}, format="json")


def _issue(staff: User, person: User) -> object:
    return as_user(staff.email).post(f"{USERS}{person.id}/password-reset/", format="json")


def _redeem(client: APIClient, code: str, password: str = NEW_PASSWORD) -> object:
    return client.post(REDEEM, {"code": code, "password": password}, format="json")


def _fields(response: object) -> set[str]:
    return {error["field"] for error in response.json()["errors"]}  # type: ignore[attr-defined]


def _signs_in(email: str, password: str) -> bool:
    return bool(login(APIClient(), email, password).status_code == 200)


# --- Changing one's own -----------------------------------------------------------------------


def test_a_patient_changes_their_password_and_every_other_sign_in_ends() -> None:
    patient = member("patient")
    other_phone = tokens_for(patient.email)
    this_phone = tokens_for(patient.email)

    response = _change(bearer(this_phone["access"]))

    assert response.status_code == 200  # type: ignore[attr-defined]
    assert response["Cache-Control"] == "no-store"  # type: ignore[index]
    fresh = response.json()  # type: ignore[attr-defined]
    assert refresh(APIClient(), fresh["refresh"]).status_code == 200
    assert is_problem(refresh(APIClient(), other_phone["refresh"]), 401)
    assert is_problem(refresh(APIClient(), this_phone["refresh"]), 401)
    assert _signs_in(patient.email, NEW_PASSWORD)
    assert not _signs_in(patient.email, PASSWORD)
    assert AuditEntry.objects.filter(
        action="user.password_change", actor_id=patient.id, subject_patient_id=patient.id
    ).exists()


def test_a_wrong_current_password_changes_nothing_and_counts_as_a_failed_sign_in(
    settings: Settings,
) -> None:
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    patient = member("patient")
    client = as_user(patient.email)
    sessions = tokens_for(patient.email)

    wrong = [_change(client, current="not-my-password-at-all") for _ in range(3)]

    assert is_problem(wrong[0], 400, "validation-error")
    assert "current_password" in _fields(wrong[0])
    locked = _change(client)
    assert is_problem(locked, 429, "too-many-attempts")
    assert int(locked["Retry-After"]) > 0  # type: ignore[index]
    assert not User.objects.get(pk=patient.pk).check_password(NEW_PASSWORD)
    assert refresh(APIClient(), sessions["refresh"]).status_code == 200


def test_a_weak_or_unchanged_new_password_is_refused_and_nothing_changes() -> None:
    patient = member("patient")
    client = as_user(patient.email)
    sessions = tokens_for(patient.email)

    weak = _change(client, new="123")
    same = _change(client, new=PASSWORD)

    assert is_problem(weak, 400, "validation-error")
    assert "new_password" in _fields(weak)
    assert is_problem(same, 400, "validation-error")
    assert _signs_in(patient.email, PASSWORD)
    assert refresh(APIClient(), sessions["refresh"]).status_code == 200


def test_changing_a_password_needs_a_sign_in() -> None:
    assert is_problem(_change(APIClient()), 401)


# --- A reset code from the clinic ---------------------------------------------------------------


def test_a_clinician_gives_a_patient_a_code_that_sets_a_new_password_once() -> None:
    clinic = ClinicFactory()
    clinician = member("clinician", clinic)
    patient = member("patient", clinic)
    old_phone = tokens_for(patient.email)

    issued = _issue(clinician, patient)

    assert issued.status_code == 201  # type: ignore[attr-defined]
    assert issued["Cache-Control"] == "no-store"  # type: ignore[index]
    body = issued.json()  # type: ignore[attr-defined]
    assert body["user"] == str(patient.id)
    assert refresh(APIClient(), old_phone["refresh"]).status_code == 200  # nothing ends yet
    new_phone = APIClient()
    redeemed = _redeem(new_phone, body["code"].lower().replace("-", " "))
    assert redeemed.status_code == 200  # type: ignore[attr-defined]
    assert bearer(redeemed.json()["access"]).get(ME).json()["id"] == str(patient.id)  # type: ignore[attr-defined]
    assert is_problem(refresh(APIClient(), old_phone["refresh"]), 401)
    assert _signs_in(patient.email, NEW_PASSWORD)
    assert not _signs_in(patient.email, PASSWORD)
    assert is_problem(_redeem(APIClient(), body["code"], "yet-another-passphrase-9"), 410)
    assert _signs_in(patient.email, NEW_PASSWORD)
    actions = set(
        AuditEntry.objects.filter(subject_patient_id=patient.id).values_list("action", "actor_id")
    )
    assert ("user.password_reset_issue", clinician.id) in actions
    assert ("user.password_reset", patient.id) in actions


def test_a_new_code_replaces_the_open_one() -> None:
    clinic = ClinicFactory()
    clinician = member("clinician", clinic)
    patient = member("patient", clinic)
    first = _issue(clinician, patient).json()["code"]  # type: ignore[attr-defined]
    second = _issue(clinician, patient).json()["code"]  # type: ignore[attr-defined]

    assert is_problem(_redeem(APIClient(), first), 410, "reset-code-gone")
    assert _redeem(APIClient(), second).status_code == 200  # type: ignore[attr-defined]


def test_an_expired_code_is_refused(settings: Settings) -> None:
    settings.PASSWORD_RESET_SECONDS = 3600
    clinic = ClinicFactory()
    patient = member("patient", clinic)
    code = _issue(member("clinician", clinic), patient).json()["code"]  # type: ignore[attr-defined]

    with time_machine.travel(timezone.now() + timedelta(hours=1, seconds=1)):
        response = _redeem(APIClient(), code)

    assert is_problem(response, 410, "reset-code-gone")
    assert "expired" in response.json()["detail"]  # type: ignore[attr-defined]
    assert _signs_in(patient.email, PASSWORD)


def test_a_weak_password_is_refused_and_the_code_stays_usable() -> None:
    clinic = ClinicFactory()
    patient = member("patient", clinic)
    code = _issue(member("clinician", clinic), patient).json()["code"]  # type: ignore[attr-defined]

    weak = _redeem(APIClient(), code, "123")

    assert is_problem(weak, 400, "validation-error")
    assert "password" in _fields(weak)
    assert _redeem(APIClient(), code).status_code == 200  # type: ignore[attr-defined]


def test_deactivating_the_account_withdraws_its_code() -> None:
    clinic = ClinicFactory()
    admin = member("clinic_admin", clinic)
    patient = member("patient", clinic)
    code = _issue(admin, patient).json()["code"]  # type: ignore[attr-defined]
    assert as_user(admin.email).post(f"{USERS}{patient.id}/deactivate/").status_code == 200

    assert is_problem(_redeem(APIClient(), code), 410, "reset-code-gone")
    assert is_problem(_issue(admin, patient), 409, "conflict")
    assert not _signs_in(patient.email, NEW_PASSWORD)


@pytest.mark.django_db(transaction=True)
def test_two_redemptions_of_one_code_at_once_set_one_password() -> None:
    clinic = ClinicFactory()
    patient = member("patient", clinic)
    code = _issue(member("clinician", clinic), patient).json()["code"]  # type: ignore[attr-defined]
    workers = 4
    barrier = threading.Barrier(workers)

    def attempt(index: int) -> int:
        try:
            client = APIClient()
            barrier.wait(timeout=10)
            return int(_redeem(client, code, f"racing-passphrase-{index}-x").status_code)  # type: ignore[attr-defined]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        statuses = sorted(pool.map(attempt, range(workers)))

    assert statuses == [200, 410, 410, 410]
    assert [_signs_in(patient.email, f"racing-passphrase-{i}-x") for i in range(4)].count(True) == 1


def test_guessing_reset_codes_shares_the_invitation_codes_limit(
    api_client: APIClient, settings: Settings
) -> None:
    settings.INVITATION_ACCEPT_FAILURES_PER_ADDRESS = 3
    clinic = ClinicFactory()
    patient = member("patient", clinic)
    code = _issue(member("clinician", clinic), patient).json()["code"]  # type: ignore[attr-defined]
    api_client.post(
        API + "invitations/accept/",
        {"code": "AAAA-BBBB-CCCC-0000", "password": NEW_PASSWORD, "timezone": "Europe/London"},
        format="json",
    )
    for index in range(1, 3):
        assert is_problem(_redeem(api_client, f"AAAA-BBBB-CCCC-000{index}"), 400)

    locked = _redeem(api_client, code)

    assert is_problem(locked, 429, "too-many-attempts")
    assert _signs_in(patient.email, PASSWORD)
    other_address = api_client.post(
        REDEEM, {"code": code, "password": NEW_PASSWORD}, format="json", REMOTE_ADDR="198.51.100.7"
    )
    assert other_address.status_code == 200


@pytest.mark.parametrize(
    ("issuer_role", "person_role", "status"),
    [
        ("clinic_admin", "patient", 201),
        ("clinic_admin", "clinician", 201),
        ("clinic_admin", "clinic_admin", 201),
        ("clinician", "patient", 201),
        ("clinician", "clinician", 403),
        ("clinician", "clinic_admin", 403),
        ("patient", "patient", 403),
    ],
)
def test_who_may_issue_a_code_to_whom(issuer_role: str, person_role: str, status: int) -> None:
    clinic = ClinicFactory()
    issuer = member(issuer_role, clinic)
    person = member(person_role, clinic)

    response = _issue(issuer, person)

    assert response.status_code == status  # type: ignore[attr-defined]
    assert PasswordReset.objects.filter(user=person).exists() == (status == 201)


def test_another_clinics_person_is_not_found_and_ones_own_code_is_refused() -> None:
    clinic = ClinicFactory()
    admin = member("clinic_admin", clinic)
    stranger = member("patient")

    assert is_problem(_issue(admin, stranger), 404)
    assert is_problem(_issue(admin, admin), 409)
    assert not PasswordReset.objects.exists()


def test_bad_input_is_a_clear_400() -> None:
    assert is_problem(_redeem(APIClient(), "not a code"), 400, "invalid-reset-code")
    missing = APIClient().post(REDEEM, {"code": "AAAA-BBBB-CCCC-DDDD"}, format="json")
    assert is_problem(missing, 400, "validation-error")
    unknown = APIClient().post(
        REDEEM,
        {"code": "AAAA-BBBB-CCCC-DDDD", "password": NEW_PASSWORD, "email": "x@example.org"},
        format="json",
    )
    assert is_problem(unknown, 400)
