"""`make run`: every service, a Celery worker per service and beat, on this machine, no servers.

One SQLite database per service, a broker made of files, identity's signing keys and the demo
clinics, all under var/ (delete it to start afresh). On the first start the demo's history is
made through the public APIs by the phone-app simulator (docs/demo.md) once the banner is out;
"Demo data ready" says when the dashboard has all of it. Ctrl-C stops everything.

Environment:
  EMBEDDED_VAR_DIR         where the data lives (default: <repo>/var)
  EMBEDDED_BASE_PORT       identity listens on base+1, diary +2, reminders +3, outcomes +4
                           (default: 8000)
  EMBEDDED_READY_TIMEOUT   seconds to wait for every service to be ready (default: 120)
  EMBEDDED_DEMO            off: no demo history (default: on, loaded on the first start)
  EMBEDDED_DEMO_PATIENTS   the Demo Spine Clinic's patients (default: 200; Riverside: a tenth)
  EMBEDDED_DEMO_MONTHS     months of history (default: 18)
  EMBEDDED_DEMO_SEED       the story's seed (default: 2026)
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

from embedded import demo
from embedded.console import Console, render
from embedded.demo import DemoSettings
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
    ("clinicadmin@demo.example", "clinic admin, Demo Spine Clinic"),
    ("clinician@demo.example", "clinician, Demo Spine Clinic"),
    ("patient1@demo.example .. patient5@demo.example", "patients, Demo Spine Clinic"),
    ("clinician2@demo.example", "clinician, Riverside Pain Clinic"),
    ("riverside.patient1@demo.example .. 3", "patients, Riverside Pain Clinic"),
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
        self.demo = DemoSettings.from_environ(environ)


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
    # One-off work beside the services (the demo's history): its end is not a failure.
    one_offs = Supervisor(console.echo)
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
        ready = time.monotonic() - started
        wanted = settings.demo.enabled and demo.loaded(layout) is None
        console.say(banner(services, layout, ready, demo.loaded(layout), loading=wanted))
        loading = (
            _start_demo(console, one_offs, layout, services, settings.demo) if wanted else None
        )

        while not stop.wait(0.2):
            dead = supervisor.first_exited()
            if dead is not None:
                raise ChildFailed(dead)
            if loading is not None and one_offs.first_exited() is loading:
                one_offs.children.remove(loading)
                _demo_finished(console, loading, layout, services, settings.demo, started)
                loading = None
    except StopRequested:
        pass
    except ChildFailed as exc:
        _report_death(console, exc.child)
        return 1
    except TimeoutError as exc:
        console.say(f"Stopping everything: {exc}")
        return 1
    finally:
        console.hush = False
        console.say("Stopping every process (Ctrl-C again to kill them at once) ...")
        one_offs.stop(grace=5, hurry=hurry)
        supervisor.stop(grace=STOP_GRACE_SECONDS, hurry=hurry)
        console.say("All stopped.")
    return 0


def _start_demo(
    console: Console,
    jobs: Supervisor,
    layout: Layout,
    services: list[Service],
    settings: DemoSettings,
) -> Child:
    """Start making the demo's history (or carry on with it, after a stopped first start)."""
    resumed = layout.demo_anchor.is_file()
    now = demo.story_end(layout)
    console.say(
        ("Carrying on loading" if resumed else "Loading")
        + f" the demo clinics' last {settings.months} months ({settings.patients} patients at "
        "the Demo Spine Clinic, a tenth as many at Riverside) through the public APIs, as phones "
        "and clinicians would. The services' routine log lines are hidden meanwhile."
    )
    console.hush = True
    child = jobs.start(
        "demo",
        demo.simulator_argv(services, settings, now),
        env=demo.simulator_env(os.environ),
        cwd=layout.root,
    )
    console.say(f"started demo (pid {child.pid})")
    return child


def _demo_finished(
    console: Console,
    job: Child,
    layout: Layout,
    services: list[Service],
    settings: DemoSettings,
    started: float,
) -> None:
    console.hush = False
    if job.returncode != 0:
        console.say(
            f"\nThe demo's history could not be loaded completely: the simulator "
            f"{job.how_it_ended()} (its lines above say why). The services keep running; the "
            "next `make run` carries on where it stopped."
        )
        return
    seconds = time.monotonic() - started
    demo.mark_loaded(layout, settings, seconds)
    outcomes = next(s for s in services if s.name == "outcomes")
    rule = "=" * 78
    console.say(
        "\n".join(
            [
                rule,
                f" Demo data ready ({seconds:.0f}s after the start): every service has it.",
                f" Dashboard  {outcomes.url}/dashboard/   (sign in as clinician@demo.example)",
                rule,
            ]
        )
    )


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


def banner(
    services: list[Service],
    layout: Layout,
    seconds: float,
    loaded: dict[str, object] | None = None,
    *,
    loading: bool = False,
) -> str:
    by_name = {s.name: s for s in services}
    identity, diary, outcomes = by_name["identity"], by_name["diary"], by_name["outcomes"]
    rule = "=" * 78
    lines = [
        rule,
        f" Every service is ready ({seconds:.1f}s).",
        "",
        f" Dashboard  {outcomes.url}/dashboard/   (sign in as clinician@demo.example)",
    ]
    if loaded is not None:
        lines.append(
            f" Demo data  {loaded.get('patients')} patients at the Demo Spine Clinic and a tenth "
            f"as many at Riverside, {loaded.get('months')} months up to "
            f"{str(loaded.get('story_ends_at', ''))[:16].replace('T', ' ')} UTC"
        )
    elif loading:
        lines += [
            " Demo data  loading now, on this first start only: the dashboard fills as it",
            '            arrives, and "Demo data ready" below says when it is all there.',
        ]
    lines.append("")
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
