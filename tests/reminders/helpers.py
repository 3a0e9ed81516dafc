"""Helpers of the reminders tests: events as diary and identity send them, templates, sweeps."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from reminders.channels.models import RecordedSend
from reminders.patients.services import device_register
from reminders.prompts.models import Prompt
from reminders.prompts.services.delivery import prompts_deliver
from reminders.prompts.services.dispatch import SweepResult, prompts_sweep
from reminders.schedules.models import ScheduleTemplate
from reminders.schedules.services import template_create
from shared.auth.backends import SESSION_PRINCIPAL_KEY, SESSION_TOKENS_KEY
from shared.events.catalogue import utc_isoformat
from shared.events.services import event_handle
from shared.testing.tokens import access_token

API = "/api/reminders/v1/"


def envelope(type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": type,
        "version": 1,
        "occurred_at": utc_isoformat(timezone.now()),
        "producer": type.split(".")[0],
        "subject": data["patient_id"],
        "data": data,
    }


def deliver_event(type: str, data: dict[str, Any]) -> dict[str, Any]:
    message = envelope(type, data)
    event_handle(envelope=message)
    return message


def profile(patient_id: uuid.UUID, clinic_id: uuid.UUID, tz: str) -> dict[str, Any]:
    return {
        "patient_id": str(patient_id),
        "clinic_id": str(clinic_id),
        "timezone": tz,
        "locale": "en-GB",
        "sex": "female",
        "birth_year": 1970,
    }


def enrol(
    *,
    clinic_id: uuid.UUID,
    tz: str = "Europe/London",
    patient_id: uuid.UUID | None = None,
    with_device: bool = True,
) -> uuid.UUID:
    patient_id = patient_id or uuid.uuid4()
    deliver_event(
        "identity.patient.enrolled",
        {**profile(patient_id, clinic_id, tz), "enrolled_at": utc_isoformat(timezone.now())},
    )
    if with_device:
        device_register(
            patient_id=patient_id,
            clinic_id=clinic_id,
            platform="android",
            token=f"fcm-{uuid.uuid4().hex}",
        )
    return patient_id


def move_patient(
    patient_id: uuid.UUID, *, clinic_id: uuid.UUID, tz: str, changed: Iterable[str] = ("timezone",)
) -> None:
    deliver_event(
        "identity.patient.updated",
        {**profile(patient_id, clinic_id, tz), "changed": list(changed)},
    )


def deactivate(patient_id: uuid.UUID, *, clinic_id: uuid.UUID, at: datetime) -> None:
    """identity.patient.deactivated, as identity announces a patient's closed account."""
    deliver_event(
        "identity.patient.deactivated",
        {
            "patient_id": str(patient_id),
            "clinic_id": str(clinic_id),
            "deactivated_at": at.isoformat().replace("+00:00", "Z"),
        },
    )


def reactivate(patient_id: uuid.UUID, *, clinic_id: uuid.UUID, at: datetime) -> None:
    """identity.patient.reactivated, as identity announces a patient's account opened again."""
    deliver_event(
        "identity.patient.reactivated",
        {
            "patient_id": str(patient_id),
            "clinic_id": str(clinic_id),
            "reactivated_at": at.isoformat().replace("+00:00", "Z"),
        },
    )


def injection_data(
    *,
    patient_id: uuid.UUID,
    clinic_id: uuid.UUID,
    injected_at: datetime,
    course_id: uuid.UUID,
    injection_id: uuid.UUID,
    protocol: str | None = None,
) -> dict[str, Any]:
    return {
        "injection_id": str(injection_id),
        "patient_id": str(patient_id),
        "clinic_id": str(clinic_id),
        "course_id": str(course_id),
        "injected_at": utc_isoformat(injected_at),
        "site": "sij_intra_articular",
        "laterality": "left",
        "solution": "dextrose_25",
        "guidance": "fluoroscopy",
        "protocol": protocol,
        "diagnosis": "sij_dysfunction",
    }


def inject(
    patient_id: uuid.UUID,
    *,
    clinic_id: uuid.UUID,
    at: datetime,
    course_id: uuid.UUID | None = None,
    protocol: str | None = None,
) -> tuple[uuid.UUID, uuid.UUID]:
    """diary.injection.recorded; returns (injection id, course id)."""
    injection_id, course_id = uuid.uuid4(), course_id or uuid.uuid4()
    deliver_event(
        "diary.injection.recorded",
        injection_data(
            patient_id=patient_id,
            clinic_id=clinic_id,
            injected_at=at,
            course_id=course_id,
            injection_id=injection_id,
            protocol=protocol,
        ),
    )
    return injection_id, course_id


def log_entry(
    patient_id: uuid.UUID,
    *,
    clinic_id: uuid.UUID,
    at: datetime,
    nrs: int | None = 5,
    prompt_id: uuid.UUID | None = None,
) -> uuid.UUID:
    entry_id = uuid.uuid4()
    deliver_event(
        "diary.entry.logged",
        {
            "entry_id": str(entry_id),
            "patient_id": str(patient_id),
            "clinic_id": str(clinic_id),
            "recorded_at": utc_isoformat(at),
            "nrs": nrs,
            "prompt_id": str(prompt_id) if prompt_id else None,
            "nsaid": False,
            "side_effects": [],
            "red_flag": False,
        },
    )
    return entry_id


def complete_questionnaire(
    patient_id: uuid.UUID,
    *,
    clinic_id: uuid.UUID,
    at: datetime,
    instrument: str,
    score: float = 30,
    prompt_id: uuid.UUID | None = None,
) -> uuid.UUID:
    response_id = uuid.uuid4()
    deliver_event(
        "diary.questionnaire.completed",
        {
            "response_id": str(response_id),
            "patient_id": str(patient_id),
            "clinic_id": str(clinic_id),
            "instrument": instrument,
            "completed_at": utc_isoformat(at),
            "score": score,
            "prompt_id": str(prompt_id) if prompt_id else None,
        },
    )
    return response_id


def offset(
    *,
    anchor: str = "each_injection",
    days: int = 1,
    months: int = 0,
    at: str = "09:00",
    window: int = 24,
    nudge_after: int | None = None,
    nudge_max: int = 0,
    channels: tuple[str, ...] = ("push",),
    instrument: str = "nrs",
) -> dict[str, Any]:
    hour, minute = (int(part) for part in at.split(":"))
    return {
        "anchor": anchor,
        "days": days,
        "months": months,
        "local_time": time(hour, minute),
        "window_hours": window,
        "nudge_after_hours": nudge_after,
        "nudge_max": nudge_max,
        "channels": list(channels),
        "instrument": instrument,
    }


def make_template(
    clinic_id: uuid.UUID | None,
    offsets: list[dict[str, Any]],
    *,
    quiet: tuple[str, str] | None = None,
    protocol: str = "",
    name: str = "Test schedule",
) -> ScheduleTemplate:
    def hhmm(value: str) -> time:
        hour, minute = (int(part) for part in value.split(":"))
        return time(hour, minute)

    return template_create(
        actor_id=None,
        clinic_id=clinic_id,
        data={
            "name": name,
            "protocol": protocol,
            "quiet_start": hhmm(quiet[0]) if quiet else None,
            "quiet_end": hhmm(quiet[1]) if quiet else None,
            "offsets": offsets,
        },
    )


def sweep(now: datetime | None = None) -> SweepResult:
    """One sweep, with the delivery tasks run at once in this process (as eager Celery would)."""
    now = now or timezone.now()

    def inline(prompt_ids: list[str], claim_token: str) -> None:
        prompts_deliver(prompt_ids=prompt_ids, claim_token=claim_token, now=now)

    return prompts_sweep(now=now, dispatch=inline)


def sends(prompt: Prompt | None = None) -> list[RecordedSend]:
    rows = RecordedSend.objects.order_by("recorded_at", "id")
    if prompt is not None:
        rows = rows.filter(prompt_id=prompt.id)
    return list(rows)


def prompts_of(patient_id: uuid.UUID, **filters: Any) -> list[Prompt]:
    return list(Prompt.objects.filter(patient_id=patient_id, **filters).order_by("intended_at"))


def local(value: datetime, tz: str) -> datetime:
    return value.astimezone(ZoneInfo(tz))


def at_local(tz: str, *args: int, fold: int = 0) -> datetime:
    """An instant from local wall-clock parts: at_local("Europe/London", 2026, 3, 1, 9)."""
    return datetime(*args, tzinfo=ZoneInfo(tz), fold=fold).astimezone(UTC)  # type: ignore[misc]


def client(
    user_id: uuid.UUID | None = None,
    *,
    roles: tuple[str, ...] = ("patient",),
    clinic_id: uuid.UUID | None = None,
) -> APIClient:
    api = APIClient()
    token = access_token(user_id or uuid.uuid4(), roles=roles, clinic_id=clinic_id)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


def is_problem(response: Any, status: int) -> bool:
    return (
        response.status_code == status
        and response["Content-Type"] == "application/problem+json"
        and response.json().get("status") == status
    )


def error_fields(response: Any) -> list[str]:
    return [error["field"] for error in response.json().get("errors", [])]


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def make_patient(
    clinic_id: uuid.UUID, *, tz: str = "Europe/London", device: bool = True
) -> uuid.UUID:
    """A patient row without going through events (for dispatch tests and bulk setups)."""
    from reminders.patients.models import Device, Patient

    patient = Patient.objects.create(id=uuid.uuid4(), clinic_id=clinic_id, timezone=tz, locale="en")
    if device:
        token = f"fcm-{uuid.uuid4().hex}"
        Device.objects.create(
            patient=patient,
            platform="android",
            token=token,
            token_digest=uuid.uuid4().hex,
            registered_at=timezone.now(),
        )
    return patient.id


def make_prompt(
    patient_id: uuid.UUID,
    *,
    clinic_id: uuid.UUID,
    due_at: datetime,
    window_hours: int = 24,
    channels: tuple[str, ...] = ("push",),
    nudge_after: int | None = None,
    nudge_max: int = 0,
    instrument: str = "nrs",
    tz: str = "Europe/London",
    status: str = "pending",
    save: bool = True,
) -> Prompt:
    """A planned prompt row as planning would write it, due at ``due_at``."""
    zone_local = due_at.astimezone(ZoneInfo(tz))
    anchor = uuid.uuid4()
    prompt = Prompt(
        patient_id=patient_id,
        clinic_id=clinic_id,
        course_id=uuid.uuid4(),
        anchor_id=anchor,
        injection_id=anchor,
        template_id=None,
        template_version=1,
        offset_key="flare:0m1d",
        kind="flare",
        instrument=instrument,
        timezone=tz,
        local_date=zone_local.date(),
        local_time=zone_local.time(),
        intended_at=due_at,
        due_at=due_at,
        expires_at=due_at + timedelta(hours=window_hours),
        status=status,
        channels=list(channels),
        nudge_after_hours=nudge_after,
        nudge_max=nudge_max,
        created_at=due_at,
        updated_at=due_at,
    )
    if save:
        prompt.save(force_insert=True)
    return prompt


class NoLookupChannel:
    """Stands in for a provider that cannot say whether a send happened (most cannot)."""

    supports_lookup = False

    def __new__(cls, name: str) -> Any:
        from reminders.channels.base import LookupUnsupported
        from reminders.channels.recording import RecordingChannel

        class _Channel(RecordingChannel):
            supports_lookup = False

            def lookup(self, idempotency_key: str) -> Any:
                raise LookupUnsupported(self.name)

        return _Channel(name)


def clinic_admin_client(clinic: uuid.UUID, *, token_expires_in: float = 300.0) -> Client:
    """A clinic administrator signed in to this admin through identity, as the web sign-in
    leaves the session (shared.auth.backends)."""
    user_id = uuid.uuid4()
    client = Client()
    client.force_login(User.objects.create_user(str(user_id), "ca@example.org", is_staff=True))
    session = client.session
    session[SESSION_PRINCIPAL_KEY] = {
        "id": str(user_id),
        "roles": ["clinic_admin"],
        "clinic_id": str(clinic),
        "email": "ca@example.org",
    }
    session[SESSION_TOKENS_KEY] = {
        "access": "not-used-while-fresh",
        "refresh": "not-used-while-fresh",
        "expires_at": timezone.now().timestamp() + token_expires_in,
    }
    session.save()
    return client
