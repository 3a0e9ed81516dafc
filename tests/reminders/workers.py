"""Real Celery worker processes of the reminders service for the tests, and a Redis server of
the test's own that it may stop and start."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import redis
from django.db import connection
from django.utils import timezone

from reminders.patients.models import Device, Patient
from reminders.prompts.models import Prompt

REDIS_SERVER = "/usr/bin/redis-server"
RECORDING = "reminders.channels.recording.RecordingChannel"


def wait_for(condition: Callable[[], bool], *, seconds: float = 60, every: float = 0.1) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


def test_database_url() -> str:
    """This test's database, so the workers see what the test wrote (transactional tests)."""
    url = urlparse(os.environ["DATABASE_URL"])
    return url._replace(path="/" + str(connection.settings_dict["NAME"])).geturl()


class Worker:
    """``celery -A reminders.celery_app worker`` in its own process group, so that a kill takes
    the pool processes with it, as when a machine goes away."""

    def __init__(
        self,
        name: str,
        directory: Path,
        *,
        broker_url: str | None = None,
        concurrency: int = 1,
        delay_ms: int = 0,
        **settings: str | int,
    ) -> None:
        self.name = f"{name}-{uuid.uuid4().hex[:6]}"
        self.log = directory / f"{self.name}.log"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "reminders.settings",
            "DATABASE_URL": test_database_url(),
            "REMINDERS_CONSOLE_WHEN_UNCONFIGURED": "false",
            "REMINDERS_RECORDING_DELAY_MS": str(delay_ms),
            **{f"REMINDERS_CHANNEL_{n.upper()}": RECORDING for n in ("push", "sms", "email")},
            "REMINDERS_CHANNEL_CONSOLE": RECORDING,
            **{key: str(value) for key, value in settings.items()},
        }
        if broker_url:
            self.env["BROKER_URL"] = broker_url
        self.concurrency = concurrency
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        command = [sys.executable, "-m", "celery", "-A", "reminders.celery_app", "worker"]
        command += ["--queues", "reminders", "--pool", "prefork"]
        command += ["--concurrency", str(self.concurrency), "--hostname", f"{self.name}@%h"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"]
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                command,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        assert wait_for(lambda: "ready." in self.output(), seconds=30), self.output()
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def pool_pids(self) -> list[int]:
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []

    def kill(self) -> None:
        """SIGKILL to the worker and its pool: nothing gets to clean up or acknowledge."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # A cold shutdown: the test is over, nothing needs to finish.
        os.killpg(self.process.pid, signal.SIGQUIT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


class RedisServer:
    """A redis-server on a free port, without persistence: a restart starts empty."""

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
        command = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", str(self.directory)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        assert wait_for(lambda: _pings(client), seconds=10)
        client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def due_prompts(count: int, *, clinic_id: uuid.UUID | None = None) -> list[uuid.UUID]:
    """``count`` patients with a phone each and one prompt due a minute ago."""
    from helpers import make_prompt

    clinic_id = clinic_id or uuid.uuid4()
    now = timezone.now()
    patients = Patient.objects.bulk_create(
        Patient(id=uuid.uuid4(), clinic_id=clinic_id, timezone="Europe/London", locale="en")
        for _ in range(count)
    )
    Device.objects.bulk_create(
        Device(
            patient=p,
            platform="android",
            token=f"fcm-{p.id}",
            token_digest=uuid.uuid4().hex,
            registered_at=now,
        )
        for p in patients
    )
    prompts = Prompt.objects.bulk_create(
        make_prompt(p.id, clinic_id=clinic_id, due_at=now - timedelta(minutes=1), save=False)
        for p in patients
    )
    return [p.id for p in prompts]
