"""A web worker is ready before its first request: the URL patterns, the views, the broker
transport and the result backend are loaded at start-up, not by the first patient who reaches a
fresh worker. Runs in a new interpreter, where nothing is imported yet."""

from __future__ import annotations

import json
import os
import subprocess
import sys

SCRIPT = r"""
import gc, io, json, sys
from shared.wsgi import service_application

application = service_application("sharedtest.settings")
loaded, frozen = set(sys.modules), gc.get_freeze_count()
environ = {
    "REQUEST_METHOD": "GET", "PATH_INFO": "/api/sharedtest/v1/ping/", "SERVER_NAME": "localhost",
    "SERVER_PORT": "80", "HTTP_HOST": "localhost", "wsgi.url_scheme": "http",
    "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr,
}
statuses = []
b"".join(application(environ, lambda status, headers, exc_info=None: statuses.append(status)))
after_request = set(sys.modules)

from shared.outbox.services import outbox_relay_kick  # what a write's request imports

before_kick = set(sys.modules)
kicked = outbox_relay_kick()
print(json.dumps({
    "status": statuses[0],
    "imported_by_first_request": sorted(after_request - loaded),
    "kicked": kicked,
    "imported_by_first_relay_request": sorted(set(sys.modules) - before_kick),
    "frozen": frozen,
}))
"""

# What a first request may still import: Django's message and session storage, which its
# middleware chooses per request.
LAZY_BY_DESIGN = ("django.contrib.messages.", "django.contrib.sessions.", "encodings.")


def test_the_first_request_of_a_worker_imports_no_view_or_service_code() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "sharedtest.settings"},
        check=True,
    )
    outcome = json.loads(result.stdout.strip().splitlines()[-1])

    assert outcome["status"].split()[0] in {"200", "401"}
    late = [m for m in outcome["imported_by_first_request"] if not m.startswith(LAZY_BY_DESIGN)]
    assert late == []
    # The relay request a write sends after its commit reaches the broker and imports nothing.
    assert outcome["kicked"] is True
    assert outcome["imported_by_first_relay_request"] == []
    # What start-up loaded is out of the collector's full passes.
    assert outcome["frozen"] > 10_000
