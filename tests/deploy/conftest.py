"""Fixtures of the deployment checks. These run without Django: plain files, published schemas
(pinned packages from PyPI, cached under var/) and a real nginx."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

# The tests import their helpers by name; --import-mode=importlib does not add this directory.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from deploy_support import (
    CACHE,
    COMPOSE_SCHEMA_MEMBER,
    COMPOSE_SCHEMA_WHEEL,
    COMPOSE_TEST_ENV,
    K8S_SCHEMA_DIR,
    K8S_SCHEMA_WHEEL,
    K8S_VERSION,
    REPO,
    SERVICES,
    fetch_wheel,
    find_nginx,
    interpolate,
    required_settings,
)


@pytest.fixture(scope="session")
def compose_schema() -> dict[str, Any]:
    cached = CACHE / f"compose-spec-{COMPOSE_SCHEMA_WHEEL.version}.json"
    if not cached.exists():
        with zipfile.ZipFile(fetch_wheel(COMPOSE_SCHEMA_WHEEL)) as archive:
            data = archive.read(COMPOSE_SCHEMA_MEMBER)
        partial = cached.with_name(cached.name + ".part")
        partial.write_bytes(data)
        partial.replace(cached)
    schema: dict[str, Any] = json.loads(cached.read_text(encoding="utf-8"))
    jsonschema.validators.validator_for(schema).check_schema(schema)
    return schema


@pytest.fixture(scope="session")
def k8s_validator() -> Callable[[dict[str, Any]], list[str]]:
    """Checks one object against the strict schema of its kind; returns the errors found."""
    directory = CACHE / f"kubernetes-json-schema-{K8S_VERSION}-strict"
    if not (directory / ".complete").exists():
        staging = Path(tempfile.mkdtemp(dir=CACHE))
        with zipfile.ZipFile(fetch_wheel(K8S_SCHEMA_WHEEL)) as archive:
            for member in archive.namelist():
                if member.startswith(K8S_SCHEMA_DIR) and member.endswith(".json"):
                    (staging / member.rsplit("/", 1)[1]).write_bytes(archive.read(member))
        (staging / ".complete").touch()
        shutil.rmtree(directory, ignore_errors=True)
        staging.replace(directory)
    definitions = Resource.from_contents(
        json.loads((directory / "_definitions.json").read_text(encoding="utf-8"))
    )

    def validate(obj: dict[str, Any]) -> list[str]:
        # apps/v1 -> apps-v1, networking.k8s.io/v1 -> networking-v1, v1 -> v1
        api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", str(obj.get("apiVersion", "")))
        path = directory / f"{str(obj.get('kind', '')).lower()}-{api}.json"
        if not path.exists():
            return [f"no schema for {obj.get('kind')!r} of apiVersion {obj.get('apiVersion')!r}"]
        schema = json.loads(path.read_text(encoding="utf-8"))
        registry = definitions @ (Resource.from_contents(schema) @ Registry())
        validator = jsonschema.Draft202012Validator(schema, registry=registry)
        return [f"{e.json_path}: {e.message[:300]}" for e in validator.iter_errors(obj)]

    return validate


@pytest.fixture(scope="session")
def compose_raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="session")
def compose(compose_raw: dict[str, Any]) -> dict[str, Any]:
    """The compose file as compose sees it: anchors merged, variables substituted."""
    data: dict[str, Any] = interpolate(compose_raw, COMPOSE_TEST_ENV)
    return data


@pytest.fixture(scope="session")
def required_env() -> dict[str, set[str]]:
    found = {service: required_settings(service) for service in SERVICES}
    # The scan must see at least what the shared settings of every service require.
    for names in found.values():
        assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "BROKER_URL"} <= names
    return found


@pytest.fixture(scope="session")
def k8s_objects() -> list[tuple[str, dict[str, Any]]]:
    """Every object of the Kubernetes manifests, with the file it comes from."""
    objects = []
    for path in sorted((REPO / "deploy" / "k8s").glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document is not None:
                objects.append((path.name, document))
    return objects


@pytest.fixture(scope="session")
def nginx_binary() -> str:
    """nginx, installed from Debian's packages on first use when it is missing (needs root)."""
    found = find_nginx()
    if found:
        return found
    install = "apt-get update && apt-get install -y --no-install-recommends nginx"
    if os.geteuid() != 0:
        pytest.fail(
            f"nginx is not installed and installing it needs root: {install}", pytrace=False
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "nginx"],
    ):
        try:
            result = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=600, check=False
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"`{' '.join(command)}` did not finish within 600 s", pytrace=False)
        if result.returncode != 0:
            pytest.fail(
                f"Installing nginx failed: `{' '.join(command)}` exited {result.returncode}:\n"
                f"{result.stderr[-2000:]}",
                pytrace=False,
            )
    found = find_nginx()
    if not found:
        pytest.fail(
            "nginx was installed but its binary is not on PATH or in /usr/sbin", pytrace=False
        )
    return found
