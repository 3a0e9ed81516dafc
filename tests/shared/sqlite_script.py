"""Runs a piece of Python against the test app on a throwaway SQLite file (the embedded
default's database), in a process of its own; the script prints its findings as JSON last."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def run_on_sqlite(script: str, database: Path, *args: str) -> Any:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "sharedtest.settings",
        "DATABASE_URL": f"sqlite:///{database}",
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path]),
    }
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
