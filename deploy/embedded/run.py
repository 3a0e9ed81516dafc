"""`make run`: every service, a Celery worker per service and beat, on this machine, no servers.

One SQLite database per service, a broker made of files, identity's signing keys and a demo
clinic, all under var/ (delete it to start afresh). Ctrl-C stops everything.

Environment:
  EMBEDDED_VAR_DIR         where the data lives (default: <repo>/var)
  EMBEDDED_BASE_PORT       identity listens on base+1, diary +2, reminders +3, outcomes +4
                           (default: 8000)
  EMBEDDED_READY_TIMEOUT   seconds to wait for every service to be ready (default: 120)
  DJANGO_DEBUG, LOG_LEVEL  passed on to the services (default: false, INFO)
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from embedded.console import Console, render
from embedded.layout import Layout, environments
from embedded.stack import (
    REPO,
    PortTaken,
    Service,
    celery_worker_argv,
    ensure_free,
    gunicorn_argv,
    prepare_argv,
    prepare_inputs_digest,
    services_from,
    wait_ready,
)
from embedded.supervisor import Child, ChildFailed, Supervisor

DEMO_PASSWORD = "recovery-demo-2026"  # noqa: S105 - the published password of the demo accounts
DEMO_LOGINS = (
    ("admin@demo.example", "system admin"),
    ("clinicadmin@demo.example", "clinic admin"),
    ("clinician@demo.example", "clinician"),
    ("patient1@demo.example .. patient5@demo.example", "patients (Europe/London)"),
)
# A Celery worker's warm shutdown (finish the task at hand, hand back what it holds) takes a few
# seconds on the filesystem broker, which is polled.
STOP_GRACE_SECONDS = 20.0


class StopRequested(Exception):
    pass


class Settings:
    def __init__(self, environ: dict[str, str]) -> None:
        self.var = Path(environ.get("EMBEDDED_VAR_DIR") or REPO / "var").resolve()
        self.base_port = _int_setting(environ, "EMBEDDED_BASE_PORT", 8000, 1, 65530)
        self.ready_timeout = _int_setting(environ, "EMBEDDED_READY_TIMEOUT", 120, 1, 3600)


def _int_setting(environ: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = environ.get(name) or str(default)
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise SystemExit(f"{name}={raw!r}: expected a whole number from {low} to {high}")
    return int(raw)


def main() -> int:
    started = time.monotonic()
    settings = Settings(dict(os.environ))
    services = services_from(settings.base_port)
    try:
        for service in services:
            ensure_free(service.port, service.name)
    except PortTaken as exc:
        print(
            f"Cannot start: {exc}.\nStop whatever listens there, or choose other ports, e.g. "
            f"EMBEDDED_BASE_PORT={settings.base_port + 1000} make run",
            file=sys.stderr,
        )
        return 2

    console = Console()
    stop = threading.Event()
    hurry = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            hurry.set()
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, request_stop)

    def check() -> None:
        if stop.is_set():
            raise StopRequested

    layout = Layout(settings.var)
    layout.create()
    envs = environments(layout, services, os.environ)
    supervisor = Supervisor(console.echo)
    try:
        digest = prepare_inputs_digest()
        stale = [s for s in services if not layout.is_prepared(s.name, digest)]
        console.say(
            f"Preparing {', '.join(s.name for s in stale)} in {layout.root}"
            if stale
            else f"Databases, static files and demo data in {layout.root} are up to date"
        )
        jobs = [
            supervisor.start(
                f"{s.name}-setup",
                prepare_argv(s.name, *_setup_steps(s.name)),
                env=envs[s.name],
                cwd=layout.root,
            )
            for s in stale
        ]
        supervisor.wait_all(jobs, check=check)
        for s in stale:
            layout.mark_prepared(s.name, digest)
        console.say(f"Prepared in {time.monotonic() - started:.1f}s; starting the services")

        for s in services:
            for name, argv in (
                (f"{s.name}-web", gunicorn_argv(s)),
                (
                    f"{s.name}-worker",
                    celery_worker_argv(s.name, beat_schedule=layout.beat_schedule(s.name)),
                ),
            ):
                child = supervisor.start(name, argv, env=envs[s.name], cwd=layout.root)
                console.say(f"started {name} (pid {child.pid})")

        def check_running() -> None:
            check()
            dead = supervisor.first_exited()
            if dead is not None:
                raise ChildFailed(dead)

        wait_ready(services, timeout=settings.ready_timeout, check=check_running)
        console.say(banner(services, layout, time.monotonic() - started))

        while not stop.wait(0.2):
            dead = supervisor.first_exited()
            if dead is not None:
                raise ChildFailed(dead)
    except StopRequested:
        pass
    except ChildFailed as exc:
        _report_death(console, exc.child)
        return 1
    except TimeoutError as exc:
        console.say(f"Stopping everything: {exc}")
        return 1
    finally:
        console.say("Stopping every process (Ctrl-C again to kill them at once) ...")
        supervisor.stop(grace=STOP_GRACE_SECONDS, hurry=hurry)
        console.say("All stopped.")
    return 0


def _setup_steps(service: str) -> list[str]:
    steps = ["migrate", "collectstatic"]
    if service == "identity":
        steps += ["keys", "seed"]
    return steps


def _report_death(console: Console, child: Child) -> None:
    lines = "\n".join(f"    {part}" for line in child.tail for part in render(line).split("\n"))
    console.say(
        f"\n{child.name} stopped unexpectedly: it {child.how_it_ended()}. Its last lines:\n"
        f"{lines}\nStopping everything."
    )


def banner(services: list[Service], layout: Layout, seconds: float) -> str:
    by_name = {s.name: s for s in services}
    identity, diary = by_name["identity"], by_name["diary"]
    rule = "=" * 78
    lines = [rule, f" Every service is ready ({seconds:.1f}s).", ""]
    for s in services:
        lines += [
            f" {s.name:<10} API      {s.api}",
            f" {'':<10} Swagger  {s.api}docs/",
            f" {'':<10} admin    {s.url}/admin/{s.name}/",
        ]
    lines += [
        "",
        f" Demo logins (password {DEMO_PASSWORD}):",
        *(f"   {email:<48} {role}" for email, role in DEMO_LOGINS),
        "",
        " Log the demo patient in and ask the diary who that is:",
        f"   TOKEN=$(curl -s -X POST {identity.api}auth/token/ \\",
        "     -H 'Content-Type: application/json' \\",
        f'     -d \'{{"email": "patient1@demo.example", "password": "{DEMO_PASSWORD}"}}\' \\',
        "     | python3 -c 'import json, sys; print(json.load(sys.stdin)[\"access\"])')",
        f'   curl -s -H "Authorization: Bearer $TOKEN" {diary.api}whoami/',
        "",
        f" Data lives in {layout.root} (delete it to start afresh). Ctrl-C stops everything.",
        rule,
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
