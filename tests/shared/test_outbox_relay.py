"""The relay: pending events reach every subscriber's queue, once, even across a broker outage."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import redis
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone
from events_fixtures import (
    Broker,
    RedisServer,
    celery_broker,
    envelope_of,
    score_and_publish,
)
from kombu import Producer
from pytest_django.fixtures import Settings

from shared.outbox import services
from shared.outbox.models import OutboxEvent, ProcessedEvent
from shared.outbox.services import event_publish, outbox_relay
from shared.outbox.tasks import prune, relay

pytestmark = pytest.mark.usefixtures("as_diary")


@pytest.mark.django_db
def test_the_relay_puts_the_event_on_every_subscribers_queue(broker: Broker) -> None:
    event = score_and_publish(score=8)

    result = outbox_relay()

    assert (result.claimed, result.published, result.failed) == (1, 1, False)
    assert broker.envelopes("reminders") == [envelope_of(event)]
    assert broker.envelopes("outcomes") == [envelope_of(event)]
    assert broker.envelopes("diary") == []
    event.refresh_from_db()
    assert event.published_at is not None
    assert event.attempts == 0


@pytest.mark.django_db
def test_identity_events_reach_diary_reminders_and_outcomes(
    broker: Broker, settings: Settings
) -> None:
    settings.SERVICE_NAME = "identity"
    patient_id = uuid.uuid4()
    with transaction.atomic():
        event = event_publish(
            type="identity.patient.erased",
            subject=patient_id,
            data={"patient_id": str(patient_id), "clinic_id": str(uuid.uuid4())},
        )

    outbox_relay()

    for queue in ("diary", "reminders", "outcomes"):
        assert broker.envelopes(queue) == [envelope_of(event)], queue
    assert broker.envelopes("identity") == []


@pytest.mark.django_db
def test_messages_hide_the_event_data_from_monitoring_tools(broker: Broker) -> None:
    event = score_and_publish(score=8)
    outbox_relay()

    [message] = broker.messages("outcomes")

    assert message.task == "shared.events.handle"
    assert str(event.data["entry_id"]) not in json.dumps(message.headers)
    assert str(event.id) in message.headers["argsrepr"]


@pytest.mark.django_db
def test_published_events_are_not_sent_again_and_order_is_kept(broker: Broker) -> None:
    first = score_and_publish(score=8)
    second = score_and_publish(score=6)

    outbox_relay()
    assert outbox_relay().claimed == 0

    assert [e["id"] for e in broker.envelopes("outcomes")] == [str(first.id), str(second.id)]


@pytest.mark.django_db
def test_an_event_written_while_the_broker_is_down_is_published_once_it_is_back(
    own_redis: RedisServer,
) -> None:
    with celery_broker(own_redis.url):
        event = score_and_publish(score=9)
        own_redis.stop()

        started = time.monotonic()
        result = outbox_relay()
        elapsed = time.monotonic() - started

        assert result.failed
        assert result.published == 0
        assert elapsed < 2.0
        event.refresh_from_db()
        assert event.published_at is None
        assert event.attempts == 1
        assert "Connection refused" in event.last_error
        assert event.data["entry_id"] not in event.last_error
        assert event.subject not in event.last_error

        own_redis.start()
        assert outbox_relay().published == 1
        assert outbox_relay().claimed == 0

    event.refresh_from_db()
    assert event.published_at is not None
    queues = own_redis.client()
    for queue in ("reminders", "outcomes"):
        [raw] = queues.lrange(queue, 0, -1)
        assert str(event.id) in json.loads(raw)["headers"]["argsrepr"]
    queues.close()


@pytest.mark.django_db
def test_a_failed_publish_stops_the_batch_so_later_events_wait_their_turn(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = score_and_publish(score=8)
    second = score_and_publish(score=7)
    third = score_and_publish(score=6)
    send = services._send_to_queue

    def broker_refuses_the_second(producer: Producer, envelope: Any, queue: str) -> None:
        if envelope["id"] == str(second.id):
            raise ConnectionError("broker went away")
        send(producer, envelope, queue)

    monkeypatch.setattr(services, "_send_to_queue", broker_refuses_the_second)
    result = outbox_relay()

    assert (result.claimed, result.published, result.failed) == (3, 1, True)
    first.refresh_from_db()
    second.refresh_from_db()
    third.refresh_from_db()
    assert first.published_at is not None
    assert (second.published_at, second.attempts) == (None, 1)
    assert second.last_error == "ConnectionError: broker went away"
    assert (third.published_at, third.attempts) == (None, 0)

    monkeypatch.setattr(services, "_send_to_queue", send)
    assert outbox_relay().published == 2
    assert [e["id"] for e in broker.envelopes("reminders")] == [
        str(first.id),
        str(second.id),
        str(third.id),
    ]


@pytest.mark.django_db
def test_a_batch_the_broker_fails_to_take_is_stamped_nowhere_and_sent_again(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = [score_and_publish(score=score) for score in (8, 7, 6)]
    broker.purge()
    execute = redis.client.Pipeline.execute

    def connection_drops(pipeline: redis.client.Pipeline, *args: Any, **kwargs: Any) -> Any:
        raise redis.exceptions.ConnectionError("broker went away")

    monkeypatch.setattr(redis.client.Pipeline, "execute", connection_drops)
    result = outbox_relay()

    assert (result.claimed, result.published, result.failed) == (3, 0, True)
    for event in events:
        event.refresh_from_db()
    assert [(e.published_at, e.attempts) for e in events] == [(None, 1), (None, 0), (None, 0)]
    assert events[0].last_error.endswith("Error: broker went away")
    assert broker.envelopes("outcomes") == []

    monkeypatch.setattr(redis.client.Pipeline, "execute", execute)
    assert outbox_relay().published == 3
    for queue in ("reminders", "outcomes"):
        assert [e["id"] for e in broker.envelopes(queue)] == [str(e.id) for e in events]


@pytest.mark.django_db(transaction=True)
def test_two_relays_running_at_once_publish_each_event_once(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = [score_and_publish(score=n % 11) for n in range(12)]
    broker.purge()  # the kicks after each commit are not under test here
    both_sending = threading.Barrier(2, timeout=10)
    first_send_done: set[int] = set()
    send = services._send_to_queue

    def send_once_both_relays_hold_rows(producer: Producer, envelope: Any, queue: str) -> None:
        # Each relay's first send waits for the other: both hold claimed rows at the same time.
        me = threading.get_ident()
        if me not in first_send_done:
            first_send_done.add(me)
            both_sending.wait()
        send(producer, envelope, queue)

    monkeypatch.setattr(services, "_send_to_queue", send_once_both_relays_hold_rows)
    published: dict[str, int] = {}
    failures: list[BaseException] = []

    def run_relay(name: str) -> None:
        try:
            total = 0
            for _ in range(20):
                result = outbox_relay(batch_size=3)
                if result.failed:
                    raise AssertionError("a relay failed to publish")
                if result.claimed == 0:
                    break
                total += result.published
            published[name] = total
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run_relay, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    assert published["a"] > 0
    assert published["b"] > 0
    assert published["a"] + published["b"] == len(events)
    for queue in ("reminders", "outcomes"):
        counts = Counter(e["id"] for e in broker.envelopes(queue))
        assert counts == Counter(str(e.id) for e in events), queue
    assert not OutboxEvent.objects.filter(published_at__isnull=True).exists()


@pytest.mark.django_db
def test_a_full_batch_requeues_the_relay_until_the_backlog_is_gone(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    for score in (1, 2, 3):
        score_and_publish(score=score)
    monkeypatch.setattr(services, "RELAY_BATCH_SIZE", 2)

    assert relay() == 2
    assert broker.relay_requests() == 1
    assert relay() == 1
    assert broker.relay_requests() == 1
    assert len(broker.envelopes("outcomes")) == 3


@pytest.mark.django_db
def test_outbox_status_tells_the_engineer_on_call_how_far_behind_the_outbox_is(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stuck = score_and_publish(score=5)
    waiting = score_and_publish(score=4)
    delivered = score_and_publish(score=3)
    OutboxEvent.objects.filter(id=stuck.id).update(
        created_at=timezone.now() - timedelta(minutes=10),
        attempts=3,
        last_error="OperationalError: Error 111 connecting to redis:6379. Connection refused.",
    )
    OutboxEvent.objects.filter(id=delivered.id).update(published_at=timezone.now())
    assert waiting.published_at is None

    call_command("outbox_status", "--json")
    status = json.loads(capsys.readouterr().out)

    assert status["pending"] == 2
    assert 590 < status["oldest_pending_age_seconds"] < 700
    assert status["failing"] == 1
    assert status["max_attempts"] == 3
    assert "Connection refused" in status["last_error"]

    call_command("outbox_status")
    text = capsys.readouterr().out
    assert "pending events:       2" in text
    assert "Connection refused" in text

    with pytest.raises(CommandError) as too_old:
        call_command("outbox_status", "--max-age", "300")
    assert too_old.value.returncode == 2
    call_command("outbox_status", "--max-age", "3600")


@pytest.mark.django_db
def test_outbox_republish_sends_an_event_again_to_every_subscriber(broker: Broker) -> None:
    event = score_and_publish(score=5)
    other = score_and_publish(score=4)
    outbox_relay()

    call_command("outbox_republish", str(event.id))
    outbox_relay()

    assert [e["id"] for e in broker.envelopes("outcomes")] == [
        str(event.id),
        str(other.id),
        str(event.id),
    ]
    with pytest.raises(CommandError, match="name event ids"):
        call_command("outbox_republish")


@pytest.mark.django_db
def test_the_admin_lists_outbox_events_read_only_without_their_data(client: Client) -> None:
    event = score_and_publish(score=5)
    admin = get_user_model().objects.create_superuser("oncall", "oncall@example.com", None)
    client.force_login(admin)
    base = "/admin/sharedtest/outbox/outboxevent/"

    listing = client.get(base)
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "diary.entry.logged" in page
    assert event.subject in page
    assert event.data["entry_id"] not in page

    assert client.get(f"{base}add/").status_code == 403
    detail = client.get(f"{base}{event.id}/change/")
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    assert client.post(f"{base}{event.id}/delete/", {"post": "yes"}).status_code == 403
    assert OutboxEvent.objects.filter(id=event.id).exists()
    assert client.get(base, {"q": "not-a-uuid"}).status_code == 200


@pytest.mark.django_db
def test_pruning_removes_only_published_events_and_processed_ids_past_retention(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.OUTBOX_RETENTION_DAYS = 30
    settings.PROCESSED_EVENT_RETENTION_DAYS = 90
    monkeypatch.setattr(services, "PRUNE_BATCH_SIZE", 1)
    old_published = score_and_publish(score=1)
    older_published = score_and_publish(score=0)
    recent_published = score_and_publish(score=2)
    old_pending = score_and_publish(score=3)
    now = timezone.now()
    OutboxEvent.objects.filter(id__in=[old_published.id, older_published.id]).update(
        published_at=now - timedelta(days=31)
    )
    OutboxEvent.objects.filter(id=recent_published.id).update(published_at=now - timedelta(days=29))
    OutboxEvent.objects.filter(id=old_pending.id).update(created_at=now - timedelta(days=60))
    old_id, recent_id = uuid.uuid4(), uuid.uuid4()
    ProcessedEvent.objects.create(event_id=old_id, type="diary.entry.logged")
    ProcessedEvent.objects.create(event_id=recent_id, type="diary.entry.logged")
    ProcessedEvent.objects.filter(event_id=old_id).update(processed_at=now - timedelta(days=91))

    prune()

    assert set(OutboxEvent.objects.values_list("id", flat=True)) == {
        recent_published.id,
        old_pending.id,
    }
    assert list(ProcessedEvent.objects.values_list("event_id", flat=True)) == [recent_id]
