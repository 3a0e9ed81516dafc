from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("request_id", default="")
_user_id: ContextVar[str] = ContextVar("user_id", default="")


def current_request_id() -> str:
    return _request_id.get()


def current_user_id() -> str:
    return _user_id.get()


def bind_user(user_id: str) -> None:
    _user_id.set(user_id)


@contextmanager
def request_context(request_id: str) -> Iterator[None]:
    """The request id (and, once known, the user id) for every log line of one request or task."""
    request_token = _request_id.set(request_id)
    user_token = _user_id.set("")
    try:
        yield
    finally:
        _request_id.reset(request_token)
        _user_id.reset(user_token)


def bind_request_id(request_id: str) -> None:
    """For a Celery task: its log lines carry the task id where a request would carry its id."""
    _request_id.set(request_id)
    _user_id.set("")
