"""What one event costs outcomes' consumer, by how much the patient has logged before.

Each event is handed to the service's event handling as its worker would (inbox, read model,
re-derived courses, flags), in a dedicated database. For patients with two injections and 10,
100 and 300 earlier diary entries, the table gives per event the wall time, the consumer's CPU
time and its SQL statements, for a new diary entry and for a prompt that was answered.

Prints a table. Takes about a minute on two cores.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from benchdb import bench_database_url, recreate_database

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "outcomes"))
sys.path.insert(0, str(REPO / "services" / "outcomes"))

os.environ["DATABASE_URL"] = bench_database_url("bench_outcomes_events")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "outcomes.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key")
os.environ.setdefault("BROKER_URL", "redis://127.0.0.1:6379/8")
os.environ.setdefault("CACHE_URL", "redis://127.0.0.1:6379/8")
os.environ["LOG_LEVEL"] = "WARNING"
recreate_database(os.environ["DATABASE_URL"])

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from helpers import T0, Clinic, deliver, envelope  # noqa: E402

from shared.events.catalogue import utc_isoformat  # noqa: E402

HISTORIES = (10, 100, 300)
EVENTS = 60
ENTRY_SPACING = timedelta(hours=13)


def _patient(clinic: Clinic, history: int) -> uuid.UUID:
    """Two injections a month apart and ``history`` entries around them (about two a day)."""
    patient = clinic.enrol()
    clinic.inject(patient, T0)
    clinic.inject(patient, T0 + timedelta(days=30))
    for n in range(history):
        clinic.log(patient, T0 - timedelta(days=5) + ENTRY_SPACING * n, 6 - n % 3)
    return patient


def _measure(make: Callable[[int], dict[str, object]]) -> tuple[float, float, int]:
    """Median wall and CPU milliseconds per event, and the statements of the last one."""
    walls, cpus = [], []
    statements = [0]

    def count(execute: Callable[..., object], *args: object) -> object:
        statements[0] += 1
        return execute(*args)

    for n in range(EVENTS):
        body = make(n)
        statements[0] = 0
        wall, cpu = time.perf_counter(), time.process_time()
        with connection.execute_wrapper(count):
            assert deliver(body)
        cpus.append((time.process_time() - cpu) * 1000)
        walls.append((time.perf_counter() - wall) * 1000)
    return statistics.median(walls), statistics.median(cpus), statements[0]


def _entry_events(clinic: Clinic, patient: uuid.UUID, history: int) -> Callable[[int], dict]:
    start = T0 - timedelta(days=5) + ENTRY_SPACING * history

    def make(n: int) -> dict[str, object]:
        data = clinic.entry_data(patient, start + timedelta(hours=7 * n), 4)
        return envelope("diary.entry.logged", data)

    return make


def _answered_prompts(clinic: Clinic, patient: uuid.UUID) -> Callable[[int], dict]:
    def make(n: int) -> dict[str, object]:
        due = T0 + timedelta(days=1 + n)
        return envelope(
            "reminders.prompt.answered",
            {
                "prompt_id": str(uuid.uuid4()),
                "patient_id": str(patient),
                "clinic_id": str(clinic.clinic_id),
                "due_at": utc_isoformat(due),
                "answered_at": utc_isoformat(due + timedelta(hours=2)),
                "answer_id": None,
            },
        )

    return make


def main() -> None:
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    clinic = Clinic()
    _measure(_entry_events(clinic, _patient(clinic, 10), 10))  # warm the process up
    print(
        f"{'event':<26} {'earlier entries':>15} {'wall ms':>8} {'CPU ms':>7} {'statements':>10} "
        f"{'events/s':>8}"
    )
    for history in HISTORIES:
        patient = _patient(clinic, history)
        for name, make in (
            ("diary.entry.logged", _entry_events(clinic, patient, history)),
            ("reminders.prompt.answered", _answered_prompts(clinic, patient)),
        ):
            wall, cpu, statements = _measure(make)
            print(
                f"{name:<26} {history:>15,} {wall:>8.2f} {cpu:>7.2f} {statements:>10} "
                f"{1000 / wall:>8.0f}"
            )
    print(
        f"medians of {EVENTS} events each, one at a time in one process (a worker's view: "
        f"PostgreSQL's share is in the wall time). Total {time.perf_counter() - started:.0f} s."
    )


if __name__ == "__main__":
    main()
