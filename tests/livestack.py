"""Real service processes for the suites that test the running system (e2e, browser): fresh
PostgreSQL databases, the services under gunicorn, their Celery workers, and a transcript of
everything they print, shown when a test fails.

The process supervision and the service commands are `make run`'s own (deploy/embedded), so the
tests start the services exactly as a developer's machine does, only on PostgreSQL and Redis.
"""

from __future__ import annotations

import collections
import contextlib
import os
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "deploy" / "embedded"))

from embedded.console import render  # noqa: E402
from embedded.layout import SCHEDULES_PATH  # noqa: E402
from embedded.stack import (  # noqa: E402
    Service,
    celery_worker_argv,
    free_port,
    gunicorn_argv,
    prepare_argv,
    wait_ready,
)
from embedded.supervisor import ChildFailed, Supervisor  # noqa: E402

PG_URL = os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432")
READY_TIMEOUT = 120


class Transcript:
    """The recent output of a group of processes, kept to be shown when a test fails."""

    def __init__(self, title: str) -> None:
        self.title = title
        self._lines: collections.deque[str] = collections.deque(maxlen=3000)
        self._lock = threading.Lock()

    def echo(self, name: str, line: str) -> None:
        with self._lock:
            self._lines.extend(f"{name:<17}| {part}" for part in render(line).split("\n"))

    def lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)

    def text(self) -> str:
        return "\n".join(self.lines())


# Transcripts of the processes running now; a suite's report hook adds them to a failure.
LIVE_TRANSCRIPTS: list[Transcript] = []


def add_transcripts_to(report: pytest.TestReport) -> None:
    if report.failed:
        for transcript in LIVE_TRANSCRIPTS:
            report.sections.append((f"output of {transcript.title}", transcript.text()))


def fresh_database(name: str) -> str:
    """An empty PostgreSQL database of this name (dropped first if it exists); its URL."""
    connection = psycopg2.connect(f"{PG_URL}/postgres")
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            database = sql.Identifier(name)
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database))
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(database))
    finally:
        connection.close()
    return f"{PG_URL}/{name}"


@dataclass
class Stack:
    services: dict[str, Service]
    workdir: Path
    keys_dir: Path
    transcript: Transcript
    supervisor: Supervisor = field(repr=False)

    def __getitem__(self, name: str) -> Service:
        return self.services[name]


# What each service is set up with before it starts.
SETUP_STEPS = {
    "identity": ("migrate", "keys", "seed"),
    "diary": ("migrate",),
    "reminders": ("migrate", "collectstatic"),
    "outcomes": ("migrate", "collectstatic"),
}


@contextlib.contextmanager
def running_stack(
    *,
    names: Sequence[str],
    database_prefix: str,
    broker_url: str,
    cache_urls: Mapping[str, str],
    workdir: Path,
    workers: bool = False,
    extra_env: Mapping[str, Mapping[str, str]] | None = None,
    threads: int = 2,
) -> Iterator[Stack]:
    """The named services under gunicorn on fresh databases (``<prefix>_<service>``), set up as
    SETUP_STEPS says (identity with its own signing key and the demo clinic), and with
    ``workers`` a Celery worker with beat for each. Everything is stopped on the way out,
    whatever happened; a start that fails raises with the processes' output."""
    keys_dir = workdir / "keys"
    services = {name: Service(name, free_port()) for name in names}
    urls = {f"{name.upper()}_URL": service.url for name, service in services.items()}
    if "reminders" in services:  # as the embedded runner links the dashboard to the schedules
        urls["DASHBOARD_SCHEDULES_URL"] = services["reminders"].url + SCHEDULES_PATH
    common = {
        **os.environ,
        "DJANGO_DEBUG": "false",
        "SECURE_COOKIES": "false",
        "TRUSTED_PROXIES": "",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "BROKER_URL": broker_url,
        "PYTHONUNBUFFERED": "1",
        **urls,
    }
    envs = {}
    for name in names:
        static_dir = workdir / "static" / name
        static_dir.mkdir(parents=True, exist_ok=True)
        envs[name] = {
            **common,
            "DJANGO_SETTINGS_MODULE": f"{name}.settings",
            "DATABASE_URL": fresh_database(f"{database_prefix}_{name}"),
            "CACHE_URL": cache_urls[name],
            "STATIC_ROOT": str(static_dir),
            **({"JWT_SIGNING_KEYS_DIR": str(keys_dir)} if name == "identity" else {}),
            **((extra_env or {}).get(name, {})),
        }
    transcript = Transcript(", ".join(names))
    LIVE_TRANSCRIPTS.append(transcript)
    supervisor = Supervisor(transcript.echo)
    try:
        try:
            setups = [
                supervisor.start(
                    f"{name}-setup",
                    prepare_argv(name, *SETUP_STEPS[name]),
                    env=envs[name],
                    cwd=workdir,
                )
                for name in names
            ]
            supervisor.wait_all(setups)
            for name, service in services.items():
                supervisor.start(
                    f"{name}-web",
                    gunicorn_argv(service, threads=threads),
                    env=envs[name],
                    cwd=workdir,
                )
                if workers:
                    schedule = workdir / f"{name}-beat-schedule"
                    supervisor.start(
                        f"{name}-worker",
                        celery_worker_argv(name, beat_schedule=schedule),
                        env=envs[name],
                        cwd=workdir,
                    )

            def no_child_died() -> None:
                dead = supervisor.first_exited()
                if dead is not None:
                    raise ChildFailed(dead)

            wait_ready(list(services.values()), timeout=READY_TIMEOUT, check=no_child_died)
        except (ChildFailed, TimeoutError) as exc:
            # A report hook cannot show what a fixture's own failure leaves behind.
            raise RuntimeError(f"{exc}\n{transcript.text()}") from exc
        yield Stack(
            services=services,
            workdir=workdir,
            keys_dir=keys_dir,
            transcript=transcript,
            supervisor=supervisor,
        )
    finally:
        supervisor.stop(grace=15)
        LIVE_TRANSCRIPTS.remove(transcript)
