"""Real processes for the end-to-end tests: identity and diary under gunicorn on fresh PostgreSQL
databases, and `make run`'s runner itself. Whatever a test does, its processes are stopped, and a
failing test shows their output."""

from __future__ import annotations

import collections
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

REPO = Path(__file__).resolve().parents[2]
# The process supervision and service commands of `make run`, shared with these tests.
sys.path.insert(0, str(REPO / "deploy" / "embedded"))

from embedded.console import render  # noqa: E402
from embedded.stack import (  # noqa: E402
    PortTaken,
    Service,
    ensure_free,
    free_port,
    gunicorn_argv,
    prepare_argv,
    services_from,
    wait_ready,
)
from embedded.supervisor import ChildFailed, Supervisor  # noqa: E402

PG_URL = os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BROKER_URL", "redis://127.0.0.1:6379/7")
READY_TIMEOUT = 120


class Transcript:
    """The recent output of a group of processes, kept to be shown when a test fails."""

    def __init__(self, title: str) -> None:
        self.title = title
        self._lines: collections.deque[str] = collections.deque(maxlen=3000)
        self._lock = threading.Lock()

    def echo(self, name: str, line: str) -> None:
        with self._lock:
            self._lines.extend(f"{name:<17}| {part}" for part in render(line).split("\n"))

    def lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)

    def text(self) -> str:
        return "\n".join(self.lines())


_LIVE_TRANSCRIPTS: list[Transcript] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed:
        for transcript in _LIVE_TRANSCRIPTS:
            report.sections.append((f"output of {transcript.title}", transcript.text()))


def _fresh_database(name: str) -> str:
    connection = psycopg2.connect(f"{PG_URL}/postgres")
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            database = sql.Identifier(name)
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database))
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(database))
    finally:
        connection.close()
    return f"{PG_URL}/{name}"


@dataclass(frozen=True)
class RunningServices:
    identity: Service
    diary: Service
    keys_dir: Path


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServices]:
    """identity and diary as real gunicorn servers on fresh databases, identity seeded with the
    demo clinic and its own signing key. diary allows no clock leeway, so expiry is exact."""
    workdir = tmp_path_factory.mktemp("services")
    keys_dir = workdir / "keys"
    static_dir = workdir / "static"  # empty: the API serves no files, but WhiteNoise wants it
    static_dir.mkdir()
    identity, diary = Service("identity", free_port()), Service("diary", free_port())
    common = {
        **os.environ,
        "DJANGO_DEBUG": "false",
        "SECURE_COOKIES": "false",
        "TRUSTED_PROXIES": "",
        "BROKER_URL": REDIS_URL,
        "CACHE_URL": REDIS_URL,
        "IDENTITY_URL": identity.url,
        "STATIC_ROOT": str(static_dir),
        "PYTHONUNBUFFERED": "1",
    }
    envs = {
        "identity": {
            **common,
            "DJANGO_SETTINGS_MODULE": "identity.settings",
            "DATABASE_URL": _fresh_database("e2e_identity"),
            "JWT_SIGNING_KEYS_DIR": str(keys_dir),
        },
        "diary": {
            **common,
            "DJANGO_SETTINGS_MODULE": "diary.settings",
            "DATABASE_URL": _fresh_database("e2e_diary"),
            "JWT_LEEWAY_SECONDS": "0",
        },
    }
    transcript = Transcript("identity and diary")
    _LIVE_TRANSCRIPTS.append(transcript)
    supervisor = Supervisor(transcript.echo)
    try:
        try:
            setups = [
                supervisor.start(
                    "identity-setup",
                    prepare_argv("identity", "migrate", "keys", "seed"),
                    env=envs["identity"],
                    cwd=workdir,
                ),
                supervisor.start(
                    "diary-setup", prepare_argv("diary", "migrate"), env=envs["diary"], cwd=workdir
                ),
            ]
            supervisor.wait_all(setups)
            for service in (identity, diary):
                supervisor.start(
                    f"{service.name}-web",
                    gunicorn_argv(service, threads=2),
                    env=envs[service.name],
                    cwd=workdir,
                )

            def no_child_died() -> None:
                dead = supervisor.first_exited()
                if dead is not None:
                    raise ChildFailed(dead)

            wait_ready([identity, diary], timeout=READY_TIMEOUT, check=no_child_died)
        except (ChildFailed, TimeoutError) as exc:
            # The report hook cannot show what this fixture's own failure leaves behind.
            raise RuntimeError(f"{exc}\n{transcript.text()}") from exc
        yield RunningServices(identity=identity, diary=diary, keys_dir=keys_dir)
    finally:
        supervisor.stop(grace=15)
        _LIVE_TRANSCRIPTS.remove(transcript)


# --- `make run` itself ------------------------------------------------------------------------

_STARTED = re.compile(r"^started (\S+) \(pid (\d+)\)$")


@dataclass
class EmbeddedRun:
    """deploy/embedded/run.py running in its own process group, its output in a transcript."""

    process: subprocess.Popen[str]
    services: list[Service]
    var_dir: Path
    transcript: Transcript

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    def wait_for(self, text: str, timeout: float) -> str:
        """The first output line containing ``text``; fails if the runner exits or time runs
        out first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((line for line in self.transcript.lines() if text in line), None)
            if found is not None:
                return found
            if self.process.poll() is not None:
                pytest.fail(f"run.py exited with {self.process.returncode} before {text!r}")
            time.sleep(0.2)
        pytest.fail(f"no {text!r} in run.py's output after {timeout:.0f}s")

    def children(self) -> dict[str, int]:
        """name -> pid of every process run.py said it started."""
        found = {}
        for line in self.transcript.lines():
            match = _STARTED.match(line.split("| ", 1)[-1])
            if match:
                found[match.group(1)] = int(match.group(2))
        return found

    def still_running(self) -> list[str]:
        """Children of which some process (the child or one it forked) still exists."""
        return [name for name, pid in self.children().items() if _group_alive(pid)]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _free_base_port() -> int:
    """A base port whose four service ports (base+1 .. base+4) are all free right now."""
    for _ in range(50):
        base = free_port() - 5
        try:
            for service in services_from(base):
                ensure_free(service.port, service.name)
        except PortTaken:
            continue
        return base
    raise RuntimeError("no four free consecutive ports found")


@pytest.fixture
def embedded_run(tmp_path: Path) -> Iterator[EmbeddedRun]:
    base = _free_base_port()
    var_dir = tmp_path / "var"
    env = {**os.environ, "EMBEDDED_VAR_DIR": str(var_dir), "EMBEDDED_BASE_PORT": str(base)}
    process = subprocess.Popen(
        [sys.executable, str(REPO / "deploy" / "embedded" / "run.py")],
        env=env,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        process_group=0,
    )
    transcript = Transcript("make run")
    _LIVE_TRANSCRIPTS.append(transcript)

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            transcript.echo("run.py", line.rstrip("\n"))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    run = EmbeddedRun(process, services_from(base), var_dir, transcript)
    try:
        yield run
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        # Whatever happened above, leave no process of the run behind.
        for pid in run.children().values():
            if _group_alive(pid):
                os.killpg(pid, signal.SIGKILL)
        reader.join(5)
        _LIVE_TRANSCRIPTS.remove(transcript)
