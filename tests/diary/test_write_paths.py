"""The fast write paths answer exactly as the rules they stand in for: a batch is checked, digested
and its events checked as each item alone would be; an entry reads as its documented serializer
writes it; a one-statement write is all or nothing; the patient's row is what decides."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from helpers import (
    API,
    ENTRIES,
    Actor,
    World,
    create_entry,
    entry_body,
    entry_url,
    is_problem,
    patient_actor,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diary.common.creation import Candidate, created_row
from diary.entries.apis import EntryOutputSerializer, entry_representation
from diary.entries.choices import BODY_REGIONS, SIDE_EFFECTS
from diary.entries.models import PainEntry
from diary.entries.services import (
    EVENT_LOGGED,
    entries_events_data,
    entry_candidates,
    entry_create,
    entry_digest,
    entry_digests,
)
from diary.entries.validation import CO_TREATMENTS, validate_entries, validate_entry
from diary.patients.models import Patient
from diary.patients.services import patient_erase
from shared.auth.principal import TokenUser
from shared.events.catalogue import InvalidEvent, validate_envelope, validate_envelopes
from shared.events.testing import published_envelopes
from shared.outbox import services as outbox_services
from shared.outbox.models import OutboxEvent

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SYNC = API + "sync/"

# --- Checking a batch -------------------------------------------------------------------------

_uuid_texts = st.uuids().map(str)
_instants = st.datetimes(
    min_value=datetime(1999, 6, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
    max_value=datetime(2026, 3, 2),  # noqa: DTZ001
    timezones=st.just(UTC),
)


def _scores() -> st.SearchStrategy[Any]:
    return st.one_of(st.integers(-1, 11), st.booleans(), st.floats(0, 10), st.none(), st.just("7"))


def _codes(allowed: frozenset[str]) -> st.SearchStrategy[Any]:
    code = st.sampled_from([*sorted(allowed), "elbow", ""])
    return st.one_of(
        st.lists(code, max_size=4),
        st.none(),
        st.just("lower_back_left"),
        st.lists(st.integers(0, 3), max_size=2),
        st.just([["nested"]]),
    )


_medication = st.one_of(
    st.fixed_dictionaries(
        {"name": st.sampled_from(["Ibuprofen 200mg", "Paracetamol", " Nurofen ", "  ", "x" * 101])},
        optional={
            "dose": st.one_of(st.none(), st.sampled_from(["1 g", " 2 tablets ", ""]), st.just(2)),
            "nsaid": st.booleans(),
        },
    ),
    st.just({"dose": "1 g"}),
    st.just({"name": "Aleve", "strength": "high"}),
    st.just("Aleve"),
    st.just({"name": ["Aleve"]}),
)

_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "id": st.one_of(_uuid_texts, _uuid_texts.map(str.upper), st.just("12"), st.none(), st.just(5)),
    "occurred_at": st.one_of(
        _instants.map(lambda d: d.isoformat()),
        _instants.map(lambda d: d.astimezone(UTC).replace(tzinfo=None).isoformat()),
        _instants.map(lambda d: (d + timedelta(hours=3)).isoformat()),
        st.just("yesterday"),
        st.none(),
    ),
    "timezone": st.one_of(
        st.sampled_from(["Europe/London", "UTC", "Asia/Kolkata", "Mars/Olympus", ""]),
        st.none(),
        st.just(1),
    ),
    "nrs_now": _scores(),
    "nrs_worst_24h": _scores(),
    "nrs_average_7d": _scores(),
    "body_regions": _codes(BODY_REGIONS),
    "medications": st.one_of(st.lists(_medication, max_size=3), st.none(), st.just({"a": 1})),
    "side_effects": _codes(SIDE_EFFECTS),
    "co_treatments": _codes(CO_TREATMENTS),
    "prompt_id": st.one_of(st.none(), _uuid_texts, st.just("prompt")),
    "note": st.one_of(
        st.none(), st.text(max_size=40), st.just('a "quoted" \\ note'), st.just("a\x00b")
    ),
}


@st.composite
def _entry_bodies(draw: st.DrawFn) -> Any:
    body: dict[str, Any] = {
        "id": str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))),
        "occurred_at": (NOW - timedelta(hours=draw(st.integers(1, 500)))).isoformat(),
        "timezone": "Europe/London",
        "nrs_now": draw(st.integers(0, 10)),
    }
    for name in draw(st.lists(st.sampled_from(sorted(_FIELDS)), max_size=5, unique=True)):
        if draw(st.booleans()):
            body[name] = draw(_FIELDS[name])
        else:
            body.pop(name, None)
    extra = draw(st.sampled_from([None, "nsaid", "server_seq", "colour"]))
    if extra:
        body[extra] = True
    return draw(st.sampled_from([body, body, body, [body], "entry"]))


_batches = st.lists(_entry_bodies(), min_size=1, max_size=8).flatmap(
    # Repeats of the same object: what a batch's shared lists look like.
    lambda items: st.just(items + items[: len(items) // 2])
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=_batches)
def test_checking_a_batch_gives_each_item_what_checking_it_alone_gives(items: list[Any]) -> None:
    assert validate_entries(items, now=NOW) == [validate_entry(item, now=NOW) for item in items]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=_batches, owner=st.uuids())
def test_a_batch_of_creates_has_the_digests_of_its_creates(
    items: list[Any], owner: uuid.UUID
) -> None:
    cleaned = [values for values, errors in validate_entries(items, now=NOW) if not errors]
    assert entry_digests(cleaned, patient_id=owner) == [
        entry_digest(values, patient_id=owner) for values in cleaned
    ]


# --- Checking a batch of events ---------------------------------------------------------------


def _logged_envelopes(count: int) -> list[dict[str, Any]]:
    patient_id, clinic_id = uuid.uuid4(), uuid.uuid4()
    bodies = [entry_body(occurred_at=(NOW - timedelta(hours=i + 1)).isoformat()) for i in range(3)]
    cleaned = [validate_entry(body, now=NOW)[0] for body in bodies]
    data = entries_events_data(entry_candidates(cleaned, patient_id), patient_id, clinic_id)
    return [
        {
            "id": str(uuid.uuid4()),
            "type": EVENT_LOGGED,
            "version": 1,
            "occurred_at": "2026-03-01T12:00:00Z",
            "producer": "diary",
            "subject": str(patient_id),
            "data": dict(data[i % len(data)]),
        }
        for i in range(count)
    ]


_SPOILERS: list[tuple[str, str, Any]] = [
    ("data", "nrs", True),
    ("data", "nrs", 11),
    ("data", "nrs", 6.0),
    ("data", "nrs", None),
    ("data", "nsaid", 1),
    ("data", "side_effects", "fever"),
    ("data", "side_effects", [None]),
    ("data", "prompt_id", "ABC"),
    ("data", "entry_id", str(uuid.uuid4()).upper()),
    ("data", "recorded_at", "2026-03-01T12:00:00+01:00"),
    ("data", "patient_id", str(uuid.uuid4())),
    ("data", "note", "private"),
    ("drop", "red_flag", None),
    ("drop", "co_treatments", None),
    ("envelope", "version", True),
    ("envelope", "version", 2),
    ("envelope", "producer", "reminders"),
    ("envelope", "subject", "not-a-uuid"),
    ("envelope", "occurred_at", "2026-03-01 12:00"),
    ("envelope", "type", "diary.entry.renamed"),
    ("envelope", "data", []),
]


def _problems(check: Any) -> list[str] | None:
    try:
        check()
    except InvalidEvent as exc:
        return exc.problems
    return None


@settings(max_examples=200, deadline=None)
@given(
    count=st.integers(1, 6),
    spoils=st.lists(st.tuples(st.integers(0, 5), st.sampled_from(_SPOILERS)), max_size=3),
)
def test_a_batch_of_events_is_refused_exactly_where_one_by_one_refuses(
    count: int, spoils: list[tuple[int, tuple[str, str, Any]]]
) -> None:
    envelopes = _logged_envelopes(count)
    for index, (where, name, value) in spoils:
        envelope = envelopes[index % count]
        data = envelope["data"]
        if where == "data" and isinstance(data, dict):
            data[name] = value
        elif where == "drop" and isinstance(data, dict):
            data.pop(name, None)
        elif where == "envelope":
            envelope[name] = value
    one_by_one = _problems(lambda: [validate_envelope(e) for e in envelopes])
    assert _problems(lambda: validate_envelopes(envelopes)) == one_by_one
    if not spoils:
        assert one_by_one is None


# --- Answering with an entry ------------------------------------------------------------------


@pytest.mark.django_db
def test_an_entry_reads_as_its_documented_serializer_writes_it(world: World) -> None:
    create_entry(world.patient_a)
    create_entry(
        world.patient_a,
        prompt_id=str(uuid.uuid4()),
        medications=[{"name": "Nurofen 200mg"}, {"name": "Paracetamol", "dose": "1 g"}],
        side_effects=["fever", "bruising"],
        nrs_worst_24h=None,
        note="",
    )
    for entry in PainEntry.objects.all():
        assert entry_representation(entry) == EntryOutputSerializer(entry).data
    # A created entry is answered from what was written, before any read: the same again.
    cleaned, _ = validate_entry(entry_body(), now=NOW)
    [candidate] = entry_candidates([cleaned], world.patient_a.id)
    row = created_row(PainEntry, candidate, patient_id=world.patient_a.id, server_seq=7, now=NOW)
    assert entry_representation(row) == EntryOutputSerializer(row).data


# --- Negotiating --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("accept", "content_type", "status"),
    [
        (None, "application/json", 201),
        ("*/*", "application/json", 201),
        ("application/json", "application/json", 201),
        ("application/json; indent=2", "application/json; charset=utf-8", 201),
        ("text/html", "application/json", 406),
        (None, "application/json; charset=utf-16", 201),
        (None, "text/plain", 415),
    ],
)
def test_every_accept_and_content_type_is_answered_as_before(
    world: World, accept: str | None, content_type: str, status: int
) -> None:
    body = entry_body()
    encoding = content_type.partition("charset=")[2] or "utf-8"
    extra = {"HTTP_ACCEPT": accept} if accept else {}
    response = world.patient_a.client().post(
        ENTRIES, json.dumps(body).encode(encoding), content_type=content_type, **extra
    )
    assert response.status_code == status, response.content
    if status == 201:
        assert response.json()["id"] == body["id"]
    else:
        assert response["Content-Type"] == "application/problem+json"


@pytest.mark.django_db
def test_a_malformed_body_is_a_parse_error(world: World) -> None:
    response = world.patient_a.client().post(ENTRIES, b'{"id": ', content_type="application/json")
    assert is_problem(response, 400)
    assert "JSON parse error" in response.json()["detail"]


# --- One statement, one transaction -----------------------------------------------------------


def _token_user(actor: Actor, clinic_id: uuid.UUID | None = None) -> TokenUser:
    return TokenUser(
        id=actor.id,
        roles=frozenset(actor.roles),
        clinic_id=clinic_id or actor.clinic_id,
        token_id="test",
        expires_at=datetime.now(tz=UTC) + timedelta(minutes=5),
    )


@pytest.mark.django_db(transaction=True)
def test_an_entry_whose_event_cannot_be_written_is_not_stored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    patient = patient_actor(uuid.uuid4())
    create_entry(patient)
    taken = OutboxEvent.objects.get().id
    # The next event would take an id the outbox holds already: its INSERT fails.
    monkeypatch.setattr(outbox_services.uuid, "uuid4", lambda: taken)
    cleaned, _ = validate_entry(entry_body())
    with pytest.raises(IntegrityError):
        entry_create(user=_token_user(patient), values=cleaned)
    assert not PainEntry.objects.filter(pk=cleaned["id"]).exists()
    assert OutboxEvent.objects.count() == 1


@pytest.mark.django_db
def test_a_patient_who_moved_clinic_logs_into_the_clinic_the_diary_knows(world: World) -> None:
    """Identity moved the patient (the diary applied the event); the phone's token is older."""
    Patient.objects.filter(pk=world.patient_a.id).update(clinic_id=world.other_clinic_id)
    stale = Actor(world.patient_a.id, world.patient_a.roles, world.clinic_id)
    create_entry(stale)
    response = stale.client().post(
        SYNC, {"items": [{"kind": "entry", **entry_body()}]}, format="json"
    )
    assert response.json()["results"][0]["status"] == "created"
    events = published_envelopes(EVENT_LOGGED)
    assert [e["data"]["clinic_id"] for e in events] == [str(world.other_clinic_id)] * 2


def _a_backend_waits_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        for _ in range(200):
            # Inside a transaction the activity view is a snapshot unless cleared.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.05)
    return False


@pytest.mark.django_db(transaction=True)
def test_a_write_waiting_for_an_erasure_is_refused_and_leaves_nothing() -> None:
    patient = patient_actor(uuid.uuid4())
    body = entry_body()
    started, answers = threading.Event(), []

    def write() -> None:
        try:
            started.set()
            answers.append(patient.client().post(ENTRIES, body, format="json"))
        finally:
            connection.close()

    with transaction.atomic():
        # The erasure holds the patient's row while it deletes their diary.
        Patient.objects.select_for_update().get(pk=patient.id)
        writer = threading.Thread(target=write)
        writer.start()
        assert started.wait(timeout=10)
        assert _a_backend_waits_for_a_lock(), "the write must wait for the erasure"
        patient_erase(patient_id=patient.id, clinic_id=patient.clinic_id or uuid.uuid4())
    writer.join(timeout=30)
    [answer] = answers
    assert is_problem(answer, 403, "patient-erased")
    assert not PainEntry.objects.filter(pk=body["id"]).exists()
    assert not OutboxEvent.objects.filter(subject=str(patient.id)).exists()


@pytest.mark.django_db
def test_a_repeat_after_a_correction_answers_the_corrected_entry(world: World) -> None:
    client = world.patient_a.client()
    body = entry_body()
    client.post(ENTRIES, body, format="json")
    client.patch(entry_url(body["id"]), {"nrs_now": 1}, format="json", HTTP_IF_MATCH='"1"')
    again = client.post(ENTRIES, body, format="json")
    assert again.status_code == 200
    assert again.json()["nrs_now"] == 1
    assert again.json()["version"] == 2


def test_candidates_carry_what_the_server_derives() -> None:
    cleaned, _ = validate_entry(
        entry_body(medications=[{"name": "Voltarol 50mg"}], side_effects=["new_numbness"]),
        now=NOW,
    )
    [candidate] = entry_candidates([cleaned], uuid.uuid4())
    assert isinstance(candidate, Candidate)
    assert candidate.values["nsaid"] is True
    assert candidate.values["red_flag"] is True
    assert candidate.values["medications"] == [
        {"name": "Voltarol 50mg", "dose": None, "nsaid": True}
    ]
