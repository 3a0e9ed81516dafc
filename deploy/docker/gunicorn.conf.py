"""Gunicorn settings of every service's web process, tuned from the environment.

Logs go to stdout as JSON lines, like the rest of the service's logs. There is no Gunicorn access
log: the service writes one access line per request itself, with the request id and without the
query string.
"""

from __future__ import annotations

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
# Longer than the gateway's idle keep-alive, so Gunicorn never closes a connection under it.
keepalive = 75
# Recycles workers now and then so a slow leak never grows into an outage.
max_requests = 2000
max_requests_jitter = 200
# The heartbeat file lives in memory: on a slow or overlay disk a healthy worker looks hung.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
# The orchestrator manages the process; the runtime control socket would need a writable home.
control_socket_disable = True
accesslog = None
errorlog = "-"
_level = os.environ.get("LOG_LEVEL", "INFO").upper()
loglevel = _level.lower()

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "shared.observability.logging.RedactingFilter"}},
    "formatters": {"json": {"()": "shared.observability.logging.JsonFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["redact"],
            "stream": "ext://sys.stdout",
        },
        "null": {"class": "logging.NullHandler"},
    },
    "root": {"level": _level, "handlers": ["console"]},
    "loggers": {
        "gunicorn.error": {"level": _level, "handlers": ["console"], "propagate": False},
        # Any logging config turns Gunicorn's access log on; this one keeps it silent.
        "gunicorn.access": {"handlers": ["null"], "propagate": False},
    },
}
