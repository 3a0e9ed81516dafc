"""JSON log lines with the request id, and a filter that keeps secrets and free text out.

Nothing in a log line may carry a token, a password or diary free text. Extra fields with a
sensitive name are replaced, and anything that looks like a bearer token or JWT in a message is
masked, whatever logger produced it.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from shared.observability.context import current_request_id, current_user_id

REDACTED = "[redacted]"
SENSITIVE_KEY = re.compile(
    r"pass(word)?|secret|token|authori[sz]ation|cookie|refresh|access|code|note|free_?text|"
    r"comment|otp|session",
    re.IGNORECASE,
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def scrub_text(text: str) -> str:
    return _BEARER.sub(r"\1 " + REDACTED, _JWT.sub(REDACTED, text))


def scrub_value(key: str, value: Any) -> Any:
    if SENSITIVE_KEY.search(key):
        return REDACTED
    if isinstance(value, dict):
        return {k: scrub_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_value(key, v) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            try:
                record.msg = record.getMessage()
            except (TypeError, ValueError):
                record.msg = str(record.msg)
            record.args = None
        record.msg = scrub_text(str(record.msg))
        for key in list(vars(record)):
            if key not in _STANDARD:
                setattr(record, key, scrub_value(key, getattr(record, key)))
        return True


class RequestContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current_request_id()
        if not getattr(record, "user_id", None):
            record.user_id = current_user_id()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and value not in ("", None):
                line[key] = value
        if record.exc_info:
            line["exc"] = scrub_text(self.formatException(record.exc_info))
        return json.dumps(line, default=str)
