"""docker-compose.yml: valid Compose, complete, and wired the way the services expect."""

from __future__ import annotations

import copy
import ipaddress
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jsonschema
import pytest
from deploy_support import (
    COMPOSE_TEST_ENV,
    DOCKERFILE,
    REPO,
    SERVICES,
    MissingVariable,
    interpolate,
)

ROLES = ("", "-worker", "-beat", "-migrate")


def _schema_errors(schema: dict[str, Any], document: dict[str, Any]) -> list[str]:
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{e.json_path}: {e.message[:300]}" for e in validator.iter_errors(document)]


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command") or []
    return command.split() if isinstance(command, str) else [str(part) for part in command]


def _depends_on(service: dict[str, Any]) -> dict[str, str]:
    depends = service.get("depends_on") or {}
    if isinstance(depends, list):
        return {name: "service_started" for name in depends}
    return {
        name: (spec or {}).get("condition", "service_started") for name, spec in depends.items()
    }


def _bind_sources(service: dict[str, Any]) -> list[str]:
    sources = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/", "~")):
                sources.append(source)
        elif volume.get("type") == "bind":
            sources.append(volume["source"])
    return sources


def _resolve(path: str) -> Path:
    return (REPO / path).resolve() if not path.startswith("/") else Path(path)


def test_compose_file_follows_the_compose_specification(compose_schema, compose):
    assert _schema_errors(compose_schema, compose) == []


def test_schema_check_catches_a_misspelt_service_key(compose_schema, compose):
    broken = copy.deepcopy(compose)
    broken["services"]["identity"]["dependson"] = broken["services"]["identity"].pop("depends_on")
    errors = _schema_errors(compose_schema, broken)
    assert errors
    assert any("dependson" in error for error in errors)


def test_stack_refuses_to_start_without_a_database_password(compose_raw):
    without = {k: v for k, v in COMPOSE_TEST_ENV.items() if k != "POSTGRES_PASSWORD"}
    with pytest.raises(MissingVariable, match=r"POSTGRES_PASSWORD: .*docs/operations\.md"):
        interpolate(compose_raw, without)


def test_django_secret_key_reaches_every_service_as_a_file_it_can_read(compose):
    assert compose["secrets"]["django_secret_key"] == {"environment": "DJANGO_SECRET_KEY"}
    image_user = re.search(r"useradd .*--uid (\d+)", DOCKERFILE.read_text(encoding="utf-8"))
    assert image_user is not None
    for service in SERVICES:
        for role in ROLES:
            definition = compose["services"][f"{service}{role}"]
            (secret,) = [s for s in definition["secrets"] if s["source"] == "django_secret_key"]
            assert "target" not in secret
            assert secret["uid"] == image_user.group(1)
            # Readable by others too: some compose versions copy it in owned by root.
            assert secret["mode"] & 0o004
            env = _environment(definition)
            assert env["DJANGO_SECRET_KEY_FILE"] == "/run/secrets/django_secret_key"
            assert "DJANGO_SECRET_KEY" not in env


def test_every_path_the_compose_file_names_exists(compose):
    missing = []
    for name, service in compose["services"].items():
        build = service.get("build")
        if build:
            context = _resolve(build if isinstance(build, str) else build.get("context", "."))
            if not context.is_dir():
                missing.append(f"{name}: build context {context}")
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile")
            if dockerfile and not (context / dockerfile).is_file():
                missing.append(f"{name}: dockerfile {dockerfile}")
        for source in _bind_sources(service):
            if not _resolve(source).exists():
                missing.append(f"{name}: bind mount {source}")
        env_files = service.get("env_file") or []
        for env_file in [env_files] if isinstance(env_files, str) else env_files:
            path = env_file if isinstance(env_file, str) else env_file["path"]
            if not _resolve(path).is_file():
                missing.append(f"{name}: env_file {path}")
    for section in ("configs", "secrets"):
        for name, spec in (compose.get(section) or {}).items():
            if "file" in spec and not _resolve(spec["file"]).is_file():
                missing.append(f"{section}.{name}: {spec['file']}")
    assert missing == []


def test_every_dependency_names_a_service_that_can_satisfy_it(compose):
    services = compose["services"]
    problems = []
    for name, service in services.items():
        for target, condition in _depends_on(service).items():
            if target not in services:
                problems.append(f"{name} depends on unknown {target}")
                continue
            spec = services[target]
            if condition == "service_healthy" and (
                "test" not in spec.get("healthcheck", {}) or spec["healthcheck"].get("disable")
            ):
                problems.append(f"{name} waits for {target} to be healthy; it has no healthcheck")
            if condition == "service_completed_successfully" and spec.get("restart") != "no":
                # A one-shot step with a restart policy would run again and again.
                problems.append(f"{name} waits for {target} to finish; it restarts")
    assert problems == []


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_runs_web_worker_beat_and_migration_from_its_own_image(compose, service):
    services = compose["services"]
    for role in ROLES:
        definition = services[f"{service}{role}"]
        assert definition["build"]["args"]["SERVICE"] == service
        assert definition["image"].startswith(f"clinic-recovery/{service}:")

    web = _command(services[service])
    assert web[0] == "gunicorn"
    assert f"{service}.wsgi:application" in web
    assert (REPO / "services" / service / service / "wsgi.py").is_file()

    worker = _command(services[f"{service}-worker"])
    assert worker[:4] == ["celery", "-A", f"{service}.celery_app", "worker"]
    assert worker[worker.index("-Q") + 1].split(",")[0] == service
    assert (REPO / "services" / service / service / "celery_app.py").is_file()

    beat = _command(services[f"{service}-beat"])
    assert beat[:4] == ["celery", "-A", f"{service}.celery_app", "beat"]

    migrate = " ".join(_command(services[f"{service}-migrate"]))
    assert "python manage.py migrate --noinput" in migrate
    assert (REPO / "services" / service / "manage.py").is_file()


def test_each_service_has_exactly_one_beat(compose):
    beats: dict[str, list[str]] = {}
    for name, service in compose["services"].items():
        command = _command(service)
        if command[:1] == ["celery"] and "beat" in command:
            beats.setdefault(command[command.index("-A") + 1], []).append(name)
            assert service.get("deploy", {}).get("replicas", 1) == 1, name
    assert beats == {f"{s}.celery_app": [f"{s}-beat"] for s in SERVICES}


@pytest.mark.parametrize("service", SERVICES)
def test_processes_start_after_migrations_and_backing_services(compose, service):
    for role in ("", "-worker", "-beat"):
        depends = _depends_on(compose["services"][f"{service}{role}"])
        assert depends[f"{service}-migrate"] == "service_completed_successfully"
        assert depends["postgres"] == "service_healthy"
        assert depends["redis"] == "service_healthy"
    migrate = _depends_on(compose["services"][f"{service}-migrate"])
    assert migrate == {"postgres": "service_healthy", "redis": "service_healthy"}
    gateway = _depends_on(compose["services"]["gateway"])
    assert gateway[service] == "service_healthy"


def test_each_service_uses_its_own_database_created_at_first_start(compose):
    init_script = (REPO / "deploy/docker/postgres/init-databases.sh").read_text(encoding="utf-8")
    created = re.search(r"^for service in ([a-z ]+); do$", init_script, re.MULTILINE)
    assert created is not None
    assert sorted(created.group(1).split()) == sorted(SERVICES)
    mounts = compose["services"]["postgres"]["volumes"]
    assert any(m.endswith(":/docker-entrypoint-initdb.d/10-init-databases.sh:ro") for m in mounts)

    for service in SERVICES:
        for role in ROLES:
            url = urlparse(_environment(compose["services"][f"{service}{role}"])["DATABASE_URL"])
            assert url.scheme == "postgres"
            assert url.hostname == "postgres"
            assert url.path == f"/{service}"
            assert url.username == service
            assert url.password == COMPOSE_TEST_ENV["POSTGRES_PASSWORD"]


def test_services_share_one_broker_and_keep_separate_caches(compose):
    brokers = set()
    caches = {}
    for service in SERVICES:
        for role in ROLES:
            env = _environment(compose["services"][f"{service}{role}"])
            brokers.add(env["BROKER_URL"])
            caches.setdefault(service, set()).add(env["CACHE_URL"])
    # The outbox relay of one service hands events to another service's queue.
    assert brokers == {"redis://redis:6379/0"}
    assert all(len(urls) == 1 for urls in caches.values())
    cache_urls = [next(iter(urls)) for urls in caches.values()]
    assert len(set(cache_urls)) == len(SERVICES)
    assert not set(cache_urls) & brokers


def test_services_believe_forwarded_addresses_only_from_the_gateway(compose):
    network = compose["networks"]["backend"]["ipam"]["config"][0]["subnet"]
    gateway_ip = compose["services"]["gateway"]["networks"]["backend"]["ipv4_address"]
    assert ipaddress.ip_address(gateway_ip) in ipaddress.ip_network(network)
    for service in SERVICES:
        # identity also hears web logins relayed by the other services' containers, which forward
        # the client's address; every other service believes the gateway alone.
        trusted = network if service == "identity" else gateway_ip
        for role in ROLES:
            env = _environment(compose["services"][f"{service}{role}"])
            assert env["TRUSTED_PROXIES"] == trusted
            assert env["IDENTITY_URL"] == "http://identity:8000"
            assert env["JWKS_URL"] == "http://identity:8000/api/identity/v1/.well-known/jwks.json"
            assert service in env["DJANGO_ALLOWED_HOSTS"].split(",")


def test_only_the_gateway_is_published(compose):
    published = {name for name, spec in compose["services"].items() if spec.get("ports")}
    assert published == {"gateway"}
    assert compose["services"]["gateway"]["ports"] == ["8000:8000"]


def test_every_setting_a_service_requires_is_provided(compose, required_env):
    missing = []
    for service in SERVICES:
        for role in ROLES:
            env = _environment(compose["services"][f"{service}{role}"])
            for name in sorted(required_env[service]):
                if not env.get(name) and not env.get(f"{name}_FILE"):
                    missing.append(f"{service}{role}: {name}")
    assert missing == []


def test_identity_keeps_its_signing_keys_on_a_volume_only_migration_writes(compose):
    services = compose["services"]
    keys_dir = _environment(services["identity"])["JWT_SIGNING_KEYS_DIR"]
    assert "identity_keys" in " ".join(_command(services["identity-migrate"]))
    assert f"identity-keys:{keys_dir}" in services["identity-migrate"]["volumes"]
    for name in ("identity", "identity-worker"):
        assert f"identity-keys:{keys_dir}:ro" in services[name]["volumes"]
        assert _environment(services[name])["JWT_SIGNING_KEYS_DIR"] == keys_dir
    assert "identity-keys" in compose["volumes"]


@pytest.mark.parametrize(
    ("setting", "callee"), [("DIARY_URL", "diary"), ("REMINDERS_URL", "reminders")]
)
def test_outcomes_reaches_the_web_services_it_calls(compose, setting, callee):
    web = compose["services"][callee]
    assert _command(web)[0] == "gunicorn"
    for role in ROLES:
        url = urlparse(_environment(compose["services"][f"outcomes{role}"])[setting])
        assert (url.scheme, url.hostname, url.port) == ("http", callee, 8000)
        assert callee in _environment(web)["DJANGO_ALLOWED_HOSTS"].split(",")


def test_outcomes_worker_reads_diary_as_its_service_client_with_a_secret_file(compose_raw):
    env_file = {
        **COMPOSE_TEST_ENV,
        "OUTCOMES_SERVICE_CLIENT_ID": "0b6f4a8e-5d1c-4c43-9a57-1f2e3d4c5b6a",
        "OUTCOMES_SERVICE_CLIENT_SECRET": "not-a-real-secret",
    }
    compose = interpolate(compose_raw, env_file)
    worker = compose["services"]["outcomes-worker"]
    env = _environment(worker)
    assert env["SERVICE_CLIENT_ID"] == env_file["OUTCOMES_SERVICE_CLIENT_ID"]
    # The secret travels as a file, never as a value in the container's environment.
    assert "SERVICE_CLIENT_SECRET" not in env
    assert env_file["OUTCOMES_SERVICE_CLIENT_SECRET"] not in str(worker)
    path = Path(env["SERVICE_CLIENT_SECRET_FILE"])
    assert path.parent == Path("/run/secrets")
    (secret,) = [s for s in worker["secrets"] if s["source"] == path.name]
    assert compose["secrets"][path.name] == {"environment": "OUTCOMES_SERVICE_CLIENT_SECRET"}
    assert secret["uid"] == "10001"
    assert secret["mode"] & 0o004
    # The one process that runs the rebuild holds the credential; the others do not.
    for role in ("", "-beat", "-migrate"):
        other = compose["services"][f"outcomes{role}"]
        assert not {"SERVICE_CLIENT_ID", "SERVICE_CLIENT_SECRET_FILE"} & set(_environment(other))
        assert [s["source"] for s in other["secrets"]] == ["django_secret_key"]


def test_outcomes_starts_before_its_service_client_exists(compose):
    # Until identity_service_client has run, the id is empty (the secret too, set empty in .env).
    assert _environment(compose["services"]["outcomes-worker"])["SERVICE_CLIENT_ID"] == ""
