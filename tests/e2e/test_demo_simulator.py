"""The demo simulator against the real services (each under gunicorn with its Celery worker, on
PostgreSQL and Redis): a small clinic's months made through the public APIs, then made again, and
what a clinician would notice afterwards.

Redis: this module's broker is database 14 and the services' caches database 15, so that it
shares no queue with the other end-to-end fixtures (database 7).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import pytest
import redis
import requests
from embedded.simulator import ServiceUrls, SimulationSummary, simulate
from livestack import Stack, running_stack

pytestmark = pytest.mark.e2e

PASSWORD = "recovery-demo-2026"
SERVICES = ("identity", "diary", "reminders", "outcomes")
PATIENTS, SECOND_CLINIC, MONTHS, SEED = 12, 4, 8, 77
LIMITS = {"RATE_LIMIT_USER_WRITES": "100000/min", "RATE_LIMIT_ANON": "100000/min"}


def _redis(db: int) -> str:
    parsed = urlparse(os.environ.get("BROKER_URL", "redis://127.0.0.1:6379/7"))
    return urlunparse(parsed._replace(path=f"/{db}"))


@dataclass
class Reader:
    """Reads the services' APIs as a signed-in demo account."""

    stack: Stack

    def api(self, service: str, path: str, email: str, **params: Any) -> Any:
        token = requests.post(
            f"{self.stack['identity'].api}auth/token/",
            json={"email": email, "password": PASSWORD},
            timeout=30,
        )
        token.raise_for_status()
        response = requests.get(
            f"{self.stack[service].api}{path}",
            params=params,
            headers={"Authorization": f"Bearer {token.json()['access']}"},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def rows(self, service: str, path: str, email: str) -> list[Any]:
        rows: list[Any] = []
        page = 1
        while True:
            data = self.api(service, path, email, page=page, page_size=200)
            rows += data["results"]
            if not data["next"]:
                return rows
            page += 1

    def diary(self) -> dict[str, list[str]]:
        """Ids of every entry and questionnaire of both clinics, as their clinicians read them."""
        return {
            kind: [
                row["id"]
                for email in ("clinician@demo.example", "clinician2@demo.example")
                for row in self.rows("diary", kind, email)
            ]
            for kind in ("entries/", "questionnaires/")
        }


@dataclass
class Runs:
    read: Reader
    first: SimulationSummary
    second: SimulationSummary
    diary_after_first: dict[str, list[str]]
    diary_after_second: dict[str, list[str]]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    broker, cache = _redis(14), _redis(15)
    for url in (broker, cache):
        redis.Redis.from_url(url).flushdb()
    with running_stack(
        names=SERVICES,
        database_prefix="e2e_demo",
        broker_url=broker,
        cache_urls=dict.fromkeys(SERVICES, cache),
        workdir=Path(tmp_path_factory.mktemp("demo")),
        workers=True,
        threads=4,
        extra_env=dict.fromkeys(SERVICES, LIMITS),
    ) as stack:
        urls = ServiceUrls(**{name: stack[name].url for name in SERVICES})
        now = datetime.now(UTC).replace(microsecond=0)

        def run() -> SimulationSummary:
            return simulate(
                urls,
                patients=PATIENTS,
                second_clinic_patients=SECOND_CLINIC,
                months=MONTHS,
                seed=SEED,
                now=now,
                wait_seconds=300,
                progress=lambda line: print(f"{datetime.now(UTC):%H:%M:%S} {line}", flush=True),
            )

        read = Reader(stack)
        first = run()
        after_first = read.diary()
        second = run()
        yield Runs(read, first, second, after_first, read.diary())


def test_patients_are_enrolled_in_their_own_clinic(runs: Runs) -> None:
    spine = {p["email"] for p in runs.read.rows("identity", "patients/", "clinician@demo.example")}
    riverside = {
        p["email"] for p in runs.read.rows("identity", "patients/", "clinician2@demo.example")
    }

    assert len(spine) == PATIENTS
    assert len(riverside) == SECOND_CLINIC
    assert {f"patient{n}@demo.example" for n in range(1, 6)} <= spine
    assert {f"riverside.patient{n}@demo.example" for n in range(1, 4)} <= riverside
    assert all(
        email.endswith("spine.demo.example")
        for email in spine - {f"patient{n}@demo.example" for n in range(1, 6)}
    )
    assert runs.first.patients_new == PATIENTS + SECOND_CLINIC - 8  # the seeded 8 were there


def test_a_second_run_adds_nothing_and_the_diary_holds_each_item_once(runs: Runs) -> None:
    first, second = runs.first, runs.second
    assert first.entries_new == first.entries > 100
    assert first.questionnaires_new == first.questionnaires > 0
    assert first.injections_new == first.injections > 0
    assert (second.patients_new, second.injections_new, second.entries_new) == (0, 0, 0)
    assert second.questionnaires_new == 0

    for kind, ids in runs.diary_after_first.items():
        assert len(ids) == len(set(ids)), f"{kind} stored twice"
    stored = sum(len(ids) for ids in runs.diary_after_first.values())
    assert stored == first.entries + first.questionnaires + first.prompts_answered_live_new
    # Only a prompt that came due between the two runs can have been answered by the second.
    again = sum(len(ids) for ids in runs.diary_after_second.values())
    assert again == stored + second.prompts_answered_live_new


def test_outcomes_shows_the_clinics_recovery_curve(runs: Runs) -> None:
    assert runs.first.outcomes_ready
    curve = runs.read.api("outcomes", "cohort/curve/", "clinician@demo.example")
    points = curve["nrs_percent_change"]
    assert max(p["n"] for p in points) >= 3
    later = [p for p in points if p["week"] >= 8 and p["n"] >= 2]
    assert later, "scores months after the first injections"
    assert max(p["median"] for p in later) > 20, "relief builds after the flare"
    patients = runs.read.rows("outcomes", "patients/", "clinician2@demo.example")
    assert len(patients) == SECOND_CLINIC


def test_prompts_of_the_past_were_not_sent_and_answered_ones_count_in_adherence(
    runs: Runs,
) -> None:
    adherence = runs.read.rows("reminders", "patients/adherence/", "clinician@demo.example")
    assert sum(row["prompts_answered"] for row in adherence) > 10
    spine = {
        p["email"]: p["id"]
        for p in runs.read.rows("identity", "patients/", "clinician@demo.example")
    }
    timeline = runs.read.rows(
        "reminders", f"patients/{spine['patient4@demo.example']}/prompts/", "clinician@demo.example"
    )
    long_ago = datetime.now(UTC) - timedelta(days=30)
    past = [p for p in timeline if datetime.fromisoformat(p["expires_at"]) < long_ago]
    assert past, "the patient's history has prompts"
    assert all(p["sent_at"] is None for p in past), "nothing of the past was sent"
    assert {p["status"] for p in past} <= {"expired", "answered", "cancelled"}
    assert any(p["status"] == "answered" for p in past)
