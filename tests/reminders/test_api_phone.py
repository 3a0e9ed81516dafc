"""The phone's API: open prompts, receipts, devices and preferences (patients only)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from helpers import (
    API,
    client,
    enrol,
    error_fields,
    inject,
    is_problem,
    make_patient,
    make_prompt,
    make_template,
    offset,
    sweep,
)

from reminders.patients.models import Device, Preference
from reminders.prompts.models import Prompt, PromptStatus

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
CLINIC = uuid.uuid4()


@pytest.fixture(autouse=True)
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


def test_open_prompts_are_the_callers_sent_or_due_ones_with_local_times() -> None:
    patient = make_patient(CLINIC, tz="America/New_York")
    other = make_patient(CLINIC)
    sent = make_prompt(
        patient, clinic_id=CLINIC, due_at=NOW - timedelta(hours=1), tz="America/New_York"
    )
    sweep(NOW)
    due = make_prompt(
        patient, clinic_id=CLINIC, due_at=NOW - timedelta(minutes=1), tz="America/New_York"
    )
    make_prompt(patient, clinic_id=CLINIC, due_at=NOW + timedelta(hours=3))
    make_prompt(patient, clinic_id=CLINIC, due_at=NOW - timedelta(days=2), window_hours=1)
    make_prompt(other, clinic_id=CLINIC, due_at=NOW - timedelta(hours=1))

    response = client(patient).get(API + "prompts/open/")

    assert response.status_code == 200
    body = response.json()
    assert [p["id"] for p in body] == [str(sent.id), str(due.id)]
    assert body[0]["status"] == "sent"
    assert body[0]["due_at"] == "2026-06-01T07:00:00Z"
    assert body[0]["due_local"] == "2026-06-01T03:00:00-04:00"
    assert body[0]["expires_local"] == "2026-06-02T03:00:00-04:00"
    assert body[0]["instrument"] == "nrs"


def test_answered_prompts_leave_the_open_list() -> None:
    patient = make_patient(CLINIC)
    prompt = make_prompt(patient, clinic_id=CLINIC, due_at=NOW - timedelta(hours=1))
    Prompt.objects.filter(id=prompt.id).update(status=PromptStatus.ANSWERED)
    assert client(patient).get(API + "prompts/open/").json() == []


def test_the_phone_reports_delivery_and_opening_of_its_own_prompts_only() -> None:
    patient, other = make_patient(CLINIC), make_patient(CLINIC)
    prompt = make_prompt(patient, clinic_id=CLINIC, due_at=NOW - timedelta(minutes=1))
    sweep(NOW)
    phone = client(patient)

    delivered = phone.post(
        API + f"prompts/{prompt.id}/receipts/", {"event": "delivered"}, format="json"
    )
    opened = phone.post(API + f"prompts/{prompt.id}/receipts/", {"event": "opened"}, format="json")
    foreign = client(other).post(
        API + f"prompts/{prompt.id}/receipts/", {"event": "opened"}, format="json"
    )
    wrong = phone.post(API + f"prompts/{prompt.id}/receipts/", {"event": "read"}, format="json")

    assert (delivered.status_code, opened.status_code) == (200, 200)
    assert is_problem(foreign, 404)
    assert is_problem(wrong, 400)
    assert error_fields(wrong) == ["event"]
    prompt.refresh_from_db()
    assert prompt.delivered_at is not None
    assert prompt.opened_at is not None
    assert prompt.deliveries.get().opened_at is not None


def test_registering_a_device_twice_keeps_one_device() -> None:
    patient = uuid.uuid4()
    phone = client(patient, clinic_id=CLINIC)
    body = {"platform": "ios", "token": "apns-abc"}

    first = phone.post(API + "devices/", body, format="json")
    again = phone.post(API + "devices/", body, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    listed = phone.get(API + "devices/").json()
    assert [d["id"] for d in listed] == [first.json()["id"]]
    assert "token" not in listed[0]


def test_a_phone_handed_to_another_patient_moves_its_token_to_them() -> None:
    previous, current = uuid.uuid4(), uuid.uuid4()
    body = {"platform": "android", "token": "fcm-shared-phone"}
    client(previous, clinic_id=CLINIC).post(API + "devices/", body, format="json")

    taken = client(current, clinic_id=CLINIC).post(API + "devices/", body, format="json")

    assert taken.status_code == 201
    assert list(Device.objects.values_list("patient_id", flat=True)) == [current]
    assert client(previous, clinic_id=CLINIC).get(API + "devices/").json() == []


def test_a_patient_removes_their_own_device_but_not_anothers() -> None:
    owner, stranger = uuid.uuid4(), uuid.uuid4()
    device = (
        client(owner, clinic_id=CLINIC)
        .post(
            API + "devices/",
            {"platform": "web", "token": '{"endpoint": "https://push.example/1"}'},
            format="json",
        )
        .json()
    )

    refused = client(stranger, clinic_id=CLINIC).delete(API + f"devices/{device['id']}/")
    removed = client(owner, clinic_id=CLINIC).delete(API + f"devices/{device['id']}/")
    gone = client(owner, clinic_id=CLINIC).delete(API + f"devices/{device['id']}/")

    assert is_problem(refused, 404)
    assert removed.status_code == 204
    assert is_problem(gone, 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"platform": "blackberry", "token": "x"}, "platform"),
        ({"platform": "ios"}, "token"),
        ({"platform": "ios", "token": ""}, "token"),
        ({"platform": "ios", "token": "x", "patient": str(uuid.uuid4())}, "patient"),
        ({"platform": "ios", "token": "x" * 5000}, "token"),
    ],
)
def test_bad_device_registrations_are_refused_with_the_field(body: dict, field: str) -> None:
    response = client(uuid.uuid4(), clinic_id=CLINIC).post(API + "devices/", body, format="json")
    assert is_problem(response, 400)
    assert field in error_fields(response)


def test_preferences_start_empty_and_a_pause_replans_unsent_prompts() -> None:
    clinic = uuid.uuid4()
    make_template(clinic, [offset(days=d) for d in (1, 2, 5)])
    patient = enrol(clinic_id=clinic)
    inject(patient, clinic_id=clinic, at=NOW)
    phone = client(patient, clinic_id=clinic)
    assert phone.get(API + "preferences/").json() == {
        "pause_until": None,
        "preferred_channel": "",
        "preferred_time": None,
        "email": "",
        "phone": "",
    }

    response = phone.patch(
        API + "preferences/",
        {
            "pause_until": "2026-06-04T00:00:00Z",
            "preferred_time": "19:30",
            "phone": "+447700900123",
        },
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["preferred_time"] == "19:30"
    statuses = list(
        Prompt.objects.filter(patient_id=patient)
        .order_by("intended_at")
        .values_list("status", flat=True)
    )
    assert statuses == ["cancelled", "cancelled", "pending"]
    live = Prompt.objects.get(patient_id=patient, status="pending")
    assert live.local_time == time(19, 30)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": "07700 900123"}, "phone"),
        ({"email": "not-an-address"}, "email"),
        ({"preferred_channel": "pigeon"}, "preferred_channel"),
        ({"preferred_time": "25:00"}, "preferred_time"),
        ({"preferred_time": "09:00:30"}, "preferred_time"),
        ({"pause_until": "next week"}, "pause_until"),
        ({"clinic_id": str(uuid.uuid4())}, "clinic_id"),
    ],
)
def test_bad_preferences_are_refused_with_the_field(body: dict, field: str) -> None:
    response = client(uuid.uuid4(), clinic_id=CLINIC).patch(
        API + "preferences/", body, format="json"
    )
    assert is_problem(response, 400)
    assert error_fields(response) == [field]
    assert not Preference.objects.exists()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "prompts/open/"),
        ("get", "devices/"),
        ("post", "devices/"),
        ("get", "preferences/"),
        ("patch", "preferences/"),
        ("post", f"prompts/{uuid.uuid4()}/receipts/"),
        ("delete", f"devices/{uuid.uuid4()}/"),
    ],
)
@pytest.mark.parametrize("roles", [("clinician",), ("clinic_admin",), ("system_admin",)])
def test_the_phone_endpoints_are_for_patients_only(
    method: str, path: str, roles: tuple[str, ...]
) -> None:
    staff = client(roles=roles, clinic_id=CLINIC)
    assert is_problem(getattr(staff, method)(API + path, {}, format="json"), 403)


@pytest.mark.parametrize(
    "path", ["prompts/open/", "devices/", "preferences/", "templates/", "patients/adherence/"]
)
def test_every_endpoint_refuses_anonymous_callers(path: str) -> None:
    from rest_framework.test import APIClient

    assert is_problem(APIClient().get(API + path), 401)
