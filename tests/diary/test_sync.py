"""The phone's offline backlog in one request: POST /api/diary/v1/sync/."""

from __future__ import annotations

import random
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from helpers import (
    API,
    ENTRIES,
    QUESTIONNAIRES,
    Actor,
    World,
    entry_body,
    entry_url,
    is_problem,
    odi_body,
    patient_actor,
)

from diary.entries.models import PainEntry
from diary.patients.services import patient_erase
from diary.questionnaires.models import QuestionnaireResponse
from shared.events.testing import published_envelopes

SYNC = API + "sync/"
FUTURE = {"field": "occurred_at", "message": "Must not be in the future."}


def _entry(occurred_at: datetime, **overrides: Any) -> dict[str, Any]:
    return {"kind": "entry", **entry_body(occurred_at=occurred_at.isoformat(), **overrides)}


def _odi(occurred_at: datetime, **overrides: Any) -> dict[str, Any]:
    answers = [2, 3, 1, 0, 2, None, 1, 2, 3, 1]
    return {"kind": "questionnaire", **odi_body(answers, occurred_at=occurred_at.isoformat())}


def _sync(actor: Actor, items: list[Any]) -> Any:
    response = actor.client().post(SYNC, {"items": items}, format="json")
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["id"] for r in results] == [item.get("id") for item in items]
    return results


def _statuses(results: list[dict[str, Any]]) -> list[str]:
    return [result["status"] for result in results]


def _listed(actor: Actor, url: str) -> list[dict[str, Any]]:
    client = actor.client()
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        body = client.get(url, {"page": page, "page_size": 200}).json()
        rows.extend(body["results"])
        if not body["next"]:
            return rows
        page += 1


def _offline_backlog(now: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """300 items kept on a phone: 100 logged with a right clock over the last three days, 100
    while the clock was two days slow, 100 in the last hour while it was three hours fast.
    Returns (the items as the phone holds them, the fast-clock ones as they truly happened)."""
    rng = random.Random(20260301)
    right = [
        (_odi if i % 10 == 0 else _entry)(now - timedelta(hours=1 + i * 0.7)) for i in range(100)
    ]
    slow = [_entry(now - timedelta(days=2, minutes=5 + i * 13, seconds=17)) for i in range(100)]
    true_times = [now - timedelta(minutes=1 + i * 0.5) for i in range(100)]
    fast = [_entry(moment + timedelta(hours=3)) for moment in true_times]
    corrected = [
        {**item, "occurred_at": moment.isoformat()}
        for item, moment in zip(fast, true_times, strict=True)
    ]
    backlog = right + slow + fast
    rng.shuffle(backlog)
    return backlog, corrected


def test_an_offline_backlog_is_stored_once_and_listed_in_the_order_it_happened(
    world: World,
) -> None:
    patient = world.patient_a
    now = datetime.now(tz=UTC)
    backlog, corrected = _offline_backlog(now)
    fast_ids = {item["id"] for item in corrected}

    first = _sync(patient, backlog)
    for item, result in zip(backlog, first, strict=True):
        if item["id"] in fast_ids:
            # Three hours ahead is beyond the clock-skew tolerance: refused, with the reason.
            assert result["status"] == "invalid"
            assert result["errors"] == [FUTURE]
        else:
            # Two days late is an entry kept offline: accepted.
            assert result["status"] == "created", result
            assert result["version"] == 1
            assert result["server_seq"] > 0
    assert len({r["server_seq"] for r in first if r["status"] == "created"}) == 200

    # The phone fixes its clock and sends the refused ones again, as they truly happened.
    assert set(_statuses(_sync(patient, corrected))) == {"created"}

    # Then it is not sure what arrived, and sends everything twice more.
    everything = [item for item in backlog if item["id"] not in fast_ids] + corrected
    random.Random(7).shuffle(everything)
    for _ in range(2):
        again = _sync(patient, everything)
        assert set(_statuses(again)) == {"duplicate"}

    assert PainEntry.objects.filter(patient_id=patient.id).count() == 290
    assert QuestionnaireResponse.objects.filter(patient_id=patient.id).count() == 10
    listed = _listed(patient, ENTRIES)
    assert len(listed) == 290
    times = [datetime.fromisoformat(row["occurred_at"]) for row in listed]
    assert times == sorted(times)
    expected = sorted(
        (datetime.fromisoformat(i["occurred_at"]), i["id"])
        for i in everything
        if i["kind"] == "entry"
    )
    assert [row["id"] for row in listed] == [entry_id for _, entry_id in expected]
    assert len(_listed(patient, QUESTIONNAIRES)) == 10


def test_one_event_per_created_item_and_none_for_repeats(world: World) -> None:
    now = datetime.now(tz=UTC)
    items = [_entry(now - timedelta(hours=i)) for i in range(1, 6)] + [_odi(now)]
    _sync(world.patient_a, items)
    _sync(world.patient_a, items)
    logged = published_envelopes("diary.entry.logged")
    completed = published_envelopes("diary.questionnaire.completed")
    assert sorted(e["data"]["entry_id"] for e in logged) == sorted(i["id"] for i in items[:5])
    assert [e["data"]["response_id"] for e in completed] == [items[5]["id"]]
    assert all(e["subject"] == str(world.patient_a.id) for e in logged + completed)
    # ODI: 15 points over 9 answered sections of 5 = 33.3 %.
    assert completed[0]["data"]["score"] == 33.3
    # The note is free text: it never leaves the diary.
    assert all("note" not in e["data"] for e in logged)


def test_an_invalid_item_never_loses_the_good_ones(world: World) -> None:
    now = datetime.now(tz=UTC)
    good = [_entry(now - timedelta(hours=2)), _odi(now - timedelta(hours=1))]
    items = [
        good[0],
        _entry(now, nrs_now=11),
        "not an object",
        {"kind": "meal", "id": str(uuid.uuid4())},
        {**_entry(now), "patient_id": str(world.patient_b.id)},
        {**_odi(now), "answers": [1, 2]},
        {"kind": "entry", "id": "not-a-uuid", "nrs_now": 3},
        good[1],
    ]
    response = world.patient_a.client().post(SYNC, {"items": items}, format="json")
    assert response.status_code == 200
    results = response.json()["results"]
    assert _statuses(results) == [
        "created",
        *["invalid"] * 3,
        "created",
        *["invalid"] * 2,
        "created",
    ]
    assert results[1]["errors"] == [
        {"field": "nrs_now", "message": "Must be a whole number from 0 to 10."}
    ]
    assert results[2]["id"] is None
    assert results[2]["errors"][0]["message"] == "Must be a JSON object."
    assert results[3]["errors"] == [
        {"field": "kind", "message": "Must be one of: entry, questionnaire."}
    ]
    assert results[5]["errors"][0]["field"] == "answers"
    assert results[6]["id"] is None
    assert {e["field"] for e in results[6]["errors"]} >= {"id", "occurred_at", "timezone"}
    assert PainEntry.objects.filter(patient_id=world.patient_a.id).count() == 2
    assert QuestionnaireResponse.objects.filter(patient_id=world.patient_a.id).count() == 1
    # The token decides whose diary it is: a patient id in the body changes nothing.
    assert not PainEntry.objects.filter(patient_id=world.patient_b.id).exists()


def test_what_the_patient_wrote_comes_back_exactly(world: World) -> None:
    notes = [
        'She said "NULL", then {left, right} \\ and a backslash\\',
        "NULL",
        "line one\nline two\ttabbed, 'quoted' ünïcödé 痛み 🙂",
        "",
    ]
    now = datetime.now(tz=UTC)
    items = [
        _entry(now - timedelta(hours=i + 1), note=note, medications=[{"name": note or "x"}])
        for i, note in enumerate(notes)
    ]
    assert set(_statuses(_sync(world.patient_a, items))) == {"created"}
    for item, note in zip(items, notes, strict=True):
        stored = world.patient_a.client().get(entry_url(item["id"])).json()
        assert stored["note"] == note
        assert stored["medications"][0]["name"] == (note or "x").strip()


def test_the_same_id_with_another_body_is_a_conflict(world: World) -> None:
    now = datetime.now(tz=UTC)
    item = _entry(now - timedelta(hours=1))
    _sync(world.patient_a, [item])
    changed = {**item, "nrs_now": (item["nrs_now"] + 1) % 11}
    [result] = _sync(world.patient_a, [changed])
    assert result["status"] == "conflict"
    assert result["server_seq"] is None
    assert PainEntry.objects.get(pk=item["id"]).nrs_now == item["nrs_now"]


def test_another_patients_id_is_a_conflict_that_reveals_nothing(world: World) -> None:
    item = _entry(datetime.now(tz=UTC) - timedelta(hours=1))
    _sync(world.patient_a, [item])
    [result] = _sync(world.patient_b, [item])
    assert result == {
        "id": item["id"],
        "kind": "entry",
        "status": "conflict",
        "errors": [],
        "server_seq": None,
        "version": None,
        "deleted": False,
    }
    assert PainEntry.objects.get(pk=item["id"]).patient_id == world.patient_a.id


def test_an_id_repeated_within_one_batch_is_stored_once(world: World) -> None:
    item = _entry(datetime.now(tz=UTC) - timedelta(hours=1))
    other_body = {**item, "nrs_now": (item["nrs_now"] + 1) % 11}
    results = _sync(world.patient_a, [item, item, other_body])
    assert _statuses(results) == ["created", "duplicate", "conflict"]
    assert results[0]["server_seq"] == results[1]["server_seq"]
    assert PainEntry.objects.filter(pk=item["id"]).count() == 1
    assert len(published_envelopes("diary.entry.logged")) == 1


def test_an_item_sent_again_after_it_was_deleted_is_not_revived(world: World) -> None:
    item = _entry(datetime.now(tz=UTC) - timedelta(hours=1))
    _sync(world.patient_a, [item])
    assert world.patient_a.client().delete(entry_url(item["id"])).status_code == 204
    [result] = _sync(world.patient_a, [item])
    assert result["status"] == "duplicate"
    assert result["deleted"] is True
    assert result["version"] == 2
    assert world.patient_a.client().get(entry_url(item["id"])).status_code == 404


def test_a_prompt_answered_by_another_patient_is_refused_for_that_item_only(world: World) -> None:
    prompt_id = str(uuid.uuid4())
    now = datetime.now(tz=UTC)
    _sync(world.patient_b, [_entry(now - timedelta(hours=3), prompt_id=prompt_id)])
    items = [_entry(now - timedelta(hours=2), prompt_id=prompt_id), _entry(now)]
    results = _sync(world.patient_a, items)
    assert _statuses(results) == ["invalid", "created"]
    assert results[0]["errors"][0]["field"] == "prompt_id"


def test_a_batch_over_500_items_is_refused_whole(world: World) -> None:
    now = datetime.now(tz=UTC)
    items = [_entry(now - timedelta(minutes=i + 1), note="") for i in range(501)]
    response = world.patient_a.client().post(SYNC, {"items": items}, format="json")
    assert is_problem(response, 413, "too-many-items")
    assert not PainEntry.objects.filter(patient_id=world.patient_a.id).exists()
    assert set(_statuses(_sync(world.patient_a, items[:500]))) == {"created"}


def test_a_body_over_the_size_limit_is_refused_before_it_is_read(world: World) -> None:
    item = _entry(datetime.now(tz=UTC), note="x" * 2000)
    response = world.patient_a.client().post(SYNC, {"items": [item] * 500}, format="json")
    assert is_problem(response, 413, "payload-too-large")


def test_a_malformed_request_is_refused_whole(world: World) -> None:
    client = world.patient_a.client()
    assert is_problem(client.post(SYNC, {"entries": []}, format="json"), 400, "validation-error")
    assert is_problem(client.post(SYNC, {"items": {}}, format="json"), 400, "validation-error")
    assert is_problem(client.post(SYNC, [], format="json"), 400, "validation-error")
    empty = client.post(SYNC, {"items": []}, format="json")
    assert empty.status_code == 200
    assert empty.json() == {"results": []}


def test_only_patients_sync(world: World) -> None:
    item = _entry(datetime.now(tz=UTC))
    for actor in (world.clinician, world.clinic_admin, world.system_admin):
        response = actor.client().post(SYNC, {"items": [item]}, format="json")
        assert is_problem(response, 403)
    assert not PainEntry.objects.exists()


def test_an_erased_patient_syncs_nothing(world: World) -> None:
    patient_erase(patient_id=world.patient_a.id, clinic_id=world.clinic_id)
    item = _entry(datetime.now(tz=UTC) - timedelta(hours=1))
    response = world.patient_a.client().post(SYNC, {"items": [item]}, format="json")
    assert is_problem(response, 403, "patient-erased")
    assert not PainEntry.objects.filter(pk=item["id"]).exists()


def test_a_patient_unknown_to_the_diary_syncs_into_the_clinic_of_their_token(db: None) -> None:
    clinic_id = uuid.uuid4()
    patient = patient_actor(clinic_id, enrolled=False)
    [result] = _sync(patient, [_entry(datetime.now(tz=UTC) - timedelta(hours=1))])
    assert result["status"] == "created"
    [event] = published_envelopes("diary.entry.logged")
    assert event["data"]["clinic_id"] == str(clinic_id)


def _sync_in_parallel(actor: Actor, items: list[dict[str, Any]], times: int) -> list[Any]:
    barrier = threading.Barrier(times)
    answers: list[Any] = [None] * times

    def post(index: int) -> None:
        try:
            client = actor.client()
            barrier.wait(timeout=10)
            answers[index] = client.post(SYNC, {"items": items}, format="json")
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


@pytest.mark.django_db(transaction=True)
def test_the_same_batch_posted_in_parallel_is_stored_once_and_both_answers_agree() -> None:
    patient = patient_actor(uuid.uuid4())
    now = datetime.now(tz=UTC)
    items = [_entry(now - timedelta(minutes=i + 1)) for i in range(150)]
    items += [_odi(now - timedelta(hours=i + 1)) for i in range(20)]
    answers = _sync_in_parallel(patient, items, times=3)
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    results = [answer.json()["results"] for answer in answers]
    for index, item in enumerate(items):
        seen = [result[index] for result in results]
        statuses = sorted(r["status"] for r in seen)
        assert statuses in (["created", "duplicate", "duplicate"],), (item["id"], statuses)
        # Whoever stored it, every answer names the same stored row.
        assert len({r["server_seq"] for r in seen}) == 1
    assert PainEntry.objects.count() == 150
    assert QuestionnaireResponse.objects.count() == 20
    assert len(published_envelopes("diary.entry.logged")) == 150
    assert len(published_envelopes("diary.questionnaire.completed")) == 20


@pytest.mark.django_db(transaction=True)
def test_overlapping_batches_in_another_order_in_parallel_do_not_deadlock() -> None:
    patient = patient_actor(uuid.uuid4())
    now = datetime.now(tz=UTC)
    items = [_entry(now - timedelta(minutes=i + 1)) for i in range(200)]
    reversed_items = list(reversed(items))
    barrier = threading.Barrier(2)
    answers: list[Any] = [None, None]

    def post(index: int, batch: list[dict[str, Any]]) -> None:
        try:
            client = patient.client()
            barrier.wait(timeout=10)
            answers[index] = client.post(SYNC, {"items": batch}, format="json")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=post, args=(0, items)),
        threading.Thread(target=post, args=(1, reversed_items)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [answer.status_code for answer in answers] == [200, 200]
    assert PainEntry.objects.count() == 200
    created = sum(
        1 for answer in answers for r in answer.json()["results"] if r["status"] == "created"
    )
    assert created == 200
