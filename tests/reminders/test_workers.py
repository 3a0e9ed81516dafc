"""Dispatch through real Celery worker processes on Redis: killed workers, two sweepers at
once, a Redis restart. Every due prompt goes out exactly once, counted in the recording channel
(one database row per send, whichever process made it)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import current_app
from django.conf import settings as django_settings
from django.db import connection
from pytest_django.fixtures import Settings
from workers import RedisServer, Worker, due_prompts, wait_for

from reminders.channels.models import RecordedSend
from reminders.prompts.models import Delivery, Prompt, PromptStatus
from reminders.prompts.services.dispatch import Dispatcher, prompts_sweep
from reminders.prompts.tasks import deliver, sweep
from shared.outbox.services import BROKER_CONNECT_OPTIONS, RELAY_TASK

# Real processes need committed rows. These tests run after the others (pytest-django puts
# transactional tests last) and need no seeded template, which the flush afterwards removes.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broker() -> Iterator[redis.Redis]:
    """This suite's own Redis database (scripts/test.sh gives reminders db 3), emptied."""
    client = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()


@pytest.fixture(autouse=True)
def _fast_takeover(settings: Settings) -> None:
    # Sweeps in this process take back a claim two seconds old (ten minutes when deployed).
    settings.REMINDERS_CLAIM_TIMEOUT_SECONDS = 2
    settings.REMINDERS_DELIVERY_CHUNK_SIZE = 50


def sends_per_prompt() -> Counter[uuid.UUID]:
    return Counter(RecordedSend.objects.values_list("prompt_id", flat=True))


def sent_count() -> int:
    return Prompt.objects.filter(status=PromptStatus.SENT).count()


def sweep_until_all_sent(
    total: int, dispatch: Dispatcher | None = None, seconds: float = 60
) -> bool:
    def done() -> bool:
        if dispatch is None:
            prompts_sweep()
        else:
            prompts_sweep(dispatch=dispatch)
        return sent_count() == total

    return wait_for(done, seconds=seconds, every=0.5)


def assert_each_sent_exactly_once(prompt_ids: list[uuid.UUID], logs: str = "") -> None:
    counts = sends_per_prompt()
    assert set(counts) == set(prompt_ids), logs[-3000:]
    assert max(counts.values()) == 1, [p for p, n in counts.items() if n > 1]
    assert sent_count() == len(prompt_ids)
    assert Delivery.objects.filter(attempt=1).count() == len(prompt_ids)
    assert Delivery.objects.exclude(status="sent").count() == 0


@pytest.mark.usefixtures("broker")
def test_a_worker_killed_mid_batch_then_restarted_sends_every_prompt_exactly_once(
    tmp_path: Path, workers: list[Worker]
) -> None:
    prompt_ids = due_prompts(200)
    # 50 prompts a task at 10 ms each: half a second a task, time enough to be killed in one.
    first = Worker("first", tmp_path, delay_ms=10).start()
    workers.append(first)
    assert prompts_sweep().claimed == 200

    assert wait_for(lambda: RecordedSend.objects.count() >= 50, seconds=30), first.output()
    time.sleep(0.25)
    first.kill()
    before = RecordedSend.objects.count()
    assert 0 < before < 200

    workers.append(Worker("second", tmp_path).start())
    assert sweep_until_all_sent(200), workers[-1].output()[-3000:]

    assert_each_sent_exactly_once(prompt_ids, workers[-1].output())


@pytest.mark.usefixtures("broker")
def test_a_pool_process_killed_mid_task_gets_its_task_back_and_nothing_is_sent_twice(
    tmp_path: Path, workers: list[Worker]
) -> None:
    prompt_ids = due_prompts(150)
    worker = Worker("pool", tmp_path, delay_ms=10).start()
    workers.append(worker)
    prompts_sweep()
    assert wait_for(lambda: RecordedSend.objects.count() >= 50, seconds=30), worker.output()
    time.sleep(0.25)

    # Only the pool process dies: the worker rejects its unacknowledged task back to the
    # queue (acks_late, reject_on_worker_lost) and a fresh pool process runs it again.
    (child,) = worker.pool_pids()
    os.kill(child, signal.SIGKILL)

    assert sweep_until_all_sent(150), worker.output()[-3000:]
    assert_each_sent_exactly_once(prompt_ids, worker.output())
    assert "WorkerLostError" in worker.output() or "exited with 'signal 9" in worker.output()


@pytest.mark.usefixtures("broker")
def test_sweepers_running_at_once_in_separate_processes_send_nothing_twice(
    tmp_path: Path, workers: list[Worker]
) -> None:
    prompt_ids = due_prompts(600)
    options = {"REMINDERS_CLAIM_BATCH_SIZE": 25, "REMINDERS_DELIVERY_CHUNK_SIZE": 25}
    # Two pool processes: the two sweeps below run at the same moment, one in each.
    workers.append(Worker("sweepers", tmp_path, concurrency=2, **options).start())

    for _ in range(2):
        sweep.apply_async()

    logs = lambda: "".join(w.output() for w in workers)  # noqa: E731
    assert wait_for(lambda: sent_count() == 600, seconds=60), logs()[-3000:]
    assert_each_sent_exactly_once(prompt_ids, logs())
    claims = [
        json.loads(line)["claimed"]
        for line in logs().splitlines()
        if '"message": "reminders sweep"' in line
    ]
    # More than one sweep found work: they ran side by side and split the prompts.
    assert len([c for c in claims if c]) >= 2, claims
    assert sum(claims) == 600


def test_two_sweepers_in_parallel_claim_disjoint_prompts(settings: Settings) -> None:
    settings.REMINDERS_CLAIM_BATCH_SIZE = 20
    prompt_ids = due_prompts(600)
    claimed: dict[str, list[str]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def enqueue(name: str, ids: list[str]) -> None:
        claimed[name].extend(ids)
        # A broker round trip, as when enqueueing for real: the other sweeper claims meanwhile.
        time.sleep(0.01)

    def run(name: str) -> None:
        start.wait()
        try:
            prompts_sweep(dispatch=lambda ids, token: enqueue(name, ids))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(name,)) for name in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert claimed["a"]
    assert claimed["b"]
    assert not set(claimed["a"]) & set(claimed["b"])
    assert sorted(claimed["a"] + claimed["b"]) == sorted(str(p) for p in prompt_ids)


def test_redis_restarted_mid_run_loses_no_prompt(tmp_path: Path, workers: list[Worker]) -> None:
    server = RedisServer(tmp_path)
    server.start()
    try:
        prompt_ids = due_prompts(200)
        worker = Worker("redis", tmp_path, broker_url=server.url, delay_ms=10).start()
        workers.append(worker)

        def dispatch(ids: list[str], token: str) -> None:
            with current_app.connection_for_write(
                server.url, transport_options=BROKER_CONNECT_OPTIONS
            ) as broker:
                deliver.apply_async(args=(ids, token), connection=broker, retry=False)

        prompts_sweep(dispatch=dispatch)
        assert wait_for(lambda: RecordedSend.objects.count() >= 50, seconds=30), worker.output()

        # The queued tasks vanish with the server; it comes back empty.
        server.stop()
        lost = prompts_sweep(dispatch=dispatch)
        time.sleep(0.5)
        server.start()

        assert sweep_until_all_sent(200, dispatch, seconds=90), worker.output()[-3000:]
        assert_each_sent_exactly_once(prompt_ids, worker.output())
        assert lost.claimed == 0 or lost.broker_failed
    finally:
        for worker in workers:
            worker.stop()
        server.stop()


def test_waiting_deliveries_go_before_a_relay_request_queued_earlier(
    broker: redis.Redis,
) -> None:
    app = current_app
    with app.connection_for_write() as connection_:
        # A delivery committed and asked for a relay run; then a sweep queued two deliveries.
        app.send_task(RELAY_TASK, connection=connection_)
        for _ in range(2):
            deliver.apply_async(
                args=([str(uuid.uuid4())], str(uuid.uuid4())), connection=connection_
            )
    # The beat's own relay run keeps its place in line.
    assert django_settings.CELERY_BEAT_SCHEDULE["outbox-relay"]["options"] == {"priority": 0}

    with app.connection_for_read() as connection_:
        queue = connection_.SimpleQueue(app.conf.task_default_queue)
        order = []
        for _ in range(3):
            message = queue.get(block=True, timeout=5)
            order.append(message.headers["task"])
            message.ack()
        queue.close()

    assert order == ["reminders.prompts.deliver", "reminders.prompts.deliver", RELAY_TASK]
