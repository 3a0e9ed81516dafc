"""A clinic administrator's pages (the clinic's people, inviting colleagues, reset codes,
deactivating, erasing) and the pages a colleague uses before signing in (joining with an
invitation code, a new password with a reset code), against identity as the local fake answers
it: what identity is asked, by whom, and what the person sees."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from dashboard_client import CLINICIAN, OTHER_CLINICIAN, csrf, seen, signed_in
from dashboard_fakes import PASSWORD, FakeServices
from django.test import Client
from helpers import Clinic

from shared.audit.models import AuditEntry

pytestmark = pytest.mark.django_db

ADMIN = "admin@clinic.example"
PEOPLE = "/dashboard/clinic/people/"
INVITE = "/dashboard/clinic/invite/"
JOIN = "/dashboard/join/"
RESET = "/dashboard/password-reset/"
NEW_PASSWORD = "a-new-password-2026"


@pytest.fixture
def admin(fake: FakeServices, clinic: Clinic) -> Client:
    fake.add_account(ADMIN, ("clinic_admin",), clinic.clinic_id, full_name="Ada Admin")
    fake.accounts[CLINICIAN].full_name = "Carl Clinician"
    return signed_in(ADMIN, csrf=True)


def _person_url(user_id: uuid.UUID, action: str = "") -> str:
    return f"{PEOPLE}{user_id}/{action + '/' if action else ''}"


def _post(client: Client, url: str, data: dict[str, str] | None = None) -> str:
    response = client.post(url, {**(data or {}), "csrfmiddlewaretoken": csrf(client)}, follow=True)
    return response.content.decode()


# --- The clinic's people --------------------------------------------------------------------------


def test_a_clinic_admin_starts_at_the_clinics_people_and_sees_only_their_clinic(
    fake: FakeServices, clinic: Clinic, other: Clinic
) -> None:
    patient, elsewhere = uuid.uuid4(), uuid.uuid4()
    fake.add_person(clinic.clinic_id, patient, "Paula Patient")
    fake.add_person(other.clinic_id, elsewhere, "Otto Other")
    fake.add_account(ADMIN, ("clinic_admin",), clinic.clinic_id, full_name="Ada Admin")
    client = Client()

    landing = client.post("/dashboard/login/", {"username": ADMIN, "password": PASSWORD})
    html = client.get(PEOPLE).content.decode()
    patients_only = seen(client.get(PEOPLE, {"role": "patient"}).content.decode())
    searched = seen(client.get(PEOPLE, {"q": "ADA"}).content.decode())

    assert landing["Location"] == PEOPLE
    text = seen(html)
    assert "3 people." in text
    assert "Paula Patient paula.patient@example.org Patient Active" in text
    assert f"{CLINICIAN} Clinician Active" in text
    assert "Ada Admin admin@clinic.example Clinic admin Active" in text
    assert "Otto Other" not in text
    assert OTHER_CLINICIAN not in text
    # The administrator's menu: the clinic's people, none of the clinician's pages.
    assert ">People of the clinic</a>" in html
    assert ">My patients</a>" not in html
    # The schedules are the reminders admin's, where the administrator signs in the same way.
    assert 'href="/admin/reminders/schedules/scheduletemplate/">Reminder schedules</a>' in html
    assert "1 person." in patients_only
    assert "Carl" not in patients_only
    assert "1 person matching “ADA”." in searched
    # Who read the patient's account is in the audit trail; staff reads are not patient data.
    reads = AuditEntry.objects.filter(action="clinic_people.read")
    assert [entry.subject_patient_id for entry in reads] == [patient, patient]


def test_the_administrators_pages_are_not_a_clinicians(fake: FakeServices, clinic: Clinic) -> None:
    patient = uuid.uuid4()
    fake.add_person(clinic.clinic_id, patient, "Paula Patient")
    clinician = signed_in()

    pages = [clinician.get(PEOPLE), clinician.get(_person_url(patient)), clinician.get(INVITE)]
    anonymous = Client().get(PEOPLE)
    own_pages = clinician.get("/dashboard/").content.decode()

    for response in pages:
        assert response.status_code == 403
        html = response.content.decode()
        assert "This page is for clinic administrators" in html
        assert 'href="/dashboard/">Go to your pages' in html
        assert "paula.patient@example.org" not in html
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/dashboard/login/")
    assert "People of the clinic" not in own_pages
    assert "Reminder schedules" not in own_pages
    assert fake.deactivated == []
    assert fake.invitations == {}


def test_someone_of_another_clinic_is_not_found(
    fake: FakeServices, clinic: Clinic, other: Clinic, admin: Client
) -> None:
    elsewhere = uuid.uuid4()
    fake.add_person(other.clinic_id, elsewhere, "Otto Other")

    page = admin.get(_person_url(elsewhere))
    deactivate = admin.post(
        _person_url(elsewhere, "deactivate"), {"confirm": "on", "csrfmiddlewaretoken": csrf(admin)}
    )
    erase = admin.get(_person_url(elsewhere, "erase"))

    assert [page.status_code, deactivate.status_code, erase.status_code] == [404, 404, 404]
    assert "Otto" not in page.content.decode()
    assert fake.deactivated == []


# --- Inviting a colleague, and joining ------------------------------------------------------------


def test_an_admin_invites_a_clinician_who_joins_on_the_dashboard(
    fake: FakeServices, clinic: Clinic, admin: Client
) -> None:
    refused = admin.post(INVITE, {"email": "dina@clinic.example", "full_name": "Dina"})
    response = admin.post(
        INVITE,
        {
            "email": "dina@clinic.example",
            "full_name": "Dina Doctor",
            "role": "clinician",
            "csrfmiddlewaretoken": csrf(admin),
        },
    )
    pending = seen(admin.get(INVITE).content.decode())

    assert refused.status_code == 403  # no CSRF token: nothing asked of identity
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    [invitation] = fake.invitations.values()
    assert (invitation["role"], invitation["full_name"]) == ("clinician", "Dina Doctor")
    code_page = seen(response.content.decode())
    assert invitation["code"] in code_page
    assert "as a clinician" in code_page
    assert "http://testserver/dashboard/join/" in code_page
    assert "Dina Doctor dina@clinic.example Clinician" in pending
    assert invitation["code"] not in pending

    visitor = Client(REMOTE_ADDR="203.0.113.7")
    form = visitor.get(JOIN)
    joined = visitor.post(
        JOIN,
        {
            "code": invitation["code"].lower(),
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
            "timezone": "Europe/London",
        },
    )
    patients = visitor.get("/dashboard/")

    assert "no-cache" in form["Cache-Control"]
    assert 'autocomplete="one-time-code"' in form.content.decode()
    assert joined.status_code == 302
    assert joined["Location"] == "/dashboard/"
    assert patients.status_code == 200  # signed in, as a clinician of the clinic
    assert "Welcome: your account is ready and you are signed in." in seen(
        patients.content.decode()
    )
    assert fake.accounts["dina@clinic.example"].roles == ("clinician",)
    assert fake.passwords["dina@clinic.example"] == NEW_PASSWORD
    # identity counts wrong codes per visitor: it is told who the visitor is.
    assert fake.visitors == ["203.0.113.7"]
    assert "Nothing was saved" not in seen(patients.content.decode())


def test_joining_says_what_is_wrong_and_signs_nobody_in(
    fake: FakeServices, clinic: Clinic, admin: Client
) -> None:
    _post(admin, INVITE, {"email": "eve@clinic.example", "full_name": "Eve", "role": "clinician"})
    [invitation] = fake.invitations.values()
    visitor = Client()

    def join(code: str, password: str = NEW_PASSWORD, again: str = NEW_PASSWORD) -> str:
        body = {
            "code": code,
            "new_password": password,
            "new_password_again": again,
            "timezone": "UTC",
        }
        response = visitor.post(JOIN, body)
        assert response.status_code == 200
        return seen(response.content.decode())

    wrong = join("WRONG-CODE")
    mismatch = join(invitation["code"], again="something-else-2026")
    short = join(invitation["code"], "short", "short")
    fake.down.add("identity")
    down = join(invitation["code"])
    fake.down.clear()
    invitation["state"] = "revoked"
    withdrawn = join(invitation["code"])

    assert "This invitation code is not valid. Check it and try again." in wrong
    assert "The two new passwords are not the same." in mismatch
    assert "This password is too short." in short
    assert "identity did not answer, so your code may not be used yet." in down
    assert "This invitation has been revoked" in withdrawn
    assert "eve@clinic.example" not in fake.accounts
    assert visitor.get("/dashboard/").status_code == 302  # still not signed in
    assert len(fake.visitors) == 4  # the mismatch never left the page


def test_a_new_code_replaces_a_lost_one_and_withdrawing_stops_it(
    fake: FakeServices, clinic: Clinic, admin: Client
) -> None:
    finn = {"email": "finn@clinic.example", "full_name": "Finn", "role": "clinic_admin"}
    _post(admin, INVITE, finn)
    _post(admin, INVITE, finn)
    first, second = fake.invitations.values()
    after_withdraw = _post(
        admin,
        f"/dashboard/invitations/{second['id']}/withdraw/",
        {"next": INVITE},
    )
    clinician = signed_in(csrf=True)
    not_theirs = clinician.post(
        f"/dashboard/invitations/{second['id']}/withdraw/",
        {"csrfmiddlewaretoken": csrf(clinician)},
    )

    assert (first["state"], second["state"]) == ("revoked", "revoked")
    assert second["role"] == "clinic_admin"
    text = seen(after_withdraw)
    assert "The invitation is withdrawn: its code no longer works." in text
    assert "Invite a colleague" in text  # back where the button was
    assert "finn@clinic.example" not in text.split("Invitations not yet accepted")[1]
    assert not_theirs.status_code == 404  # a clinician does not see colleagues' invitations


def test_an_address_in_use_invites_nobody(
    fake: FakeServices, clinic: Clinic, admin: Client
) -> None:
    page = _post(admin, INVITE, {"email": CLINICIAN, "full_name": "Again", "role": "clinician"})

    assert "An account with this e-mail address exists already." in seen(page)
    assert fake.invitations == {}


# --- A person's account ---------------------------------------------------------------------------


def test_a_forgotten_password_is_reset_with_a_code_from_the_admin(
    fake: FakeServices, clinic: Clinic, admin: Client
) -> None:
    carl = fake.accounts[CLINICIAN]
    person = seen(admin.get(_person_url(carl.user_id)).content.decode())
    response = admin.post(
        _person_url(carl.user_id, "password-reset"), {"csrfmiddlewaretoken": csrf(admin)}
    )
    [(reset_for, asked_by, code)] = fake.reset_codes

    def redeem(client: Client, with_code: str) -> Any:
        body = {"code": with_code, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}
        return client.post(RESET, body)

    visitor = Client()
    wrong = seen(redeem(visitor, "NOT-A-CODE").content.decode())
    done = redeem(visitor, code)
    again = seen(redeem(Client(), code).content.decode())

    assert "Carl Clinician" in person
    assert "Give a password reset code" in person
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert (reset_for, asked_by) == (carl.user_id, fake.accounts[ADMIN].user_id)
    assert code in seen(response.content.decode())
    assert "Set a new password with a code" in seen(response.content.decode())
    assert "This reset code is not valid." in wrong
    assert done.status_code == 302
    assert done["Location"] == "/dashboard/"
    assert visitor.get("/dashboard/").status_code == 200
    assert "This reset code has been used" in again
    # The old password no longer signs in; the new one does.
    old = Client().post("/dashboard/login/", {"username": CLINICIAN, "password": PASSWORD})
    new = Client().post("/dashboard/login/", {"username": CLINICIAN, "password": NEW_PASSWORD})
    assert old.status_code == 200
    assert new.status_code == 302


def test_deactivating_needs_a_tick_and_ends_the_persons_access(
    fake: FakeServices, clinic: Clinic, admin: Client
) -> None:
    carl = fake.accounts[CLINICIAN]
    unticked = admin.post(
        _person_url(carl.user_id, "deactivate"), {"csrfmiddlewaretoken": csrf(admin)}
    )
    nothing_yet = list(fake.deactivated)

    page = seen(_post(admin, _person_url(carl.user_id, "deactivate"), {"confirm": "on"}))
    sign_in = Client().post("/dashboard/login/", {"username": CLINICIAN, "password": PASSWORD})

    assert unticked.status_code == 200  # the page again, saying why
    assert "Tick the box to confirm" in seen(unticked.content.decode())
    assert nothing_yet == []
    assert fake.deactivated == [(carl.user_id, fake.accounts[ADMIN].user_id)]
    assert "Carl Clinician's account is deactivated: they can no longer sign in." in page
    assert "Account Deactivated" in page
    assert "Give a password reset code" not in page
    assert sign_in.status_code == 200  # refused


def test_a_deactivated_colleague_is_reactivated_and_signs_in_again(
    fake: FakeServices, clinic: Clinic, admin: Client
) -> None:
    carl = fake.accounts[CLINICIAN]
    active_page = seen(admin.get(_person_url(carl.user_id)).content.decode())
    _post(admin, _person_url(carl.user_id, "deactivate"), {"confirm": "on"})
    deactivated_page = seen(admin.get(_person_url(carl.user_id)).content.decode())

    page = seen(_post(admin, _person_url(carl.user_id, "reactivate")))
    sign_in = Client().post("/dashboard/login/", {"username": CLINICIAN, "password": PASSWORD})

    assert "Reactivate Carl Clinician" not in active_page
    assert "Reactivate Carl Clinician" in deactivated_page
    assert "Deactivate Carl Clinician" not in deactivated_page
    assert fake.reactivated == [(carl.user_id, fake.accounts[ADMIN].user_id)]
    assert "Carl Clinician's account is active again" in page
    assert "Account Active" in page
    assert sign_in.status_code == 302


def test_an_admin_cannot_deactivate_themselves(
    fake: FakeServices, clinic: Clinic, admin: Client
) -> None:
    own = fake.accounts[ADMIN].user_id
    page = seen(admin.get(_person_url(own)).content.decode())
    forced = seen(_post(admin, _person_url(own, "deactivate"), {"confirm": "on"}))

    assert "This is you." in page
    assert "Deactivate Ada Admin" not in page
    assert "You cannot deactivate your own account." in forced
    assert fake.deactivated == []


def test_erasing_a_patient_is_confirmed_with_their_address(
    fake: FakeServices, clinic: Clinic, admin: Client
) -> None:
    patient = uuid.uuid4()
    fake.add_person(clinic.clinic_id, patient, "Paula Patient")
    erase_url = _person_url(patient, "erase")

    person = seen(admin.get(_person_url(patient)).content.decode())
    wrong = admin.post(
        erase_url, {"email": "someone@else.example", "csrfmiddlewaretoken": csrf(admin)}
    )
    erased_before = list(fake.erased)
    done = seen(_post(admin, erase_url, {"email": " PAULA.Patient@example.org "}))
    staff = admin.get(_person_url(fake.accounts[CLINICIAN].user_id, "erase"))

    assert "Erase Paula Patient…" in person
    assert wrong.status_code == 200  # the page again, saying why
    assert "This is not the patient's e-mail address, so nothing was erased." in seen(
        wrong.content.decode()
    )
    assert erased_before == []
    assert fake.erased == [(patient, fake.accounts[ADMIN].user_id)]
    assert "Paula Patient's personal data is erased." in done
    assert "paula.patient@example.org" not in done  # gone from the clinic's people
    assert staff.status_code == 404  # staff are deactivated, never erased


def test_a_clinic_admin_changes_their_own_password(
    fake: FakeServices, clinic: Clinic, admin: Client
) -> None:
    response = admin.post(
        "/dashboard/account/password/",
        {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
            "csrfmiddlewaretoken": csrf(admin),
        },
    )

    assert response.status_code == 302
    assert response["Location"] == PEOPLE
    assert fake.passwords[ADMIN] == NEW_PASSWORD


def test_identity_down_says_try_again_and_changes_nothing(
    fake: FakeServices, clinic: Clinic, admin: Client
) -> None:
    carl = fake.accounts[CLINICIAN].user_id
    fake.down.add("identity")

    people = admin.get(PEOPLE)
    person = admin.get(_person_url(carl))
    deactivate = admin.post(
        _person_url(carl, "deactivate"), {"confirm": "on", "csrfmiddlewaretoken": csrf(admin)}
    )
    invite = admin.post(
        INVITE,
        {
            "email": "gil@clinic.example",
            "full_name": "Gil",
            "role": "clinician",
            "csrfmiddlewaretoken": csrf(admin),
        },
    )

    for response in (people, person, deactivate):
        assert response.status_code == 503
        assert "identity" in seen(response.content.decode())
    assert invite.status_code == 200
    assert "identity did not answer, so the invitation may not be made." in seen(
        invite.content.decode()
    )
    assert fake.deactivated == []
    assert fake.invitations == {}
    fake.down.clear()
    assert admin.get(PEOPLE).status_code == 200  # still signed in
