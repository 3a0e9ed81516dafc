"""The consumer: each event is handled once, however often and however concurrently it arrives."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from events_fixtures import entry_logged_envelope
from pytest_django.fixtures import Settings
from sharedtest.handlers import record_handling
from sharedtest.models import HandledEvent

from shared.events.catalogue import UnknownEventType
from shared.events.checks import check_handlers_are_subscribed
from shared.events.registry import event_handler, handlers_for, isolated_handlers
from shared.events.services import event_handle
from shared.outbox.models import ProcessedEvent
from shared.outbox.tasks import handle


@pytest.fixture
def scratch_handlers() -> Iterator[None]:
    with isolated_handlers():
        yield


def handled(envelope: dict[str, Any]) -> int:
    return HandledEvent.objects.filter(event_id=envelope["id"]).count()


def test_handlers_are_discovered_from_each_apps_handlers_module() -> None:
    assert record_handling in handlers_for("diary.entry.logged")
    assert record_handling in handlers_for("identity.patient.enrolled")


def test_a_handler_for_a_type_missing_from_the_catalogue_fails_at_import() -> None:
    with pytest.raises(UnknownEventType):
        event_handler("diary.entry.logged_twice")


@pytest.mark.django_db
def test_a_redelivered_event_is_handled_once() -> None:
    envelope = entry_logged_envelope()

    handle(envelope)
    handle(envelope)

    assert handled(envelope) == 1
    assert ProcessedEvent.objects.get().event_id == uuid.UUID(envelope["id"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("scratch_handlers")
def test_two_deliveries_of_one_event_at_the_same_moment_handle_it_once() -> None:
    envelope = entry_logged_envelope()
    both_started = threading.Barrier(2, timeout=10)
    slow_runs: list[str] = []

    @event_handler("diary.entry.logged")
    def slow_handler(received: dict[str, Any]) -> None:
        slow_runs.append(received["id"])
        # Keep the transaction open so the other delivery inserts while this one holds the row.
        time.sleep(0.5)

    outcomes: list[bool] = []
    failures: list[BaseException] = []

    def deliver() -> None:
        try:
            both_started.wait()
            outcomes.append(event_handle(envelope=envelope))
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    assert sorted(outcomes) == [False, True]
    assert slow_runs == [envelope["id"]]
    assert handled(envelope) == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("scratch_handlers")
def test_a_failing_handler_leaves_nothing_behind_so_the_retry_handles_the_event() -> None:
    envelope = entry_logged_envelope()
    calls: list[int] = []

    @event_handler("diary.entry.logged")
    def fails_the_first_time(received: dict[str, Any]) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("read model temporarily unavailable")

    with pytest.raises(RuntimeError):
        event_handle(envelope=envelope)
    assert not ProcessedEvent.objects.exists()
    assert handled(envelope) == 0  # the other handler's write was rolled back too

    assert event_handle(envelope=envelope) is True
    assert handled(envelope) == 1
    assert ProcessedEvent.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("scratch_handlers")
def test_the_handle_task_retries_a_failing_handler() -> None:
    envelope = entry_logged_envelope()
    calls: list[int] = []

    @event_handler("diary.entry.logged")
    def fails_twice(received: dict[str, Any]) -> None:
        calls.append(1)
        if len(calls) <= 2:
            raise RuntimeError("read model temporarily unavailable")

    result = handle.apply(args=[envelope])

    assert result.successful()
    assert len(calls) == 3
    assert handled(envelope) == 1


@pytest.mark.django_db
def test_an_event_this_service_has_no_handler_for_is_recorded_and_ignored() -> None:
    envelope = entry_logged_envelope()
    envelope["type"] = "diary.entry.deleted"
    envelope["data"] = {
        key: envelope["data"][key] for key in ("entry_id", "patient_id", "clinic_id")
    }

    assert event_handle(envelope=envelope) is True

    assert ProcessedEvent.objects.get().type == "diary.entry.deleted"
    assert not HandledEvent.objects.exists()


@pytest.mark.django_db
def test_an_envelope_the_catalogue_refuses_is_logged_and_dropped_without_retry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    envelope = entry_logged_envelope()
    del envelope["data"]["nrs"]

    with caplog.at_level(logging.ERROR):
        result = handle.apply(args=[envelope])

    assert result.successful()
    assert not ProcessedEvent.objects.exists()
    assert not HandledEvent.objects.exists()
    assert "event refused by the catalogue" in caplog.text


@pytest.mark.django_db
def test_a_consumer_accepts_fields_a_newer_producer_added() -> None:
    envelope = entry_logged_envelope()
    envelope["data"]["pain_location"] = "left_sij"

    handle(envelope)

    assert handled(envelope) == 1


def test_a_service_is_warned_about_a_handler_it_will_never_receive(settings: Settings) -> None:
    settings.SERVICE_NAME = "reminders"
    assert check_handlers_are_subscribed() == []

    settings.SERVICE_NAME = "diary"
    [warning] = check_handlers_are_subscribed()
    assert warning.id == "events.W001"
    assert "diary.entry.logged" in warning.msg
