"""Prepared statements on PostgreSQL: the same answers as plain statements, prepared once per
session, prepared again on a new connection, and writes through them attributed in the row
history like any other write."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection, transaction
from sharedtest.models import TrackedNote

from shared.audit.context import audit_context
from shared.audit.models import HistoryRecord
from shared.db import prepared
from shared.db.prepared import execute_prepared

pytestmark = pytest.mark.django_db

ECHO = "SELECT %s::int + 1, %s::text || '%%', %s::uuid"


def prepared_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        return {row[0] for row in cursor.fetchall()}


def echo(number: int, text: str, key: uuid.UUID) -> tuple[object, ...]:
    with connection.cursor() as cursor:
        execute_prepared(cursor, ECHO, [number, text, key])
        row: tuple[object, ...] = cursor.fetchone()
    return row


def test_a_prepared_statement_answers_as_the_plain_one_and_is_prepared_once() -> None:
    key = uuid.uuid4()
    with connection.cursor() as cursor:
        cursor.execute(ECHO, [41, "50", key])
        plain = cursor.fetchone()
    before = prepared_names()

    assert echo(41, "50", key) == plain == (42, "50%", key)
    added = prepared_names() - before
    assert len(added) == 1
    assert echo(1, "it's; DROP TABLE x", key) == (2, "it's; DROP TABLE x%", key)
    assert prepared_names() - before == added  # used again, not prepared again


def test_a_statement_without_parameters() -> None:
    with connection.cursor() as cursor:
        execute_prepared(cursor, "SELECT 6 * 7, '100%%'", [])
        assert cursor.fetchone() == (42, "100%")


@pytest.mark.django_db(transaction=True)
def test_a_new_connection_prepares_again() -> None:
    key = uuid.uuid4()
    assert echo(1, "a", key) == (2, "a%", key)
    connection.close()
    assert prepared_names() == set()  # a new session holds nothing
    assert echo(2, "b", key) == (3, "b%", key)
    assert len(prepared_names()) == 1


def test_a_statement_prepared_in_a_rolled_back_transaction_stays_usable() -> None:
    key = uuid.uuid4()

    def prepare_then_fail() -> None:
        with transaction.atomic():
            assert echo(1, "a", key) == (2, "a%", key)
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        prepare_then_fail()
    assert echo(5, "c", key) == (6, "c%", key)


@pytest.mark.django_db(transaction=True)
def test_past_the_limit_statements_run_unprepared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prepared, "MAX_PER_SESSION", 1)
    connection.close()
    key = uuid.uuid4()
    assert echo(1, "a", key) == (2, "a%", key)
    with connection.cursor() as cursor:
        execute_prepared(cursor, "SELECT %s::int * 2", [21])
        assert cursor.fetchone() == (42,)
    assert len(prepared_names()) == 1


def test_a_write_through_a_prepared_statement_is_attributed_in_the_history() -> None:
    actor, pk = uuid.uuid4(), uuid.uuid4()
    insert = (
        "INSERT INTO sharedtest_trackednote (id, patient_id, score, flare, details, note) "
        "VALUES (%s::uuid, %s::uuid, %s::int, false, '{}', '')"
    )
    with audit_context(actor_id=actor, request_id="prepared-1"), connection.cursor() as cursor:
        execute_prepared(cursor, insert, [pk, actor, 4])
        execute_prepared(cursor, insert, [uuid.uuid4(), actor, 5])

    assert TrackedNote.objects.get(pk=pk).score == 4
    [inserted] = HistoryRecord.objects.filter(table_name="sharedtest_trackednote", row_pk=str(pk))
    assert (inserted.actor_id, inserted.request_id) == (actor, "prepared-1")
