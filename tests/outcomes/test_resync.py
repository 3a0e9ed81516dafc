"""The resync against a local HTTP server that serves diary's export API (and identity's service
token endpoint) in their documented shapes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import jsonschema
import pytest
from django.core.management import CommandError, call_command
from helpers import T0, Clinic, deliver, envelope

from outcomes.readmodel.models import (
    Course,
    Entry,
    Injection,
    Observation,
    ObservationKind,
    ResyncObservation,
    ResyncRun,
)
from outcomes.readmodel.resync import ResyncError, resync_from_diary
from shared.auth.service_client import ServiceSession, ServiceTokenClient
from shared.events.catalogue import utc_isoformat

pytestmark = pytest.mark.django_db

CLIENT_ID, SECRET, TOKEN = "outcomes", "not-a-real-secret", "service-token-for-tests"


class FakeDiary:
    """diary's export and identity's client-credentials endpoint, as their APIs document them."""

    def __init__(self) -> None:
        self.changes: list[dict[str, Any]] = []
        self.requests: list[dict[str, list[str]]] = []
        self.fail_with: int | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if urlparse(self.path).path != "/api/identity/v1/auth/service-token/":
                    return self._send(404, {})
                if (body.get("client_id"), body.get("client_secret")) != (CLIENT_ID, SECRET):
                    return self._send(401, {"title": "Authentication failed"})
                self._send(200, {"access": TOKEN, "expires_in": 300, "token_type": "Bearer"})

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path != "/api/diary/v1/internal/export/":
                    return self._send(404, {})
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._send(401, {"title": "Authentication required"})
                if server.fail_with:
                    return self._send(server.fail_with, {"title": "Server error"})
                query = parse_qs(url.query)
                server.requests.append(query)
                after, limit = int(query["after"][0]), int(query["limit"][0])
                ordered = sorted(server.changes, key=lambda c: c["server_seq"])
                page = [c for c in ordered if c["server_seq"] > after][:limit]
                full = len(page) == limit
                horizon = max([c["server_seq"] for c in ordered], default=0)
                self._send(
                    200,
                    {
                        "changes": page,
                        "next_after": page[-1]["server_seq"] if full else max(after, horizon),
                        "has_more": full,
                    },
                )

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def session(self) -> ServiceSession:
        return ServiceSession(ServiceTokenClient(self.url, CLIENT_ID, SECRET), self.url)

    def add(
        self,
        kind: str,
        row_id: str,
        patient_id: uuid.UUID,
        clinic_id: uuid.UUID,
        data: dict[str, Any] | None,
        *,
        changed_at: datetime,
    ) -> None:
        self.changes.append(
            {
                "kind": kind,
                "id": row_id,
                "server_seq": len(self.changes) + 1,
                "version": 1,
                "patient_id": str(patient_id),
                "clinic_id": str(clinic_id),
                "changed_at": utc_isoformat(changed_at),
                "deleted": data is None,
                "deleted_at": utc_isoformat(changed_at) if data is None else None,
                "data": data,
            }
        )


@pytest.fixture
def diary() -> Iterator[FakeDiary]:
    fake = FakeDiary()
    yield fake
    fake.http.shutdown()
    fake.http.server_close()


def _diary_history(diary: FakeDiary, clinic: Clinic, patient: uuid.UUID) -> dict[str, Any]:
    """One patient's diary: a baseline, an injection, a corrected score, a deleted score, an ODI."""
    long_ago = datetime(2024, 1, 1, tzinfo=T0.tzinfo)
    baseline = clinic.entry_data(patient, T0 - timedelta(days=1), 8)
    injection = clinic.injection_data(patient, T0, solution="dextrose_25")
    corrected = clinic.entry_data(patient, T0 + timedelta(days=14), 3)
    deleted = clinic.entry_data(patient, T0 + timedelta(days=21), 9)
    odi = {
        "response_id": str(uuid.uuid4()),
        "patient_id": str(patient),
        "clinic_id": str(clinic.clinic_id),
        "instrument": "odi",
        "completed_at": utc_isoformat(T0 + timedelta(days=30)),
        "score": 28.0,
        "prompt_id": None,
        "section_scores": [2, 3, None, 2, 2, 3, 1, 2, 2, 1],
    }
    c = clinic.clinic_id
    diary.add("entry", baseline["entry_id"], patient, c, baseline, changed_at=long_ago)
    diary.add("injection", injection["injection_id"], patient, c, injection, changed_at=long_ago)
    diary.add("entry", deleted["entry_id"], patient, c, None, changed_at=long_ago)
    diary.add("entry", corrected["entry_id"], patient, c, corrected, changed_at=long_ago)
    diary.add("questionnaire", odi["response_id"], patient, c, odi, changed_at=long_ago)
    return {
        "baseline": baseline,
        "injection": injection,
        "corrected": corrected,
        "deleted": deleted,
    }


def test_resync_rebuilds_a_damaged_read_model_from_the_diarys_export(diary: FakeDiary) -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    history = _diary_history(diary, clinic, patient)
    # What the live read model got wrong: a stale score, a score the diary deleted, junk.
    clinic.inject(patient, T0, injection_id=uuid.UUID(history["injection"]["injection_id"]))
    deliver(envelope("diary.entry.logged", {**history["corrected"], "nrs": 7}, occurred_at=T0))
    deliver(envelope("diary.entry.logged", history["deleted"], occurred_at=T0))
    clinic.log(patient, T0 + timedelta(days=40), 1, entry_id=uuid.uuid4())
    Observation.objects.filter(patient_id=patient).update(version=T0)
    Entry.objects.filter(patient_id=patient).update(version=T0)

    result = resync_from_diary(session=diary.session(), page_size=2)

    assert result.changes == 5
    assert [q["after"][0] for q in diary.requests] == ["0", "2", "4"]
    scores = list(
        Observation.objects.filter(patient_id=patient, deleted=False)
        .order_by("occurred_at")
        .values_list("kind", "day", "value")
    )
    assert scores == [
        (ObservationKind.NRS, None, 8.0),
        (ObservationKind.NRS, 14, 3.0),
        (ObservationKind.ODI, 30, 28.0),
    ]
    course = Course.objects.get(patient_id=patient)
    assert (course.baseline_nrs, course.solution, course.dextrose_percent) == (
        8.0,
        "dextrose",
        25.0,
    )
    assert Entry.objects.get(entry_id=history["deleted"]["entry_id"]).deleted
    assert ResyncObservation.objects.count() == 0
    run = ResyncRun.objects.get()
    assert run.succeeded
    assert run.records == 5


def test_changes_handled_during_the_rebuild_are_kept(diary: FakeDiary) -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    history = _diary_history(diary, clinic, patient)
    session = diary.session()
    later = clinic.entry_data(patient, T0 + timedelta(days=60), 2)
    correction = {**history["corrected"], "nrs": 5, "changed": ["nrs"]}

    class DuringRebuild:
        """Events arrive while the export is being read: a new entry and a correction."""

        def __init__(self) -> None:
            self.calls = 0

        def get(self, url: str, **kwargs: Any) -> Any:
            self.calls += 1
            if self.calls == 2:
                # Published now, by the diary's clock: after the rebuild started.
                now = datetime.now(UTC)
                deliver(envelope("diary.entry.logged", later, occurred_at=now))
                deliver(envelope("diary.entry.corrected", correction, occurred_at=now))
            return session.get(url, **kwargs)

    resync_from_diary(session=DuringRebuild(), page_size=2)
    values = dict(
        Observation.objects.filter(patient_id=patient, deleted=False).values_list("day", "value")
    )
    assert values[60] == 2.0
    assert values[14] == 5.0


def test_a_failed_export_changes_nothing(diary: FakeDiary) -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    clinic.inject(patient, T0)
    diary.fail_with = 503
    with pytest.raises(ResyncError):
        resync_from_diary(session=diary.session(), page_size=2)
    assert Injection.objects.filter(patient_id=patient).count() == 1
    assert Course.objects.filter(patient_id=patient).count() == 1


def test_the_command_uses_this_services_token_and_diary_url(
    diary: FakeDiary, settings: Any
) -> None:
    clinic = Clinic()
    patient = clinic.enrol()
    _diary_history(diary, clinic, patient)
    settings.DIARY_URL = diary.url
    settings.IDENTITY_URL = diary.url
    settings.SERVICE_CLIENT_ID = CLIENT_ID
    settings.SERVICE_CLIENT_SECRET = SECRET
    call_command("outcomes_resync", "--page-size", "3")
    assert Course.objects.filter(patient_id=patient).count() == 1
    settings.SERVICE_CLIENT_SECRET = "wrong"
    with pytest.raises(CommandError, match="unchanged"):
        call_command("outcomes_resync")


def test_the_command_says_how_to_get_credentials_when_it_has_none(
    settings: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As deployed before identity_service_client has run: an empty id, an empty secret file.
    settings.SERVICE_CLIENT_ID = ""
    settings.SERVICE_CLIENT_SECRET = ""
    empty = tmp_path / "outcomes_service_client_secret"
    empty.write_text("")
    monkeypatch.setenv("SERVICE_CLIENT_ID", "")
    monkeypatch.setenv("SERVICE_CLIENT_SECRET_FILE", str(empty))
    with pytest.raises(CommandError, match="identity_service_client --name"):
        call_command("outcomes_resync")


def _nullable_as_json_schema(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` as JSON Schema's `type: [..., "null"]`."""
    if isinstance(node, dict):
        node = {key: _nullable_as_json_schema(value) for key, value in node.items()}
        if node.pop("nullable", False):
            if "type" in node:
                node["type"] = [node["type"], "null"]
            else:
                node = {"anyOf": [node, {"type": "null"}]}
        return node
    if isinstance(node, list):
        return [_nullable_as_json_schema(value) for value in node]
    return node


def test_the_fake_diary_answers_in_the_shape_of_diarys_own_openapi_schema(
    diary: FakeDiary, tmp_path: Any
) -> None:
    """The local server stands in for diary only as far as it answers like diary's export API:
    its pages are checked against the schema diary itself generates."""
    repo = Path(__file__).resolve().parents[2]
    target = tmp_path / "diary-schema.json"
    subprocess.run(
        [
            sys.executable,
            str(repo / "services" / "diary" / "manage.py"),
            "spectacular",
            "--format",
            "openapi-json",
            "--file",
            str(target),
        ],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "diary.settings",
            "DATABASE_URL": "sqlite:///:memory:",
            "LOG_LEVEL": "WARNING",
        },
        check=True,
        capture_output=True,
        timeout=120,
    )
    document = json.loads(target.read_text())
    response = document["paths"]["/api/diary/v1/internal/export/"]["get"]["responses"]["200"]
    schema = _nullable_as_json_schema(
        {**response["content"]["application/json"]["schema"], "components": document["components"]}
    )
    clinic = Clinic()
    _diary_history(diary, clinic, clinic.enrol())
    page = diary.session().get("/api/diary/v1/internal/export/", params={"after": 0, "limit": 10})
    body = page.json()
    assert any(change["data"] is None for change in body["changes"])  # a tombstone is in it
    jsonschema.validate(body, schema, format_checker=jsonschema.FormatChecker())
