"""Real processes for the end-to-end tests: identity and diary under gunicorn on fresh PostgreSQL
databases, and `make run`'s runner itself. Whatever a test does, its processes are stopped, and a
failing test shows their output."""

from __future__ import annotations

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

import pytest

REPO = Path(__file__).resolve().parents[2]
# The processes of the running system, shared with the browser suite (tests/livestack.py), and
# `make run`'s process supervision and service commands.
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "deploy" / "embedded"))

from embedded.stack import (  # noqa: E402
    PortTaken,
    Service,
    ensure_free,
    free_port,
    services_from,
)
from livestack import (  # noqa: E402
    LIVE_TRANSCRIPTS,
    Transcript,
    add_transcripts_to,
    running_stack,
)

REDIS_URL = os.environ.get("BROKER_URL", "redis://127.0.0.1:6379/7")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    add_transcripts_to(outcome.get_result())  # type: ignore[attr-defined]


@dataclass(frozen=True)
class RunningServices:
    identity: Service
    diary: Service
    keys_dir: Path


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServices]:
    """identity and diary as real gunicorn servers on fresh databases, identity seeded with the
    demo clinic and its own signing key. diary allows no clock leeway, so expiry is exact."""
    with running_stack(
        names=("identity", "diary"),
        database_prefix="e2e",
        broker_url=REDIS_URL,
        cache_urls={"identity": REDIS_URL, "diary": REDIS_URL},
        workdir=tmp_path_factory.mktemp("services"),
        extra_env={"diary": {"JWT_LEEWAY_SECONDS": "0"}},
    ) as stack:
        yield RunningServices(
            identity=stack["identity"], diary=stack["diary"], keys_dir=stack.keys_dir
        )


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


class EmbeddedRuns:
    """Starts deploy/embedded/run.py, as often as a test asks, on one var/ folder and one set of
    ports; whatever a test does, every run is stopped afterwards and no process is left."""

    def __init__(self, tmp_path: Path) -> None:
        self.base = _free_base_port()
        self.var_dir = tmp_path / "var"
        self.runs: list[tuple[EmbeddedRun, threading.Thread]] = []

    def start(self, **environ: str) -> EmbeddedRun:
        env = {
            **os.environ,
            "EMBEDDED_VAR_DIR": str(self.var_dir),
            "EMBEDDED_BASE_PORT": str(self.base),
            **environ,
        }
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
        transcript = Transcript(f"make run #{len(self.runs) + 1}")
        LIVE_TRANSCRIPTS.append(transcript)

        def pump() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                transcript.echo("run.py", line.rstrip("\n"))

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        run = EmbeddedRun(process, services_from(self.base), self.var_dir, transcript)
        self.runs.append((run, reader))
        return run

    def stop_all(self) -> None:
        for run, reader in self.runs:
            process = run.process
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
            LIVE_TRANSCRIPTS.remove(run.transcript)


@pytest.fixture
def embedded_runs(tmp_path: Path) -> Iterator[EmbeddedRuns]:
    runs = EmbeddedRuns(tmp_path)
    try:
        yield runs
    finally:
        runs.stop_all()
