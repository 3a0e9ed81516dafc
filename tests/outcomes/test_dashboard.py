"""The clinician dashboard through Django's test client: sign-in through identity, clinic scoping,
the same numbers as the API, flags, cohorts, exports and the audit trail. identity, diary and
reminders answer from a local fake (dashboard_fakes.py)."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from dashboard_client import CLINICIAN, OTHER_CLINICIAN, csrf, signed_in, treated_patient
from dashboard_fakes import PASSWORD, FakeServices
from django.conf import LazySettings
from django.test import Client
from helpers import T0, BulkCourse, Clinic, bulk_cohort, clinician_client

from outcomes.dashboard import services as dashboard_services
from outcomes.dashboard.models import Export, ExportStatus
from outcomes.flags.models import Flag, FlagStatus
from shared.audit.models import AuditEntry

pytestmark = pytest.mark.django_db

API = "/api/outcomes/v1"


def _json_script(html: str, element_id: str) -> Any:
    match = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S
    )
    assert match, f"no {element_id} on the page"
    return json.loads(match.group(1))


def _row(html: str, patient_id: uuid.UUID) -> str:
    row = re.search(rf'<tr data-patient-id="{patient_id}">(.*?)</tr>', html, re.S)
    assert row, f"no row for {patient_id}"
    return row.group(1)


def _cell(html: str, patient_id: uuid.UUID, name: str) -> str:
    cell = re.search(rf'<td data-field="{name}">(.*?)</td>', _row(html, patient_id), re.S)
    assert cell
    return re.sub(r"<[^>]+>", " ", cell.group(1)).split()[0]


# --- Signing in -----------------------------------------------------------------------------------


def test_anonymous_visitor_is_sent_to_sign_in(fake: FakeServices) -> None:
    for path in ("/dashboard/", "/dashboard/flags/", f"/dashboard/patients/{uuid.uuid4()}/"):
        response = Client().get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/dashboard/login/?next=")


def test_wrong_password_says_so_plainly(clinic: Clinic) -> None:
    response = Client().post("/dashboard/login/", {"username": CLINICIAN, "password": "nope"})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'role="alert"' in html
    assert "do not match an account" in html


@pytest.mark.parametrize(
    ("roles", "own_pages"),
    [(("patient",), None), (("clinic_admin",), "/dashboard/clinic/people/")],
)
def test_only_clinicians_see_the_patient_pages(
    fake: FakeServices, clinic: Clinic, roles: tuple[str, ...], own_pages: str | None
) -> None:
    fake.add_account("someone@clinic.example", roles, clinic.clinic_id)
    treated_patient(clinic, fake, "Alice Able")
    client = signed_in("someone@clinic.example")

    response = client.get("/dashboard/")

    assert response.status_code == 403
    html = response.content.decode()
    assert "This page is for clinicians" in html
    assert "Alice Able" not in html
    # A clinic administrator is pointed to their own pages; a patient to the app.
    if own_pages:
        assert f'href="{own_pages}">Go to your pages' in html
    else:
        assert "Go to your pages" not in html
        assert "Patients use the app" in html


def test_sign_out_ends_the_sign_in_at_identity(fake: FakeServices, clinic: Clinic) -> None:
    client = signed_in(csrf=True)
    refresh = client.session["identity_tokens"]["refresh"]

    response = client.post("/dashboard/logout/", {"csrfmiddlewaretoken": csrf(client)})

    assert response.status_code == 302
    assert fake.logged_out == [refresh]
    assert client.get("/dashboard/").status_code == 302


def test_an_ended_sign_in_sends_the_clinician_back_to_sign_in(
    fake: FakeServices, clinic: Clinic
) -> None:
    fake.access_lifetime = timedelta(seconds=5)  # due for a refresh at once
    client = signed_in()
    fake.refresh_tokens.clear()  # e.g. the account was deactivated

    response = client.get("/dashboard/")

    assert response.status_code == 302
    assert response["Location"].startswith("/dashboard/login/")


def test_an_expiring_token_is_refreshed_and_the_page_shown(
    fake: FakeServices, clinic: Clinic
) -> None:
    fake.access_lifetime = timedelta(seconds=5)
    client = signed_in()
    first = client.session["identity_tokens"]["refresh"]

    response = client.get("/dashboard/")

    assert response.status_code == 200
    assert client.session["identity_tokens"]["refresh"] != first


def test_a_clinician_changes_their_password_and_stays_signed_in(
    fake: FakeServices, clinic: Clinic
) -> None:
    client = signed_in(csrf=True)
    before = client.session["identity_tokens"]["refresh"]
    page = client.get("/dashboard/account/password/")
    assert page.status_code == 200

    def change(current: str, new: str, again: str | None = None) -> Any:
        return client.post(
            "/dashboard/account/password/",
            {
                "csrfmiddlewaretoken": csrf(client),
                "current_password": current,
                "new_password": new,
                "new_password_again": new if again is None else again,
            },
        )

    mistyped = change(PASSWORD, "a-new-clinic-passphrase", "a-new-clinic-passphrase!")
    wrong = change("not-the-password", "a-new-clinic-passphrase")
    short = change(PASSWORD, "short")
    done = change(PASSWORD, "a-new-clinic-passphrase")

    assert "The two new passwords are not the same." in mistyped.content.decode()
    assert "This is not your current password." in wrong.content.decode()
    assert "This password is too short." in short.content.decode()
    assert PASSWORD not in wrong.content.decode()  # a password is never sent back
    assert done.status_code == 302
    assert fake.passwords == {CLINICIAN: "a-new-clinic-passphrase"}
    after = client.session["identity_tokens"]["refresh"]
    assert before not in fake.refresh_tokens  # the old sign-in ended at identity
    assert fake.refresh_tokens.get(after) == CLINICIAN  # this session holds the new one
    listed = client.get("/dashboard/", follow=True)
    assert "Your password is changed." in listed.content.decode()
    assert listed.redirect_chain == []


# --- My patients ----------------------------------------------------------------------------------


def test_clinician_sees_only_their_clinics_patients_with_the_apis_numbers(
    fake: FakeServices, clinic: Clinic, other: Clinic
) -> None:
    treated = treated_patient(clinic, fake, "Alice Able", baseline=8, later=(6, 4))
    clinic.prompt(treated, T0 + timedelta(days=1), answered=True)
    clinic.prompt(treated, T0 + timedelta(days=3), answered=False)
    quiet = clinic.enrol()
    fake.add_person(clinic.clinic_id, quiet, "Bob Baker")
    foreign = treated_patient(other, fake, "Carol Cross")
    fake.next_prompts[treated] = {
        "next_prompt_at": "2025-02-03T09:00:00Z",
        "kind": "flare",
        "instrument": "nrs",
    }
    client = signed_in()

    response = client.get("/dashboard/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Alice Able" in html
    assert "Bob Baker" in html
    assert "Carol Cross" not in html
    assert str(foreign) not in html
    assert "Harbour Spine Clinic" in html
    api = clinician_client(clinic.clinic_id).get(f"{API}/patients/").json()["results"]
    row = next(r for r in api if r["patient_id"] == str(treated))
    assert _cell(html, treated, "latest_nrs") == "4"
    assert row["latest_nrs"] == 4.0
    assert _cell(html, treated, "percent_change") == f"{row['percent_change']:.0f}"
    assert _cell(html, treated, "injections") == str(row["injections"])
    assert _cell(html, treated, "adherence_percent") == f"{row['adherence_percent']:.0f}"
    # 09:00 UTC on 3 February is 09:00 in London (winter time).
    assert "3 Feb 2025, 09:00" in html
    audited = set(
        AuditEntry.objects.filter(action="outcomes_summary.read").values_list(
            "subject_patient_id", flat=True
        )
    )
    assert audited == {treated, quiet}


def test_search_and_sort(fake: FakeServices, clinic: Clinic) -> None:
    high = treated_patient(clinic, fake, "Alice Able", baseline=8, later=(7,))
    low = treated_patient(clinic, fake, "Bob Baker", baseline=8, later=(2,))
    client = signed_in()

    found = client.get("/dashboard/?q=baker").content.decode()
    assert "Bob Baker" in found
    assert "Alice Able" not in found
    ascending = client.get("/dashboard/?sort=latest_nrs").content.decode()
    assert ascending.index(str(low)) < ascending.index(str(high))
    assert 'aria-sort="ascending"' in ascending
    descending = client.get("/dashboard/?sort=-latest_nrs").content.decode()
    assert descending.index(str(high)) < descending.index(str(low))


def test_times_are_in_the_clinics_time_zone(fake: FakeServices, other: Clinic) -> None:
    patient = treated_patient(other, fake, "Carol Cross")
    fake.next_prompts[patient] = {
        "next_prompt_at": "2025-07-01T13:30:00Z",
        "kind": "horizon",
        "instrument": "odi",
    }
    html = signed_in(OTHER_CLINICIAN).get("/dashboard/").content.decode()

    assert "1 Jul 2025, 09:30" in html  # New York, summer time
    assert "America/New_York" in html


def test_the_list_still_shows_when_reminders_is_down(fake: FakeServices, clinic: Clinic) -> None:
    treated_patient(clinic, fake, "Alice Able")
    fake.down.add("reminders")

    response = signed_in().get("/dashboard/")

    assert response.status_code == 200
    assert b"Alice Able" in response.content
    assert b"did not answer" in response.content


def test_a_deactivated_patient_is_marked_in_the_list_on_their_page_and_in_the_flags(
    fake: FakeServices, clinic: Clinic
) -> None:
    gone, flag = _red_flag(clinic, fake, "Dora Dean")
    fake.add_person(clinic.clinic_id, gone, "Dora Dean", active=False)
    still = treated_patient(clinic, fake, "Alice Able")
    client = signed_in()

    listed = client.get("/dashboard/").content.decode()
    patient_page = client.get(f"/dashboard/patients/{gone}/").content.decode()
    active_page = client.get(f"/dashboard/patients/{still}/").content.decode()
    inbox = client.get("/dashboard/flags/").content.decode()

    assert _cell(listed, gone, "next_prompt") == "none:"
    assert "Account deactivated" in _row(listed, gone)
    assert "Account deactivated" not in _row(listed, still)
    assert _cell(listed, still, "next_prompt") == "none"
    assert 'id="account-deactivated"' in patient_page
    assert "Dora Dean" in patient_page  # the history stays readable
    assert "Account deactivated" not in active_page
    flag_row = re.search(rf'<tr data-flag-id="{flag.id}".*?</tr>', inbox, re.S)
    assert flag_row
    assert "Account deactivated" in flag_row.group(0)


# --- A patient ------------------------------------------------------------------------------------


def test_the_patient_page_charts_the_apis_weekly_numbers_and_is_audited(
    fake: FakeServices, clinic: Clinic
) -> None:
    patient = treated_patient(clinic, fake, "Alice Able", baseline=8, later=(9, 6, 4))
    clinic.questionnaire(patient, T0 + timedelta(days=20), "pgic", 2)
    fake.next_prompts[patient] = {
        "next_prompt_at": "2025-02-17T10:00:00Z",
        "kind": "flare",
        "instrument": "nrs",
    }
    client = signed_in()

    response = client.get(f"/dashboard/patients/{patient}/")

    assert response.status_code == 200
    html = response.content.decode()
    chart = _json_script(html, "patient-chart-data")
    api = clinician_client(clinic.clinic_id).get(f"{API}/patients/{patient}/curve/").json()
    assert [c["weeks"] for c in chart["courses"]] == [c["weeks"] for c in api["courses"]]
    assert chart["courses"][0]["injection_weeks"] == [0.0]
    assert chart["courses"][0]["flare_weeks"] == 4
    assert "2: Much improved" in html
    assert "17 Feb 2025, 10:00" in html
    clinician_reads = [path for path, _ in fake.reads]
    assert "/api/reminders/v1/patients/next-prompts/" in clinician_reads
    clinician = fake.accounts[CLINICIAN].user_id
    assert AuditEntry.objects.filter(
        actor_id=clinician, action="outcomes_patient.read", subject_patient_id=patient
    ).exists()


def test_a_clinician_gives_a_patient_a_password_reset_code_shown_once(
    fake: FakeServices, clinic: Clinic
) -> None:
    patient = treated_patient(clinic, fake, "Alice Able")
    client = signed_in(csrf=True)
    page = client.get(f"/dashboard/patients/{patient}/").content.decode()
    assert "Give a password reset code" in page

    refused = client.post(f"/dashboard/patients/{patient}/password-reset/")
    response = client.post(
        f"/dashboard/patients/{patient}/password-reset/", {"csrfmiddlewaretoken": csrf(client)}
    )

    assert refused.status_code == 403  # no CSRF token: nothing asked of identity
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    [(person, asked_by, code)] = fake.reset_codes
    assert (person, asked_by) == (patient, fake.accounts[CLINICIAN].user_id)
    html = response.content.decode()
    assert f'<output id="reset-code" aria-label="The one-time code">{code}</output>' in html
    assert "4 Feb 2025, 09:00" in html  # in the clinic's time zone (London, winter)
    assert "Alice Able" in html


def test_no_reset_code_for_a_deactivated_or_unknown_patient(
    fake: FakeServices, clinic: Clinic, other: Clinic
) -> None:
    gone = treated_patient(clinic, fake, "Dora Dean")
    fake.add_person(clinic.clinic_id, gone, "Dora Dean", active=False)
    foreign = treated_patient(other, fake, "Carol Cross")
    client = signed_in(csrf=True)
    token = {"csrfmiddlewaretoken": csrf(client)}

    page = client.get(f"/dashboard/patients/{gone}/").content.decode()
    refused = client.post(f"/dashboard/patients/{gone}/password-reset/", token, follow=True)
    unknown = client.post(f"/dashboard/patients/{foreign}/password-reset/", token)
    fake.down.add("identity")
    down = client.post(
        f"/dashboard/patients/{treated_patient(clinic, fake, 'Eve')}/password-reset/",
        token,
        follow=True,
    )

    assert "Give a password reset code" not in page
    assert "This account is deactivated." in refused.content.decode()
    assert unknown.status_code == 404
    assert "identity did not answer" in down.content.decode()
    assert fake.reset_codes == []


def test_another_clinics_patient_is_not_found(
    fake: FakeServices, clinic: Clinic, other: Clinic
) -> None:
    foreign = treated_patient(other, fake, "Carol Cross")
    client = signed_in()

    for path in ("", "timeline/", "diary/"):
        response = client.get(f"/dashboard/patients/{foreign}/{path}")
        assert response.status_code == 404
        assert b"Carol Cross" not in response.content
    assert not AuditEntry.objects.filter(subject_patient_id=foreign).exists()


def test_the_diary_is_read_with_the_clinicians_own_token_and_nsaids_after_injections_stand_out(
    fake: FakeServices, clinic: Clinic
) -> None:
    patient = treated_patient(clinic, fake, "Alice Able")
    fake.diaries[patient] = [
        {
            "id": str(uuid.uuid4()),
            "occurred_at": (T0 + timedelta(days=2)).isoformat(),
            "nrs_now": 7,
            "medications": [{"name": "Nurofen 200mg", "dose": "2 tablets", "nsaid": True}],
            "nsaid": True,
            "side_effects": ["bruising"],
            "red_flag": False,
            "note": "Sore after the walk",
        },
        {
            "id": str(uuid.uuid4()),
            "occurred_at": (T0 + timedelta(days=20)).isoformat(),
            "nrs_now": 5,
            "medications": [{"name": "Naproxen", "dose": None, "nsaid": True}],
            "nsaid": True,
            "side_effects": [],
            "red_flag": False,
            "note": "",
        },
    ]
    client = signed_in()

    response = client.get(
        f"/dashboard/patients/{patient}/diary/?all=1", HTTP_X_DASHBOARD_FRAGMENT="1"
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Sore after the walk" in html
    assert "<html" not in html  # a part of the page, not a page
    assert html.count('class="nsaid-after-injection"') == 1
    assert "NSAID within 7 days of an injection" in html
    clinician = fake.accounts[CLINICIAN].user_id
    assert (f"/api/diary/v1/patients/{patient}/entries/", clinician) in fake.reads


def test_the_timeline_merges_injections_and_prompts(fake: FakeServices, clinic: Clinic) -> None:
    patient = treated_patient(clinic, fake, "Alice Able")
    fake.timelines[patient] = [
        {
            "id": str(uuid.uuid4()),
            "kind": "flare",
            "instrument": "nrs",
            "status": "answered",
            "intended_at": (T0 + timedelta(days=1)).isoformat(),
            "answered_at": (T0 + timedelta(days=1, hours=2)).isoformat(),
        },
        {
            "id": str(uuid.uuid4()),
            "kind": "flare",
            "instrument": "nrs",
            "status": "expired",
            "intended_at": (T0 - timedelta(days=3)).isoformat(),
        },
    ]

    html = signed_in().get(f"/dashboard/patients/{patient}/timeline/?all=1").content.decode()

    expired, injection, answered = (
        html.index("expired"),
        html.index("Injection: Sacroiliac joint, intra-articular"),
        html.index("answered"),
    )
    assert expired < injection < answered
    assert "<html" in html  # without JavaScript, a page of its own


# --- Flags ----------------------------------------------------------------------------------------


def _red_flag(clinic: Clinic, fake: FakeServices, name: str) -> tuple[uuid.UUID, Flag]:
    patient = treated_patient(clinic, fake, name)
    clinic.log(patient, T0 + timedelta(days=3), 6, side_effects=["fever"], red_flag=True)
    return patient, Flag.objects.get(patient_id=patient)


def test_acknowledge_then_resolve_a_flag(fake: FakeServices, clinic: Clinic) -> None:
    _, flag = _red_flag(clinic, fake, "Alice Able")
    client = signed_in(csrf=True)

    row = f'data-flag-id="{flag.id}"'
    inbox = client.get("/dashboard/flags/").content.decode()
    assert row in inbox
    assert "Side effects: fever" in inbox
    response = client.post(
        f"/dashboard/flags/{flag.id}/acknowledge/", {"csrfmiddlewaretoken": csrf(client)}
    )
    assert response.status_code == 302
    flag.refresh_from_db()
    assert flag.status == FlagStatus.ACKNOWLEDGED
    assert flag.acknowledged_by == fake.accounts[CLINICIAN].user_id
    client.post(f"/dashboard/flags/{flag.id}/resolve/", {"csrfmiddlewaretoken": csrf(client)})
    flag.refresh_from_db()
    assert flag.status == FlagStatus.RESOLVED
    assert row not in client.get("/dashboard/flags/").content.decode()
    assert row in client.get("/dashboard/flags/?status=resolved").content.decode()
    actions = list(
        AuditEntry.objects.filter(target_id=str(flag.id))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["flag.acknowledge", "flag.resolve"]


def test_flag_actions_need_the_csrf_token_and_a_post(fake: FakeServices, clinic: Clinic) -> None:
    _, flag = _red_flag(clinic, fake, "Alice Able")
    client = signed_in(csrf=True)

    assert client.post(f"/dashboard/flags/{flag.id}/acknowledge/").status_code == 403
    assert client.get(f"/dashboard/flags/{flag.id}/acknowledge/").status_code == 405
    flag.refresh_from_db()
    assert flag.status == FlagStatus.OPEN


def test_another_clinics_flag_cannot_be_touched(
    fake: FakeServices, clinic: Clinic, other: Clinic
) -> None:
    _, flag = _red_flag(other, fake, "Carol Cross")
    client = signed_in()

    assert "Carol Cross" not in client.get("/dashboard/flags/").content.decode()
    response = client.post(f"/dashboard/flags/{flag.id}/resolve/")
    assert response.status_code == 404
    flag.refresh_from_db()
    assert flag.status == FlagStatus.OPEN


def test_acknowledging_a_resolved_flag_is_explained(fake: FakeServices, clinic: Clinic) -> None:
    _, flag = _red_flag(clinic, fake, "Alice Able")
    client = signed_in()
    client.post(f"/dashboard/flags/{flag.id}/resolve/")

    response = client.post(f"/dashboard/flags/{flag.id}/acknowledge/", follow=True)

    assert b"already resolved" in response.content
    flag.refresh_from_db()
    assert flag.status == FlagStatus.RESOLVED


# --- Cohorts --------------------------------------------------------------------------------------


def _two_protocol_clinic(clinic: Clinic) -> None:
    good = [BulkCourse(baseline=8, observations=[(7, 6), (14, 3), (91, 2)]) for _ in range(12)]
    poor = [
        BulkCourse(
            baseline=8,
            observations=[(7, 9), (14, 8), (91, 7)],
            attributes={"protocol": "hauser"},
        )
        for _ in range(4)
    ]
    bulk_cohort(clinic.clinic_id, good + poor)


def test_a_cohort_filter_changes_the_curve_and_comparison_as_the_api_does(
    fake: FakeServices, clinic: Clinic
) -> None:
    _two_protocol_clinic(clinic)
    client = signed_in()

    whole = client.get("/dashboard/cohort/").content.decode()
    hauser = client.get("/dashboard/cohort/?protocol=hauser").content.decode()

    api_whole = clinician_client(clinic.clinic_id).get(f"{API}/cohort/curve/").json()
    api_hauser = (
        clinician_client(clinic.clinic_id).get(f"{API}/cohort/curve/?protocol=hauser").json()
    )
    assert _json_script(whole, "cohort-chart-data")["curve"] == api_whole["nrs_percent_change"]
    assert _json_script(hauser, "cohort-chart-data")["curve"] == api_hauser["nrs_percent_change"]
    assert api_whole["nrs_percent_change"] != api_hauser["nrs_percent_change"]
    assert "<strong>16</strong> courses" in whole
    assert "<strong>4</strong> courses" in hauser
    assert 'value="hauser" checked' in hauser
    # Four patients: said plainly, and every comparison says it cannot tell.
    assert "Too few patients." in hauser
    assert "Too few patients." not in whole
    assert "Too few patients to say" in hauser
    assert "kim2010-prolo" in hauser


def test_bad_cohort_filters_are_explained(fake: FakeServices, clinic: Clinic) -> None:
    client = signed_in()
    response = client.get(
        "/dashboard/cohort/?first_injection_from=2025-05-01&first_injection_to=2025-01-01"
    )
    assert response.status_code == 200
    assert b'role="alert"' in response.content
    assert b"Must not be before" in response.content


# --- Exports --------------------------------------------------------------------------------------


def test_a_csv_export_is_built_in_parts_and_only_its_requester_downloads_it(
    fake: FakeServices, clinic: Clinic, settings: LazySettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _two_protocol_clinic(clinic)
    fake.add_account("colleague@clinic.example", ("clinician",), clinic.clinic_id)
    monkeypatch.setattr(dashboard_services, "CSV_LINES_PER_PART", 10)
    client = signed_in(csrf=True)

    response = client.post(
        "/dashboard/cohort/exports/?protocol=hauser",
        {"format": "csv", "csrfmiddlewaretoken": csrf(client)},
    )

    assert response.status_code == 302
    export = Export.objects.get()
    assert response["Location"] == f"/dashboard/exports/{export.id}/"
    assert export.filters == {"protocol": ["hauser"]}
    state = client.get(f"/dashboard/exports/{export.id}/status/").json()
    assert (state["status"], state["download"]) == ("queued", None)
    assert client.get(f"/dashboard/exports/{export.id}/download/").status_code == 404

    dashboard_services.export_build(export_id=export.id)  # as the worker does

    export.refresh_from_db()
    assert export.status == ExportStatus.DONE
    assert export.parts.count() == 2  # 12 scores and a header, 10 lines a part
    state = client.get(f"/dashboard/exports/{export.id}/status/").json()
    assert (state["done"], state["total"], state["percent"]) == (12, 12, 100)
    download = client.get(state["download"])
    body = b"".join(download.streaming_content).decode()  # type: ignore[attr-defined]
    api = clinician_client(clinic.clinic_id).get(f"{API}/cohort/export.csv?protocol=hauser")
    assert body == b"".join(api.streaming_content).decode()  # type: ignore[attr-defined]
    colleague = signed_in("colleague@clinic.example")
    assert colleague.get(f"/dashboard/exports/{export.id}/").status_code == 404
    assert colleague.get(state["download"]).status_code == 404
    requester = fake.accounts[CLINICIAN].user_id
    assert AuditEntry.objects.filter(actor_id=requester, action="outcomes_export.read").count() == 4


def test_a_fhir_export_holds_one_bundle_per_patient(fake: FakeServices, clinic: Clinic) -> None:
    treated_patient(clinic, fake, "Alice Able")
    treated_patient(clinic, fake, "Bob Baker")
    client = signed_in()
    client.post("/dashboard/cohort/exports/", {"format": "fhir"})
    export = Export.objects.get()

    dashboard_services.export_build(export_id=export.id)

    body = b"".join(
        client.get(f"/dashboard/exports/{export.id}/download/").streaming_content  # type: ignore[attr-defined]
    )
    bundles = [json.loads(line) for line in body.decode().splitlines()]
    assert [b["resourceType"] for b in bundles] == ["Bundle", "Bundle"]
    assert all(b["entry"][0]["resource"]["resourceType"] == "Patient" for b in bundles)


def test_old_exports_are_deleted(fake: FakeServices, clinic: Clinic) -> None:
    client = signed_in()
    client.post("/dashboard/cohort/exports/", {"format": "csv"})
    Export.objects.update(created_at=T0)

    assert dashboard_services.exports_tend() >= 1
    assert not Export.objects.exists()
