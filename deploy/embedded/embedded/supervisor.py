"""Child processes with prefixed output, a memory of their last lines, and a clean stop.

Each child leads its own process group: a stop reaches whatever it forked (gunicorn's workers,
Celery's pool and beat), and Ctrl-C in the terminal reaches only the supervisor, which then stops
the children itself instead of racing them.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TAIL_LINES = 30

Echo = Callable[[str, str], None]


def _load_prctl() -> Callable[[int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[[int, int], int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


# Looked up once in the parent: between fork and exec the child should only call into C.
_PRCTL = _load_prctl()
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # A supervisor killed with SIGKILL cannot stop its children; the kernel does it instead.
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


class ChildFailed(RuntimeError):
    def __init__(self, child: Child) -> None:
        self.child = child
        super().__init__(f"{child.name} {child.how_it_ended()}")


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    tail: collections.deque[str] = field(
        default_factory=lambda: collections.deque(maxlen=TAIL_LINES)
    )
    reader: threading.Thread | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    def how_it_ended(self) -> str:
        code = self.returncode
        if code is None:
            return "is still running"
        if code < 0:
            return f"was killed by {signal.Signals(-code).name}"
        return f"exited with code {code}"

    def group_alive(self) -> bool:
        """Whether any process of this child's group (the child or what it forked) still runs."""
        try:
            os.killpg(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


class Supervisor:
    """Starts children, echoes their output line by line, and stops them all, however it ends."""

    def __init__(self, echo: Echo) -> None:
        self.echo = echo
        self.children: list[Child] = []

    def start(self, name: str, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path) -> Child:
        process = subprocess.Popen(  # noqa: S603 - argv is built by this package, never from input
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            process_group=0,
            # Thread-safe enough: it only calls prctl, which was looked up before the fork.
            preexec_fn=_die_with_parent,
        )
        child = Child(name=name, process=process)
        child.reader = threading.Thread(
            target=self._pump, args=(child,), name=f"output-{name}", daemon=True
        )
        child.reader.start()
        self.children.append(child)
        return child

    def _pump(self, child: Child) -> None:
        stream = child.process.stdout
        if stream is None:
            return
        for raw in stream:
            line = raw.decode("utf-8", errors="replace").rstrip()
            if line:
                child.tail.append(line)
                self.echo(child.name, line)

    def wait_all(self, jobs: Sequence[Child], *, check: Callable[[], None] = lambda: None) -> None:
        """Wait for one-off jobs to exit with 0. The first that fails raises ChildFailed; the
        others keep going until the caller stops them. ``check`` runs between polls and may raise
        (a stop was requested)."""
        while True:
            check()
            for job in jobs:
                code = job.returncode
                if code is not None and code != 0:
                    self._drain(job)
                    raise ChildFailed(job)
            if all(job.returncode == 0 for job in jobs):
                for job in jobs:
                    self._drain(job)
                    self.children.remove(job)
                return
            time.sleep(0.1)

    def first_exited(self) -> Child | None:
        """A child that has exited, if any: for long-running children, that is a failure."""
        for child in self.children:
            if child.returncode is not None:
                self._drain(child)
                return child
        return None

    @staticmethod
    def _drain(child: Child, timeout: float = 2.0) -> None:
        # The exit code can arrive before the last lines were read from the pipe.
        if child.reader is not None:
            child.reader.join(timeout)

    def stop(self, grace: float = 20.0, hurry: threading.Event | None = None) -> None:
        """SIGTERM to every child (each shuts down its own workers), SIGKILL to the groups of
        those still there after ``grace`` seconds or as soon as ``hurry`` is set, then reap."""
        running = [c for c in self.children if c.returncode is None or c.group_alive()]
        for child in running:
            if child.returncode is None:
                _signal(child.pid, signal.SIGTERM)
            else:
                # The leader is gone (it died): nobody is left to stop what it forked.
                _signal_group(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while any(c.returncode is None or c.group_alive() for c in running):
            if time.monotonic() > deadline or (hurry is not None and hurry.is_set()):
                break
            time.sleep(0.1)
        for child in running:
            if child.returncode is None or child.group_alive():
                self.echo(child.name, "did not stop in time: killed")
                _signal_group(child.pid, signal.SIGKILL)
        for child in self.children:
            child.process.wait()
            self._drain(child)
        self.children.clear()


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)
