"""What a clinician changes through the dashboard: inviting a patient (identity) and recording an
injection (diary). Each is asked of the service that owns it with the clinician's own token;
identity and diary answer from the local fake (dashboard_fakes.py)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from dashboard_client import CLINICIAN, csrf, hidden_value, seen, signed_in, treated_patient
from dashboard_fakes import FakeServices
from django.test import Client
from django.utils import timezone
from helpers import T0, Clinic

pytestmark = pytest.mark.django_db

INVITE = "/dashboard/patients/invite/"


# --- Inviting a patient ---------------------------------------------------------------------------


def _invite(client: Client, **fields: str) -> str:
    body = {
        "email": "nina.north@example.org",
        "full_name": "Nina North",
        "sex": "female",
        "birth_year": "1971",
        "csrfmiddlewaretoken": csrf(client),
        **fields,
    }
    response = client.post(INVITE, body)
    assert response.status_code == 200
    return response.content.decode()


def test_a_clinician_invites_a_patient_and_sees_the_code_once(
    fake: FakeServices, clinic: Clinic
) -> None:
    client = signed_in(csrf=True)
    listed = client.get("/dashboard/").content.decode()
    refused = client.post(INVITE, {"email": "nina.north@example.org", "full_name": "Nina North"})

    response = client.post(
        INVITE,
        {
            "email": "nina.north@example.org",
            "full_name": "Nina North",
            "sex": "female",
            "birth_year": "1971",
            "csrfmiddlewaretoken": csrf(client),
        },
    )
    page = client.get(INVITE).content.decode()

    assert 'href="/dashboard/patients/invite/"' in listed
    assert refused.status_code == 403  # no CSRF token: nothing asked of identity
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    [invitation] = fake.invitations.values()
    sent = {key: invitation[key] for key in ("email", "full_name", "role", "sex", "birth_year")}
    assert sent == {
        "email": "nina.north@example.org",
        "full_name": "Nina North",
        "role": "patient",
        "sex": "female",
        "birth_year": 1971,
    }
    assert invitation["clinic"] == str(clinic.clinic_id)  # the token's clinic, not the form's
    shown = response.content.decode()
    assert f'aria-label="The one-time invitation code">{invitation["code"]}</output>' in shown
    assert "17 Feb 2025, 09:00" in shown  # when it expires, in the clinic's zone (London)
    # The invite page lists it without its code.
    assert "nina.north@example.org" in page
    assert invitation["code"] not in page


def test_an_invitation_identity_refuses_or_the_form_catches_says_why(
    fake: FakeServices, clinic: Clinic
) -> None:
    treated_patient(clinic, fake, "Alice Able")  # alice.able@example.org has an account
    client = signed_in(csrf=True)

    taken = _invite(client, email="alice.able@example.org")
    mistyped = _invite(client, email="nina.north@")
    future = _invite(client, birth_year=str(timezone.localdate().year + 1))
    nameless = _invite(client, full_name="")
    fake.down.add("identity")
    down = _invite(client)

    assert "An account with this e-mail address exists already." in seen(taken)
    assert "Enter a valid email address." in seen(mistyped)
    assert "A year of birth cannot be in the future." in seen(future)
    assert "This field is required." in seen(nameless)
    assert "identity did not answer, so the invitation may not be made." in seen(down)
    assert fake.invitations == {}
    for page in (taken, mistyped, future, nameless, down):
        assert "Nothing was saved" in seen(page) or "identity did not answer" in seen(page)
        assert 'id="invitation-code"' not in page


def test_a_patient_who_lost_their_code_gets_a_new_one_that_replaces_it(
    fake: FakeServices, clinic: Clinic
) -> None:
    client = signed_in(csrf=True)
    _invite(client)
    [first] = fake.invitations.values()
    page = client.get(INVITE).content.decode()
    again = re.search(
        r'<form method="post" action="/dashboard/patients/invite/".*?</form>', page, re.S
    )
    assert again, "no New code button"
    sent = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', again.group(0)))

    response = client.post(INVITE, sent)

    second = [i for i in fake.invitations.values() if i is not first]
    assert [(i["email"], i["full_name"], i["sex"], i["birth_year"]) for i in second] == [
        ("nina.north@example.org", "Nina North", "female", 1971)
    ]
    assert first["state"] == "revoked"  # identity replaced the lost code
    assert second[0]["code"] in response.content.decode()


def test_a_clinician_withdraws_an_invitation_but_not_another_clinics(
    fake: FakeServices, clinic: Clinic, other: Clinic
) -> None:
    client = signed_in(csrf=True)
    _invite(client)
    [(invitation_id, invitation)] = fake.invitations.items()
    theirs = str(uuid.uuid4())
    fake.invitations[theirs] = {**invitation, "id": theirs, "clinic": str(other.clinic_id)}
    token = {"csrfmiddlewaretoken": csrf(client)}

    foreign = client.post(f"/dashboard/invitations/{theirs}/withdraw/", token)
    withdrawn = client.post(f"/dashboard/invitations/{invitation_id}/withdraw/", token, follow=True)

    assert foreign.status_code == 404
    assert fake.invitations[theirs]["state"] == "pending"
    assert fake.invitations[invitation_id]["state"] == "revoked"
    html = withdrawn.content.decode()
    assert "The invitation is withdrawn" in html
    assert "nina.north@example.org" not in html  # no longer listed as pending


# --- Correcting a patient's details ------------------------------------------------------------


def test_a_clinician_corrects_a_patients_name_sex_and_year_of_birth(
    fake: FakeServices, clinic: Clinic, other: Clinic
) -> None:
    patient = treated_patient(clinic, fake, "Nora Newcom")
    fake.people[clinic.clinic_id][patient].update(sex="unknown", birth_year=None)
    foreign = treated_patient(other, fake, "Carol Cross")
    client = signed_in(csrf=True)
    patient_page = client.get(f"/dashboard/patients/{patient}/").content.decode()
    form = client.get(f"/dashboard/patients/{patient}/details/").content.decode()
    url = f"/dashboard/patients/{patient}/details/"
    token = csrf(client)

    future = client.post(
        url,
        {
            "full_name": "Nora Newcome",
            "sex": "female",
            "birth_year": "2999",
            "csrfmiddlewaretoken": token,
        },
    )
    saved = client.post(
        url,
        {
            "full_name": "Nora Newcome",
            "sex": "female",
            "birth_year": "1968",
            "csrfmiddlewaretoken": token,
        },
        follow=True,
    )
    theirs = client.get(f"/dashboard/patients/{foreign}/details/")

    assert f'href="{url}"' in patient_page
    assert 'value="Nora Newcom"' in form
    assert "A year of birth cannot be in the future." in seen(future.content.decode())
    assert fake.person_updates == [
        (
            fake.accounts[CLINICIAN].user_id,
            {"full_name": "Nora Newcome", "sex": "female", "birth_year": 1968},
        )
    ]
    assert saved.redirect_chain == [(f"/dashboard/patients/{patient}/", 302)]
    assert "The patient's details are saved." in seen(saved.content.decode())
    assert theirs.status_code == 404
    assert b"Carol Cross" not in theirs.content


# --- Recording an injection -----------------------------------------------------------------------


def _injection_form(client: Client, patient: uuid.UUID) -> dict[str, str]:
    html = client.get(f"/dashboard/patients/{patient}/injections/new/").content.decode()
    return {
        "injection_id": hidden_value(html, "injection_id"),
        "new_course_id": hidden_value(html, "new_course_id"),
        "csrfmiddlewaretoken": csrf(client),
    }


def _record(client: Client, patient: uuid.UUID, form: dict[str, str], **fields: object) -> Any:
    body = {
        **form,
        "performed_at": "2025-07-01T09:30",
        "site": "sij_intra_articular",
        "laterality": "left",
        "solution": "dextrose",
        "dextrose_percent": "25",
        "anaesthetic": "lidocaine",
        "guidance": "ultrasound",
        "protocol": "",
        "diagnosis": "sij_dysfunction",
        "co_treatments": ["physiotherapy", "sij_belt"],
        **fields,
    }
    return client.post(f"/dashboard/patients/{patient}/injections/new/", body, follow=True)


def test_a_clinician_records_an_injection_once_even_when_the_form_is_sent_twice(
    fake: FakeServices, clinic: Clinic
) -> None:
    patient = treated_patient(clinic, fake, "Alice Able")
    client = signed_in(csrf=True)
    patient_page = client.get(f"/dashboard/patients/{patient}/").content.decode()
    form = _injection_form(client, patient)

    first = _record(client, patient, form)
    again = _record(client, patient, form)

    assert f'href="/dashboard/patients/{patient}/injections/new/"' in patient_page
    [(injection_id, (recorded_for, recorded_by, body))] = fake.injections.items()
    assert injection_id == form["injection_id"]
    assert (recorded_for, recorded_by) == (patient, fake.accounts[CLINICIAN].user_id)
    assert body == {
        "id": form["injection_id"],
        # 09:30 at the clinic (London, summer time)
        "performed_at": "2025-07-01T09:30:00+01:00",
        "site": "sij_intra_articular",
        "laterality": "left",
        "solution": "dextrose",
        "dextrose_percent": 25.0,
        "anaesthetic": "lidocaine",
        "guidance": "ultrasound",
        "protocol": None,  # not recorded
        "diagnosis": "sij_dysfunction",
        "co_treatments": ["physiotherapy", "sij_belt"],
    }
    assert first.redirect_chain == [(f"/dashboard/patients/{patient}/", 302)]
    assert "Injection of 1 Jul 2025, 09:30 recorded, injection 1 of its course." in seen(
        first.content.decode()
    )
    assert "was recorded already; nothing was added." in seen(again.content.decode())


def test_an_injection_that_starts_a_new_course_names_the_course_the_form_chose(
    fake: FakeServices, clinic: Clinic
) -> None:
    patient = treated_patient(clinic, fake, "Alice Able")
    client = signed_in(csrf=True)
    form = _injection_form(client, patient)

    _record(client, patient, form, new_course="on")

    [(_, _, body)] = fake.injections.values()
    assert body["course_id"] == form["new_course_id"]
    assert body["course_id"] != form["injection_id"]


def test_an_injection_the_form_or_diary_refuses_is_not_recorded_and_says_why(
    fake: FakeServices, clinic: Clinic
) -> None:
    patient = treated_patient(clinic, fake, "Alice Able")
    client = signed_in(csrf=True)
    form = _injection_form(client, patient)
    tomorrow = (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")

    future = _record(client, patient, form, performed_at=tomorrow)
    prp_strength = _record(client, patient, form, solution="prp")
    unknown_site = _record(client, patient, form, site="knee")
    fake.injection_errors = [{"field": "course_id", "message": "This course is another's."}]
    diary_says = _record(client, patient, form, new_course="on")
    fake.injection_errors = []
    fake.down.add("diary")
    down = _record(client, patient, form)

    assert "An injection cannot be recorded before it is given." in seen(future.content.decode())
    assert "Only a dextrose solution has a concentration." in seen(prp_strength.content.decode())
    assert "Select a valid choice. knee is not one of the available choices." in seen(
        unknown_site.content.decode()
    )
    assert "This course is another's." in seen(diary_says.content.decode())
    assert "diary did not answer, so the injection may not be recorded. Send the form again" in (
        seen(down.content.decode())
    )
    assert fake.injections == {}
    for response in (future, prp_strength, unknown_site, diary_says, down):
        assert response.redirect_chain == []  # the form again, with what was typed
        assert hidden_value(response.content.decode(), "injection_id") == form["injection_id"]


def test_no_injection_form_for_another_clinics_patient(
    fake: FakeServices, clinic: Clinic, other: Clinic
) -> None:
    foreign = treated_patient(other, fake, "Carol Cross")
    client = signed_in(csrf=True)
    form = {
        "injection_id": str(uuid.uuid4()),
        "new_course_id": str(uuid.uuid4()),
        "csrfmiddlewaretoken": csrf(client),
    }

    shown = client.get(f"/dashboard/patients/{foreign}/injections/new/")
    sent = _record(client, foreign, form)

    assert shown.status_code == 404
    assert sent.status_code == 404
    assert b"Carol Cross" not in shown.content
    assert fake.injections == {}


# --- Verifying an injection the patient reported --------------------------------------------------


def test_a_clinician_verifies_an_injection_the_patient_reported(
    fake: FakeServices, clinic: Clinic, other: Clinic
) -> None:
    patient = clinic.enrol()
    fake.add_person(clinic.clinic_id, patient, "Alice Able")
    reported = uuid.UUID(clinic.inject(patient, T0)["injection_id"])
    given = uuid.UUID(clinic.inject(patient, T0 + timedelta(days=21))["injection_id"])
    fake.diary_injections[patient] = [
        {"id": str(reported), "verified": False, "recorded_by_role": "patient"},
        {"id": str(given), "verified": True, "recorded_by_role": "clinician"},
    ]
    foreign = treated_patient(other, fake, "Carol Cross")
    theirs = str(uuid.uuid4())
    fake.diary_injections[foreign] = [{"id": theirs, "verified": False}]
    client = signed_in(csrf=True)
    timeline = f"/dashboard/patients/{patient}/timeline/?all=1"

    before = seen(client.get(timeline).content.decode())
    token = {"csrfmiddlewaretoken": csrf(client), "next": f"/dashboard/patients/{patient}/"}
    verified = client.post(f"/dashboard/injections/{reported}/verify/", token, follow=True)
    after = seen(client.get(timeline).content.decode())
    not_ours = client.post(f"/dashboard/injections/{theirs}/verify/", token)

    # One of the two injections waits for a clinician; after the click, neither does.
    assert before.count("reported by the patient, not verified Verify") == 1
    assert before.count("given") == 1
    assert verified.redirect_chain == [(f"/dashboard/patients/{patient}/", 302)]
    assert "The injection is verified." in seen(verified.content.decode())
    assert fake.verified == [(reported, fake.accounts[CLINICIAN].user_id)]
    assert "not verified" not in after
    assert after.count("given") == 2
    assert not_ours.status_code == 404


def test_the_timeline_says_so_when_diary_cannot_tell_what_is_verified(
    fake: FakeServices, clinic: Clinic
) -> None:
    patient = treated_patient(clinic, fake, "Alice Able")
    fake.down.add("diary")
    client = signed_in()

    page = seen(client.get(f"/dashboard/patients/{patient}/timeline/?all=1").content.decode())

    assert "Injections the patient reported are not marked: diary did not answer." in page
    assert "Injection: Sacroiliac joint, intra-articular" in page  # the injections are still shown


# --- Correcting and deleting an injection ---------------------------------------------------------


def _recorded(fake: FakeServices, clinic: Clinic) -> tuple[uuid.UUID, uuid.UUID]:
    """A patient with one injection, as outcomes and diary both have it."""
    patient = clinic.enrol()
    fake.add_person(clinic.clinic_id, patient, "Alice Able")
    injection = uuid.UUID(clinic.inject(patient, T0)["injection_id"])
    fake.diary_injections[patient] = [
        {
            "id": str(injection),
            "performed_at": "2025-01-06T10:00:00Z",
            "site": "sij_intra_articular",
            "laterality": "left",
            "solution": "dextrose",
            "dextrose_percent": 15.0,
            "anaesthetic": None,
            "guidance": "fluoroscopy",
            "protocol": None,
            "diagnosis": None,
            "co_treatments": ["exercise"],
            "number_in_course": 1,
            "recorded_by_role": "clinician",
            "verified": True,
            "version": 3,
        }
    ]
    return patient, injection


def _value(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no {name} in the form"
    return match.group(1)


def _filled(html: str) -> dict[str, object]:
    """What a browser would send back of the correction form as shown."""
    fields: dict[str, object] = {
        "version": hidden_value(html, "version"),
        "performed_at": _value(html, "performed_at"),
        "dextrose_percent": _value(html, "dextrose_percent"),
        "co_treatments": re.findall(r'name="co_treatments" value="([^"]*)"[^>]*checked', html),
    }
    for name in ("site", "laterality", "solution", "anaesthetic", "guidance", "protocol"):
        select = re.search(rf'<select name="{name}".*?</select>', html, re.S)
        assert select
        chosen = re.search(r'<option value="([^"]*)" selected>', select.group(0))
        fields[name] = chosen.group(1) if chosen else ""
    fields["diagnosis"] = ""
    return fields


def test_a_clinician_corrects_an_injection_from_the_timeline(
    fake: FakeServices, clinic: Clinic
) -> None:
    patient, injection = _recorded(fake, clinic)
    client = signed_in(csrf=True)
    timeline = client.get(f"/dashboard/patients/{patient}/timeline/?all=1").content.decode()
    page = client.get(f"/dashboard/injections/{injection}/").content.decode()
    shown = _filled(page)

    corrected = client.post(
        f"/dashboard/injections/{injection}/",
        {**shown, "laterality": "right", "csrfmiddlewaretoken": csrf(client)},
        follow=True,
    )

    assert f'href="/dashboard/injections/{injection}/"' in timeline
    # The form shows diary's injection, its time in the clinic's zone (London, winter).
    assert shown["performed_at"] == "2025-01-06T10:00"
    assert (shown["site"], shown["laterality"], shown["dextrose_percent"]) == (
        "sij_intra_articular",
        "left",
        "15.0",
    )
    assert shown["co_treatments"] == ["exercise"]
    assert shown["version"] == "3"
    [(method, changed, by, body)] = fake.changes
    assert (method, changed, by) == ("PATCH", injection, fake.accounts[CLINICIAN].user_id)
    assert body is not None
    assert body["laterality"] == "right"
    assert body["performed_at"] == "2025-01-06T10:00:00+00:00"
    assert (body["site"], body["dextrose_percent"], body["co_treatments"]) == (
        "sij_intra_articular",
        15.0,
        ["exercise"],
    )
    assert corrected.redirect_chain == [(f"/dashboard/patients/{patient}/", 302)]
    assert "The injection is corrected." in seen(corrected.content.decode())


def test_a_correction_of_an_injection_changed_meanwhile_changes_nothing(
    fake: FakeServices, clinic: Clinic
) -> None:
    patient, injection = _recorded(fake, clinic)
    client = signed_in(csrf=True)
    shown = _filled(client.get(f"/dashboard/injections/{injection}/").content.decode())
    fake.diary_injections[patient][0].update(laterality="bilateral", version=4)  # another clinician

    stale = client.post(
        f"/dashboard/injections/{injection}/",
        {**shown, "laterality": "right", "csrfmiddlewaretoken": csrf(client)},
        follow=True,
    )
    html = stale.content.decode()

    assert fake.changes == []
    assert stale.redirect_chain == [(f"/dashboard/injections/{injection}/", 302)]
    assert "Someone changed this injection after you opened it, so nothing was changed." in seen(
        html
    )
    # The form now shows the injection as it is, at its new version.
    assert _filled(html)["laterality"] == "bilateral"
    assert hidden_value(html, "version") == "4"


def test_a_clinician_deletes_an_injection_entered_by_mistake(
    fake: FakeServices, clinic: Clinic, other: Clinic
) -> None:
    patient, injection = _recorded(fake, clinic)
    foreign = treated_patient(other, fake, "Carol Cross")
    theirs = str(uuid.uuid4())
    fake.diary_injections[foreign] = [{"id": theirs, "version": 1}]
    client = signed_in(csrf=True)
    token = csrf(client)

    stale = client.post(
        f"/dashboard/injections/{injection}/delete/",
        {"version": "2", "csrfmiddlewaretoken": token},
        follow=True,
    )
    not_ours = client.post(
        f"/dashboard/injections/{theirs}/delete/", {"version": "1", "csrfmiddlewaretoken": token}
    )
    not_ours_page = client.get(f"/dashboard/injections/{theirs}/")
    fake.down.add("diary")
    down = client.post(
        f"/dashboard/injections/{injection}/delete/",
        {"version": "3", "csrfmiddlewaretoken": token},
        follow=True,
    )
    fake.down.clear()
    deleted = client.post(
        f"/dashboard/injections/{injection}/delete/",
        {"version": "3", "csrfmiddlewaretoken": token},
        follow=True,
    )

    assert "nothing was changed" in seen(stale.content.decode())
    assert (not_ours.status_code, not_ours_page.status_code) == (404, 404)
    assert down.redirect_chain == [(f"/dashboard/injections/{injection}/", 302)]
    assert "diary did not answer, so nothing was deleted. Try again." in seen(down.content.decode())
    assert [(method, changed) for method, changed, _, _ in fake.changes] == [("DELETE", injection)]
    assert deleted.redirect_chain == [(f"/dashboard/patients/{patient}/", 302)]
    assert "The injection is deleted." in seen(deleted.content.decode())
    assert fake.diary_injections[patient] == []


def test_a_change_page_that_needs_a_service_that_is_down_says_so(
    fake: FakeServices, clinic: Clinic
) -> None:
    patient, injection = _recorded(fake, clinic)
    client = signed_in()
    fake.down.add("identity")
    needs_identity = [
        client.get(f"/dashboard/patients/{patient}/injections/new/"),
        client.get(f"/dashboard/patients/{patient}/details/"),
    ]
    fake.down = {"diary"}
    needs_diary = client.get(f"/dashboard/injections/{injection}/")

    for response, service in [*((r, "identity") for r in needs_identity), (needs_diary, "diary")]:
        assert response.status_code == 503
        assert f"The {service} service did not answer" in seen(response.content.decode())
        assert "You are still signed in." in seen(response.content.decode())
