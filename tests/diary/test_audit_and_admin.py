"""Reads by clinicians are recorded; the schema is complete; the admin shows no patient's words."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from helpers import ENTRIES, World, create_entry, entry_url, patient_url

from shared.audit.models import AuditEntry, HistoryRecord

pytestmark = pytest.mark.django_db

NOTE = "Private words about my week"


def _reads() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action__endswith=".read").order_by("at", "id"))


def test_a_clinicians_read_of_an_entry_is_recorded_without_its_content(world: World) -> None:
    entry = create_entry(world.patient_a, note=NOTE)
    response = world.clinician.client().get(entry_url(entry["id"]))
    (read,) = _reads()
    assert read.actor_id == world.clinician.id
    assert read.actor_roles == ["clinician"]
    assert read.subject_patient_id == world.patient_a.id
    assert read.action == "diary.entries.read"
    assert read.target_id == entry["id"]
    assert read.request_id == response["X-Request-ID"]
    assert NOTE not in str(vars(read))


def test_a_clinicians_list_records_one_read_per_patient_on_the_page(world: World) -> None:
    create_entry(world.patient_a)
    create_entry(world.patient_a)
    create_entry(world.patient_b)
    world.clinician.client().get(ENTRIES)
    world.clinician.client().get(patient_url(world.patient_b.id, "entries"))
    patients = [r.subject_patient_id for r in _reads()]
    assert sorted(map(str, patients[:2])) == sorted(
        [str(world.patient_a.id), str(world.patient_b.id)]
    )
    assert patients[2:] == [world.patient_b.id]


def test_a_patient_reading_their_own_diary_is_not_a_disclosure(world: World) -> None:
    entry = create_entry(world.patient_a)
    world.patient_a.client().get(entry_url(entry["id"]))
    world.patient_a.client().get(ENTRIES)
    assert _reads() == []


def test_every_write_leaves_history_without_the_note(world: World) -> None:
    entry = create_entry(world.patient_a, note=NOTE)
    rows = HistoryRecord.objects.filter(table_name="entries_painentry", row_pk=entry["id"])
    (insert,) = rows
    assert insert.operation == "I"
    assert insert.actor_id == world.patient_a.id
    assert insert.data["nrs_now"] == entry["nrs_now"]
    assert "note" not in insert.data
    assert NOTE not in str(insert.data)


def test_schema_generates_without_warnings() -> None:
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = out.getvalue()
    for path in (
        "/entries/",
        "/entries/{entry_id}/",
        "/injections/{injection_id}/verify/",
        "/patients/{patient_id}/injections/",
        "/questionnaires/instruments/",
    ):
        assert f"/api/diary/v1{path}" in schema


@pytest.mark.parametrize(
    "page",
    [
        "entries/painentry/",
        "entries/painentry/{entry}/change/",
        "injections/injection/",
        "questionnaires/questionnaireresponse/",
        "patients/patient/",
    ],
)
def test_admin_pages_never_show_notes_or_medication_names(world: World, page: str) -> None:
    entry = create_entry(world.patient_a, note=NOTE, medications=[{"name": "Secretofen 5 mg"}])
    admin = User.objects.create_superuser("admin", "admin@example.org", None)
    client = Client()
    client.force_login(admin)
    response = client.get("/admin/diary/" + page.format(entry=entry["id"]))
    assert response.status_code == 200
    content = response.content.decode()
    if "painentry" in page:
        assert entry["id"] in content
    assert NOTE not in content
    assert "Secretofen" not in content


def test_the_admin_cannot_change_diary_rows(world: World) -> None:
    entry = create_entry(world.patient_a)
    admin = User.objects.create_superuser("admin", "admin@example.org", None)
    client = Client()
    client.force_login(admin)
    response = client.post(f"/admin/diary/entries/painentry/{entry['id']}/change/", {"nrs_now": 0})
    assert response.status_code == 403
