"""Questionnaires: scores computed by the server from the answers, as the instruments define."""

from __future__ import annotations

import uuid

import pytest
from helpers import (
    QUESTIONNAIRES,
    World,
    create_odi,
    ids,
    is_problem,
    odi_body,
    patient_url,
    questionnaire_url,
)

from diary.questionnaires.instruments import instrument_get
from diary.questionnaires.validation import validate_response
from shared.events.testing import published_envelopes

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("answers", "score"),
    [
        # Worked by hand: sum of answered sections / (5 x answered) x 100.
        ([5, 4, 3, 2, 1, 0, None, None, 3, 3], 52.5),  # 21 / 40
        ([0] * 10, 0.0),
        ([5] * 10, 100.0),
        ([1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 20.0),  # 10 / 50
        ([2, 3, 1, 0, 4, 2, 1, 3, 2, None], 40.0),  # 18 / 45
        ([3, 3, 3, 3, 3, 3, 3, 2, None, None], 57.5),  # 23 / 40
        ([1, 0, 0, 0, 0, 0, 0, 0, 0, None], 2.2),  # 1 / 45 = 2.22..., one decimal
    ],
)
def test_odi_scores_match_hand_worked_cases(
    world: World, answers: list[int | None], score: float
) -> None:
    response = create_odi(world.patient_a, answers)
    assert response["score"] == score
    assert response["answers"] == answers
    assert response["instrument_version"] == "2.1a"


def test_odi_with_more_than_two_sections_skipped_is_refused(world: World) -> None:
    response = world.patient_a.client().post(
        QUESTIONNAIRES, odi_body([1, 2, 3, None, None, None, 1, 2, 3, 4]), format="json"
    )
    assert is_problem(response, 400, "validation-error")
    assert response.json()["errors"] == [
        {
            "field": "answers",
            "message": "At least 8 of the 10 items must be answered for a score.",
        }
    ]


@pytest.mark.parametrize(
    "answers",
    [[6, 0, 0, 0, 0, 0, 0, 0, 0, 0], [-1] * 10, [1] * 9, [1] * 11, ["1"] * 10, [True] * 10],
)
def test_odi_answers_out_of_range_or_shape_are_refused(world: World, answers: list[object]) -> None:
    response = world.patient_a.client().post(QUESTIONNAIRES, odi_body(answers), format="json")  # type: ignore[arg-type]
    assert is_problem(response, 400, "validation-error")


@pytest.mark.parametrize(
    ("value", "accepted"), [(0, False), (1, True), (4, True), (7, True), (8, False)]
)
def test_pgic_takes_one_answer_from_1_to_7(world: World, value: int, accepted: bool) -> None:
    body = odi_body([value], instrument="pgic")
    response = world.patient_a.client().post(QUESTIONNAIRES, body, format="json")
    if accepted:
        assert response.status_code == 201
        assert response.json()["score"] == value
    else:
        assert is_problem(response, 400, "validation-error")


def test_a_single_item_instrument_must_be_answered(world: World) -> None:
    body = odi_body([None], instrument="nrs")
    response = world.patient_a.client().post(QUESTIONNAIRES, body, format="json")
    assert is_problem(response, 400, "validation-error")


def test_an_unknown_instrument_version_is_refused(world: World) -> None:
    body = odi_body([1] * 10, instrument_version="9.9")
    response = world.patient_a.client().post(QUESTIONNAIRES, body, format="json")
    assert is_problem(response, 400, "validation-error")
    assert response.json()["errors"][0]["field"] == "instrument_version"


def test_a_completed_questionnaire_is_announced_with_its_score_and_skipped_sections(
    world: World,
) -> None:
    prompt_id = str(uuid.uuid4())
    response = create_odi(
        world.patient_a, [5, 4, 3, 2, 1, 0, None, None, 3, 3], prompt_id=prompt_id
    )
    (event,) = published_envelopes("diary.questionnaire.completed")
    data = event["data"]
    assert data["response_id"] == response["id"]
    assert data["instrument"] == "odi"
    assert data["score"] == 52.5
    assert data["section_scores"] == [5, 4, 3, 2, 1, 0, None, None, 3, 3]
    assert data["prompt_id"] == prompt_id
    assert data["clinic_id"] == str(world.clinic_id)


def test_a_pgic_event_carries_no_sections(world: World) -> None:
    world.patient_a.client().post(QUESTIONNAIRES, odi_body([2], instrument="pgic"), format="json")
    (event,) = published_envelopes("diary.questionnaire.completed")
    assert "section_scores" not in event["data"]
    assert event["data"]["score"] == 2


def test_a_repeated_questionnaire_is_stored_once_and_a_changed_one_conflicts(world: World) -> None:
    body = odi_body([1] * 10)
    client = world.patient_a.client()
    assert client.post(QUESTIONNAIRES, body, format="json").status_code == 201
    assert client.post(QUESTIONNAIRES, body, format="json").status_code == 200
    changed = client.post(QUESTIONNAIRES, {**body, "answers": [2] * 10}, format="json")
    assert is_problem(changed, 409, "id-conflict")
    assert len(published_envelopes("diary.questionnaire.completed")) == 1


def test_the_score_is_the_servers_whatever_the_client_says(world: World) -> None:
    body = odi_body([1] * 10, score=99, patient_id=str(world.patient_b.id))
    response = world.patient_a.client().post(QUESTIONNAIRES, body, format="json")
    assert response.status_code == 201
    assert response.json()["score"] == 20.0
    assert response.json()["patient_id"] == str(world.patient_a.id)


def test_questionnaires_are_listed_for_the_patient_and_their_clinician_by_instrument(
    world: World,
) -> None:
    odi = create_odi(world.patient_a, [1] * 10)
    world.patient_a.client().post(QUESTIONNAIRES, odi_body([3], instrument="pgic"), format="json")
    client = world.clinician.client()
    listed = client.get(patient_url(world.patient_a.id, "questionnaires"), {"instrument": "odi"})
    assert ids(listed) == [odi["id"]]
    assert client.get(questionnaire_url(odi["id"])).json()["score"] == 20.0
    assert is_problem(client.get(QUESTIONNAIRES, {"instrument": "sf36"}), 400)


def test_the_instrument_definitions_are_served_without_item_wording(world: World) -> None:
    response = world.patient_a.client().get(QUESTIONNAIRES + "instruments/")
    assert response.status_code == 200
    by_code = {i["code"]: i for i in response.json()}
    assert by_code["odi"]["items"] == 10
    assert by_code["odi"]["min_answered"] == 8
    assert by_code["pgic"]["anchors"]["1"] == "very much improved"
    assert by_code["pgic"]["anchors"]["7"] == "very much worse"


def test_the_validator_computes_the_score_without_a_database() -> None:
    cleaned, errors = validate_response(odi_body([5, 4, 3, 2, 1, 0, None, None, 3, 3]))
    assert errors == []
    assert cleaned["score"] == 52.5
    odi = instrument_get("odi")
    assert odi is not None
    assert odi.score([4, 4, 4, 4, 4, 4, 4, 4, 4, 4]) == 80.0
