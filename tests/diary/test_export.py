"""The internal export outcomes rebuilds from: GET /api/diary/v1/internal/export/."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from helpers import (
    API,
    Actor,
    World,
    create_entry,
    create_odi,
    entry_url,
    injection_url,
    is_problem,
    patient_actor,
    record_injection,
)
from rest_framework.test import APIClient

from diary.entries.models import PainEntry
from diary.entries.services import entry_log
from diary.entries.validation import validate_entry
from diary.export import horizon
from diary.injections.models import Injection
from diary.patients.models import Patient
from diary.questionnaires.models import QuestionnaireResponse
from diary.sync.services import sync_batch
from shared.auth.principal import TokenUser
from shared.testing.tokens import access_token

EXPORT = API + "internal/export/"
SECRET_NOTE = "Argued with my sister about the will"
MEDICATION = "Grandma's leftover tramadol"


def _service() -> APIClient:
    client = APIClient()
    token = access_token(uuid.uuid4(), roles=("service",), clinic_id=None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _page(client: APIClient, after: int, limit: int | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"after": after}
    if limit is not None:
        params["limit"] = limit
    response = client.get(EXPORT, params)
    assert response.status_code == 200, response.content
    return dict(response.json())


def _all_changes(after: int = 0, limit: int = 7) -> tuple[list[dict[str, Any]], int]:
    """Every change after ``after``, page by page; and where the next call starts."""
    client = _service()
    changes: list[dict[str, Any]] = []
    while True:
        page = _page(client, after, limit)
        assert len(page["changes"]) <= limit
        changes.extend(page["changes"])
        assert page["next_after"] >= after
        after = page["next_after"]
        if not page["has_more"]:
            return changes, after


def _diaries(world: World) -> dict[str, Any]:
    a, b = world.patient_a, world.patient_b
    injection = record_injection(world.clinician, a)
    entries = [create_entry(a, note=SECRET_NOTE) for _ in range(4)]
    entries += [create_entry(b, medications=[{"name": MEDICATION}]) for _ in range(3)]
    odi = create_odi(b, [1, 2, 3, 2, 1, 0, 1, 2, 3, 4])
    return {"injection": injection, "entries": entries, "odi": odi}


def test_only_a_service_token_reads_the_export(world: World) -> None:
    for actor in (world.patient_a, world.clinician, world.clinic_admin, world.system_admin):
        assert is_problem(actor.client().get(EXPORT), 403, "forbidden")
    assert is_problem(APIClient().get(EXPORT), 401, "unauthenticated")
    assert _service().get(EXPORT).status_code == 200


def test_pages_follow_the_server_sequence_without_gaps_or_repeats(world: World) -> None:
    _, start = _all_changes()
    made = _diaries(world)
    changes, end = _all_changes(after=start, limit=3)
    seqs = [change["server_seq"] for change in changes]
    assert seqs == sorted(set(seqs))
    assert end == seqs[-1]
    expected = {("injection", made["injection"]["id"]), ("questionnaire", made["odi"]["id"])}
    expected |= {("entry", entry["id"]) for entry in made["entries"]}
    assert {(change["kind"], change["id"]) for change in changes} == expected
    assert len(changes) == len(expected)
    # Caught up: asking again from the end finds nothing new.
    assert _page(_service(), end) == {"changes": [], "next_after": end, "has_more": False}


def test_a_change_carries_what_outcomes_needs(world: World) -> None:
    _, start = _all_changes()
    made = _diaries(world)
    changes, _ = _all_changes(after=start, limit=100)
    by_id = {change["id"]: change for change in changes}
    injection = by_id[made["injection"]["id"]]
    assert injection["patient_id"] == str(world.patient_a.id)
    assert injection["clinic_id"] == str(world.clinic_id)
    assert injection["deleted"] is False
    assert injection["data"]["site"] == "sij_intra_articular"
    assert injection["data"]["solution"] == "dextrose_25"
    assert injection["data"]["course_id"] == made["injection"]["course_id"]
    entry = by_id[made["entries"][0]["id"]]
    assert entry["data"]["nrs"] == made["entries"][0]["nrs_now"]
    assert entry["data"]["side_effects"] == ["soreness_at_site"]
    assert {"nsaid", "red_flag", "recorded_at", "co_treatments"} <= set(entry["data"])
    odi = by_id[made["odi"]["id"]]
    assert odi["data"]["instrument"] == "odi"
    assert odi["data"]["score"] == made["odi"]["score"]
    assert odi["data"]["section_scores"] == [1, 2, 3, 2, 1, 0, 1, 2, 3, 4]


def test_free_text_never_appears_in_the_export(world: World) -> None:
    _diaries(world)
    response = _service().get(EXPORT, {"limit": 1000})
    text = response.content.decode()
    assert '"entry"' in text
    assert SECRET_NOTE not in text
    assert MEDICATION not in text
    assert "note" not in json.dumps([c["data"] for c in response.json()["changes"]])


def test_corrections_and_deletions_come_again_as_new_changes(world: World) -> None:
    made = _diaries(world)
    _, start = _all_changes()
    corrected, deleted = made["entries"][0]["id"], made["entries"][1]["id"]
    patient = world.patient_a.client()
    response = patient.patch(
        entry_url(corrected), {"nrs_now": 1}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert response.status_code == 200, response.content
    assert patient.delete(entry_url(deleted)).status_code == 204
    removed = world.clinician.client().delete(injection_url(made["injection"]["id"]))
    assert removed.status_code == 204
    changes, _ = _all_changes(after=start)
    assert [(c["kind"], c["id"]) for c in changes] == [
        ("entry", corrected),
        ("entry", deleted),
        ("injection", made["injection"]["id"]),
    ]
    first, second, third = changes
    assert first["version"] == 2
    assert first["data"]["nrs"] == 1
    assert first["deleted"] is False
    for tombstone in (second, third):
        assert tombstone["deleted"] is True
        assert tombstone["deleted_at"] is not None
        assert tombstone["data"] is None
        assert tombstone["patient_id"] == str(world.patient_a.id)


def test_a_rebuild_from_the_export_matches_the_diary(world: World) -> None:
    made = _diaries(world)
    client = world.patient_a.client()
    corrected = client.patch(
        entry_url(made["entries"][2]["id"]), {"nrs_now": 0}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert corrected.status_code == 200
    assert client.delete(entry_url(made["entries"][3]["id"])).status_code == 204
    changes, _ = _all_changes(limit=4)
    rebuilt: dict[tuple[str, str], dict[str, Any]] = {}
    for change in changes:
        key = (change["kind"], change["id"])
        if change["deleted"]:
            rebuilt.pop(key, None)
        else:
            rebuilt[key] = change["data"]
    live_entries = PainEntry.objects.filter(deleted_at__isnull=True)
    assert {k[1] for k in rebuilt if k[0] == "entry"} == {str(e.pk) for e in live_entries}
    assert rebuilt[("entry", made["entries"][2]["id"])]["nrs"] == 0
    assert {k[1] for k in rebuilt if k[0] == "injection"} == {
        str(i.pk) for i in Injection.objects.filter(deleted_at__isnull=True)
    }
    assert {k[1] for k in rebuilt if k[0] == "questionnaire"} == {
        str(r.pk) for r in QuestionnaireResponse.objects.all()
    }


def test_bad_paging_parameters_are_refused(db: None) -> None:
    client = _service()
    for params in ({"after": "-1"}, {"after": "x"}, {"limit": "0"}, {"limit": "1001"}):
        assert is_problem(client.get(EXPORT, params), 400, "validation-error"), params


def _entry_item(hours_ago: float) -> dict[str, Any]:
    return {
        "kind": "entry",
        "id": str(uuid.uuid4()),
        "occurred_at": (datetime.now(tz=UTC) - timedelta(hours=hours_ago)).isoformat(),
        "timezone": "Europe/London",
        "nrs_now": 4,
    }


def _as_user(actor: Actor) -> TokenUser:
    return TokenUser(
        id=actor.id,
        roles=frozenset(actor.roles),
        clinic_id=actor.clinic_id,
        token_id="test",
        expires_at=datetime.now(tz=UTC) + timedelta(minutes=5),
    )


def _slow_sync(actor: Actor, item: dict[str, Any]) -> None:
    sync_batch(user=_as_user(actor), items=[item])


def _slow_single_entry(actor: Actor, item: dict[str, Any]) -> None:
    cleaned, errors = validate_entry({k: v for k, v in item.items() if k != "kind"})
    assert not errors
    entry_log(patient=Patient.objects.get(pk=actor.id), values=cleaned)


@pytest.mark.parametrize("write", [_slow_sync, _slow_single_entry], ids=["sync", "single"])
@pytest.mark.django_db(transaction=True)
def test_a_change_still_in_flight_holds_back_the_changes_numbered_after_it(
    monkeypatch: pytest.MonkeyPatch, write: Any
) -> None:
    """A writer took a number and has not committed; a later writer committed a higher one. The
    export must not hand out the higher one, or a consumer moving past it would never see the
    first: it answers what is settled, and both once the first commits."""
    monkeypatch.setattr(horizon, "BARRIER_TIMEOUT_MS", 200)
    early, late = patient_actor(uuid.uuid4()), patient_actor(uuid.uuid4())
    _, start = _all_changes()
    reserved, release = threading.Event(), threading.Event()
    slow_item = _entry_item(2)
    failures: list[BaseException] = []

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                write(early, slow_item)
                reserved.set()
                release.wait(timeout=30)
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    writer = threading.Thread(target=slow_writer)
    writer.start()
    try:
        assert reserved.wait(timeout=30)
        fast = late.client().post(API + "sync/", {"items": [_entry_item(1)]}, format="json")
        assert fast.json()["results"][0]["status"] == "created"
        fast_seq = fast.json()["results"][0]["server_seq"]
        page = _page(_service(), start)
        assert fast_seq not in [c["server_seq"] for c in page["changes"]]
        assert page["next_after"] < fast_seq
    finally:
        release.set()
        writer.join(timeout=30)
    assert not failures
    changes, _ = _all_changes(after=page["next_after"])
    assert [c["id"] for c in changes] == [slow_item["id"], fast.json()["results"][0]["id"]]
