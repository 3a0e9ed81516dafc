"""Checks every service must pass, called from each service's own test suite."""

from __future__ import annotations

from django.test import Client


def check_health_endpoints(client: Client) -> None:
    health = client.get("/healthz")
    assert health.status_code == 200, health.content
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.content
    assert ready.json()["checks"] == {"database": True, "broker": True}


def check_openapi_schema_and_docs(client: Client, service: str) -> dict[str, object]:
    schema = client.get(
        f"/api/{service}/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    assert schema.status_code == 200, schema.content
    document: dict[str, object] = schema.json()
    assert str(document["openapi"]).startswith("3.")
    paths = document["paths"]
    assert isinstance(paths, dict)
    assert all(path.startswith(f"/api/{service}/v1/") for path in paths)
    docs = client.get(f"/api/{service}/v1/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    return document


def check_admin_login_page(client: Client, service: str) -> None:
    response = client.get(f"/admin/{service}/login/")
    assert response.status_code == 200
    assert b'name="password"' in response.content


def check_api_refuses_anonymous_callers(client: Client, service: str, path: str) -> None:
    response = client.get(f"/api/{service}/v1/{path}")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
