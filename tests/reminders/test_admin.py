"""The Django admin: templates edited with the API's validation; prompts only shown."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from helpers import clinic_admin_client, make_patient, make_prompt, make_template, offset

from reminders.prompts.models import CoursePlan
from reminders.schedules.models import ScheduleTemplate

pytestmark = pytest.mark.django_db

ADMIN = "/admin/reminders/"


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser(str(uuid.uuid4()), "admin@example.org"))
    return client


def form(
    template: dict[str, Any], offsets: list[dict[str, Any]], initial: int = 0
) -> dict[str, Any]:
    data = {
        **template,
        "offsets-TOTAL_FORMS": str(len(offsets)),
        "offsets-INITIAL_FORMS": str(initial),
        "offsets-MIN_NUM_FORMS": "0",
        "offsets-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(offsets):
        for key, value in row.items():
            data[f"offsets-{index}-{key}"] = value
    return data


def admin_offset(days: int, **changes: str) -> dict[str, str]:
    return {
        "anchor": "each_injection",
        "months": "0",
        "days": str(days),
        "local_time": "09:00",
        "window_hours": "24",
        "nudge_after_hours": "",
        "nudge_max": "0",
        "channels": '["push"]',
        "instrument": "nrs",
        **changes,
    }


def template_fields(clinic: uuid.UUID, **changes: str) -> dict[str, str]:
    return {
        "name": "Admin schedule",
        "clinic_id": str(clinic),
        "protocol": "",
        "active": "on",
        "quiet_start": "21:00",
        "quiet_end": "08:00",
        "source": "",
        **changes,
    }


def test_an_admin_adds_a_template_with_its_offsets(admin_client: Client) -> None:
    clinic = uuid.uuid4()
    response = admin_client.post(
        ADMIN + "schedules/scheduletemplate/add/",
        form(template_fields(clinic), [admin_offset(1), admin_offset(3)]),
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    template = ScheduleTemplate.objects.get(clinic_id=clinic)
    assert template.version == 1
    assert [o.days for o in template.offsets.all()] == [1, 3]


@pytest.mark.parametrize(
    ("offsets", "fields", "message"),
    [
        ([admin_offset(7), admin_offset(3)], {}, "time order"),
        ([admin_offset(1, window_hours="0")], {}, "answer window"),
        ([admin_offset(1, channels='["fax"]')], {}, "Unknown channels"),
        ([admin_offset(1)], {"quiet_start": "22:00", "quiet_end": "22:00"}, "whole day"),
    ],
)
def test_the_admin_refuses_what_the_api_refuses(
    admin_client: Client, offsets: list[dict[str, str]], fields: dict[str, str], message: str
) -> None:
    clinic = uuid.uuid4()
    response = admin_client.post(
        ADMIN + "schedules/scheduletemplate/add/", form(template_fields(clinic, **fields), offsets)
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ScheduleTemplate.objects.filter(clinic_id=clinic).exists()


def test_an_admin_edit_bumps_the_version_and_marks_courses_for_replanning(
    admin_client: Client,
) -> None:
    clinic = uuid.uuid4()
    template = make_template(clinic, [offset(days=1), offset(days=3)])
    patient = make_patient(clinic)
    plan = CoursePlan.objects.create(patient_id=patient, course_id=uuid.uuid4())
    existing = [
        {**admin_offset(o.days), "id": str(o.id), "template": str(template.id)}
        for o in template.offsets.all()
    ]

    response = admin_client.post(
        ADMIN + f"schedules/scheduletemplate/{template.id}/change/",
        form(
            template_fields(clinic),
            [*existing, admin_offset(7, local_time="10:30")],
            initial=len(existing),
        ),
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    template.refresh_from_db()
    assert template.version == 2
    assert [o.days for o in template.offsets.all()] == [1, 3, 7]
    plan.refresh_from_db()
    assert plan.needs_replan is True


def test_prompts_and_deliveries_are_shown_but_not_editable(admin_client: Client) -> None:
    from datetime import UTC, datetime

    clinic = uuid.uuid4()
    prompt = make_prompt(
        make_patient(clinic), clinic_id=clinic, due_at=datetime(2026, 6, 1, tzinfo=UTC)
    )

    listing = admin_client.get(ADMIN + "prompts/prompt/")
    page = admin_client.get(ADMIN + f"prompts/prompt/{prompt.id}/change/")
    add = admin_client.get(ADMIN + "prompts/prompt/add/")
    delete = admin_client.post(ADMIN + f"prompts/prompt/{prompt.id}/delete/", {"post": "yes"})

    assert listing.status_code == 200
    assert str(prompt.id) in listing.content.decode()
    assert page.status_code == 200
    assert add.status_code == 403
    assert delete.status_code == 403
    assert admin_client.get(ADMIN + "prompts/delivery/").status_code == 200
    assert admin_client.get(ADMIN + "patients/device/").status_code == 200


# --- A clinic administrator's share ------------------------------------------------------------


TEMPLATES = ADMIN + "schedules/scheduletemplate/"


def test_a_clinic_admin_sees_their_clinics_templates_and_the_defaults_only() -> None:
    clinic, other = uuid.uuid4(), uuid.uuid4()
    own = make_template(clinic, [offset(days=1)], name="Our flare schedule")
    theirs = make_template(other, [offset(days=1)], name="Their schedule")
    default = ScheduleTemplate.objects.get(clinic_id__isnull=True, protocol="")
    client = clinic_admin_client(clinic)

    index = client.get(ADMIN).content.decode()
    listed = client.get(TEMPLATES).content.decode()
    other_page = client.get(f"{TEMPLATES}{theirs.id}/change/")
    prompts = client.get(ADMIN + "prompts/prompt/")

    assert "Schedule templates" in index
    assert "Prompts" not in index  # patients' prompts are not theirs to browse
    assert "Our flare schedule" in listed
    assert default.name in listed
    assert "Their schedule" not in listed
    assert other_page.status_code == 302  # "not found", back to the admin index
    assert prompts.status_code == 403
    assert own.clinic_id == clinic


def test_a_clinic_admin_reads_a_default_but_cannot_change_it() -> None:
    clinic = uuid.uuid4()
    default = ScheduleTemplate.objects.get(clinic_id__isnull=True, protocol="")
    version = default.version
    client = clinic_admin_client(clinic)

    page = client.get(f"{TEMPLATES}{default.id}/change/")
    posted = client.post(
        f"{TEMPLATES}{default.id}/change/",
        form(template_fields(clinic, name="Taken over"), [admin_offset(1)]),
    )

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()  # read-only: no save button
    assert posted.status_code == 403
    default.refresh_from_db()
    assert default.name != "Taken over"
    assert default.version == version


def test_a_clinic_admins_new_template_is_always_their_clinics() -> None:
    clinic, other = uuid.uuid4(), uuid.uuid4()
    client = clinic_admin_client(clinic)
    add_page = client.get(f"{TEMPLATES}add/").content.decode()

    response = client.post(
        f"{TEMPLATES}add/",
        form(template_fields(other, name="Ours", protocol="kim_2010"), [admin_offset(1)]),
    )

    assert 'name="clinic_id"' not in add_page
    assert response.status_code == 302, response.content.decode()[:3000]
    created = ScheduleTemplate.objects.get(name="Ours")
    assert created.clinic_id == clinic  # not the clinic that was posted
    assert not ScheduleTemplate.objects.filter(clinic_id=other).exists()


def test_a_clinic_admin_edits_their_template_and_its_courses_are_replanned() -> None:
    clinic = uuid.uuid4()
    template = make_template(clinic, [offset(days=1)], name="Ours")
    plan = CoursePlan.objects.create(patient_id=make_patient(clinic), course_id=uuid.uuid4())
    existing = [
        {**admin_offset(o.days), "id": str(o.id), "template": str(template.id)}
        for o in template.offsets.all()
    ]
    fields = template_fields(clinic, name="Ours")
    del fields["clinic_id"]

    response = clinic_admin_client(clinic).post(
        f"{TEMPLATES}{template.id}/change/",
        form(fields, [*existing, admin_offset(5)], initial=len(existing)),
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    template.refresh_from_db()
    assert (template.clinic_id, template.version) == (clinic, 2)
    assert [o.days for o in template.offsets.all()] == [1, 5]
    plan.refresh_from_db()
    assert plan.needs_replan is True


def test_a_clinic_admin_copies_a_default_to_adapt_it() -> None:
    clinic = uuid.uuid4()
    default = ScheduleTemplate.objects.get(clinic_id__isnull=True, protocol="")
    client = clinic_admin_client(clinic)

    response = client.post(
        TEMPLATES,
        {"action": "copy_to_clinic", "_selected_action": [str(default.id)]},
        follow=True,
    )

    copy = ScheduleTemplate.objects.get(clinic_id=clinic)
    assert f"{default.name} (copy) is your clinic&#x27;s, inactive" in response.content.decode()
    assert copy.name == f"{default.name} (copy)"
    assert copy.active is False  # plans nothing until the clinic makes it active
    fields = ("anchor", "months", "days", "local_time", "window_hours", "instrument")
    assert [[getattr(o, f) for f in fields] for o in copy.offsets.all()] == [
        [getattr(o, f) for f in fields] for o in default.offsets.all()
    ]


def test_an_ended_or_unconfirmed_sign_in_sees_nothing(settings: Any) -> None:
    clinic = uuid.uuid4()
    make_template(clinic, [offset(days=1)], name="Ours")
    settings.IDENTITY_URL = "http://127.0.0.1:9"  # identity cannot be asked to refresh
    client = clinic_admin_client(clinic, token_expires_in=-60)

    listed = client.get(TEMPLATES)

    assert listed.status_code == 403
    assert "Ours" not in listed.content.decode()
