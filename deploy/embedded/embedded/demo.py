"""Loading the demo's history on the first `make run`: the simulator (embedded.simulator), as a
child process of the runner, driving the services' public APIs.

The story's end (its ``now``) is fixed by the first load and kept in var/demo, so a load that
was stopped (Ctrl-C, a crash) carries on with the same story when `make run` starts again: the
simulator skips what the services have already. Once it has finished, var/demo/loaded says so
and later runs start without it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from embedded.layout import Layout
from embedded.stack import REPO, Service, python_argv

SIMULATOR_PATH = REPO / "deploy" / "embedded"
DEFAULT_PATIENTS = 200
DEFAULT_MONTHS = 18
DEFAULT_SEED = 2026
# How long the simulator waits for reminders and outcomes to take in the events it caused.
WAIT_SECONDS = 3600


@dataclass(frozen=True)
class DemoSettings:
    enabled: bool
    patients: int
    months: int
    seed: int

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> DemoSettings:
        switch = (environ.get("EMBEDDED_DEMO") or "on").strip().lower()
        if switch not in ("on", "off", "true", "false", "1", "0", "yes", "no"):
            raise SystemExit(f"EMBEDDED_DEMO={switch!r}: expected on or off")
        return cls(
            enabled=switch in ("on", "true", "1", "yes"),
            patients=_whole(environ, "EMBEDDED_DEMO_PATIENTS", DEFAULT_PATIENTS, 1, 5000),
            months=_whole(environ, "EMBEDDED_DEMO_MONTHS", DEFAULT_MONTHS, 1, 60),
            seed=_whole(environ, "EMBEDDED_DEMO_SEED", DEFAULT_SEED, 0, 2**31),
        )


def _whole(environ: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = environ.get(name) or str(default)
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise SystemExit(f"{name}={raw!r}: expected a whole number from {low} to {high}")
    return int(raw)


def loaded(layout: Layout) -> dict[str, object] | None:
    """What an earlier run loaded, or None if the history is not (all) there yet."""
    try:
        return dict(json.loads(layout.demo_loaded.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def story_end(layout: Layout) -> datetime:
    """When the demo's history ends: now on the first load, the same on every later attempt."""
    try:
        return datetime.fromisoformat(layout.demo_anchor.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        pass
    now = datetime.now(UTC).replace(microsecond=0)
    _write(layout.demo_anchor, now.isoformat())
    return now


def mark_loaded(layout: Layout, settings: DemoSettings, seconds: float) -> None:
    _write(
        layout.demo_loaded,
        json.dumps(
            {
                "patients": settings.patients,
                "months": settings.months,
                "seed": settings.seed,
                "story_ends_at": story_end(layout).isoformat(),
                "loaded_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
                "seconds": round(seconds),
            }
        ),
    )


def _write(path: Path, text: str) -> None:
    # Written aside and renamed into place: a run stopped halfway leaves no half a file.
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text + "\n", encoding="utf-8")
    partial.replace(path)


def simulator_argv(services: list[Service], settings: DemoSettings, now: datetime) -> list[str]:
    by_name = {s.name: s for s in services}
    return python_argv(
        "-m",
        "embedded.simulator",
        *(f"--{name}-url={service.url}" for name, service in by_name.items()),
        f"--patients={settings.patients}",
        f"--months={settings.months}",
        f"--seed={settings.seed}",
        f"--now={now.isoformat()}",
        f"--wait={WAIT_SECONDS}",
    )


def simulator_env(inherited: Mapping[str, str]) -> dict[str, str]:
    path = [str(SIMULATOR_PATH), *filter(None, [inherited.get("PYTHONPATH")])]
    return {**inherited, "PYTHONPATH": ":".join(path), "PYTHONUNBUFFERED": "1"}
