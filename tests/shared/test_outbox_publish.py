"""Publishing: an event commits or rolls back with the change it describes."""

from __future__ import annotations

import logging
import time
import uuid

import pytest
from django.db import transaction
from events_fixtures import (
    Broker,
    RedisServer,
    celery_broker,
    entry_logged_data,
    score_and_publish,
)
from pytest_django.fixtures import Settings
from sharedtest.models import PainScore

from shared.events.catalogue import InvalidEvent, UnknownEventType
from shared.events.testing import published_envelopes
from shared.outbox.models import OutboxEvent
from shared.outbox.services import (
    NewEvent,
    OutboxUsageError,
    event_publish,
    event_publish_many,
    outbox_relay,
)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("as_diary")
def test_the_event_commits_with_the_change_and_a_relay_run_is_requested(broker: Broker) -> None:
    patient_id = uuid.uuid4()

    event = score_and_publish(score=7, patient_id=patient_id)

    assert PainScore.objects.get().score == 7
    stored = OutboxEvent.objects.get()
    assert stored.id == event.id
    assert stored.published_at is None
    assert stored.envelope()["subject"] == str(patient_id)
    assert stored.envelope()["producer"] == "diary"
    assert broker.relay_requests() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("as_diary")
def test_a_rolled_back_change_publishes_nothing(broker: Broker) -> None:
    patient_id = uuid.uuid4()

    @transaction.atomic
    def change_that_fails_after_publishing() -> None:
        PainScore.objects.create(patient_id=patient_id, score=4)
        event_publish(
            type="diary.entry.logged", subject=patient_id, data=entry_logged_data(patient_id)
        )
        raise RuntimeError("the change failed after the event was written")

    with pytest.raises(RuntimeError):
        change_that_fails_after_publishing()

    assert not PainScore.objects.exists()
    assert not OutboxEvent.objects.exists()
    assert outbox_relay().claimed == 0
    assert broker.total() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("as_diary")
def test_publishing_outside_a_transaction_is_refused() -> None:
    patient_id = uuid.uuid4()

    with pytest.raises(OutboxUsageError, match=r"inside transaction\.atomic"):
        event_publish(
            type="diary.entry.logged", subject=patient_id, data=entry_logged_data(patient_id)
        )

    assert not OutboxEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("as_diary")
def test_an_event_type_missing_from_the_catalogue_is_refused() -> None:
    patient_id = uuid.uuid4()

    with pytest.raises(UnknownEventType), transaction.atomic():
        event_publish(
            type="diary.entry.logged_twice",
            subject=patient_id,
            data=entry_logged_data(patient_id),
        )

    assert not OutboxEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("as_diary")
def test_an_event_missing_a_required_field_is_refused() -> None:
    patient_id = uuid.uuid4()
    data = entry_logged_data(patient_id)
    del data["red_flag"]

    with pytest.raises(InvalidEvent, match=r"data\.red_flag is missing"), transaction.atomic():
        event_publish(type="diary.entry.logged", subject=patient_id, data=data)

    assert not OutboxEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("as_diary")
def test_an_event_whose_subject_is_not_the_patient_is_refused() -> None:
    patient_id = uuid.uuid4()

    with pytest.raises(InvalidEvent, match="subject"), transaction.atomic():
        event_publish(
            type="diary.entry.logged", subject=uuid.uuid4(), data=entry_logged_data(patient_id)
        )


@pytest.mark.django_db
def test_a_service_cannot_publish_another_services_event(settings: Settings) -> None:
    settings.SERVICE_NAME = "reminders"
    patient_id = uuid.uuid4()

    with pytest.raises(InvalidEvent, match="producer must be diary"), transaction.atomic():
        event_publish(
            type="diary.entry.logged", subject=patient_id, data=entry_logged_data(patient_id)
        )


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("as_diary")
def test_a_broker_outage_at_commit_does_not_fail_or_stall_the_producer(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    own_redis.stop()

    with celery_broker(own_redis.url), caplog.at_level(logging.WARNING):
        started = time.monotonic()
        score_and_publish(score=5)
        elapsed = time.monotonic() - started

    assert PainScore.objects.count() == 1
    assert OutboxEvent.objects.get().published_at is None
    assert elapsed < 2.0
    assert "outbox relay could not be requested" in caplog.text


@pytest.mark.django_db
@pytest.mark.usefixtures("as_diary")
def test_producers_tests_see_their_events_checked_against_the_catalogue() -> None:
    patient_id = uuid.uuid4()
    score_and_publish(score=3, patient_id=patient_id)
    score_and_publish(score=2, patient_id=patient_id)

    envelopes = published_envelopes("diary.entry.logged")

    assert [e["data"]["nrs"] for e in envelopes] == [3, 2]
    assert {e["subject"] for e in envelopes} == {str(patient_id)}
    assert published_envelopes("diary.entry.deleted") == []

    OutboxEvent.objects.update(version=2)
    with pytest.raises(InvalidEvent, match="version must be 1"):
        published_envelopes()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("as_diary")
def test_a_transaction_publishing_many_events_requests_one_relay_run(broker: Broker) -> None:
    patient_id = uuid.uuid4()

    with transaction.atomic():
        for _ in range(5):
            event_publish(
                type="diary.entry.logged", subject=patient_id, data=entry_logged_data(patient_id)
            )

    assert OutboxEvent.objects.count() == 5
    assert broker.relay_requests() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("as_diary")
def test_an_event_kept_after_a_rolled_back_savepoint_still_requests_a_relay_run(
    broker: Broker,
) -> None:
    patient_id = uuid.uuid4()

    with transaction.atomic():
        try:
            with transaction.atomic():
                event_publish(
                    type="diary.entry.logged",
                    subject=patient_id,
                    data=entry_logged_data(patient_id),
                )
                raise ValueError("this part of the change is abandoned")
        except ValueError:
            pass
        kept = event_publish(
            type="diary.entry.logged", subject=patient_id, data=entry_logged_data(patient_id)
        )

    assert list(OutboxEvent.objects.values_list("id", flat=True)) == [kept.id]
    assert broker.relay_requests() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("as_diary")
def test_a_burst_of_writes_sends_one_relay_request_and_a_later_write_another(
    broker: Broker, settings: Settings
) -> None:
    settings.OUTBOX_KICK_INTERVAL_MS = 60_000
    for score in range(5):
        score_and_publish(score=score, patient_id=uuid.uuid4())
    assert broker.relay_requests() == 1
    assert OutboxEvent.objects.filter(published_at__isnull=True).count() == 5

    settings.OUTBOX_KICK_INTERVAL_MS = 0
    score_and_publish(score=9, patient_id=uuid.uuid4())
    assert broker.relay_requests() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("as_diary")
def test_many_events_are_written_together_and_read_back_as_the_envelopes_returned(
    broker: Broker,
) -> None:
    patients = [uuid.uuid4() for _ in range(3)]

    with transaction.atomic():
        envelopes = event_publish_many(
            [NewEvent("diary.entry.logged", p, entry_logged_data(p)) for p in patients]
        )

    stored = {str(row.id): row.envelope() for row in OutboxEvent.objects.all()}
    assert sorted(stored) == sorted(e["id"] for e in envelopes)
    assert all(stored[e["id"]] == e for e in envelopes)
    assert broker.relay_requests() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("as_diary")
def test_one_invalid_event_in_a_batch_writes_none_of_it() -> None:
    good, bad = uuid.uuid4(), uuid.uuid4()
    data = entry_logged_data(bad)
    data["nrs"] = "seven"

    with pytest.raises(InvalidEvent), transaction.atomic():
        event_publish_many(
            [
                NewEvent("diary.entry.logged", good, entry_logged_data(good)),
                NewEvent("diary.entry.logged", bad, data),
            ]
        )

    assert not OutboxEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("as_diary")
def test_many_events_outside_a_transaction_are_refused() -> None:
    patient_id = uuid.uuid4()
    with pytest.raises(OutboxUsageError):
        event_publish_many(
            [NewEvent("diary.entry.logged", patient_id, entry_logged_data(patient_id))]
        )
    assert not OutboxEvent.objects.exists()
