"""End to end through a real Celery worker: publish, relay, consume, once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.db import connection
from events_fixtures import Broker, score_and_publish
from sharedtest.models import HandledEvent

from shared.outbox.models import ProcessedEvent
from shared.outbox.services import outbox_relay, outbox_republish


def wait_for(condition: Callable[[], bool], *, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.fixture
def outcomes_worker(tmp_path: Path) -> Iterator[Path]:
    """A worker of the test project consuming the outcomes queue, on this test's database."""
    database = urlparse(os.environ["DATABASE_URL"])._replace(
        path="/" + str(connection.settings_dict["NAME"])
    )
    log = tmp_path / "worker.log"
    command = [sys.executable, "-m", "celery", "-A", "sharedtest.celery_app", "worker"]
    command += ["--queues", "outcomes", "--pool", "solo", "--hostname", "outcomes-test@%h"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"]
    with log.open("wb") as output:
        worker = subprocess.Popen(
            command,
            env={**os.environ, "DATABASE_URL": database.geturl()},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield log
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("as_diary")
def test_a_worker_handles_a_published_event_once_even_when_it_is_sent_twice(
    broker: Broker, outcomes_worker: Path
) -> None:
    event = score_and_publish(score=6)
    assert outbox_relay().published == 1

    assert wait_for(lambda: HandledEvent.objects.filter(event_id=event.id).exists()), (
        outcomes_worker.read_text()
    )

    outbox_republish(event_ids=[event.id])
    assert outbox_relay().published == 1
    assert wait_for(lambda: "event already handled" in outcomes_worker.read_text()), (
        outcomes_worker.read_text()
    )
    assert HandledEvent.objects.filter(event_id=event.id).count() == 1
    assert ProcessedEvent.objects.filter(event_id=event.id).count() == 1
    assert broker.envelopes("outcomes") == []
