"""Fixtures and helpers of the outbox and event-delivery tests (imported by conftest.py)."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from pytest_django.fixtures import Settings
from sharedtest.models import PainScore

from shared.events.catalogue import utc_isoformat
from shared.outbox.models import OutboxEvent
from shared.outbox.services import event_publish, relay_kick_gate

# Every queue a test can fill: the services' (event deliveries) and the test project's (relay
# requests). Redis db 5 belongs to this suite alone.
EVENT_QUEUES = ("identity", "diary", "reminders", "outcomes", "sharedtest")
REDIS_SERVER = "/usr/bin/redis-server"


@dataclass(frozen=True)
class BrokerMessage:
    task: str
    args: list[Any]
    headers: dict[str, Any]


class Broker:
    """The suite's Redis, read the way a Celery worker would find its queues."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)

    def purge(self) -> None:
        self.client.delete(*EVENT_QUEUES)

    def messages(self, queue: str) -> list[BrokerMessage]:
        # kombu pushes on the left and consumers pop on the right: oldest last in the list.
        raw = self.client.lrange(queue, 0, -1)
        return [_decode(item) for item in reversed(raw)]

    def envelopes(self, queue: str) -> list[dict[str, Any]]:
        return [m.args[0] for m in self.messages(queue) if m.task == "shared.events.handle"]

    def relay_requests(self, queue: str = "sharedtest") -> int:
        return sum(1 for m in self.messages(queue) if m.task == "shared.outbox.relay")

    def total(self) -> int:
        return sum(int(self.client.llen(queue)) for queue in EVENT_QUEUES)


def _decode(raw: bytes) -> BrokerMessage:
    message = json.loads(raw)
    body = json.loads(base64.b64decode(message["body"]))
    args, _kwargs, _embed = body
    return BrokerMessage(task=message["headers"]["task"], args=args, headers=message["headers"])


@pytest.fixture
def broker() -> Iterator[Broker]:
    queues = Broker(settings.CELERY_BROKER_URL)
    queues.purge()
    # Each test starts as a fresh process would: no relay request sent a moment ago.
    relay_kick_gate.reset()
    yield queues
    queues.purge()
    queues.client.close()


class RedisServer:
    """A redis-server of the test's own, on a free port, that the test may stop and start."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        # No persistence: a restarted server starts empty, as after losing its disk.
        command = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", str(self.directory)]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@contextmanager
def celery_broker(url: str) -> Iterator[None]:
    """Point this process's Celery app (the relay and the kick) at another broker."""
    conf = current_app.conf
    previous = conf.broker_url
    conf.broker_url = url
    try:
        yield
    finally:
        conf.broker_url = previous


@pytest.fixture
def as_diary(settings: Settings) -> None:
    """The test project publishes as diary does, so diary's event types are its to send."""
    settings.SERVICE_NAME = "diary"


def entry_logged_data(patient_id: uuid.UUID, *, nrs: int | None = 6) -> dict[str, Any]:
    return {
        "entry_id": str(uuid.uuid4()),
        "patient_id": str(patient_id),
        "clinic_id": str(uuid.uuid4()),
        "recorded_at": "2026-11-20T08:30:00Z",
        "nrs": nrs,
        "prompt_id": None,
        "nsaid": False,
        "side_effects": [],
        "red_flag": False,
    }


def entry_logged_envelope(patient_id: uuid.UUID | None = None) -> dict[str, Any]:
    """A delivery as a consumer receives it, without a producer's outbox behind it."""
    patient_id = patient_id or uuid.uuid4()
    return {
        "id": str(uuid.uuid4()),
        "type": "diary.entry.logged",
        "version": 1,
        "occurred_at": utc_isoformat(timezone.now()),
        "producer": "diary",
        "subject": str(patient_id),
        "data": entry_logged_data(patient_id),
    }


def score_and_publish(*, score: int = 6, patient_id: uuid.UUID | None = None) -> OutboxEvent:
    """A producer's write: the domain row and its event in one transaction."""
    patient_id = patient_id or uuid.uuid4()
    with transaction.atomic():
        PainScore.objects.create(patient_id=patient_id, score=score)
        return event_publish(
            type="diary.entry.logged",
            subject=patient_id,
            data=entry_logged_data(patient_id, nrs=score),
        )


def envelope_of(event: OutboxEvent) -> dict[str, Any]:
    """The envelope as a consumer receives it: through JSON."""
    return json.loads(json.dumps(event.envelope()))
