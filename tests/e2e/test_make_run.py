"""`make run` on a fresh var/ folder: every service comes up with the demo clinic, the broker
folder carries a task from one process to another, and Ctrl-C leaves nothing running."""

from __future__ import annotations

import signal
from typing import Any

import pytest
import requests
from celery import Celery

pytestmark = pytest.mark.e2e


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


def test_make_run_serves_the_demo_clinic_and_stops_everything_on_ctrl_c(
    embedded_run: Any,
) -> None:
    embedded_run.wait_for("Every service is ready", timeout=180)
    identity, diary = embedded_run.service("identity"), embedded_run.service("diary")

    signed_in = requests.post(
        f"{identity.api}auth/token/",
        json={"email": "patient1@demo.example", "password": "recovery-demo-2026"},
        timeout=30,
    )
    assert signed_in.status_code == 200, signed_in.text
    whoami = requests.get(
        f"{diary.api}whoami/",
        headers={"Authorization": f"Bearer {signed_in.json()['access']}"},
        timeout=30,
    )
    assert whoami.status_code == 200, whoami.text
    assert whoami.json()["roles"] == ["patient"]

    task_id = send_through_broker_folder(embedded_run.var_dir / "broker", "diary")
    embedded_run.wait_for(f"celery.accumulate[{task_id}] succeeded", timeout=60)

    children = embedded_run.children()
    assert sorted(children) == sorted(
        f"{service}-{role}"
        for service in ("identity", "diary", "reminders", "outcomes")
        for role in ("web", "worker")
    )
    embedded_run.process.send_signal(signal.SIGINT)
    assert embedded_run.process.wait(timeout=60) == 0
    assert embedded_run.still_running() == []
