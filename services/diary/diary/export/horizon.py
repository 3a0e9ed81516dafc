"""Which server sequence numbers are settled: no transaction holding one of them is still open.

A number is taken when a row is written, not when its transaction commits. On PostgreSQL a writer
holding 41 may commit after 42 is visible; a reader that handed out 42 and moved its cursor past
it would never see 41. So the export hands out only settled numbers.

PostgreSQL: every writer takes a shared advisory lock before it takes numbers and keeps it until
its transaction ends (``diary.common.sequence.reserve`` does, with ``WRITER_BARRIER_KEY``). A
reader reads the sequence's last value L, then takes the same lock exclusively for a moment: once
granted, every transaction that took a number up to L has committed or rolled back (it took the
shared lock before its number, so before L was read). Writers never wait for each other (shared
locks do not conflict); only new writers wait while a reader waits for the writers in flight.

SQLite (the embedded default) lets one writer in at a time and the counter is a table row bumped
in the writer's transaction, so the committed counter is always settled.

See docs/adr/0010-offline-sync-and-export.md.
"""

from __future__ import annotations

import logging
import threading

from django.db import OperationalError, connections, transaction

from diary.common import sequence

logger = logging.getLogger(__name__)

BARRIER_KEY = sequence.WRITER_BARRIER_KEY
# A reader waits at most this long for the writers in flight; a longer wait means a writer is
# stuck, and the reader answers with what it knows to be settled rather than stalling writers.
BARRIER_TIMEOUT_MS = 2000

_settled: dict[str, int] = {}
_settled_lock = threading.Lock()


def known_settled(*, using: str = "default") -> int:
    """The highest number this process has seen settled (0 if none yet): settled stays settled,
    so pages below it need no barrier."""
    if connections[using].vendor != "postgresql":
        return 0
    return _settled.get(using, 0)


def settled_horizon(*, using: str = "default") -> int:
    """The highest number N such that every number up to N is settled now."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return sequence.last_reserved(using=using)
    last = sequence.last_reserved(using=using)
    try:
        # A session lock released at once: the wait is the point, and called inside a longer
        # transaction a transaction lock would stall every writer until that one ends.
        with transaction.atomic(using=using), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = {int(BARRIER_TIMEOUT_MS)}")
            cursor.execute("SELECT pg_advisory_lock(%s)", [BARRIER_KEY])
            cursor.execute("SELECT pg_advisory_unlock(%s)", [BARRIER_KEY])
    except OperationalError:
        logger.warning(
            "export: writers in flight did not finish in time; answering with older changes",
            extra={"timeout_ms": BARRIER_TIMEOUT_MS},
        )
        return known_settled(using=using)
    with _settled_lock:
        _settled[using] = max(_settled.get(using, 0), last)
        return _settled[using]
