"""What runs where: the services, their ports, environments and commands, and readiness."""

from __future__ import annotations

import errno
import hashlib
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[3]
PREPARE_SCRIPT = REPO / "deploy" / "embedded" / "prepare.py"
SERVICES = ("identity", "diary", "reminders", "outcomes")
HOST = "127.0.0.1"
# Messages a worker of the embedded default holds at once (see celery_worker_argv).
EMBEDDED_PREFETCH = 50


@dataclass(frozen=True)
class Service:
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.url}/api/{self.name}/v1/"


def services_from(base_port: int) -> list[Service]:
    """identity on base+1, diary on base+2, reminders on base+3, outcomes on base+4."""
    return [Service(name, base_port + offset) for offset, name in enumerate(SERVICES, start=1)]


class PortTaken(RuntimeError):
    pass


def ensure_free(port: int, owner: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As gunicorn does: a port in TIME_WAIT is free, a listening one is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise PortTaken(
                    f"port {port} for {owner} is not available: {exc.strerror}"
                ) from exc
            raise


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


# What the prepare steps read besides the database: pinned packages (their migrations and static
# files), the services' own migrations and static files, and identity's key and seed commands.
PREPARE_INPUTS = (
    "requirements.lock",
    "services/*/*/**/migrations/*.py",
    "shared/src/**/migrations/*.py",
    "services/*/*/**/static/**/*",
    "shared/src/**/static/**/*",
    "services/identity/identity/**/management/commands/*.py",
)


def prepare_inputs_digest() -> str:
    """Changes whenever a prepare step could have something new to do."""
    digest = hashlib.sha256()
    for pattern in PREPARE_INPUTS:
        for path in sorted(REPO.glob(pattern)):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(REPO)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def python_argv(*args: str) -> list[str]:
    """A command run by this virtual environment's interpreter, whatever PATH says."""
    return [sys.executable, *args]


def prepare_argv(service: str, *steps: str) -> list[str]:
    return python_argv(str(PREPARE_SCRIPT), service, *steps)


def gunicorn_argv(service: Service, *, workers: int = 1, threads: int = 4) -> list[str]:
    return python_argv(
        "-m",
        "gunicorn",
        f"{service.name}.wsgi:application",
        f"--bind={HOST}:{service.port}",
        f"--workers={workers}",
        f"--threads={threads}",
        "--timeout=60",
        "--graceful-timeout=5",
        # Its default is one socket path per user: several gunicorns would fight over it.
        "--no-control-socket",
        f"--name={service.name}-web",
    )


def celery_worker_argv(service: str, *, beat_schedule: Path) -> list[str]:
    """One worker on the service's own queue with beat embedded (-B): exactly one beat per
    service, because each service has exactly one worker here.

    Gossip, mingle and heartbeats are broadcasts between workers; on the filesystem broker they
    would leave a queue per past worker that nobody ever reads.

    The filesystem transport fetches a message only when the worker may hold one more, and
    otherwise sleeps its polling interval (a second): with one message held at a time a worker
    would handle about one event a second, whatever the task costs. Holding up to
    ``EMBEDDED_PREFETCH`` lets it take a backlog (the demo's history) as fast as the tasks run;
    a warm shutdown puts back what it holds.
    """
    return python_argv(
        "-m",
        "celery",
        "--quiet",
        f"--app={service}.celery_app",
        "worker",
        f"--queues={service}",
        f"--hostname={service}@embedded",
        "--pool=prefork",
        "--concurrency=1",
        f"--prefetch-multiplier={EMBEDDED_PREFETCH}",
        "--beat",
        f"--schedule={beat_schedule}",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel=INFO",
    )


def wait_ready(
    services: list[Service],
    *,
    timeout: float,
    check: Callable[[], None] = lambda: None,
) -> None:
    """Wait until every /readyz answers 200, polling the services side by side. ``check`` runs
    every few tenths of a second and may raise (a child died), so a broken start fails at once
    instead of at the timeout."""
    deadline = time.monotonic() + timeout
    ready: set[str] = set()
    given_up = threading.Event()

    def poll(service: Service) -> None:
        while not given_up.is_set() and time.monotonic() < deadline:
            try:
                # A first request is slow (Django loads its URLs); a short timeout would only
                # pile more requests onto a busy process.
                if requests.get(f"{service.url}/readyz", timeout=15).status_code == 200:
                    ready.add(service.name)
                    return
            except requests.RequestException:
                pass
            given_up.wait(0.25)

    # Daemon threads: a poll stuck on a hung server must not hold up a stop.
    for service in services:
        threading.Thread(
            target=poll, args=(service,), name=f"ready-{service.name}", daemon=True
        ).start()
    try:
        while len(ready) < len(services):
            check()
            if time.monotonic() > deadline:
                waiting = sorted({s.name for s in services} - ready)
                raise TimeoutError(f"not ready after {timeout:.0f}s: {', '.join(waiting)}")
            time.sleep(0.2)
    finally:
        given_up.set()
