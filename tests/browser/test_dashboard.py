"""A clinician uses the dashboard in Chromium against the running services and the simulated
clinic: signs in, sees only their clinic, opens a patient whose chart shows the API's numbers,
acknowledges a flag, explores cohorts and exports one. Each page is screenshotted, checked with
axe-core (no serious or critical violation) and must log no console error."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from playwright.sync_api import expect

CLINICIAN = "clinician@demo.example"
SECOND_CLINICIAN = "clinician2@demo.example"
PASSWORD = "recovery-demo-2026"

pytestmark = pytest.mark.e2e


def _chart(page: Any, canvas_id: str) -> dict[str, list[list[float]]]:
    """The points of each dataset of a chart on the page, by dataset label."""
    page.wait_for_function(
        "id => window.Chart && Chart.getChart(document.getElementById(id))", arg=canvas_id
    )
    return page.evaluate(
        """id => Object.fromEntries(Chart.getChart(document.getElementById(id)).data.datasets
            .map(d => [d.label, d.data.map(p => [p.x, p.y])]))""",
        canvas_id,
    )


def _close(points: list[list[float]], expected: list[tuple[float, float]]) -> bool:
    return len(points) == len(expected) and all(
        x == ex and abs(y - ey) < 1e-9 for (x, y), (ex, ey) in zip(points, expected, strict=True)
    )


def test_clinician_signs_in_and_sees_only_their_clinics_patients(demo: Any, tab: Any) -> None:
    page = tab.page
    tab.sign_in(demo.url("outcomes", "/dashboard/"), password="not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("do not match an account")
    tab.screenshot("sign-in-refused")
    tab.check_accessibility()

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("My patients")
    own = demo.api("identity", "patients/", page_size=200)["results"]
    listed = demo.api("outcomes", "patients/", page_size=200)
    expect(page.locator("#patient-count")).to_contain_text(f"{listed['count']} patients")
    table = page.locator("#patients-table").inner_text()
    for person in own[:10]:
        assert person["full_name"] in table
    assert demo.second_clinic_names, "the second clinic has patients to leave out"
    for name in demo.second_clinic_names:
        assert name not in table
    # No sideways scrolling of the page itself at tablet width.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    tab.screenshot("patients")
    tab.check_accessibility()

    # Keyboard: the first Tab reaches the skip link, which moves focus to the content.
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to main content")
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    # Sorting by a column is a link a keyboard user can follow.
    page.get_by_role("link", name="Latest NRS").click()
    expect(page.locator("th[aria-sort='ascending']")).to_contain_text("Latest NRS")

    tab.check_no_console_errors()

    # Another clinic's patient, even by address, is not found.
    foreign = demo.api("identity", "patients/", email=SECOND_CLINICIAN)["results"][0]["id"]
    response = page.goto(demo.url("outcomes", f"/dashboard/patients/{foreign}/"))
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    assert foreign not in page.content()


def test_a_patients_chart_shows_the_apis_numbers(demo: Any, tab: Any) -> None:
    page = tab.page
    rows = demo.api("outcomes", "patients/", page_size=200)["results"]
    curves = {
        row["patient_id"]: demo.api("outcomes", f"patients/{row['patient_id']}/curve/")
        for row in rows
        if row["injections"]
    }
    patient_id, curve = max(curves.items(), key=lambda item: len(item[1]["courses"][-1]["weeks"]))
    current = curve["courses"][-1]
    row = next(r for r in rows if r["patient_id"] == patient_id)

    tab.sign_in(demo.url("outcomes", f"/dashboard/patients/{patient_id}/"))

    datasets = _chart(page, "patient-chart-0")
    assert _close(datasets["Mean NRS (weekly)"], [(w["week"], w["nrs"]) for w in current["weeks"]])
    assert _close(
        datasets["Relief from baseline (%)"],
        [
            (w["week"], w["percent_change"])
            for w in current["weeks"]
            if w["percent_change"] is not None
        ],
    )
    summary = page.locator("#patient-summary")
    expect(summary.locator("[data-field='injections']")).to_have_text(str(row["injections"]))
    latest = f"{row['latest_nrs']:g}" if row["latest_nrs"] is not None else "\u2013"
    expect(summary.locator("[data-field='latest_nrs']")).to_contain_text(latest)
    # The parts from reminders and the diary arrive after the page.
    expect(page.locator("#timeline-table")).to_be_visible()
    expect(page.locator("#diary-table")).to_be_visible()
    expect(page.locator("#timeline-table")).to_contain_text("Injection")
    page.get_by_text("The numbers behind the chart").first.click()
    tab.screenshot("patient")
    tab.check_accessibility()
    tab.check_no_console_errors()


def test_a_clinician_acknowledges_a_flag(demo: Any, tab: Any) -> None:
    page = tab.page
    open_flags = demo.api("outcomes", "flags/", status="open")["results"]
    assert open_flags, "the simulated clinic has open flags"
    flag = open_flags[0]

    tab.sign_in(demo.url("outcomes", "/dashboard/flags/?status=open"))
    tab.screenshot("flags")
    tab.check_accessibility()
    row = page.locator(f"tr[data-flag-id='{flag['id']}']")
    row.get_by_role("button", name="Acknowledge").click()

    expect(page.get_by_role("status").first).to_contain_text("acknowledged")
    page.goto(demo.url("outcomes", "/dashboard/flags/?status=acknowledged"))
    expect(page.locator(f"tr[data-flag-id='{flag['id']}'] [data-field='status']")).to_contain_text(
        "Acknowledged"
    )
    statuses = {
        f["id"]: f["status"] for f in demo.api("outcomes", "flags/", page_size=200)["results"]
    }
    assert statuses[flag["id"]] == "acknowledged"
    tab.screenshot("flag-acknowledged")
    tab.check_no_console_errors()


def _medians(points: list[dict[str, Any]]) -> list[tuple[float, float]]:
    return [(p["week"], p["median"]) for p in points]


def test_a_cohort_filter_changes_the_curve_and_the_comparison(demo: Any, tab: Any) -> None:
    page = tab.page
    whole = demo.api("outcomes", "cohort/curve/")
    tab.sign_in(demo.url("outcomes", "/dashboard/cohort/"))

    assert _close(
        _chart(page, "cohort-curve")["Median relief"], _medians(whole["nrs_percent_change"])
    )
    expect(page.locator("#cohort-summary")).to_contain_text(f"{whole['cohort']['courses']} course")
    comparison_before = page.locator("#benchmarks-table").inner_text()
    _chart(page, "durability-chart")
    tab.screenshot("cohort")
    tab.check_accessibility()

    # A protocol whose courses recover differently from the clinic as a whole.
    protocols = page.get_by_role("group", name="Protocol").get_by_role("checkbox")
    chosen, expected = None, None
    for index in range(protocols.count()):
        value = protocols.nth(index).get_attribute("value")
        curve = demo.api("outcomes", "cohort/curve/", protocol=value)
        if _medians(curve["nrs_percent_change"]) != _medians(whole["nrs_percent_change"]):
            chosen, expected = index, curve
            break
    assert chosen is not None
    assert expected is not None
    protocols.nth(chosen).check()
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_load_state("networkidle")

    assert _close(
        _chart(page, "cohort-curve")["Median relief"], _medians(expected["nrs_percent_change"])
    )
    expect(page.locator("#cohort-summary")).to_contain_text(
        f"{expected['cohort']['courses']} course"
    )
    assert page.locator("#benchmarks-table").inner_text() != comparison_before
    if expected["cohort"]["patients"] < 10:
        expect(page.locator("#too-few")).to_contain_text("Too few patients")
    tab.screenshot("cohort-filtered")
    tab.check_accessibility()
    tab.check_no_console_errors()


def test_a_cohort_export_shows_its_progress_and_downloads(
    demo: Any, tab: Any, tmp_path: Any
) -> None:
    page = tab.page
    tab.sign_in(demo.url("outcomes", "/dashboard/cohort/"))
    page.get_by_label("CSV, one line per score").check()
    page.get_by_role("button", name="Start the export").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("CSV")
    download_link = page.get_by_role("link", name="Download the file")
    expect(download_link).to_be_visible(timeout=60_000)
    expect(page.locator("#export-progress")).to_have_attribute("value", "100")
    expect(page.locator("#export-status")).to_contain_text("Ready to download")
    tab.screenshot("export")
    tab.check_accessibility()
    with page.expect_download() as downloaded:
        download_link.click()
    path = tmp_path / "export.csv"
    downloaded.value.save_as(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("patient_id,course_id,measure")
    done = re.search(r"\((\d+) of (\d+) scores\)", page.locator("#export-status").inner_text())
    assert done is not None
    assert len(lines) - 1 == int(done.group(1)) == int(done.group(2))
    tab.check_no_console_errors()


def test_an_admin_edits_a_reminder_schedule_and_sees_the_preview(demo: Any, tab: Any) -> None:
    page = tab.page
    admin = demo.url("reminders", "/admin/reminders/")
    page.goto(admin)
    page.locator("#id_username").fill("admin@demo.example")
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(admin + "schedules/scheduletemplate/")
    page.locator("#result_list tbody th a").first.click()

    preview = page.locator("#schedule-preview")
    expect(preview).to_be_visible()
    expect(preview.locator("#schedule-preview-summary")).to_contain_text("prompt")
    tab.screenshot("schedule-template")
    # A local time no prompt of the timeline has yet, for the form's first offset.
    new_time = "11:17"
    due_local = preview.locator("tr.schedule-preview-prompt td:nth-child(4)")
    assert not [text for text in due_local.all_inner_texts() if new_time in text]

    page.locator("[name='offsets-0-local_time']").fill(new_time)
    page.keyboard.press("Tab")

    # The preview follows the unsaved edit...
    expect(due_local.filter(has_text=new_time).first).to_be_visible()
    page.wait_for_load_state("networkidle")
    tab.screenshot("schedule-preview-unsaved")
    page.locator("input[name='_continue']").click()
    # ...and shows the same once it is saved.
    expect(page.locator(".messagelist")).to_contain_text("changed successfully")
    saved = page.locator("#schedule-preview tr.schedule-preview-prompt td:nth-child(4)")
    expect(saved.filter(has_text=new_time).first).to_be_visible()
    tab.screenshot("schedule-saved")
    tab.check_accessibility("#schedule-preview")
    tab.check_no_console_errors()


def test_a_clinician_gives_a_patient_a_reset_code_that_sets_a_new_password(
    demo: Any, tab: Any
) -> None:
    page = tab.page
    patient = demo.api("identity", "patients/", page_size=200)["results"][-1]

    tab.sign_in(demo.url("outcomes", f"/dashboard/patients/{patient['id']}/"))
    page.get_by_role("button", name="Give a password reset code").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Password reset code")
    code = page.locator("#reset-code").inner_text()
    tab.screenshot("reset-code")
    tab.check_accessibility()
    tab.check_no_console_errors()
    identity = demo.url("identity", "/api/identity/v1/")
    redeemed = requests.post(
        identity + "password-reset/",
        json={"code": code, "password": "a-patient-chosen-passphrase"},
        timeout=30,
    )
    assert redeemed.status_code == 200, redeemed.text
    signed_in = requests.post(
        identity + "auth/token/",
        json={"email": patient["email"], "password": "a-patient-chosen-passphrase"},
        timeout=30,
    )
    assert signed_in.status_code == 200


def test_a_clinician_changes_their_password_and_stays_signed_in(demo: Any, tab: Any) -> None:
    page = tab.page
    identity = demo.url("identity", "/api/identity/v1/")
    new = "a-changed-clinic-passphrase"
    tab.sign_in(demo.url("outcomes", "/dashboard/"), email=SECOND_CLINICIAN)
    try:
        page.get_by_role("link", name=SECOND_CLINICIAN).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Change your password")
        tab.check_accessibility()
        page.get_by_label("Current password").fill(PASSWORD)
        page.get_by_label("New password", exact=True).fill(new)
        page.get_by_label("New password again").fill(new)
        page.get_by_role("button", name="Change password").click()

        expect(page.get_by_role("status").first).to_contain_text("Your password is changed")
        expect(page.get_by_role("heading", level=1)).to_have_text("My patients")
        page.goto(demo.url("outcomes", "/dashboard/flags/"))  # still signed in
        expect(page.get_by_role("heading", level=1)).to_have_text("Flags inbox")
        tab.check_no_console_errors()
        old = requests.post(
            identity + "auth/token/",
            json={"email": SECOND_CLINICIAN, "password": PASSWORD},
            timeout=30,
        )
        assert old.status_code == 401
    finally:
        # Back to the demo password, for the other tests' sign-ins.
        signed_in = requests.post(
            identity + "auth/token/", json={"email": SECOND_CLINICIAN, "password": new}, timeout=30
        )
        if signed_in.status_code == 200:
            requests.post(
                identity + "me/password/",
                json={"current_password": new, "new_password": PASSWORD},
                headers={"Authorization": f"Bearer {signed_in.json()['access']}"},
                timeout=30,
            ).raise_for_status()


def _until(check: Any, seconds: float = 90.0) -> Any:
    """``check()`` again every half second until it gives something (the services take in each
    other's events in the background), at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def test_a_clinician_invites_a_patient_and_records_their_first_injection(
    demo: Any, tab: Any
) -> None:
    page = tab.page
    identity = demo.url("identity", "/api/identity/v1/")
    email = f"nora.newcome.{uuid.uuid4().hex[:8]}@example.org"
    zone = ZoneInfo(demo.api("identity", "me/")["clinic_timezone"])
    given = (datetime.now(zone) - timedelta(days=1)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )

    tab.sign_in(demo.url("outcomes", "/dashboard/"))
    page.get_by_role("link", name="Invite a patient").click()
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Full name").fill("Nora Newcome")
    page.get_by_label("Sex").select_option("female")
    page.get_by_label("Year of birth").fill("1968")
    tab.screenshot("invite-form")
    page.get_by_role("button", name="Invite and show the code").click()
    lost = page.locator("#invitation-code").inner_text()
    tab.screenshot("invitation-code")
    tab.check_accessibility()

    # The patient loses the code before using it: a new one from the list of open invitations.
    page.get_by_role("link", name="Invite another patient").click()
    tab.check_accessibility()
    page.get_by_role("button", name=f"A new code for {email}").click()
    code = page.locator("#invitation-code").inner_text()
    assert code != lost

    # The patient accepts on their phone, with the new code; the lost one no longer works.
    def accept(with_code: str) -> requests.Response:
        return requests.post(
            identity + "invitations/accept/",
            json={
                "code": with_code,
                "password": "a-new-patient-passphrase",
                "timezone": "Europe/London",
            },
            timeout=30,
        )

    assert accept(lost).status_code == 410
    accepted = accept(code)
    assert accepted.status_code == 201, accepted.text
    me = requests.get(
        identity + "me/",
        headers={"Authorization": f"Bearer {accepted.json()['access']}"},
        timeout=30,
    ).json()
    assert me["email"] == email

    # The clinician finds them on their list once outcomes has taken in the enrolment.
    def listed() -> bool:
        page.goto(demo.url("outcomes", "/dashboard/?q=Nora+Newcome"))
        return page.get_by_role("link", name="Nora Newcome").count() == 1

    assert _until(listed), "the new patient never showed on the clinician's list"
    page.get_by_role("link", name="Nora Newcome").click()

    # The year of birth was mistyped at the invitation: corrected, and outcomes hears of it.
    page.get_by_role("link", name="Correct name, sex or year of birth").click()
    expect(page.get_by_label("Year of birth")).to_have_value("1968")
    tab.check_accessibility()
    page.get_by_label("Year of birth").fill("1969")
    page.get_by_role("button", name="Save the details").click()
    expect(page.get_by_role("status").first).to_contain_text("The patient's details are saved.")

    def corrected_year() -> bool:
        page.reload()
        return "Female, 1969" in page.locator("#patient-summary").inner_text()

    assert _until(corrected_year), "outcomes never took in the corrected year of birth"
    page.get_by_role("link", name="Record an injection").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Record an injection for Nora Newcome"
    )
    tab.check_accessibility()
    page.get_by_label("Given at").fill(given.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Site", exact=True).select_option("sij_intra_articular")
    page.get_by_label("Side", exact=True).select_option("right")
    page.get_by_label("Solution").select_option("dextrose")
    page.get_by_label("Dextrose concentration (%)").fill("15")
    page.get_by_label("Image guidance").select_option("fluoroscopy")
    page.get_by_label("Physiotherapy").check()
    tab.screenshot("injection-form")
    page.get_by_role("button", name="Record the injection").click()

    expect(page.get_by_role("status").first).to_contain_text("injection 1 of its course")
    [injection] = demo.api("diary", f"patients/{me['id']}/injections/")["results"]
    assert datetime.fromisoformat(injection["performed_at"]) == given
    assert (injection["site"], injection["laterality"], injection["solution"]) == (
        "sij_intra_articular",
        "right",
        "dextrose",
    )
    assert (injection["dextrose_percent"], injection["guidance"]) == (15.0, "fluoroscopy")
    assert injection["co_treatments"] == ["physiotherapy"]
    assert injection["verified"] is True
    assert injection["recorded_by_role"] == "clinician"

    # reminders plans the prompts after it, and outcomes puts it on the patient's page.
    def planned() -> list[dict[str, Any]]:
        prompts = demo.api("reminders", f"patients/{me['id']}/prompts/", page_size=200)
        return [p for p in prompts["results"] if p["injection_id"] == injection["id"]]

    def shown() -> bool:
        page.reload()
        timeline = page.locator("#timeline-table")
        timeline.wait_for()
        return given.strftime("%-d %b %Y, %H:%M") in timeline.inner_text()

    assert _until(planned), "reminders planned no prompt after the injection"
    assert _until(shown), "the injection never showed on the patient's timeline"
    tab.screenshot("injection-recorded")
    tab.check_accessibility()

    # The patient reports one they had two weeks before, elsewhere; the clinician verifies it.
    reported = requests.post(
        demo.url("diary", "/api/diary/v1/injections/"),
        json={"performed_at": (given - timedelta(days=14)).isoformat(), "site": "iliolumbar"},
        headers={"Authorization": f"Bearer {accepted.json()['access']}"},
        timeout=30,
    )
    assert reported.status_code == 201, reported.text
    verify = page.get_by_role("button", name="Verify the injection of")

    def waiting() -> bool:
        page.reload()
        page.locator("#timeline-table").wait_for()
        return verify.count() == 1

    assert _until(waiting), "the reported injection never showed as waiting for verification"
    expect(page.locator("#timeline-table")).to_contain_text("Injection: Iliolumbar ligament")
    tab.check_accessibility()
    verify.click()
    expect(page.get_by_role("status").first).to_contain_text("The injection is verified.")
    page.locator("#timeline-table").wait_for()
    expect(page.locator("#timeline-table")).not_to_contain_text("not verified")
    verified = demo.api("diary", f"injections/{reported.json()['id']}/")
    assert verified["verified"] is True
    assert verified["verified_by"] == demo.api("identity", "me/")["id"]

    # The clinician's own injection was on the left, not the right: corrected from the timeline.
    when = given.strftime("%-d %b %Y, %H:%M")
    page.get_by_role("link", name=f"Correct or delete the injection of {when}").click()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text("Correct an injection of Nora Newcome")
    expect(page.get_by_label("Side", exact=True)).to_have_value("right")
    tab.check_accessibility()
    page.get_by_label("Side", exact=True).select_option("left")
    page.get_by_role("button", name="Save the correction").click()
    expect(page.get_by_role("status").first).to_contain_text("The injection is corrected.")
    corrected = demo.api("diary", f"injections/{injection['id']}/")
    assert (corrected["laterality"], corrected["site"]) == ("left", "sij_intra_articular")
    assert corrected["version"] == injection["version"] + 1

    # The reported one turns out to be a mistake: deleted, and gone from the timeline.
    reported_when = (given - timedelta(days=14)).strftime("%-d %b %Y, %H:%M")
    page.locator("#timeline-table").wait_for()
    page.get_by_role("link", name=f"Correct or delete the injection of {reported_when}").click()
    page.get_by_role("button", name="Delete this injection").click()
    expect(page.get_by_role("status").first).to_contain_text("The injection is deleted.")
    remaining = demo.api("diary", f"patients/{me['id']}/injections/")["results"]
    assert [row["id"] for row in remaining] == [injection["id"]]

    def gone() -> bool:
        page.reload()
        timeline = page.locator("#timeline-table")
        timeline.wait_for()
        return "Iliolumbar" not in timeline.inner_text()

    assert _until(gone), "the deleted injection stayed on the timeline"
    tab.check_no_console_errors()


CLINIC_ADMIN = "clinicadmin@demo.example"


def _enrolled_patient(demo: Any, full_name: str) -> dict[str, Any]:
    """A patient the clinician invites over the API and who accepts on their phone."""
    identity = demo.url("identity", "/api/identity/v1/")
    email = f"{full_name.lower().replace(' ', '.')}.{uuid.uuid4().hex[:8]}@example.org"
    invited = requests.post(
        identity + "invitations/",
        json={"email": email, "full_name": full_name},
        headers={"Authorization": f"Bearer {demo.token(CLINICIAN)}"},
        timeout=30,
    )
    invited.raise_for_status()
    accepted = requests.post(
        identity + "invitations/accept/",
        json={
            "code": invited.json()["code"],
            "password": "a-new-patient-passphrase",
            "timezone": "Europe/London",
        },
        timeout=30,
    )
    accepted.raise_for_status()
    return {"email": email, "full_name": full_name}


def test_a_clinic_admin_brings_in_a_clinician_and_erases_a_patient(
    demo: Any, tab: Any, other_tab: Any
) -> None:
    page, colleague = tab.page, other_tab.page
    identity = demo.url("identity", "/api/identity/v1/")
    email = f"dina.doctor.{uuid.uuid4().hex[:8]}@demo.example"
    chosen, renewed = "a-dina-chosen-passphrase", "a-dina-renewed-passphrase"

    # The clinic's administrator starts at the clinic's people, who are identity's.
    tab.sign_in(demo.url("outcomes", "/dashboard/clinic/people/"), email=CLINIC_ADMIN)
    expect(page.get_by_role("heading", level=1)).to_have_text("People of the clinic")
    people = demo.api("identity", "users/", email=CLINIC_ADMIN, page_size=200)
    expect(page.locator("#people-count")).to_contain_text(f"{people['count']} people")
    expect(page.get_by_role("link", name="My patients")).to_have_count(0)
    tab.screenshot("people")
    tab.check_accessibility()

    # A new clinician is invited, and joins on the dashboard with the code, from elsewhere.
    page.get_by_role("link", name="Invite a colleague").click()
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Full name").fill("Dina Doctor")
    page.get_by_label("Clinician: sees and treats the clinic's patients").check()
    tab.check_accessibility()
    page.get_by_role("button", name="Invite and show the code").click()
    code = page.locator("#invitation-code").inner_text()
    tab.screenshot("colleague-code")
    tab.check_accessibility()

    colleague.goto(demo.url("outcomes", "/dashboard/login/"))
    colleague.get_by_role("link", name="Join with an invitation code").click()
    expect(colleague.get_by_label("Your time zone")).to_have_value("America/Chicago")
    other_tab.check_accessibility()
    colleague.get_by_label("Code", exact=True).fill(code)
    colleague.get_by_label("New password", exact=True).fill(chosen)
    colleague.get_by_label("New password again").fill(chosen)
    other_tab.screenshot("join")
    colleague.get_by_role("button", name="Join and sign in").click()
    expect(colleague.get_by_role("heading", level=1)).to_have_text("My patients")
    expect(colleague.get_by_role("status").first).to_contain_text("your account is ready")
    [dina] = [
        person
        for person in demo.api("identity", "users/", email=CLINIC_ADMIN, page_size=200)["results"]
        if person["email"] == email
    ]
    assert (dina["roles"], dina["timezone"]) == (["clinician"], "America/Chicago")

    # She forgets her password: a reset code from the administrator, a new one on the dashboard.
    colleague.get_by_role("button", name="Sign out").click()
    page.goto(demo.url("outcomes", f"/dashboard/clinic/people/?q={email}"))
    page.get_by_role("link", name="Dina Doctor").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dina Doctor")
    tab.check_accessibility()
    page.get_by_role("button", name="Give a password reset code").click()
    reset_code = page.locator("#reset-code").inner_text()
    colleague.get_by_role("link", name="set a new password with the code").click()
    colleague.get_by_label("Code", exact=True).fill(reset_code)
    colleague.get_by_label("New password", exact=True).fill(renewed)
    colleague.get_by_label("New password again").fill(renewed)
    other_tab.check_accessibility()
    colleague.get_by_role("button", name="Set the password and sign in").click()
    expect(colleague.get_by_role("heading", level=1)).to_have_text("My patients")

    def sign_in_status(password: str) -> int:
        return requests.post(
            identity + "auth/token/", json={"email": email, "password": password}, timeout=30
        ).status_code

    assert (sign_in_status(chosen), sign_in_status(renewed)) == (401, 200)

    # She leaves the clinic: deactivated, after a tick that says what it means.
    page.get_by_role("link", name="Back to Dina Doctor").first.click()
    page.get_by_role("button", name="Deactivate Dina Doctor").click()
    expect(page.locator(".field-error")).to_contain_text("Tick the box to confirm")
    page.get_by_label("Yes, this person may no longer sign in").check()
    page.get_by_role("button", name="Deactivate Dina Doctor").click()
    expect(page.get_by_role("status").first).to_contain_text("can no longer sign in")
    expect(page.locator("#person-facts")).to_contain_text("Deactivated")
    assert sign_in_status(renewed) == 401
    # She comes back: reactivated, she signs in with the password she had.
    tab.check_accessibility()
    page.get_by_role("button", name="Reactivate Dina Doctor").click()
    expect(page.get_by_role("status").first).to_contain_text("active again")
    assert sign_in_status(renewed) == 200
    other_tab.check_no_console_errors()

    # A patient asks to be erased: confirmed with their address, then gone everywhere.
    erin = _enrolled_patient(demo, "Erin Erasable")

    [erin_id] = [
        row["id"]
        for row in demo.api("identity", "patients/", page_size=200)["results"]
        if row["email"] == erin["email"]
    ]

    def in_outcomes() -> bool:
        listed = demo.api("outcomes", "patients/", page_size=200)["results"]
        return erin_id in {row["patient_id"] for row in listed}

    assert _until(in_outcomes), "outcomes never took in the patient"

    # Her prompts stop while her account is deactivated, and come back when it is reactivated.
    recorded = requests.post(
        demo.url("diary", f"/api/diary/v1/patients/{erin_id}/injections/"),
        json={"id": str(uuid.uuid4()), "performed_at": datetime.now(UTC).isoformat()},
        headers={"Authorization": f"Bearer {demo.token(CLINICIAN)}"},
        timeout=30,
    )
    assert recorded.status_code == 201, recorded.text

    def pending() -> int:
        prompts = demo.api("reminders", f"patients/{erin_id}/prompts/", page_size=200)
        return sum(1 for p in prompts["results"] if p["status"] == "pending")

    planned = _until(pending)
    assert planned, "reminders planned no prompt after the injection"
    page.goto(demo.url("outcomes", f"/dashboard/clinic/people/?q={erin['email']}"))
    page.get_by_role("link", name="Erin Erasable").click()
    page.get_by_label("Yes, this person may no longer sign in").check()
    page.get_by_role("button", name="Deactivate Erin Erasable").click()
    assert _until(lambda: pending() == 0), "reminders kept prompting a deactivated patient"
    page.get_by_role("button", name="Reactivate Erin Erasable").click()
    expect(page.get_by_role("status").first).to_contain_text("active again")
    assert _until(lambda: pending() == planned), "reminders did not prompt her again"

    page.get_by_role("link", name="Erase Erin Erasable").click()
    tab.check_accessibility()
    page.get_by_label("Type the patient's e-mail address to confirm").fill("not@her.example")
    page.get_by_role("button", name="Erase Erin Erasable for good").click()
    expect(page.locator(".field-error")).to_contain_text("nothing was erased")
    page.get_by_label("Type the patient's e-mail address to confirm").fill(erin["email"])
    page.get_by_role("button", name="Erase Erin Erasable for good").click()
    expect(page.get_by_role("status").first).to_contain_text("personal data is erased")
    expect(page.locator("#people-table")).not_to_contain_text(erin["email"])
    patients = demo.api("identity", "patients/", page_size=200)["results"]
    assert erin["email"] not in {row["email"] for row in patients}
    assert _until(lambda: not in_outcomes()), "outcomes never forgot the erased patient"
    tab.screenshot("erased")
    tab.check_no_console_errors()


def test_a_clinic_admin_copies_a_default_schedule_and_adapts_it(demo: Any, tab: Any) -> None:
    page = tab.page
    templates = demo.api("reminders", "templates/", email=CLINIC_ADMIN)
    default = next(t for t in templates if t["is_default"] and t["active"])
    clinic = demo.api("identity", "me/", email=CLINIC_ADMIN)["clinic_id"]
    renamed = f"Demo Spine schedule {uuid.uuid4().hex[:6]}"

    # From the dashboard to the schedules, in the reminders admin, with the same account.
    tab.sign_in(demo.url("outcomes", "/dashboard/clinic/people/"), email=CLINIC_ADMIN)
    page.get_by_role("link", name="Reminder schedules").first.click()
    page.locator("#id_username").fill(CLINIC_ADMIN)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#result_list")).to_contain_text(default["name"])

    # A default is theirs to read and copy, not to change.
    row = page.locator("#result_list tbody tr").filter(has_text=default["name"]).first
    row.locator("input.action-select").check()
    page.locator("select[name='action']").select_option("copy_to_clinic")
    page.get_by_role("button", name="Go").click()
    expect(page.locator(".messagelist")).to_contain_text("is your clinic's, inactive")
    page.get_by_role("link", name=f"{default['name']} (copy)").first.click()
    expect(page.locator("#schedule-preview")).to_be_visible()
    expect(page.locator("#id_clinic_id")).to_have_count(0)  # always their clinic's
    page.locator("#id_name").fill(renamed)
    page.locator("input[name='_continue']").click()
    expect(page.locator(".messagelist")).to_contain_text("changed successfully")
    tab.check_accessibility("#schedule-preview")

    listed = demo.api("reminders", "templates/", email=CLINIC_ADMIN)
    [copy] = [template for template in listed if template["name"] == renamed]
    assert (copy["clinic_id"], copy["active"], copy["version"]) == (clinic, False, 2)
    assert [o["key"] for o in copy["offsets"]] == [o["key"] for o in default["offsets"]]

    changelist = "/admin/reminders/schedules/scheduletemplate/"
    page.goto(demo.url("reminders", f"{changelist}{default['id']}/change/"))
    expect(page.locator("#schedule-preview")).to_be_visible()
    expect(page.locator("input[name='_save']")).to_have_count(0)
    tab.screenshot("default-schedule-read-only")
    tab.check_no_console_errors()
