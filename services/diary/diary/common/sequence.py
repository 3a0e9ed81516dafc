"""The diary-wide server sequence.

Every write of an injection, a pain entry or a questionnaire response (create, correction,
deletion) takes the next number of one counter and stores it in the row's ``server_seq``. A client
or another service that remembers the highest number it has seen asks for "everything written
after N" and gets every change, whatever the clock of the phone that made it said.

PostgreSQL: a SEQUENCE (``diary_server_seq``). SQLite (the embedded default): a one-row table of
the same name, bumped with ``UPDATE ... RETURNING``; SQLite lets one writer in at a time, so the
row lock costs nothing extra. Both are created by ``common/migrations/0001_server_sequence.py``.

A number is taken when the row is written, not when its transaction commits. On PostgreSQL a
writer holding a smaller number may therefore commit after a larger number is already visible; a
reader that pages by ``server_seq > cursor`` must not move its cursor past numbers that may still
commit. So that a reader can wait for them, ``reserve`` first takes the advisory lock
``WRITER_BARRIER_KEY`` in shared mode, held until the writer's transaction ends: once a reader
has been granted it exclusively, every number handed out before has committed or rolled back
(see diary.export.horizon and docs/adr/0007-diary-data-model.md). A statement that numbers its
own rows (``numbering_statement``, the creates of diary.common.creation) takes the same lock
first, in the same statement.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connections

SEQUENCE_NAME = "diary_server_seq"
# The advisory lock every writer holds (shared) while its numbers are uncommitted: "diaryseq" in
# ASCII, as a bigint.
WRITER_BARRIER_KEY = 0x6469617279736571


class SequenceUsageError(RuntimeError):
    """Numbers were asked for outside the transaction of the rows that will carry them."""


def reserve(count: int, *, using: str = "default") -> list[int]:
    """Take ``count`` new numbers, in increasing order, for rows written in this transaction.

    On PostgreSQL the numbers are unique and increasing but not necessarily consecutive (other
    writers take numbers at the same time); on SQLite they are consecutive.
    """
    if count < 1:
        raise ValueError("reserve at least one number")
    connection = connections[using]
    if not connection.in_atomic_block:
        raise SequenceUsageError("server_seq numbers must be reserved inside transaction.atomic()")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The barrier first (a no-op if this transaction holds it already), then the numbers.
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [WRITER_BARRIER_KEY])
            cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [SEQUENCE_NAME, count])
            return sorted(int(row[0]) for row in cursor.fetchall())
        if connection.vendor == "sqlite":
            cursor.execute(
                f"UPDATE {SEQUENCE_NAME} SET last_value = last_value + %s "  # noqa: S608 - a constant
                "WHERE id = 1 RETURNING last_value",
                [count],
            )
            last = int(cursor.fetchone()[0])
            return list(range(last - count + 1, last + 1))
    raise NotImplementedError(f"no server sequence for the {connection.vendor} database")


@dataclass(frozen=True)
class Numbering:
    """How one PostgreSQL statement numbers the rows it inserts, as ``reserve`` would.

    ``WITH <cte>`` takes the writer barrier; the statement names ``source`` in the FROM list of
    the SELECT that feeds its INSERT (so the barrier is held before any row exists to be
    numbered) and gives each row ``next_value``. ``params`` belong to the CTE.
    """

    cte: str
    params: tuple[object, ...]
    source: str
    next_value: str


def numbering_statement(*, using: str = "default") -> Numbering:
    """PostgreSQL: the parts of an ``INSERT ... SELECT`` that numbers its own rows, in one round
    trip instead of reserving first. The statement is one transaction by itself, or part of the
    caller's: either way the barrier is held until the rows commit or roll back."""
    if connections[using].vendor != "postgresql":
        raise NotImplementedError("statements number their own rows on PostgreSQL only")
    return Numbering(
        cte="diary_writer_barrier AS MATERIALIZED (SELECT pg_advisory_xact_lock_shared(%s))",
        params=(WRITER_BARRIER_KEY,),
        source="diary_writer_barrier",
        next_value=f"nextval('{SEQUENCE_NAME}')",
    )


def next_value(*, using: str = "default") -> int:
    """One new number (see ``reserve``)."""
    return reserve(1, using=using)[0]


def last_reserved(*, using: str = "default") -> int:
    """The highest number handed out so far (0 before the first write); it may not be committed."""
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SELECT last_value, is_called FROM {SEQUENCE_NAME}")  # noqa: S608
            last_value, is_called = cursor.fetchone()
            return int(last_value) if is_called else 0
        if connection.vendor == "sqlite":
            cursor.execute(f"SELECT last_value FROM {SEQUENCE_NAME} WHERE id = 1")  # noqa: S608
            return int(cursor.fetchone()[0])
    raise NotImplementedError(f"no server sequence for the {connection.vendor} database")
