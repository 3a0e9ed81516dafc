"""rows_update writes each row's own values in one statement per batch on PostgreSQL and one
per row on SQLite (the embedded default): the same rows end the same on both, rows not passed
are untouched, and the row history records every change with its actor."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sharedtest.models import TrackedNote
from sqlite_script import run_on_sqlite

from shared.audit.context import audit_context
from shared.audit.models import HistoryRecord
from shared.db.update import rows_update

pytestmark = pytest.mark.django_db

CHANGES: list[dict[str, Any]] = [
    {"score": 0, "flare": True, "details": {"site": "SIJ", "side": "left"}},
    {"score": 10, "flare": False, "details": {}},
    {"score": 4, "flare": True, "details": {"quote": 'it\'s "sharp"'}},
]


def _notes(patient_id: uuid.UUID) -> list[TrackedNote]:
    return [
        TrackedNote.objects.create(patient_id=patient_id, score=5, note=f"note {n}")
        for n in range(5)
    ]


def _change(notes: list[TrackedNote]) -> list[TrackedNote]:
    changed = []
    for note, values in zip(notes[::2], CHANGES, strict=True):  # the first, third and fifth
        for name, value in values.items():
            setattr(note, name, value)
        note.note = "not written: not among the fields"
        changed.append(note)
    return changed


def _stored(notes: list[TrackedNote]) -> list[tuple[int, bool, dict[str, Any], str]]:
    by_pk = {n.pk: n for n in TrackedNote.objects.filter(pk__in=[n.pk for n in notes])}
    return [
        (by_pk[n.pk].score, by_pk[n.pk].flare, by_pk[n.pk].details, by_pk[n.pk].note) for n in notes
    ]


EXPECTED = [
    (0, True, {"site": "SIJ", "side": "left"}, "note 0"),
    (5, False, {}, "note 1"),
    (10, False, {}, "note 2"),
    (5, False, {}, "note 3"),
    (4, True, {"quote": 'it\'s "sharp"'}, "note 4"),
]


def test_each_row_gets_its_own_values_across_batches_and_the_rest_are_untouched() -> None:
    notes = _notes(uuid.uuid4())
    actor = uuid.uuid4()

    with audit_context(actor_id=actor, request_id="req-rows"):
        rows_update(TrackedNote, _change(notes), ["score", "flare", "details"], batch_size=2)

    assert _stored(notes) == EXPECTED
    updates = HistoryRecord.objects.filter(
        row_pk__in=[str(n.pk) for n in notes], operation="U"
    ).values_list("row_pk", "actor_id", "request_id")
    assert sorted(updates) == sorted(
        (str(n.pk), actor, "req-rows") for n in (notes[0], notes[2], notes[4])
    )


def test_nothing_to_write_runs_no_statement(django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        rows_update(TrackedNote, [], ["score"])


SQLITE_SCRIPT = r"""
import json, sys, uuid
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from test_rows_update import _change, _notes, _stored
from sharedtest.models import TrackedNote
from shared.db.update import rows_update
notes = _notes(uuid.uuid4())
rows_update(TrackedNote, _change(notes), ["score", "flare", "details"], batch_size=2)
print(json.dumps(_stored(notes)))
"""


def test_sqlite_ends_with_the_same_rows(tmp_path: Path) -> None:
    stored = run_on_sqlite(SQLITE_SCRIPT, tmp_path / "rows.sqlite3")

    assert [tuple(row) for row in stored] == EXPECTED
