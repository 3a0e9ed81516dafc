from __future__ import annotations

import pytest
from django.test import Client

from shared.testing import service_checks

pytestmark = pytest.mark.django_db


def test_health_and_readiness() -> None:
    service_checks.check_health_endpoints(Client())


def test_openapi_schema_and_swagger_ui() -> None:
    service_checks.check_openapi_schema_and_docs(Client(), "diary")


def test_admin_login_page() -> None:
    service_checks.check_admin_login_page(Client(), "diary")
