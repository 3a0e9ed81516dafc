"""The service image (deploy/docker/Dockerfile), checked without a Docker engine: what it copies,
how it installs, what its build step needs, and its two small runtime files run for real."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shlex
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import redirect_stdout
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import PurePosixPath
from typing import Any

import pytest
from deploy_support import (
    EXPECTED_ROUTES,
    REPO,
    SERVICES,
    dockerfile_env,
    dockerfile_instructions,
    in_build_context,
)

GUNICORN_CONF = REPO / "deploy" / "docker" / "gunicorn.conf.py"
HEALTHCHECK = REPO / "deploy" / "docker" / "healthcheck.py"
# Made by running or testing the code, never needed by the image.
GENERATED = {"__pycache__", "var", ".pytest_cache", ".mypy_cache", ".ruff_cache"}


def _instructions(service: str, keyword: str) -> list[str]:
    return [args for kw, args in dockerfile_instructions(service) if kw == keyword]


@pytest.mark.parametrize("service", SERVICES)
def test_dockerfile_copies_only_what_exists_in_the_build_context(service):
    copies = _instructions(service, "COPY")
    assert copies
    for arguments in copies:
        *sources, _destination = shlex.split(arguments)
        for source in sources:
            assert not source.startswith("--"), "no COPY --from or --chown is expected here"
            path = REPO / source
            assert path.exists(), source
            assert in_build_context(source), f"{source} is excluded by .dockerignore"
            files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
            needed = [f for f in files if not GENERATED & set(f.relative_to(REPO).parts)]
            needed = [f for f in needed if not f.name.endswith(".pyc")]
            needed = [f for f in needed if not any(p.endswith(".egg-info") for p in f.parts)]
            shut_out = [
                str(f.relative_to(REPO))
                for f in needed
                if not in_build_context(str(f.relative_to(REPO)))
            ]
            assert shut_out == []


def test_build_context_leaves_out_local_state_and_secrets():
    local = (
        ".venv/bin/python",
        "var/keys/20260101T000000Z-abc.pem",
        ".git/config",
        "services/identity/var/keys/k.pem",
        "tests/deploy/conftest.py",
        ".env",
    )
    for path in local:
        assert not in_build_context(path), path


def test_image_refuses_to_build_without_a_known_service():
    guard = next(args for args in _instructions("$SERVICE", "RUN") if args.startswith("case "))
    for service, expected in (("diary", 0), ("", 1), ("billing", 1)):
        result = subprocess.run(
            ["sh", "-c", guard], env={"SERVICE": service, "PATH": os.environ["PATH"]},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert result.returncode == expected, service


def test_image_installs_exactly_the_locked_packages():
    runs = " ".join(_instructions("diary", "RUN"))
    assert "pip install --require-hashes --no-deps -r /tmp/requirements.lock" in runs
    assert 'pip install --no-deps --no-build-isolation -e shared -e "services/diary"' in runs
    runtime = _pins("requirements-runtime.lock")
    # The build backend (installs without build isolation) and the processes the image runs.
    assert {"hatchling", "gunicorn", "celery", "psycopg2-binary", "whitenoise"} <= set(runtime)
    # Test and lint tools stay out of the images.
    assert not {"pytest", "mypy", "ruff", "schemathesis"} & set(runtime)
    # The image runs exactly the versions the test suites ran.
    development = _pins("requirements.lock")
    assert {name: development.get(name) for name in runtime} == runtime


def _pins(name: str) -> dict[str, str]:
    lock = (REPO / name).read_text(encoding="utf-8")
    requirements = re.split(r"\n(?=[A-Za-z0-9])", lock.strip())
    unhashed = [r.split()[0] for r in requirements if "--hash=sha256:" not in r]
    assert unhashed == [], name
    return {
        r.split("==")[0].lower(): r.split("==")[1].split()[0].rstrip(" \\") for r in requirements
    }


@pytest.mark.parametrize("service", SERVICES)
def test_collectstatic_step_has_every_setting_the_service_requires(service, required_env):
    step = next(r for r in _instructions(service, "RUN") if "collectstatic" in r)
    assignments = {t.split("=", 1)[0] for t in shlex.split(step) if re.match(r"^[A-Z_]+=", t)}
    provided = assignments | set(dockerfile_env(service))
    assert required_env[service] - provided == set()


@pytest.mark.parametrize("service", SERVICES)
def test_image_serves_static_files_under_the_prefix_the_gateway_routes(service):
    static_url = dockerfile_env(service)["STATIC_URL"]
    assert static_url == f"/static/{service}/"
    assert EXPECTED_ROUTES[static_url] == service


def test_image_runs_as_an_unprivileged_user_and_checks_healthz():
    users = _instructions("identity", "USER")
    assert users
    assert users[-1] not in ("root", "0")
    healthcheck = json.loads(_instructions("identity", "HEALTHCHECK")[0].split("CMD", 1)[1])
    assert healthcheck[0] == "python"
    env = dockerfile_env("identity")
    assert env["JWT_SIGNING_KEYS_DIR"] == "/var/lib/identity/keys"
    assert "install -d -o app -g app -m 700 /var/lib/identity/keys" in " ".join(
        _instructions("identity", "RUN")
    )


def test_gunicorn_logs_json_lines_without_secrets_and_no_access_lines_of_its_own(monkeypatch):
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.delenv("PORT", raising=False)
    namespace: dict[str, Any] = {"__file__": str(GUNICORN_CONF)}
    source = GUNICORN_CONF.read_text(encoding="utf-8")
    exec(compile(source, str(GUNICORN_CONF), "exec"), namespace)  # noqa: S102
    config = Config()
    for key, value in namespace.items():
        if key in config.settings:
            config.set(key, value)
    assert config.workers == 3
    assert config.bind == ["0.0.0.0:8000"]
    assert config.control_socket_disable is True

    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    captured = io.StringIO()
    try:
        with redirect_stdout(captured):
            logger = Logger(config)
            logger.error("worker timeout with Authorization: Bearer abc.def.ghi")
            # The service logs each request itself, without the query string; Gunicorn must not.
            logging.getLogger("gunicorn.access").info("GET /api/x/?token=do-not-log-me")
    finally:
        for name in ("gunicorn.error", "gunicorn.access"):
            logging.getLogger(name).handlers.clear()
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]

    output = captured.getvalue()
    assert "do-not-log-me" not in output
    line = json.loads(output.strip().splitlines()[-1])
    assert line["level"] == "ERROR"
    assert line["logger"] == "gunicorn.error"
    assert "abc.def.ghi" not in line["message"]


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def web_process() -> Iterator[tuple[int, type[_Health]]]:
    handler = type("Handler", (_Health,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1]), handler
    server.shutdown()
    server.server_close()


def _healthcheck(port: int) -> int:
    result = subprocess.run(
        [sys.executable, str(HEALTHCHECK)],
        env={**os.environ, "PORT": str(port)}, capture_output=True, timeout=20, check=False,
    )  # fmt: skip
    return result.returncode


def test_healthcheck_passes_when_healthz_answers_200(web_process):
    port, _ = web_process
    assert _healthcheck(port) == 0


def test_healthcheck_fails_when_healthz_answers_an_error(web_process):
    port, handler = web_process
    handler.status = 500
    assert _healthcheck(port) == 1


def test_healthcheck_fails_when_nothing_listens():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        unused = int(sock.getsockname()[1])
    assert _healthcheck(unused) == 1


def _image_paths(service: str) -> dict[str, str]:
    """Where each file the Dockerfile copies from deploy/docker/ ends up in the image."""
    workdir = "/"
    placed = {}
    for keyword, arguments in dockerfile_instructions(service):
        if keyword == "WORKDIR":
            workdir = str(PurePosixPath(workdir, arguments))
        elif keyword == "COPY":
            *sources, destination = shlex.split(arguments)
            target = PurePosixPath(workdir, destination)
            for source in sources:
                if source.startswith("deploy/docker/"):
                    placed[source] = str(target / PurePosixPath(source).name)
    return placed


def test_compose_and_kubernetes_run_files_that_are_in_the_image(compose, k8s_objects):
    placed = _image_paths("identity")
    healthcheck = placed["deploy/docker/healthcheck.py"]
    gunicorn_conf = placed["deploy/docker/gunicorn.conf.py"]
    assert healthcheck in " ".join(_instructions("identity", "HEALTHCHECK"))
    commands = [compose["services"][service]["command"] for service in SERVICES]
    commands += [
        obj["spec"]["template"]["spec"]["containers"][0]["command"]
        for _, obj in k8s_objects
        if obj["kind"] == "Deployment" and obj["metadata"]["name"].endswith("-web")
    ]
    for command in commands:
        assert command[command.index("-c") + 1] == gunicorn_conf
    for service in SERVICES:
        test = compose["services"][service]["healthcheck"]["test"]
        assert test == ["CMD", "python", healthcheck]
