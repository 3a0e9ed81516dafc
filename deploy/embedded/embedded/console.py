"""The children's output on one terminal: a name column, and JSON log lines made readable."""

from __future__ import annotations

import json
import re
import sys
import threading
from typing import Any, TextIO

# Fields every JSON line has, or that are too long to be worth a terminal line.
_SKIP = {"ts", "level", "logger", "message", "exc", "data", "request_id"}
_QUIET_LEVELS = {"DEBUG", "INFO"}
# Beat runs every service's outbox relay every few seconds: three routine lines a run would bury
# everything else. Its warnings and errors still show.
_ROUTINE = re.compile(r"outbox-relay|shared\.outbox\.relay\[")


def routine(line: str) -> bool:
    """Whether a line is routine chatter not worth a terminal line."""
    if not line.startswith("{") or '"INFO"' not in line:
        return False
    try:
        record: Any = json.loads(line)
    except ValueError:
        return False
    return (
        isinstance(record, dict)
        and record.get("level") == "INFO"
        and bool(_ROUTINE.search(str(record.get("message", ""))))
    )


def render(line: str) -> str:
    """``INFO  shared.access: request method=GET path=/readyz status=200`` for a JSON log line;
    anything else as it came. Warnings and errors keep their whole message and traceback."""
    if not line.startswith("{"):
        return line
    try:
        record: Any = json.loads(line)
    except ValueError:
        return line
    if not isinstance(record, dict) or "message" not in record:
        return line
    level = str(record.get("level", ""))
    message = str(record["message"])
    if level in _QUIET_LEVELS:
        message = message.split("\n", 1)[0]
    extras = " ".join(
        f"{key}={value}"
        for key, value in record.items()
        if key not in _SKIP and not isinstance(value, dict | list)
    )
    text = f"{level:<7} {record.get('logger', '')}: {message}"
    if extras:
        text += f"  {extras}"
    if record.get("exc") and level not in _QUIET_LEVELS:
        text += "\n" + str(record["exc"])
    return text


def chatter(line: str) -> bool:
    """Whether a line is a service's DEBUG or INFO log line (cheap: no JSON parsing)."""
    return line.startswith("{") and ('"level": "INFO"' in line or '"level": "DEBUG"' in line)


class Console:
    """Prints ``name | text`` lines from many threads without interleaving them.

    While ``hush`` is set (the demo's history is loading: thousands of requests and events), the
    services' DEBUG and INFO lines are left out; warnings, errors and plain lines still show.
    """

    def __init__(self, stream: TextIO = sys.stdout, width: int = 17) -> None:
        self.stream = stream
        self.width = width
        self.hush = False
        self._lock = threading.Lock()

    def echo(self, name: str, line: str) -> None:
        if (self.hush and chatter(line)) or routine(line):
            return
        prefix = f"{name:<{self.width}}| "
        text = "\n".join(prefix + part for part in render(line).split("\n"))
        with self._lock:
            print(text, file=self.stream, flush=True)

    def say(self, text: str = "") -> None:
        with self._lock:
            print(text, file=self.stream, flush=True)
