"""The diary's input rules as plain functions: what the API and the offline sync both apply."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from helpers import entry_body

from diary.entries.choices import is_red_flag
from diary.entries.nsaids import NSAID_NAMES, is_nsaid
from diary.entries.services import entry_digest
from diary.entries.validation import entry_derived, validate_entry


@pytest.mark.parametrize(
    "name",
    [
        "ibuprofen",
        "Ibuprofen",
        "IBUPROFEN 400MG",
        "Nurofen 200mg",
        "nurofen200",
        "Advil Liqui-Gels",
        "Motrin IB",
        "Brufen retard",
        "diclofenac sodium 50 mg",
        "Voltaren",
        "voltarol emulgel",
        "Cataflam",
        "naproxen",
        "Aleve",
        "Naprosyn EC",
        "ketoprofen",
        "ketorolac",
        "indometacin",
        "indomethacin",
        "meloxicam",
        "Mobic 7.5",
        "piroxicam",
        "celecoxib",
        "Celebrex 200",
        "etoricoxib",
        "Arcoxia",
        "aceclofenac",
        "etodolac",
        "nabumetone",
        "dexketoprofen",
        "mefenamic acid",
        "Ponstan",
        "co-codamol and ibuprofen",
    ],
)
def test_nsaids_are_recognised_by_generic_or_brand_name(name: str) -> None:
    assert is_nsaid(name)


@pytest.mark.parametrize(
    "name",
    [
        "paracetamol",
        "Acetaminophen 500 mg",
        "Tylenol",
        "codeine",
        "co-codamol 30/500",
        "tramadol",
        "amitriptyline",
        "gabapentin",
        "ibuprofenx",  # not the word
        "",
    ],
)
def test_other_medications_are_not_nsaids(name: str) -> None:
    assert not is_nsaid(name)


def test_every_nsaid_name_is_sourced_to_atc_group_m01a() -> None:
    assert all(n.atc.startswith("M01A") and len(n.atc) == 7 for n in NSAID_NAMES)
    assert len({n.name for n in NSAID_NAMES}) == len(NSAID_NAMES)


@pytest.mark.parametrize(
    ("side_effects", "red"),
    [
        ([], False),
        (["soreness_at_site", "bruising", "stiffness", "headache", "other"], False),
        (["fever"], True),
        (["spreading_redness"], True),
        (["warmth_at_site"], True),
        (["discharge_at_site"], True),
        (["new_numbness"], True),
        (["bruising", "new_weakness"], True),
    ],
)
def test_red_flags_are_the_signs_of_infection_or_nerve_injury(
    side_effects: list[str], red: bool
) -> None:
    assert is_red_flag(side_effects) is red
    assert entry_derived({"side_effects": side_effects})["red_flag"] is red


def test_a_valid_entry_is_cleaned_into_its_canonical_form() -> None:
    body = entry_body(
        occurred_at="2026-02-03T10:15:00+01:00",
        side_effects=["fever", "bruising", "fever"],
        medications=[{"name": "  Nurofen 200mg ", "dose": ""}],
    )
    cleaned, errors = validate_entry(body, now=datetime(2026, 3, 1, tzinfo=UTC))
    assert errors == []
    assert cleaned["id"] == uuid.UUID(body["id"])
    assert cleaned["occurred_at"] == datetime(2026, 2, 3, 9, 15, tzinfo=UTC)
    assert cleaned["side_effects"] == ["bruising", "fever"]
    assert cleaned["medications"] == [{"name": "Nurofen 200mg", "dose": None}]
    assert cleaned["prompt_id"] is None


def test_the_digest_ignores_order_of_codes_and_spelling_of_instants() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    patient = uuid.uuid4()
    body = entry_body(occurred_at="2026-02-03T10:15:00+01:00", side_effects=["fever", "bruising"])
    same = {**body, "occurred_at": "2026-02-03T09:15:00Z", "side_effects": ["bruising", "fever"]}
    changed = {**body, "nrs_now": 1}
    digests = [
        entry_digest(validate_entry(b, now=now)[0], patient_id=patient)
        for b in (body, same, changed)
    ]
    assert digests[0] == digests[1] != digests[2]
    assert entry_digest(validate_entry(body, now=now)[0], patient_id=uuid.uuid4()) != digests[0]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"nrs_now": 11}, "nrs_now"),
        ({"nrs_now": -1}, "nrs_now"),
        ({"nrs_now": 5.5}, "nrs_now"),
        ({"nrs_now": "5"}, "nrs_now"),
        ({"nrs_now": True}, "nrs_now"),
        ({"nrs_now": None}, "nrs_now"),
        ({"nrs_worst_24h": 12}, "nrs_worst_24h"),
        ({"body_regions": ["spleen"]}, "body_regions"),
        ({"body_regions": "lower_back_left"}, "body_regions"),
        ({"side_effects": ["dizzy"]}, "side_effects"),
        ({"co_treatments": ["yoga"]}, "co_treatments"),
        ({"timezone": "CET+1"}, "timezone"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"occurred_at": "2026-02-03T10:15:00"}, "occurred_at"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"occurred_at": "0001-01-01T00:00:00+01:00"}, "occurred_at"),
        ({"occurred_at": 1700000000}, "occurred_at"),
        ({"id": "not-a-uuid"}, "id"),
        ({"id": 12}, "id"),
        ({"prompt_id": "prompt-1"}, "prompt_id"),
        ({"note": "x" * 2001}, "note"),
        ({"note": "nul\x00byte"}, "note"),
        ({"note": "lone \ud800 surrogate"}, "note"),
        ({"medications": [{"dose": "1"}]}, "medications[0].name"),
        ({"medications": [{"name": ""}]}, "medications[0].name"),
        ({"medications": [{"name": "x", "strength": "1"}]}, "medications[0].strength"),
        ({"medications": ["ibuprofen"]}, "medications[0]"),
        ({"medications": [{"name": "x"}] * 21}, "medications"),
        ({"mood": "fine"}, "mood"),
    ],
)
def test_invalid_entries_are_refused_field_by_field(changes: dict[str, object], field: str) -> None:
    body = {**entry_body(), **changes}
    _, errors = validate_entry(body)
    assert [e["field"] for e in errors] == [field]


def test_refusals_never_repeat_what_was_sent() -> None:
    secret = "my private words \x00"
    _, errors = validate_entry(
        entry_body(note=secret + "x" * 3000, medications=[{"name": secret, "extra": secret}])
    )
    assert errors
    assert all("private" not in e["message"] for e in errors)


def test_required_fields_are_named() -> None:
    _, errors = validate_entry({})
    assert {e["field"] for e in errors} == {"id", "occurred_at", "timezone", "nrs_now"}


def test_a_correction_checks_only_what_it_changes() -> None:
    cleaned, errors = validate_entry({"nrs_now": 2, "id": "ignored"}, partial=True)
    assert errors == []
    assert cleaned == {"nrs_now": 2}
