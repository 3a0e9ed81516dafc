"""Property-based requests generated from diary's own OpenAPI schema (schemathesis).

Every operation is called with bounded, reproducible examples as a patient and as a clinician;
no answer may be a server error, and every answer must match what the schema promises (status
code and body). The phone app is written against that schema, so a drift is a broken app.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.conf import LazySettings
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from shared.testing.tokens import access_token

pytestmark = pytest.mark.django_db

SCHEMA_PATH = "/api/diary/v1/schema/?format=json"
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
# Bounded so the whole fuzz run stays well under a minute and a half on two cores; derandomized
# so a failure seen once is seen again on every machine.
FUZZ_SETTINGS = hypothesis_settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)
CLINIC_ID = uuid.UUID("00000000-0000-4000-8000-00000000c11c")
PATIENT_ID = uuid.UUID("00000000-0000-4000-8000-0000000000a1")
CLINICIAN_ID = uuid.UUID("00000000-0000-4000-8000-0000000000c1")


@pytest.fixture(autouse=True)
def _no_rate_limit(settings: LazySettings) -> None:
    """Hundreds of writes a minute from one token: the rate limit would answer most of them with
    429, and the fuzzing would never reach the endpoints' own code."""
    settings.RATE_LIMIT_USER_WRITES = "1000000/min"


@pytest.fixture
def wsgi_app() -> Iterator[WSGIHandler]:
    """Django's WSGI handler, called in this thread on the test's own database connection.

    Django closes "old" connections at the end of each request; inside a test transaction that
    would throw the test's data away, so (as Django's own test client does) that hook is off.
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _fuzz(app: WSGIHandler, token: str, *, path_regex: str | None = None) -> list[str]:
    schema = schemathesis.openapi.from_wsgi(SCHEMA_PATH, app)
    if path_regex is not None:
        schema = schema.include(path_regex=path_regex)
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the schema lists no operation"
    for operation in operations:
        # Hypothesis replays the smallest failing example last: that is the one reported.
        smallest: list[str] = []
        try:
            _operation_test(operation, headers, smallest)()
        except (Failure, FailureGroup):
            failures.extend(smallest)
        except Unsatisfiable:
            failures.append(f"{operation.label}: no valid example could be generated")
    return failures


def _operation_test(operation: Any, headers: dict[str, str], smallest: list[str]) -> Any:
    @FUZZ_SETTINGS
    @given(case=operation.as_strategy())
    def check_operation(case: Any) -> None:
        response = case.call(headers=headers)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Failure, FailureGroup) as failure:
            smallest[:] = [_describe(case, response, failure)]
            raise

    return check_operation


def _describe(case: Any, response: Any, failure: Failure | FailureGroup) -> str:
    found = failure.exceptions if isinstance(failure, FailureGroup) else (failure,)
    problems = "\n".join(f"  - {item.title}: {item.message}" for item in found)
    return (
        f"{case.method} {case.formatted_path} query={case.query!r} body={case.body!r}\n"
        f"  -> {response.status_code} {response.text[:500]}\n{problems}"
    )


def test_patient_calls_generated_from_the_schema_get_documented_answers(
    wsgi_app: WSGIHandler,
) -> None:
    token = access_token(PATIENT_ID, roles=("patient",), clinic_id=CLINIC_ID)
    failures = _fuzz(wsgi_app, token)
    assert not failures, "\n\n".join(failures)


def test_clinician_calls_generated_from_the_schema_get_documented_answers(
    wsgi_app: WSGIHandler,
) -> None:
    token = access_token(CLINICIAN_ID, roles=("clinician",), clinic_id=CLINIC_ID)
    failures = _fuzz(wsgi_app, token)
    assert not failures, "\n\n".join(failures)


def test_service_calls_of_the_internal_export_get_documented_answers(
    wsgi_app: WSGIHandler,
) -> None:
    token = access_token(uuid.uuid4(), roles=("service",), clinic_id=None)
    failures = _fuzz(wsgi_app, token, path_regex="/internal/")
    assert not failures, "\n\n".join(failures)
