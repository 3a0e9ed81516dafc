"""Schedule templates through the admin API: scoping, validation, edits and preview."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from helpers import API, client, error_fields, is_problem

from reminders.schedules.models import ScheduleTemplate

pytestmark = pytest.mark.django_db

CLINIC, OTHER_CLINIC = uuid.uuid4(), uuid.uuid4()
TEMPLATES = API + "templates/"


def clinic_admin(clinic: uuid.UUID = CLINIC) -> Any:
    return client(roles=("clinic_admin",), clinic_id=clinic)


def system_admin() -> Any:
    return client(roles=("system_admin",))


def an_offset(**changes: Any) -> dict[str, Any]:
    return {
        "anchor": "each_injection",
        "days": 1,
        "local_time": "09:00",
        "window_hours": 24,
        "nudge_after_hours": 4,
        "nudge_max": 2,
        "channels": ["push", "sms"],
        "instrument": "nrs",
        **changes,
    }


def a_template(**changes: Any) -> dict[str, Any]:
    return {
        "name": "Flare tracking",
        "protocol": "kim2010",
        "quiet_hours": {"start": "21:00", "end": "08:00"},
        "offsets": [an_offset(days=1), an_offset(days=3), an_offset(days=7)],
        **changes,
    }


def test_a_clinic_admin_creates_a_template_for_their_own_clinic() -> None:
    response = clinic_admin().post(TEMPLATES, a_template(), format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["clinic_id"] == str(CLINIC)
    assert body["version"] == 1
    assert body["editable"] is True
    assert body["quiet_hours"] == {"start": "21:00", "end": "08:00"}
    assert [o["key"] for o in body["offsets"]] == ["flare:0m1d", "flare:0m3d", "flare:0m7d"]


def test_a_clinic_admin_cannot_choose_the_clinic_or_make_a_default() -> None:
    elsewhere = clinic_admin().post(
        TEMPLATES, a_template(clinic_id=str(OTHER_CLINIC)), format="json"
    )
    assert is_problem(elsewhere, 400)
    assert error_fields(elsewhere) == ["clinic_id"]


def test_templates_listed_are_the_clinics_own_and_the_defaults() -> None:
    clinic_admin().post(TEMPLATES, a_template(name="Ours"), format="json")
    clinic_admin(OTHER_CLINIC).post(TEMPLATES, a_template(name="Theirs"), format="json")

    names = {t["name"]: t for t in clinic_admin().get(TEMPLATES).json()}

    assert "Theirs" not in names
    assert names["Ours"]["editable"] is True
    default = names["Standard follow-up after spinal injections"]
    assert default["is_default"] is True
    assert default["editable"] is False


def test_another_clinics_template_is_not_found_and_a_default_is_not_editable() -> None:
    theirs = clinic_admin(OTHER_CLINIC).post(TEMPLATES, a_template(), format="json").json()
    default = ScheduleTemplate.objects.get(clinic_id=None, protocol="", active=True)
    admin = clinic_admin()

    assert is_problem(admin.get(TEMPLATES + f"{theirs['id']}/"), 404)
    assert is_problem(
        admin.patch(TEMPLATES + f"{theirs['id']}/", {"name": "x"}, format="json"), 404
    )
    assert is_problem(admin.delete(TEMPLATES + f"{theirs['id']}/"), 404)
    assert admin.get(TEMPLATES + f"{default.id}/").status_code == 200
    assert is_problem(admin.patch(TEMPLATES + f"{default.id}/", {"name": "x"}, format="json"), 403)
    assert is_problem(admin.delete(TEMPLATES + f"{default.id}/"), 403)


def test_a_system_admin_manages_defaults_and_one_active_template_per_scope() -> None:
    admin = system_admin()
    created = admin.post(TEMPLATES, a_template(clinic_id=None), format="json")
    clash = admin.post(TEMPLATES, a_template(clinic_id=None, name="Again"), format="json")
    for_clinic = admin.post(TEMPLATES, a_template(clinic_id=str(CLINIC)), format="json")

    assert created.status_code == 201
    assert created.json()["is_default"] is True
    assert is_problem(clash, 409)
    assert for_clinic.json()["clinic_id"] == str(CLINIC)
    assert clinic_admin().get(TEMPLATES + f"{for_clinic.json()['id']}/").status_code == 200


def test_editing_bumps_the_version_and_deleting_deactivates() -> None:
    admin = clinic_admin()
    template = admin.post(TEMPLATES, a_template(), format="json").json()
    url = TEMPLATES + f"{template['id']}/"

    patched = admin.patch(url, {"quiet_hours": None}, format="json")
    replaced = admin.put(url, a_template(offsets=[an_offset(days=2)]), format="json")
    deleted = admin.delete(url)

    assert patched.json()["version"] == 2
    assert patched.json()["quiet_hours"] is None
    assert [o["days"] for o in patched.json()["offsets"]] == [1, 3, 7]
    assert replaced.json()["version"] == 3
    assert [o["days"] for o in replaced.json()["offsets"]] == [2]
    assert deleted.status_code == 204
    after = admin.get(url).json()
    assert after["active"] is False
    assert after["version"] == 4


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"offsets": [an_offset(days=7), an_offset(days=3)]}, "offsets[1]"),
        ({"offsets": [an_offset(days=3), an_offset(days=3)]}, "offsets[1]"),
        ({"offsets": [an_offset(window_hours=0, nudge_max=0)]}, "offsets[0].window_hours"),
        ({"offsets": [an_offset(window_hours=-5, nudge_max=0)]}, "offsets[0].window_hours"),
        ({"offsets": [an_offset(window_hours=8, nudge_after_hours=4)]}, "offsets[0].nudge_max"),
        ({"offsets": [an_offset(nudge_after_hours=None)]}, "offsets[0].nudge_after_hours"),
        ({"offsets": [an_offset(channels=["fax"])]}, "offsets[0].channels"),
        ({"offsets": [an_offset(channels=[])]}, "offsets[0].channels"),
        ({"offsets": [an_offset(channels=["push", "push"])]}, "offsets[0].channels"),
        ({"offsets": [an_offset(instrument="vas")]}, "offsets[0].instrument"),
        ({"offsets": [an_offset(anchor="each_moon")]}, "offsets[0].anchor"),
        ({"offsets": [an_offset(local_time="9am")]}, "offsets[0].local_time"),
        ({"offsets": [an_offset(days=-2)]}, "offsets[0].days"),
        (
            {"offsets": [an_offset(anchor="baseline_before_first_injection", days=2)]},
            "offsets[0].days",
        ),
        ({"offsets": [an_offset(colour="red")]}, "offsets[0].colour"),
        ({"offsets": []}, "offsets"),
        ({"quiet_hours": {"start": "22:00", "end": "22:00"}}, "quiet_hours"),
        ({"quiet_hours": {"start": "08:00", "end": "07:30"}}, "quiet_hours"),
        ({"quiet_hours": {"start": "22:00"}}, "quiet_hours.end"),
        ({"name": "   "}, "name"),
    ],
)
def test_invalid_templates_are_refused_with_the_field_at_fault(
    changes: dict[str, Any], field: str
) -> None:
    response = clinic_admin().post(TEMPLATES, a_template(**changes), format="json")

    assert is_problem(response, 400), response.content
    assert field in error_fields(response), response.json()
    assert not ScheduleTemplate.objects.filter(clinic_id=CLINIC).exists()


def test_an_offset_list_in_order_within_each_anchor_is_accepted() -> None:
    offsets = [
        an_offset(anchor="baseline_before_first_injection", days=-1, nudge_max=0),
        an_offset(days=1),
        an_offset(anchor="first_injection_of_course", months=3, days=0, instrument="odi"),
        an_offset(anchor="first_injection_of_course", months=3, days=0, instrument="nrs"),
        an_offset(days=3),
    ]
    response = clinic_admin().post(TEMPLATES, a_template(offsets=offsets), format="json")
    assert response.status_code == 201, response.json()


def test_preview_of_an_unsaved_template_across_new_yorks_spring_forward() -> None:
    body = {
        "template": a_template(
            quiet_hours=None,
            offsets=[
                an_offset(days=1, local_time="09:00", nudge_max=0),
                an_offset(days=2, local_time="02:30", nudge_max=0),
                an_offset(days=2, local_time="09:00", nudge_max=0, instrument="odi"),
                an_offset(days=3, local_time="09:00", nudge_after_hours=4, nudge_max=2),
            ],
        ),
        "injected_at": "2026-03-06T10:00",
        "timezone": "America/New_York",
    }

    response = clinic_admin().post(TEMPLATES + "preview/", body, format="json")

    assert response.status_code == 200, response.json()
    result = response.json()
    assert result["injected_at"] == "2026-03-06T15:00:00Z"
    prompts = [(p["due_local"], p["due_at"], p["adjustments"]) for p in result["prompts"]]
    assert prompts == [
        ("2026-03-07T09:00:00-05:00", "2026-03-07T14:00:00Z", []),
        ("2026-03-08T03:30:00-04:00", "2026-03-08T07:30:00Z", ["dst_gap_moved_forward"]),
        ("2026-03-08T09:00:00-04:00", "2026-03-08T13:00:00Z", []),
        ("2026-03-09T09:00:00-04:00", "2026-03-09T13:00:00Z", []),
    ]
    assert [n["local"] for n in result["prompts"][3]["nudges"]] == [
        "2026-03-09T13:00:00-04:00",
        "2026-03-09T17:00:00-04:00",
    ]
    assert result["prompts"][0]["expires_local"] == "2026-03-08T10:00:00-04:00"


def test_preview_of_a_saved_template_shows_its_horizons_in_local_time() -> None:
    default = ScheduleTemplate.objects.get(clinic_id=None, protocol="", active=True)
    response = clinic_admin().post(
        TEMPLATES + f"{default.id}/preview/",
        {"injected_at": "2026-01-31T11:00:00Z", "timezone": "Europe/London"},
        format="json",
    )

    prompts = response.json()["prompts"]
    horizons = sorted({p["due_local"] for p in prompts if p["kind"] == "horizon"})
    assert horizons == [
        "2026-04-30T10:00:00+01:00",
        "2026-07-31T10:00:00+01:00",
        "2027-01-31T10:00:00+00:00",
        "2027-04-30T10:00:00+01:00",
        "2028-01-31T10:00:00+00:00",
    ]
    baseline = [p for p in prompts if p["kind"] == "baseline"]
    assert {p["due_local"] for p in baseline} == {"2026-01-30T18:00:00+00:00"}
    assert {p["expires_at"] for p in baseline} == {"2026-01-31T11:00:00Z"}


@pytest.mark.parametrize(
    ("sample", "field"),
    [
        ({"injected_at": "2026-03-06T10:00", "timezone": "Mars/Olympus"}, "timezone"),
        ({"injected_at": "yesterday", "timezone": "Europe/London"}, "injected_at"),
    ],
)
def test_preview_refuses_an_unknown_zone_or_date(sample: dict[str, str], field: str) -> None:
    response = clinic_admin().post(
        TEMPLATES + "preview/", {"template": a_template(), **sample}, format="json"
    )
    assert is_problem(response, 400)
    assert error_fields(response) == [field]


def test_preview_of_an_invalid_template_names_the_field() -> None:
    response = clinic_admin().post(
        TEMPLATES + "preview/",
        {
            "template": a_template(offsets=[an_offset(window_hours=0, nudge_max=0)]),
            "injected_at": "2026-03-06T10:00",
            "timezone": "Europe/London",
        },
        format="json",
    )
    assert is_problem(response, 400)
    assert error_fields(response) == ["template.offsets[0].window_hours"]


@pytest.mark.parametrize("roles", [("patient",), ("clinician",), ("service",)])
def test_templates_are_for_administrators_only(roles: tuple[str, ...]) -> None:
    caller = client(roles=roles, clinic_id=CLINIC)
    assert is_problem(caller.get(TEMPLATES), 403)
    assert is_problem(caller.post(TEMPLATES, a_template(), format="json"), 403)
    assert is_problem(caller.post(TEMPLATES + "preview/", {}, format="json"), 403)
