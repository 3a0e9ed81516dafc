from __future__ import annotations

import uuid

from rest_framework.test import APIClient

from shared.testing.service_checks import check_api_refuses_anonymous_callers
from shared.testing.tokens import access_token


def test_whoami_reports_the_identity_behind_the_token() -> None:
    user_id, clinic_id = uuid.uuid4(), uuid.uuid4()
    client = APIClient()
    token = access_token(user_id, roles=("clinician",), clinic_id=clinic_id)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.get("/api/diary/v1/whoami/")
    assert response.status_code == 200
    assert response.json() == {
        "user_id": str(user_id),
        "roles": ["clinician"],
        "clinic_id": str(clinic_id),
    }


def test_whoami_refuses_anonymous_callers() -> None:
    check_api_refuses_anonymous_callers(APIClient(), "diary", "whoami/")
