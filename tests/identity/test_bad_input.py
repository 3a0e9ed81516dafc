"""Malformed, oversize and hostile input gets a problem-details answer, never a 500."""

from __future__ import annotations

import pytest
from django.conf import settings
from factories import invitation_with_code, member
from helpers import ACCEPT, ME, PATIENTS, REFRESH, TOKEN, as_user, is_problem
from rest_framework.test import APIClient

from identity.accounts.models import User

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", [TOKEN, REFRESH, ACCEPT])
def test_malformed_json_is_a_problem(api_client: APIClient, url: str) -> None:
    response = api_client.post(url, data='{"email": "a@b.org", ', content_type="application/json")
    assert is_problem(response, 400, "malformed-request")


@pytest.mark.parametrize(
    "body",
    [
        [],
        "just a string",
        {"email": 123, "password": ["x"]},
        {"email": {"nested": True}, "password": None},
        {"email": "a@b.org", "password": "x" * 5000},
        {"email": "a@b.org\u0000", "password": "secret-secret"},
    ],
)
def test_wrong_shapes_and_types_are_validation_problems(
    api_client: APIClient, body: object
) -> None:
    response = api_client.post(TOKEN, body, format="json")
    assert is_problem(response, 400, "validation-error")


def test_lone_surrogates_are_refused(api_client: APIClient) -> None:
    # Valid JSON (an escaped lone surrogate) that no database or hasher can encode.
    body = '{"email": "a@b.org", "password": "pass\\ud800word"}'
    response = api_client.post(TOKEN, data=body, content_type="application/json")
    assert is_problem(response, 400, "validation-error")


def test_lone_surrogates_in_an_accept_are_refused_and_create_nothing(api_client: APIClient) -> None:
    _, code = invitation_with_code()
    body = (
        f'{{"code": "{code}", "password": "pass\\ud800word-long-enough", '
        '"timezone": "Europe/London"}'
    )
    response = api_client.post(ACCEPT, data=body, content_type="application/json")
    assert is_problem(response, 400, "validation-error")
    assert not User.objects.exists()


def test_oversize_body_is_refused_before_it_is_read(api_client: APIClient) -> None:
    padding = "x" * (settings.MAX_REQUEST_BYTES + 1)
    response = api_client.post(
        TOKEN,
        data=f'{{"email": "a@b.org", "password": "{padding}"}}',
        content_type="application/json",
    )
    assert is_problem(response, 413, "payload-too-large")


def test_form_encoded_body_is_an_unsupported_media_type(api_client: APIClient) -> None:
    response = api_client.post(TOKEN, {"email": "a@b.org", "password": "x"})
    assert is_problem(response, 415, "unsupported-media-type")


def test_a_path_id_that_is_not_a_uuid_is_not_found() -> None:
    clinician = member("clinician")
    response = as_user(clinician.email).get(f"{PATIENTS}not-a-uuid/")
    assert is_problem(response, 404, "not-found")


def test_wrong_method_is_a_problem() -> None:
    user = member("patient")
    response = as_user(user.email).delete(ME)
    assert is_problem(response, 405, "method-not-allowed")


def test_patch_body_that_is_not_an_object_is_refused() -> None:
    user = member("patient")
    response = as_user(user.email).patch(ME, ["timezone"], format="json")
    assert is_problem(response, 400, "validation-error")
