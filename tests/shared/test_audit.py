"""The audit trail and the row history on PostgreSQL: every write of a tracked table leaves a
history row, whichever way it was made, and neither log can be rewritten."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client
from rest_framework.test import APIClient
from sharedtest.models import PainScore, TrackedNote

from shared.audit import triggers
from shared.audit.context import audit_context
from shared.audit.models import AppendOnlyError, AuditEntry, HistoryRecord
from shared.audit.services import audit_read, audit_read_many, audit_record
from shared.audit.triggers import excluded_columns
from shared.auth.principal import TokenUser
from shared.testing.tokens import access_token

pytestmark = pytest.mark.django_db

TABLE = TrackedNote._meta.db_table
PATIENT = uuid.uuid4()


def history(pk: uuid.UUID) -> list[HistoryRecord]:
    return list(HistoryRecord.objects.filter(table_name=TABLE, row_pk=str(pk)))


def create_update_delete(*, score_after: int, **created: Any) -> list[HistoryRecord]:
    """Create a note, change its score, delete it: the note's history."""
    note = TrackedNote.objects.create(patient_id=PATIENT, **created)
    note.score = score_after
    note.save()
    pk = note.pk
    note.delete()
    return history(pk)


def test_insert_update_and_delete_each_leave_a_history_row() -> None:
    inserted, updated, deleted = create_update_delete(
        score=7, details={"site": "SIJ"}, score_after=4
    )
    assert [r.operation for r in (inserted, updated, deleted)] == ["I", "U", "D"]
    assert inserted.data["score"] == 7
    assert inserted.data["details"] == {"site": "SIJ"}
    assert inserted.data["patient_id"] == str(PATIENT)
    assert updated.data["score"] == 4
    assert updated.changed_fields == ["score"]
    assert deleted.data["score"] == 4  # the row as it was when deleted
    assert inserted.txid is not None
    assert inserted.txid == updated.txid  # the test runs in one transaction


def test_a_queryset_update_cannot_skip_the_history() -> None:
    first = TrackedNote.objects.create(patient_id=PATIENT, score=2)
    second = TrackedNote.objects.create(patient_id=PATIENT, score=3)

    assert TrackedNote.objects.filter(patient_id=PATIENT).update(score=9) == 2

    for note in (first, second):
        update = history(note.pk)[-1]
        assert (update.operation, update.data["score"], update.changed_fields) == (
            "U",
            9,
            ["score"],
        )


def test_raw_sql_cannot_skip_the_history() -> None:
    note = TrackedNote.objects.create(patient_id=PATIENT, score=5)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sharedtest_trackednote SET score = 1, flare = true WHERE id = %s", [note.pk]
        )
        cursor.execute("DELETE FROM sharedtest_trackednote WHERE score = 1")

    _, update, delete = history(note.pk)
    assert update.data["score"] == 1
    assert update.data["flare"] is True
    assert update.changed_fields == ["flare", "score"]
    assert delete.operation == "D"


def test_actor_and_request_id_come_from_the_audit_context() -> None:
    actor = uuid.uuid4()
    with audit_context(actor_id=actor, request_id="import-2026-03"):
        note = TrackedNote.objects.create(patient_id=PATIENT, score=6)
        with audit_context(actor_id=None):
            TrackedNote.objects.filter(pk=note.pk).update(score=5)
        TrackedNote.objects.filter(pk=note.pk).delete()
    inserted, system_update, deleted = history(note.pk)
    assert (inserted.actor_id, inserted.request_id) == (actor, "import-2026-03")
    assert (system_update.actor_id, system_update.request_id) == (None, "import-2026-03")
    assert deleted.actor_id == actor


@pytest.mark.django_db(transaction=True)
def test_an_autocommit_write_outside_any_transaction_is_attributed() -> None:
    actor = uuid.uuid4()
    assert connection.get_autocommit()
    with audit_context(actor_id=actor, request_id="autocommit-1"):
        note = TrackedNote.objects.create(patient_id=PATIENT, score=6)
        TrackedNote.objects.filter(pk=note.pk).update(score=2)
    assert [(r.operation, r.actor_id, r.request_id) for r in history(note.pk)] == [
        ("I", actor, "autocommit-1"),
        ("U", actor, "autocommit-1"),
    ]


def test_executemany_inside_a_transaction_is_attributed() -> None:
    actor = uuid.uuid4()
    rows = [(str(uuid.uuid4()), str(PATIENT), n) for n in (1, 2)]
    with audit_context(actor_id=actor), connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO sharedtest_trackednote (id, patient_id, score, flare, details, note) "
            "VALUES (%s, %s, %s, false, '{}', '')",
            rows,
        )
    for pk, _, _ in rows:
        [inserted] = history(uuid.UUID(pk))
        assert inserted.actor_id == actor


def test_one_statement_inserting_many_rows_records_each_row_once() -> None:
    actor = uuid.uuid4()
    taken = TrackedNote.objects.create(patient_id=PATIENT, score=1)
    fresh = [uuid.uuid4() for _ in range(3)]
    with audit_context(actor_id=actor, request_id="sync-42"), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO sharedtest_trackednote (id, patient_id, score, flare, details, note) "
            "SELECT id, %s, 8, false, '{\"site\": \"SIJ\"}', 'private' "
            "FROM unnest(%s::uuid[]) AS id ON CONFLICT (id) DO NOTHING",
            [PATIENT, [*fresh, taken.pk]],
        )
        assert cursor.rowcount == 3

    for pk in fresh:
        [inserted] = history(pk)
        assert (inserted.operation, inserted.actor_id, inserted.request_id) == (
            "I",
            actor,
            "sync-42",
        )
        assert inserted.data["score"] == 8
        assert inserted.data["details"] == {"site": "SIJ"}
        assert "note" not in inserted.data  # excluded, as for a single insert
    assert len(history(taken.pk)) == 1  # the row that was there: no new record
    txids = {r.txid for pk in fresh for r in history(pk)}
    assert len(txids) == 1


def test_tables_tracked_before_keep_one_record_per_insert_after_the_upgrade() -> None:
    """Tables whose single row trigger recorded inserts move to the statement trigger, and an
    insert is still recorded once, update and delete as before."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for name in triggers.PG_HISTORY_TRIGGERS[:2]:
            cursor.execute(f"DROP TRIGGER {name} ON {quote(TABLE)}")
        cursor.execute(
            f"CREATE TRIGGER audit_history AFTER INSERT OR UPDATE OR DELETE ON {quote(TABLE)} "
            "FOR EACH ROW EXECUTE FUNCTION audit_history_capture('id', 'note')"
        )
    with connection.schema_editor(atomic=False) as editor:
        triggers.pg_history_per_statement(editor)
        assert triggers._pg_tables_with_row_insert_history(editor) == []

    inserted, updated, deleted = create_update_delete(score=7, note="private", score_after=3)
    assert [r.operation for r in (inserted, updated, deleted)] == ["I", "U", "D"]
    assert "note" not in inserted.data
    assert updated.changed_fields == ["score"]


def test_writes_outside_any_context_have_no_actor() -> None:
    note = TrackedNote.objects.create(patient_id=PATIENT, score=6)
    [inserted] = history(note.pk)
    assert (inserted.actor_id, inserted.request_id) == (None, "")


def test_a_request_attributes_its_writes_to_the_caller_and_the_request() -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(PATIENT)}")
    response = client.post("/api/sharedtest/v1/notes/", {"score": 3}, format="json")
    assert response.status_code == 201, response.content

    [inserted] = HistoryRecord.objects.filter(table_name=TABLE, row_pk=response.json()["id"])
    assert inserted.actor_id == PATIENT
    assert inserted.request_id == response["X-Request-ID"]


def test_an_excluded_column_is_never_copied_but_its_change_is_named() -> None:
    secret = "told my sister about the flare"
    note = TrackedNote.objects.create(patient_id=PATIENT, score=8, note=secret)
    TrackedNote.objects.filter(pk=note.pk).update(note=secret + " again")
    TrackedNote.objects.filter(pk=note.pk).delete()

    records = history(note.pk)
    assert all("note" not in record.data for record in records)
    assert records[1].changed_fields == ["note"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT data::text FROM audit_historyrecord")
        assert not any("sister" in row for (row,) in cursor.fetchall())


def test_excluding_a_field_the_model_does_not_have_is_an_error() -> None:
    assert excluded_columns(TrackedNote, ["note"]) == ["note"]
    with pytest.raises(ValueError, match="notes"):
        excluded_columns(TrackedNote, ["notes"])


def test_untracked_tables_have_no_history() -> None:
    PainScore.objects.create(patient_id=PATIENT, score=3)
    assert not HistoryRecord.objects.exists()


def test_the_orm_refuses_to_change_or_delete_audit_records() -> None:
    entry = audit_record(actor_id=None, action="test.action", target_type="thing")
    note = TrackedNote.objects.create(patient_id=PATIENT, score=1)
    [record] = history(note.pk)
    for model, row in ((AuditEntry, entry), (HistoryRecord, record)):
        with pytest.raises(AppendOnlyError):
            row.save()
        with pytest.raises(AppendOnlyError):
            row.delete()
        with pytest.raises(AppendOnlyError):
            model.objects.filter(pk=row.pk).update(request_id="rewritten")
        with pytest.raises(AppendOnlyError):
            model.objects.filter(pk=row.pk).delete()
    assert AuditEntry.objects.get(pk=entry.pk).action == "test.action"
    assert HistoryRecord.objects.get(pk=record.pk).data["score"] == 1


@pytest.mark.parametrize("table", ["audit_auditentry", "audit_historyrecord"])
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {table} SET request_id = 'rewritten'",
        "DELETE FROM {table}",
        "TRUNCATE {table}",
    ],
)
def test_the_database_refuses_to_change_or_delete_audit_records(table: str, statement: str) -> None:
    audit_record(actor_id=None, action="test.action", target_type="thing")
    TrackedNote.objects.create(patient_id=PATIENT, score=1)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement.format(table=table))
    assert AuditEntry.objects.filter(request_id="").count() == 1
    assert HistoryRecord.objects.filter(request_id="").count() == 1


def test_a_tracked_table_cannot_be_truncated_round_its_history() -> None:
    TrackedNote.objects.create(patient_id=PATIENT, score=1)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {TABLE}")
    assert TrackedNote.objects.count() == 1


def test_flush_outside_a_test_run_is_refused_and_keeps_everything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    audit_record(actor_id=None, action="test.action", target_type="thing")
    PainScore.objects.create(patient_id=PATIENT, score=3)
    monkeypatch.delattr(mail, "outbox")
    with pytest.raises(CommandError):
        call_command("flush", interactive=False, verbosity=0)
    assert AuditEntry.objects.count() == 1
    assert PainScore.objects.count() == 1


def _clinician() -> TokenUser:
    return TokenUser(
        id=uuid.uuid4(),
        roles=frozenset({"clinician"}),
        clinic_id=uuid.uuid4(),
        token_id="t",
        expires_at=datetime.now(tz=UTC),
    )


def test_a_read_of_a_patients_data_is_logged_with_who_read_it() -> None:
    clinician = _clinician()
    entry_id = uuid.uuid4()
    with audit_context(actor_id=clinician.id, request_id="req-read-1"):
        audit_read(actor=clinician, patient_id=PATIENT, resource="pain_entry", object_id=entry_id)

    entry = AuditEntry.objects.get()
    assert entry.action == "pain_entry.read"
    assert (entry.actor_id, entry.actor_roles) == (clinician.id, ["clinician"])
    assert (entry.subject_patient_id, entry.target_id) == (PATIENT, str(entry_id))
    assert entry.request_id == "req-read-1"


def test_a_list_spanning_patients_logs_one_read_per_patient() -> None:
    clinician = _clinician()
    others = [uuid.uuid4(), uuid.uuid4()]
    audit_read_many(actor=clinician, patient_ids=[*others, others[0]], resource="diary")

    entries = AuditEntry.objects.filter(action="diary.read")
    assert sorted(e.subject_patient_id for e in entries) == sorted(others)
    assert [e.target_id for e in entries] == ["", ""]  # the list, not one object


def test_the_admin_shows_both_logs_read_only_and_lists_no_row_data() -> None:
    TrackedNote.objects.create(patient_id=PATIENT, score=5, details={"site": "left-sij-marker"})
    audit_record(actor_id=None, action="test.action", target_type="thing")
    browser = Client()
    browser.force_login(get_user_model().objects.create_superuser("auditor", password="x" * 12))

    entries = browser.get("/admin/sharedtest/audit/auditentry/")
    records = browser.get("/admin/sharedtest/audit/historyrecord/")
    record = HistoryRecord.objects.get()
    change = browser.post(
        f"/admin/sharedtest/audit/historyrecord/{record.pk}/change/", {"request_id": "x"}
    )

    assert entries.status_code == records.status_code == 200
    assert "test.action" in entries.content.decode()
    assert "sharedtest_trackednote" in records.content.decode()
    assert "left-sij-marker" not in records.content.decode()
    assert change.status_code == 403
    assert HistoryRecord.objects.get().request_id == ""
