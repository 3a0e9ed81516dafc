"""The nginx gateway of the compose stack, checked by nginx itself and then run for real in front
of stand-in services, with only its listening port, upstream addresses and file paths changed."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from deploy_support import EXPECTED_ROUTES, NGINX_CONF, SERVICES, gateway_map, gateway_route

TWO_MIB = 2 * 1024 * 1024
GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")


# --- stand-ins for the services ----------------------------------------------------------------


@dataclass
class Upstream:
    """Answers every request with its own name and remembers what it was sent."""

    name: str
    requests: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                upstream.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body_length": len(body),
                    }
                )
                if self.path.endswith("/missing/"):
                    status, payload = 404, {"detail": f"{upstream.name} has no such thing"}
                else:
                    status, payload = 200, {"service": upstream.name}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- the gateway -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"expected exactly one {old!r} in {NGINX_CONF.name}"
    return text.replace(old, new)


@dataclass
class Gateway:
    port: int
    directory: Path
    process: subprocess.Popen[bytes]

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return (
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                response.read(),
            )
        finally:
            connection.close()

    def access_log(self) -> list[dict[str, Any]]:
        path = self.directory / "access.log"
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def start_gateway(nginx: str, upstream_ports: dict[str, int]) -> Gateway:
    # nginx's workers drop root; they must be able to enter this directory for temp files.
    directory = Path(tempfile.mkdtemp(prefix="gateway-test-"))
    directory.chmod(0o755)
    port = _free_port()
    config = NGINX_CONF.read_text(encoding="utf-8")
    for service, upstream_port in upstream_ports.items():
        config, count = re.subn(rf"\b{service}:8000;", f"127.0.0.1:{upstream_port};", config)
        assert count >= 1, f"{service}:8000 is not an upstream of the gateway"
    config = _replace_once(config, "listen 8000;", f"listen 127.0.0.1:{port};")
    config = _replace_once(config, "pid /tmp/nginx.pid;", f"pid {directory}/nginx.pid;")
    config = _replace_once(config, "error_log /dev/stderr", f"error_log {directory}/error.log")
    config = _replace_once(config, "access_log /dev/stdout", f"access_log {directory}/access.log")
    temp_paths = "".join(
        f"    {kind}_temp_path {directory}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    config = _replace_once(config, "http {\n", "http {\n" + temp_paths)
    (directory / "nginx.conf").write_text(config, encoding="utf-8")

    process = subprocess.Popen(
        [nginx, "-p", str(directory), "-c", str(directory / "nginx.conf"),
         "-e", str(directory / "error.log"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    gateway = Gateway(port=port, directory=directory, process=process)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            errors = process.stderr.read().decode() if process.stderr else ""
            log = directory / "error.log"
            errors += log.read_text() if log.exists() else ""
            shutil.rmtree(directory, ignore_errors=True)
            pytest.fail(f"nginx did not start:\n{errors}", pytrace=False)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return gateway
        except OSError:
            time.sleep(0.05)
    gateway.stop()
    pytest.fail("nginx did not listen within 10 s", pytrace=False)


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, Upstream]]:
    servers = {service: Upstream(service) for service in SERVICES}
    yield servers
    for server in servers.values():
        server.close()


@pytest.fixture(scope="module")
def gateway(nginx_binary: str, upstreams: dict[str, Upstream]) -> Iterator[Gateway]:
    running = start_gateway(nginx_binary, {name: up.port for name, up in upstreams.items()})
    yield running
    running.stop()


@pytest.fixture
def sent(upstreams: dict[str, Upstream]) -> dict[str, list[dict[str, Any]]]:
    """What each stand-in service receives during one test."""
    for upstream in upstreams.values():
        upstream.requests.clear()
    return {name: upstream.requests for name, upstream in upstreams.items()}


# --- configuration -----------------------------------------------------------------------------


def test_gateway_config_passes_nginx_own_check(nginx_binary):
    directory = Path(tempfile.mkdtemp(prefix="gateway-check-"))
    try:
        result = subprocess.run(
            [nginx_binary, "-t", "-p", str(directory), "-c", str(NGINX_CONF),
             "-e", str(directory / "error.log")],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_every_gateway_upstream_is_a_web_service_of_the_compose_file(compose):
    config = NGINX_CONF.read_text(encoding="utf-8")
    upstreams = {value for value in gateway_map(config).values() if value != '""'}
    assert upstreams == {f"{service}:8000" for service in SERVICES}
    for upstream in upstreams:
        host = upstream.split(":")[0]
        assert compose["services"][host]["command"][0] == "gunicorn"
    for prefix, service in EXPECTED_ROUTES.items():
        assert gateway_route(config, prefix + "anything") == f"{service}:8000", prefix


# --- behaviour ---------------------------------------------------------------------------------

ROUTED = [(prefix + "v1/some/resource/", service) for prefix, service in EXPECTED_ROUTES.items()]


@pytest.mark.parametrize(("path", "service"), ROUTED)
def test_gateway_sends_each_prefix_to_its_service(gateway, sent, path, service):
    status, _, body = gateway.request("GET", path)
    assert status == 200
    assert json.loads(body) == {"service": service}
    assert [r["path"] for r in sent[service]] == [path]
    assert all(not requests for name, requests in sent.items() if name != service)


@pytest.mark.parametrize(
    "path", ["/", "/api/", "/api/billing/v1/", "/api/identityx/v1/", "/admin/", "/static/other/x"]
)
def test_gateway_answers_unknown_paths_with_a_problem_404_itself(gateway, sent, path):
    status, headers, body = gateway.request("GET", path)
    assert status == 404
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(body)["status"] == 404
    assert GENERATED_ID.match(headers["x-request-id"])
    assert all(not requests for requests in sent.values())


def test_a_services_own_404_reaches_the_client_unchanged(gateway, sent):
    status, _, body = gateway.request("GET", "/api/diary/v1/entries/missing/")
    assert status == 404
    assert json.loads(body) == {"detail": "diary has no such thing"}


def test_gateway_appends_the_client_address_to_x_forwarded_for(gateway, sent):
    gateway.request("GET", "/api/reminders/v1/prompts/", {"X-Forwarded-For": "203.0.113.9"})
    assert sent["reminders"][0]["headers"]["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"


def test_gateway_passes_the_host_with_its_port(gateway, sent):
    gateway.request("GET", "/admin/outcomes/login/", {"Host": "localhost:8000"})
    assert sent["outcomes"][0]["headers"]["host"] == "localhost:8000"


def test_gateway_keeps_a_well_formed_request_id(gateway, sent):
    status, headers, _ = gateway.request(
        "GET", "/api/identity/v1/me/", {"X-Request-ID": "phone-7f3a9c21"}
    )
    assert status == 200
    assert headers.get("x-request-id") is None  # the service, not the gateway, answers it
    assert sent["identity"][0]["headers"]["x-request-id"] == "phone-7f3a9c21"


@pytest.mark.parametrize("incoming", [None, "short", "has spaces in it", "x" * 65, "semi;colon1"])
def test_gateway_replaces_a_missing_or_malformed_request_id(gateway, sent, incoming):
    headers = {"X-Request-ID": incoming} if incoming is not None else {}
    gateway.request("GET", "/api/identity/v1/me/", headers)
    forwarded = sent["identity"][0]["headers"]["x-request-id"]
    assert GENERATED_ID.match(forwarded)


def test_gateway_lets_a_body_up_to_2_mib_through(gateway, sent):
    body = b"x" * (TWO_MIB - 1024)
    status, _, _ = gateway.request(
        "POST", "/api/diary/v1/sync/", {"Content-Type": "application/json"}, body
    )
    assert status == 200
    assert sent["diary"][0]["body_length"] == len(body)


def test_gateway_refuses_a_body_over_2_mib_with_a_problem_413(gateway, sent):
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    try:
        # The declared length is enough for nginx to refuse; the body is never sent.
        connection.putrequest("POST", "/api/diary/v1/sync/")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(TWO_MIB + 1))
        connection.endheaders()
        response = connection.getresponse()
        status, content_type, body = (
            response.status,
            response.getheader("Content-Type"),
            response.read(),
        )
    finally:
        connection.close()
    assert status == 413
    assert content_type == "application/problem+json"
    assert json.loads(body)["status"] == 413
    assert sent["diary"] == []


def test_gateway_logs_one_json_line_per_request_without_the_query_string(gateway, sent):
    gateway.request(
        "GET", "/api/outcomes/v1/curves/?token=do-not-log-me", {"X-Request-ID": "trace-0a1b2c3d"}
    )
    deadline = time.monotonic() + 3
    lines: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not lines:
        lines = [line for line in gateway.access_log() if line["request_id"] == "trace-0a1b2c3d"]
        time.sleep(0.02)
    assert len(lines) == 1
    line = lines[0]
    assert line["path"] == "/api/outcomes/v1/curves/"
    assert line["status"] == 200
    assert line["upstream"].startswith("127.0.0.1:")
    assert "do-not-log-me" not in json.dumps(line)


def test_gateway_answers_its_own_health_check(gateway, sent):
    status, _, body = gateway.request("GET", "/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "ok"}
    assert all(not requests for requests in sent.values())


def test_a_service_that_is_down_answers_503_problem_with_retry_after(nginx_binary):
    closed = _free_port()
    down = start_gateway(nginx_binary, dict.fromkeys(SERVICES, closed))
    try:
        status, headers, body = down.request("GET", "/api/identity/v1/me/")
    finally:
        down.stop()
    assert status == 503
    assert headers["content-type"] == "application/problem+json"
    assert headers["retry-after"] == "5"
    assert json.loads(body)["status"] == 503
