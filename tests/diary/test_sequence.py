"""The diary-wide server sequence, on PostgreSQL and on the embedded default's SQLite."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg2
import pytest
from django.db import connection, transaction
from helpers import World, create_entry, create_odi, entry_url, record_injection

from diary.common import sequence

SERVICE_DIR = Path(__file__).resolve().parents[2] / "services" / "diary"


@pytest.mark.django_db
def test_reserved_numbers_are_unique_and_increasing() -> None:
    with transaction.atomic():
        first = sequence.reserve(5)
        second = sequence.reserve(3)
        single = sequence.next_value()
    assert len(set(first + second + [single])) == 9
    assert first == sorted(first)
    assert max(first) < min(second) <= max(second) < single
    assert sequence.last_reserved() >= single


@pytest.mark.django_db
def test_a_writer_holds_the_barrier_until_its_numbers_are_committed() -> None:
    def barrier_free() -> bool:
        # Another session, as a reader of the sequence would be.
        other = psycopg2.connect(**connection.get_connection_params())
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [sequence.WRITER_BARRIER_KEY])
                granted = bool(cursor.fetchone()[0])
                if granted:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [sequence.WRITER_BARRIER_KEY])
                return granted
        finally:
            other.close()

    assert barrier_free()
    with transaction.atomic():
        sequence.reserve(2)
        assert not barrier_free()


@pytest.mark.django_db(transaction=True)
def test_numbers_are_reserved_only_inside_a_transaction() -> None:
    with pytest.raises(sequence.SequenceUsageError):
        sequence.reserve(1)
    with pytest.raises(ValueError, match="at least one"), transaction.atomic():
        sequence.reserve(0)


@pytest.mark.django_db
def test_every_write_of_every_kind_takes_the_next_number(world: World) -> None:
    entry = create_entry(world.patient_a)
    injection = record_injection(world.clinician, world.patient_a)
    response = create_odi(world.patient_a, [1] * 10)
    corrected = world.patient_a.client().patch(
        entry_url(entry["id"]), {"nrs_now": 0}, format="json", HTTP_IF_MATCH='"1"'
    )
    numbers = [
        entry["server_seq"],
        injection["server_seq"],
        response["server_seq"],
        corrected.json()["server_seq"],
    ]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == 4


EMBEDDED_CHECK = textwrap.dedent(
    """
    import django
    django.setup()
    from django.core.management import call_command
    call_command("migrate", verbosity=0)

    import uuid
    from datetime import datetime, timedelta, timezone as tz
    from django.db import transaction
    from diary.common import sequence
    from diary.entries.services import entry_correct, entry_log
    from diary.entries.validation import validate_entry
    from diary.patients.models import Patient

    with transaction.atomic():
        block = sequence.reserve(3)
    assert block == list(range(block[0], block[0] + 3)), block
    patient = Patient.objects.create(id=uuid.uuid4(), clinic_id=uuid.uuid4())
    body = {
        "id": str(uuid.uuid4()),
        "occurred_at": (datetime.now(tz.utc) - timedelta(hours=1)).isoformat(),
        "timezone": "Europe/London",
        "nrs_now": 4,
    }
    cleaned, errors = validate_entry(body)
    assert not errors, errors
    first = entry_log(patient=patient, values=cleaned)
    again = entry_log(patient=patient, values=cleaned)
    assert first.created and not again.created
    assert first.obj.server_seq == block[-1] + 1
    corrected = entry_correct(entry=first.obj, changes={"nrs_now": 2}, expected_version=1)
    assert corrected.server_seq == block[-1] + 2
    assert sequence.last_reserved() == block[-1] + 2
    print("embedded ok")
    """
)


def test_the_sequence_and_idempotent_creates_work_on_sqlite(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'diary.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "diary.settings",
    }
    check = subprocess.run(
        [sys.executable, "-c", EMBEDDED_CHECK],
        cwd=SERVICE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    assert "embedded ok" in check.stdout
