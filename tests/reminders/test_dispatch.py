"""Dispatch in one process: claims, delivery rows, channels, nudges, expiry, events."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from helpers import (
    deactivate,
    deliver_event,
    enrol,
    inject,
    log_entry,
    make_patient,
    make_prompt,
    make_template,
    offset,
    sends,
    sweep,
)
from pytest_django.fixtures import Settings

from reminders.arrays import pg_array
from reminders.channels.base import Message, Recipient
from reminders.channels.registry import channel
from reminders.patients.models import Device, Patient
from reminders.patients.services import device_register, preference_update
from reminders.prompts.models import Delivery, DeliveryStatus, Prompt, PromptStatus
from reminders.prompts.services.delivery import prompts_deliver
from reminders.prompts.services.dispatch import (
    SweepResult,
    claim_batch,
    claim_params,
    claim_sql,
    prompts_sweep,
)
from shared.events.testing import published_envelopes

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
CLINIC = uuid.UUID("0b9d7f6e-1f0a-4c53-9a52-0a5c2f9f4b11")


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


@pytest.fixture(autouse=True)
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def sweep_at(clock: time_machine.Traveller, moment: datetime) -> SweepResult:
    clock.move_to(moment)
    return sweep(moment)


def test_a_due_prompt_is_sent_once_and_announced() -> None:
    patient = make_patient(CLINIC)
    prompt = make_prompt(patient, clinic_id=CLINIC, due_at=NOW)

    first = sweep(NOW)
    second = sweep(NOW + timedelta(minutes=1))

    assert (first.claimed, second.claimed) == (1, 0)
    prompt.refresh_from_db()
    assert prompt.status == PromptStatus.SENT
    assert prompt.sent_at == NOW
    assert prompt.channel == "push"
    assert [s.prompt_id for s in sends()] == [prompt.id]
    (event,) = published_envelopes("reminders.prompt.sent")
    assert event["subject"] == str(patient)
    assert event["data"]["prompt_id"] == str(prompt.id)
    assert event["data"]["kind"] == "flare"
    assert event["data"]["channel"] == "push"
    assert event["data"]["due_at"] == "2026-06-01T08:00:00Z"


def test_a_prompt_not_yet_due_waits() -> None:
    patient = make_patient(CLINIC)
    make_prompt(patient, clinic_id=CLINIC, due_at=NOW + timedelta(minutes=1))
    assert sweep(NOW).claimed == 0
    assert sends() == []


def test_nudges_come_every_n_hours_at_most_m_times_within_the_window(
    clock: time_machine.Traveller,
) -> None:
    patient = make_patient(CLINIC)
    prompt = make_prompt(
        patient, clinic_id=CLINIC, due_at=NOW, window_hours=12, nudge_after=4, nudge_max=2
    )
    for step in range(0, 12 * 4 + 1):
        sweep_at(clock, NOW + timedelta(minutes=15 * step))

    recorded = sends(prompt)
    assert [r.attempt for r in recorded] == [1, 2, 3]
    assert [r.recorded_at - NOW for r in recorded] == [hours(0), hours(4), hours(8)]
    assert list(
        Delivery.objects.filter(prompt=prompt).values_list("attempt", "status").order_by("attempt")
    ) == [(1, DeliveryStatus.SENT), (2, DeliveryStatus.SENT), (3, DeliveryStatus.SENT)]
    prompt.refresh_from_db()
    assert prompt.nudges_sent == 2
    assert prompt.status == PromptStatus.EXPIRED
    # Nudges are not announced again: one sent event per prompt.
    assert len(published_envelopes("reminders.prompt.sent")) == 1


def test_an_answer_stops_the_nudges() -> None:
    patient = make_patient(CLINIC)
    prompt = make_prompt(
        patient, clinic_id=CLINIC, due_at=NOW, window_hours=24, nudge_after=4, nudge_max=3
    )
    sweep(NOW)
    sweep(NOW + hours(4))
    log_entry(patient, clinic_id=CLINIC, at=NOW + hours(5), nrs=6)
    for step in range(5, 25):
        sweep(NOW + hours(step))

    assert [r.attempt for r in sends(prompt)] == [1, 2]
    prompt.refresh_from_db()
    assert prompt.status == PromptStatus.ANSWERED
    assert prompt.next_nudge_at is None


def test_a_sent_prompt_left_unanswered_expires_with_an_event_and_an_unsent_one_quietly() -> None:
    patient = make_patient(CLINIC)
    asked = make_prompt(patient, clinic_id=CLINIC, due_at=NOW, window_hours=6)
    sweep(NOW)
    # Never sent: nobody could be reached, and its window closed.
    silent_patient = make_patient(CLINIC, device=False)
    unsent = make_prompt(silent_patient, clinic_id=CLINIC, due_at=NOW, window_hours=2)
    sweep(NOW)

    result = sweep(NOW + hours(6))

    assert result.expired == 2
    asked.refresh_from_db()
    unsent.refresh_from_db()
    assert (asked.status, asked.expired_at) == (PromptStatus.EXPIRED, NOW + hours(6))
    assert (unsent.status, unsent.sent_at) == (PromptStatus.EXPIRED, None)
    (event,) = published_envelopes("reminders.prompt.expired")
    assert event["data"]["prompt_id"] == str(asked.id)
    assert event["data"]["expired_at"] == "2026-06-01T14:00:00Z"


def test_a_prompt_falls_through_to_the_next_channel_that_reaches_the_patient() -> None:
    patient = make_patient(CLINIC, device=False)
    preference_update(patient_id=patient, clinic_id=CLINIC, changes={"phone": "+447700900123"})
    prompt = make_prompt(patient, clinic_id=CLINIC, due_at=NOW, channels=("push", "sms", "email"))

    sweep(NOW)

    (sent,) = sends(prompt)
    assert sent.channel == "sms"
    assert published_envelopes("reminders.prompt.sent")[0]["data"]["channel"] == "sms"


def test_the_patients_preferred_channel_goes_first(clock: time_machine.Traveller) -> None:
    make_template(CLINIC, [offset(days=1, channels=("push", "email"))])
    patient = enrol(clinic_id=CLINIC)
    inject(patient, clinic_id=CLINIC, at=NOW)
    (prompt,) = Prompt.objects.filter(patient_id=patient)
    assert prompt.channels == ["push", "email"]

    preference_update(
        patient_id=patient,
        clinic_id=CLINIC,
        changes={"email": "q@example.org", "preferred_channel": "email"},
    )

    prompt.refresh_from_db()
    assert prompt.channels == ["email", "push"]
    sweep_at(clock, prompt.intended_at)
    assert [s.channel for s in sends(prompt)] == ["email"]


def test_a_prompt_nobody_can_reach_is_retried_and_goes_out_once_a_phone_is_registered() -> None:
    patient = make_patient(CLINIC, device=False)
    prompt = make_prompt(patient, clinic_id=CLINIC, due_at=NOW, window_hours=24)

    sweep(NOW)
    prompt.refresh_from_db()
    assert prompt.status == PromptStatus.PENDING
    assert prompt.due_at == NOW + timedelta(minutes=5)
    assert Delivery.objects.get(prompt=prompt).status == DeliveryStatus.FAILED

    device_register(patient_id=patient, clinic_id=CLINIC, platform="ios", token="apns-token-1")
    sweep(NOW + timedelta(minutes=5))

    prompt.refresh_from_db()
    assert prompt.status == PromptStatus.SENT
    assert len(sends(prompt)) == 1
    assert prompt.intended_at == NOW


def test_a_delivery_task_run_twice_sends_once() -> None:
    patient = make_patient(CLINIC)
    prompt = make_prompt(patient, clinic_id=CLINIC, due_at=NOW)
    tasks: list[tuple[list[str], str]] = []
    prompts_sweep(now=NOW, dispatch=lambda ids, token: tasks.append((ids, token)))
    ((ids, token),) = tasks

    prompts_deliver(prompt_ids=ids, claim_token=token, now=NOW)
    again = prompts_deliver(prompt_ids=ids, claim_token=token, now=NOW)

    assert again.sent == 0
    assert len(sends(prompt)) == 1
    assert Delivery.objects.filter(prompt=prompt).count() == 1


def _orphaned_claim(prompt: Prompt) -> str:
    """The state a worker leaves when it dies after writing the delivery row (mid-send)."""
    ids, token = claim_batch("due", now=NOW, limit=10)
    assert ids == [prompt.id]
    Delivery.objects.create(
        prompt=prompt,
        attempt=1,
        status=DeliveryStatus.SENDING,
        claim_token=token,
        run_id=uuid.uuid4(),
        started_at=NOW,
    )
    return str(token)


def test_a_rerun_after_a_worker_died_mid_send_asks_the_channel_and_sends_only_if_it_did_not() -> (
    None
):
    patient = make_patient(CLINIC)
    prompt = make_prompt(patient, clinic_id=CLINIC, due_at=NOW)
    token = _orphaned_claim(prompt)

    result = prompts_deliver(prompt_ids=[str(prompt.id)], claim_token=token, now=NOW)

    assert result.sent == 1
    assert len(sends(prompt)) == 1
    prompt.refresh_from_db()
    assert prompt.status == PromptStatus.SENT


def test_a_rerun_finds_the_earlier_send_through_the_channel_and_does_not_repeat_it() -> None:
    patient = make_patient(CLINIC)
    prompt = make_prompt(patient, clinic_id=CLINIC, due_at=NOW)
    token = _orphaned_claim(prompt)
    # The dead worker did reach the provider.
    sender = channel("push")
    assert sender is not None
    sender.send(
        Message(prompt.id, patient, 1, "flare", "nrs", prompt.expires_at), Recipient(patient)
    )

    result = prompts_deliver(prompt_ids=[str(prompt.id)], claim_token=token, now=NOW)

    assert (result.sent, result.already_done) == (0, 1)
    assert len(sends(prompt)) == 1
    prompt.refresh_from_db()
    assert prompt.status == PromptStatus.SENT
    assert len(published_envelopes("reminders.prompt.sent")) == 1


def test_a_rerun_whose_channel_cannot_tell_never_sends_twice(settings: Settings) -> None:
    settings.REMINDERS_CHANNELS = {**settings.REMINDERS_CHANNELS, "push": "helpers.NoLookupChannel"}
    patient = make_patient(CLINIC)
    prompt = make_prompt(patient, clinic_id=CLINIC, due_at=NOW)
    token = _orphaned_claim(prompt)

    result = prompts_deliver(prompt_ids=[str(prompt.id)], claim_token=token, now=NOW)

    assert result.unknown == 1
    assert sends(prompt) == []
    assert Delivery.objects.get(prompt=prompt).status == DeliveryStatus.UNKNOWN
    prompt.refresh_from_db()
    # Counted as sent (it may well have been); the app still lists it as open.
    assert prompt.status == PromptStatus.SENT


def test_a_stale_claim_is_taken_back_and_its_old_task_does_nothing(
    settings: Settings,
) -> None:
    settings.REMINDERS_CLAIM_TIMEOUT_SECONDS = 60
    patient = make_patient(CLINIC)
    prompt = make_prompt(patient, clinic_id=CLINIC, due_at=NOW)
    lost: list[tuple[list[str], str]] = []
    prompts_sweep(now=NOW, dispatch=lambda ids, token: lost.append((ids, token)))

    assert sweep(NOW + timedelta(seconds=30)).reclaimed == 0
    assert sweep(NOW + timedelta(seconds=61)).reclaimed == 1
    ((ids, old_token),) = lost
    late = prompts_deliver(prompt_ids=ids, claim_token=old_token, now=NOW + timedelta(seconds=90))

    assert late.not_ours == 1
    assert len(sends(prompt)) == 1


def test_claims_are_given_back_when_the_broker_refuses_the_tasks() -> None:
    patient = make_patient(CLINIC)
    prompt = make_prompt(patient, clinic_id=CLINIC, due_at=NOW)

    def broker_down(ids: list[str], token: str) -> None:
        raise ConnectionError("broker unreachable")

    result = prompts_sweep(now=NOW, dispatch=broker_down)

    assert (result.claimed, result.released, result.broker_failed) == (1, 1, True)
    prompt.refresh_from_db()
    assert (prompt.status, prompt.claim_token) == (PromptStatus.PENDING, None)
    sweep(NOW + timedelta(seconds=10))
    assert len(sends(prompt)) == 1


def test_an_erased_patients_claimed_prompt_is_not_sent() -> None:
    patient = make_patient(CLINIC)
    prompt = make_prompt(patient, clinic_id=CLINIC, due_at=NOW)
    ids, token = claim_batch("due", now=NOW, limit=10)
    deliver_event("identity.patient.erased", {"patient_id": str(patient), "clinic_id": str(CLINIC)})

    result = prompts_deliver(prompt_ids=[str(i) for i in ids], claim_token=token, now=NOW)

    assert result.sent == 0
    assert sends(prompt) == []
    assert not Device.objects.filter(patient_id=patient).exists()
    assert Patient.objects.get(id=patient).erased_at is not None


def test_a_deactivated_patients_claimed_prompt_is_not_sent() -> None:
    patient = make_patient(CLINIC)
    prompt = make_prompt(patient, clinic_id=CLINIC, due_at=NOW)
    ids, token = claim_batch("due", now=NOW, limit=10)
    deactivate(patient, clinic_id=CLINIC, at=NOW)

    result = prompts_deliver(prompt_ids=[str(i) for i in ids], claim_token=token, now=NOW)

    assert result.sent == 0
    assert sends(prompt) == []
    prompt.refresh_from_db()
    assert (prompt.status, prompt.cancel_reason) == (PromptStatus.CANCELLED, "patient_deactivated")


def _deliver_counting_statements(count: int) -> tuple[int, list[Prompt]]:
    prompts = [
        make_prompt(make_patient(CLINIC), clinic_id=CLINIC, due_at=NOW) for _ in range(count)
    ]
    ids, token = claim_batch("due", now=NOW, limit=count)
    with CaptureQueriesContext(connection) as statements:
        result = prompts_deliver(prompt_ids=[str(i) for i in ids], claim_token=token, now=NOW)
    assert result.sent == count
    return len(statements.captured_queries), prompts


def test_a_delivery_task_costs_as_many_statements_for_fifty_prompts_as_for_two() -> None:
    few, _ = _deliver_counting_statements(2)
    many, prompts = _deliver_counting_statements(50)

    assert many == few
    assert len(sends()) == 52
    for prompt in prompts:
        prompt.refresh_from_db()
        assert (prompt.status, prompt.sent_at, prompt.claim_token) == (PromptStatus.SENT, NOW, None)
    assert Delivery.objects.filter(status=DeliveryStatus.SENT).count() == 52
    assert len(published_envelopes("reminders.prompt.sent")) == 52


def test_array_parameters_keep_text_exactly_as_written() -> None:
    texts = ["a,b", "{braces}", 'say "hi"', "back\\slash", "NULL", "", " spaced "]
    with connection.cursor() as cursor:
        cursor.execute("SELECT unnest(%s::varchar[])", [pg_array(texts)])
        assert [row[0] for row in cursor.fetchall()] == texts
        cursor.execute("SELECT unnest(%s::varchar[])", [pg_array([None, "x"])])
        assert [row[0] for row in cursor.fetchall()] == [None, "x"]


def test_the_claim_query_uses_the_partial_index_of_pending_prompts() -> None:
    # Most of the table is history (answered) or the future; a few prompts are due now.
    patient = make_patient(CLINIC)
    history = [
        make_prompt(patient, clinic_id=CLINIC, due_at=NOW - hours(i), status="answered", save=False)
        for i in range(1, 1001)
    ]
    future = [
        make_prompt(patient, clinic_id=CLINIC, due_at=NOW + hours(i), save=False)
        for i in range(1, 2001)
    ]
    due = [
        make_prompt(patient, clinic_id=CLINIC, due_at=NOW - timedelta(seconds=i), save=False)
        for i in range(20)
    ]
    Prompt.objects.bulk_create(history + future + due)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE prompts_prompt")
        cursor.execute("EXPLAIN " + claim_sql("due"), claim_params(now=NOW, limit=1000))
        plan = "\n".join(row[0] for row in cursor.fetchall())

    # The rows to claim come from a range scan of the partial index, not from the table.
    claimable = (
        plan.split("CTE claimable", 1)[1].split("->  Hash Join")[0].split("->  Nested Loop")[0]
    )
    assert "Index Scan using prompt_pending_due_idx" in claimable, plan
    assert "Seq Scan" not in claimable, plan
    assert "SKIP LOCKED" in claim_sql("due")


def test_a_pause_silences_the_nudges_of_a_prompt_already_sent(
    clock: time_machine.Traveller,
) -> None:
    patient = make_patient(CLINIC)
    prompt = make_prompt(
        patient, clinic_id=CLINIC, due_at=NOW, window_hours=24, nudge_after=4, nudge_max=3
    )
    sweep_at(clock, NOW)
    preference_update(
        patient_id=patient, clinic_id=CLINIC, changes={"pause_until": NOW + timedelta(days=2)}
    )
    for step in range(1, 25):
        sweep_at(clock, NOW + hours(step))

    assert [r.attempt for r in sends(prompt)] == [1]


def test_beat_runs_one_sweeper_at_least_every_minute_beside_the_outbox_relay() -> None:
    from django.conf import settings

    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["reminders-sweep"]["task"] == "reminders.prompts.sweep"
    assert float(schedule["reminders-sweep"]["schedule"]) <= 60  # type: ignore[arg-type]
    assert {"outbox-relay", "outbox-prune"} <= set(schedule)
