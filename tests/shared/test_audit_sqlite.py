"""The same migrations give the embedded default (SQLite) the row history and the append-only
guards. Runs in a separate process against a throwaway SQLite file."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlite_script import run_on_sqlite

SCRIPT = r"""
import json, sys, uuid
import django
django.setup()
from django.core.management import call_command
from django.db import DatabaseError, connection, models, transaction

call_command("migrate", verbosity=0)

from shared.audit.context import audit_context
from shared.audit.models import AppendOnlyError, AuditEntry, HistoryRecord
from shared.audit.services import audit_record
from sharedtest.models import TrackedNote

TABLE = TrackedNote._meta.db_table
actor = uuid.UUID(sys.argv[1])
out = {}


def history_triggers():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [TABLE]
        )
        return cursor.fetchone()[0]


with audit_context(actor_id=actor, request_id="req-sqlite"):
    note = TrackedNote.objects.create(
        patient_id=actor, score=7, note="private words", details={"site": "SIJ"}
    )
    TrackedNote.objects.filter(pk=note.pk).update(score=3, note="more private words")
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET flare = 1")
    TrackedNote.objects.filter(pk=note.pk).delete()
out["note_id"] = str(note.pk)
out["history"] = list(
    HistoryRecord.objects.values(
        "operation", "row_pk", "data", "changed_fields", "actor_id", "request_id"
    )
)
for record in out["history"]:
    record["actor_id"] = str(record["actor_id"])

entry = audit_record(actor_id=actor, action="test.action", target_type="thing")
refused = {}
for statement in (
    "UPDATE audit_auditentry SET action = 'rewritten'",
    "DELETE FROM audit_auditentry",
    "UPDATE audit_historyrecord SET request_id = 'rewritten'",
    "DELETE FROM audit_historyrecord",
):
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
        refused[statement] = False
    except DatabaseError:
        refused[statement] = True
try:
    AuditEntry.objects.filter(pk=entry.pk).update(action="rewritten")
    refused["orm"] = False
except AppendOnlyError:
    refused["orm"] = True
out["refused"] = refused
out["entry_action"] = AuditEntry.objects.get(pk=entry.pk).action

# Most column changes make Django rebuild an SQLite table, which drops its triggers.
with connection.schema_editor() as editor:
    old = TrackedNote._meta.get_field("score")
    new = models.IntegerField()
    new.set_attributes_from_name("score")
    new.model = TrackedNote
    editor.alter_field(TrackedNote, old, new)
out["triggers_after_rebuild"] = history_triggers()
call_command("migrate", verbosity=0)
out["triggers_after_migrate"] = history_triggers()
rebuilt = TrackedNote.objects.create(patient_id=actor, score=2)
out["recorded_after_migrate"] = HistoryRecord.objects.filter(row_pk=str(rebuilt.pk)).count()
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def sqlite_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[uuid.UUID, dict[str, Any]]:
    database = tmp_path_factory.mktemp("sqlite") / "audit.sqlite3"
    actor = uuid.uuid4()
    return actor, run_on_sqlite(SCRIPT, database, str(actor))


def test_sqlite_records_every_write_with_its_actor(
    sqlite_run: tuple[uuid.UUID, dict[str, Any]],
) -> None:
    actor, out = sqlite_run
    history = out["history"]
    assert [h["operation"] for h in history] == ["I", "U", "U", "D"]
    assert {h["row_pk"] for h in history} == {out["note_id"]}
    assert {(h["actor_id"], h["request_id"]) for h in history} == {(str(actor), "req-sqlite")}
    inserted, orm_update, raw_update, _ = history
    assert inserted["data"]["details"] == {"site": "SIJ"}
    assert inserted["data"]["patient_id"] == str(actor)
    assert orm_update["changed_fields"] == ["note", "score"]
    assert raw_update["changed_fields"] == ["flare"]
    assert raw_update["data"]["flare"] is True


def test_sqlite_never_copies_an_excluded_column(
    sqlite_run: tuple[uuid.UUID, dict[str, Any]],
) -> None:
    _, out = sqlite_run
    assert all("note" not in h["data"] for h in out["history"])
    assert "private" not in json.dumps(out["history"])


def test_sqlite_refuses_to_change_or_delete_audit_records(
    sqlite_run: tuple[uuid.UUID, dict[str, Any]],
) -> None:
    _, out = sqlite_run
    assert out["refused"] == dict.fromkeys(out["refused"], True)
    assert len(out["refused"]) == 5
    assert out["entry_action"] == "test.action"


def test_sqlite_history_triggers_come_back_after_a_table_rebuild(
    sqlite_run: tuple[uuid.UUID, dict[str, Any]],
) -> None:
    _, out = sqlite_run
    assert out["triggers_after_rebuild"] == 0
    assert out["triggers_after_migrate"] == 3
    assert out["recorded_after_migrate"] == 1
