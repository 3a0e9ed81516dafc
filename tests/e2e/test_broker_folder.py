"""The embedded default's broker folder (shared.filesystem_broker): messages come out of each
queue in the order they went in, however many wait in other queues, and a consumer never takes
one another consumer has taken."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection

from shared import filesystem_broker

TRANSPORT = "shared.filesystem_broker:Transport"


def _connection(folder: Path, transport: str = TRANSPORT) -> Connection:
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(folder.parent / "control"),
    }
    return Connection("filesystem://localhost/", transport=transport, transport_options=options)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "queues"
    path.mkdir()
    return path


@pytest.fixture
def broker(folder: Path) -> Iterator[Connection]:
    with _connection(folder) as connection:
        yield connection


def _take(queue: Any, count: int) -> list[Any]:
    return [queue.get(timeout=1).payload for _ in range(count)]


def test_a_burst_comes_out_in_the_order_it_went_in(broker: Connection) -> None:
    diary, outcomes = broker.SimpleQueue("diary"), broker.SimpleQueue("outcomes")
    for number in range(300):
        diary.put(number)
        outcomes.put(number)

    taken = _take(diary, 120)
    diary.put(300)  # arrives while the consumer works through what it listed
    taken += _take(diary, 181)

    assert taken == list(range(301))
    assert _take(outcomes, 300) == list(range(300))


def test_what_another_consumer_took_first_is_skipped(folder: Path) -> None:
    with _connection(folder) as first, _connection(folder) as second:
        first.SimpleQueue("diary")  # declares the queue
        producer = first.Producer()
        for number in range(4):
            producer.publish(number, routing_key="diary")
        mine, theirs = first.channel(), second.channel()

        def one(channel: Any) -> Any:
            message = channel.basic_get("diary", no_ack=True)
            return None if message is None else message.payload

        assert one(mine) == 0  # the first consumer has listed all four by now
        assert [one(theirs), one(theirs)] == [1, 2]
        assert [one(mine), one(mine)] == [3, None]
        assert os.listdir(folder) == []


def test_a_message_sent_with_kombus_own_transport_is_read(folder: Path, broker: Connection) -> None:
    with _connection(folder, transport="filesystem") as plain:
        plain.SimpleQueue("identity").put({"from": "kombu"})

    assert _take(broker.SimpleQueue("identity"), 1) == [{"from": "kombu"}]


def test_a_backlog_is_listed_once_while_an_empty_queue_is_polled_between_messages(
    broker: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A worker polls its service's queue and its remote-control queue (empty) in turn.
    monkeypatch.setattr(filesystem_broker, "EMPTY_RELIST_SECONDS", 60.0)
    # (Queue names differ between tests: kombu keeps bindings per process, not per folder.)
    reminders = broker.SimpleQueue("reminders")
    broker.SimpleQueue("reminders.pidbox")  # declared, never written to
    for number in range(500):
        reminders.put(number)
    listings: list[str] = []
    listdir = os.listdir
    monkeypatch.setattr(
        filesystem_broker.os, "listdir", lambda path: listings.append(path) or listdir(path)
    )
    channel = broker.channel()

    taken = []
    for _ in range(500):
        assert channel.basic_get("reminders.pidbox", no_ack=True) is None
        taken.append(channel.basic_get("reminders", no_ack=True).payload)

    assert taken == list(range(500))
    assert len(listings) == 1
    assert channel.basic_get("reminders", no_ack=True) is None  # used up: listed again at once
    assert len(listings) == 2


def test_a_message_for_a_queue_found_empty_still_arrives(broker: Connection) -> None:
    control = broker.SimpleQueue("diary.pidbox")
    with pytest.raises(control.Empty):
        control.get(timeout=0.1)

    control.put("ping")

    assert _take(control, 1) == ["ping"]
