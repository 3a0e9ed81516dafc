"""`make run` on a fresh var/ folder: every service comes up, the demo's history is made through
the public APIs and is in the dashboard's read model when the runner says it is ready, the broker
folder carries a task from one process to another, Ctrl-C leaves nothing running, and the next
start finds the demo data there and skips making it."""

from __future__ import annotations

import signal
from typing import Any

import pytest
import requests
from celery import Celery

pytestmark = pytest.mark.e2e

PASSWORD = "recovery-demo-2026"
# Small, so that the first start stays short on SQLite; docs/demo.md has the full size's figures.
DEMO = {"EMBEDDED_DEMO_PATIENTS": "12", "EMBEDDED_DEMO_MONTHS": "6"}
SERVICES = ("identity", "diary", "reminders", "outcomes")


def send_through_broker_folder(broker: Any, queue: str) -> str:
    folders = broker / "queues"
    app = Celery(
        "e2e",
        broker="filesystem://localhost/",
        broker_transport_options={
            "data_folder_in": str(folders),
            "data_folder_out": str(folders),
            "control_folder": str(broker / "control"),
        },
    )
    # A task every Celery worker knows: it just hands back its arguments.
    result = app.send_task("celery.accumulate", args=["from the e2e test"], queue=queue)
    return str(result.id)


def sign_in(run: Any, email: str) -> dict[str, str]:
    signed_in = requests.post(
        f"{run.service('identity').api}auth/token/",
        json={"email": email, "password": PASSWORD},
        timeout=30,
    )
    assert signed_in.status_code == 200, signed_in.text
    return {"Authorization": f"Bearer {signed_in.json()['access']}"}


def test_make_run_loads_the_demo_through_the_apis_and_stops_everything_on_ctrl_c(
    embedded_runs: Any,
) -> None:
    run = embedded_runs.start(**DEMO)
    run.wait_for("Every service is ready", timeout=180)
    outcomes = run.service("outcomes")
    run.wait_for(f"Dashboard  {outcomes.url}/dashboard/", timeout=5)
    run.wait_for("Demo data  loading now", timeout=5)
    run.wait_for("Loading the demo clinics' last 6 months (12 patients", timeout=5)
    run.wait_for("Demo data ready (", timeout=900)
    assert (run.var_dir / "demo" / "loaded").is_file()

    # What the dashboard shows is there: the clinic's patients with their injections and scores.
    clinician = sign_in(run, "clinician@demo.example")
    listed = requests.get(
        f"{outcomes.api}patients/", params={"page_size": 200}, headers=clinician, timeout=30
    )
    assert listed.status_code == 200, listed.text
    patients = listed.json()["results"]
    assert len(patients) == 12
    assert all(p["injections"] > 0 and p["latest_nrs"] is not None for p in patients)
    curve = requests.get(f"{outcomes.api}cohort/curve/", headers=clinician, timeout=60)
    assert curve.status_code == 200, curve.text
    assert max(point["n"] for point in curve.json()["nrs_percent_change"]) > 1

    whoami = requests.get(
        f"{run.service('diary').api}whoami/",
        headers=sign_in(run, "patient1@demo.example"),
        timeout=30,
    )
    assert whoami.status_code == 200, whoami.text
    assert whoami.json()["roles"] == ["patient"]

    task_id = send_through_broker_folder(run.var_dir / "broker", "diary")
    run.wait_for(f"celery.accumulate[{task_id}] succeeded", timeout=60)

    assert sorted(run.children()) == sorted(
        [f"{service}-{role}" for service in SERVICES for role in ("web", "worker")] + ["demo"]
    )
    run.process.send_signal(signal.SIGINT)
    assert run.process.wait(timeout=60) == 0
    assert run.still_running() == []

    again = embedded_runs.start(**DEMO)
    again.wait_for("Every service is ready", timeout=180)
    again.wait_for("Demo data  12 patients at the Demo Spine Clinic", timeout=5)
    assert not [line for line in again.transcript.lines() if "Loading the demo" in line]
    assert "demo" not in again.children()
    again.process.send_signal(signal.SIGINT)
    assert again.process.wait(timeout=60) == 0
    assert again.still_running() == []
